// Midea LAN discovery codec (UDP 6445 and 20086, docs/midea.md §1) and the udpid derivation
// (§5.2). Pure: bytes in, structs out; the session owns the socket, retries and the deadline.
//
// Request: a fixed 72-byte V2 packet (type 0111, flags 9200, payload FF 00), sent to both ports.
//
// Replies, by their first bytes (§1.2):
//   "<?xml"  V1 — not supported (msmart-ng drops it too)
//   5A 5A    V2 — the datagram is one V2 packet (packet_v2.h), flags 7A80
//   83 70    V3 — 83 70 | size BE = V2 length + 16 | 20 0F | 00 00 ‖ V2 packet ‖ 16-byte trailer;
//            the trailer is the device's udpid (6-byte big-endian variant), or zeros on a device
//            never bound to the cloud (§1.2, verified on 3 captures; no library reads it)
// Device id = V2 header bytes 20..25, little-endian.
//
// Decrypted V2 payload ("body"), N = SSID length (§1.4):
//   off      size field
//     0        4 IPv4, reversed (8c 01 64 0a = 10.100.1.140)
//     4        2 TCP port, LE (6444 on every capture; bytes 6..7 are 00 00 and ignored)
//     8       32 serial number, ASCII (bytes 17..24 = SN[9:17], the "SN8"/model)
//    40        1 N
//    41        N SSID, e.g. net_ac_F7B4; 2nd "_" token = device type in hex
//   --- extended body (newer modules; old V2 replies stop after the SSID) ---
//    55+N      1 device type (0xAC, 0xC3 …; 0 on some modules → fall back to the SSID)
//    57+N      2 subtype, LE
//    63+N      6 Wi-Fi module MAC
//    69+N      6 module firmware, shown as hex ("150023082122")
// The other bytes (43+N.., 78+N.. "randomkey") have no known meaning and are not decoded.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "protocols/common/bytes.h"
#include "protocols/common/result.h"

namespace cloudless::midea {

constexpr std::uint16_t kDiscoveryPort = 6445;
constexpr std::uint16_t kDiscoveryPortAlt = 20086;
constexpr std::uint16_t kDefaultDevicePort = 6444;
constexpr std::size_t kDiscoveryRequestSize = 72;
constexpr std::size_t kDiscoveryTrailerSize = 16;

// The 72 bytes msmart and midea-local broadcast (docs/midea.md §1.1).
Bytes encode_discovery_request();

// Present when the body reaches the firmware field (≥ 75 + N bytes).
struct DiscoveryModuleInfo {
  std::uint8_t device_type = 0;  // body 55+N
  std::uint16_t subtype = 0;     // body 57+N, LE
  std::array<std::uint8_t, 6> mac{};
  std::array<std::uint8_t, 6> firmware{};

  bool operator==(const DiscoveryModuleInfo&) const = default;
};

using Udpid = std::array<std::uint8_t, 16>;

struct DiscoveryReply {
  int version = 2;                  // 2 (5A5A) or 3 (8370)
  std::uint64_t appliance_id = 0;   // 48 bits
  std::array<std::uint8_t, 4> ip{}; // in dotted order: {10, 100, 1, 140}
  std::uint16_t port = 0;
  std::string serial_number;        // printable ASCII, trailing NULs removed (≤ 32)
  std::string ssid;                 // printable ASCII (≤ 255)
  std::optional<DiscoveryModuleInfo> module;
  std::optional<Udpid> trailer;     // V3 only: as sent

  bool operator==(const DiscoveryReply&) const = default;

  // The module's type byte when non-zero, else the SSID's 2nd "_" token read as 1–2 hex digits
  // (msmart), else nullopt.
  std::optional<std::uint8_t> device_type() const;
  std::string ip_string() const;          // "10.100.1.140"
  std::string model() const;              // SN[9:17] ("SN8"), empty if the SN is shorter
  std::string firmware_version() const;   // module firmware as hex, empty without module info
};

// Parses one datagram. Errors: V1/XML and unknown starts, every V2/V3 framing error (lengths must
// match exactly), a body too short for its SSID, non-printable SN/SSID bytes, and our own request
// (flags 9200) — all malformed; a bad V2 MD5 sign keeps its ErrorKind::authentication.
Result<DiscoveryReply> parse_discovery_reply(ByteView datagram);

// For fake devices and round-trip tests: builds a reply that parses back to `reply` (module info
// → extended body with zeros in the unknown bytes; version 3 → 8370 wrapper, trailer or zeros).
// Returns an empty Bytes when a field cannot be encoded (version not 2/3, SN > 32 or SSID > 255
// bytes, non-printable text, id above 48 bits).
Bytes encode_discovery_reply(const DiscoveryReply& reply);

// udpid = SHA-256(id bytes)[0..15] XOR SHA-256(id bytes)[16..31] (docs/midea.md §5.2). The variants
// differ in how the id becomes bytes; the V3 discovery trailer matched big_endian_6 on every
// capture, msmart tries little_endian_6 first, midea-local also knows little_endian_8.
enum class UdpidVariant { big_endian_6, little_endian_6, little_endian_8 };
Udpid derive_udpid(std::uint64_t appliance_id, UdpidVariant variant);
// Which variant produced `trailer`, if any (all-zero trailers match none).
std::optional<UdpidVariant> match_udpid(std::uint64_t appliance_id, const Udpid& trailer);

}  // namespace cloudless::midea
