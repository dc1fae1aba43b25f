// Midea V2 "5A5A" packet codec (TCP 6444 on V2 modules, inside every V3 8370 request/response and
// every discovery datagram). Pure: bytes in, structs out; no sockets, clocks or logging.
//
// Wire layout (docs/midea.md §2; msmart lan.py _Packet, midea-local packet_builder.py):
//   off size field
//     0    2 magic 5A 5A
//     2    2 message type, read big-endian: 0x0111 command/discovery, 0x0110 heartbeat (0x0100 reply)
//     4    2 total packet length, LITTLE-endian (= 40 + ciphertext + 16)
//     6    2 "magic" flags, read big-endian: 0x2000 request, 0x2080 device reply, 0x9200 discovery
//            request, 0x7A80 discovery reply, 0x7B00 heartbeat
//     8    4 message id, little-endian (msmart sends 0)
//    12    8 timestamp: centiseconds, s, min, h, day, month, year % 100, year / 100 (unchecked by devices)
//    20    8 device id, little-endian (6 significant bytes)
//    28   12 reserved (zeros from clients; replies carry …01 80…)
//    40  16k AES-128-ECB(key = MD5(kV2SignKey), PKCS#7(payload)); absent (k = 0) in a heartbeat
//   end   16 sign = MD5(packet[0 .. end−16) ‖ kV2SignKey)
//
// The sign key is public and the same for every device, so a bad sign means corruption or a
// foreign sender rather than "wrong key"; it is still reported as ErrorKind::authentication, the
// kind every signature failure has in cloudless.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocols/common/bytes.h"
#include "protocols/common/result.h"

namespace cloudless::midea {

constexpr std::size_t kV2HeaderSize = 40;
constexpr std::size_t kV2SignSize = 16;
constexpr std::size_t kV2MinPacketSize = kV2HeaderSize + kV2SignSize;  // 56: heartbeat, no payload
constexpr std::size_t kV2MaxPacketSize = 0xFFFF;                       // 16-bit length field
// 65535 − 56 = 65479 bytes for ciphertext → 65472 (whole blocks) → 65471 payload bytes (PKCS#7
// always adds 1..16), a 65528-byte packet.
constexpr std::size_t kV2MaxPayload = 65471;

constexpr std::uint8_t kV2Magic0 = 0x5A;
constexpr std::uint8_t kV2Magic1 = 0x5A;

constexpr std::uint16_t kV2TypeCommand = 0x0111;
constexpr std::uint16_t kV2TypeHeartbeat = 0x0110;
constexpr std::uint16_t kV2TypeHeartbeatReply = 0x0100;

constexpr std::uint16_t kV2FlagsRequest = 0x2000;
constexpr std::uint16_t kV2FlagsReply = 0x2080;
constexpr std::uint16_t kV2FlagsDiscoveryRequest = 0x9200;
constexpr std::uint16_t kV2FlagsDiscoveryReply = 0x7A80;
constexpr std::uint16_t kV2FlagsHeartbeat = 0x7B00;

// ASCII, not NUL-terminated on the wire; MD5 of it is the AES key below.
constexpr std::string_view kV2SignKey = "xhdiwjnchekd4d512chdjx5d8e4c394D2D7S";
// MD5(kV2SignKey) (docs/midea.md §1.3 [verified]; test_midea_transport checks it against crypto::md5).
constexpr std::array<std::uint8_t, 16> kV2AesKey = {0x6a, 0x92, 0xef, 0x40, 0x6b, 0xad, 0x2f, 0x03,
                                                    0x59, 0xba, 0xad, 0x99, 0x41, 0x71, 0xea, 0x6d};

using V2Timestamp = std::array<std::uint8_t, 8>;

// The timestamp bytes midea-local writes for a UTC wall-clock time (year 2000..2099 fits; any
// year up to 9999 is encoded as year % 100, year / 100). Pure: the caller reads the clock.
V2Timestamp make_v2_timestamp(int year, int month, int day, int hour, int minute, int second, int centisecond);

// Every header field but the length (derived from the payload on encode, checked on decode).
struct V2Header {
  std::uint16_t message_type = kV2TypeCommand;  // off 2
  std::uint16_t flags = kV2FlagsRequest;        // off 6
  std::uint32_t message_id = 0;                 // off 8
  V2Timestamp timestamp{};                      // off 12
  std::uint64_t device_id = 0;                  // off 20, all 8 bytes
  std::array<std::uint8_t, 12> reserved{};      // off 28

  bool operator==(const V2Header&) const = default;
  // Heartbeats (and their replies) carry no frame (docs/midea.md §2).
  bool is_heartbeat() const {
    return message_type == kV2TypeHeartbeat || message_type == kV2TypeHeartbeatReply;
  }
};

struct V2Packet {
  V2Header header;
  Bytes payload;  // decrypted, PKCS#7 removed: an 0xAA frame (§4), discovery body or empty
};

// Builds the packet. An empty payload gives the 56-byte header + sign packet (no ciphertext) that
// heartbeats use. Returns an empty Bytes when payload.size() > kV2MaxPayload (no valid packet
// exists then, and an empty one cannot be mistaken for a packet) or, never in practice, when
// OpenSSL fails.
Bytes encode_v2_packet(const V2Header& header, ByteView payload);

// Validates in this order: size ≥ 56, magic 5A5A, length field == packet size (a smaller field
// means trailing bytes, a larger one truncation), (length − 56) % 16 == 0, the MD5 sign
// (mismatch → ErrorKind::authentication), then AES-ECB decrypt and PKCS#7 (→ malformed).
// decode(encode(h, p)) == {h, p}; encode(decode(x)) == x except for a ciphertext that decrypts to
// an empty payload (one block of 16 × 0x10), which encodes without ciphertext.
Result<V2Packet> decode_v2_packet(ByteView packet);

}  // namespace cloudless::midea
