// "New protocol" properties of a Midea AC: the 0xB1 reply (to a get) and the 0xB0 acknowledgement (to a
// set). docs/midea.md §4.7; ids and encodings from msmart `PropertyId` and midea-local
// `NewProtocolTags`.
//
// Reply body (frame body without its CRC; parse_ac_frame does not check the CRC of these):
//   0      0xB1 or 0xB0
//   1      count
//   2..    count entries: id_lo id_hi result len value[len]; result bit 0x10 = the device failed to
//          apply / read it (e.g. 0x11). len 0 = an empty entry (4 bytes), skipped.
//   then   trailing bytes (usually one zero), ignored
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "protocols/common/bytes.h"
#include "protocols/common/result.h"

namespace cloudless::midea {

namespace property_id {
constexpr std::uint16_t kSwingVerticalAngle = 0x0009;    // u8: 0 off, 1, 25, 50, 75, 100
constexpr std::uint16_t kSwingHorizontalAngle = 0x000A;  // u8: same steps
constexpr std::uint16_t kIndoorHumidity = 0x0015;        // u8 %, 0 = none (msmart leaves it undecoded)
constexpr std::uint16_t kScreenDisplay = 0x0017;         // u8: 0x64 on, 0 off (midea_ac_lan)
constexpr std::uint16_t kBreezeless = 0x0018;            // bool
constexpr std::uint16_t kBuzzer = 0x001A;                // u8 1 beep / 0 silent; never decoded
constexpr std::uint16_t kSelfClean = 0x0039;             // bool
constexpr std::uint16_t kBreezeAway = 0x0042;            // u8: 2 on, 1 off
constexpr std::uint16_t kBreezeControl = 0x0043;         // u8: 1 off, 2 away, 3 mild, 4 breezeless
constexpr std::uint16_t kRateSelect = 0x0048;            // u8: 100 off; 50/75 two-level; 1/20/40/60/80 five-level
constexpr std::uint16_t kFreshAir = 0x004B;              // [power, speed 0..100, 0xFF]
constexpr std::uint16_t kCascade = 0x0059;               // [on, direction 1 up / 2 down]
constexpr std::uint16_t kFlash = 0x0067;                 // bool ("jet cool")
constexpr std::uint16_t kOutSilent = 0x00CD;             // u8: 3 on, 0 off (PortaSplit)
constexpr std::uint16_t kIeco = 0x00E3;                  // reply [number, switch]; set 13 bytes
constexpr std::uint16_t kAnion = 0x021E;                 // bool
}  // namespace property_id

// One property to set (0xB0 command).
struct AcPropertyValue {
  std::uint16_t id = 0;
  Bytes value;
  bool operator==(const AcPropertyValue&) const = default;
};

// Value builders with msmart's encodings (`PropertyId.encode`).
AcPropertyValue ac_u8_property(std::uint16_t id, std::uint8_t value);        // [value]: angles, rate, display…
AcPropertyValue ac_bool_property(std::uint16_t id, bool on);                 // [1] / [0]
AcPropertyValue ac_breeze_away_property(bool on);                            // [2] on / [1] off
AcPropertyValue ac_fresh_air_property(std::uint8_t speed);                   // [speed ≠ 0, speed, 0xFF]
AcPropertyValue ac_cascade_property(std::uint8_t direction);                 // [direction ≠ 0, direction]
AcPropertyValue ac_out_silent_property(bool on);                             // [3] / [0]
AcPropertyValue ac_ieco_property(std::uint8_t number, bool on);              // [0, number, on, 0×10]
AcPropertyValue ac_buzzer_property(bool beep);                               // [1] / [0]

// One entry of a reply, as received (unknown ids included).
struct AcPropertyEntry {
  std::uint16_t id = 0;
  std::uint8_t result = 0;  // bit 0x10: failed
  Bytes value;

  bool failed() const { return (result & 0x10) != 0; }
  bool operator==(const AcPropertyEntry&) const = default;
};

// Breeze modes share one value when the unit has "breeze control" (0x0043).
enum class BreezeMode : std::uint8_t { off = 1, away = 2, mild = 3, breezeless = 4 };

// A decoded reply. Each typed field is set only when its entry is present with a value long enough.
// Like msmart, a value is decoded even when its entry reports failure (the unit echoes the current
// value); failed_ids says which.
struct AcProperties {
  std::uint8_t body_type = 0;  // 0xB1 reply or 0xB0 acknowledgement
  std::optional<std::uint8_t> swing_vertical_angle;
  std::optional<std::uint8_t> swing_horizontal_angle;
  std::optional<std::uint8_t> indoor_humidity;    // 0 → none
  std::optional<bool> display_on;                 // 0x0017 value ≠ 0
  std::optional<bool> breezeless;                 // 0x0018 value ≠ 0
  std::optional<bool> self_clean;                 // 0x0039 value ≠ 0
  std::optional<bool> breeze_away;                // 0x0042 value == 2
  std::optional<std::uint8_t> breeze_control;     // 0x0043 raw (BreezeMode values)
  std::optional<std::uint8_t> rate_select;        // 0x0048 raw
  std::optional<std::uint8_t> fresh_air_speed;    // 0x004B: speed when powered, else 0
  std::optional<std::uint8_t> cascade;            // 0x0059: direction when on, else 0
  std::optional<bool> flash;                      // 0x0067 value ≠ 0
  std::optional<bool> out_silent;                 // 0x00CD value == 3
  std::optional<bool> ieco;                       // 0x00E3 value[1] ≠ 0
  std::optional<bool> anion;                      // 0x021E value ≠ 0
  std::vector<AcPropertyEntry> entries;           // every non-empty entry, in order
  std::vector<std::uint16_t> failed_ids;          // entries with result bit 0x10
  std::vector<std::uint16_t> unknown_ids;         // non-empty entries with an id not listed above

  bool operator==(const AcProperties&) const = default;
};

// Parses a 0xB1/0xB0 reply body. Rejects another body type, a body shorter than 2 bytes and an entry
// cut short (header or value), naming the entry's offset. Fewer entries than `count` is a truncation too.
Result<AcProperties> parse_ac_properties(ByteView body);

// msmart's breeze state: breeze control (0x0043) supersedes the other two; else breezeless (0x0018)
// on → breezeless, else breeze away (0x0042) on → away, else off when either was reported; nullopt
// when none of the three was. (msmart applies away then breezeless in sequence, so a reported
// "breezeless off" after "away on" reads off there; here away wins. No vector covers that case.)
std::optional<BreezeMode> ac_breeze_mode(const AcProperties& properties);

// The reply body a device would send (simulator and round-trip tests): body_type (0xB1 or 0xB0),
// count, entries with their result bytes, and one trailing zero. Empty when there are more than 255
// entries, a value longer than 255 bytes, or the body would not fit one frame.
Bytes encode_ac_properties_body(std::uint8_t body_type, std::span<const AcPropertyEntry> entries);

}  // namespace cloudless::midea
