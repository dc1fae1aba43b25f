#include "protocols/common/bytes.h"

namespace cloudless {

namespace {
int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::optional<Bytes> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  Bytes out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int high = hex_digit(hex[i]);
    const int low = hex_digit(hex[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out.push_back(static_cast<std::uint8_t>(high << 4 | low));
  }
  return out;
}

std::string to_hex(ByteView bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const std::uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0f]);
  }
  return out;
}

std::string hex_literal(std::uint64_t value, int digits, HexCase letters) {
  const char* const digit_chars = letters == HexCase::upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string reversed;
  while (value != 0 || static_cast<int>(reversed.size()) < digits) {
    reversed.push_back(digit_chars[value & 0x0f]);
    value >>= 4;
  }
  return "0x" + std::string(reversed.rbegin(), reversed.rend());
}

std::optional<std::uint8_t> ByteReader::u8() {
  if (remaining() < 1) return std::nullopt;
  return data_[offset_++];
}

std::optional<std::uint16_t> ByteReader::u16_be() {
  if (remaining() < 2) return std::nullopt;
  const auto value = static_cast<std::uint16_t>(data_[offset_] << 8 | data_[offset_ + 1]);
  offset_ += 2;
  return value;
}

std::optional<std::uint16_t> ByteReader::u16_le() {
  if (remaining() < 2) return std::nullopt;
  const auto value = static_cast<std::uint16_t>(data_[offset_ + 1] << 8 | data_[offset_]);
  offset_ += 2;
  return value;
}

std::optional<std::uint32_t> ByteReader::u32_be() {
  if (remaining() < 4) return std::nullopt;
  std::uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value = value << 8 | data_[offset_ + i];
  offset_ += 4;
  return value;
}

std::optional<std::uint32_t> ByteReader::u32_le() {
  if (remaining() < 4) return std::nullopt;
  std::uint32_t value = 0;
  for (int i = 3; i >= 0; --i) value = value << 8 | data_[offset_ + i];
  offset_ += 4;
  return value;
}

std::optional<ByteView> ByteReader::take(std::size_t count) {
  if (remaining() < count) return std::nullopt;
  const ByteView view = data_.subspan(offset_, count);
  offset_ += count;
  return view;
}

void append_u16_be(Bytes& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value));
}

void append_u32_be(Bytes& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(value >> shift));
}

}  // namespace cloudless
