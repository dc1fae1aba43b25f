// The Mi kettle's own GATT values once the legacy Mi auth succeeded (YM-K1501 / yunmi.kettle.v2;
// docs/ble.md §4.3, §10): the status notification and the three settings it accepts.
// Pure codec: bytes in, structs out; every value the kettle sends is checked, unknown codes are
// errors (not guesses), and every setting we send is range-checked before it is encoded.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "protocols/common/bytes.h"
#include "protocols/common/result.h"

namespace cloudless::xiaomi_ble {

// The kettle's service. Its characteristics are short ids expanded in the Bluetooth base UUID
// (uuid16(kKettleStatusChar) = "0000aa02-0000-1000-8000-00805f9b34fb"), not in this service's base (§10).
inline constexpr std::string_view kKettleServiceUuid = "01344736-0000-1000-8000-262837236156";
inline constexpr std::uint16_t kKettleSetupChar = 0xAA01;      // write: [keep-warm type, temperature]
inline constexpr std::uint16_t kKettleStatusChar = 0xAA02;     // notify: the status below
inline constexpr std::uint16_t kKettleTimeLimitChar = 0xAA04;  // read/write: keep-warm hours × 2
inline constexpr std::uint16_t kKettleBoilModeChar = 0xAA05;   // read/write: turn off after boil 0/1
inline constexpr std::uint16_t kKettleMcuVersionChar = 0x2A28; // read: MCU firmware string

inline constexpr int kKettleMinKeepWarmTemperature = 40;  // °C, the kettle's own limits
inline constexpr int kKettleMaxKeepWarmTemperature = 95;
inline constexpr double kKettleMaxTimeLimitHours = 12.0;  // keep warm at most 12 h, in 0.5 h steps
inline constexpr std::size_t kKettleStatusMinSize = 7;    // older units: 7..9 bytes; newer: 12

enum class KettleAction : std::uint8_t { idle = 0, heating = 1, cooling = 2, keeping_warm = 3 };
enum class KettleMode { none, boil, keep_warm };
// What "keep warm" does: 0 = boil first, then cool down to the set temperature; 1 = only heat up to
// it (§4.3, aprosvetova's labels; mikettle's map is inverted, unresolved).
enum class KettleKeepWarmType : std::uint8_t { boil_then_cool = 0, heat_to = 1 };

struct KettleStatus {
  KettleAction action = KettleAction::idle;
  KettleMode mode = KettleMode::none;
  std::uint8_t mode_code = 0xFF;             // the raw byte: 255, 1, 2 or 3
  int keep_warm_set_temperature = 0;         // °C
  int current_temperature = 0;               // °C
  KettleKeepWarmType keep_warm_type = KettleKeepWarmType::boil_then_cool;
  std::optional<int> keep_warm_minutes;      // minutes since keep-warm started, when the unit sends it
};

// The 0xAA02 notification, ≥ 7 bytes. Errors: too short; an action, mode or keep-warm type code this
// codec does not know (offset = that byte).
Result<KettleStatus> parse_kettle_status(ByteView value);

std::string_view kettle_action_name(KettleAction action);        // "idle" | "heating" | "cooling" | "keeping_warm"
std::string_view kettle_mode_name(KettleMode mode);              // "none" | "boil" | "keep_warm"
std::string_view kettle_keep_warm_type_name(KettleKeepWarmType type);  // "boil_then_cool" | "heat_to"

// 0xAA01: [type, temperature]; temperature 40..95 °C, type one of the two enumerators.
Result<Bytes> encode_kettle_setup(KettleKeepWarmType type, int temperature);
// 0xAA04: one byte, hours × 2; hours 0..12 in steps of 0.5 (7.5 h → 15). NaN/inf are refused.
Result<Bytes> encode_kettle_time_limit(double hours);
// 0xAA04 as read back: exactly one byte 0..24 → hours.
Result<double> decode_kettle_time_limit(ByteView value);
// 0xAA05: one byte, 1 = turn off after boiling, 0 = keep warm after boiling.
Bytes encode_kettle_boil_mode(bool turn_off_after_boil);
// 0xAA05 as read back: exactly one byte 0 or 1.
Result<bool> decode_kettle_boil_mode(ByteView value);

}  // namespace cloudless::xiaomi_ble
