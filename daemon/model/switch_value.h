// What a switch's /set value says, read the same way for every device kind: ON, OFF or TOGGLE in any
// case ("on", "On", "ON"), or a JSON true/false. Home Assistant sends ON/OFF; Node-RED flows often send
// booleans or lower case.
#pragma once

#include <optional>

#include <nlohmann/json.hpp>

namespace cloudless::model {

enum class SwitchValue { on, off, toggle };

// nullopt: not a switch value.
std::optional<SwitchValue> parse_switch_value(const nlohmann::json& value);

// The state to set: TOGGLE inverts `current` (what the switch is, or is about to be). nullopt when
// TOGGLE meets an unknown state.
std::optional<bool> resolve_switch(SwitchValue value, std::optional<bool> current);

}  // namespace cloudless::model
