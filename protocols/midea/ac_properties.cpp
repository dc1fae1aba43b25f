// 0xB0/0xB1 properties codec. Layout: ac_properties.h and docs/midea.md §4.7.
#include "protocols/midea/ac_properties.h"

#include <string>

#include "protocols/midea/ac_frame.h"

namespace cloudless::midea {

namespace {

constexpr std::size_t kEntryHeaderSize = 4;  // id_lo id_hi result len

// Applies one entry to the typed fields; false when the id is not one we decode. Values shorter than
// a decoder needs leave the field unset (the entry stays in `entries`).
bool decode_entry(AcProperties& out, const AcPropertyEntry& entry) {
  const Bytes& v = entry.value;
  switch (entry.id) {
    case property_id::kSwingVerticalAngle:
      out.swing_vertical_angle = v[0];
      return true;
    case property_id::kSwingHorizontalAngle:
      out.swing_horizontal_angle = v[0];
      return true;
    case property_id::kIndoorHumidity:
      // midea-local: 0 means the unit has no humidity sensor.
      if (v[0] != 0) out.indoor_humidity = v[0];
      return true;
    case property_id::kScreenDisplay:
      out.display_on = v[0] != 0;
      return true;
    case property_id::kBreezeless:
      out.breezeless = v[0] != 0;
      return true;
    case property_id::kBuzzer:
      return true;  // write-only in practice: msmart does not decode it
    case property_id::kSelfClean:
      out.self_clean = v[0] != 0;
      return true;
    case property_id::kBreezeAway:
      out.breeze_away = v[0] == 2;
      return true;
    case property_id::kBreezeControl:
      out.breeze_control = v[0];
      return true;
    case property_id::kRateSelect:
      out.rate_select = v[0];
      return true;
    case property_id::kFreshAir:
      // [power, speed, temperature]: the speed byte stays non-zero when off (msmart, Midea Gaia).
      if (v.size() >= 2) out.fresh_air_speed = v[0] != 0 ? v[1] : 0;
      return true;
    case property_id::kCascade:
      if (v.size() >= 2) out.cascade = v[0] != 0 ? v[1] : 0;
      return true;
    case property_id::kFlash:
      out.flash = v[0] != 0;
      return true;
    case property_id::kOutSilent:
      out.out_silent = v[0] == 3;
      return true;
    case property_id::kIeco:
      if (v.size() >= 2) out.ieco = v[1] != 0;  // [number, switch]
      return true;
    case property_id::kAnion:
      out.anion = v[0] != 0;
      return true;
    default:
      return false;
  }
}

AcPropertyValue value_of(std::uint16_t id, Bytes value) { return AcPropertyValue{id, std::move(value)}; }

}  // namespace

AcPropertyValue ac_u8_property(std::uint16_t id, std::uint8_t value) { return value_of(id, {value}); }
AcPropertyValue ac_bool_property(std::uint16_t id, bool on) { return value_of(id, {std::uint8_t{on}}); }
AcPropertyValue ac_breeze_away_property(bool on) {
  return value_of(property_id::kBreezeAway, {static_cast<std::uint8_t>(on ? 2 : 1)});
}
AcPropertyValue ac_fresh_air_property(std::uint8_t speed) {
  return value_of(property_id::kFreshAir, {std::uint8_t{speed != 0}, speed, 0xFF});
}
AcPropertyValue ac_cascade_property(std::uint8_t direction) {
  return value_of(property_id::kCascade, {std::uint8_t{direction != 0}, direction});
}
AcPropertyValue ac_out_silent_property(bool on) {
  return value_of(property_id::kOutSilent, {static_cast<std::uint8_t>(on ? 3 : 0)});
}
AcPropertyValue ac_ieco_property(std::uint8_t number, bool on) {
  Bytes value(13, 0);  // [frame 0, number, switch, 10 × 0]
  value[1] = number;
  value[2] = on ? 1 : 0;
  return value_of(property_id::kIeco, std::move(value));
}
AcPropertyValue ac_buzzer_property(bool beep) { return ac_bool_property(property_id::kBuzzer, beep); }

Result<AcProperties> parse_ac_properties(ByteView body) {
  if (body.empty()) return parse_error("empty properties body", 0);
  if (body[0] != body_type::kGetProperties && body[0] != body_type::kSetProperties) {
    return parse_error("body type " + hex_literal(body[0], 2) + " is not a properties reply (0xb1/0xb0)", 0);
  }
  if (body.size() < 2) return parse_error("truncated properties body: no count byte", body.size());
  AcProperties out;
  out.body_type = body[0];
  const unsigned count = body[1];  // idx 1
  std::size_t offset = 2;
  for (unsigned index = 0; index < count; ++index) {
    if (body.size() - offset < kEntryHeaderSize) {
      return parse_error("truncated property entry " + std::to_string(index) + " of " + std::to_string(count) +
                             ": " + std::to_string(body.size() - offset) + " of 4 header bytes",
                         offset);
    }
    AcPropertyEntry entry;
    entry.id = static_cast<std::uint16_t>(body[offset] | body[offset + 1] << 8);  // u16 LE
    entry.result = body[offset + 2];
    const std::size_t size = body[offset + 3];
    if (body.size() - offset - kEntryHeaderSize < size) {
      return parse_error("truncated property " + hex_literal(entry.id, 4) + ": value of " + std::to_string(size) +
                             " bytes, " + std::to_string(body.size() - offset - kEntryHeaderSize) + " left",
                         offset + kEntryHeaderSize);
    }
    const ByteView value = body.subspan(offset + kEntryHeaderSize, size);
    offset += kEntryHeaderSize + size;
    if (size == 0) continue;  // an id the unit does not have (msmart skips these)
    entry.value.assign(value.begin(), value.end());
    if (entry.failed()) out.failed_ids.push_back(entry.id);
    if (!decode_entry(out, entry)) out.unknown_ids.push_back(entry.id);
    out.entries.push_back(std::move(entry));
  }
  return out;
}

std::optional<BreezeMode> ac_breeze_mode(const AcProperties& properties) {
  if (properties.breeze_control) {
    const std::uint8_t value = *properties.breeze_control;
    if (value >= static_cast<std::uint8_t>(BreezeMode::off) && value <= static_cast<std::uint8_t>(BreezeMode::breezeless)) {
      return static_cast<BreezeMode>(value);
    }
    return BreezeMode::off;  // msmart: unknown values read as off
  }
  if (properties.breezeless.value_or(false)) return BreezeMode::breezeless;
  if (properties.breeze_away.value_or(false)) return BreezeMode::away;
  if (properties.breezeless || properties.breeze_away) return BreezeMode::off;
  return std::nullopt;
}

Bytes encode_ac_properties_body(std::uint8_t type, std::span<const AcPropertyEntry> entries) {
  if (entries.size() > 255) return {};
  Bytes body{type, static_cast<std::uint8_t>(entries.size())};
  for (const AcPropertyEntry& entry : entries) {
    if (entry.value.size() > 255) return {};
    body.push_back(static_cast<std::uint8_t>(entry.id & 0xFF));
    body.push_back(static_cast<std::uint8_t>(entry.id >> 8));
    body.push_back(entry.result);
    body.push_back(static_cast<std::uint8_t>(entry.value.size()));
    body.insert(body.end(), entry.value.begin(), entry.value.end());
  }
  body.push_back(0);
  if (body.size() > kAcMaxBodySize) return {};
  return body;
}

}  // namespace cloudless::midea
