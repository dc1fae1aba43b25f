// miIO packet codec. Layout and rules: packet.h and docs/miio.md §1.1–§1.3, §1.6.
#include "protocols/miio/packet.h"

#include <optional>
#include <utility>

#include <algorithm>

#include "protocols/common/crypto.h"

namespace cloudless::miio {

namespace {

constexpr std::size_t kChecksumOffset = 16;
constexpr std::size_t kChecksumSize = 16;
constexpr std::size_t kBlockSize = 16;
constexpr std::uint16_t kHelloLength = 32;
constexpr std::uint32_t kAllOnes = 0xffffffff;

bool all_bytes_equal(const std::array<std::uint8_t, 16>& bytes, std::uint8_t value) {
  return std::all_of(bytes.begin(), bytes.end(), [value](std::uint8_t b) { return b == value; });
}

// Header bytes 0..31 with the given checksum slot; the checksum itself is filled in by the caller.
Bytes encode_header(std::uint16_t length, std::uint32_t reserved, std::uint32_t device_id, std::uint32_t stamp,
                    const std::array<std::uint8_t, 16>& checksum_field) {
  Bytes out;
  out.reserve(length);
  append_u16_be(out, kMagic);
  append_u16_be(out, length);
  append_u32_be(out, reserved);
  append_u32_be(out, device_id);
  append_u32_be(out, stamp);
  out.insert(out.end(), checksum_field.begin(), checksum_field.end());
  return out;
}

// checksum = MD5(header[0..15] ‖ token ‖ ciphertext), header with its final length field.
crypto::Md5Digest compute_checksum(ByteView header16, const Token& token, ByteView ciphertext) {
  return crypto::md5(header16, ByteView(token), ciphertext);
}

}  // namespace

std::optional<Token> parse_token(std::string_view hex) {
  if (hex.size() != 2 * std::tuple_size_v<Token>) return std::nullopt;
  const std::optional<Bytes> bytes = from_hex(hex);
  if (!bytes) return std::nullopt;
  Token token{};
  std::copy(bytes->begin(), bytes->end(), token.begin());
  return token;
}

KeyIv derive_key_iv(const Token& token) {
  KeyIv out;
  out.key = crypto::md5(ByteView(token));
  out.iv = crypto::md5(ByteView(out.key), ByteView(token));
  return out;
}

PacketKeys::PacketKeys(const Token& token) : token_(token), key_iv_(derive_key_iv(token)), aes_(key_iv_.key) {}

Result<Header> parse_header(ByteView datagram) {
  ByteReader reader(datagram);
  // Length first, so no field below is read past the end.
  if (datagram.size() < kHeaderSize) {
    return parse_error("truncated header: " + std::to_string(datagram.size()) + " of " +
                           std::to_string(kHeaderSize) + " bytes",
                       datagram.size());
  }
  const std::uint16_t magic = *reader.u16_be();  // off 0, u16: 0x2131
  if (magic != kMagic) return parse_error("bad magic " + hex_literal(magic, 4) + " (expected 0x2131)", 0);

  Header header;
  header.length = *reader.u16_be();  // off 2, u16: whole datagram incl. header
  if (header.length > datagram.size()) {
    return parse_error("truncated packet: length field says " + std::to_string(header.length) +
                           " bytes, datagram has " + std::to_string(datagram.size()),
                       datagram.size());
  }
  if (header.length < datagram.size()) {
    // Covers length fields below 32 too: a datagram has at least 32 bytes by now.
    return parse_error("length field " + std::to_string(header.length) + " does not match datagram size " +
                           std::to_string(datagram.size()),
                       2);
  }
  if ((header.length - kHeaderSize) % kBlockSize != 0) {
    return parse_error("payload length " + std::to_string(header.length - kHeaderSize) +
                           " is not a multiple of 16 (AES block)",
                       2);
  }
  header.reserved = *reader.u32_be();   // off 4, u32: 0 (ffffffff in the hello request)
  header.device_id = *reader.u32_be();  // off 8, u32: did
  header.stamp = *reader.u32_be();      // off 12, u32: device seconds
  const ByteView checksum = *reader.take(kChecksumSize);  // off 16, 16 bytes
  std::copy(checksum.begin(), checksum.end(), header.checksum.begin());
  return header;
}

Bytes encode_hello_request() {
  std::array<std::uint8_t, 16> all_ff;
  all_ff.fill(0xff);
  return encode_header(kHelloLength, kAllOnes, kAllOnes, kAllOnes, all_ff);
}

Result<HelloReply> parse_hello_reply(ByteView datagram) {
  Result<Header> header = parse_header(datagram);
  if (!header) return header.error();
  if (header->length != kHelloLength) {
    return parse_error("not a hello reply: length " + std::to_string(header->length) + " (expected 32)", 2);
  }
  if (header->reserved == kAllOnes && header->device_id == kAllOnes) {
    return parse_error("hello request, not a hello reply (reserved and did are 0xffffffff)", 4);
  }
  if (header->reserved != 0) {
    return parse_error("reserved field " + hex_literal(header->reserved, 8) + " in a hello reply (expected 0)", 4);
  }
  HelloReply reply;
  reply.device_id = header->device_id;
  reply.stamp = header->stamp;
  // Provisioned devices hide the token behind 16×00 or 16×ff (docs/miio.md §1.2); anything else is
  // what the device offers as its token (unprovisioned, or old firmware).
  if (!all_bytes_equal(header->checksum, 0x00) && !all_bytes_equal(header->checksum, 0xff)) {
    reply.token = header->checksum;
  }
  return reply;
}

Bytes encode_hello_reply(std::uint32_t device_id, std::uint32_t stamp, const std::array<std::uint8_t, 16>& checksum_field) {
  return encode_header(kHelloLength, 0, device_id, stamp, checksum_field);
}

Bytes encode_message(const Token& token, std::uint32_t device_id, std::uint32_t stamp, ByteView plaintext) {
  return encode_message(PacketKeys(token), device_id, stamp, plaintext);
}

Bytes encode_message(const PacketKeys& keys, std::uint32_t device_id, std::uint32_t stamp, ByteView plaintext) {
  if (plaintext.size() > kMaxPlaintext) return {};
  const Token& token = keys.token();
  const std::optional<Bytes> ciphertext = keys.aes().cbc_encrypt(keys.key_iv().iv, plaintext);
  if (!ciphertext) return {};
  const auto length = static_cast<std::uint16_t>(kHeaderSize + ciphertext->size());

  // The checksum covers header bytes 0..15 with the final length field, so build the header with
  // a zero slot, hash bytes 0..15 ‖ token ‖ ciphertext, then fill the slot.
  Bytes out = encode_header(length, 0, device_id, stamp, std::array<std::uint8_t, 16>{});
  const crypto::Md5Digest checksum = compute_checksum(ByteView(out).first(kChecksumOffset), token, *ciphertext);
  std::copy(checksum.begin(), checksum.end(), out.begin() + kChecksumOffset);
  out.insert(out.end(), ciphertext->begin(), ciphertext->end());
  return out;
}

Result<Message> decode_message(const Token& token, ByteView datagram) {
  return decode_message(PacketKeys(token), datagram);
}

Result<Message> decode_message(const PacketKeys& keys, ByteView datagram) {
  const Token& token = keys.token();
  Result<Header> header = parse_header(datagram);
  if (!header) return header.error();
  if (header->length == kHelloLength) {
    // A hello (reply) carries no MD5 and no payload: use parse_hello_reply for it.
    return parse_error("hello packet has no payload to decode", kHeaderSize);
  }

  const ByteView ciphertext = datagram.subspan(kHeaderSize);
  const crypto::Md5Digest expected = compute_checksum(datagram.first(kChecksumOffset), token, ciphertext);
  if (!crypto::constant_time_equal(expected, header->checksum)) {
    return authentication_error("checksum mismatch: wrong token?", kChecksumOffset);
  }

  std::optional<Bytes> plaintext = keys.aes().cbc_decrypt(keys.key_iv().iv, ciphertext);
  if (!plaintext) {
    // The checksum matched, so whoever built this holds the token; the last byte is the pad length.
    return parse_error("bad PKCS#7 padding in decrypted payload", datagram.size() - 1);
  }
  // Devices (and python-miio requests) end the JSON with NUL bytes (docs/miio.md §1.5).
  while (!plaintext->empty() && plaintext->back() == 0) plaintext->pop_back();

  Message message;
  message.header = std::move(*header);
  message.payload.assign(plaintext->begin(), plaintext->end());
  return message;
}

}  // namespace cloudless::miio
