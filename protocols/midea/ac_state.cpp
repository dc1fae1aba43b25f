// 0xC0 state body codec. Layout: ac_state.h and docs/midea.md §4.4.
#include "protocols/midea/ac_state.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "protocols/midea/ac_frame.h"

namespace cloudless::midea {

namespace {

constexpr std::size_t kMinStateBody = 17;      // idx 0..16
constexpr std::size_t kHumidityStateBody = 20;  // idx 19 present
constexpr std::size_t kFreezeStateBody = 22;    // idx 21 present
constexpr std::size_t kEncodedFullBody = 23;    // what encode writes with freeze protection (idx 22 = 0)
constexpr std::uint8_t kNoTemperature = 0xFF;
constexpr std::uint8_t kDisplayOff = 0x70;

bool bit(std::uint8_t byte, std::uint8_t mask) { return (byte & mask) != 0; }
std::uint8_t flag(bool on, std::uint8_t mask) { return on ? mask : 0; }

// Target: idx 2 low nibble + 16 (+0.5 with bit 4); the alternate byte idx 13 bits 4-0 overrides it with
// v + 12 when non-zero (U-shaped units, targets outside 17..30, msmart test_target_temperature).
double decode_target(std::uint8_t mode_byte, std::uint8_t alternate_byte) {
  const double half = bit(mode_byte, 0x10) ? 0.5 : 0.0;
  const std::uint8_t alternate = alternate_byte & 0x1F;
  if (alternate != 0) return alternate + 12 + half;
  return (mode_byte & 0x0F) + 16 + half;
}

}  // namespace

std::optional<double> decode_c0_temperature(std::uint8_t raw, std::uint8_t tenths, bool fahrenheit) {
  if (raw == kNoTemperature) return std::nullopt;
  // t = (raw − 50) / 2 in half degrees: raw − 50 is the value in 0.5 °C units.
  const int half_degrees = int{raw} - 50;
  const int whole = half_degrees / 2;  // trunc(t): C++ division truncates toward zero
  const bool negative = half_degrees < 0;
  if (!fahrenheit && tenths != 0) {
    const int value_tenths = whole * 10 + (negative ? -int{tenths} : int{tenths});
    return value_tenths / 10.0;
  }
  if (tenths >= 5) {
    const int value_halves = whole * 2 + (negative ? -1 : 1);
    return value_halves / 2.0;
  }
  return half_degrees / 2.0;
}

C0Temperature encode_c0_temperature(std::optional<double> celsius, bool fahrenheit) {
  if (!celsius || std::isnan(*celsius)) return {};
  // Clamp first so ±inf still finds a nearest value (the wire range is −26.5 .. 103.5).
  const double target = std::clamp(*celsius, -30.0, 110.0);
  const auto exact = [&](int raw, int tenths) {
    return raw >= 0 && raw < kNoTemperature &&
           decode_c0_temperature(static_cast<std::uint8_t>(raw), static_cast<std::uint8_t>(tenths), fahrenheit) == target;
  };
  // The usual cases directly: whole and half degrees (tenths 0), then trunc ± one tenths digit (the raw
  // byte one half degree further from zero when negative, so trunc(t) stays the whole part).
  const double doubled = target * 2;
  if (doubled == std::floor(doubled) && exact(static_cast<int>(doubled) + 50, 0)) {
    return {static_cast<std::uint8_t>(static_cast<int>(doubled) + 50), 0};
  }
  const int whole = static_cast<int>(std::trunc(target));
  const int tenths = static_cast<int>(std::lround(std::fabs(target - whole) * 10));
  const int raw = 2 * whole + (target < 0 ? 49 : 50);
  if (tenths > 0 && tenths < 10 && exact(raw, tenths)) {
    return {static_cast<std::uint8_t>(raw), static_cast<std::uint8_t>(tenths)};
  }
  // Everything else (tenths 10..15 readings, °F mode, out of range, not on the 0.1 grid): a full search
  // over the 255 × 16 readings for the nearest, the inverse by construction.
  C0Temperature best;
  double best_error = std::numeric_limits<double>::infinity();
  for (std::uint8_t tenths = 0; tenths < 16; ++tenths) {
    for (unsigned raw = 0; raw < kNoTemperature; ++raw) {
      const double error = std::fabs(*decode_c0_temperature(static_cast<std::uint8_t>(raw), tenths, fahrenheit) - target);
      if (error < best_error) {
        best_error = error;
        best = {static_cast<std::uint8_t>(raw), tenths};
        if (error == 0) return best;
      }
    }
  }
  return best;
}

Result<AcState> parse_ac_state(ByteView body) {
  if (body.empty()) return parse_error("empty state body", 0);
  if (body[0] != body_type::kState) {
    return parse_error("body type " + hex_literal(body[0], 2) + " is not a state reply (0xc0)", 0);
  }
  if (body.size() < kMinStateBody) {
    return parse_error("truncated state body: " + std::to_string(body.size()) + " of " +
                           std::to_string(kMinStateBody) + " bytes",
                       body.size());
  }
  AcState state;
  state.power = bit(body[1], 0x01);                                 // idx 1 bit 0
  state.mode = static_cast<AcMode>((body[2] >> 5) & 0x07);          // idx 2 bits 7-5
  state.target_temperature = decode_target(body[2], body[13]);      // idx 2 bits 4-0, idx 13 bits 4-0
  state.fan_speed = body[3] & 0x7F;                                 // idx 3, %: 102 = auto
  state.swing_vertical = bit(body[7], 0x0C);                        // idx 7 low nibble
  state.swing_horizontal = bit(body[7], 0x03);
  state.turbo = bit(body[8], 0x20) || bit(body[10], 0x02);          // idx 8 0x20 | idx 10 0x02
  state.independent_aux_heat = bit(body[8], 0x40);
  state.follow_me = bit(body[8], 0x80);
  state.eco = bit(body[9], 0x10);
  state.purifier = bit(body[9], 0x20);
  state.aux_heat = bit(body[9], 0x08);
  state.sleep = bit(body[10], 0x01);
  state.fahrenheit = bit(body[10], 0x04);
  // idx 11/12 raw temperatures, idx 15 tenths: low nibble indoor, high nibble outdoor.
  state.indoor_temperature = decode_c0_temperature(body[11], body[15] & 0x0F, state.fahrenheit);
  state.outdoor_temperature = decode_c0_temperature(body[12], body[15] >> 4, state.fahrenheit);
  state.filter_alert = bit(body[13], 0x20);                         // idx 13 bit 5
  state.display_on = body[14] != kDisplayOff;                       // idx 14
  state.error_code = body[16];                                      // idx 16
  if (body.size() >= kHumidityStateBody) state.target_humidity = body[19] & 0x7F;
  if (body.size() >= kFreezeStateBody) state.freeze_protection = bit(body[21], 0x80);
  return state;
}

Bytes encode_ac_state_body(const AcState& state) {
  std::size_t size = kMinStateBody;
  if (state.target_humidity) size = kHumidityStateBody;
  if (state.freeze_protection) size = kEncodedFullBody;
  Bytes body(size, 0);
  body[0] = body_type::kState;
  body[1] = flag(state.power, 0x01);

  // Target in 0.5 °C steps (ties away from zero), clamped to 13..43.5 °C; NaN → 24 °C (the default).
  const double target = std::isnan(state.target_temperature) ? 24.0 : state.target_temperature;
  const int halves = static_cast<int>(std::lround(std::clamp(target, 13.0, 43.5) * 2));
  const int whole = halves / 2;
  std::uint8_t temperature_bits = flag(halves % 2 != 0, 0x10);
  std::uint8_t alternate = 0;
  if (whole >= 16 && whole <= 31) {
    temperature_bits |= static_cast<std::uint8_t>(whole - 16);
  } else {
    alternate = static_cast<std::uint8_t>(whole - 12);  // 1..31 for 13..43
  }
  body[2] = static_cast<std::uint8_t>((static_cast<unsigned>(state.mode) & 0x07) << 5) | temperature_bits;
  body[3] = state.fan_speed & 0x7F;
  body[7] = flag(state.swing_vertical, 0x0C) | flag(state.swing_horizontal, 0x03);
  body[8] = flag(state.turbo, 0x20) | flag(state.independent_aux_heat, 0x40) | flag(state.follow_me, 0x80);
  body[9] = flag(state.eco, 0x10) | flag(state.purifier, 0x20) | flag(state.aux_heat, 0x08);
  body[10] = flag(state.sleep, 0x01) | flag(state.turbo, 0x02) | flag(state.fahrenheit, 0x04);
  const C0Temperature indoor = encode_c0_temperature(state.indoor_temperature, state.fahrenheit);
  const C0Temperature outdoor = encode_c0_temperature(state.outdoor_temperature, state.fahrenheit);
  body[11] = indoor.raw;
  body[12] = outdoor.raw;
  body[13] = alternate | flag(state.filter_alert, 0x20);
  body[14] = state.display_on ? 0x00 : kDisplayOff;
  body[15] = static_cast<std::uint8_t>(outdoor.tenths << 4 | indoor.tenths);
  body[16] = state.error_code;
  if (size >= kHumidityStateBody) body[19] = state.target_humidity.value_or(0) & 0x7F;
  if (size >= kFreezeStateBody) body[21] = flag(state.freeze_protection.value_or(false), 0x80);
  return body;
}

}  // namespace cloudless::midea
