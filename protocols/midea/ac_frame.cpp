// The 0xAA application frame. Layout and validation order: ac_frame.h and docs/midea.md §4.1.
#include "protocols/midea/ac_frame.h"

#include <string>

namespace cloudless::midea {

namespace {

constexpr std::size_t kLengthOffset = 1;
constexpr std::size_t kDeviceTypeOffset = 2;
constexpr std::size_t kSyncOffset = 3;
constexpr std::size_t kReservedOffset = 4;
constexpr std::size_t kProtocolVersionOffset = 8;
constexpr std::size_t kFrameTypeOffset = 9;

// Reflected CRC-8/MAXIM, table-driven: entry i is the CRC of the single byte i.
constexpr std::array<std::uint8_t, 256> make_crc8_table() {
  std::array<std::uint8_t, 256> table{};
  for (unsigned i = 0; i < 256; ++i) {
    unsigned crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 1) ? (crc >> 1) ^ 0x8C : crc >> 1;
    table[i] = static_cast<std::uint8_t>(crc);
  }
  return table;
}
constexpr std::array<std::uint8_t, 256> kCrc8Table = make_crc8_table();
// docs/midea.md §4.1: the table starts 00 5E BC E2 61 3F DD 83.
static_assert(kCrc8Table[1] == 0x5E && kCrc8Table[2] == 0xBC && kCrc8Table[7] == 0x83);

bool is_properties_body(std::uint8_t type) {
  return type == body_type::kSetProperties || type == body_type::kGetProperties;
}

}  // namespace

std::uint8_t ac_crc8(ByteView data) {
  std::uint8_t crc = 0;
  for (const std::uint8_t byte : data) crc = kCrc8Table[crc ^ byte];
  return crc;
}

std::uint8_t ac_checksum(ByteView data) {
  unsigned sum = 0;
  for (const std::uint8_t byte : data) sum += byte;
  return static_cast<std::uint8_t>(-sum & 0xFF);
}

Result<AcFrame> parse_ac_frame(ByteView frame, std::uint8_t expected_device_type) {
  if (frame.empty()) return parse_error("empty frame", 0);
  if (frame[0] != kAcFrameStart) {
    return parse_error("bad start byte " + hex_literal(frame[0], 2) + " (expected 0xaa)", 0);
  }
  if (frame.size() < kAcMinFrameSize) {
    return parse_error("truncated frame: " + std::to_string(frame.size()) + " bytes, a frame has at least " +
                           std::to_string(kAcMinFrameSize),
                       frame.size());
  }
  // off 1, u8: frame size − 1.
  const std::size_t declared = std::size_t{frame[kLengthOffset]} + 1;
  if (declared < kAcMinFrameSize) {
    return parse_error("length byte " + std::to_string(frame[kLengthOffset]) + " too small: a frame has at least " +
                           std::to_string(kAcMinFrameSize) + " bytes",
                       kLengthOffset);
  }
  if (declared > frame.size()) {
    return parse_error("truncated frame: length byte says " + std::to_string(declared) + " bytes, have " +
                           std::to_string(frame.size()),
                       frame.size());
  }
  if (declared < frame.size()) {
    return parse_error("length byte says " + std::to_string(declared) + " bytes, frame has " +
                           std::to_string(frame.size()) + " (trailing bytes)",
                       declared);
  }
  // Last byte: checksum over everything between the start byte and itself.
  const std::size_t checksum_offset = frame.size() - 1;
  const std::uint8_t expected_checksum = ac_checksum(frame.subspan(1, checksum_offset - 1));
  if (frame[checksum_offset] != expected_checksum) {
    return parse_error("bad frame checksum " + hex_literal(frame[checksum_offset], 2) + " (expected " +
                           hex_literal(expected_checksum, 2) + ")",
                       checksum_offset);
  }
  if (frame[kDeviceTypeOffset] != expected_device_type) {
    return parse_error("device type " + hex_literal(frame[kDeviceTypeOffset], 2) + " (expected " +
                           hex_literal(expected_device_type, 2) + ")",
                       kDeviceTypeOffset);
  }

  AcFrame out;
  out.device_type = frame[kDeviceTypeOffset];
  out.sync = frame[kSyncOffset];
  for (std::size_t i = 0; i < out.reserved.size(); ++i) out.reserved[i] = frame[kReservedOffset + i];
  out.protocol_version = frame[kProtocolVersionOffset];
  out.frame_type = frame[kFrameTypeOffset];
  // off 10 .. n−3: body; off n−2: its CRC (or checksum).
  const std::size_t crc_offset = checksum_offset - 1;
  const ByteView body = frame.subspan(kAcHeaderSize, crc_offset - kAcHeaderSize);
  const std::uint8_t received = frame[crc_offset];
  const std::uint8_t crc = ac_crc8(body);
  const std::uint8_t sum = ac_checksum(body);
  if (received == crc) {
    out.body_check = BodyCheck::crc8;
  } else if (received == sum) {
    out.body_check = BodyCheck::checksum;
  } else if (is_properties_body(body[0])) {
    // msmart skips the check for properties: some devices send bad CRCs there (midea-ac-py #101).
    out.body_check = BodyCheck::unchecked;
  } else {
    return parse_error("bad body CRC " + hex_literal(received, 2) + " (expected CRC8 " + hex_literal(crc, 2) + " or checksum " +
                           hex_literal(sum, 2) + ")",
                       crc_offset);
  }
  out.body.assign(body.begin(), body.end());
  return out;
}

Bytes encode_ac_frame(const AcFrame& frame) {
  if (frame.body.empty() || frame.body.size() > kAcMaxBodySize) return {};
  const std::size_t size = kAcHeaderSize + frame.body.size() + 2;
  Bytes out;
  out.reserve(size);
  out.push_back(kAcFrameStart);
  out.push_back(static_cast<std::uint8_t>(size - 1));
  out.push_back(frame.device_type);
  out.push_back(frame.sync);
  out.insert(out.end(), frame.reserved.begin(), frame.reserved.end());
  out.push_back(frame.protocol_version);
  out.push_back(frame.frame_type);
  out.insert(out.end(), frame.body.begin(), frame.body.end());
  out.push_back(ac_crc8(frame.body));
  out.push_back(ac_checksum(ByteView(out).subspan(1)));
  return out;
}

Bytes encode_ac_command(FrameType type, ByteView command, std::uint8_t message_id) {
  if (command.empty()) return {};
  AcFrame frame;
  frame.frame_type = static_cast<std::uint8_t>(type);
  frame.body.reserve(command.size() + 1);
  frame.body.assign(command.begin(), command.end());
  frame.body.push_back(message_id);
  return encode_ac_frame(frame);
}

AcBodyKind classify_ac_frame(const AcFrame& frame) {
  switch (frame.body_type()) {
    case body_type::kState:
      return AcBodyKind::state;
    case body_type::kCapabilities:
      // msmart-ng takes only a query reply (frame type 0x03) for a capabilities page. Some units
      // also send a B5 with frame type 0x05 unasked: the same id/len/value layout, but carrying
      // property ids (0x0009/0x000A vertical/horizontal swing angle, 0x0610 unknown), which
      // msmart-ng's maintainer reads as a property notification and ignores (msmart-ng #122).
      return frame.frame_type == static_cast<std::uint8_t>(FrameType::query) ? AcBodyKind::capabilities
                                                                             : AcBodyKind::capabilities_notification;
    case body_type::kSetProperties:
    case body_type::kGetProperties:
      return AcBodyKind::properties;
    case body_type::kGroupData:
      return AcBodyKind::group_data;
    default:
      return AcBodyKind::other;
  }
}

std::string_view ac_body_kind_name(AcBodyKind kind) {
  switch (kind) {
    case AcBodyKind::state: return "state";
    case AcBodyKind::capabilities: return "capabilities";
    case AcBodyKind::capabilities_notification: return "capabilities_notification";
    case AcBodyKind::properties: return "properties";
    case AcBodyKind::group_data: return "group_data";
    case AcBodyKind::other: return "other";
  }
  return "other";
}

}  // namespace cloudless::midea
