// model::check_command (daemon/model/command_check): /set judged against the entities a device
// declares, for every component that can be set.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "daemon/model/command_check.h"

using namespace cloudless::model;
using nlohmann::json;

namespace {

std::vector<Entity> kettle_like() {
  Entity keep_warm;
  keep_warm.key = "keep_warm_temperature";
  keep_warm.component = Component::number;
  keep_warm.unit = "°C";
  keep_warm.settable = true;
  keep_warm.min = 40;
  keep_warm.max = 95;
  keep_warm.step = 1;
  Entity limit;
  limit.key = "time_limit";
  limit.component = Component::number;
  limit.settable = true;
  limit.min = 0;
  limit.max = 12;
  limit.step = 0.5;
  Entity type;
  type.key = "keep_warm_type";
  type.component = Component::select;
  type.settable = true;
  type.options = {"boil_then_cool", "heat_to"};
  return {presets::temperature("temperature"), keep_warm, limit, type,
          presets::boolean_switch("turn_off_after_boil", "Turn off after boil"), presets::power_switch("state")};
}

std::vector<Entity> air_conditioner() {
  ClimateTraits traits;
  traits.modes = {"off", "auto", "cool"};
  traits.fan_modes = {"low", "high", "auto"};
  traits.preset_modes = {"eco", "sleep"};
  traits.min_temp = 17;
  traits.max_temp = 30;
  traits.temp_step = 0.5;
  return {presets::climate(traits), presets::temperature("indoor_temperature"), presets::switch_("beep", "Beep")};
}

std::string error_of(const std::vector<Entity>& entities, const json& changes) {
  const CommandError error = check_command(entities, changes);
  return error ? *error : std::string();
}

}  // namespace

TEST_CASE("check_command: only a non-empty object of settable entities", "[model][command]") {
  const auto entities = kettle_like();
  CHECK(error_of(entities, json::array({1})) == "expected a JSON object with attributes to set");
  CHECK(error_of(entities, json::object()) == "expected a JSON object with attributes to set");
  CHECK(error_of(entities, "ON") == "expected a JSON object with attributes to set");
  // A sensor is declared but not settable: it is not in the list.
  CHECK(error_of(entities, {{"temperature", 20}}) ==
        "unknown attribute \"temperature\" (settable: keep_warm_temperature, time_limit, keep_warm_type, "
        "turn_off_after_boil, state)");
  // A hostile name is quoted bounded.
  const std::string long_name(5000, 'k');
  const std::string error = error_of(entities, {{long_name, 1}});
  CHECK(error.rfind("unknown attribute \"kkk", 0) == 0);
  CHECK(error.size() < 300);
}

TEST_CASE("check_command: switches, selects and numbers", "[model][command]") {
  const auto entities = kettle_like();
  for (const json& good : {json("ON"), json("off"), json("Toggle"), json(true)}) {
    CAPTURE(good.dump());
    CHECK_FALSE(check_command(entities, {{"state", good}}));
    CHECK_FALSE(check_command(entities, {{"turn_off_after_boil", good}}));
  }
  CHECK(error_of(entities, {{"state", "maybe"}}) == "attribute 'state' takes ON, OFF or TOGGLE");
  CHECK(error_of(entities, {{"turn_off_after_boil", 1}}) ==
        "turn_off_after_boil takes true, false, ON, OFF or TOGGLE, not 1");

  CHECK_FALSE(check_command(entities, {{"keep_warm_type", "heat_to"}}));
  CHECK(error_of(entities, {{"keep_warm_type", "warm"}}) ==
        "keep_warm_type takes boil_then_cool or heat_to, not \"warm\"");
  CHECK(error_of(entities, {{"keep_warm_type", 1}}) == "keep_warm_type takes boil_then_cool or heat_to, not 1");

  CHECK_FALSE(check_command(entities, {{"keep_warm_temperature", 40}}));
  CHECK_FALSE(check_command(entities, {{"keep_warm_temperature", 95.0}}));
  for (const json& bad : {json(39), json(96), json(70.5), json("70"), json(nullptr)}) {
    CAPTURE(bad.dump());
    CHECK(error_of(entities, {{"keep_warm_temperature", bad}}) ==
          "keep_warm_temperature takes a whole number of °C from 40 to 95, not " + bad.dump());
  }
  CHECK_FALSE(check_command(entities, {{"time_limit", 7.5}}));
  CHECK_FALSE(check_command(entities, {{"time_limit", 0}}));
  CHECK(error_of(entities, {{"time_limit", 0.25}}) ==
        "time_limit takes a number from 0 to 12 in steps of 0.5, not 0.25");
  CHECK(error_of(entities, {{"time_limit", 12.5}}) ==
        "time_limit takes a number from 0 to 12 in steps of 0.5, not 12.5");

  // One bad attribute spoils the command, whichever comes first.
  CHECK_FALSE(error_of(entities, {{"state", "ON"}, {"time_limit", -1}}).empty());
}

TEST_CASE("check_command: a climate entity's attributes follow its traits", "[model][command]") {
  const auto entities = air_conditioner();
  CHECK_FALSE(check_command(entities, {{"state", "OFF"}, {"mode", "COOL"}, {"fan_mode", "low"},
                                       {"preset", "none"}, {"target_temperature", "24.5"}, {"beep", "ON"}}));
  CHECK_FALSE(check_command(entities, {{"preset", "Eco"}}));
  CHECK(error_of(entities, {{"mode", "heat"}}) == "unknown mode \"heat\" (this unit takes: off, auto, cool)");
  CHECK(error_of(entities, {{"preset", "boost"}}) == "unknown preset \"boost\" (this unit takes: none, eco, sleep)");
  CHECK(error_of(entities, {{"fan_mode", 3}}) == "unknown fan_mode 3 (this unit takes: low, high, auto)");
  // No swing in the traits: not settable at all.
  CHECK(error_of(entities, {{"swing_mode", "off"}}) ==
        "unknown attribute \"swing_mode\" (settable: state, mode, target_temperature, fan_mode, preset, beep)");

  CHECK_FALSE(check_command(entities, {{"target_temperature", 16.8}}));  // rounds to 17
  CHECK(error_of(entities, {{"target_temperature", 16.7}}) ==
        "target_temperature 16.7 is outside this unit's range 17..30 °C");
  CHECK(error_of(entities, {{"target_temperature", "31"}}) ==
        "target_temperature 31 is outside this unit's range 17..30 °C");
  for (const json& bad : {json("warm"), json(""), json(nullptr), json::array({24})}) {
    CAPTURE(bad.dump());
    CHECK(error_of(entities, {{"target_temperature", bad}}) == "target_temperature takes a number of °C, e.g. 24.5");
  }
  REQUIRE(climate_target("24.3", 0.5));
  CHECK(*climate_target("24.3", 0.5) == 24.5);
  CHECK(*climate_target(24.4, 1) == 24);
  CHECK_FALSE(climate_target("24,5", 0.5));
  CHECK_FALSE(climate_target("nan", 0.5));
}
