// Client command encoders. Byte layouts: ac_commands.h and docs/midea.md §4.2–§4.8.
#include "protocols/midea/ac_commands.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>

#include "protocols/midea/ac_frame.h"

namespace cloudless::midea {

namespace {

constexpr std::size_t kSetStateBodySize = 24;  // idx 0..23, before the message id
constexpr std::uint8_t kControlSourceApp = 0x02;
constexpr std::uint8_t kBeepBit = 0x40;
constexpr std::size_t kMaxGetProperties = 120;  // 2 + 2·120 + message id = 243 ≤ kAcMaxBodySize

bool bit(std::uint8_t byte, std::uint8_t mask) { return (byte & mask) != 0; }
std::uint8_t flag(bool on, std::uint8_t mask) { return on ? mask : 0; }
std::uint8_t beep_bit(Beep beep) { return beep == Beep::on ? kBeepBit : 0; }

}  // namespace

Bytes encode_ac_query_state(std::uint8_t message_id) {
  // idx 1..6 are fixed by the Midea app; idx 7 = 0x02 indoor temperature request; idx 20 = 0x03.
  constexpr std::array<std::uint8_t, 21> kBody = {
      body_type::kQuery, 0x81, 0x00, 0xFF, 0x03, 0xFF, 0x00, 0x02, 0x00, 0x00, 0x00,
      0x00,              0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03};
  return encode_ac_command(FrameType::query, kBody, message_id);
}

Bytes encode_ac_set_state(const AcState& state, std::uint8_t message_id, Beep beep) {
  if (std::isnan(state.target_temperature)) return {};
  // 0.5 °C steps, clamped to what idx 2 + the alternate byte can carry (13.0 .. 43.5).
  const int halves = static_cast<int>(std::lround(std::clamp(state.target_temperature, 13.0, 43.5) * 2));
  const int whole = halves / 2;
  std::uint8_t temperature_bits = flag(halves % 2 != 0, 0x10);
  std::uint8_t alternate = 0;
  if (whole >= 17 && whole <= 30) {
    temperature_bits |= static_cast<std::uint8_t>(whole - 16);
  } else {
    alternate = static_cast<std::uint8_t>((whole - 12) & 0x1F);  // 16 → 4, 31 → 19
  }

  std::array<std::uint8_t, kSetStateBodySize> body{};
  body[0] = body_type::kSetState;
  body[1] = kControlSourceApp | beep_bit(beep) | flag(state.power, 0x01);
  body[2] = static_cast<std::uint8_t>((static_cast<unsigned>(state.mode) & 0x07) << 5) | temperature_bits;
  body[3] = state.fan_speed & 0x7F;
  body[4] = 0x7F;  // no on-timer
  body[5] = 0x7F;  // no off-timer
  body[6] = 0x00;
  body[7] = 0x30 | flag(state.swing_vertical, 0x0C) | flag(state.swing_horizontal, 0x03);
  body[8] = flag(state.follow_me, 0x80) | flag(state.turbo, 0x20);
  body[9] = flag(state.eco, 0x80) | flag(state.purifier, 0x20) | flag(state.aux_heat, 0x08);
  body[10] = flag(state.sleep, 0x01) | flag(state.turbo, 0x02) | flag(state.fahrenheit, 0x04);
  body[18] = alternate;
  body[19] = state.target_humidity.value_or(kDefaultTargetHumidity) & 0x7F;
  body[21] = flag(state.freeze_protection.value_or(false), 0x80);
  body[22] = flag(state.independent_aux_heat, 0x08);
  return encode_ac_command(FrameType::set, body, message_id);
}

Result<AcSetStateRequest> parse_ac_set_state(ByteView body) {
  if (body.empty()) return parse_error("empty set-state body", 0);
  if (body[0] != body_type::kSetState) {
    return parse_error("body type " + hex_literal(body[0], 2) + " is not a set-state command (0x40)", 0);
  }
  if (body.size() < kSetStateBodySize) {
    return parse_error("truncated set-state body: " + std::to_string(body.size()) + " of " +
                           std::to_string(kSetStateBodySize) + " bytes",
                       body.size());
  }
  AcSetStateRequest out;
  AcState& state = out.state;
  out.beep = bit(body[1], kBeepBit) ? Beep::on : Beep::off;
  state.power = bit(body[1], 0x01);
  state.mode = static_cast<AcMode>((body[2] >> 5) & 0x07);
  const double half = bit(body[2], 0x10) ? 0.5 : 0.0;
  const std::uint8_t alternate = body[18] & 0x1F;
  state.target_temperature = (alternate != 0 ? alternate + 12 : (body[2] & 0x0F) + 16) + half;
  state.fan_speed = body[3] & 0x7F;
  state.swing_vertical = bit(body[7], 0x0C);
  state.swing_horizontal = bit(body[7], 0x03);
  state.follow_me = bit(body[8], 0x80);
  state.turbo = bit(body[8], 0x20) || bit(body[10], 0x02);
  state.eco = bit(body[9], 0x80);
  state.purifier = bit(body[9], 0x20);
  state.aux_heat = bit(body[9], 0x08);
  state.sleep = bit(body[10], 0x01);
  state.fahrenheit = bit(body[10], 0x04);
  state.target_humidity = body[19] & 0x7F;
  state.freeze_protection = bit(body[21], 0x80);
  state.independent_aux_heat = bit(body[22], 0x08);
  return out;
}

Bytes encode_ac_toggle_display(std::uint8_t message_id, Beep beep) {
  std::array<std::uint8_t, 21> body{};
  body[0] = body_type::kQuery;
  body[1] = kControlSourceApp | beep_bit(beep);
  body[2] = 0x00;
  body[3] = 0xFF;
  body[4] = 0x02;
  body[5] = 0x00;
  body[6] = 0x02;
  return encode_ac_command(FrameType::query, body, message_id);
}

Bytes encode_ac_query_capabilities(std::uint8_t message_id, CapabilitiesPage page) {
  if (page == CapabilitiesPage::first) {
    constexpr std::array<std::uint8_t, 3> kFirst = {body_type::kCapabilities, 0x01, 0x00};
    return encode_ac_command(FrameType::query, kFirst, message_id);
  }
  constexpr std::array<std::uint8_t, 4> kAdditional = {body_type::kCapabilities, 0x01, 0x01, 0x01};
  return encode_ac_command(FrameType::query, kAdditional, message_id);
}

Bytes encode_ac_get_properties(std::span<const std::uint16_t> ids, std::uint8_t message_id) {
  if (ids.empty() || ids.size() > kMaxGetProperties) return {};
  Bytes body{body_type::kGetProperties, static_cast<std::uint8_t>(ids.size())};
  for (const std::uint16_t id : ids) {
    body.push_back(static_cast<std::uint8_t>(id & 0xFF));  // u16 LE
    body.push_back(static_cast<std::uint8_t>(id >> 8));
  }
  return encode_ac_command(FrameType::query, body, message_id);
}

Bytes encode_ac_set_properties(std::span<const AcPropertyValue> values, std::uint8_t message_id) {
  if (values.empty() || values.size() > 255) return {};
  Bytes body{body_type::kSetProperties, static_cast<std::uint8_t>(values.size())};
  for (const AcPropertyValue& value : values) {
    if (value.value.size() > 255) return {};
    body.push_back(static_cast<std::uint8_t>(value.id & 0xFF));  // u16 LE
    body.push_back(static_cast<std::uint8_t>(value.id >> 8));
    body.push_back(static_cast<std::uint8_t>(value.value.size()));
    body.insert(body.end(), value.value.begin(), value.value.end());
    if (body.size() >= kAcMaxBodySize) return {};  // + message id would not fit
  }
  return encode_ac_command(FrameType::set, body, message_id);
}

Bytes encode_ac_query_group_data(std::uint8_t group, std::uint8_t message_id) {
  std::array<std::uint8_t, 20> body{};
  body[0] = body_type::kQuery;
  body[1] = 0x21;
  body[2] = 0x01;
  body[3] = static_cast<std::uint8_t>(0x40 | (group & 0x0F));
  return encode_ac_command(FrameType::query, body, message_id);
}

}  // namespace cloudless::midea
