// libFuzzer harness for the miIO packet codec (protocols/miio/packet.h): UDP 54321 bytes are
// untrusted LAN input.
//
// Invariants (a violation aborts, so libFuzzer reports it as a crash):
//  1. parse_header, parse_hello_reply and decode_message (under the fixed token below) never crash,
//     never read out of bounds (ASan) and never hit UB (UBSan) on any input.
//  2. parse_header accepts only a datagram with size ≥ 32, magic 2131, length field == size and
//     (size − 32) % 16 == 0; decode_message only accepts what parse_header accepts.
//  3. parse_hello_reply accepts only 32-byte packets with reserved 0, and encode_hello_reply
//     rebuilds the input byte for byte; a reported token is never 16×00 / 16×ff.
//  4. A decoded payload re-encodes and decodes to the same payload (decode → encode → decode).
//  5. decode(encode(x)) == x: the input itself, cut to kMaxPlaintext and stripped of trailing NULs
//     (the packet layer strips them by design), is the payload x; did and stamp come from its
//     first bytes. The packet has length 32 + 16·(⌊|x|/16⌋ + 1).
//  6. Checksum fix-up: a structurally valid input whose checksum slot is recomputed under the
//     token is never rejected as "wrong token" — random data rarely passes MD5, so this is what
//     drives the decrypt and PKCS#7 paths.
// Seeds: tests/fuzz/corpus/miio_packet/ (docs/miio.md §6 vectors; §6.3/§6.7 use this token).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "protocols/common/crypto.h"
#include "protocols/miio/packet.h"

namespace {

using namespace cloudless;
using namespace cloudless::miio;

// docs/miio.md §6.3/§6.7 test token 00112233445566778899aabbccddeeff.
constexpr Token kToken = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                          0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};

#define FUZZ_CHECK(condition)                                                              \
  do {                                                                                     \
    if (!(condition)) {                                                                    \
      std::fprintf(stderr, "invariant failed: %s (%s:%d)\n", #condition, __FILE__, __LINE__); \
      std::abort();                                                                        \
    }                                                                                      \
  } while (false)

std::uint32_t u32_at(const std::uint8_t* data, std::size_t size, std::size_t offset) {
  std::uint32_t value = 0;
  for (std::size_t i = offset; i < offset + 4; ++i) value = value << 8 | (i < size ? data[i] : 0);
  return value;
}

bool all_equal(const Token& bytes, std::uint8_t value) {
  for (const std::uint8_t b : bytes) {
    if (b != value) return false;
  }
  return true;
}

void check_round_trip(std::uint32_t did, std::uint32_t stamp, const std::string& payload) {
  const Bytes packet = encode_message(kToken, did, stamp, as_bytes(payload));
  FUZZ_CHECK(packet.size() == kHeaderSize + (payload.size() / 16 + 1) * 16);
  const Result<Message> decoded = decode_message(kToken, packet);
  FUZZ_CHECK(decoded.has_value());
  FUZZ_CHECK(decoded->payload == payload);
  FUZZ_CHECK(decoded->header.device_id == did);
  FUZZ_CHECK(decoded->header.stamp == stamp);
  FUZZ_CHECK(decoded->header.reserved == 0);
  FUZZ_CHECK(decoded->header.length == packet.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);

  // 1–2: header.
  const Result<Header> header = parse_header(input);
  if (header) {
    FUZZ_CHECK(size >= kHeaderSize);
    FUZZ_CHECK(header->length == size);
    FUZZ_CHECK((size - kHeaderSize) % 16 == 0);
  } else {
    FUZZ_CHECK(header.error().kind == ErrorKind::malformed);
    FUZZ_CHECK(header.error().offset <= size);
  }

  // 1, 3: hello reply.
  const Result<HelloReply> hello = parse_hello_reply(input);
  if (hello) {
    FUZZ_CHECK(header && size == kHeaderSize && header->reserved == 0);
    std::array<std::uint8_t, 16> slot{};
    std::copy(data + 16, data + 32, slot.begin());
    FUZZ_CHECK(encode_hello_reply(hello->device_id, hello->stamp, slot) == Bytes(data, data + size));
    if (hello->token) FUZZ_CHECK(!all_equal(*hello->token, 0x00) && !all_equal(*hello->token, 0xff));
  }

  // 1, 2, 4: message under the fixed token.
  const Result<Message> message = decode_message(kToken, input);
  if (message) {
    FUZZ_CHECK(header.has_value());
    FUZZ_CHECK(message->payload.empty() || message->payload.back() != '\0');
    check_round_trip(message->header.device_id, message->header.stamp, message->payload);
  } else {
    FUZZ_CHECK(message.error().offset <= size);
  }

  // 5: decode(encode(x)) == x for the payload derived from the input.
  std::string payload(reinterpret_cast<const char*>(data), std::min(size, kMaxPlaintext));
  while (!payload.empty() && payload.back() == '\0') payload.pop_back();
  check_round_trip(u32_at(data, size, 0), u32_at(data, size, 4), payload);

  // 6: recompute the checksum, then only structural/padding errors may remain.
  if (header && size > kHeaderSize) {
    Bytes fixed(data, data + size);
    const crypto::Md5Digest checksum =
        crypto::md5(ByteView(fixed).first(16), ByteView(kToken), ByteView(fixed).subspan(kHeaderSize));
    std::copy(checksum.begin(), checksum.end(), fixed.begin() + 16);
    const Result<Message> fixed_message = decode_message(kToken, fixed);
    if (!fixed_message) {
      FUZZ_CHECK(fixed_message.error().kind == ErrorKind::malformed);
      FUZZ_CHECK(fixed_message.error().offset == size - 1);  // only the padding can be wrong now
    } else {
      check_round_trip(fixed_message->header.device_id, fixed_message->header.stamp, fixed_message->payload);
    }
  }
  return 0;
}
