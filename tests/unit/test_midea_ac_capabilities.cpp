// Midea AC 0xB5 capabilities (protocols/midea/ac_capabilities.h): every capabilities vector of
// docs/midea.md §7.3 with msmart-ng's expectations (raw decoded flags where msmart asserts them,
// derived features otherwise), multi-page merging, the paging rule (§10), truncations.
//
// Sources: msmart-ng `msmart/device/AC/test_command.py` (TestCapabilitiesResponse) and `test_device.py`
// (TestCapabilities); issue links as msmart gives them.
#include <catch2/catch.hpp>

#include <string_view>
#include <vector>

#include "protocols/common/bytes.h"
#include "protocols/midea/ac_capabilities.h"
#include "protocols/midea/ac_frame.h"
#include "tests/unit/test_support.h"

using namespace cloudless;
using namespace cloudless::midea;
using cloudless::test::hex;

namespace {

// A frame ("aa…", must be a capabilities reply) or a bare body as msmart feeds CapabilitiesResponse.
AcCapabilitiesPage page_of(std::string_view text) {
  Bytes body = hex(text);
  if (!body.empty() && body[0] == kAcFrameStart) {
    const Result<AcFrame> frame = parse_ac_frame(body);
    REQUIRE(frame.has_value());
    REQUIRE(classify_ac_frame(*frame) == AcBodyKind::capabilities);
    body = frame->body;
  }
  const Result<AcCapabilitiesPage> page = parse_ac_capabilities(body);
  REQUIRE(page.has_value());
  return *page;
}

AcCapabilities merged(std::initializer_list<std::string_view> pages) {
  AcCapabilities out;
  for (const std::string_view page : pages) merge_ac_capabilities(out, page_of(page).capabilities);
  return out;
}

AcTemperatureRanges ranges_16_30(bool decimals) {
  AcTemperatureRanges ranges;  // 0x20 = 32 → 16.0, 0x3c = 60 → 30.0 for each of cool, auto, heat
  ranges.decimals = decimals;
  return ranges;
}

// msmart's modes value 1: heat, cool, dry and auto, no aux modes.
void all_modes(AcCapabilities& caps) {
  caps.heat_mode = caps.cool_mode = caps.dry_mode = caps.auto_mode = true;
  caps.aux_heat_mode = caps.aux_mode = false;
}

void no_energy(AcCapabilities& caps) { caps.energy_stats = caps.energy_setting = caps.energy_bcd = false; }

void custom_fan_only(AcCapabilities& caps) {
  caps.fan_custom = true;
  caps.fan_silent = caps.fan_low = caps.fan_medium = caps.fan_high = caps.fan_auto = false;
}

const std::vector<std::uint8_t> kDefaultFans = {kFanLow, kFanMedium, kFanHigh, kFanAuto};
const std::vector<std::uint8_t> kAllFans = {kFanSilent, kFanLow, kFanMedium, kFanHigh, kFanFull, kFanAuto};

}  // namespace

TEST_CASE("§7.3 B5 midea-ac-py #13: raw flags exactly as msmart test_capabilities") {
  // b5 07 | 1202 01 01 eco | 1302 01 01 freeze | 1402 01 01 modes | 1502 01 01 swing | 1602 01 01 energy
  //       | 1702 01 00 filter | 1a02 01 01 turbo — and no trailing bytes (docs/midea.md §10: no more pages).
  const AcCapabilitiesPage page =
      page_of("aa29ac00000000000303b5071202010113020101140201011502010116020101170201001a020101dedb");
  AcCapabilities expected;
  expected.eco = true;
  expected.freeze_protection = true;
  all_modes(expected);
  expected.swing_horizontal = expected.swing_vertical = true;
  no_energy(expected);  // value 1 is none of {2,3,4,5}
  expected.filter_notice = expected.filter_clean = false;
  expected.turbo_heat = expected.turbo_cool = true;
  CHECK(page.capabilities == expected);
  CHECK_FALSE(page.more_pages);

  const AcFeatures features = summarize_ac_capabilities(page.capabilities);
  CHECK(features.modes == std::vector<AcMode>{AcMode::automatic, AcMode::cool, AcMode::dry, AcMode::heat,
                                              AcMode::fan_only});
  CHECK(features.fan_speeds == kDefaultFans);  // no fan capability: msmart's default set
  CHECK_FALSE(features.custom_fan_speed);
  CHECK(features.swing_vertical);
  CHECK(features.swing_horizontal);
  CHECK(features.eco);
  CHECK(features.turbo);
  CHECK(features.freeze_protection);
  CHECK_FALSE(features.energy_stats);
  CHECK_FALSE(features.filter_reminder);
  CHECK_FALSE(features.display_control);
  CHECK(features.min_temperature == 16.0);
  CHECK(features.max_temperature == 30.0);
  CHECK_FALSE(features.rate_select_levels.has_value());
  CHECK_FALSE(features.ieco);
}

TEST_CASE("§7.3 B5 mac-zhou/midea-ac-py PR #177: custom fan, ranges, unknown 0x0040, more pages") {
  // b5 0a | 1202 eco 1 | 1800 breezeless 0 | 1402 modes 1 | 1502 swing 1 | 1602 energy 0 | 1a02 turbo 1
  //       | 1002 fan 1 (custom) | 1f02 humidity 0 | 2502 07 20 3c 20 3c 20 3c 00 ranges | 4000 01 00 | 01 00
  const AcCapabilitiesPage page = page_of(
      "aa3dac00000000000203b50a12020101180001001402010115020101160201001a020101100201011f020100250207203c203c203c0040"
      "0001000100c83a");
  AcCapabilities expected;
  expected.eco = true;
  expected.breezeless = false;
  all_modes(expected);
  expected.swing_horizontal = expected.swing_vertical = true;
  no_energy(expected);
  expected.turbo_heat = expected.turbo_cool = true;
  custom_fan_only(expected);
  expected.humidity_auto_set = expected.humidity_manual_set = false;
  expected.temperatures = ranges_16_30(false);  // value[6] = 0
  CHECK(page.capabilities == expected);         // 0x0040 ignored silently: no other_ids
  CHECK(page.more_pages);                       // trailing 01 00

  const AcFeatures features = summarize_ac_capabilities(page.capabilities);
  CHECK(features.fan_speeds == kAllFans);  // custom: every named speed and "full"
  CHECK(features.custom_fan_speed);
  CHECK_FALSE(features.breezeless);
  CHECK_FALSE(features.humidity);
  CHECK_FALSE(features.freeze_protection);
  CHECK(features.min_temperature == 16.0);
  CHECK(features.max_temperature == 30.0);
}

TEST_CASE("§7.3 B5 Toshiba Smart Window Unit (2019): no heat, no swing, filter, display control") {
  // b5 07 | 1202 eco 2 | 1402 modes 0 | 1502 swing 2 | 1702 filter 2 | 1a02 turbo 2 | 1002 fan 5 | 2402 display 1
  const AcCapabilitiesPage page =
      page_of("aa29ac00000000000303b507120201021402010015020102170201021a0201021002010524020101990d");
  AcCapabilities expected;
  expected.eco = true;
  expected.heat_mode = false;
  expected.cool_mode = expected.dry_mode = expected.auto_mode = true;
  expected.aux_heat_mode = expected.aux_mode = false;
  expected.swing_horizontal = expected.swing_vertical = false;
  expected.filter_notice = true;
  expected.filter_clean = false;
  expected.turbo_heat = expected.turbo_cool = false;
  expected.fan_custom = expected.fan_silent = false;
  expected.fan_low = expected.fan_medium = expected.fan_high = expected.fan_auto = true;
  expected.display_control = true;
  CHECK(page.capabilities == expected);
  CHECK_FALSE(page.more_pages);

  const AcFeatures features = summarize_ac_capabilities(page.capabilities);
  CHECK(features.modes == std::vector<AcMode>{AcMode::automatic, AcMode::cool, AcMode::dry, AcMode::fan_only});
  CHECK(features.fan_speeds == kDefaultFans);
  CHECK_FALSE(features.swing_vertical);
  CHECK_FALSE(features.swing_horizontal);
  CHECK_FALSE(features.turbo);
  CHECK(features.display_control);
  CHECK(features.filter_reminder);
}

TEST_CASE("§7.3 B5 Midea U-shaped window unit (2022): vertical swing only, turbo cool, custom fan") {
  // b5 09 | 1202 eco 2 | 1302 freeze 0 | 1402 modes 0 | 1502 swing 0 | 1702 filter 2 | 1a02 turbo 0
  //       | 1002 fan 1 | 2502 ranges | 2402 display 1 | trailing 01 02 → more pages
  const AcCapabilitiesPage page = page_of(
      "aa39ac00000000000303b50912020102130201001402010015020100170201021a02010010020101250207203c203c203c0024020101"
      "0102a1a0");
  AcCapabilities expected;
  expected.eco = true;
  expected.freeze_protection = false;
  expected.heat_mode = false;
  expected.cool_mode = expected.dry_mode = expected.auto_mode = true;
  expected.aux_heat_mode = expected.aux_mode = false;
  expected.swing_horizontal = false;
  expected.swing_vertical = true;
  expected.filter_notice = true;
  expected.filter_clean = false;
  expected.turbo_heat = false;
  expected.turbo_cool = true;
  custom_fan_only(expected);
  expected.temperatures = ranges_16_30(false);
  expected.display_control = true;
  CHECK(page.capabilities == expected);
  CHECK(page.more_pages);

  const AcFeatures features = summarize_ac_capabilities(page.capabilities);
  CHECK(features.turbo);
  CHECK(features.swing_vertical);
  CHECK_FALSE(features.swing_horizontal);
  CHECK(features.fan_speeds == kAllFans);
}

TEST_CASE("§7.3 B5 two pages (midea-ac-py #60): breeze control, humidity, decimals, then anion, self clean") {
  // Page 1: b5 0a | 1202 eco 1 | 4300 breeze control 1 | 1402 modes 1 | 1502 swing 1 | 1602 energy 0
  //   | 1a02 turbo 1 | 1002 fan 1 | 1f02 humidity 3 | 2502 ranges, decimals 05 | 4000 | trailing 01 00
  const char* page1 =
      "aa3dac00000000000303b50a12020101430001011402010115020101160201001a020101100201011f020103250207203c203c203c05"
      "400001000100c805";
  // Page 2: b5 05 | 1e02 anion 1 | 1302 freeze 1 | 2202 fahrenheit 0 (= allowed) | 1902 aux heat 0
  //   | 3900 self clean 1 | trailing 00 00 → no more pages
  const char* page2 = "aa23ac00000000000303b5051e020101130201012202010019020100390001010000febe";
  const AcCapabilitiesPage first = page_of(page1);
  AcCapabilities expected;
  expected.eco = true;
  expected.breeze_control = true;
  all_modes(expected);
  expected.swing_horizontal = expected.swing_vertical = true;
  no_energy(expected);
  expected.turbo_heat = expected.turbo_cool = true;
  custom_fan_only(expected);
  expected.humidity_auto_set = false;
  expected.humidity_manual_set = true;
  expected.temperatures = ranges_16_30(true);
  CHECK(first.capabilities == expected);
  CHECK(first.more_pages);

  const AcCapabilitiesPage second = page_of(page2);
  AcCapabilities expected2;
  expected2.freeze_protection = true;
  expected2.fahrenheit = true;
  expected2.aux_electric_heat = false;
  expected2.self_clean = true;
  expected2.anion = true;
  CHECK(second.capabilities == expected2);
  CHECK_FALSE(second.more_pages);

  AcCapabilities all = first.capabilities;
  merge_ac_capabilities(all, second.capabilities);
  AcCapabilities expected_all = expected;
  expected_all.freeze_protection = true;
  expected_all.fahrenheit = true;
  expected_all.aux_electric_heat = false;
  expected_all.self_clean = true;
  expected_all.anion = true;
  CHECK(all == expected_all);

  // msmart's EXPECTED_CAPABILITIES for the merged pages, and test_device.py test_general_capabilities.
  const AcFeatures features = summarize_ac_capabilities(all);
  CHECK(features.modes == std::vector<AcMode>{AcMode::automatic, AcMode::cool, AcMode::dry, AcMode::heat,
                                              AcMode::fan_only, AcMode::smart_dry});
  CHECK(features.fan_speeds == kAllFans);
  CHECK(features.purifier);
  CHECK(features.self_clean);
  CHECK(features.humidity);
  CHECK(features.target_humidity);
  CHECK(features.eco);
  CHECK(features.freeze_protection);
  CHECK(features.turbo);
  CHECK(features.breeze_away);  // breeze control brings all three
  CHECK(features.breeze_mild);
  CHECK(features.breezeless);
  CHECK_FALSE(features.display_control);
  CHECK_FALSE(features.aux_heat);
}

TEST_CASE("§7.3 B5 aux heat (midea-ac-py #297): two pages give aux-heat and aux-only modes") {
  // Page 1: b5 05 | 1402 modes 9 | 1502 swing 2 | 1a02 turbo 1 | 2502 ranges | 3402 01 01 (body check,
  //   no reader → other_ids) | trailing 01 00
  const AcCapabilitiesPage first =
      page_of("aa29ac00000000000303b50514020109150201021a020101250207203c203c203c003402010101007b1d");
  CHECK(first.capabilities.aux_mode == true);
  CHECK(first.capabilities.aux_heat_mode == true);
  CHECK(first.capabilities.other_ids == std::vector<std::uint16_t>{0x0234});
  CHECK(first.more_pages);
  // Page 2: b5 08 | 1002 fan 5 | 1f02 humidity 0 | 3000 smart eye 0 | 1302 freeze 0 | 1902 aux heat 1
  //   | 3900 self clean 0 | 9300 aux fan 1 | 9400 aux heat fan 1 | trailing 00 00
  const AcCapabilitiesPage second = page_of(
      "aa2fac00000000000303b508100201051f020100300001001302010019020101390001009300010194000101000095ca");
  CHECK(second.capabilities.aux_electric_heat == true);
  CHECK(second.capabilities.aux_fan_speed == true);
  CHECK(second.capabilities.aux_heat_fan_speed == true);
  CHECK_FALSE(second.more_pages);
  AcCapabilities all = first.capabilities;
  merge_ac_capabilities(all, second.capabilities);
  CHECK(all.aux_mode == true);
  CHECK(all.aux_heat_mode == true);
  CHECK(all.aux_electric_heat == true);
  const AcFeatures features = summarize_ac_capabilities(all);
  CHECK(features.aux_heat);  // msmart supported_aux_modes: OFF, AUX_HEAT, AUX_ONLY
  CHECK(features.aux_only);
  // The same pages as bodies (test_device.py test_aux_heat) decode identically.
  CHECK(merged({"b50514020109150201021a020101250207203c203c203c00340201010100",
                "b508100201051f0201003000010013020100190201013900010093000101940001010000"}) == all);
}

TEST_CASE("§7.3 B5 flash in three real units, the third also iECO with ECOMaster") {
  // midea-ac-py #343: b5 05 | 1f02 | 2c02 buzzer | 6700 flash 1 | 1602 energy 4 | 5100 — count 5, so the
  // e300 entry after them is not read (msmart the same); trailing … 00 04 → no more pages.
  const AcCapabilitiesPage a = page_of("aa27ac00000000000303b5051f0201002c020101670001011602010451000101e30001010004f564");
  CHECK(a.capabilities.flash == true);
  CHECK_FALSE(a.capabilities.ieco.has_value());
  CHECK_FALSE(a.more_pages);
  // midea-ac-py #425: 6700 01 02 (value 2 ∈ {1,2,3,4}).
  const AcCapabilitiesPage b = page_of(
      "aa56ac00000000000803b51012020100180001001402010115020101160201041a020101100201011f020103250207203c203c203c05"
      "51000101e30002080867000102c200010098000101950001019d00010101008b43");
  CHECK(b.capabilities.flash == true);
  CHECK(b.more_pages);
  // midea-ac-py #426: 6700 01 04; e300 02 08 08 → ieco 8, ieco_end 8 → ECOMaster (number 8).
  const AcCapabilitiesPage c = page_of(
      "aa52ac00000000000803b50f120201001402010015020101160201041a02010110020101250207203c203c203c00240201015100010"
      "1e3000208086700010495000101980001017c000100cd0001000100bd47");
  CHECK(c.capabilities.flash == true);
  CHECK(c.capabilities.ieco == std::optional<std::uint8_t>(8));
  CHECK(c.capabilities.ieco_end == std::optional<std::uint8_t>(8));
  const AcFeatures features = summarize_ac_capabilities(c.capabilities);
  CHECK(features.flash);
  CHECK(features.ieco);
  CHECK(features.ieco_number == 8);
  CHECK(features.energy_stats);  // 1602 01 04
  CHECK_FALSE(features.energy_bcd);
}

TEST_CASE("§7.3 B5 cascade (midea-ac-py #359), out silent (PortaSplit), iECO (msmart #148)") {
  // b5 0a | 1e02 anion | 1302 freeze | 2202 | 1902 | 3900 self clean | 5800 (unknown) | 4200 breeze away
  //   | 5900 cascade 1 | 0900 vertical angle | 0a00 horizontal angle | trailing 00×6
  const AcCapabilitiesPage cascade = page_of(
      "aa3bac00000000000303b50a1e02010113020101220201001902010039000101580001024200010159000101090001010a0001010000"
      "00000000cfbf");
  CHECK(cascade.capabilities.cascade == true);
  CHECK(cascade.capabilities.breeze_away == true);
  CHECK(cascade.capabilities.swing_vertical_angle == true);
  CHECK(cascade.capabilities.swing_horizontal_angle == true);
  CHECK(cascade.capabilities.other_ids == std::vector<std::uint16_t>{0x0058});
  CHECK_FALSE(cascade.more_pages);
  const AcFeatures cascade_features = summarize_ac_capabilities(cascade.capabilities);
  CHECK(cascade_features.cascade);
  CHECK(cascade_features.breeze_away);
  CHECK_FALSE(cascade_features.breeze_mild);

  // b5 08 | 1f02 | 2c02 buzzer 1 | 1602 energy 4 | 3900 | 5100 | e300 01 01 | 1302 | cd00 01 03 | 00 02
  const AcCapabilitiesPage silent = page_of(
      "aa2fac00000000000803b5081f0201002c020101160201043900010151000101e300010113020101cd0001030002365b");
  CHECK(silent.capabilities.out_silent == true);
  CHECK(silent.capabilities.buzzer == true);
  CHECK_FALSE(silent.more_pages);
  CHECK(summarize_ac_capabilities(silent.capabilities).out_silent);
  // test_device.py test_out_silent: the same page as a bare body.
  CHECK(page_of("b5081f0201002c020101160201043900010151000101e300010113020101cd000103000236").capabilities ==
        silent.capabilities);

  // e300 01 01: ieco 1, no ieco_end → supported, number 1.
  const AcCapabilitiesPage ieco =
      page_of("aa2bac00000000000803b5071f0201002c020101160201043900010151000101e3000101130201010002fa6d");
  CHECK(ieco.capabilities.ieco == std::optional<std::uint8_t>(1));
  CHECK_FALSE(ieco.capabilities.ieco_end.has_value());
  const AcFeatures ieco_features = summarize_ac_capabilities(ieco.capabilities);
  CHECK(ieco_features.ieco);
  CHECK(ieco_features.ieco_number == 1);
}

TEST_CASE("§7.3 B5 notification (frame type 0x05, msmart #122) is not a capabilities page") {
  const Result<AcFrame> frame = parse_ac_frame(hex("aa1aac00000000000205b50310060101090001010a000101dcbcb4"));
  REQUIRE(frame.has_value());
  CHECK(classify_ac_frame(*frame) == AcBodyKind::capabilities_notification);
}

TEST_CASE("§7.3 test_device.py capability bodies: rate select, fresh air, breeze modes") {
  SECTION("rate select 2 levels (msmart #148): 4800 01 01 on page 1") {
    const AcCapabilities caps =
        merged({"b50a1202010114020101150201001e020101170201021a02010110020101250207203c203c203c0024020101480001010101",
                "b5071f0201002c020101160201043900010151000101e3000101130201010002"});
    CHECK(caps.rate_select_2_level == true);
    CHECK(caps.rate_select_5_level == false);
    // msmart supported_rate_selects: OFF, GEAR_75, GEAR_50.
    CHECK(summarize_ac_capabilities(caps).rate_select_levels == std::optional<int>(2));
    CHECK(page_of("b50a1202010114020101150201001e020101170201021a02010110020101250207203c203c203c0024020101480001010101")
              .more_pages);  // trailing 01 01
  }
  SECTION("fresh air (Midea Gaia 12HRFN8-I): 4b00 01 01 / 01 00") {
    CHECK(page_of("b5014b000101").capabilities.fresh_air == true);
    CHECK(page_of("b5014b000100").capabilities.fresh_air == false);
    CHECK(summarize_ac_capabilities(page_of("b5014b000101").capabilities).fresh_air);
    CHECK_FALSE(page_of("b5014b000101").more_pages);  // no trailing bytes
  }
  SECTION("breeze: control (all three) / away only / breezeless only") {
    const AcFeatures control = summarize_ac_capabilities(
        merged({"b50a12020101430001011402010115020101160201001a020101100201011f020103250207203c203c203c05400001000100",
                "b5051e020101130201012202010019020100390001010000"}));
    CHECK(control.breeze_away);
    CHECK(control.breeze_mild);
    CHECK(control.breezeless);
    const AcFeatures away = summarize_ac_capabilities(
        merged({"b50912020101180001001402010115020101160201001a020101100201011f020103250207203c203c203c050100",
                "b5091e0201011302010122020100190201003900010142000101090001010a000101300001010000"}));
    CHECK(away.breeze_away);
    CHECK_FALSE(away.breeze_mild);
    CHECK_FALSE(away.breezeless);
    const AcFeatures breezeless = summarize_ac_capabilities(
        merged({"b50912020101180001011402010115020101160201001a020101100201011f020103250207203c203c203c050100",
                "b5041e0201011302010122020100190201000000"}));
    CHECK_FALSE(breezeless.breeze_away);
    CHECK_FALSE(breezeless.breeze_mild);
    CHECK(breezeless.breezeless);
  }
}

TEST_CASE("B5 value rules of single capabilities (msmart test_capabilities_parsers)") {
  const auto one = [](std::uint16_t id, std::uint8_t value) {
    const Bytes body = {0xB5, 0x01, static_cast<std::uint8_t>(id & 0xFF), static_cast<std::uint8_t>(id >> 8), 0x01,
                        value};
    const Result<AcCapabilitiesPage> page = parse_ac_capabilities(body);
    REQUIRE(page.has_value());
    return page->capabilities;
  };
  CHECK(one(capability_id::kBreezeless, 0).breezeless == false);
  CHECK(one(capability_id::kBreezeless, 1).breezeless == true);
  CHECK(one(capability_id::kBreezeless, 100).breezeless == false);
  CHECK(one(capability_id::kFreshAir, 100).fresh_air == false);
  CHECK(one(capability_id::kEco, 0).eco == false);
  CHECK(one(capability_id::kEco, 1).eco == true);
  CHECK(one(capability_id::kEco, 2).eco == true);
  CHECK(one(capability_id::kTurbo, 0).turbo_heat == false);
  CHECK(one(capability_id::kTurbo, 0).turbo_cool == true);
  CHECK(one(capability_id::kTurbo, 1).turbo_heat == true);
  CHECK(one(capability_id::kTurbo, 1).turbo_cool == true);
  CHECK(one(capability_id::kTurbo, 3).turbo_heat == true);
  CHECK(one(capability_id::kTurbo, 3).turbo_cool == false);
  CHECK(one(capability_id::kTurbo, 4).turbo_heat == false);
  CHECK(one(capability_id::kTurbo, 4).turbo_cool == false);
  // Energy 2/3 = BCD hint (docs/midea.md §4.8), 4/5 stats without it.
  CHECK(one(capability_id::kEnergy, 2).energy_bcd == true);
  CHECK(one(capability_id::kEnergy, 4).energy_bcd == false);
  CHECK(one(capability_id::kEnergy, 5).energy_setting == true);
  CHECK(one(capability_id::kRateSelect, 3).rate_select_5_level == true);
  // Fan value 0 (or 0x60, found by the fuzzer) is in no set: no named speed at all, as msmart.
  CHECK(summarize_ac_capabilities(one(capability_id::kFanSpeeds, 0)).fan_speeds.empty());
  CHECK(summarize_ac_capabilities(one(capability_id::kFanSpeeds, 9)).fan_speeds ==
        std::vector<std::uint8_t>{kFanSilent, kFanLow, kFanHigh, kFanAuto});
  CHECK(summarize_ac_capabilities(one(capability_id::kRateSelect, 2)).rate_select_levels == std::optional<int>(5));
  // A 6-byte temperature value: msmart reads decimals from the size byte, i.e. true. Ranges per mode.
  const Result<AcCapabilitiesPage> ranges = parse_ac_capabilities(hex("b5012502062d502050205a"));
  REQUIRE(ranges.has_value());
  REQUIRE(ranges->capabilities.temperatures.has_value());
  CHECK(ranges->capabilities.temperatures->cool_min == 22.5);
  CHECK(ranges->capabilities.temperatures->heat_max == 45.0);
  CHECK(ranges->capabilities.temperatures->decimals);
  const AcFeatures features = summarize_ac_capabilities(ranges->capabilities);
  CHECK(features.min_temperature == 16.0);  // auto min 0x20
  CHECK(features.max_temperature == 45.0);
  // Too short a range value: ignored, like msmart.
  CHECK_FALSE(parse_ac_capabilities(hex("b501250205203c203c20")).value().capabilities.temperatures.has_value());
}

TEST_CASE("B5 paging rule: second-to-last trailing byte, none or one trailing byte → no more pages") {
  CHECK_FALSE(parse_ac_capabilities(hex("b500")).value().more_pages);
  CHECK_FALSE(parse_ac_capabilities(hex("b50001")).value().more_pages);  // one trailing byte
  CHECK(parse_ac_capabilities(hex("b5000100")).value().more_pages);
  CHECK_FALSE(parse_ac_capabilities(hex("b5000001")).value().more_pages);
  CHECK(parse_ac_capabilities(hex("b50000000100")).value().more_pages);
  // An empty page (a device answering the page-2 request with nothing, docs/midea.md §10) parses fine.
  const Result<AcCapabilitiesPage> empty = parse_ac_capabilities(hex("b5000000"));
  REQUIRE(empty.has_value());
  CHECK(empty->capabilities == AcCapabilities{});
  CHECK_FALSE(empty->more_pages);
  // Empty entries (len 0) are skipped.
  CHECK(parse_ac_capabilities(hex("b50212020013020101")).value().capabilities.freeze_protection == true);
  CHECK_FALSE(parse_ac_capabilities(hex("b50212020013020101")).value().capabilities.eco.has_value());
}

TEST_CASE("B5 truncations and other body types are rejected with the entry's offset") {
  const Bytes body = hex("b5021202010113020101");  // two entries: eco 1, freeze 1
  REQUIRE(parse_ac_capabilities(body).has_value());
  for (std::size_t size = 0; size < body.size(); ++size) {
    CAPTURE(size);
    const Result<AcCapabilitiesPage> page = parse_ac_capabilities(ByteView(body).first(size));
    REQUIRE_FALSE(page.has_value());
  }
  CHECK(parse_ac_capabilities(hex("b502120201")).error().what == "truncated capability 0x0212: value of 1 bytes, 0 left");
  CHECK(parse_ac_capabilities(hex("b502120201")).error().offset == 5);
  CHECK(parse_ac_capabilities(hex("b5021202010113")).error().what == "truncated capability entry 1 of 2: 1 of 3 header bytes");
  CHECK(parse_ac_capabilities(hex("b5021202010113")).error().offset == 6);
  CHECK(parse_ac_capabilities(hex("b5")).error().what == "truncated capabilities body: no count byte");
  CHECK(parse_ac_capabilities(hex("c0014566")).error().what == "body type 0xc0 is not a capabilities reply (0xb5)");
  CHECK(parse_ac_capabilities({}).error().offset == 0);
}
