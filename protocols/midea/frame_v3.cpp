// Midea V3 "8370" transport codec. Layout and rules: frame_v3.h and docs/midea.md §3.
#include "protocols/midea/frame_v3.h"

#include <algorithm>
#include <string>

#include "protocols/common/crypto.h"

namespace cloudless::midea {

namespace {

constexpr std::size_t kSizeOffset = 2;
constexpr std::size_t kTypeOffset = 5;
constexpr std::size_t kBlockSize = 16;
constexpr std::size_t kHandshakeBodySize = 64;  // token, or encrypted random ‖ SHA-256(random)
constexpr std::array<std::uint8_t, 16> kZeroIv{};
constexpr std::string_view kErrorBody = "ERROR";

std::string type_name(std::uint8_t type) {
  static constexpr char kDigits[] = "0123456789abcdef";
  return std::string("0x") + kDigits[type & 0x0f];
}

bool is_known_type(std::uint8_t type) {
  switch (static_cast<V3Type>(type)) {
    case V3Type::handshake_request:
    case V3Type::handshake_response:
    case V3Type::encrypted_response:
    case V3Type::encrypted_request:
    case V3Type::transparent:
      return true;
  }
  return false;
}

bool is_encrypted(V3Type type) { return type == V3Type::encrypted_request || type == V3Type::encrypted_response; }

// 83 70 | size BE | 20 | pad<<4 | type
void append_header(Bytes& out, std::size_t size, std::uint8_t pad, V3Type type) {
  out.push_back(kV3Magic0);
  out.push_back(kV3Magic1);
  append_u16_be(out, static_cast<std::uint16_t>(size));
  out.push_back(kV3FixedByte);
  out.push_back(static_cast<std::uint8_t>(pad << 4 | static_cast<std::uint8_t>(type)));
}

template <std::size_t N>
std::optional<std::array<std::uint8_t, N>> parse_fixed_hex(std::string_view hex) {
  if (hex.size() != 2 * N) return std::nullopt;
  const std::optional<Bytes> bytes = from_hex(hex);
  if (!bytes) return std::nullopt;
  std::array<std::uint8_t, N> out{};
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

Bytes encode_encrypted(V3Type type, const crypto::AesKey& key, std::uint16_t counter, ByteView data,
                       ByteView pad_fill) {
  if (data.size() > kV3MaxData) return {};
  const auto pad = static_cast<std::uint8_t>((kBlockSize - (data.size() + 2) % kBlockSize) % kBlockSize);

  Bytes plaintext;
  plaintext.reserve(2 + data.size() + pad);
  append_u16_be(plaintext, counter);
  plaintext.insert(plaintext.end(), data.begin(), data.end());
  for (std::size_t i = 0; i < pad; ++i) plaintext.push_back(i < pad_fill.size() ? pad_fill[i] : 0);

  Bytes out;
  out.reserve(kV3HeaderSize + plaintext.size() + kV3SignSize);
  append_header(out, data.size() + pad + kV3SignSize, pad, type);
  const std::optional<Bytes> ciphertext = key.cbc_encrypt_no_padding(kZeroIv, plaintext);
  if (!ciphertext) return {};
  const crypto::Sha256Digest sign = crypto::sha256(ByteView(out).first(kV3HeaderSize), plaintext);
  out.insert(out.end(), ciphertext->begin(), ciphertext->end());
  out.insert(out.end(), sign.begin(), sign.end());
  return out;
}

ParseError error_reply_error() {
  return authentication_error("device replied ERROR: token/key not accepted or re-authentication needed",
                              kV3PrefixSize);
}

}  // namespace

std::optional<V3Token> parse_v3_token(std::string_view hex) { return parse_fixed_hex<64>(hex); }

std::optional<V3Key> parse_v3_key(std::string_view hex) { return parse_fixed_hex<32>(hex); }

Result<V3Header> parse_v3_header(ByteView packet) {
  if (packet.size() < kV3PrefixSize) {
    return parse_error("truncated V3 packet: " + std::to_string(packet.size()) + " of at least 8 bytes",
                       packet.size());
  }
  if (packet[0] != kV3Magic0 || packet[1] != kV3Magic1) {
    return parse_error("bad V3 magic " + to_hex(packet.first(2)) + " (expected 8370)", 0);
  }
  V3Header header;
  header.size = static_cast<std::uint16_t>(packet[2] << 8 | packet[3]);  // off 2, BE: total − 8
  const std::size_t total = header.size + kV3PrefixSize;
  if (total > packet.size()) {
    return parse_error("truncated V3 packet: size field says " + std::to_string(total) + " bytes, got " +
                           std::to_string(packet.size()),
                       packet.size());
  }
  if (total < packet.size()) {
    return parse_error("V3 size field " + std::to_string(header.size) + " does not match packet size " +
                           std::to_string(packet.size()) + " − 8",
                       kSizeOffset);
  }
  if (packet[4] != kV3FixedByte) {  // off 4: midea-local rejects this as "missing byte 4"
    return parse_error("V3 byte 4 is " + to_hex(packet.subspan(4, 1)) + " (expected 20)", 4);
  }
  header.pad = packet[kTypeOffset] >> 4;  // off 5: pad << 4 | type
  const std::uint8_t type = packet[kTypeOffset] & 0x0f;
  if (!is_known_type(type)) return parse_error("unknown V3 packet type " + type_name(type), kTypeOffset);
  header.type = static_cast<V3Type>(type);
  if (!is_encrypted(header.type) && header.pad != 0) {
    return parse_error("V3 pad " + std::to_string(header.pad) + " in an unencrypted packet of type " +
                           type_name(type),
                       kTypeOffset);
  }
  return header;
}

Bytes encode_v3_handshake_request(const V3Token& token, std::uint16_t counter) {
  Bytes out;
  out.reserve(kV3PrefixSize + token.size());
  append_header(out, token.size(), 0, V3Type::handshake_request);
  append_u16_be(out, counter);
  out.insert(out.end(), token.begin(), token.end());
  return out;
}

Result<V3HandshakeRequest> parse_v3_handshake_request(ByteView packet) {
  Result<V3Header> header = parse_v3_header(packet);
  if (!header) return header.error();
  if (header->type != V3Type::handshake_request) {
    return parse_error("expected a V3 handshake request (type 0x0), got type " +
                           type_name(static_cast<std::uint8_t>(header->type)),
                       kTypeOffset);
  }
  if (header->size != kHandshakeBodySize) {
    return parse_error("V3 handshake request carries " + std::to_string(header->size) + " bytes (expected 64)",
                       kSizeOffset);
  }
  V3HandshakeRequest request;
  request.counter = static_cast<std::uint16_t>(packet[6] << 8 | packet[7]);
  std::copy(packet.begin() + kV3PrefixSize, packet.end(), request.token.begin());
  return request;
}

Bytes encode_v3_handshake_response(const V3Key& key, std::uint16_t counter, const V3HandshakeRandom& random) {
  const std::optional<Bytes> encrypted = crypto::aes256_cbc_encrypt_no_padding(key, kZeroIv, random);
  if (!encrypted) return {};
  const crypto::Sha256Digest digest = crypto::sha256(random);
  Bytes out;
  out.reserve(kV3PrefixSize + kHandshakeBodySize);
  append_header(out, kHandshakeBodySize, 0, V3Type::handshake_response);
  append_u16_be(out, counter);
  out.insert(out.end(), encrypted->begin(), encrypted->end());  // body 0..31
  out.insert(out.end(), digest.begin(), digest.end());          // body 32..63
  return out;
}

Result<V3TcpKey> parse_v3_handshake_response(const V3Key& key, ByteView packet) {
  if (is_v3_error(packet)) {
    return authentication_error("device rejected the handshake (ERROR): token/key not accepted for this device",
                                kV3PrefixSize);
  }
  Result<V3Header> header = parse_v3_header(packet);
  if (!header) return header.error();
  if (header->type != V3Type::handshake_response) {
    return parse_error("expected a V3 handshake response (type 0x1), got type " +
                           type_name(static_cast<std::uint8_t>(header->type)),
                       kTypeOffset);
  }
  if (header->size != kHandshakeBodySize) {
    return parse_error("V3 handshake response carries " + std::to_string(header->size) + " bytes (expected 64)",
                       kSizeOffset);
  }
  // body[0..31] = AES-256-CBC(key, IV 0)(R), body[32..63] = SHA-256(R); session key = R XOR key.
  const ByteView body = packet.subspan(kV3PrefixSize);
  const std::optional<Bytes> random = crypto::aes256_cbc_decrypt_no_padding(key, kZeroIv, body.first(32));
  if (!random) return parse_error("AES-256-CBC failed on the handshake response", kV3PrefixSize);
  const crypto::Sha256Digest digest = crypto::sha256(*random);
  if (!crypto::constant_time_equal(digest, body.subspan(32))) {
    return authentication_error("V3 handshake response does not verify under our key: wrong key for this token?",
                                kV3PrefixSize + 32);
  }
  V3TcpKey tcp_key{};
  for (std::size_t i = 0; i < tcp_key.size(); ++i) tcp_key[i] = static_cast<std::uint8_t>((*random)[i] ^ key[i]);
  return tcp_key;
}

Bytes encode_v3_error() {
  Bytes out;
  append_header(out, kErrorBody.size(), 0, V3Type::transparent);
  append_u16_be(out, 0);
  const ByteView body = as_bytes(kErrorBody);
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

bool is_v3_error(ByteView packet) {
  if (packet.size() != kV3PrefixSize + kErrorBody.size()) return false;
  const Result<V3Header> header = parse_v3_header(packet);
  if (!header || header->type != V3Type::transparent) return false;
  return std::equal(kErrorBody.begin(), kErrorBody.end(), packet.begin() + kV3PrefixSize);
}

Bytes encode_v3_request(const V3TcpKey& key, std::uint16_t counter, ByteView data, ByteView pad_fill) {
  return encode_encrypted(V3Type::encrypted_request, crypto::AesKey(key), counter, data, pad_fill);
}

Bytes encode_v3_request(const V3SessionKey& key, std::uint16_t counter, ByteView data, ByteView pad_fill) {
  return encode_encrypted(V3Type::encrypted_request, key.aes(), counter, data, pad_fill);
}

Bytes encode_v3_response(const V3TcpKey& key, std::uint16_t counter, ByteView data, ByteView pad_fill) {
  return encode_encrypted(V3Type::encrypted_response, crypto::AesKey(key), counter, data, pad_fill);
}

Result<V3Message> decode_v3_message(const V3TcpKey& key, ByteView packet) {
  return decode_v3_message(V3SessionKey(key), packet);
}

Result<V3Message> decode_v3_message(const V3SessionKey& key, ByteView packet) {
  if (is_v3_error(packet)) return error_reply_error();
  Result<V3Header> header = parse_v3_header(packet);
  if (!header) return header.error();
  if (!is_encrypted(header->type)) {
    return parse_error("not an encrypted V3 packet: type " + type_name(static_cast<std::uint8_t>(header->type)),
                       kTypeOffset);
  }
  // ciphertext = packet[6 .. total − 32) = size + 8 − 6 − 32 bytes: whole blocks, at least one.
  if (header->size < kV3SignSize + kBlockSize - 2) {
    return parse_error("V3 encrypted packet too short: size " + std::to_string(header->size) + " (minimum 46)",
                       kSizeOffset);
  }
  const std::size_t ciphertext_size = header->size + 2 - kV3SignSize;
  if (ciphertext_size % kBlockSize != 0) {
    return parse_error("V3 ciphertext length " + std::to_string(ciphertext_size) +
                           " is not a multiple of 16 (AES block)",
                       kSizeOffset);
  }
  const std::optional<Bytes> plaintext =
      key.aes().cbc_decrypt_no_padding(kZeroIv, packet.subspan(kV3HeaderSize, ciphertext_size));
  if (!plaintext) return parse_error("AES-256-CBC failed on the V3 ciphertext", kV3HeaderSize);

  const std::size_t sign_offset = kV3HeaderSize + ciphertext_size;
  const crypto::Sha256Digest expected = crypto::sha256(packet.first(kV3HeaderSize), *plaintext);
  if (!crypto::constant_time_equal(expected, packet.subspan(sign_offset))) {
    return authentication_error("V3 SHA-256 signature mismatch: wrong TCP key (stale session?)", sign_offset);
  }
  // Signed by the key holder; only the pad nibble can still be inconsistent (pad 15 in one block).
  if (header->pad + 2u > plaintext->size()) {
    return parse_error("V3 pad " + std::to_string(header->pad) + " leaves no room for the counter", kTypeOffset);
  }
  V3Message message;
  message.type = header->type;
  message.counter = static_cast<std::uint16_t>((*plaintext)[0] << 8 | (*plaintext)[1]);
  const std::size_t data_end = plaintext->size() - header->pad;
  message.data.assign(plaintext->begin() + 2, plaintext->begin() + static_cast<std::ptrdiff_t>(data_end));
  message.pad_fill.assign(plaintext->begin() + static_cast<std::ptrdiff_t>(data_end), plaintext->end());
  return message;
}

}  // namespace cloudless::midea
