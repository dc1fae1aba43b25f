#include "protocols/xiaomi_ble/auth/mi_auth_legacy.h"

#include <algorithm>
#include <random>

#include <openssl/rand.h>

#include "protocols/common/crypto.h"

namespace cloudless::xiaomi_ble::legacy_auth {

namespace {

bool printable(std::uint8_t c) { return c >= 0x20 && c <= 0x7E; }

// Printable text of `bytes` with trailing NULs dropped (the version char is a fixed 10-byte field,
// NUL-padded when the string is shorter); nullopt when anything else is not printable ASCII.
std::optional<std::string> printable_text(ByteView bytes) {
  std::size_t end = bytes.size();
  while (end > 0 && bytes[end - 1] == 0) --end;
  std::string text;
  for (std::size_t i = 0; i < end; ++i) {
    if (!printable(bytes[i])) return std::nullopt;
    text.push_back(static_cast<char>(bytes[i]));
  }
  return text;
}

}  // namespace

std::array<std::uint8_t, 6> reversed_mac(const MacAddress& mac) {
  std::array<std::uint8_t, 6> reversed{};
  std::reverse_copy(mac.begin(), mac.end(), reversed.begin());
  return reversed;
}

Mix mix_a(const MacAddress& mac, std::uint16_t product_id) {
  const auto r = reversed_mac(mac);
  const auto lo = static_cast<std::uint8_t>(product_id & 0xFF);
  return {r[0], r[2], r[5], lo, lo, r[4], r[5], r[1]};
}

Mix mix_b(const MacAddress& mac, std::uint16_t product_id) {
  const auto r = reversed_mac(mac);
  const auto lo = static_cast<std::uint8_t>(product_id & 0xFF);
  const auto hi = static_cast<std::uint8_t>(product_id >> 8);
  return {r[0], r[2], r[5], hi, r[4], r[0], r[5], lo};
}

std::optional<Bytes> cipher(ByteView key, ByteView data) { return crypto::rc4(key, data, 0); }

std::optional<Bytes> register_token_write(const MacAddress& mac, std::uint16_t product_id, const Token& token) {
  return cipher(mix_a(mac, product_id), token);
}

CheckResult verify_register_reply(const MacAddress& mac, std::uint16_t product_id, const Token& token,
                                  ByteView reply) {
  if (reply.size() != kTokenSize) return CheckResult::malformed;
  const auto inner = cipher(mix_a(mac, product_id), reply);
  if (!inner) return CheckResult::crypto_unavailable;
  const auto outer = cipher(mix_b(mac, product_id), *inner);
  if (!outer) return CheckResult::crypto_unavailable;
  return crypto::constant_time_equal(*outer, token) ? CheckResult::match : CheckResult::mismatch;
}

std::optional<Bytes> register_finish(const Token& token) { return cipher(token, kRegisterEnd); }

// A bound device answers the version read RC4'd with the token (§10); the plaintext is ASCII like
// "1.0.0_0050". Should a firmware answer in clear instead (the char is plain "read" in the Mi spec,
// §4.1), the decrypted bytes are noise while the raw ones read as text: take the raw ones then. If
// neither is clean text, keep the printable characters of the decrypted value.
std::optional<std::string> decrypt_version(const Token& token, ByteView value) {
  const auto clear = cipher(token, value);
  if (!clear) return std::nullopt;
  if (auto text = printable_text(*clear)) return text;
  if (auto raw = printable_text(value); raw && !raw->empty()) return raw;
  std::string text;
  for (const std::uint8_t c : *clear) {
    if (printable(c)) text.push_back(static_cast<char>(c));
  }
  return text;
}

Result<BeaconKey> decrypt_beacon_key(const Token& token, ByteView value) {
  if (value.size() != std::tuple_size_v<BeaconKey>) {
    return parse_error("beacon key of " + std::to_string(value.size()) + " bytes, expected 12", value.size());
  }
  const auto clear = cipher(token, value);
  if (!clear) return parse_error(crypto::kRc4UnavailableReason);
  BeaconKey key{};
  std::copy(clear->begin(), clear->end(), key.begin());
  return key;
}

Token generate_token() {
  Token token{};
  if (RAND_bytes(token.data(), static_cast<int>(token.size())) == 1) return token;
  std::random_device device;  // getrandom(2) on Linux
  for (auto& byte : token) byte = static_cast<std::uint8_t>(device());
  return token;
}

std::array<std::uint8_t, 4> login_constant(std::uint32_t value, const LoginVariant& variant) {
  const auto b0 = static_cast<std::uint8_t>(value >> 24);
  const auto b1 = static_cast<std::uint8_t>(value >> 16);
  const auto b2 = static_cast<std::uint8_t>(value >> 8);
  const auto b3 = static_cast<std::uint8_t>(value);
  if (variant.little_endian_constants) return {b3, b2, b1, b0};
  return {b0, b1, b2, b3};
}

std::array<std::uint8_t, 4> login_start(const LoginVariant& variant) { return login_constant(kLoginStart, variant); }

Result<Bytes> login_key(const Token& token, ByteView challenge, const LoginVariant& variant) {
  constexpr std::size_t kTick = 4;  // docs/ble.md §S2: the tick is always 4 bytes
  if (challenge.size() < kTick) {
    return parse_error("login challenge of " + std::to_string(challenge.size()) + " bytes, expected at least 4",
                       challenge.size());
  }
  const auto tick = cipher(token, challenge.first(kTick));
  if (!tick) return parse_error(crypto::kRc4UnavailableReason);
  Bytes key(token.begin(), variant.twelve_byte_key ? token.end() : token.begin() + kTick);
  for (std::size_t i = 0; i < kTick; ++i) key[i] ^= (*tick)[i];
  return key;
}

std::optional<Bytes> login_response(ByteView key, const LoginVariant& variant) {
  return cipher(key, login_constant(kLoginEnd, variant));
}

CheckResult check_login_confirmation(ByteView key, ByteView confirmation, const LoginVariant& variant) {
  constexpr std::size_t kConfirm = 4;
  if (confirmation.size() < kConfirm) return CheckResult::malformed;
  const auto clear = cipher(key, confirmation.first(kConfirm));
  if (!clear) return CheckResult::crypto_unavailable;
  return crypto::constant_time_equal(*clear, login_constant(kLoginConfirm, variant)) ? CheckResult::match
                                                                                    : CheckResult::mismatch;
}

}  // namespace cloudless::xiaomi_ble::legacy_auth
