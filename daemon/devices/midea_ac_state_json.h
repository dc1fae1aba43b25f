// The air-conditioner state payload of docs/contract.md, built in one place so that the daemon's
// `cloudless/<id>` message and `cloudless midea query` print literally the same thing:
//   {"state":"ON","mode":"cool","target_temperature":24.5,"indoor_temperature":26.1,
//    "outdoor_temperature":31.0,"fan_mode":"auto","swing_mode":"vertical","preset":"none",
//    "display":"ON","beep":"ON","error_code":0,"filter_alert":false,"indoor_humidity":48,
//    "power":612.5,"energy":151.2}
// Fields the unit does not report are left out, never null.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "daemon/model/entity.h"
#include "protocols/midea/ac_capabilities.h"
#include "protocols/midea/ac_state.h"

namespace cloudless {

// The keys of the state besides the climate entity's (daemon/model/entity.h climate_key): named once
// for the payload, MideaAc's entity declarations and its commands.
inline constexpr std::string_view kOutdoorTemperature = "outdoor_temperature";
inline constexpr std::string_view kDisplay = "display";
inline constexpr std::string_view kBeep = "beep";
inline constexpr std::string_view kErrorCode = "error_code";
inline constexpr std::string_view kFilterAlert = "filter_alert";
inline constexpr std::string_view kPower = "power";
inline constexpr std::string_view kEnergy = "energy";

// What comes from other replies than the 0xC0 state, or from the bridge itself.
struct MideaAcReadings {
  std::optional<std::uint8_t> indoor_humidity;  // %, group 5
  std::optional<double> power;                  // W, group 4
  std::optional<double> energy;                 // kWh, group 4 (the daemon keeps it monotonic)
  std::optional<bool> beep;                     // the bridge-side beep setting (daemon only)
  bool operator==(const MideaAcReadings&) const = default;
};

// State → JSON under the entity keys of MideaAc. `display` only when the unit has display control,
// `filter_alert` only when it has a filter reminder (the C0 bits mean nothing otherwise);
// fan_mode and mode are left out for raw values outside the vocabulary.
nlohmann::json midea_ac_state_json(const midea::AcState& state, const midea::AcFeatures& features,
                                   const MideaAcReadings& readings);

// One line per topic for `cloudless midea query` and the daemon's log:
// "modes off,auto,cool; fan low,medium,high,auto; swing off,vertical; presets none,eco; 16-30 °C; …".
// (The target step is a setting, `temp_step`, not something the unit reports.)
std::string midea_ac_features_summary(const midea::AcFeatures& features);

}  // namespace cloudless
