// AcState ↔ Home Assistant climate names. Rules: ac_vocabulary.h.
#include "protocols/midea/ac_vocabulary.h"

#include <algorithm>
#include <array>
#include <utility>

namespace cloudless::midea {

namespace {

constexpr std::array<std::pair<std::string_view, AcMode>, 5> kModeNames = {{
    {"auto", AcMode::automatic},
    {"cool", AcMode::cool},
    {"dry", AcMode::dry},
    {"heat", AcMode::heat},
    {"fan_only", AcMode::fan_only},
}};

constexpr std::array<std::pair<std::string_view, std::uint8_t>, 6> kFanNames = {{
    {"silent", kFanSilent},
    {"low", kFanLow},
    {"medium", kFanMedium},
    {"high", kFanHigh},
    {"full", kFanFull},
    {"auto", kFanAuto},
}};

void add_once(std::vector<std::string_view>& names, std::string_view name) {
  if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
}

}  // namespace

std::optional<std::string_view> ac_mode_name(AcMode mode) {
  if (mode == AcMode::smart_dry) return "dry";
  for (const auto& [name, value] : kModeNames) {
    if (value == mode) return name;
  }
  return std::nullopt;
}

std::optional<AcMode> ac_mode_from_name(std::string_view name) {
  for (const auto& [mode_name, value] : kModeNames) {
    if (mode_name == name) return value;
  }
  return std::nullopt;
}

std::optional<std::string_view> hvac_mode_name(const AcState& state) {
  if (!state.power) return "off";
  return ac_mode_name(state.mode);
}

bool apply_hvac_mode(AcState& state, std::string_view name) {
  if (name == "off") {
    state.power = false;
    return true;
  }
  const std::optional<AcMode> mode = ac_mode_from_name(name);
  if (!mode) return false;
  state.power = true;
  if (!(*mode == AcMode::dry && state.mode == AcMode::smart_dry)) state.mode = *mode;
  return true;
}

std::optional<std::string_view> fan_mode_name(std::uint8_t fan_speed) {
  if (fan_speed == kFanAuto) return "auto";
  if (fan_speed == 0 || fan_speed > kFanFull) return std::nullopt;
  // Bands up to each named speed: 1..20 silent, 21..40 low, …, 81..100 full.
  for (const auto& [name, value] : kFanNames) {
    if (fan_speed <= value) return name;
  }
  return std::nullopt;
}

std::optional<std::uint8_t> fan_speed_from_name(std::string_view name) {
  for (const auto& [fan_name, value] : kFanNames) {
    if (fan_name == name) return value;
  }
  return std::nullopt;
}

bool apply_fan_mode(AcState& state, std::string_view name) {
  const std::optional<std::uint8_t> speed = fan_speed_from_name(name);
  if (!speed) return false;
  state.fan_speed = *speed;
  return true;
}

std::string_view swing_mode_name(const AcState& state) {
  if (state.swing_vertical && state.swing_horizontal) return "both";
  if (state.swing_vertical) return "vertical";
  if (state.swing_horizontal) return "horizontal";
  return "off";
}

bool apply_swing_mode(AcState& state, std::string_view name) {
  if (name != "off" && name != "vertical" && name != "horizontal" && name != "both") return false;
  state.swing_vertical = name == "vertical" || name == "both";
  state.swing_horizontal = name == "horizontal" || name == "both";
  return true;
}

std::string_view preset_name(const AcState& state) {
  if (state.freeze_protection.value_or(false)) return "away";
  if (state.turbo) return "boost";
  if (state.sleep) return "sleep";
  if (state.eco) return "eco";
  return "none";
}

bool apply_preset(AcState& state, std::string_view name) {
  if (name != "none" && name != "eco" && name != "boost" && name != "sleep" && name != "away") return false;
  state.eco = name == "eco";
  state.turbo = name == "boost";
  state.sleep = name == "sleep";
  state.freeze_protection = name == "away";
  return true;
}

std::vector<std::string_view> hvac_mode_names(const AcFeatures& features) {
  std::vector<std::string_view> names = {"off"};
  for (const AcMode mode : features.modes) {
    if (const std::optional<std::string_view> name = ac_mode_name(mode)) add_once(names, *name);
  }
  return names;
}

std::vector<std::string_view> fan_mode_names(const AcFeatures& features) {
  std::vector<std::string_view> names;
  for (const std::uint8_t speed : features.fan_speeds) {
    if (const std::optional<std::string_view> name = fan_mode_name(speed)) add_once(names, *name);
  }
  return names;
}

std::vector<std::string_view> swing_mode_names(const AcFeatures& features) {
  std::vector<std::string_view> names = {"off"};
  if (features.swing_vertical) names.push_back("vertical");
  if (features.swing_horizontal) names.push_back("horizontal");
  if (features.swing_vertical && features.swing_horizontal) names.push_back("both");
  return names;
}

std::vector<std::string_view> preset_names(const AcFeatures& features) {
  std::vector<std::string_view> names = {"none"};
  if (features.eco) names.push_back("eco");
  if (features.turbo) names.push_back("boost");
  if (features.sleep) names.push_back("sleep");
  if (features.freeze_protection) names.push_back("away");
  return names;
}

}  // namespace cloudless::midea
