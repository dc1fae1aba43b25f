// MiBeacon object decoding. Layout and rules: mibeacon_objects.h and docs/ble.md §1.5; the
// per-model branches follow xiaomi-ble's parser.py (read, not copied) and name the model they are for.
#include "protocols/xiaomi_ble/codec/mibeacon_objects.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>

#include "protocols/xiaomi_ble/codec/products.h"

namespace cloudless::xiaomi_ble {

namespace {

constexpr std::size_t kObjectHeaderSize = 3;  // id (2, LE) + length (1)

std::string id_text(std::uint16_t id) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "0x";
  for (int shift = 12; shift >= 0; shift -= 4) out.push_back(kDigits[(id >> shift) & 0x0f]);
  return out;
}

std::uint32_t u16_le(const Bytes& data, std::size_t at) {
  return static_cast<std::uint32_t>(data[at] | data[at + 1] << 8);
}

std::int32_t s16_le(const Bytes& data, std::size_t at) {
  return static_cast<std::int16_t>(static_cast<std::uint16_t>(u16_le(data, at)));
}

std::uint32_t u24_le(const Bytes& data, std::size_t at) {
  return static_cast<std::uint32_t>(data[at] | data[at + 1] << 8 | data[at + 2] << 16);
}

std::uint32_t u32_le(const Bytes& data, std::size_t at) {
  return u24_le(data, at) | static_cast<std::uint32_t>(data[at + 3]) << 24;
}

// IEEE-754 binary32, little-endian. Returned as the double nearest to the float's *shortest*
// decimal form (0x41be6666 is 23.7999992… as a float and prints as 23.8, so we return 23.8): the
// device meant a decimal value, and publishing float noise helps nobody. nullopt for NaN/∞.
std::optional<double> f32_le(const Bytes& data, std::size_t at) {
  const std::uint32_t bits = u32_le(data, at);
  float value = 0;
  static_assert(sizeof(value) == sizeof(bits));
  std::memcpy(&value, &bits, sizeof(value));
  if (!std::isfinite(value)) return std::nullopt;
  std::array<char, 64> text{};
  const auto [end, error] = std::to_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{}) return static_cast<double>(value);
  double shortest = 0;
  const auto parsed = std::from_chars(text.data(), end, shortest);
  if (parsed.ec != std::errc{}) return static_cast<double>(value);
  return shortest;
}

// Lock actions: the low nibble of 0x000B byte 0 → the event name and whether the lock is
// unlocked afterwards. ZNMS17LM reports its child lock and anti-lock through the same nibble
// (`part` says which); every other lock's actions all move the lock itself.
enum class LockPart { lock, child_lock, anti_lock };
struct LockAction {
  std::uint8_t code;
  bool unlocked;
  LockPart part;
  std::string_view event;
};
constexpr std::array<LockAction, 10> kLockActions = {{
    {0x0, true, LockPart::lock, "unlock_outside_the_door"},
    {0x1, false, LockPart::lock, "locked"},
    {0x2, false, LockPart::anti_lock, "turn_on_antilock"},
    {0x3, true, LockPart::anti_lock, "release_the_antilock"},
    {0x4, true, LockPart::lock, "unlock_inside_the_door"},
    {0x5, false, LockPart::lock, "lock_inside_the_door"},
    {0x6, false, LockPart::child_lock, "turn_on_child_lock"},
    {0x7, true, LockPart::child_lock, "turn_off_child_lock"},
    {0x8, false, LockPart::lock, "lock_outside_the_door"},
    {0xF, true, LockPart::lock, "abnormal"},
}};

// Key ids 0xC0DE0000.. of 0x000B name an alarm instead of a key.
struct LockError {
  std::uint32_t key_id;
  std::string_view event;
};
constexpr std::array<LockError, 23> kLockErrors = {{
    {0xC0DE0000, "frequent_unlocking_with_incorrect_password"},
    {0xC0DE0001, "frequent_unlocking_with_wrong_fingerprints"},
    {0xC0DE0002, "operation_timeout_password_input_timeout"},
    {0xC0DE0003, "lock_picking"},
    {0xC0DE0004, "reset_button_is_pressed"},
    {0xC0DE0005, "the_wrong_key_is_frequently_unlocked"},
    {0xC0DE0006, "foreign_body_in_the_keyhole"},
    {0xC0DE0007, "the_key_has_not_been_taken_out"},
    {0xC0DE0008, "error_nfc_frequently_unlocks"},
    {0xC0DE0009, "timeout_is_not_locked_as_required"},
    {0xC0DE000A, "failure_to_unlock_frequently_in_multiple_ways"},
    {0xC0DE000B, "unlocking_the_face_frequently_fails"},
    {0xC0DE000C, "failure_to_unlock_the_vein_frequently"},
    {0xC0DE000D, "hijacking_alarm"},
    {0xC0DE000E, "unlock_inside_the_door_after_arming"},
    {0xC0DE000F, "palmprints_frequently_fail_to_unlock"},
    {0xC0DE0010, "the_safe_was_moved"},
    {0xC0DE1000, "the_battery_level_is_less_than_10_percent"},
    {0xC0DE1001, "the_battery_level_is_less_than_5_percent"},
    {0xC0DE1002, "the_fingerprint_sensor_is_abnormal"},
    {0xC0DE1003, "the_accessory_battery_is_low"},
    {0xC0DE1004, "mechanical_failure"},
    {0xC0DE1005, "the_lock_sensor_is_faulty"},
}};

// 0x0006 byte 4: the fingerprint reader's verdict.
constexpr std::array<std::string_view, 7> kFingerprintResults = {
    "fingerprint_match_successful",  "fingerprint_match_failed",       "fingerprint_timeout",
    "fingerprint_low_quality",       "fingerprint_insufficient_area",  "fingerprint_skin_is_too_dry",
    "fingerprint_skin_is_too_wet",
};

constexpr std::string_view kDoorKnock = "door_knock";

const LockError* lock_error(std::uint32_t key_id) {
  for (const LockError& error : kLockErrors) {
    if (error.key_id == key_id) return &error;
  }
  return nullptr;
}

// Collects readings and rejections for one object; each rule below is one small method call.
class ObjectDecoder {
 public:
  ObjectDecoder(const Object& object, std::string_view model, DecodedObjects& out)
      : object_(object), data_(object.data), model_(model), out_(out) {}

  // Data length within [min, max]; otherwise the object is rejected and false returned.
  bool length(std::size_t min, std::size_t max) {
    if (data_.size() >= min && data_.size() <= max) return true;
    const std::string expected =
        min == max ? std::to_string(min) : std::to_string(min) + ".." + std::to_string(max);
    reject(std::to_string(data_.size()) + " data bytes, expected " + expected);
    return false;
  }
  bool length(std::size_t exact) { return length(exact, exact); }

  void reject(const std::string& why) {
    out_.rejected.push_back({object_.id, object_.offset, id_text(object_.id) + ": " + why});
  }

  void number(Quantity quantity, double value) { out_.readings.push_back({quantity, value, {}, {}, object_.id}); }
  void binary(Quantity quantity, bool on) { number(quantity, on ? 1.0 : 0.0); }
  void event(Quantity quantity) { number(quantity, 1.0); }
  void button(ButtonEvent event) { out_.readings.push_back({Quantity::button, 1.0, event, {}, object_.id}); }
  void lock_event(std::string_view name) { out_.readings.push_back({Quantity::lock_event, 1.0, {}, name, object_.id}); }

  // A percentage that must lie in 0..100: anything else is a decoding or device error, rejected.
  void percent(Quantity quantity, double value) {
    if (value < 0 || value > 100) {
      reject(std::string(quantity_name(quantity)) + " " + std::to_string(value) + " % is outside 0..100");
      return;
    }
    number(quantity, value);
  }

  void float_number(Quantity quantity) {
    const std::optional<double> value = f32_le(data_, 0);
    if (!value) {
      reject("not a finite number");
      return;
    }
    if (quantity == Quantity::humidity) {
      percent(quantity, *value);
      return;
    }
    if (quantity == Quantity::illuminance && *value < 0) {
      reject("negative illuminance");
      return;
    }
    number(quantity, *value);
  }

  // Motion as a "seconds since motion" count: Mi Home shows ≤ 30 s as motion (xiaomi-ble notes).
  void no_motion_time(std::uint32_t seconds) {
    binary(Quantity::motion, seconds <= 30);
    number(Quantity::no_motion_time, seconds);
  }

  bool model_is(std::string_view model) const { return model_ == model; }

  void decode();

 private:
  void decode_button_1001();
  void decode_indexed_press(PressKind press);
  void decode_opening_state();
  void decode_fingerprint_0006();
  void decode_door_0007();
  void decode_armed_0008();
  void decode_lock_000b();
  void decode_water_event_4a68();
  void decode_scale_6e16();

  const Object& object_;
  const Bytes& data_;
  std::string_view model_;
  DecodedObjects& out_;
};

// The buttons one 0x1001 index byte stands for on the Linptech K9B switches: each button alone,
// then the combinations pressed together (xiaomi-ble obj1001). Button numbers as for every other
// switch: 0 the first (left), 1 the next, 2 the third (right).
struct ButtonSet {
  std::uint8_t index;
  std::array<std::uint8_t, 3> buttons;
  std::uint8_t count;
};
constexpr std::array<ButtonSet, 1> kK9b1Buttons = {{{0, {0}, 1}}};
constexpr std::array<ButtonSet, 3> kK9b2Buttons = {{{0, {0}, 1}, {1, {1}, 1}, {2, {0, 1}, 2}}};
constexpr std::array<ButtonSet, 7> kK9b3Buttons = {{{0, {0}, 1},
                                                   {1, {1}, 1},
                                                   {2, {2}, 1},
                                                   {3, {0, 1}, 2},
                                                   {4, {1, 2}, 2},
                                                   {5, {0, 2}, 2},
                                                   {6, {0, 1, 2}, 3}}};

template <std::size_t N>
const ButtonSet* find_buttons(const std::array<ButtonSet, N>& sets, std::uint8_t index) {
  for (const ButtonSet& set : sets) {
    if (set.index == index) return &set;
  }
  return nullptr;
}

// 0x1001 (3 bytes): button/index u8, value u8, press type u8 (docs/ble.md §1.5; dimmer rules after
// xiaomi-ble obj1001 for YLKG07YL/YLKG08YL).
void ObjectDecoder::decode_button_1001() {
  if (!length(3)) return;
  const std::uint8_t index = data_[0];
  const std::uint8_t value = data_[1];
  const std::uint8_t type = data_[2];
  // XMMF01JQD (magic cube): byte 0 is the direction it was turned, 0 right, 1 left; there is no
  // button (bytes 1 and 2 are 0).
  if (model_is("XMMF01JQD")) {
    if (index > 1) {
      reject("unknown cube direction " + std::to_string(index));
      return;
    }
    button({0, index == 0 ? PressKind::rotate_right : PressKind::rotate_left, 0});
    return;
  }
  // Linptech K9B switches send 1 for a long and 2 for a double press, the other way round from
  // every other model (xiaomi-ble btn_switch_press_type).
  const bool k9b = model_is("K9B-1BTN") || model_is("K9B-2BTN") || model_is("K9B-3BTN");
  const auto as_steps = [](std::uint8_t raw) { return static_cast<int>(static_cast<std::int8_t>(raw)); };
  PressKind press = PressKind::single;
  switch (type) {
    case 0:
    case 5:
      press = PressKind::single;
      break;
    case 1:
      press = k9b ? PressKind::long_press : PressKind::double_press;
      break;
    case 2:
      press = k9b ? PressKind::double_press : PressKind::long_press;
      break;
    case 6:
      press = PressKind::long_press;
      break;
    case 3:  // dimmer press: index 0 → short presses (value = count), 1 → held (value = seconds)
      if (index == 0) {
        button({0, PressKind::single, value});
        return;
      }
      if (index == 1) {
        button({0, PressKind::long_press, value});
        return;
      }
      reject("dimmer press with unknown index " + std::to_string(index));
      return;
    case 4:  // dimmer rotation: steps as s8 in the value byte, or in the index byte while pressed
      if (index == 0) {
        button({0, PressKind::rotate, as_steps(value)});
        return;
      }
      button({0, PressKind::rotate_while_pressed, as_steps(index)});
      return;
    default:
      reject("unknown press type " + std::to_string(type));
      return;
  }
  if (k9b) {
    // One index may stand for several buttons pressed together: one event per button, in order.
    const ButtonSet* set = model_is("K9B-1BTN")   ? find_buttons(kK9b1Buttons, index)
                           : model_is("K9B-2BTN") ? find_buttons(kK9b2Buttons, index)
                                                  : find_buttons(kK9b3Buttons, index);
    if (!set) {
      reject("unknown " + std::string(model_) + " button " + std::to_string(index));
      return;
    }
    for (std::uint8_t i = 0; i < set->count; ++i) button({set->buttons[i], press, 0});
    return;
  }
  // YLYK01YL remote: button 0 is "on" and 1 is "off", so they also say what the light now is.
  if (model_is("YLYK01YL") && index <= 1) binary(Quantity::power, index == 0);
  button({index, press, 0});
}

// 0x4A0C/0D/0E, 0x4E0C/0D/0E, 0x560C/0D/0E (0–1 byte): click / double / long, the optional byte
// being the button index on multi-button models.
void ObjectDecoder::decode_indexed_press(PressKind press) {
  if (!length(0, 1)) return;
  const std::uint8_t index = data_.empty() ? 0 : data_[0];
  // K9BB-1BTN encodes the press kind in the byte of 0x4E0C: 1 single, 8 long, 15 double.
  if (object_.id == 0x4E0C && model_is("K9BB-1BTN")) {
    switch (index) {
      case 1:
        button({0, PressKind::single, 0});
        return;
      case 8:
        button({0, PressKind::long_press, 0});
        return;
      case 15:
        button({0, PressKind::double_press, 0});
        return;
      default:
        reject("unknown K9BB press code " + std::to_string(index));
        return;
    }
  }
  // XMWXKG01YL: 1 left, 2 right, 3 both: one event per button, left first.
  if (index == 3 && model_is("XMWXKG01YL")) {
    button({1, press, 0});
    button({2, press, 0});
    return;
  }
  button({index, press, 0});
}

// 0x4804 (opening state) and 0x4A12 (opening event), 1 byte: 1 open, 2 closed. Closing also ends
// "left open" and "forcibly removed" (MS1BB).
void ObjectDecoder::decode_opening_state() {
  if (!length(1)) return;
  if (data_[0] == 1) {
    binary(Quantity::opening, true);
    return;
  }
  if (data_[0] == 2) {
    binary(Quantity::opening, false);
    binary(Quantity::door_left_open, false);
    binary(Quantity::tamper, false);
    return;
  }
  reject("unknown opening state " + std::to_string(data_[0]));
}

// 0x0006 (5 bytes): key id u32, result u8 (0 match, 1 no match, 2 timeout, 3 low quality,
// 4 insufficient area, 5 skin too dry, 6 skin too wet).
void ObjectDecoder::decode_fingerprint_0006() {
  if (!length(5)) return;
  const std::uint8_t result = data_[4];
  if (result >= kFingerprintResults.size()) {
    reject("unknown fingerprint result " + std::to_string(result));
    return;
  }
  binary(Quantity::fingerprint, result == 0);
  number(Quantity::key_id, u32_le(data_, 0));
  lock_event(kFingerprintResults[result]);
}

// 0x0007 (1 byte, or 5 with a u32 timestamp we do not need): 0 opened, 1 closed, 2 not closed in
// time (left open), 3 knocked, 4 pried open, 5 stuck. Opening clears "stuck", closing clears
// "left open" and "pried".
void ObjectDecoder::decode_door_0007() {
  if (data_.size() != 1 && !length(5)) return;
  switch (data_[0]) {
    case 0:
      binary(Quantity::opening, true);
      binary(Quantity::door_stuck, false);
      return;
    case 1:
      binary(Quantity::opening, false);
      binary(Quantity::door_left_open, false);
      binary(Quantity::door_pried, false);
      return;
    case 2:
      binary(Quantity::opening, true);
      binary(Quantity::door_left_open, true);
      return;
    case 3:
      binary(Quantity::opening, false);
      lock_event(kDoorKnock);
      return;
    case 4:
      binary(Quantity::opening, true);
      binary(Quantity::door_pried, true);
      return;
    case 5:
      binary(Quantity::opening, false);
      binary(Quantity::door_stuck, true);
      return;
    default:
      reject("unknown door event " + std::to_string(data_[0]));
      return;
  }
}

// 0x0008 (1 byte, or 5 with a u32 timestamp): 0 armed, 1 disarmed. DSL-C08 sends it when the
// handle is lifted outside the door, which locks it by hand.
void ObjectDecoder::decode_armed_0008() {
  if (data_.size() != 1 && !length(5)) return;
  if (data_[0] > 1) {
    reject("unknown armed state " + std::to_string(data_[0]));
    return;
  }
  binary(Quantity::armed, data_[0] == 0);
  if (model_is("DSL-C08")) {
    lock_event("lock_outside_the_door");
    number(Quantity::lock_method, 10);  // manual
  }
}

// 0x000B (9 bytes): byte 0 = action (low nibble, kLockActions) | method << 4 (lock_method_name),
// key id u32 (key_id_text, or an alarm from kLockErrors), timestamp u32 (not needed).
void ObjectDecoder::decode_lock_000b() {
  if (!length(9)) return;
  const std::uint8_t action_code = data_[0] & 0x0f;
  const int method = data_[0] >> 4;
  const std::uint32_t key = u32_le(data_, 1);
  const LockAction* action = nullptr;
  for (const LockAction& candidate : kLockActions) {
    if (candidate.code == action_code) action = &candidate;
  }
  if (!action) {
    reject("unknown lock action " + std::to_string(action_code));
    return;
  }
  if (lock_method_name(method).empty()) {
    reject("unknown lock method " + std::to_string(method));
    return;
  }
  // Only ZNMS17LM tells its child lock and anti-lock apart; their actions say nothing about the lock.
  if (action->part == LockPart::lock || !model_is("ZNMS17LM")) binary(Quantity::locked, !action->unlocked);
  const LockError* error = lock_error(key);
  if (!error) number(Quantity::key_id, key);
  lock_event(action->event);
  number(Quantity::lock_method, method);
  if (error) lock_event(error->event);
}

// 0x4A68 (1 byte, SJWS02LM): 0 bottom sensor wet, 1 bottom dry, 2 top sensor wet, 3 top dry.
void ObjectDecoder::decode_water_event_4a68() {
  if (!length(1)) return;
  switch (data_[0]) {
    case 0:
    case 1:
      binary(Quantity::water_leak, data_[0] == 0);
      return;
    case 2:
    case 3:
      binary(Quantity::top_splash, data_[0] == 2);
      return;
    default:
      reject("unknown water event " + std::to_string(data_[0]));
      return;
  }
}

// 0x6E16 (9 bytes, S400 scales): profile u8, then a u32 packing weight (bits 0–10, /10 kg), heart
// rate (bits 11–17, + 50 bpm; 0 and 127 mean none) and impedance (bits 18–31, /10 Ω), then a u32
// timestamp. The scale sends weight with the 50 kHz impedance first (not final yet), then the
// 250 kHz impedance alone (final); weight alone is final too (measured with socks on); all zero:
// the person stepped off.
void ObjectDecoder::decode_scale_6e16() {
  if (!length(9)) return;
  const std::uint32_t packed = u32_le(data_, 1);
  const std::uint32_t weight = packed & 0x7ff;
  const std::uint32_t heart_rate = packed >> 11 & 0x7f;
  const std::uint32_t impedance = packed >> 18;
  number(Quantity::profile_id, data_[0]);
  if (packed == 0) {
    binary(Quantity::stabilized, false);
    return;
  }
  if (weight != 0) number(Quantity::weight, weight / 10.0);
  if (heart_rate > 0 && heart_rate < 127) number(Quantity::heart_rate, heart_rate + 50);
  if (weight == 0 && heart_rate == 0) {
    number(Quantity::impedance_high, impedance / 10.0);
    binary(Quantity::stabilized, true);
  } else if (impedance != 0) {
    number(Quantity::impedance_low, impedance / 10.0);
    binary(Quantity::stabilized, false);
  } else {
    binary(Quantity::stabilized, true);
  }
}

void ObjectDecoder::decode() {
  switch (object_.id) {
    case 0x0003:  // 1 byte: motion/"approach" event, never cleared (MUE4094RT)
      if (length(1)) event(Quantity::motion_event);
      return;
    case 0x0006:  // 5 bytes: fingerprint (locks)
      decode_fingerprint_0006();
      return;
    case 0x0007:  // 1 or 5 bytes: door event (locks)
      decode_door_0007();
      return;
    case 0x0008:  // 1 or 5 bytes: armed (locks)
      decode_armed_0008();
      return;
    case 0x000B:  // 9 bytes: lock event
      decode_lock_000b();
      return;
    case 0x000A:  // 2 bytes: body temperature s16 / 100 °C (MMC-W505)
      if (length(2)) number(Quantity::temperature, s16_le(data_, 0) / 100.0);
      return;
    case 0x000F: {  // 3 bytes: motion with light level u24; its meaning is per model
      if (!length(3)) return;
      const std::uint32_t level = u24_le(data_, 0);
      binary(Quantity::motion, true);
      // MJYD02YL: 100 light / ≤1 dark; RTCGQ02LM: 256 light / 0 dark; CGPR1: lux.
      if (model_is("MJYD02YL") || model_is("RTCGQ02LM")) binary(Quantity::light, level >= 100);
      if (model_is("CGPR1")) number(Quantity::illuminance, level);
      return;
    }
    case 0x0010:  // 1–2 bytes: toothbrush: byte0 0 on (byte1 counter) / else off (byte1 score)
      if (!length(1, 2)) return;
      binary(Quantity::toothbrush, data_[0] == 0);
      if (data_.size() == 2) number(data_[0] == 0 ? Quantity::toothbrush_counter : Quantity::toothbrush_score, data_[1]);
      return;
    case 0x1001:
      decode_button_1001();
      return;
    case 0x1004:  // 2 bytes: temperature s16 / 10 °C
      if (length(2)) number(Quantity::temperature, s16_le(data_, 0) / 10.0);
      return;
    case 0x1005:  // 2 bytes: kettle state u8 (0..4), water temperature u8 °C
      if (!length(2)) return;
      if (data_[0] > 4) {
        reject("unknown kettle state " + std::to_string(data_[0]));
        return;
      }
      number(Quantity::kettle_state, data_[0]);
      number(Quantity::temperature, data_[1]);
      return;
    case 0x1006:  // 2 bytes: humidity u16 / 10 % (kept at 0.1 %, also for LYWSD03MMC)
      if (length(2)) percent(Quantity::humidity, u16_le(data_, 0) / 10.0);
      return;
    case 0x1007: {  // 3 bytes: illuminance u24 lx; MJYD02YL and MCCGQ02HL: 100 = light, else dark
      if (!length(3)) return;
      const std::uint32_t level = u24_le(data_, 0);
      if (model_is("MJYD02YL") || model_is("MCCGQ02HL")) {
        binary(Quantity::light, level == 100);
        return;
      }
      number(Quantity::illuminance, level);
      return;
    }
    case 0x1008:  // 1 byte: soil moisture %
      if (length(1)) percent(Quantity::moisture, data_[0]);
      return;
    case 0x1009:  // 2 bytes: conductivity u16 µS/cm
      if (length(2)) number(Quantity::conductivity, u16_le(data_, 0));
      return;
    case 0x100A:  // 1 byte: battery %
      if (length(1)) percent(Quantity::battery, data_[0]);
      return;
    case 0x100D:  // 4 bytes: temperature s16 / 10 °C, humidity u16 / 10 %
      if (!length(4)) return;
      number(Quantity::temperature, s16_le(data_, 0) / 10.0);
      percent(Quantity::humidity, u16_le(data_, 2) / 10.0);
      return;
    case 0x1010:  // 2 bytes: formaldehyde u16 / 100 mg/m³
      if (length(2)) number(Quantity::formaldehyde, u16_le(data_, 0) / 100.0);
      return;
    case 0x1012:  // 1 byte: switch on (≠0) / off
      if (length(1)) binary(Quantity::power, data_[0] != 0);
      return;
    case 0x1013:  // 1 byte: consumable left %
      if (length(1)) percent(Quantity::consumable, data_[0]);
      return;
    case 0x1014:  // 1 byte: water leak (≠0)
      if (length(1)) binary(Quantity::water_leak, data_[0] != 0);
      return;
    case 0x1015:  // 1 byte: smoke (≠0)
      if (length(1)) binary(Quantity::smoke, data_[0] != 0);
      return;
    case 0x1017:  // 4 bytes: u32 s since the last motion
      if (length(4)) no_motion_time(u32_le(data_, 0));
      return;
    case 0x1018:  // 1 byte: light (≠0) / dark
      if (length(1)) binary(Quantity::light, data_[0] != 0);
      return;
    case 0x1019:  // 1 byte: 0 open, 1 closed, 2 left open (closing timeout), 3 device reset
      if (!length(1)) return;
      switch (data_[0]) {
        case 0:
          binary(Quantity::opening, true);
          return;
        case 1:
          binary(Quantity::opening, false);
          binary(Quantity::door_left_open, false);
          return;
        case 2:
          binary(Quantity::opening, true);
          binary(Quantity::door_left_open, true);
          return;
        case 3:  // the sensor restarted: says nothing about the door
          return;
        default:
          reject("unknown door state " + std::to_string(data_[0]));
          return;
      }
    case 0x101B:  // 4 bytes: no motion for u32 s (the "motion cleared" timeout)
      if (!length(4)) return;
      binary(Quantity::motion, false);
      number(Quantity::no_motion_time, u32_le(data_, 0));
      return;
    case 0x2000: {  // 5 bytes: s16 t1, s16 t2 (/100 °C, skin and ambient), u8 battery % (MMC-T201-1)
      if (!length(5)) return;
      // Body temperature from the two probe temperatures: xiaomi-ble's empirical fit to the values
      // the app shows in the range 36.5–37.8 °C.
      const double t1 = s16_le(data_, 0) / 100.0;
      const double t2 = s16_le(data_, 2) / 100.0;
      const double body = 3.71934e-11 * std::exp(0.69314 * t1) - 1.02801e-8 * std::exp(0.53871 * t2) + 36.413;
      number(Quantity::temperature, body);
      percent(Quantity::battery, data_[4]);
      return;
    }
    case 0x3003:  // 5–6 bytes: brushing 0 start / 1 end, u32 timestamp, optional u8 score (T700)
      if (!length(5, 6)) return;
      if (data_[0] > 1) {
        reject("unknown brushing state " + std::to_string(data_[0]));
        return;
      }
      binary(Quantity::toothbrush, data_[0] == 0);
      if (data_.size() == 6) number(Quantity::toothbrush_score, data_[5]);
      return;
    // 0x48xx/0x4Axx/0x4Cxx/0x4Exx/0x56xx: MIoT-spec objects of 2021+ models.
    case 0x4801:  // 4 bytes: temperature float32 °C
    case 0x4C01:
      if (length(4)) float_number(Quantity::temperature);
      return;
    case 0x4802:  // 1 byte: humidity %
    case 0x4C02:
      if (length(1)) percent(Quantity::humidity, data_[0]);
      return;
    case 0x4803:  // 1 byte: battery %
    case 0x4C03:
      if (length(1)) percent(Quantity::battery, data_[0]);
      return;
    case 0x4804:  // 1 byte: opening state 1 open / 2 closed (MS1BB)
    case 0x4A12:  // 1 byte: opening event, same values
      decode_opening_state();
      return;
    case 0x4805:  // 4 bytes: illuminance float32 lx
      if (length(4)) float_number(Quantity::illuminance);
      return;
    case 0x4806:  // 1 byte: water detected (≠0); on SJWS02LM by its bottom sensor
      if (length(1)) binary(Quantity::water_leak, data_[0] != 0);
      return;
    case 0x480C:  // 1 byte: door/window 0 open, 1 closed (MC-COMM)
      if (!length(1)) return;
      if (data_[0] > 1) {
        reject("unknown door state " + std::to_string(data_[0]));
        return;
      }
      binary(Quantity::opening, data_[0] == 0);
      return;
    case 0x487B:  // 1 byte: water on the top sensor (≠0) (SJWS02LM)
      if (length(1)) binary(Quantity::top_splash, data_[0] != 0);
      return;
    case 0x4808:  // 4 bytes: humidity float32 %
    case 0x4C08:
      if (length(4)) float_number(Quantity::humidity);
      return;
    case 0x4818:  // 2 bytes: u16 s without motion (HS1BB)
      if (length(2)) no_motion_time(u16_le(data_, 0));
      return;
    case 0x483C:  // 1 byte: seat pressure present (≠0) (PS1BB)
      if (length(1)) binary(Quantity::occupancy, data_[0] != 0);
      return;
    case 0x483D:  // 4 bytes: u32 s pressure present
      if (length(4)) number(Quantity::pressure_present_time, u32_le(data_, 0));
      return;
    case 0x483E:  // 4 bytes: u32 s pressure absent
      if (length(4)) number(Quantity::pressure_absent_time, u32_le(data_, 0));
      return;
    case 0x484E:  // 1 byte: occupancy status; XMOSB01XS: only 1 = occupied (2 = clear), others ≠0
      if (!length(1)) return;
      binary(Quantity::occupancy, model_is("XMOSB01XS") ? data_[0] == 1 : data_[0] != 0);
      return;
    case 0x4A01:  // 1 byte: low battery (≠0)
      if (length(1)) binary(Quantity::low_battery, data_[0] != 0);
      return;
    case 0x4A08:  // 4 bytes: motion detected, illuminance float32 lx
      if (!length(4)) return;
      binary(Quantity::motion, true);
      float_number(Quantity::illuminance);
      return;
    case 0x4A0C:
    case 0x4E0C:
    case 0x560C:
      decode_indexed_press(PressKind::single);
      return;
    case 0x4A0D:
    case 0x4E0D:
    case 0x560D:
      decode_indexed_press(PressKind::double_press);
      return;
    case 0x4A0E:
    case 0x4E0E:
    case 0x560E:
      decode_indexed_press(PressKind::long_press);
      return;
    case 0x4A0F:  // 1 byte: 1 = device forcibly removed (the door is then reported open) (MS1BB)
      if (!length(1)) return;
      if (data_[0] == 1) binary(Quantity::opening, true);
      binary(Quantity::tamper, data_[0] == 1);
      return;
    case 0x4A13:  // 1 byte: 1 = button pressed (MS1BB)
      if (!length(1)) return;
      if (data_[0] != 1) {
        reject("unknown button value " + std::to_string(data_[0]));
        return;
      }
      button({0, PressKind::single, 0});
      return;
    case 0x4A68:
      decode_water_event_4a68();
      return;
    case 0x4A1A:  // 1 byte: 1 = door left open (MS1BB)
      if (!length(1)) return;
      if (data_[0] == 1) binary(Quantity::opening, true);
      binary(Quantity::door_left_open, data_[0] == 1);
      return;
    case 0x4E16: {  // 9 bytes: profile u8, weight u32 / 100 kg, timestamp u32 (S200 scale)
      if (!length(9)) return;
      const std::uint32_t weight = u32_le(data_, 1);
      if (weight == 0) return;  // nothing on the scale
      number(Quantity::weight, weight / 100.0);
      number(Quantity::profile_id, data_[0]);
      return;
    }
    case 0x5413:  // 1 byte: someone present close to the sensor (≠0) (ES5BB)
      if (length(1)) binary(Quantity::occupancy_close_range, data_[0] != 0);
      return;
    case 0x6E16:
      decode_scale_6e16();
      return;
    default:
      // Unknown ids, and ids we recognise but do not turn into readings: the lock attribute
      // bitmap 0x100E (one model, no vector), presence durations 0x4851/0x4852 (u8 minutes in
      // xiaomi-ble, u32 in ble_monitor: the layouts disagree), display and bed objects (0x6012,
      // 0x605D, 0x5A16, 0x5403).
      out_.raw.push_back(object_);
      return;
  }
}

}  // namespace

const QuantityInfo& quantity_info(Quantity quantity) {
  // Indexed by the enum's value: keep in declaration order (test_xiaomi_ble_objects checks it).
  static const std::array<QuantityInfo, 43> kInfo = {{
      {"temperature", "°C", ValueKind::number},
      {"humidity", "%", ValueKind::number},
      {"battery", "%", ValueKind::number},
      {"illuminance", "lx", ValueKind::number},
      {"moisture", "%", ValueKind::number},
      {"conductivity", "µS/cm", ValueKind::number},
      {"formaldehyde", "mg/m³", ValueKind::number},
      {"consumable", "%", ValueKind::number},
      {"no_motion_time", "s", ValueKind::number},
      {"pressure_present_time", "s", ValueKind::number},
      {"pressure_absent_time", "s", ValueKind::number},
      {"kettle_state", "", ValueKind::number},
      {"toothbrush_counter", "", ValueKind::number},
      {"toothbrush_score", "", ValueKind::number},
      {"weight", "kg", ValueKind::number},
      {"impedance_low", "Ω", ValueKind::number},
      {"impedance_high", "Ω", ValueKind::number},
      {"heart_rate", "bpm", ValueKind::number},
      {"profile_id", "", ValueKind::number},
      {"lock_method", "", ValueKind::number},
      {"key_id", "", ValueKind::number},
      {"opening", "", ValueKind::binary},
      {"door_left_open", "", ValueKind::binary},
      {"motion", "", ValueKind::binary},
      {"occupancy", "", ValueKind::binary},
      {"light", "", ValueKind::binary},
      {"water_leak", "", ValueKind::binary},
      {"smoke", "", ValueKind::binary},
      {"power", "", ValueKind::binary},
      {"low_battery", "", ValueKind::binary},
      {"tamper", "", ValueKind::binary},
      {"toothbrush", "", ValueKind::binary},
      {"top_splash", "", ValueKind::binary},
      {"occupancy_close_range", "", ValueKind::binary},
      {"stabilized", "", ValueKind::binary},
      {"locked", "", ValueKind::binary},
      {"armed", "", ValueKind::binary},
      {"fingerprint", "", ValueKind::binary},
      {"door_pried", "", ValueKind::binary},
      {"door_stuck", "", ValueKind::binary},
      {"motion_event", "", ValueKind::event},
      {"button", "", ValueKind::event},
      {"lock_event", "", ValueKind::event},
  }};
  static_assert(kQuantityCount == kInfo.size());
  return kInfo[static_cast<std::size_t>(quantity)];
}

std::string_view press_kind_name(PressKind kind) {
  switch (kind) {
    case PressKind::single:
      return "single";
    case PressKind::double_press:
      return "double";
    case PressKind::long_press:
      return "long";
    case PressKind::rotate:
      return "rotate";
    case PressKind::rotate_while_pressed:
      return "rotate_pressed";
    case PressKind::rotate_left:
      return "rotate_left";
    case PressKind::rotate_right:
      return "rotate_right";
  }
  return "single";
}

std::string_view lock_method_name(int code) {
  static constexpr std::array<std::string_view, 16> kNames = {
      "bluetooth", "password", "biometrics", "key", "turntable", "nfc", "one_time_password",
      "two_step_verification", "coercion", "homekit", "manual", "automatic", "", "", "", "abnormal"};
  if (code < 0 || code >= static_cast<int>(kNames.size())) return {};
  return kNames[static_cast<std::size_t>(code)];
}

std::string key_id_text(std::uint32_t key_id) {
  if (key_id == 0x00000000) return "administrator";
  if (key_id == 0xFFFFFFFF) return "unknown operator";
  if (key_id == 0xDEADBEEF) return "invalid operator";
  if (key_id < 0x80000000) return "bluetooth key " + std::to_string(key_id);
  // 0x80TTNNNN: key type TT, key number NNNN.
  static constexpr std::array<std::string_view, 8> kKinds = {
      "fingerprint", "password", "key", "nfc", "two-step verification", "face", "finger veins", "palm print"};
  const std::uint32_t kind = key_id >> 16 & 0x7fff;
  if (kind >= 1 && kind <= kKinds.size()) {
    return std::string(kKinds[kind - 1]) + " " + std::to_string(key_id & 0xffff);
  }
  return "key id " + std::to_string(key_id);
}

const std::vector<std::string_view>& lock_event_names() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> out;
    for (const LockAction& action : kLockActions) out.push_back(action.event);
    for (const LockError& error : kLockErrors) out.push_back(error.event);
    out.insert(out.end(), kFingerprintResults.begin(), kFingerprintResults.end());
    out.push_back(kDoorKnock);
    return out;
  }();
  return names;
}

std::optional<double> DecodedObjects::value(Quantity quantity) const {
  std::optional<double> found;
  for (const Reading& reading : readings) {
    if (reading.quantity == quantity) found = reading.value;
  }
  return found;
}

std::optional<ButtonEvent> DecodedObjects::button_event() const {
  std::optional<ButtonEvent> found;
  for (const Reading& reading : readings) {
    if (reading.quantity == Quantity::button) found = reading.button;
  }
  return found;
}

Result<std::vector<Object>> split_objects(ByteView objects) {
  std::vector<Object> out;
  ByteReader reader(objects);
  // 1–2 bytes after the last object cannot hold a header: ignored, keeping the objects before them.
  while (reader.remaining() >= kObjectHeaderSize) {
    const std::size_t offset = reader.offset();
    const std::uint16_t id = *reader.u16_le();
    const std::uint8_t length = *reader.u8();
    const std::optional<ByteView> data = reader.take(length);
    if (!data) {
      return parse_error("object " + id_text(id) + " says " + std::to_string(length) + " data bytes, only " +
                             std::to_string(reader.remaining()) + " left",
                         offset);
    }
    out.push_back({id, offset, Bytes(data->begin(), data->end())});
  }
  return out;
}

DecodedObjects decode_objects(const std::vector<Object>& objects, std::uint16_t product_id) {
  const Product* product = find_product(product_id);
  const std::string_view model = product ? product->model : std::string_view{};
  DecodedObjects out;
  for (const Object& object : objects) {
    // Another model's meaning of a device-specific id would be a wrong reading: kept raw.
    if (is_device_specific(object.id) && !(product && product->defines(object.id))) {
      out.raw.push_back(object);
      continue;
    }
    ObjectDecoder(object, model, out).decode();
  }
  return out;
}

Result<DecodedObjects> decode_objects(ByteView objects, std::uint16_t product_id) {
  Result<std::vector<Object>> split = split_objects(objects);
  if (!split) return split.error();
  return decode_objects(*split, product_id);
}

}  // namespace cloudless::xiaomi_ble
