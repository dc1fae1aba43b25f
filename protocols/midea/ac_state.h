// Air-conditioner state: the AcState struct shared by the 0xC0 state reply (parsed here) and the 0x40
// set command (ac_commands.h), plus the C0 encoder a simulator needs. docs/midea.md §4.4, §4.9.
//
// 0xC0 body (the frame body without its CRC; msmart `StateResponse._parse`):
//   idx bits
//     0      0xC0
//     1      bit0 power; 0x04 i-mode resume, 0x10 timer mode, 0x80 appliance error (not decoded)
//     2      bits 7-5 mode (AcMode); bit4 +0.5 °C; bits 3-0 target − 16 °C
//     3      fan speed & 0x7F (1..100 %, 102 auto)
//     4..6   on/off timers (not decoded)
//     7      swing, low nibble: 0x0C vertical, 0x03 horizontal
//     8      0x20 turbo, 0x40 independent aux heat (msmart; midea_ac_lan reads "smart eye"), 0x80 follow-me
//     9      0x10 eco, 0x20 purifier (anion), 0x08 aux heat
//    10      0x01 sleep, 0x02 turbo (ORed with idx 8), 0x04 °F display
//    11      indoor temperature raw: (raw − 50) / 2 °C; 0xFF = none
//    12      outdoor temperature raw, same encoding
//    13      bits 4-0 alternate target: if ≠ 0, target = v + 12 °C (+0.5 if idx 2 bit4); bit5 filter alert
//    14      display: 0x70 = off (msmart), anything else on
//    15      tenths digits: low nibble indoor, high nibble outdoor
//    16      error code
//    19      target humidity & 0x7F   (only when the body has ≥ 20 bytes)
//    21      bit7 freeze protection   (only when the body has ≥ 22 bytes)
#pragma once

#include <cstdint>
#include <optional>

#include "protocols/common/bytes.h"
#include "protocols/common/result.h"

namespace cloudless::midea {

// Bits 7-5 of C0 idx 2 / set byte 2 (msmart `OperationalMode`). Values outside the list (0, 7) are kept
// as they came (static_cast) so a state round-trips; the vocabulary helpers report them as unknown.
enum class AcMode : std::uint8_t { automatic = 1, cool = 2, dry = 3, heat = 4, fan_only = 5, smart_dry = 6 };

// Fan speed is a percentage 1..100 or 102 for auto (msmart `FanSpeed`, midea_ac_lan speeds).
constexpr std::uint8_t kFanSilent = 20;
constexpr std::uint8_t kFanLow = 40;
constexpr std::uint8_t kFanMedium = 60;
constexpr std::uint8_t kFanHigh = 80;
constexpr std::uint8_t kFanFull = 100;
constexpr std::uint8_t kFanAuto = 102;

// What the set command sends when the device never reported a target humidity (msmart's default; the
// docs/midea.md §10 errata: byte 19 = 0x28 in every set vector).
constexpr std::uint8_t kDefaultTargetHumidity = 40;

// The state of one AC. The fields every C0 body carries (a body shorter than 17 bytes is rejected) are
// plain values, not optionals, because the set command needs all of them: to change one setting the
// caller copies the last parsed state, modifies that field and encodes the whole state again (the
// device has no "leave unchanged" value). Only what depends on the body length or on a "none" sentinel
// is optional.
struct AcState {
  // ---- settings: reported in C0 and written by the 0x40 set command ----
  bool power = false;
  AcMode mode = AcMode::automatic;
  double target_temperature = 24.0;  // °C, 0.5 steps
  std::uint8_t fan_speed = kFanAuto;
  bool swing_vertical = false;
  bool swing_horizontal = false;
  bool eco = false;
  bool turbo = false;  // HA preset "boost"
  bool sleep = false;
  bool follow_me = false;
  bool purifier = false;
  bool aux_heat = false;              // C0 idx 9 0x08 ↔ set byte 9 0x08
  bool independent_aux_heat = false;  // C0 idx 8 0x40 ↔ set byte 22 0x08 ("aux only", msmart)
  bool fahrenheit = false;            // the unit the unit's own display shows
  std::optional<std::uint8_t> target_humidity;  // % (smart dry); C0 bodies ≥ 20 bytes
  std::optional<bool> freeze_protection;        // 8 °C heating, HA preset "away"; C0 bodies ≥ 22 bytes

  // ---- readings: reported in C0 only ----
  std::optional<double> indoor_temperature;   // °C
  std::optional<double> outdoor_temperature;  // °C
  bool display_on = true;
  bool filter_alert = false;
  std::uint8_t error_code = 0;

  bool operator==(const AcState&) const = default;
};

// C0 temperature: raw 0xFF → none; t = (raw − 50) / 2; d = tenths digit (0..15 on the wire).
// Celsius display and d ≠ 0: trunc(t) + d/10 (− d/10 when t < 0). Otherwise d ≥ 5 (only possible in °F
// display mode): trunc(t) ± 0.5. Otherwise t.
// This is msmart's reading (docs/midea.md §4.4), the reference for every vector. It differs from the old
// midea_ac_lan reading int(t) ± d/10, which drops the half degree of an odd raw byte when d = 0
// (raw 0x69 → msmart 27.5, midea_ac_lan 27.0: docs/midea.md §10). midea-local today agrees with msmart when
// d = 0 and ignores the °F flag. Values are computed as (integer tenths) / 10 so they compare equal to
// the decimal literal.
std::optional<double> decode_c0_temperature(std::uint8_t raw, std::uint8_t tenths, bool fahrenheit);

struct C0Temperature {
  std::uint8_t raw = 0xFF;
  std::uint8_t tenths = 0;
};
// The inverse of decode_c0_temperature for the simulator: the (raw, tenths) pair whose reading is
// closest to `celsius` (exact whenever one exists; ties prefer tenths 0, then the smaller raw). nullopt
// or NaN → raw 0xFF. The wire range is −26.5 °C (raw 0, tenths 15) .. 103.5 °C (raw 254, tenths 15);
// values outside are clamped to it. In °F display mode only whole and half degrees are representable.
C0Temperature encode_c0_temperature(std::optional<double> celsius, bool fahrenheit);

// Parses a 0xC0 body (frame body without its CRC). Rejects another body type and bodies shorter
// than 17 bytes (idx 16, the error code, is the last field every C0 carries).
Result<AcState> parse_ac_state(ByteView body);

// The C0 body a device would send for `state` (simulator and round-trip tests). Length: 17 bytes, 20
// when target_humidity is set, 23 when freeze_protection is set (humidity 0 if absent); idx 22 is 0.
// Targets are rounded to 0.5 °C and clamped to what the two target encodings carry: 16..31.5 °C in idx
// 2, 13..43.5 °C in the alternate byte; outside 16..31.5 the alternate byte is used; NaN → 24 °C (this
// encoder serves simulators, which always have something to report). Temperatures as
// encode_c0_temperature. parse_ac_state(encode_ac_state_body(s)) == s for every state parse_ac_state
// can produce.
Bytes encode_ac_state_body(const AcState& state);

}  // namespace cloudless::midea
