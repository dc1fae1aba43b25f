// Mapping between AcState fields and the Home Assistant climate vocabulary of docs/contract.md:
//   mode   "off|auto|cool|heat|dry|fan_only"
//   fan    "silent|low|medium|high|full|auto"  (midea_ac_lan / msmart speeds 20/40/60/80/100/102)
//   swing  "off|vertical|horizontal|both"
//   preset "none|eco|boost|sleep|away"          (eco, turbo, sleep, freeze protection)
// No JSON here: the device kind (daemon/devices) builds payloads from these names.
//
// apply_* helpers change only the fields the name is about, on a copy of the last parsed state that the
// caller then sends with encode_ac_set_state; they return false (state untouched) for an unknown name.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "protocols/midea/ac_capabilities.h"
#include "protocols/midea/ac_state.h"

namespace cloudless::midea {

// "off" when power is off, else the mode's name. smart_dry reads "dry" (HA has no smart dry; the unit
// keeps its humidity target). nullopt for a raw mode outside 1..6.
std::optional<std::string_view> hvac_mode_name(const AcState& state);
std::optional<std::string_view> ac_mode_name(AcMode mode);  // "auto", "cool", "dry", "heat", "fan_only", "dry"
std::optional<AcMode> ac_mode_from_name(std::string_view name);  // the five names above ("off" is not a mode)
// "off" → power off, mode kept; a mode name → power on with that mode. "dry" keeps smart_dry when the unit
// is already in it, so re-sending the current mode does not drop the humidity program.
bool apply_hvac_mode(AcState& state, std::string_view name);

// Fan speed names. Named speeds map exactly; a custom percentage maps to the band it falls in
// (1..20 silent, 21..40 low, 41..60 medium, 61..80 high, 81..100 full, as msmart's comment on the LED
// thresholds suggests); 102 auto; 0, 101 and above 102 → nullopt.
std::optional<std::string_view> fan_mode_name(std::uint8_t fan_speed);
std::optional<std::uint8_t> fan_speed_from_name(std::string_view name);
bool apply_fan_mode(AcState& state, std::string_view name);

std::string_view swing_mode_name(const AcState& state);
bool apply_swing_mode(AcState& state, std::string_view name);

// One preset at a time in HA; when the unit reports several flags the first of away, boost, sleep, eco
// wins (freeze protection changes the whole operation; eco is the mildest).
std::string_view preset_name(const AcState& state);
// Sets the named flag and clears the other three; "none" clears all four. freeze_protection becomes a
// value (false) even when the unit never reported it: the set command always carries the bit.
bool apply_preset(AcState& state, std::string_view name);

// The option lists for HA discovery, from the unit's capabilities. hvac modes start with "off" and list
// each name once (smart_dry adds nothing: it reads "dry"); presets start with "none".
std::vector<std::string_view> hvac_mode_names(const AcFeatures& features);
std::vector<std::string_view> fan_mode_names(const AcFeatures& features);
std::vector<std::string_view> swing_mode_names(const AcFeatures& features);
std::vector<std::string_view> preset_names(const AcFeatures& features);

}  // namespace cloudless::midea
