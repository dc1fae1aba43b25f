// MiBeacon frames: parsing, v2–v5 decryption, and the one-shot advert decoder. Layout: mibeacon.h;
// crypto: docs/ble.md §2 (verified there against every real vector, and here by the unit tests).
#include "protocols/xiaomi_ble/codec/mibeacon.h"

#include <algorithm>

#include "protocols/common/crypto.h"
#include "protocols/xiaomi_ble/codec/products.h"

namespace cloudless::xiaomi_ble {

namespace {

constexpr std::size_t kFrameControlOffset = 0;
constexpr std::size_t kMacOffset = 5;
constexpr std::size_t kObjectHeaderSize = 3;
// The associated data of both schemes: one byte 0x11 (docs/ble.md §2.1, §2.2).
constexpr std::array<std::uint8_t, 1> kAad = {0x11};
// Inserted after byte 6 of a 12-byte legacy key to make the AES key (docs/ble.md §2.2).
constexpr std::array<std::uint8_t, 4> kLegacyKeyFiller = {0x8d, 0x3d, 0x3c, 0x97};
constexpr std::size_t kLegacyTagSize = 16;  // the 1-byte check is byte 0 of the M=16 tag

std::size_t tail_size(Encryption encryption) {
  switch (encryption) {
    case Encryption::ccm:
      return kExtendedCounterSize + kCcmMicSize;
    case Encryption::legacy:
      return kExtendedCounterSize + kLegacyMicSize;
    case Encryption::none:
      return 0;
  }
  return 0;
}

// MAC bytes in frame order (reversed) ↔ display order.
MacAddress reversed(const MacAddress& mac) {
  MacAddress out{};
  std::reverse_copy(mac.begin(), mac.end(), out.begin());
  return out;
}

// The AES key for the frame's scheme, or an authentication error naming the key the user needs.
Result<std::array<std::uint8_t, 16>> scheme_key(Encryption encryption, std::uint8_t version, ByteView key) {
  std::array<std::uint8_t, 16> out{};
  if (encryption == Encryption::ccm) {
    if (key.size() != kBindKeySize) {
      return authentication_error("MiBeacon v" + std::to_string(version) +
                                      " frames need a 16-byte bind key (32 hex digits), got " +
                                      std::to_string(key.size()) + " bytes",
                                  0);
    }
    std::copy(key.begin(), key.end(), out.begin());
    return out;
  }
  if (key.size() == kLegacyBeaconKeySize) {
    std::array<std::uint8_t, kLegacyBeaconKeySize> short_key{};
    std::copy(key.begin(), key.end(), short_key.begin());
    return expand_legacy_key(short_key);
  }
  // Accept the already expanded form too (xiaomi-ble stores it that way).
  if (key.size() == 16 && std::equal(kLegacyKeyFiller.begin(), kLegacyKeyFiller.end(), key.begin() + 6)) {
    std::copy(key.begin(), key.end(), out.begin());
    return out;
  }
  return authentication_error("MiBeacon v" + std::to_string(version) +
                                  " frames need a 12-byte beacon key (24 hex digits), got " +
                                  std::to_string(key.size()) + " bytes",
                              0);
}

// CCM counter block 1 for a 13-byte nonce: flags L−1 = 1, nonce, counter 00 01 (docs/ble.md §2.3).
std::array<std::uint8_t, 16> legacy_ctr_iv(const std::array<std::uint8_t, 13>& nonce) {
  std::array<std::uint8_t, 16> iv{};
  iv[0] = 0x01;
  std::copy(nonce.begin(), nonce.end(), iv.begin() + 1);
  iv[15] = 0x01;
  return iv;
}

}  // namespace

std::optional<MacAddress> parse_mac(std::string_view text) {
  // "AA:BB:CC:DD:EE:FF": 6 hex pairs, 5 colons.
  if (text.size() != 17) return std::nullopt;
  std::string hex;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i % 3 == 2) {
      if (text[i] != ':') return std::nullopt;
      continue;
    }
    hex.push_back(text[i]);
  }
  const std::optional<Bytes> bytes = from_hex(hex);
  if (!bytes) return std::nullopt;
  MacAddress mac{};
  std::copy(bytes->begin(), bytes->end(), mac.begin());
  return mac;
}

std::string format_mac(const MacAddress& mac) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (std::size_t i = 0; i < mac.size(); ++i) {
    if (i > 0) out.push_back(':');
    out.push_back(kDigits[mac[i] >> 4]);
    out.push_back(kDigits[mac[i] & 0x0f]);
  }
  return out;
}

FrameControl decode_frame_control(std::uint16_t raw) {
  FrameControl fc;
  fc.raw = raw;
  fc.request_timing = (raw & 0x0001) != 0;
  fc.encrypted = (raw & 0x0008) != 0;
  fc.has_mac = (raw & 0x0010) != 0;
  fc.has_capability = (raw & 0x0020) != 0;
  fc.has_object = (raw & 0x0040) != 0;
  fc.mesh = (raw & 0x0080) != 0;
  fc.registered = (raw & 0x0100) != 0;
  fc.solicited = (raw & 0x0200) != 0;
  fc.auth_mode = static_cast<std::uint8_t>(raw >> 10 & 0x3);
  fc.version = static_cast<std::uint8_t>(raw >> 12);
  return fc;
}

std::string_view encryption_name(Encryption encryption) {
  switch (encryption) {
    case Encryption::none:
      return "none";
    case Encryption::legacy:
      return "legacy";
    case Encryption::ccm:
      return "ccm";
  }
  return "none";
}

Result<MiBeacon> parse_mibeacon(ByteView frame) {
  const std::size_t size = frame.size();
  if (size < kMiBeaconMinSize) {
    return parse_error("truncated MiBeacon: " + std::to_string(size) + " of at least " +
                           std::to_string(kMiBeaconMinSize) + " bytes",
                       size);
  }
  if (size > kMiBeaconMaxSize) {
    return parse_error("oversized MiBeacon: " + std::to_string(size) + " bytes, at most " +
                           std::to_string(kMiBeaconMaxSize),
                       kMiBeaconMaxSize);
  }
  ByteReader reader(frame);
  MiBeacon beacon;
  beacon.frame_control = decode_frame_control(*reader.u16_le());  // off 0
  const FrameControl& fc = beacon.frame_control;
  if (fc.mesh) return parse_error("MiBeacon mesh frames are not supported", kFrameControlOffset);
  if (fc.version < 2) {
    return parse_error("MiBeacon version " + std::to_string(fc.version) + " is not supported (2 or later)",
                       kFrameControlOffset);
  }
  beacon.product_id = *reader.u16_le();  // off 2
  beacon.frame_counter = *reader.u8();   // off 4

  if (fc.has_mac) {  // off 5, reversed
    const std::optional<ByteView> mac = reader.take(6);
    if (!mac) {
      return parse_error("truncated MiBeacon: the frame control announces a MAC, " + std::to_string(size - kMacOffset) +
                             " of 6 bytes present",
                         size);
    }
    MacAddress in_frame{};
    std::copy(mac->begin(), mac->end(), in_frame.begin());
    beacon.mac = reversed(in_frame);
  }
  if (fc.has_capability) {
    const std::size_t at = reader.offset();
    const std::optional<std::uint8_t> capability = reader.u8();
    if (!capability) return parse_error("truncated MiBeacon: capability byte missing", at);
    beacon.capability = *capability;
    if ((*capability & 0x20) != 0) {  // capability bit 5: I/O capability follows
      const std::optional<std::uint8_t> io = reader.u8();
      if (!io) return parse_error("truncated MiBeacon: I/O capability byte missing", at + 1);
      beacon.io_capability = *io;
    }
  }
  beacon.payload_offset = reader.offset();
  if (!fc.has_object) return beacon;  // presence beacon: "device seen", no data

  beacon.encryption = !fc.encrypted ? Encryption::none : fc.version <= 3 ? Encryption::legacy : Encryption::ccm;
  const std::size_t tail = tail_size(beacon.encryption);
  if (reader.remaining() < kObjectHeaderSize + tail) {
    const std::string needed = beacon.encryption == Encryption::none
                                   ? "one object header (3)"
                                   : "one object header (3), the counter (3) and the MIC (" +
                                         std::to_string(tail - kExtendedCounterSize) + ")";
    return parse_error("truncated MiBeacon: " + std::to_string(reader.remaining()) + " object bytes, need " +
                           needed,
                       size);
  }
  const ByteView payload = *reader.take(reader.remaining() - tail);
  beacon.payload.assign(payload.begin(), payload.end());
  if (beacon.encryption == Encryption::none) return beacon;

  const ByteView counter = *reader.take(kExtendedCounterSize);
  beacon.extended_counter = static_cast<std::uint32_t>(counter[0] | counter[1] << 8 | counter[2] << 16);
  const ByteView mic = *reader.take(reader.remaining());
  beacon.mic.assign(mic.begin(), mic.end());
  return beacon;
}

std::optional<Bytes> parse_bind_key(std::string_view hex) {
  if (hex.size() != 2 * kBindKeySize && hex.size() != 2 * kLegacyBeaconKeySize) return std::nullopt;
  return from_hex(hex);
}

std::array<std::uint8_t, 16> expand_legacy_key(const std::array<std::uint8_t, kLegacyBeaconKeySize>& key) {
  std::array<std::uint8_t, 16> out{};
  std::copy(key.begin(), key.begin() + 6, out.begin());
  std::copy(kLegacyKeyFiller.begin(), kLegacyKeyFiller.end(), out.begin() + 6);
  std::copy(key.begin() + 6, key.end(), out.begin() + 10);
  return out;
}

std::array<std::uint8_t, 12> ccm_nonce(const MiBeacon& beacon, const MacAddress& mac) {
  // reversed MAC (6) ‖ product id LE (2) ‖ frame counter (1) ‖ extended counter LE (3)
  std::array<std::uint8_t, 12> nonce{};
  const MacAddress frame_order = reversed(mac);
  std::copy(frame_order.begin(), frame_order.end(), nonce.begin());
  nonce[6] = static_cast<std::uint8_t>(beacon.product_id);
  nonce[7] = static_cast<std::uint8_t>(beacon.product_id >> 8);
  nonce[8] = beacon.frame_counter;
  nonce[9] = static_cast<std::uint8_t>(beacon.extended_counter);
  nonce[10] = static_cast<std::uint8_t>(beacon.extended_counter >> 8);
  nonce[11] = static_cast<std::uint8_t>(beacon.extended_counter >> 16);
  return nonce;
}

std::array<std::uint8_t, 13> legacy_nonce(const MiBeacon& beacon, const MacAddress& mac) {
  // frame control LE (2) ‖ product id LE (2) ‖ frame counter (1) ‖ extended counter LE (3) ‖
  // the first 5 bytes of the reversed MAC
  std::array<std::uint8_t, 13> nonce{};
  nonce[0] = static_cast<std::uint8_t>(beacon.frame_control.raw);
  nonce[1] = static_cast<std::uint8_t>(beacon.frame_control.raw >> 8);
  nonce[2] = static_cast<std::uint8_t>(beacon.product_id);
  nonce[3] = static_cast<std::uint8_t>(beacon.product_id >> 8);
  nonce[4] = beacon.frame_counter;
  nonce[5] = static_cast<std::uint8_t>(beacon.extended_counter);
  nonce[6] = static_cast<std::uint8_t>(beacon.extended_counter >> 8);
  nonce[7] = static_cast<std::uint8_t>(beacon.extended_counter >> 16);
  const MacAddress frame_order = reversed(mac);
  std::copy(frame_order.begin(), frame_order.begin() + 5, nonce.begin() + 8);
  return nonce;
}

Result<Bytes> decrypt_mibeacon(const MiBeacon& beacon, ByteView key, const MacAddress& advertiser) {
  if (beacon.encryption == Encryption::none) {
    return parse_error("MiBeacon frame is not encrypted", kFrameControlOffset);
  }
  Result<std::array<std::uint8_t, 16>> aes_key = scheme_key(beacon.encryption, beacon.frame_control.version, key);
  if (!aes_key) return aes_key.error();
  const MacAddress mac = beacon.mac.value_or(advertiser);
  const std::size_t mic_offset = beacon.payload_offset + beacon.payload.size() + kExtendedCounterSize;

  if (beacon.encryption == Encryption::ccm) {
    if (beacon.mic.size() != kCcmMicSize) return parse_error("MiBeacon v4/v5 MIC must be 4 bytes", mic_offset);
    std::optional<Bytes> plain = crypto::aes128_ccm_decrypt(*aes_key, ccm_nonce(beacon, mac), kAad, beacon.payload,
                                                            beacon.mic);
    if (!plain) {
      return authentication_error("MiBeacon MIC mismatch: wrong bind key for " + format_mac(mac) +
                                      " (or a corrupted frame)",
                                  mic_offset);
    }
    return std::move(*plain);
  }

  if (beacon.mic.size() != kLegacyMicSize) return parse_error("MiBeacon v2/v3 check must be 1 byte", mic_offset);
  const std::array<std::uint8_t, 13> nonce = legacy_nonce(beacon, mac);
  std::optional<Bytes> plain = crypto::aes128_ctr(*aes_key, legacy_ctr_iv(nonce), beacon.payload);
  if (!plain) return authentication_error("MiBeacon v2/v3 decryption failed", beacon.payload_offset);
  // Re-encrypt as CCM with a 16-byte tag: its first byte is what the device sent (docs/ble.md §2.2).
  const std::optional<Bytes> sealed = crypto::aes128_ccm_encrypt(*aes_key, nonce, kAad, *plain, kLegacyTagSize);
  if (!sealed || !crypto::constant_time_equal(ByteView(*sealed).subspan(plain->size(), 1), beacon.mic)) {
    return authentication_error("MiBeacon v2/v3 check byte mismatch: wrong beacon key for " + format_mac(mac) +
                                    " (or a corrupted frame)",
                                mic_offset);
  }
  return std::move(*plain);
}

Bytes encode_mibeacon(const MiBeacon& beacon, ByteView objects, ByteView key, const MacAddress& mac) {
  const FrameControl fc = decode_frame_control(beacon.frame_control.raw);
  Bytes out;
  out.push_back(static_cast<std::uint8_t>(fc.raw));
  out.push_back(static_cast<std::uint8_t>(fc.raw >> 8));
  out.push_back(static_cast<std::uint8_t>(beacon.product_id));
  out.push_back(static_cast<std::uint8_t>(beacon.product_id >> 8));
  out.push_back(beacon.frame_counter);
  const MacAddress device = beacon.mac.value_or(mac);
  if (fc.has_mac) {
    const MacAddress frame_order = reversed(device);
    out.insert(out.end(), frame_order.begin(), frame_order.end());
  }
  if (fc.has_capability) {
    const std::uint8_t capability = beacon.capability.value_or(0);
    out.push_back(capability);
    if ((capability & 0x20) != 0) out.push_back(beacon.io_capability.value_or(0));
  }
  if (fc.has_object) {
    if (!fc.encrypted) {
      out.insert(out.end(), objects.begin(), objects.end());
    } else {
      MiBeacon header = beacon;
      header.frame_control = fc;
      header.mac = device;
      const Encryption encryption = fc.version <= 3 ? Encryption::legacy : Encryption::ccm;
      const Result<std::array<std::uint8_t, 16>> aes_key = scheme_key(encryption, fc.version, key);
      if (!aes_key) return {};
      const std::optional<Bytes> sealed =
          encryption == Encryption::ccm
              ? crypto::aes128_ccm_encrypt(*aes_key, ccm_nonce(header, device), kAad, objects, kCcmMicSize)
              : crypto::aes128_ccm_encrypt(*aes_key, legacy_nonce(header, device), kAad, objects, kLegacyTagSize);
      if (!sealed) return {};
      out.insert(out.end(), sealed->begin(), sealed->begin() + static_cast<std::ptrdiff_t>(objects.size()));
      out.push_back(static_cast<std::uint8_t>(beacon.extended_counter));
      out.push_back(static_cast<std::uint8_t>(beacon.extended_counter >> 8));
      out.push_back(static_cast<std::uint8_t>(beacon.extended_counter >> 16));
      const std::size_t mic_size = encryption == Encryption::ccm ? kCcmMicSize : kLegacyMicSize;
      out.insert(out.end(), sealed->begin() + static_cast<std::ptrdiff_t>(objects.size()),
                 sealed->begin() + static_cast<std::ptrdiff_t>(objects.size() + mic_size));
    }
  }
  if (out.size() > kMiBeaconMaxSize) return {};
  return out;
}

Result<DecodedAdvert> decode_advert(ByteView service_data, const MacAddress& advertiser, ByteView key) {
  Result<MiBeacon> parsed = parse_mibeacon(service_data);
  if (!parsed) return parsed.error();
  DecodedAdvert advert;
  advert.beacon = std::move(*parsed);
  const MiBeacon& beacon = advert.beacon;
  if (beacon.mac && *beacon.mac != advertiser) {
    return parse_error("MiBeacon frame names device " + format_mac(*beacon.mac) + ", but " + format_mac(advertiser) +
                           " sent it",
                       kMacOffset);
  }
  advert.mac = beacon.mac.value_or(advertiser);
  advert.product = find_product(beacon.product_id);
  if (!beacon.has_objects()) return advert;

  Bytes clear;
  if (beacon.encryption == Encryption::none) {
    clear = beacon.payload;
  } else {
    if (key.empty()) {
      return authentication_error(std::string("encrypted MiBeacon v") + std::to_string(beacon.frame_control.version) +
                                      " frame: configure a " +
                                      (beacon.encryption == Encryption::ccm ? "32" : "24") +
                                      "-hex-digit bindkey for " + format_mac(advert.mac),
                                  beacon.payload_offset);
    }
    Result<Bytes> decrypted = decrypt_mibeacon(beacon, key, advertiser);
    if (!decrypted) return decrypted.error();
    clear = std::move(*decrypted);
    advert.decrypted = true;
  }
  Result<std::vector<Object>> split = split_objects(clear);
  if (!split) {
    ParseError error = split.error();
    error.offset += beacon.payload_offset;  // report frame offsets, not object-part offsets
    // The 1-byte check of legacy frames passes a wrong key once in 256, and garbage then fails
    // here: for those frames this is far more likely a key problem than a device bug.
    if (beacon.encryption == Encryption::legacy) {
      error.what += " after v2/v3 decryption: wrong beacon key?";
      error.kind = ErrorKind::authentication;
    }
    return error;
  }
  advert.objects = decode_objects(*split, beacon.product_id);
  return advert;
}

}  // namespace cloudless::xiaomi_ble
