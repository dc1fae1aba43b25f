// round_digits against what it replaces, std::round(value * 10^digits) / 10^digits, bit for bit.
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include "daemon/devices/round_digits.h"

using cloudless::round_digits;

namespace {

double reference(double value, int digits) {
  const double factor = std::pow(10.0, digits);
  return std::round(value * factor) / factor;
}

// Equal bit for bit, and NaN for NaN (NaN != NaN).
bool same(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) || std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
}

}  // namespace

TEST_CASE("round_digits: readings as the payload shows them") {
  CHECK(round_digits(12.449999, 1) == 12.4);
  CHECK(round_digits(12.45, 1) == 12.5);  // 124.5 exactly after scaling: half away from zero
  CHECK(round_digits(-12.45, 1) == -12.5);
  CHECK(round_digits(0.5, 0) == 1.0);
  CHECK(round_digits(-0.5, 0) == -1.0);
  CHECK(round_digits(2.5, 0) == 3.0);  // not to even
  CHECK(round_digits(1.23456789, 4) == 1.2346);
  CHECK(round_digits(279.5, 1) == 279.5);
  CHECK(std::signbit(round_digits(-0.04, 1)));  // -0.0, as std::round gives
}

TEST_CASE("round_digits: the same bits as std::round for every kind of double") {
  const double specials[] = {0.0,
                             -0.0,
                             0.49999999999999994,  // the double below one half
                             -0.49999999999999994,
                             4503599627370495.5,  // 2^52 - 0.5: the last doubles with a fraction
                             4503599627370496.0,
                             -4503599627370495.5,
                             9.2e18,  // beyond int64 once scaled
                             -9.2e18,
                             1e300,
                             std::numeric_limits<double>::denorm_min(),
                             std::numeric_limits<double>::max(),
                             std::numeric_limits<double>::lowest(),
                             std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity(),
                             std::numeric_limits<double>::quiet_NaN()};
  for (const double value : specials) {
    for (int digits = 0; digits <= 6; ++digits) {
      CAPTURE(value, digits);
      CHECK(same(round_digits(value, digits), reference(value, digits)));
    }
  }

  // Readings of every size, and exact halves at every resolution.
  std::mt19937_64 random(0xC10D);
  std::uniform_real_distribution<double> magnitude(-6, 9);
  int mismatches = 0;
  for (int i = 0; i < 200000; ++i) {
    const int digits = static_cast<int>(random() % 7);
    double value = std::pow(10.0, magnitude(random)) * (random() % 2 ? 1 : -1);
    if (i % 4 == 0) value = (std::floor(value * 1000) + 0.5) / std::pow(10.0, digits);  // halves
    if (!same(round_digits(value, digits), reference(value, digits))) {
      if (++mismatches <= 5) FAIL_CHECK("value " << value << " digits " << digits);
    }
  }
  CHECK(mismatches == 0);
}
