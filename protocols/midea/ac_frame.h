// The Midea 0xAA application frame that carries every air-conditioner command and reply inside a V2
// packet (docs/midea.md §4.1). Pure: bytes in, structs out.
//
// Wire layout (offsets 0-based, n = total frame size):
//   off  size field
//     0     1 0xAA start byte
//     1     1 length = n − 1 (everything after 0xAA, the final checksum included) = 10 + body size
//     2     1 appliance type: 0xAC air conditioner (0xCC commercial AC, 0xA1 dehumidifier …)
//     3     1 "sync": legacy senders put length XOR type here, msmart-ng / midea_ac_lan and devices 0.
//               Never validated.
//     4     4 0 (midea_ac_lan: 6 = frame id, 7 = frame protocol version). Carried, never validated.
//     8     1 device protocol version (clients send 0; replies show 2, 3, 8)
//     9     1 frame type (FrameType: 0x02 set, 0x03 query, 0x04/0x05 notifications …)
//    10     m body: [0] body type (0x40 set, 0x41 query, 0xC0 state …) … [m−1] CRC-8/MAXIM of body[0..m−2].
//               Client bodies end with a message id just before the CRC.
//   n−1     1 checksum = (−Σ bytes[1 .. n−2]) & 0xFF
//
// Devices are not consistent about the body's last byte (msmart `Response.validate`): most send the
// CRC8, some V3 units the additive checksum of the body instead, and some send a wrong value in
// properties replies (0xB0/0xB1). parse_ac_frame accepts the first two everywhere and skips the
// check for 0xB0/0xB1, and reports which one it saw.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "protocols/common/bytes.h"
#include "protocols/common/result.h"

namespace cloudless::midea {

constexpr std::uint8_t kAcFrameStart = 0xAA;
constexpr std::uint8_t kDeviceTypeAc = 0xAC;
constexpr std::size_t kAcHeaderSize = 10;
// Header + body type + body CRC + frame checksum: nothing shorter carries a body we could read.
constexpr std::size_t kAcMinFrameSize = kAcHeaderSize + 3;
// The length byte counts at most 255 bytes after 0xAA: 10 header bytes (less the start byte), the body
// with its CRC, and the checksum. So a body without its CRC has at most 255 − 9 − 1 − 1 = 244 bytes.
constexpr std::size_t kAcMaxBodySize = 244;

// Byte 9 of the frame.
enum class FrameType : std::uint8_t {
  set = 0x02,             // control: 0x40 set state, 0xB0 set properties
  query = 0x03,           // 0x41 queries, 0xB1 get properties, 0xB5 capabilities, and their replies
  notify1 = 0x04,         // unsolicited status (0xA1 body)
  notify2 = 0x05,         // unsolicited status (0xA0 body), and the B5 property notification
  exception = 0x06,       // abnormal report
  exception2 = 0x0A,
  appliance_info = 0xA0,  // midea_ac_lan's protocol-version query
};

// Body types (byte 10) this codec knows.
namespace body_type {
constexpr std::uint8_t kSetState = 0x40;
constexpr std::uint8_t kQuery = 0x41;  // state query, display toggle and group-data query
constexpr std::uint8_t kSetProperties = 0xB0;
constexpr std::uint8_t kGetProperties = 0xB1;
constexpr std::uint8_t kCapabilities = 0xB5;
constexpr std::uint8_t kState = 0xC0;
constexpr std::uint8_t kGroupData = 0xC1;
}  // namespace body_type

// What the body's last byte turned out to be.
enum class BodyCheck {
  crc8,       // CRC-8/MAXIM of the body (what every encoder here writes)
  checksum,   // (−Σ body) & 0xFF: some V3 units (midea-ac-py #11)
  unchecked,  // 0xB0/0xB1 properties: neither matched and the check is skipped for them
};

struct AcFrame {
  std::uint8_t device_type = kDeviceTypeAc;   // off 2
  std::uint8_t sync = 0;                      // off 3
  std::array<std::uint8_t, 4> reserved{};     // off 4..7
  std::uint8_t protocol_version = 0;          // off 8
  std::uint8_t frame_type = 0;                // off 9, see FrameType (kept raw: devices send others)
  Bytes body;                                 // off 10..n−3: the body WITHOUT its CRC byte
  BodyCheck body_check = BodyCheck::crc8;     // set by parse_ac_frame; ignored by encode_ac_frame

  std::uint8_t body_type() const { return body.empty() ? 0 : body[0]; }
  bool operator==(const AcFrame&) const = default;
};

// CRC-8/MAXIM (Dallas 1-Wire): poly x^8+x^5+x^4+1 reflected (0x8C), init 0, no final XOR;
// check("123456789") = 0xA1. msmart and MideaUART call its table CRC8_854_TABLE.
std::uint8_t ac_crc8(ByteView data);
// Two's complement of the byte sum: (−Σ data) & 0xFF. The frame checksum over bytes 1..n−2, and the
// body check some devices send instead of the CRC.
std::uint8_t ac_checksum(ByteView data);

// Validates, in this order (msmart `Frame.validate` then `Response.validate`): start byte 0xAA, size
// ≥ kAcMinFrameSize, length byte + 1 == size, frame checksum, appliance type == expected_device_type,
// then the body check (CRC8 or checksum; skipped for 0xB0/0xB1). Every failure is a malformed error
// naming the byte offset of the offending field.
Result<AcFrame> parse_ac_frame(ByteView frame, std::uint8_t expected_device_type = kDeviceTypeAc);

// Builds a frame from `frame` (header fields as given, body_check ignored): appends the body's CRC8,
// fills the length byte and the checksum. Returns an empty Bytes when the body is empty or longer than
// kAcMaxBodySize: no valid frame exists then.
Bytes encode_ac_frame(const AcFrame& frame);

// A client command as msmart-ng sends it: device type 0xAC, sync/reserved/protocol version 0, the
// command bytes followed by `message_id`, then CRC8 and checksum. The device does not check message
// ids; callers usually count them per session. Empty Bytes when the command is empty or too long.
Bytes encode_ac_command(FrameType type, ByteView command, std::uint8_t message_id);

// Which parser a received frame belongs to (msmart `Response.construct` dispatch).
enum class AcBodyKind {
  state,                     // 0xC0 (frame type 0x02 or 0x03): parse_ac_state
  capabilities,              // 0xB5 with frame type 0x03: parse_ac_capabilities
  capabilities_notification, // 0xB5 with any other frame type (seen: 0x05): a property notification
  properties,                // 0xB0 / 0xB1: parse_ac_properties
  group_data,                // 0xC1: parse_ac_group_data
  other,                     // anything else (0xA0/0xA1 notifications, 0xBB sub-protocol …): not decoded here
};
AcBodyKind classify_ac_frame(const AcFrame& frame);
std::string_view ac_body_kind_name(AcBodyKind kind);

}  // namespace cloudless::midea
