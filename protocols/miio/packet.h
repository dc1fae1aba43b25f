// miIO packet codec (UDP 54321). Pure: bytes in, structs out; no sockets, clocks or logging.
//
// Wire layout, all integers big-endian (docs/miio.md §1.1):
//   off size field
//     0    2 magic 0x2131
//     2    2 length: whole datagram, header included (32 + ciphertext)
//     4    4 reserved: 0 (0xffffffff in the hello request)
//     8    4 device id (did)
//    12    4 stamp (device seconds, often uptime)
//    16   16 checksum = MD5(header[0..15] ‖ token ‖ ciphertext); in a hello reply: token, 16×00 or 16×ff
//    32    n AES-128-CBC(key = MD5(token), iv = MD5(key ‖ token)), PKCS#7, n % 16 == 0
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocols/common/bytes.h"
#include "protocols/common/crypto.h"
#include "protocols/common/result.h"

namespace cloudless::miio {

constexpr std::uint16_t kMagic = 0x2131;
constexpr std::size_t kHeaderSize = 32;
constexpr std::uint16_t kDefaultPort = 54321;

using Token = std::array<std::uint8_t, 16>;

std::optional<Token> parse_token(std::string_view hex);  // exactly 32 hex digits

struct Header {
  std::uint16_t length = 0;
  std::uint32_t reserved = 0;
  std::uint32_t device_id = 0;
  std::uint32_t stamp = 0;
  std::array<std::uint8_t, 16> checksum{};
};

// Checks size ≥ 32, magic, length field == datagram size and (length − 32) % 16 == 0.
Result<Header> parse_header(ByteView datagram);

// The 32-byte hello ("handshake" / discovery) request: 2131 0020 then 28×ff.
Bytes encode_hello_request();

struct HelloReply {
  std::uint32_t device_id = 0;
  std::uint32_t stamp = 0;
  std::optional<Token> token;  // set only when the device reveals it (not 16×00 / 16×ff)
};

// A 32-byte packet with reserved == 0. The hello request itself (did ffffffff) is rejected.
Result<HelloReply> parse_hello_reply(ByteView datagram);
// For simulators and tests: a hello reply carrying `checksum_field` (token, 16×00 or 16×ff).
Bytes encode_hello_reply(std::uint32_t device_id, std::uint32_t stamp, const std::array<std::uint8_t, 16>& checksum_field);

// key = MD5(token), iv = MD5(key ‖ token): the same pair serves both directions (docs/miio.md §1.3).
struct KeyIv {
  std::array<std::uint8_t, 16> key{};
  std::array<std::uint8_t, 16> iv{};
};
KeyIv derive_key_iv(const Token& token);

// Everything a token's packets need, derived once per session instead of once per packet: the
// key and IV (two MD5s) and the expanded AES schedules (docs/build.md §9).
class PacketKeys {
 public:
  explicit PacketKeys(const Token& token);
  const Token& token() const { return token_; }
  const KeyIv& key_iv() const { return key_iv_; }
  const crypto::AesKey& aes() const { return aes_; }

 private:
  Token token_;
  KeyIv key_iv_;
  crypto::AesKey aes_;
};

// The 16-bit length field caps a datagram at 65535 bytes: 32 header + at most 65488 bytes of
// ciphertext (the largest multiple of 16 that fits), so at most 65487 plaintext bytes (PKCS#7
// always adds 1..16 bytes).
constexpr std::size_t kMaxPlaintext = 65487;

// Encrypts `plaintext` (the JSON text) and builds the datagram. Returns an empty Bytes when the
// plaintext is longer than kMaxPlaintext (or, never in practice, when OpenSSL fails): no valid
// datagram exists then, and an empty one cannot be mistaken for a packet.
Bytes encode_message(const PacketKeys& keys, std::uint32_t device_id, std::uint32_t stamp, ByteView plaintext);
Bytes encode_message(const Token& token, std::uint32_t device_id, std::uint32_t stamp, ByteView plaintext);

struct Message {
  Header header;
  std::string payload;  // decrypted, PKCS#7 removed, trailing NUL bytes removed
};

// Verifies the checksum (a mismatch is ErrorKind::authentication: "wrong token?"), then decrypts.
Result<Message> decode_message(const PacketKeys& keys, ByteView datagram);
Result<Message> decode_message(const Token& token, ByteView datagram);

}  // namespace cloudless::miio
