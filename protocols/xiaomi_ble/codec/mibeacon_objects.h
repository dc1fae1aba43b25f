// MiBeacon object TLVs (docs/ble.md §1.5) → typed readings. Pure: bytes in, structs out.
//
// Wire layout of the object part of a frame (after decryption when the frame is encrypted), all
// little-endian, repeated while at least 3 bytes (one header) remain:
//   off size field
//     0    2 object id
//     2    1 data length n (0 is legal for some button events: 0x4A0C…, 0x4E0C…, 0x560C…)
//     3    n data
// The official spec allows one object per beacon; parsers loop anyway, and so do we. 1–2 bytes
// after the last object cannot hold a header and are ignored, as both reference parsers do: the
// MMC-W505 sends one after its temperature (docs/ble.md §3).
//
// Each id has an exact data length (or a short range) and scale, written next to the code that
// reads it in mibeacon_objects.cpp. A known id with the wrong length or an impossible value is
// *rejected* (listed, never turned into a reading); an id we do not decode is kept *raw* for
// `cloudless ble scan`. Some ids mean different things on different models (0x000F, 0x1007,
// 0x1001, 0x484E, 0x4E0C): the product id selects the rule, and an unknown product gets only the
// model-independent part.
//
// Ids from 0x4800 up (0x48xx, 0x4Axx, 0x4Cxx, 0x4Exx, 0x54xx, 0x56xx, 0x6Exx) are MIoT-style
// property and event ids that each model defines for itself (docs/ble.md §1.5): they are decoded
// only for a product whose row in the product table lists them (Product::device_objects), and
// kept raw for any other product, known or not.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/common/bytes.h"
#include "protocols/common/result.h"

namespace cloudless::xiaomi_ble {

// What a reading measures. The unit is fixed per quantity (quantity_info), so a value never needs
// one next to it.
enum class Quantity : std::uint8_t {
  // numbers
  temperature,            // °C
  humidity,               // %
  battery,                // %
  illuminance,            // lx
  moisture,               // % (soil)
  conductivity,           // µS/cm
  formaldehyde,           // mg/m³
  consumable,             // % left (mosquito repellent tablet)
  no_motion_time,         // s since the last motion
  pressure_present_time,  // s (seat pressure sensor)
  pressure_absent_time,   // s
  kettle_state,           // 0 idle, 1 heating, 2 boiling then keeping warm, 3 heating then keeping warm, 4 error
  toothbrush_counter,     // brushing session counter while on
  toothbrush_score,       // score of the last session
  weight,                 // kg (scales)
  impedance_low,          // Ω, body impedance at 50 kHz (S400 scale, while still measuring)
  impedance_high,         // Ω, body impedance at 250 kHz (S400 scale, the final value)
  heart_rate,             // bpm (S400 scale)
  profile_id,             // scale user profile number
  lock_method,            // how a lock was operated: a LockMethod code, named by lock_method_name
  key_id,                 // who operated a lock: the u32 key id, described by key_id_text
  // on/off states: value 1 or 0
  opening,                // 1 open
  door_left_open,         // 1 open too long ("closing timeout")
  motion,                 // 1 motion
  occupancy,              // 1 someone present
  light,                  // 1 light detected (models that report light/dark only)
  water_leak,             // 1 water detected
  smoke,                  // 1 smoke detected
  power,                  // 1 on (switch object 0x1012)
  low_battery,            // 1 low
  tamper,                 // 1 device forcibly removed from its mount
  toothbrush,             // 1 brushing
  top_splash,             // 1 water on the top sensor (SJWS02LM; its bottom sensor is water_leak)
  occupancy_close_range,  // 1 someone present close to the sensor (ES5BB)
  stabilized,             // 1 the scale's reading is final
  locked,                 // 1 locked, 0 unlocked
  armed,                  // 1 the lock is armed ("armed away")
  fingerprint,            // 1 the last fingerprint matched
  door_pried,             // 1 someone pried the door (lock)
  door_stuck,             // 1 the door is stuck (lock)
  // events: something happened now; there is no "off" state to publish later
  motion_event,           // motion without a clear (MUE4094RT night light)
  button,                 // see ButtonEvent
  lock_event,             // a lock's own event, named in Reading::event (lock_event_names)
};
// How many quantities there are (they are numbered from 0): keep it on the last one above.
inline constexpr std::size_t kQuantityCount = static_cast<std::size_t>(Quantity::lock_event) + 1;

enum class ValueKind { number, binary, event };

struct QuantityInfo {
  std::string_view name;  // snake_case, stable: used in JSON and MQTT attribute names
  std::string_view unit;  // "°C", "%", "lx", "µS/cm", "mg/m³", "s", or "" (none)
  ValueKind kind;
};

const QuantityInfo& quantity_info(Quantity quantity);
inline std::string_view quantity_name(Quantity quantity) { return quantity_info(quantity).name; }

enum class PressKind {
  single,
  double_press,
  long_press,
  rotate,                // dimmer knob turned; value = steps, positive = clockwise/right, negative = left
  rotate_while_pressed,  // dimmer knob turned while held down; value as for rotate
  rotate_left,           // magic cube turned left (it reports a direction, no steps); value 0
  rotate_right,          // magic cube turned right; value 0
};

// "single", "double", "long", "rotate", "rotate_pressed", "rotate_left", "rotate_right"
std::string_view press_kind_name(PressKind kind);

struct ButtonEvent {
  // The index byte of the object, 0 when the object carries none. Its meaning is per model
  // (XMWS01XS: 0 left, 1 right; XMWXKG01YL: 1 left, 2 right, 3 both; YLYK01YL: 0 on, 1 off, ...).
  std::uint8_t button = 0;
  PressKind press = PressKind::single;
  // Dimmers only: single → number of presses, long → seconds held, rotate* → steps. 0 otherwise.
  int value = 0;

  bool operator==(const ButtonEvent&) const = default;
};

struct Reading {
  Quantity quantity = Quantity::temperature;
  double value = 0;        // number in the quantity's unit; binary 1/0; events 1
  ButtonEvent button{};    // Quantity::button only
  std::string_view event;  // Quantity::lock_event only: a name from lock_event_names() (static storage)
  std::uint16_t object_id = 0;

  bool operator==(const Reading&) const = default;
};

struct Object {
  std::uint16_t id = 0;
  std::size_t offset = 0;  // offset of the id within the object bytes given to split_objects
  Bytes data;

  bool operator==(const Object&) const = default;
};

struct RejectedObject {
  std::uint16_t id = 0;
  std::size_t offset = 0;
  std::string reason;  // "0x1004: 3 data bytes, expected 2"
};

struct DecodedObjects {
  std::vector<Reading> readings;          // in frame order; one object may give several (K9B: each button)
  std::vector<Object> raw;                // ids not turned into readings (unknown, or another product's)
  std::vector<RejectedObject> rejected;   // known ids with a wrong length or an impossible value

  // The last reading of that quantity, if any (objects later in a frame win).
  std::optional<double> value(Quantity quantity) const;
  std::optional<ButtonEvent> button_event() const;
};

// Splits the TLV sequence while at least one object header (3 bytes) remains; 1–2 trailing bytes
// are ignored. Malformed (with the offset of the object header) when an object's length runs past
// the end. Empty input → no objects.
Result<std::vector<Object>> split_objects(ByteView objects);

// Ids from 0x4800 up: their meaning is the model's own (see the top of this file).
inline bool is_device_specific(std::uint16_t object_id) { return object_id >= 0x4800; }

// Lock vocabulary (objects 0x0006, 0x0007, 0x0008, 0x000B), from the MiBeacon object definitions
// as both reference parsers read them:
//  * lock_method_name: the high nibble of 0x000B byte 0 — 0 bluetooth, 1 password, 2 biometrics,
//    3 key, 4 turntable, 5 nfc, 6 one-time password, 7 two-step verification, 8 coercion,
//    9 homekit, 10 manual, 11 automatic, 15 abnormal; "" for the unassigned 12–14.
//  * key_id_text: 0 "administrator", 0xFFFFFFFF "unknown operator", 0xDEADBEEF "invalid operator",
//    below 0x80000000 "bluetooth key <n>"; 0x8001xxxx … 0x8008xxxx fingerprint, password, key,
//    nfc, two-step verification, face, finger veins, palm print "<kind> <low 16 bits>"; else
//    "key id <n>".
//  * lock_event_names: every name a Quantity::lock_event reading can carry (stable, snake_case).
std::string_view lock_method_name(int code);
std::string key_id_text(std::uint32_t key_id);
const std::vector<std::string_view>& lock_event_names();

// Turns objects into readings with the rules of the product (0 or an unknown id: generic rules).
DecodedObjects decode_objects(const std::vector<Object>& objects, std::uint16_t product_id);

// split_objects + decode_objects.
Result<DecodedObjects> decode_objects(ByteView objects, std::uint16_t product_id);

}  // namespace cloudless::xiaomi_ble
