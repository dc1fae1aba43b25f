// Legacy "Mi auth" primitives (RC4 + mixA/mixB; docs/ble.md §4.2, §10;
// §S2): the byte strings the Mi kettle, MiFlora and the Yeelight remotes
// expect during register and login, and the checks of what they answer. Pure codec: no I/O; RC4
// comes from OpenSSL's legacy provider (crypto::rc4) — every function reports "RC4 unavailable"
// as nullopt / CheckResult::crypto_unavailable instead of guessing.
//
// Register (§4.2), characteristics of the Mi service 0xFE95:
//   0x0010 ← 90 CA 85 DE                        (kRegisterStart)
//   0x0001 ← rc4(mixA, token)                   (register_token_write)
//   0x0001 → reply; rc4(mixB, rc4(mixA, reply)) == token   (verify_register_reply)
//   0x0001 ← rc4(token, 92 AB 54 FA)            (register_finish)
//   0x0004 read → rc4(token, value) = version; 0x0014 read → rc4(token, value) = beacon key
// Login (docs/ble.md §S2; byte order and key length selectable, §10):
//   0x0010 ← start constant 0xCD43BC00          (login_start)
//   0x0001 → challenge; tick = rc4(token, challenge); key = token ⊕ tick[0:4] (login_key)
//   0x0001 ← rc4(key, end constant 0x93BFAC09)  (login_response)
//   0x0001 → confirmation; rc4(key, confirmation)[0:4] == 0x369A58C9 (check_login_confirmation)
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "protocols/common/bytes.h"
#include "protocols/common/result.h"
#include "protocols/xiaomi_ble/codec/mibeacon.h"  // MacAddress

namespace cloudless::xiaomi_ble::legacy_auth {

using Token = std::array<std::uint8_t, 12>;  // = LegacyToken of mi_auth_session.h
using Mix = std::array<std::uint8_t, 8>;
using BeaconKey = std::array<std::uint8_t, 12>;

inline constexpr std::size_t kTokenSize = 12;
inline constexpr std::array<std::uint8_t, 4> kRegisterStart = {0x90, 0xCA, 0x85, 0xDE};  // to 0x0010
inline constexpr std::array<std::uint8_t, 4> kRegisterEnd = {0x92, 0xAB, 0x54, 0xFA};    // RC4'd with the token
inline constexpr std::uint32_t kLoginStart = 0xCD43BC00;
inline constexpr std::uint32_t kLoginEnd = 0x93BFAC09;
inline constexpr std::uint32_t kLoginConfirm = 0x369A58C9;

// Same meaning as LegacyLoginVariant in mi_auth_session.h (kept here so the codec stands alone).
struct LoginVariant {
  bool little_endian_constants = true;  // the Mi SDK's order; false = the printing of docs/ble.md §S2 (big-endian)
  bool twelve_byte_key = true;          // token with tick[0:4] XORed in; false = token[0:4] ^ tick[0:4]
};

// The outcome of checking something the device sent under a key.
enum class CheckResult {
  match,
  mismatch,            // well-formed, but not what the token predicts: wrong token / product id
  malformed,           // wrong size
  crypto_unavailable,  // RC4 could not be loaded (crypto::kRc4UnavailableReason)
};

// AA:BB:CC:DD:EE:FF → FF EE DD CC BB AA (the order the device uses on air).
std::array<std::uint8_t, 6> reversed_mac(const MacAddress& mac);
// mixA = [r0, r2, r5, pid lo, pid lo, r4, r5, r1]; mixB = [r0, r2, r5, pid hi, r4, r0, r5, pid lo]
// with r = reversed_mac(mac) (§4.2).
Mix mix_a(const MacAddress& mac, std::uint16_t product_id);
Mix mix_b(const MacAddress& mac, std::uint16_t product_id);

// Plain RC4 (no dropped bytes), symmetric. nullopt when RC4 is unavailable or the key is empty.
std::optional<Bytes> cipher(ByteView key, ByteView data);

// Step 3: rc4(mixA, token), 12 bytes.
std::optional<Bytes> register_token_write(const MacAddress& mac, std::uint16_t product_id, const Token& token);
// Step 4: rc4(mixB, rc4(mixA, reply)) == token, compared in constant time. A reply of any size but
// 12 bytes is malformed.
CheckResult verify_register_reply(const MacAddress& mac, std::uint16_t product_id, const Token& token,
                                  ByteView reply);
// Step 5: rc4(token, 92 AB 54 FA).
std::optional<Bytes> register_finish(const Token& token);
// Step 6: the version read from 0x0004, decrypted with the token; printable ASCII only (see .cpp).
std::optional<std::string> decrypt_version(const Token& token, ByteView value);
// Step 7: the 12-byte legacy MiBeacon key read from 0x0014, decrypted with the token.
Result<BeaconKey> decrypt_beacon_key(const Token& token, ByteView value);

// A fresh token: 12 bytes from OpenSSL's RAND_bytes (CSPRNG). Mi Home hashes the time and a random
// float instead; any 12 bytes work (§4.2), and plain CSPRNG bytes are at least as unpredictable.
// Falls back to std::random_device should RAND_bytes ever fail (it does not on Linux).
Token generate_token();
inline Token generate_legacy_token() { return generate_token(); }

// A 32-bit login constant as it goes on the wire for `variant` (LE: 0xCD43BC00 → 00 BC 43 CD).
std::array<std::uint8_t, 4> login_constant(std::uint32_t value, const LoginVariant& variant);
// Login step 1: the start constant for 0x0010.
std::array<std::uint8_t, 4> login_start(const LoginVariant& variant);
// Login step 2: the session key from the device's challenge (≥ 4 bytes; the tick is its first 4
// after RC4 with the token): 12 bytes (token, first 4 XORed with the tick) or 4 bytes
// (token[0:4] ^ tick[0:4]). Errors: a challenge under 4 bytes (malformed), RC4 unavailable.
Result<Bytes> login_key(const Token& token, ByteView challenge, const LoginVariant& variant);
// Login step 3: rc4(key, end constant).
std::optional<Bytes> login_response(ByteView key, const LoginVariant& variant);
// Login step 4: rc4(key, confirmation)[0:4] == confirm constant. Under 4 bytes: malformed.
CheckResult check_login_confirmation(ByteView key, ByteView confirmation, const LoginVariant& variant);

}  // namespace cloudless::xiaomi_ble::legacy_auth
