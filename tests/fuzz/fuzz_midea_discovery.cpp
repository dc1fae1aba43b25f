// libFuzzer harness for the Midea discovery codec (protocols/midea/discovery_codec.h): UDP
// 6445/20086 replies are untrusted LAN input.
//
// Invariants (a violation aborts, so libFuzzer reports it as a crash):
//  1. parse_discovery_reply never crashes, never reads out of bounds (ASan) and never hits UB
//     (UBSan) on any input; an error's offset never exceeds the input size.
//  2. An accepted reply has version 2 (input starts 5A5A, no trailer) or 3 (input starts 8370,
//     trailer = the last 16 input bytes), an id below 2^48, a printable serial number of ≤ 32
//     and a printable SSID of ≤ 255 characters.
//  3. parse → encode → parse returns the same reply (encode never refuses a parsed reply).
//  4. Signed-body path: random bytes almost never pass the MD5 sign, so the input is also used as
//     the decrypted body of a correctly signed V2 reply, bare and in a V3 wrapper. Then the sign
//     never fails (no authentication error), the V2 and V3 results agree on every field but
//     version/trailer, and accepted replies satisfy 2 and 3.
// Seeds: tests/fuzz/corpus/midea_discovery/ (docs/midea.md §7.1 replies, the request, XML).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "protocols/midea/discovery_codec.h"
#include "protocols/midea/frame_v3.h"
#include "protocols/midea/packet_v2.h"

namespace {

using namespace cloudless;
using namespace cloudless::midea;

#define FUZZ_CHECK(condition)                                                                  \
  do {                                                                                         \
    if (!(condition)) {                                                                        \
      std::fprintf(stderr, "invariant failed: %s (%s:%d)\n", #condition, __FILE__, __LINE__); \
      std::abort();                                                                            \
    }                                                                                          \
  } while (false)

bool printable(const std::string& text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

// 2 and 3.
void check_reply(const DiscoveryReply& reply) {
  FUZZ_CHECK(reply.version == 2 || reply.version == 3);
  FUZZ_CHECK(reply.trailer.has_value() == (reply.version == 3));
  FUZZ_CHECK(reply.appliance_id < (1ull << 48));
  FUZZ_CHECK(reply.serial_number.size() <= 32 && printable(reply.serial_number));
  FUZZ_CHECK(reply.serial_number.empty() || reply.serial_number.back() != '\0');
  FUZZ_CHECK(reply.ssid.size() <= 255 && printable(reply.ssid));
  const Bytes encoded = encode_discovery_reply(reply);
  FUZZ_CHECK(!encoded.empty());
  const Result<DiscoveryReply> again = parse_discovery_reply(encoded);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(*again == reply);
}

Bytes v3_wrap(const Bytes& v2, const std::uint8_t* trailer_source, std::size_t size) {
  Bytes out = {kV3Magic0, kV3Magic1, 0, 0, kV3FixedByte, 0x0f, 0, 0};
  const std::size_t wrapped = v2.size() + kDiscoveryTrailerSize;
  out[2] = static_cast<std::uint8_t>(wrapped >> 8);
  out[3] = static_cast<std::uint8_t>(wrapped);
  out.insert(out.end(), v2.begin(), v2.end());
  for (std::size_t i = 0; i < kDiscoveryTrailerSize; ++i) out.push_back(i < size ? trailer_source[i] : 0);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);

  // 1–3: the datagram as received.
  const Result<DiscoveryReply> reply = parse_discovery_reply(input);
  if (reply) {
    FUZZ_CHECK(size >= 2);
    FUZZ_CHECK((reply->version == 2) == (data[0] == kV2Magic0 && data[1] == kV2Magic1));
    if (reply->version == 3) FUZZ_CHECK(std::equal(reply->trailer->begin(), reply->trailer->end(), data + size - 16));
    check_reply(*reply);
  } else {
    FUZZ_CHECK(reply.error().offset <= size);
  }

  // 4: the input as the body of a correctly signed reply.
  if (size > kV2MaxPayload) return 0;
  V2Header header;
  header.flags = kV2FlagsDiscoveryReply;
  header.device_id = size;  // any id; the parser keeps the low 48 bits
  const Bytes v2 = encode_v2_packet(header, input);
  FUZZ_CHECK(!v2.empty());
  if (v2.size() + kDiscoveryTrailerSize > 0xFFFF) return 0;  // no V3 wrapper can hold it
  const Result<DiscoveryReply> bare = parse_discovery_reply(v2);
  const Result<DiscoveryReply> wrapped = parse_discovery_reply(v3_wrap(v2, data, size));
  FUZZ_CHECK(bare.has_value() == wrapped.has_value());
  if (!bare) {
    FUZZ_CHECK(bare.error().kind == ErrorKind::malformed);
    FUZZ_CHECK(wrapped.error().kind == ErrorKind::malformed);
    FUZZ_CHECK(bare.error().what == wrapped.error().what);
    FUZZ_CHECK(bare.error().offset + kV3PrefixSize == wrapped.error().offset);
    return 0;
  }
  check_reply(*bare);
  check_reply(*wrapped);
  FUZZ_CHECK(bare->version == 2 && wrapped->version == 3);
  DiscoveryReply same = *wrapped;
  same.version = 2;
  same.trailer.reset();
  FUZZ_CHECK(same == *bare);
  FUZZ_CHECK(bare->appliance_id == size);
  return 0;
}
