#include "daemon/devices/midea_ac_state_json.h"

#include <cstdio>

#include "daemon/devices/round_digits.h"
#include "protocols/midea/ac_vocabulary.h"

namespace cloudless {

namespace {

const char* on_off(bool on) { return on ? "ON" : "OFF"; }

template <typename Names>
std::string joined(const Names& names) {
  std::string out;
  for (const auto& name : names) {
    if (!out.empty()) out += ",";
    out += std::string(name);
  }
  return out.empty() ? "-" : out;
}

std::string number_text(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

}  // namespace

nlohmann::json midea_ac_state_json(const midea::AcState& state, const midea::AcFeatures& features,
                                   const MideaAcReadings& readings) {
  namespace key = model::climate_key;
  nlohmann::json out = nlohmann::json::object();
  out[key::power] = on_off(state.power);
  if (const auto mode = midea::hvac_mode_name(state)) out[key::mode] = std::string(*mode);
  // The decoders compute tenths exactly; rounding here only keeps float noise out of the payload.
  out[key::target_temperature] = round_digits(state.target_temperature, 1);
  if (state.indoor_temperature) out[key::current_temperature] = round_digits(*state.indoor_temperature, 1);
  if (state.outdoor_temperature) out[kOutdoorTemperature] = round_digits(*state.outdoor_temperature, 1);
  if (const auto fan = midea::fan_mode_name(state.fan_speed)) out[key::fan_mode] = std::string(*fan);
  out[key::swing_mode] = std::string(midea::swing_mode_name(state));
  out[key::preset] = std::string(midea::preset_name(state));
  if (features.display_control) out[kDisplay] = on_off(state.display_on);
  if (readings.beep) out[kBeep] = on_off(*readings.beep);
  out[kErrorCode] = state.error_code;
  if (features.filter_reminder) out[kFilterAlert] = state.filter_alert;
  if (readings.indoor_humidity) out[key::current_humidity] = *readings.indoor_humidity;
  if (readings.power) out[kPower] = round_digits(*readings.power, 1);
  if (readings.energy) out[kEnergy] = round_digits(*readings.energy, 3);
  return out;
}

std::string midea_ac_features_summary(const midea::AcFeatures& features) {
  std::string out = "modes " + joined(midea::hvac_mode_names(features));
  out += "; fan " + joined(midea::fan_mode_names(features));
  out += "; swing " + joined(midea::swing_mode_names(features));
  out += "; presets " + joined(midea::preset_names(features));
  out += "; " + number_text(features.min_temperature) + "-" + number_text(features.max_temperature) + " °C";
  std::string extras;
  const auto add = [&extras](bool flag, const char* name) {
    if (!flag) return;
    if (!extras.empty()) extras += ",";
    extras += name;
  };
  add(features.display_control, "display_control");
  add(features.filter_reminder, "filter_reminder");
  add(features.energy_stats, "energy_stats");
  add(features.humidity, "humidity");
  add(features.target_humidity, "target_humidity");
  add(features.custom_fan_speed, "custom_fan_speed");
  add(features.purifier, "purifier");
  add(features.self_clean, "self_clean");
  add(features.aux_heat, "aux_heat");
  add(features.breeze_away || features.breeze_mild || features.breezeless, "breeze");
  add(features.fresh_air, "fresh_air");
  add(features.ieco, "ieco");
  out += "; features " + (extras.empty() ? std::string("-") : extras);
  return out;
}

}  // namespace cloudless
