#include "protocols/xiaomi_ble/codec/kettle.h"

#include <cmath>
#include <string>

namespace cloudless::xiaomi_ble {

// Status notification (docs/ble.md §4.3; drndos' and aprosvetova's captures, a 12-byte one from a newer unit):
//   0     action: 0 idle, 1 heating, 2 cooling, 3 keeping warm
//   1     mode: 255 none, 1 boil, 2 keep warm (aprosvetova) or 3 keep warm (mikettle)
//   2..3  unknown
//   4     keep-warm set temperature, °C
//   5     current temperature, °C
//   6     keep-warm type: 0 boil then cool, 1 heat up to
//   7..8  minutes since keep-warm was enabled. Endianness is unresolved (mikettle reads byte 7
//         only); read little-endian like every other multi-byte Mi value, byte 7 alone when byte 8
//         is missing.
//   9..   newer units send 12 bytes; the rest is unknown.
Result<KettleStatus> parse_kettle_status(ByteView value) {
  if (value.size() < kKettleStatusMinSize) {
    return parse_error("kettle status of " + std::to_string(value.size()) + " bytes, expected at least " +
                           std::to_string(kKettleStatusMinSize),
                       value.size());
  }
  KettleStatus status;
  const std::uint8_t action = value[0];
  if (action > static_cast<std::uint8_t>(KettleAction::keeping_warm)) {
    return parse_error("unknown kettle action " + hex_literal(action, 2), 0);
  }
  status.action = static_cast<KettleAction>(action);

  status.mode_code = value[1];
  switch (value[1]) {
    case 0xFF: status.mode = KettleMode::none; break;
    case 1: status.mode = KettleMode::boil; break;
    case 2:
    case 3: status.mode = KettleMode::keep_warm; break;
    default: return parse_error("unknown kettle mode " + hex_literal(value[1], 2), 1);
  }

  status.keep_warm_set_temperature = value[4];
  status.current_temperature = value[5];

  const std::uint8_t type = value[6];
  if (type > static_cast<std::uint8_t>(KettleKeepWarmType::heat_to)) {
    return parse_error("unknown kettle keep-warm type " + hex_literal(type, 2), 6);
  }
  status.keep_warm_type = static_cast<KettleKeepWarmType>(type);

  if (value.size() >= 9) {
    status.keep_warm_minutes = value[7] | (value[8] << 8);
  } else if (value.size() == 8) {
    status.keep_warm_minutes = value[7];
  }
  return status;
}

std::string_view kettle_action_name(KettleAction action) {
  switch (action) {
    case KettleAction::idle: return "idle";
    case KettleAction::heating: return "heating";
    case KettleAction::cooling: return "cooling";
    case KettleAction::keeping_warm: return "keeping_warm";
  }
  return "idle";
}

std::string_view kettle_mode_name(KettleMode mode) {
  switch (mode) {
    case KettleMode::none: return "none";
    case KettleMode::boil: return "boil";
    case KettleMode::keep_warm: return "keep_warm";
  }
  return "none";
}

std::string_view kettle_keep_warm_type_name(KettleKeepWarmType type) {
  switch (type) {
    case KettleKeepWarmType::boil_then_cool: return "boil_then_cool";
    case KettleKeepWarmType::heat_to: return "heat_to";
  }
  return "boil_then_cool";
}

// Setup write (0xAA01): [keep-warm type 0/1, temperature °C 40..95].
Result<Bytes> encode_kettle_setup(KettleKeepWarmType type, int temperature) {
  const auto code = static_cast<std::uint8_t>(type);
  // The enum may hold any byte (it is cast from stored state): refuse what the kettle does not know.
  if (code > static_cast<std::uint8_t>(KettleKeepWarmType::heat_to)) {
    return parse_error("keep-warm type " + std::to_string(code) + " is neither 0 (boil_then_cool) nor 1 (heat_to)");
  }
  if (temperature < kKettleMinKeepWarmTemperature || temperature > kKettleMaxKeepWarmTemperature) {
    return parse_error("keep-warm temperature " + std::to_string(temperature) + " °C is outside " +
                       std::to_string(kKettleMinKeepWarmTemperature) + ".." +
                       std::to_string(kKettleMaxKeepWarmTemperature) + " °C");
  }
  return Bytes{code, static_cast<std::uint8_t>(temperature)};
}

// Time limit (0xAA04): one byte, hours × 2 (7.5 h = 15), at most 12 h.
Result<Bytes> encode_kettle_time_limit(double hours) {
  if (!std::isfinite(hours) || hours < 0.0 || hours > kKettleMaxTimeLimitHours) {
    return parse_error("keep-warm time limit must be 0..12 hours");
  }
  const double halves = hours * 2.0;
  if (halves != std::floor(halves)) return parse_error("keep-warm time limit must be a multiple of 0.5 hours");
  return Bytes{static_cast<std::uint8_t>(halves)};
}

Result<double> decode_kettle_time_limit(ByteView value) {
  if (value.size() != 1) {
    return parse_error("keep-warm time limit of " + std::to_string(value.size()) + " bytes, expected 1",
                       value.empty() ? 0 : 1);
  }
  if (value[0] > kKettleMaxTimeLimitHours * 2) {
    return parse_error("keep-warm time limit " + std::to_string(value[0]) + " half-hours is over 12 hours", 0);
  }
  return value[0] / 2.0;
}

// Boil mode (0xAA05): 1 = turn off after boiling, 0 = go on keeping warm.
Bytes encode_kettle_boil_mode(bool turn_off_after_boil) { return Bytes{turn_off_after_boil ? std::uint8_t{1} : std::uint8_t{0}}; }

Result<bool> decode_kettle_boil_mode(ByteView value) {
  if (value.size() != 1) {
    return parse_error("boil mode of " + std::to_string(value.size()) + " bytes, expected 1", value.empty() ? 0 : 1);
  }
  if (value[0] > 1) return parse_error("boil mode " + std::to_string(value[0]) + " is neither 0 nor 1", 0);
  return value[0] == 1;
}

}  // namespace cloudless::xiaomi_ble
