// MiBeacon: Xiaomi's BLE advertisement format, carried as Service Data for UUID 0xFE95 (BlueZ:
// Device1.ServiceData["0000fe95-0000-1000-8000-00805f9b34fb"], the bytes after the UUID). Pure
// codec: bytes in, structs out; no I/O, clocks or logging. docs/ble.md §1–§3.
//
// Frame layout (all multi-byte fields little-endian):
//   off  size field                                   present when
//     0     2 frame control (bits below)                always
//     2     2 product id                                always
//     4     1 frame counter                             always
//     5     6 MAC address, byte-reversed                FC bit 4
//   next    1 capability                                FC bit 5
//   next    1 I/O capability (spec: 2; parsers and every  capability bit 5
//             vector: 1 — docs/ble.md §1.4)
//   next    n objects (mibeacon_objects.h), encrypted   FC bit 6 (bit 3: encrypted)
//   v4/v5 encrypted: objects ‖ ext counter (3) ‖ MIC (4) — AES-128-CCM, docs/ble.md §2.1
//   v2/v3 encrypted: objects ‖ ext counter (3) ‖ MIC (1) — AES-CCM used as CTR, docs/ble.md §2.2
//
// Frame control: bit 0 request timing (ignored), 3 encrypted, 4 MAC, 5 capability, 6 object,
// 7 mesh (rejected: the mesh format differs), 8 registered, 9 solicited, 10–11 auth mode,
// 12–15 version (2..3 legacy crypto, ≥ 4 AES-CCM; < 2 rejected as both reference parsers do).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocols/common/bytes.h"
#include "protocols/common/result.h"
#include "protocols/xiaomi_ble/codec/mibeacon_objects.h"

namespace cloudless::xiaomi_ble {

struct Product;

// A Bluetooth device address in display order: "A4:C1:38:02:83:F4" is {0xA4, 0xC1, 0x38, ...}, as
// BlueZ's Device1.Address shows it. MiBeacon frames carry it reversed.
using MacAddress = std::array<std::uint8_t, 6>;

// "A4:C1:38:02:83:F4" (either case); nullopt for anything else.
std::optional<MacAddress> parse_mac(std::string_view text);
std::string format_mac(const MacAddress& mac);  // upper case, colons

inline constexpr std::string_view kMiBeaconServiceUuid = "0000fe95-0000-1000-8000-00805f9b34fb";
inline constexpr std::size_t kMiBeaconMinSize = 5;
// The spec caps a beacon at 31 bytes, and a legacy advertising PDU cannot carry even that much
// service data (31 bytes of AD minus 4 for length, type and UUID). Anything longer is not a
// MiBeacon, whatever its first bytes say.
inline constexpr std::size_t kMiBeaconMaxSize = 31;
inline constexpr std::size_t kBindKeySize = 16;        // v4/v5
inline constexpr std::size_t kLegacyBeaconKeySize = 12;  // v2/v3
inline constexpr std::size_t kCcmMicSize = 4;
inline constexpr std::size_t kLegacyMicSize = 1;
inline constexpr std::size_t kExtendedCounterSize = 3;

struct FrameControl {
  std::uint16_t raw = 0;
  bool request_timing = false;  // bit 0; "reserved" in v5, seen set (PS1BB)
  bool encrypted = false;       // bit 3
  bool has_mac = false;         // bit 4
  bool has_capability = false;  // bit 5
  bool has_object = false;      // bit 6: without it the frame only says "I exist"
  bool mesh = false;            // bit 7
  bool registered = false;      // bit 8: bound to an account
  bool solicited = false;       // bit 9: asks the app to bind (pairing button)
  std::uint8_t auth_mode = 0;   // bits 10–11: 0 legacy, 1 secure, 2 standard
  std::uint8_t version = 0;     // bits 12–15
};

FrameControl decode_frame_control(std::uint16_t raw);

enum class Encryption {
  none,    // objects in clear, or no objects
  legacy,  // v2/v3: 12-byte beacon key, 1-byte check
  ccm,     // v4/v5: 16-byte bind key, AES-128-CCM with a 4-byte MIC
};

std::string_view encryption_name(Encryption encryption);  // "none", "legacy", "ccm"

struct MiBeacon {
  FrameControl frame_control;
  std::uint16_t product_id = 0;
  std::uint8_t frame_counter = 0;
  std::optional<MacAddress> mac;  // from the frame, display order
  std::optional<std::uint8_t> capability;
  std::optional<std::uint8_t> io_capability;
  Encryption encryption = Encryption::none;  // none when the frame carries no object
  std::size_t payload_offset = 0;  // frame offset of the first object (or ciphertext) byte
  Bytes payload;                   // clear objects (Encryption::none) or the ciphertext; empty: no object
  std::uint32_t extended_counter = 0;  // encrypted frames: the 3 "random number" bytes, LE
  Bytes mic;                           // encrypted frames: 4 (ccm) or 1 (legacy) bytes

  bool has_objects() const { return !payload.empty(); }
  // The 32-bit anti-replay counter of encrypted frames: frame counter | extended counter << 8.
  // Plain frames have only the 8-bit frame counter.
  std::uint32_t full_counter() const {
    return static_cast<std::uint32_t>(frame_counter) | extended_counter << 8;
  }
  bool has_full_counter() const { return encryption != Encryption::none; }
};

// Validates sizes before every read. Malformed (with the offset where the frame falls short) when:
// shorter than 5 or longer than kMiBeaconMaxSize, a mesh frame, version < 2, a field the control
// bits announce is missing, an object part shorter than one object header (3 bytes), or an
// encrypted part too short for one object header plus counter and MIC (v4/v5 ≥ 10, v2/v3 ≥ 7).
// Bytes after the last announced field of a frame without objects are ignored (as upstream does).
Result<MiBeacon> parse_mibeacon(ByteView service_data);

// "e9ea895fac7cca6d30532432a516f3a8" (32 hex digits, v4/v5) or "b853075158487ca39a5b5ea9" (24,
// v2/v3), either case; nullopt for any other text.
std::optional<Bytes> parse_bind_key(std::string_view hex);

// The 16-byte AES key of a 12-byte legacy beacon key: k[0:6] ‖ 8d 3d 3c 97 ‖ k[6:12] (docs/ble.md §2.2).
std::array<std::uint8_t, 16> expand_legacy_key(const std::array<std::uint8_t, kLegacyBeaconKeySize>& key);

// Nonces (docs/ble.md §2.1 / §2.2), exposed for tests and diagnostics. `mac` is the device address in
// display order (the frame's, or the advertiser's when the frame has none).
std::array<std::uint8_t, 12> ccm_nonce(const MiBeacon& beacon, const MacAddress& mac);
std::array<std::uint8_t, 13> legacy_nonce(const MiBeacon& beacon, const MacAddress& mac);

// Decrypts the objects of an encrypted frame with `key`, checking its MIC: for v4/v5 the 4-byte
// AES-CCM tag (AAD 0x11); for v2/v3 the one trailing byte, which equals the first byte of the
// 16-byte CCM tag over the plaintext (docs/ble.md §2.2 finding: a 1-in-256 check, so the caller also
// runs the TLV checks). `advertiser` is used when the frame carries no MAC.
// Errors: ErrorKind::authentication for a MIC mismatch and for a key of the wrong size for the
// frame's scheme (16 bytes for v4/v5; 12 — or the 16-byte expanded form — for v2/v3); malformed
// for a frame that is not encrypted.
Result<Bytes> decrypt_mibeacon(const MiBeacon& beacon, ByteView key, const MacAddress& advertiser);

// Builds an encrypted frame — the inverse of decrypt_mibeacon, for tests, fuzzing and simulators
// (a device never gets our key). `beacon` supplies everything but payload and mic; `objects` is
// the clear object part; the frame MAC (if the control bits announce one) is beacon.mac or else
// `mac`, which also goes into the nonce. Empty on a key of the wrong size or a frame that would be
// longer than kMiBeaconMaxSize.
Bytes encode_mibeacon(const MiBeacon& beacon, ByteView objects, ByteView key, const MacAddress& mac);

// Everything one advert says, for the device kind: parse, check the frame MAC against the
// advertiser, decrypt when needed, split and decode the objects with the product's rules.
struct DecodedAdvert {
  MiBeacon beacon;
  MacAddress mac{};                   // the device: the frame's MAC, else the advertiser's
  const Product* product = nullptr;   // nullptr: unknown product id (objects still decoded)
  bool decrypted = false;             // the objects came out of an encrypted payload
  DecodedObjects objects;             // empty for a frame without objects
};

// The frame control is not authenticated (v4/v5 AAD is a constant), so anyone can send a *plain*
// frame under a device's address: a device configured with a key should drop adverts whose objects
// were not encrypted (decrypted == false) — the v5 spec requires every object to be encrypted.
// `key` empty: no key configured. Errors: everything parse_mibeacon rejects; the frame's MAC is
// not the advertiser's (malformed, offset 5: another device's frame relayed or spoofed); an
// encrypted frame with no key (authentication: "needs a bind key"); decrypt_mibeacon's errors;
// the objects' TLV structure (malformed, offset in the frame; authentication after a legacy
// decryption, where a wrong key passes the 1-byte check once in 256 and then yields garbage).
Result<DecodedAdvert> decode_advert(ByteView service_data, const MacAddress& advertiser, ByteView key);

}  // namespace cloudless::xiaomi_ble
