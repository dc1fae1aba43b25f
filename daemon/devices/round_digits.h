// Readings rounded to a device's resolution for the state payload (12.4 W, not 12.400000000000000355).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace cloudless {

// `value` rounded to `digits` decimals (0..6), half away from zero: what std::round(value * 10^digits)
// / 10^digits gives, without calling libm's pow and round. Every poll rounds its readings, and those
// two calls kept libm's pages resident, with the 64 kB the kernel maps around each page it faults in:
// 200-250 kB of a daemon bridging 50 plugs (docs/build.md §9).
inline double round_digits(double value, int digits) {
  static constexpr double kPowersOfTen[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
  const double factor = kPowersOfTen[std::clamp(digits, 0, 6)];
  const double scaled = value * factor;
  // NaN, infinite, or too large to have a fraction left: as std::round would leave it.
  if (!(std::fabs(scaled) < 0x1p52)) return scaled / factor;
  double whole = static_cast<double>(static_cast<std::int64_t>(scaled));  // toward zero
  const double fraction = scaled - whole;                                 // exact below 2^52
  if (fraction >= 0.5) whole += 1;
  if (fraction <= -0.5) whole -= 1;
  return std::copysign(whole, scaled) / factor;  // -0.04 -> -0.0, as std::round (copysign is inlined)
}

}  // namespace cloudless
