// One reading of a switch's /set value for every device kind (daemon/model/switch_value.h).
#include <catch2/catch.hpp>

#include "daemon/model/switch_value.h"

using cloudless::model::parse_switch_value;
using cloudless::model::resolve_switch;
using cloudless::model::SwitchValue;
using nlohmann::json;

TEST_CASE("switch values: ON, OFF, TOGGLE in any case and JSON booleans", "[model][switch]") {
  for (const char* text : {"ON", "on", "On", "oN"}) CHECK(parse_switch_value(json(text)) == SwitchValue::on);
  for (const char* text : {"OFF", "off", "Off"}) CHECK(parse_switch_value(json(text)) == SwitchValue::off);
  for (const char* text : {"TOGGLE", "toggle", "Toggle"}) CHECK(parse_switch_value(json(text)) == SwitchValue::toggle);
  CHECK(parse_switch_value(json(true)) == SwitchValue::on);
  CHECK(parse_switch_value(json(false)) == SwitchValue::off);
}

TEST_CASE("switch values: anything else is not one", "[model][switch]") {
  for (const json& value : {json("1"), json(1), json(0), json(nullptr), json(""), json(" ON"), json("ONN"),
                            json("TOGGLED"), json::array({"ON"}), json::object({{"state", "ON"}}), json(1.0)}) {
    INFO(value.dump());
    CHECK_FALSE(parse_switch_value(value).has_value());
  }
}

TEST_CASE("switch values: TOGGLE inverts what is known and needs it", "[model][switch]") {
  CHECK(resolve_switch(SwitchValue::on, std::nullopt) == true);
  CHECK(resolve_switch(SwitchValue::off, true) == false);
  CHECK(resolve_switch(SwitchValue::toggle, true) == false);
  CHECK(resolve_switch(SwitchValue::toggle, false) == true);
  CHECK_FALSE(resolve_switch(SwitchValue::toggle, std::nullopt).has_value());
}
