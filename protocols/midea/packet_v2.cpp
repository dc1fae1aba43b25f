// Midea V2 "5A5A" packet codec. Layout and rules: packet_v2.h and docs/midea.md §2.
#include "protocols/midea/packet_v2.h"

#include <algorithm>
#include <optional>
#include <string>

#include "protocols/common/crypto.h"

namespace cloudless::midea {

namespace {

// The V2 key is a published constant: its schedules are expanded once for the process.
const crypto::AesKey& v2_aes() {
  static const crypto::AesKey key(kV2AesKey);
  return key;
}

constexpr std::size_t kLengthOffset = 4;
constexpr std::size_t kBlockSize = 16;

ByteView sign_key() { return as_bytes(kV2SignKey); }

void append_u16_le(Bytes& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value));
  out.push_back(static_cast<std::uint8_t>(value >> 8));
}

void append_u32_le(Bytes& out, std::uint32_t value) {
  for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<std::uint8_t>(value >> shift));
}

std::string hex_byte_pair(std::uint8_t a, std::uint8_t b) { return to_hex(std::array<std::uint8_t, 2>{a, b}); }

}  // namespace

V2Timestamp make_v2_timestamp(int year, int month, int day, int hour, int minute, int second, int centisecond) {
  // midea-local packet_time(): "%Y%m%d%H%M%S%f"[:16] read as two-digit numbers, then reversed.
  const auto byte = [](int value) { return static_cast<std::uint8_t>(value); };
  return {byte(centisecond), byte(second), byte(minute), byte(hour),
          byte(day),         byte(month),  byte(year % 100), byte(year / 100)};
}

Bytes encode_v2_packet(const V2Header& header, ByteView payload) {
  if (payload.size() > kV2MaxPayload) return {};
  Bytes ciphertext;
  if (!payload.empty()) {
    std::optional<Bytes> encrypted = v2_aes().ecb_encrypt(payload);
    if (!encrypted) return {};
    ciphertext = std::move(*encrypted);
  }
  const std::size_t length = kV2MinPacketSize + ciphertext.size();

  Bytes out;
  out.reserve(length);
  out.push_back(kV2Magic0);                                   // off 0
  out.push_back(kV2Magic1);
  append_u16_be(out, header.message_type);                    // off 2, BE
  append_u16_le(out, static_cast<std::uint16_t>(length));     // off 4, LE
  append_u16_be(out, header.flags);                           // off 6, BE
  append_u32_le(out, header.message_id);                      // off 8, LE
  out.insert(out.end(), header.timestamp.begin(), header.timestamp.end());  // off 12
  for (int shift = 0; shift < 64; shift += 8) {               // off 20, LE u64
    out.push_back(static_cast<std::uint8_t>(header.device_id >> shift));
  }
  out.insert(out.end(), header.reserved.begin(), header.reserved.end());    // off 28
  out.insert(out.end(), ciphertext.begin(), ciphertext.end());              // off 40
  const crypto::Md5Digest sign = crypto::md5(out, sign_key());              // off end−16
  out.insert(out.end(), sign.begin(), sign.end());
  return out;
}

Result<V2Packet> decode_v2_packet(ByteView packet) {
  // Sizes first, so no field below is read past the end.
  if (packet.size() < kV2MinPacketSize) {
    return parse_error("truncated V2 packet: " + std::to_string(packet.size()) + " of at least " +
                           std::to_string(kV2MinPacketSize) + " bytes",
                       packet.size());
  }
  if (packet[0] != kV2Magic0 || packet[1] != kV2Magic1) {
    return parse_error("bad V2 magic " + hex_byte_pair(packet[0], packet[1]) + " (expected 5a5a)", 0);
  }
  ByteReader reader(packet);
  static_cast<void>(reader.take(2));  // magic, checked above
  V2Packet result;
  result.header.message_type = *reader.u16_be();    // off 2
  const std::uint16_t length = *reader.u16_le();    // off 4: whole packet, LE
  if (length > packet.size()) {
    return parse_error("truncated V2 packet: length field says " + std::to_string(length) + " bytes, got " +
                           std::to_string(packet.size()),
                       packet.size());
  }
  if (length < packet.size()) {
    // Also covers fields below 56: the packet has at least 56 bytes by now.
    return parse_error("V2 length field " + std::to_string(length) + " does not match packet size " +
                           std::to_string(packet.size()),
                       kLengthOffset);
  }
  const std::size_t ciphertext_size = length - kV2MinPacketSize;
  if (ciphertext_size % kBlockSize != 0) {
    return parse_error("V2 ciphertext length " + std::to_string(ciphertext_size) +
                           " is not a multiple of 16 (AES block)",
                       kLengthOffset);
  }
  result.header.flags = *reader.u16_be();          // off 6
  result.header.message_id = *reader.u32_le();     // off 8
  const ByteView timestamp = *reader.take(8);      // off 12
  std::copy(timestamp.begin(), timestamp.end(), result.header.timestamp.begin());
  const std::uint32_t id_low = *reader.u32_le();   // off 20, LE u64
  const std::uint32_t id_high = *reader.u32_le();
  result.header.device_id = static_cast<std::uint64_t>(id_high) << 32 | id_low;
  const ByteView reserved = *reader.take(12);      // off 28
  std::copy(reserved.begin(), reserved.end(), result.header.reserved.begin());

  const std::size_t sign_offset = length - kV2SignSize;
  const crypto::Md5Digest expected = crypto::md5(packet.first(sign_offset), sign_key());
  if (!crypto::constant_time_equal(expected, packet.subspan(sign_offset))) {
    return authentication_error("V2 MD5 sign mismatch (corrupted packet or not signed with the Midea key)",
                                sign_offset);
  }
  if (ciphertext_size == 0) return result;  // heartbeat: header + sign only

  std::optional<Bytes> payload =
      v2_aes().ecb_decrypt(packet.subspan(kV2HeaderSize, ciphertext_size));
  if (!payload) {
    // The sign matched, so the sender knows the public key; the last plaintext byte is the pad.
    return parse_error("bad PKCS#7 padding in V2 payload", sign_offset - 1);
  }
  result.payload = std::move(*payload);
  return result;
}

}  // namespace cloudless::midea
