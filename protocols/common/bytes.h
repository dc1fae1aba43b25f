// Byte helpers shared by every codec: hex text <-> bytes and a bounds-checked big/little-endian
// reader (the mosquitto packet__read_* idea: check the remaining length before every read).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cloudless {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

// "00ff" -> {0x00,0xff}; nullopt on odd length or a non-hex character. Whitespace is not accepted.
std::optional<Bytes> from_hex(std::string_view hex);
std::string to_hex(ByteView bytes);
// A number as a C hex literal with `digits` digits at least, for logs and error texts:
// hex_literal(0xb5, 2) == "0xb5", hex_literal(0x0b48, 4, HexCase::upper) == "0x0B48".
enum class HexCase { lower, upper };
std::string hex_literal(std::uint64_t value, int digits, HexCase letters = HexCase::lower);
inline ByteView as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// Reads fixed-width integers from a span; every read reports failure instead of running off the end.
class ByteReader {
 public:
  explicit ByteReader(ByteView data) : data_(data) {}

  std::size_t offset() const { return offset_; }
  std::size_t remaining() const { return data_.size() - offset_; }

  std::optional<std::uint8_t> u8();
  std::optional<std::uint16_t> u16_be();
  std::optional<std::uint16_t> u16_le();
  std::optional<std::uint32_t> u32_be();
  std::optional<std::uint32_t> u32_le();
  std::optional<ByteView> take(std::size_t count);

 private:
  ByteView data_;
  std::size_t offset_ = 0;
};

void append_u16_be(Bytes& out, std::uint16_t value);
void append_u32_be(Bytes& out, std::uint32_t value);

}  // namespace cloudless
