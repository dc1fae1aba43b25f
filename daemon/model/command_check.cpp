#include "daemon/model/command_check.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "daemon/model/json_excerpt.h"
#include "daemon/model/switch_value.h"

namespace cloudless::model {

namespace {

using nlohmann::json;

// Names and values are quoted at most this long: the payload may be up to the MQTT size limit and
// the error ends up in a log line.
constexpr std::size_t kMaxQuotedChars = 60;

std::string excerpt(const json& value) { return json_excerpt(value, kMaxQuotedChars); }

std::string number_text(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

std::string join(const std::vector<std::string>& names, std::string_view separator = ", ") {
  std::string out;
  for (const std::string& name : names) {
    if (!out.empty()) out += separator;
    out += name;
  }
  return out;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

// The climate attributes its traits offer, with the names each takes (empty: any value is judged elsewhere).
struct ClimateAttribute {
  std::string key;
  std::vector<std::string> names;
};

std::vector<ClimateAttribute> climate_attributes(const ClimateTraits& traits) {
  std::vector<ClimateAttribute> out = {{std::string(climate_key::power), {}},
                                       {std::string(climate_key::mode), traits.modes},
                                       {std::string(climate_key::target_temperature), {}}};
  if (!traits.fan_modes.empty()) out.push_back({std::string(climate_key::fan_mode), traits.fan_modes});
  if (!traits.swing_modes.empty()) out.push_back({std::string(climate_key::swing_mode), traits.swing_modes});
  if (!traits.preset_modes.empty()) {
    std::vector<std::string> presets = {"none"};  // HA's own "no preset"
    presets.insert(presets.end(), traits.preset_modes.begin(), traits.preset_modes.end());
    out.push_back({std::string(climate_key::preset), std::move(presets)});
  }
  return out;
}

std::vector<std::string> settable_keys(const std::vector<Entity>& entities) {
  std::vector<std::string> keys;
  for (const Entity& entity : entities) {
    if (!entity.settable) continue;
    if (entity.component == Component::climate && entity.climate) {
      for (ClimateAttribute& attribute : climate_attributes(*entity.climate)) keys.push_back(std::move(attribute.key));
    } else {
      keys.push_back(entity.key);
    }
  }
  return keys;
}

CommandError check_switch(const Entity& entity, const std::string& key, const json& value) {
  if (parse_switch_value(value)) return std::nullopt;
  if (entity.boolean_state) return key + " takes true, false, ON, OFF or TOGGLE, not " + excerpt(value);
  return "attribute '" + key + "' takes ON, OFF or TOGGLE";
}

CommandError check_select(const Entity& entity, const json& value) {
  if (value.is_string() &&
      std::find(entity.options.begin(), entity.options.end(), value.get<std::string>()) != entity.options.end())
    return std::nullopt;
  return entity.key + " takes " + join(entity.options, " or ") + ", not " + excerpt(value);
}

CommandError check_number(const Entity& entity, const json& value) {
  const double min = entity.min.value_or(-INFINITY);
  const double max = entity.max.value_or(INFINITY);
  const double step = entity.step.value_or(0);
  bool fits = value.is_number();
  if (fits) {
    const double number = value.get<double>();
    const double steps = step > 0 ? (number - (std::isfinite(min) ? min : 0)) / step : 0;
    fits = std::isfinite(number) && number >= min && number <= max && steps == std::floor(steps);
  }
  if (fits) return std::nullopt;
  std::string what = entity.key + (step == 1 ? " takes a whole number" : " takes a number");
  if (!entity.unit.empty()) what += " of " + entity.unit;
  if (entity.min && entity.max) what += " from " + number_text(min) + " to " + number_text(max);
  if (step > 0 && step != 1) what += " in steps of " + number_text(step);
  return what + ", not " + excerpt(value);
}

CommandError check_climate(const ClimateTraits& traits, const std::string& key, const json& value,
                           const std::vector<std::string>& names) {
  if (key == climate_key::power) {
    if (parse_switch_value(value)) return std::nullopt;
    return "attribute '" + key + "' takes ON, OFF or TOGGLE";
  }
  if (key == climate_key::target_temperature) {
    const std::optional<double> target = climate_target(value, traits.temp_step);
    if (!target) return "target_temperature takes a number of °C, e.g. 24.5";
    if (*target < traits.min_temp || *target > traits.max_temp) {
      const double said =
          value.is_number() ? value.get<double>() : std::strtod(value.get<std::string>().c_str(), nullptr);
      return "target_temperature " + number_text(said) + " is outside this unit's range " +
             number_text(traits.min_temp) + ".." + number_text(traits.max_temp) + " °C";
    }
    return std::nullopt;
  }
  if (value.is_string()) {
    const std::string name = lower(value.get<std::string>());
    if (std::find(names.begin(), names.end(), name) != names.end()) return std::nullopt;
  }
  return "unknown " + key + " " + excerpt(value) + " (this unit takes: " + join(names) + ")";
}

}  // namespace

CommandError check_command_shape(const json& changes) {
  if (!changes.is_object() || changes.empty()) return "expected a JSON object with attributes to set";
  return std::nullopt;
}

std::optional<double> climate_target(const json& value, double step) {
  double number = 0;
  if (value.is_number()) {
    number = value.get<double>();
  } else if (value.is_string()) {
    const std::string text = value.get<std::string>();
    if (text.empty()) return std::nullopt;
    char* end = nullptr;
    number = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size()) return std::nullopt;
  } else {
    return std::nullopt;
  }
  if (!std::isfinite(number)) return std::nullopt;
  return step > 0 ? std::round(number / step) * step : number;
}

CommandError check_command(const std::vector<Entity>& entities, const json& changes) {
  if (auto error = check_command_shape(changes)) return error;
  for (const auto& [key, value] : changes.items()) {
    CommandError error;
    bool known = false;
    for (const Entity& entity : entities) {
      if (!entity.settable) continue;
      if (entity.component == Component::climate && entity.climate) {
        for (const ClimateAttribute& attribute : climate_attributes(*entity.climate)) {
          if (attribute.key != key) continue;
          known = true;
          error = check_climate(*entity.climate, key, value, attribute.names);
        }
      } else if (entity.key == key) {
        known = true;
        switch (entity.component) {
          case Component::switch_: error = check_switch(entity, key, value); break;
          case Component::select: error = check_select(entity, value); break;
          case Component::number: error = check_number(entity, value); break;
          default: break;  // a button takes any payload
        }
      }
      if (known) break;
    }
    if (!known) return "unknown attribute " + excerpt(key) + " (settable: " + join(settable_keys(entities)) + ")";
    if (error) return error;
  }
  return std::nullopt;
}

}  // namespace cloudless::model
