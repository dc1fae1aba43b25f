// /set checked against the entities a device declares, in one place: what Home Assistant is told it
// can set (discovery, from the same declarations) and what a command may set are one list, and a
// value is judged by the entity's kind (switch, select, number, climate), never by each device kind
// with its own words. Device kinds call this first and only convert values afterwards; what is left
// to them is what a declaration cannot say (the unit has not reported its state yet, …).
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/model/device.h"
#include "daemon/model/entity.h"

namespace cloudless::model {

// nullopt when `changes` is a non-empty JSON object whose every attribute names a settable entity
// (or an attribute of a settable climate entity: state, mode, target_temperature, fan_mode,
// swing_mode, preset, as far as its traits offer them) and whose value that entity takes:
//   switch  ON, OFF, TOGGLE (any case) or a JSON bool
//   select  one of its options
//   number  a JSON number from min to max, a whole number of steps from min
//   climate mode/fan_mode/swing_mode/preset one of the traits' names (any case; preset also "none"),
//           target_temperature a number (or numeric text) within min_temp..max_temp once rounded
//           to temp_step
// Otherwise the first problem, quoting names and values as bounded excerpts.
CommandError check_command(const std::vector<Entity>& entities, const nlohmann::json& changes);

// Just the shape: a non-empty JSON object (for kinds that have something to say before the values).
CommandError check_command_shape(const nlohmann::json& changes);

// A climate target as /set gives it: a JSON number or numeric text ("24.5"), rounded to `step`.
// nullopt when it is neither.
std::optional<double> climate_target(const nlohmann::json& value, double step);

}  // namespace cloudless::model
