// libFuzzer harness for the MiBeacon codecs (protocols/xiaomi_ble/codec/mibeacon.h, mibeacon_objects.h,
// frame_counter_filter.h): Service Data bytes come from anyone within radio range.
//
// Invariants (a violation aborts, so libFuzzer reports it as a crash):
//  1. parse_mibeacon, decrypt_mibeacon, decode_advert, split_objects and decode_objects never
//     crash, never read out of bounds (ASan) and never hit UB (UBSan), on any input and key.
//  2. parse_mibeacon accepts only 5..31 bytes, version ≥ 2, no mesh bit; its fields add up: for a
//     frame with objects, payload_offset + payload + counter + MIC == size, the MIC being 4 (v4/v5),
//     1 (v2/v3) or 0 bytes (plain), as the frame control says. Errors point inside the input.
//  3. A plain frame with objects re-encodes byte for byte (parse → encode → parse is stable).
//  4. Encryption fix-up: an encrypted frame re-sealed under the fixed key with its own header
//     decrypts back to the same plaintext, and decode_advert never reports a key error for it
//     (except the TLV check after legacy decryption, which reports one by design). Random bytes
//     almost never pass a MIC, so this is what drives the object decoder through the crypto path.
//  5. Every reading is sane: finite; binary quantities 0 or 1; percentages in 0..100; button
//     details only on button readings; rejected objects produce no reading.
//  6. A frame accepted by a fresh counter filter is a duplicate when seen again at once.
// Seeds: tests/fuzz/corpus/mibeacon/ (every vector of docs/ble.md §3).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "protocols/common/bytes.h"
#include "protocols/xiaomi_ble/codec/frame_counter_filter.h"
#include "protocols/xiaomi_ble/codec/mibeacon.h"
#include "protocols/xiaomi_ble/codec/mibeacon_objects.h"

namespace {

using namespace cloudless;
using namespace cloudless::xiaomi_ble;

#define FUZZ_CHECK(condition)                                                                   \
  do {                                                                                          \
    if (!(condition)) {                                                                         \
      std::fprintf(stderr, "invariant failed: %s (%s:%d)\n", #condition, __FILE__, __LINE__); \
      std::abort();                                                                             \
    }                                                                                           \
  } while (false)

// docs/ble.md §3.2 V16 key (xiaomi-ble's public test key) and §3.3 V35's legacy key.
const Bytes kBindKey = {0xe9, 0xea, 0x89, 0x5f, 0xac, 0x7c, 0xca, 0x6d,
                        0x30, 0x53, 0x24, 0x32, 0xa5, 0x16, 0xf3, 0xa8};
const Bytes kLegacyKey = {0xb8, 0x53, 0x07, 0x51, 0x58, 0x48, 0x7c, 0xa3, 0x9a, 0x5b, 0x5e, 0xa9};
constexpr MacAddress kAdvertiser = {0xA4, 0xC1, 0x38, 0x02, 0x83, 0xF4};

bool is_percent(Quantity quantity) {
  return quantity == Quantity::humidity || quantity == Quantity::battery || quantity == Quantity::moisture ||
         quantity == Quantity::consumable;
}

void check_objects(const DecodedObjects& objects) {
  for (const Reading& reading : objects.readings) {
    FUZZ_CHECK(std::isfinite(reading.value));
    const QuantityInfo& info = quantity_info(reading.quantity);
    if (info.kind == ValueKind::binary) FUZZ_CHECK(reading.value == 0.0 || reading.value == 1.0);
    if (info.kind == ValueKind::event) FUZZ_CHECK(reading.value == 1.0);
    if (is_percent(reading.quantity)) FUZZ_CHECK(reading.value >= 0.0 && reading.value <= 100.0);
    if (reading.quantity != Quantity::button) FUZZ_CHECK(reading.button == ButtonEvent{});
  }
  for (const RejectedObject& rejected : objects.rejected) FUZZ_CHECK(!rejected.reason.empty());
}

void check_advert(const Result<DecodedAdvert>& advert, std::size_t size) {
  if (!advert) {
    FUZZ_CHECK(advert.error().offset <= size);
    return;
  }
  check_objects(advert->objects);
  if (advert->beacon.mac) FUZZ_CHECK(advert->mac == *advert->beacon.mac);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);

  // 1, 2: the frame.
  const Result<MiBeacon> parsed = parse_mibeacon(input);
  if (!parsed) {
    FUZZ_CHECK(parsed.error().offset <= size);
    FUZZ_CHECK(parsed.error().kind == ErrorKind::malformed);
  } else {
    const MiBeacon& beacon = *parsed;
    FUZZ_CHECK(size >= kMiBeaconMinSize && size <= kMiBeaconMaxSize);
    FUZZ_CHECK(beacon.frame_control.version >= 2 && !beacon.frame_control.mesh);
    FUZZ_CHECK(beacon.frame_control.raw == (data[0] | data[1] << 8));
    FUZZ_CHECK(beacon.payload_offset <= size);
    FUZZ_CHECK(beacon.mac.has_value() == beacon.frame_control.has_mac);
    FUZZ_CHECK(beacon.capability.has_value() == beacon.frame_control.has_capability);
    if (beacon.has_objects()) {
      FUZZ_CHECK(beacon.frame_control.has_object);
      const std::size_t mic = beacon.encryption == Encryption::ccm      ? kCcmMicSize
                              : beacon.encryption == Encryption::legacy ? kLegacyMicSize
                                                                        : 0;
      FUZZ_CHECK(beacon.mic.size() == mic);
      const std::size_t tail = mic == 0 ? 0 : kExtendedCounterSize + mic;
      FUZZ_CHECK(beacon.payload_offset + beacon.payload.size() + tail == size);
      FUZZ_CHECK(beacon.encryption == Encryption::none || beacon.payload.size() >= 3);
      FUZZ_CHECK((beacon.encryption != Encryption::none) == beacon.frame_control.encrypted);
      FUZZ_CHECK(beacon.encryption != Encryption::ccm || beacon.frame_control.version >= 4);
    } else {
      FUZZ_CHECK(!beacon.frame_control.has_object);
      FUZZ_CHECK(beacon.encryption == Encryption::none);
    }

    // 3: plain frames with objects rebuild exactly.
    if (beacon.has_objects() && beacon.encryption == Encryption::none) {
      FUZZ_CHECK(encode_mibeacon(beacon, beacon.payload, {}, kAdvertiser) == Bytes(data, data + size));
    }

    // 4: re-seal the payload (read as plaintext) under the fixed key and decrypt it again.
    if (beacon.has_objects() && beacon.encryption != Encryption::none) {
      const Bytes& key = beacon.encryption == Encryption::ccm ? kBindKey : kLegacyKey;
      const MacAddress device = beacon.mac.value_or(kAdvertiser);
      const Bytes sealed = encode_mibeacon(beacon, beacon.payload, key, device);
      FUZZ_CHECK(sealed.size() == size);
      const Result<MiBeacon> resealed = parse_mibeacon(sealed);
      FUZZ_CHECK(resealed.has_value());
      const Result<Bytes> opened = decrypt_mibeacon(*resealed, key, device);
      FUZZ_CHECK(opened.has_value());
      FUZZ_CHECK(*opened == beacon.payload);
      const Result<DecodedAdvert> advert = decode_advert(sealed, device, key);
      check_advert(advert, size);
      if (advert) {
        FUZZ_CHECK(advert->decrypted);
      } else {
        FUZZ_CHECK(advert.error().offset >= beacon.payload_offset);
        if (beacon.encryption == Encryption::ccm) FUZZ_CHECK(advert.error().kind == ErrorKind::malformed);
      }
    }

    // 6: de-duplication of what decoded.
    FrameCounterFilter filter;
    const FrameCounterFilter::Clock::time_point now{};
    FUZZ_CHECK(is_accepted(filter.check(beacon, now)));
    FUZZ_CHECK(filter.check(beacon, now) == CounterVerdict::duplicate);
  }

  // 1, 5: the whole pipeline as the device kind runs it, under both keys, no key, and as the
  // advertiser the frame names (so the MAC check passes and the crypto runs).
  const MacAddress advertiser = parsed && parsed->mac ? *parsed->mac : kAdvertiser;
  check_advert(decode_advert(input, advertiser, kBindKey), size);
  check_advert(decode_advert(input, advertiser, kLegacyKey), size);
  check_advert(decode_advert(input, advertiser, {}), size);

  // 1, 5: the input as a bare object part, under the rules of the product its first bytes name.
  const std::uint16_t product_id = size >= 2 ? static_cast<std::uint16_t>(data[0] | data[1] << 8) : 0;
  const Result<std::vector<Object>> objects = split_objects(input);
  if (objects) {
    std::size_t total = 0;
    for (const Object& object : *objects) total += 3 + object.data.size();
    // Every byte is in an object but for 1-2 trailing bytes, which some devices send and are ignored.
    FUZZ_CHECK(total <= size && size - total <= 2);
    const DecodedObjects decoded = decode_objects(*objects, product_id);
    check_objects(decoded);
    FUZZ_CHECK(decoded.rejected.size() + decoded.raw.size() <= objects->size());
  } else {
    FUZZ_CHECK(objects.error().offset < size);
  }
  return 0;
}
