// Midea discovery codec. Layout and rules: discovery_codec.h and docs/midea.md §1, §5.2.
#include "protocols/midea/discovery_codec.h"

#include <algorithm>
#include <string_view>

#include "protocols/common/crypto.h"
#include "protocols/midea/frame_v3.h"
#include "protocols/midea/packet_v2.h"

namespace cloudless::midea {

namespace {

constexpr std::size_t kIpOffset = 0;
constexpr std::size_t kPortOffset = 4;
constexpr std::size_t kSerialOffset = 8;
constexpr std::size_t kSerialSize = 32;
constexpr std::size_t kSsidLengthOffset = 40;
constexpr std::size_t kSsidOffset = 41;
// Extended body, relative to 41 + N (the end of the SSID).
constexpr std::size_t kTypeAfterSsid = 14;      // 55 + N
constexpr std::size_t kSubtypeAfterSsid = 16;   // 57 + N
constexpr std::size_t kMacAfterSsid = 22;       // 63 + N
constexpr std::size_t kFirmwareAfterSsid = 28;  // 69 + N
constexpr std::size_t kModuleEndAfterSsid = 34; // 75 + N: what "extended" needs
constexpr std::size_t kEncodedEndAfterSsid = 53; // 94 + N: through the zero "randomkey", as devices send
constexpr std::uint64_t kIdMask = 0xFFFF'FFFF'FFFFull;
constexpr std::string_view kXmlStart = "<?xml";

// The payload of the discovery request: FF 00 (docs/midea.md §1.1, decrypted [verified]).
constexpr std::array<std::uint8_t, 2> kRequestPayload = {0xFF, 0x00};

bool is_printable(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

std::string text_of(ByteView bytes) { return std::string(bytes.begin(), bytes.end()); }

// Offsets of errors from the inner V2 packet are moved to datagram offsets.
ParseError shifted(ParseError error, std::size_t by) {
  error.offset += by;
  return error;
}

std::optional<std::uint8_t> type_from_ssid(std::string_view ssid) {
  // msmart: int(ssid.split("_")[1], 16). Only 1–2 hex digits fit a type byte.
  const std::size_t first = ssid.find('_');
  if (first == std::string_view::npos) return std::nullopt;
  const std::size_t second = ssid.find('_', first + 1);
  const std::string_view token = ssid.substr(first + 1, second == std::string_view::npos ? ssid.npos : second - first - 1);
  if (token.empty() || token.size() > 2) return std::nullopt;
  const std::optional<Bytes> value = from_hex(token.size() == 1 ? "0" + std::string(token) : std::string(token));
  if (!value) return std::nullopt;
  return (*value)[0];
}

Result<DiscoveryReply> parse_body(ByteView body, std::size_t body_offset) {
  if (body.size() < kSsidOffset) {
    return parse_error("discovery body is " + std::to_string(body.size()) +
                           " bytes, too short for IP, port, serial number and SSID length (41)",
                       body_offset + body.size());
  }
  DiscoveryReply reply;
  // off 0, 4 bytes: IPv4 reversed.
  for (std::size_t i = 0; i < 4; ++i) reply.ip[i] = body[kIpOffset + 3 - i];
  // off 4, u16 LE: TCP port (msmart reads 2 bytes; 6..7 are zero on every capture).
  reply.port = static_cast<std::uint16_t>(body[kPortOffset] | body[kPortOffset + 1] << 8);
  // off 8, 32 bytes: serial number, ASCII.
  ByteView serial = body.subspan(kSerialOffset, kSerialSize);
  while (!serial.empty() && serial.back() == 0) serial = serial.first(serial.size() - 1);
  reply.serial_number = text_of(serial);
  if (!is_printable(reply.serial_number)) {
    return parse_error("non-printable byte in the serial number", body_offset + kSerialOffset);
  }
  // off 40, 1 byte: N; off 41, N bytes: SSID.
  const std::size_t ssid_size = body[kSsidLengthOffset];
  if (body.size() < kSsidOffset + ssid_size) {
    return parse_error("discovery body is " + std::to_string(body.size()) + " bytes, SSID needs " +
                           std::to_string(kSsidOffset + ssid_size),
                       body_offset + body.size());
  }
  reply.ssid = text_of(body.subspan(kSsidOffset, ssid_size));
  if (!is_printable(reply.ssid)) return parse_error("non-printable byte in the SSID", body_offset + kSsidOffset);

  const std::size_t after_ssid = kSsidOffset + ssid_size;
  if (body.size() >= after_ssid + kModuleEndAfterSsid) {
    DiscoveryModuleInfo module;
    module.device_type = body[after_ssid + kTypeAfterSsid];  // 55+N
    module.subtype = static_cast<std::uint16_t>(body[after_ssid + kSubtypeAfterSsid] |
                                                body[after_ssid + kSubtypeAfterSsid + 1] << 8);  // 57+N, LE
    const ByteView mac = body.subspan(after_ssid + kMacAfterSsid, 6);            // 63+N
    const ByteView firmware = body.subspan(after_ssid + kFirmwareAfterSsid, 6);  // 69+N
    std::copy(mac.begin(), mac.end(), module.mac.begin());
    std::copy(firmware.begin(), firmware.end(), module.firmware.begin());
    reply.module = module;
  }
  return reply;
}

Bytes encode_body(const DiscoveryReply& reply) {
  Bytes body;
  for (std::size_t i = 0; i < 4; ++i) body.push_back(reply.ip[3 - i]);
  body.push_back(static_cast<std::uint8_t>(reply.port));
  body.push_back(static_cast<std::uint8_t>(reply.port >> 8));
  body.push_back(0);
  body.push_back(0);
  body.insert(body.end(), reply.serial_number.begin(), reply.serial_number.end());
  body.resize(kSerialOffset + kSerialSize, 0);
  body.push_back(static_cast<std::uint8_t>(reply.ssid.size()));
  body.insert(body.end(), reply.ssid.begin(), reply.ssid.end());
  if (reply.module) {
    const std::size_t after_ssid = body.size();
    body.resize(after_ssid + kEncodedEndAfterSsid, 0);
    body[after_ssid + kTypeAfterSsid] = reply.module->device_type;
    body[after_ssid + kSubtypeAfterSsid] = static_cast<std::uint8_t>(reply.module->subtype);
    body[after_ssid + kSubtypeAfterSsid + 1] = static_cast<std::uint8_t>(reply.module->subtype >> 8);
    std::copy(reply.module->mac.begin(), reply.module->mac.end(), body.begin() + static_cast<std::ptrdiff_t>(after_ssid + kMacAfterSsid));
    std::copy(reply.module->firmware.begin(), reply.module->firmware.end(),
              body.begin() + static_cast<std::ptrdiff_t>(after_ssid + kFirmwareAfterSsid));
  }
  return body;
}

}  // namespace

Bytes encode_discovery_request() {
  V2Header header;
  header.message_type = kV2TypeCommand;
  header.flags = kV2FlagsDiscoveryRequest;
  return encode_v2_packet(header, kRequestPayload);
}

std::optional<std::uint8_t> DiscoveryReply::device_type() const {
  if (module && module->device_type != 0) return module->device_type;
  return type_from_ssid(ssid);
}

std::string DiscoveryReply::ip_string() const {
  return std::to_string(ip[0]) + "." + std::to_string(ip[1]) + "." + std::to_string(ip[2]) + "." +
         std::to_string(ip[3]);
}

std::string DiscoveryReply::model() const {
  // Body bytes 17..24 = SN[9:17] (midea_ac_lan / midea-local "model").
  if (serial_number.size() < 17) return {};
  return serial_number.substr(9, 8);
}

std::string DiscoveryReply::firmware_version() const { return module ? to_hex(module->firmware) : std::string(); }

Result<DiscoveryReply> parse_discovery_reply(ByteView datagram) {
  if (datagram.size() >= kXmlStart.size() &&
      std::equal(kXmlStart.begin(), kXmlStart.end(), datagram.begin())) {
    return parse_error("V1 (XML) discovery reply: not supported", 0);
  }
  if (datagram.size() < 2) {
    return parse_error("truncated discovery reply: " + std::to_string(datagram.size()) + " bytes", datagram.size());
  }

  int version = 0;
  ByteView inner;
  std::size_t inner_offset = 0;
  std::optional<Udpid> trailer;
  if (datagram[0] == kV2Magic0 && datagram[1] == kV2Magic1) {
    version = 2;
    inner = datagram;
  } else if (datagram[0] == kV3Magic0 && datagram[1] == kV3Magic1) {
    // 83 70 | size | 20 0F | 00 00 ‖ V2 packet (size − 16 bytes) ‖ trailer (16)
    version = 3;
    const Result<V3Header> header = parse_v3_header(datagram);
    if (!header) return header.error();
    if (header->type != V3Type::transparent) {
      return parse_error("V3 discovery wrapper has type " + std::to_string(static_cast<int>(header->type)) +
                             " (expected 15)",
                         5);
    }
    if (header->size < kV2MinPacketSize + kDiscoveryTrailerSize) {
      return parse_error("V3 discovery wrapper too short for a V2 packet and the trailer: size " +
                             std::to_string(header->size),
                         2);
    }
    inner_offset = kV3PrefixSize;
    inner = datagram.subspan(inner_offset, header->size - kDiscoveryTrailerSize);
    Udpid bytes{};
    const ByteView tail = datagram.last(kDiscoveryTrailerSize);
    std::copy(tail.begin(), tail.end(), bytes.begin());
    trailer = bytes;
  } else {
    return parse_error("unknown discovery reply start " + to_hex(datagram.first(2)) + " (expected 5a5a or 8370)", 0);
  }

  Result<V2Packet> packet = decode_v2_packet(inner);
  if (!packet) return shifted(packet.error(), inner_offset);
  if (packet->header.flags == kV2FlagsDiscoveryRequest) {
    return parse_error("a discovery request (flags 9200), not a reply", inner_offset + 6);
  }
  Result<DiscoveryReply> reply = parse_body(packet->payload, inner_offset + kV2HeaderSize);
  if (!reply) return reply.error();
  reply->version = version;
  reply->appliance_id = packet->header.device_id & kIdMask;  // 6 bytes LE at V2 offset 20
  reply->trailer = trailer;
  return reply;
}

Bytes encode_discovery_reply(const DiscoveryReply& reply) {
  if (reply.version != 2 && reply.version != 3) return {};
  if (reply.serial_number.size() > kSerialSize || reply.ssid.size() > 0xFF) return {};
  if (!is_printable(reply.serial_number) || !is_printable(reply.ssid)) return {};
  if (reply.appliance_id > kIdMask) return {};

  V2Header header;
  header.message_type = kV2TypeCommand;
  header.flags = kV2FlagsDiscoveryReply;
  header.device_id = reply.appliance_id;
  const Bytes packet = encode_v2_packet(header, encode_body(reply));
  if (packet.empty() || reply.version == 2) return packet;

  Bytes out;
  out.reserve(kV3PrefixSize + packet.size() + kDiscoveryTrailerSize);
  out.push_back(kV3Magic0);
  out.push_back(kV3Magic1);
  append_u16_be(out, static_cast<std::uint16_t>(packet.size() + kDiscoveryTrailerSize));
  out.push_back(kV3FixedByte);
  out.push_back(static_cast<std::uint8_t>(V3Type::transparent));
  append_u16_be(out, 0);
  out.insert(out.end(), packet.begin(), packet.end());
  const Udpid trailer = reply.trailer.value_or(Udpid{});
  out.insert(out.end(), trailer.begin(), trailer.end());
  return out;
}

Udpid derive_udpid(std::uint64_t appliance_id, UdpidVariant variant) {
  Bytes id_bytes;
  switch (variant) {
    case UdpidVariant::big_endian_6:
      for (int shift = 40; shift >= 0; shift -= 8) id_bytes.push_back(static_cast<std::uint8_t>(appliance_id >> shift));
      break;
    case UdpidVariant::little_endian_6:
      for (int shift = 0; shift < 48; shift += 8) id_bytes.push_back(static_cast<std::uint8_t>(appliance_id >> shift));
      break;
    case UdpidVariant::little_endian_8:
      for (int shift = 0; shift < 64; shift += 8) id_bytes.push_back(static_cast<std::uint8_t>(appliance_id >> shift));
      break;
  }
  const crypto::Sha256Digest digest = crypto::sha256(id_bytes);
  Udpid out{};
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::uint8_t>(digest[i] ^ digest[i + 16]);
  return out;
}

std::optional<UdpidVariant> match_udpid(std::uint64_t appliance_id, const Udpid& trailer) {
  for (const UdpidVariant variant :
       {UdpidVariant::big_endian_6, UdpidVariant::little_endian_6, UdpidVariant::little_endian_8}) {
    if (derive_udpid(appliance_id, variant) == trailer) return variant;
  }
  return std::nullopt;
}

}  // namespace cloudless::midea
