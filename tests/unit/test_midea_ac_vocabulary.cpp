// AcState ↔ Home Assistant climate names (protocols/midea/ac_vocabulary.h), docs/contract.md vocabulary:
// mode off|auto|cool|heat|dry|fan_only, fan silent|low|medium|high|full|auto, swing
// off|vertical|horizontal|both, preset none|eco|boost|sleep|away.
#include <catch2/catch.hpp>

#include <string_view>
#include <vector>

#include "protocols/common/bytes.h"
#include "protocols/midea/ac_capabilities.h"
#include "protocols/midea/ac_commands.h"
#include "protocols/midea/ac_frame.h"
#include "protocols/midea/ac_state.h"
#include "protocols/midea/ac_vocabulary.h"

using namespace cloudless;
using namespace cloudless::midea;
using Names = std::vector<std::string_view>;

TEST_CASE("hvac mode names both ways") {
  AcState state;
  state.power = false;
  state.mode = AcMode::cool;
  CHECK(hvac_mode_name(state) == std::optional<std::string_view>("off"));
  state.power = true;
  const std::pair<AcMode, std::string_view> pairs[] = {{AcMode::automatic, "auto"}, {AcMode::cool, "cool"},
                                                       {AcMode::dry, "dry"},        {AcMode::heat, "heat"},
                                                       {AcMode::fan_only, "fan_only"}};
  for (const auto& [mode, name] : pairs) {
    CAPTURE(name);
    state.mode = mode;
    CHECK(hvac_mode_name(state) == std::optional<std::string_view>(name));
    CHECK(ac_mode_from_name(name) == std::optional<AcMode>(mode));
    AcState other;
    CHECK(apply_hvac_mode(other, name));
    CHECK(other.power);
    CHECK(other.mode == mode);
  }
  state.mode = AcMode::smart_dry;  // HA has no smart dry
  CHECK(hvac_mode_name(state) == std::optional<std::string_view>("dry"));
  CHECK(apply_hvac_mode(state, "dry"));
  CHECK(state.mode == AcMode::smart_dry);  // re-sending "dry" keeps the humidity program
  CHECK(apply_hvac_mode(state, "cool"));
  CHECK(state.mode == AcMode::cool);
  state.mode = static_cast<AcMode>(0);  // raw values outside 1..6: unknown
  CHECK_FALSE(hvac_mode_name(state).has_value());
  state.mode = static_cast<AcMode>(7);
  CHECK_FALSE(hvac_mode_name(state).has_value());

  AcState off;
  off.power = true;
  off.mode = AcMode::heat;
  CHECK(apply_hvac_mode(off, "off"));
  CHECK_FALSE(off.power);
  CHECK(off.mode == AcMode::heat);  // the unit remembers its mode while off
  const AcState before = off;
  CHECK_FALSE(apply_hvac_mode(off, "Cool"));
  CHECK_FALSE(apply_hvac_mode(off, "smart_dry"));
  CHECK_FALSE(apply_hvac_mode(off, ""));
  CHECK(off == before);
}

TEST_CASE("fan mode names: exact speeds, bands for custom percentages") {
  struct Row {
    std::uint8_t speed;
    std::optional<std::string_view> name;
  };
  const Row rows[] = {
      {0, std::nullopt}, {1, "silent"},  {20, "silent"}, {21, "low"},  {30, "low"},  {40, "low"},
      {41, "medium"},    {60, "medium"}, {61, "high"},   {80, "high"}, {81, "full"}, {100, "full"},
      {101, std::nullopt}, {102, "auto"}, {103, std::nullopt}, {127, std::nullopt},
  };
  for (const Row& row : rows) {
    CAPTURE(int{row.speed});
    CHECK(fan_mode_name(row.speed) == row.name);
  }
  const std::pair<std::string_view, std::uint8_t> names[] = {{"silent", 20}, {"low", 40},   {"medium", 60},
                                                             {"high", 80},   {"full", 100}, {"auto", 102}};
  for (const auto& [name, speed] : names) {
    CAPTURE(name);
    CHECK(fan_speed_from_name(name) == std::optional<std::uint8_t>(speed));
    CHECK(fan_mode_name(speed) == std::optional<std::string_view>(name));
    AcState state;
    CHECK(apply_fan_mode(state, name));
    CHECK(state.fan_speed == speed);
  }
  AcState state;
  CHECK_FALSE(apply_fan_mode(state, "turbo"));
  CHECK(state.fan_speed == kFanAuto);
}

TEST_CASE("swing mode names both ways") {
  AcState state;
  CHECK(swing_mode_name(state) == "off");
  for (const std::string_view name : {"vertical", "horizontal", "both", "off"}) {
    CAPTURE(name);
    CHECK(apply_swing_mode(state, name));
    CHECK(swing_mode_name(state) == name);
  }
  CHECK_FALSE(apply_swing_mode(state, "up_down"));
  // Through the wire: vertical + horizontal = 0x0F in C0 idx 7.
  CHECK(apply_swing_mode(state, "both"));
  const Bytes body = encode_ac_state_body(state);
  CHECK((body[7] & 0x0F) == 0x0F);
}

TEST_CASE("presets: one at a time, away > boost > sleep > eco when several flags are set") {
  AcState state;
  CHECK(preset_name(state) == "none");
  for (const std::string_view name : {"eco", "boost", "sleep", "away", "none"}) {
    CAPTURE(name);
    CHECK(apply_preset(state, name));
    CHECK(preset_name(state) == name);
  }
  CHECK(state.freeze_protection == std::optional<bool>(false));  // now a value: the set command carries it
  state.eco = true;
  state.sleep = true;
  CHECK(preset_name(state) == "sleep");
  state.turbo = true;
  CHECK(preset_name(state) == "boost");
  state.freeze_protection = true;
  CHECK(preset_name(state) == "away");
  CHECK(apply_preset(state, "eco"));
  CHECK(state.eco);
  CHECK_FALSE(state.sleep);
  CHECK_FALSE(state.turbo);
  CHECK(state.freeze_protection == std::optional<bool>(false));
  const AcState before = state;
  CHECK_FALSE(apply_preset(state, "comfort"));
  CHECK(state == before);
}

TEST_CASE("a command changes only what it names: parsed state → apply → set → the device's view") {
  // §7.3 V3 state (test_device.py): cool 21, fan auto, vertical swing, eco, °F display, filter alert.
  const Result<AcFrame> frame =
      parse_ac_frame(*from_hex("aa23ac00000000000303c00145660000003c0010045c6b20000000000000000000020d79"));
  REQUIRE(frame.has_value());
  const Result<AcState> current = parse_ac_state(frame->body);
  REQUIRE(current.has_value());
  AcState wanted = *current;
  REQUIRE(apply_fan_mode(wanted, "high"));
  const Result<AcFrame> command = parse_ac_frame(encode_ac_set_state(wanted, 1));
  REQUIRE(command.has_value());
  const Result<AcSetStateRequest> request = parse_ac_set_state(command->body);
  REQUIRE(request.has_value());
  CHECK(request->state.fan_speed == kFanHigh);
  CHECK(request->state.mode == AcMode::cool);
  CHECK(request->state.target_temperature == 21.0);
  CHECK(request->state.swing_vertical);
  CHECK(request->state.eco);
  CHECK(request->state.fahrenheit);
  CHECK(request->state.power);
  CHECK(request->state.target_humidity == current->target_humidity);
  CHECK(request->state.freeze_protection == current->freeze_protection);
}

TEST_CASE("option lists for discovery, from capabilities") {
  SECTION("msmart's default unit: no capabilities at all") {
    const AcFeatures features = summarize_ac_capabilities(AcCapabilities{});
    CHECK(hvac_mode_names(features) == Names{"off", "fan_only"});
    CHECK(fan_mode_names(features) == Names{"low", "medium", "high", "auto"});
    CHECK(swing_mode_names(features) == Names{"off"});
    CHECK(preset_names(features) == Names{"none", "sleep"});
  }
  SECTION("§7.3 two-page unit (midea-ac-py #60): everything") {
    AcCapabilities caps;
    for (const char* page : {"b50a12020101430001011402010115020101160201001a020101100201011f020103250207203c203c203c05400001000100",
                             "b5051e020101130201012202010019020100390001010000"}) {
      const Result<AcCapabilitiesPage> parsed = parse_ac_capabilities(*from_hex(page));
      REQUIRE(parsed.has_value());
      merge_ac_capabilities(caps, parsed->capabilities);
    }
    const AcFeatures features = summarize_ac_capabilities(caps);
    CHECK(hvac_mode_names(features) == Names{"off", "auto", "cool", "dry", "heat", "fan_only"});  // smart dry → dry once
    CHECK(fan_mode_names(features) == Names{"silent", "low", "medium", "high", "full", "auto"});
    CHECK(swing_mode_names(features) == Names{"off", "vertical", "horizontal", "both"});
    CHECK(preset_names(features) == Names{"none", "eco", "boost", "sleep", "away"});
  }
}
