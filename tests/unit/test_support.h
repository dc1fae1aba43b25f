// Small helpers shared by the Catch2 unit tests: hex literals for vectors.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include <catch2/catch.hpp>

#include "protocols/common/bytes.h"

namespace cloudless::test {

// Bytes of a hex literal; the test fails (not crashes) on a typo in the literal.
inline Bytes hex(std::string_view text) {
  auto bytes = from_hex(text);
  REQUIRE(bytes);
  return *bytes;
}

// A fixed-size key/token/nonce from a hex literal of exactly N bytes.
template <std::size_t N>
std::array<std::uint8_t, N> array_of(std::string_view text) {
  const Bytes bytes = hex(text);
  REQUIRE(bytes.size() == N);
  std::array<std::uint8_t, N> out{};
  std::copy(bytes.begin(), bytes.end(), out.begin());
  return out;
}

template <std::size_t N>
std::string hex_of(const std::array<std::uint8_t, N>& bytes) {
  return to_hex(ByteView(bytes.data(), bytes.size()));
}

}  // namespace cloudless::test
