// Midea AC 0xB1/0xB0 properties (protocols/midea/ac_properties.h): every properties vector of
// docs/midea.md §7.3 with msmart-ng's expectations, value decodings, breeze modes, truncations and
// the reply encoder round trip.
//
// Sources: msmart-ng `msmart/device/AC/test_command.py` (TestPropertiesResponse) and `test_device.py`
// (test_properties_*); issue links as msmart gives them.
#include <catch2/catch.hpp>

#include <string_view>
#include <vector>

#include "protocols/common/bytes.h"
#include "protocols/midea/ac_frame.h"
#include "protocols/midea/ac_properties.h"
#include "tests/unit/test_support.h"

using namespace cloudless;
using namespace cloudless::midea;
using cloudless::test::hex;

namespace {

AcProperties properties_of(std::string_view frame_hex) {
  const Result<AcFrame> frame = parse_ac_frame(hex(frame_hex));
  REQUIRE(frame.has_value());
  REQUIRE(classify_ac_frame(*frame) == AcBodyKind::properties);
  const Result<AcProperties> properties = parse_ac_properties(frame->body);
  REQUIRE(properties.has_value());
  return *properties;
}

}  // namespace

TEST_CASE("§7.3 B1 (midea-ac-py #60): angles 0 and 0, humidity 43, empty anion") {
  // b1 04 | 0900 00 01 00 UD angle 0 | 0a00 00 01 00 LR angle 0 | 1500 00 01 2b humidity 43
  //       | 1e02 00 00 anion, empty | 00
  const AcProperties p = properties_of("aa21ac00000000000303b10409000001000a00000100150000012b1e020000005fa3");
  CHECK(p.body_type == 0xB1);
  CHECK(p.swing_vertical_angle == std::optional<std::uint8_t>(0));
  CHECK(p.swing_horizontal_angle == std::optional<std::uint8_t>(0));
  // msmart leaves 0x0015 undecoded ("potential bug" in its reference); midea-local reads it as indoor
  // humidity, which is what we do.
  CHECK(p.indoor_humidity == std::optional<std::uint8_t>(43));
  CHECK_FALSE(p.anion.has_value());  // len 0: skipped
  CHECK(p.entries.size() == 3);
  CHECK(p.failed_ids.empty());
  CHECK(p.unknown_ids.empty());
}

TEST_CASE("§7.3 B0 acknowledgement (msmart #97): LR 50, UD 0 failed with result 0x11") {
  // b0 02 | 0a00 00 01 32 LR 50 | 0900 11 01 00 UD 0, result 0x11 (bit 0x10: failed) | 00
  const AcProperties p = properties_of("aa18ac00000000000302b0020a0000013209001101000089a4");
  CHECK(p.body_type == 0xB0);
  CHECK(p.swing_horizontal_angle == std::optional<std::uint8_t>(50));
  CHECK(p.swing_vertical_angle == std::optional<std::uint8_t>(0));  // decoded anyway, as msmart
  CHECK(p.failed_ids == std::vector<std::uint16_t>{property_id::kSwingVerticalAngle});
  REQUIRE(p.entries.size() == 2);
  CHECK(p.entries[1].result == 0x11);
  CHECK(p.entries[1].failed());
  CHECK_FALSE(p.entries[0].failed());
}

TEST_CASE("§7.3 B1 with one property (msmart #97): only LR = 50, the rest untouched (unset)") {
  // b1 01 | 0a00 00 01 32 | 00
  const AcProperties p = properties_of("aa13ac00000000000303b1010a0000013200c884");
  CHECK(p.swing_horizontal_angle == std::optional<std::uint8_t>(50));
  CHECK_FALSE(p.swing_vertical_angle.has_value());
  CHECK(p.entries.size() == 1);
}

TEST_CASE("§7.3 B0 unknown id 0x001E (midea-ac-py #128) and buzzer not stored") {
  // b0 02 | 1e00 10 04 00 10 00 00 unknown, result 0x10 | 1a00 00 01 00 buzzer | 00
  const AcProperties p = properties_of("aa1bac00000000000202b0021e001004001000001a00000100000e18");
  CHECK(p.unknown_ids == std::vector<std::uint16_t>{0x001E});
  CHECK(p.failed_ids == std::vector<std::uint16_t>{0x001E});
  REQUIRE(p.entries.size() == 2);
  CHECK(p.entries[0].value == hex("00100000"));
  CHECK(p.entries[1].id == property_id::kBuzzer);  // kept as an entry, no typed field
}

TEST_CASE("§7.3 B0 breeze control failed (msmart #161)") {
  // b0 02 | 4300 11 01 04 breeze control 4, result 0x11 | 1a00 00 01 00 buzzer | 00
  const AcProperties p = properties_of("aa18ac00000000000302b00243001101041a00000100002ce5");
  CHECK(p.failed_ids == std::vector<std::uint16_t>{property_id::kBreezeControl});
  CHECK(p.breeze_control == std::optional<std::uint8_t>(4));
}

TEST_CASE("§7.3 breeze replies (msmart #150, test_device.py test_properties_breeze)") {
  struct Row {
    const char* source;
    const char* frame;
    BreezeMode mode;
  };
  const Row rows[] = {
      // b1 03 | 4300 00 01 02 control = away | 1800 00 01 00 breezeless off | 4200 00 00 empty | 00
      {"breezeless device in breeze away", "aa1cac00000000000303b103430000010218000001004200000000cf0e",
       BreezeMode::away},
      // b1 03 | 4300 00 00 empty | 1800 00 00 empty | 4200 00 01 02 breeze away on | 00
      {"non-breezeless device in breeze away", "aa1bac00000000000303b1034300000018000000420000010200914e",
       BreezeMode::away},
      // 4300 00 01 03 control = mild
      {"breezeless device in breeze mild", "aa1cac00000000000303b1034300000103180000010042000000001ac2",
       BreezeMode::mild},
      // 4300 00 01 04 control = breezeless; 1800 00 01 01 breezeless on
      {"breezeless device in breezeless", "aa1cac00000000000303b10343000001041800000101420000000034a6",
       BreezeMode::breezeless},
  };
  for (const Row& row : rows) {
    CAPTURE(row.source);
    CHECK(ac_breeze_mode(properties_of(row.frame)) == std::optional<BreezeMode>(row.mode));
  }
  // Second row field by field: only breeze away present.
  const AcProperties away = properties_of(rows[1].frame);
  CHECK(away.breeze_away == true);
  CHECK_FALSE(away.breeze_control.has_value());
  CHECK_FALSE(away.breezeless.has_value());
}

TEST_CASE("§7.3 fresh air (Midea Gaia 12HRFN8-I): speed when powered, 0 when off") {
  // b1 01 | 4b00 00 03 01 50 52: power on, speed 80 (HIGH), temperature byte | 00
  CHECK(properties_of("aa15ac00000000000303b1014b000003015052001680").fresh_air_speed ==
        std::optional<std::uint8_t>(80));
  // 4b00 00 03 00 28 4f: power off (speed byte still 40) → OFF
  CHECK(properties_of("aa15ac00000000000303b1014b00000300284f00368c").fresh_air_speed ==
        std::optional<std::uint8_t>(0));
}

TEST_CASE("§7.3 B1 with a bad CRC (midea-ac-py #101): accepted, UD angle 0") {
  // b1 01 | 0900 00 01 00 | 3c 00 trailing; body "CRC" 00 is wrong, frame checksum 42 right.
  const Result<AcFrame> frame = parse_ac_frame(hex("aa14ac00000000000303b10109000001003c000042"));
  REQUIRE(frame.has_value());
  CHECK(frame->body_check == BodyCheck::unchecked);
  const Result<AcProperties> p = parse_ac_properties(frame->body);
  REQUIRE(p.has_value());
  CHECK(p->swing_vertical_angle == std::optional<std::uint8_t>(0));
}

TEST_CASE("property value decodings (msmart TestPropertiesResponse.test_decode)") {
  const auto decode = [](std::uint16_t id, const Bytes& value) {
    AcPropertyEntry entry{id, 0, value};
    const Bytes body = encode_ac_properties_body(0xB1, std::span<const AcPropertyEntry>(&entry, 1));
    const Result<AcProperties> p = parse_ac_properties(body);
    REQUIRE(p.has_value());
    return *p;
  };
  CHECK(decode(property_id::kBreezeAway, {0x02}).breeze_away == true);
  CHECK(decode(property_id::kBreezeAway, {0x01}).breeze_away == false);
  CHECK(decode(property_id::kBreezeless, {0x01}).breezeless == true);
  CHECK(decode(property_id::kBreezeless, {0x00}).breezeless == false);
  CHECK(decode(property_id::kBreezeless, {0x02}).breezeless == true);
  CHECK(decode(property_id::kBreezeControl, {0x04}).breeze_control == std::optional<std::uint8_t>(4));
  CHECK(decode(property_id::kBreezeControl, {0x00}).breeze_control == std::optional<std::uint8_t>(0));
  CHECK(ac_breeze_mode(decode(property_id::kBreezeControl, {0x00})) == std::optional<BreezeMode>(BreezeMode::off));
  CHECK(decode(property_id::kIeco, {0x00, 0x00}).ieco == false);
  CHECK(decode(property_id::kIeco, {0x00, 0x01}).ieco == true);
  CHECK_FALSE(decode(property_id::kIeco, {0x01}).ieco.has_value());  // too short: left unset
  CHECK(decode(property_id::kCascade, {0x00, 0x00}).cascade == std::optional<std::uint8_t>(0));
  CHECK(decode(property_id::kCascade, {0x01, 0x01}).cascade == std::optional<std::uint8_t>(1));
  CHECK(decode(property_id::kCascade, {0x01, 0x02}).cascade == std::optional<std::uint8_t>(2));
  CHECK(decode(property_id::kFreshAir, {0x01, 0x64, 0xFF}).fresh_air_speed == std::optional<std::uint8_t>(100));
  CHECK(decode(property_id::kFreshAir, {0x01, 0x3C, 0xFF}).fresh_air_speed == std::optional<std::uint8_t>(60));
  CHECK(decode(property_id::kFreshAir, {0x00, 0x28, 0xFF}).fresh_air_speed == std::optional<std::uint8_t>(0));
  CHECK(decode(property_id::kOutSilent, {0x03}).out_silent == true);
  CHECK(decode(property_id::kOutSilent, {0x00}).out_silent == false);
  CHECK(decode(property_id::kScreenDisplay, {0x64}).display_on == true);
  CHECK(decode(property_id::kScreenDisplay, {0x00}).display_on == false);
  CHECK(decode(property_id::kRateSelect, {75}).rate_select == std::optional<std::uint8_t>(75));
  CHECK(decode(property_id::kSelfClean, {1}).self_clean == true);
  CHECK(decode(property_id::kFlash, {1}).flash == true);
  CHECK(decode(property_id::kAnion, {1}).anion == true);
  CHECK_FALSE(decode(property_id::kIndoorHumidity, {0}).indoor_humidity.has_value());  // 0 = no sensor
  CHECK(decode(property_id::kBuzzer, {0}).unknown_ids.empty());
}

TEST_CASE("breeze mode without breeze control: breezeless beats away, either reported off → off") {
  AcProperties p;
  CHECK_FALSE(ac_breeze_mode(p).has_value());
  p.breeze_away = false;
  CHECK(ac_breeze_mode(p) == std::optional<BreezeMode>(BreezeMode::off));
  p.breeze_away = true;
  CHECK(ac_breeze_mode(p) == std::optional<BreezeMode>(BreezeMode::away));
  p.breezeless = true;
  CHECK(ac_breeze_mode(p) == std::optional<BreezeMode>(BreezeMode::breezeless));
  p.breeze_control = 9;  // supersedes the other two; unknown values read off (msmart)
  CHECK(ac_breeze_mode(p) == std::optional<BreezeMode>(BreezeMode::off));
}

TEST_CASE("properties truncations and other body types are rejected") {
  const Bytes body = hex("b1020a000001320900110100");  // two entries, trailing 00
  REQUIRE(parse_ac_properties(body).has_value());
  for (std::size_t size = 0; size < body.size() - 1; ++size) {
    CAPTURE(size);
    REQUIRE_FALSE(parse_ac_properties(ByteView(body).first(size)).has_value());
  }
  CHECK(parse_ac_properties(hex("b1020a0000013209001101")).error().what ==
        "truncated property 0x0009: value of 1 bytes, 0 left");
  CHECK(parse_ac_properties(hex("b1020a0000013209001101")).error().offset == 11);
  CHECK(parse_ac_properties(hex("b1020a000001320900")).error().what ==
        "truncated property entry 1 of 2: 2 of 4 header bytes");
  CHECK(parse_ac_properties(hex("b5014b000101")).error().what ==
        "body type 0xb5 is not a properties reply (0xb1/0xb0)");
  CHECK(parse_ac_properties(hex("b1")).error().offset == 1);
  CHECK(parse_ac_properties(hex("b000")).value().entries.empty());
}

TEST_CASE("encode_ac_properties_body ↔ parse_ac_properties, and every §7.3 reply re-encodes stably") {
  const AcPropertyEntry entries[] = {{property_id::kSwingHorizontalAngle, 0x00, {50}},
                                     {property_id::kSwingVerticalAngle, 0x11, {0}},
                                     {property_id::kIeco, 0x00, Bytes(13, 1)}};
  const Bytes body = encode_ac_properties_body(0xB0, entries);
  CHECK(to_hex(ByteView(body).first(12)) == "b0030a000001320900110100");
  const Result<AcProperties> p = parse_ac_properties(body);
  REQUIRE(p.has_value());
  CHECK(p->entries == std::vector<AcPropertyEntry>(std::begin(entries), std::end(entries)));
  for (const char* frame : {"aa21ac00000000000303b10409000001000a00000100150000012b1e020000005fa3",
                            "aa18ac00000000000302b0020a0000013209001101000089a4",
                            "aa1bac00000000000202b0021e001004001000001a00000100000e18",
                            "aa1cac00000000000303b10343000001041800000101420000000034a6",
                            "aa15ac00000000000303b1014b000003015052001680"}) {
    CAPTURE(frame);
    const AcProperties first = properties_of(frame);
    const Result<AcProperties> second = parse_ac_properties(encode_ac_properties_body(first.body_type, first.entries));
    REQUIRE(second.has_value());
    CHECK(*second == first);
  }
  const std::vector<AcPropertyEntry> too_many(256, AcPropertyEntry{1, 0, {1}});
  CHECK(encode_ac_properties_body(0xB1, too_many).empty());
  const AcPropertyEntry huge{1, 0, Bytes(256, 0)};
  CHECK(encode_ac_properties_body(0xB1, std::span<const AcPropertyEntry>(&huge, 1)).empty());
}
