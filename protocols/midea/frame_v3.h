// Midea V3 "8370" transport codec (TCP 6444 on SK103/OSK10x-era modules): framing, the
// token/key handshake and the AES-256-CBC + SHA-256 encrypted messages that wrap V2 packets.
// Pure: no sockets, clocks, randomness or logging — random bytes come from the caller.
//
// Wire layout (docs/midea.md §3.1), integers big-endian:
//   off size field
//     0    2 magic 83 70
//     2    2 size = total packet length − 8 (the 2-byte counter is not counted, a signature is)
//     4    1 0x20 (constant; anything else is rejected)
//     5    1 (pad << 4) | type; pad is 0 except in encrypted packets
//     6    2 counter / request id: clear in handshake and ERROR packets, the first two plaintext
//            bytes in encrypted ones
//     8  ... body
//
// Types (§3.1): 0 handshake request (body = 64-byte token), 1 handshake response (body = 64 bytes,
// §3.3), 3 encrypted response (device → client), 6 encrypted request (client → device),
// F "transparent": the 13-byte ERROR reply and the V3 discovery wrapper.
//
// Encrypted packet (types 3 and 6, §3.2):
//   header6 ‖ AES-256-CBC(tcp_key, IV = 0, no padding)(plaintext) ‖ SHA-256(header6 ‖ plaintext)
//   plaintext = counter(2, BE) ‖ data ‖ pad fill bytes, pad = (16 − (|data| + 2) mod 16) mod 16
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "protocols/common/bytes.h"
#include "protocols/common/crypto.h"
#include "protocols/common/result.h"

namespace cloudless::midea {

constexpr std::uint8_t kV3Magic0 = 0x83;
constexpr std::uint8_t kV3Magic1 = 0x70;
constexpr std::uint8_t kV3FixedByte = 0x20;
constexpr std::size_t kV3HeaderSize = 6;   // what the signature covers
constexpr std::size_t kV3PrefixSize = 8;   // header + counter: what "size" does not count
constexpr std::size_t kV3SignSize = 32;
constexpr std::size_t kV3MaxPacketSize = kV3PrefixSize + 0xFFFF;
// Largest encrypted data: size = 16k − 2 + 32 ≤ 65535 (16k = the plaintext) → 16k = 65504 →
// data ≤ 65502 (pad 0), a 65542-byte packet.
constexpr std::size_t kV3MaxData = 65502;

enum class V3Type : std::uint8_t {
  handshake_request = 0x0,
  handshake_response = 0x1,
  encrypted_response = 0x3,
  encrypted_request = 0x6,
  transparent = 0xF,  // ERROR reply, discovery wrapper
};

// Cloud-issued credentials (docs/midea.md §5): a 64-byte token sent in the handshake and the 32-byte
// key that unlocks the device's answer. The TCP (session) key is derived per connection.
using V3Token = std::array<std::uint8_t, 64>;
using V3Key = std::array<std::uint8_t, 32>;
using V3TcpKey = std::array<std::uint8_t, 32>;
using V3HandshakeRandom = std::array<std::uint8_t, 32>;

std::optional<V3Token> parse_v3_token(std::string_view hex);  // exactly 128 hex digits
std::optional<V3Key> parse_v3_key(std::string_view hex);      // exactly 64 hex digits

struct V3Header {
  std::uint16_t size = 0;  // total − 8
  std::uint8_t pad = 0;    // high nibble of byte 5
  V3Type type = V3Type::handshake_request;
};

// One complete packet, as the StreamReassembler cuts it. Checks, in order: ≥ 8 bytes, magic 8370,
// byte 4 == 0x20, size == packet size − 8 (larger → truncated, smaller → trailing bytes), a known
// type, pad == 0 for the unencrypted types.
Result<V3Header> parse_v3_header(ByteView packet);

// ---- Handshake (§3.3) -------------------------------------------------------------------------

// 83 70 00 40 20 00 ‖ counter ‖ token: 72 bytes.
Bytes encode_v3_handshake_request(const V3Token& token, std::uint16_t counter);

struct V3HandshakeRequest {
  std::uint16_t counter = 0;
  V3Token token{};
};
// For fake devices and the fuzzer: a type-0 packet with a 64-byte body.
Result<V3HandshakeRequest> parse_v3_handshake_request(ByteView packet);

// The device side, for fake devices and tests: body = AES-256-CBC(key, IV 0)(random) ‖ SHA-256(random).
Bytes encode_v3_handshake_response(const V3Key& key, std::uint16_t counter, const V3HandshakeRandom& random);

// Verifies the answer to our handshake and derives the session key = random XOR key.
// The ERROR packet, or a SHA-256 mismatch after decrypting under `key`, is
// ErrorKind::authentication (wrong token/key pair for this device, or a stale one); anything that
// is not a 72-byte type-1 packet is malformed.
Result<V3TcpKey> parse_v3_handshake_response(const V3Key& key, ByteView packet);

// ---- ERROR reply (§3.3 step 4) ------------------------------------------------------------------

// 83 70 00 05 20 0F 00 00 "ERROR": 13 bytes. The device sends it when it rejects the handshake and
// mid-session when it wants a new one (msmart issue #65): close, reconnect, re-handshake.
Bytes encode_v3_error();
// True for a type-F packet whose body is exactly "ERROR" (any counter; captures show 00 00).
bool is_v3_error(ByteView packet);

// ---- Encrypted messages (§3.2) ------------------------------------------------------------------

struct V3Message {
  V3Type type = V3Type::encrypted_request;  // encrypted_request or encrypted_response
  std::uint16_t counter = 0;
  Bytes data;      // for Midea: a V2 packet (packet_v2.h)
  Bytes pad_fill;  // the pad bytes as sent (msmart sends random ones; their value is unchecked)
};

// `pad_fill` supplies the pad bytes (the first `pad` of them are used, zeros where it is
// shorter): pass random bytes to look like msmart, or nothing for a deterministic packet. Returns
// an empty Bytes when data.size() > kV3MaxData (or, never in practice, when OpenSSL fails).
Bytes encode_v3_request(const V3TcpKey& key, std::uint16_t counter, ByteView data, ByteView pad_fill = {});
Bytes encode_v3_response(const V3TcpKey& key, std::uint16_t counter, ByteView data, ByteView pad_fill = {});

// A session's TCP key with its AES-256 schedules expanded once: every packet of the session is
// encrypted or decrypted with it (docs/build.md §9). The V3TcpKey overloads expand it per call.
class V3SessionKey {
 public:
  explicit V3SessionKey(const V3TcpKey& key) : aes_(key) {}
  const crypto::AesKey& aes() const { return aes_; }

 private:
  crypto::AesKey aes_;
};
Bytes encode_v3_request(const V3SessionKey& key, std::uint16_t counter, ByteView data, ByteView pad_fill = {});

// Decodes a type 3 or 6 packet. The ERROR packet → ErrorKind::authentication ("re-authenticate");
// a SHA-256 mismatch under `key` → ErrorKind::authentication; everything structural (other types,
// ciphertext not whole blocks, a pad larger than the plaintext allows) → malformed.
// encode(decode(x)) == x for every accepted x (type, counter, data and pad fill are all kept).
Result<V3Message> decode_v3_message(const V3TcpKey& key, ByteView packet);
Result<V3Message> decode_v3_message(const V3SessionKey& key, ByteView packet);

}  // namespace cloudless::midea
