// libFuzzer harness for the Midea V2 "5A5A" packet codec (protocols/midea/packet_v2.h) and the V2
// TCP stream reassembler: bytes from a V2 module's TCP 6444 (and inside every V3 packet).
//
// Invariants (a violation aborts, so libFuzzer reports it as a crash):
//  1. decode_v2_packet never crashes, never reads out of bounds (ASan), never hits UB (UBSan);
//     an error's offset never exceeds the input size.
//  2. An accepted packet has size 56 + 16k, magic 5A5A and LE length == size; encode(header,
//     payload) rebuilds the input byte for byte — except a ciphertext that decrypts to an empty
//     payload, which re-encodes as the 56-byte (heartbeat) form and decodes to the same value.
//  3. Sign fix-up: a structurally valid input whose MD5 sign is recomputed is never rejected as
//     an authentication error; only the PKCS#7 padding (offset size − 17) can still be wrong.
//     (Random data rarely passes MD5; this is what drives the decrypt and padding paths.)
//  4. decode(encode(h, x)) == {h, x}: the input is the payload x, h comes from its first bytes.
//  5. StreamReassembler(v2), fed the input in pieces: every frame starts 5A5A with its LE length
//     == frame size in [56, max]; frames + skipped + buffered == bytes fed while no error; after
//     an error nothing is buffered and every later feed repeats it.
// Seeds: tests/fuzz/corpus/midea_v2/ (docs/midea.md §7.2/§7.4 packets, heartbeat, request).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "protocols/common/crypto.h"
#include "protocols/midea/packet_v2.h"
#include "protocols/midea/stream_reassembler.h"

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

std::uint64_t u64_at(const std::uint8_t* data, std::size_t size, std::size_t offset) {
  std::uint64_t value = 0;
  for (std::size_t i = offset; i < offset + 8; ++i) value = value << 8 | (i < size ? data[i] : 0);
  return value;
}

void check_accepted(ByteView input, const V2Packet& packet) {
  FUZZ_CHECK(input.size() >= kV2MinPacketSize && (input.size() - kV2MinPacketSize) % 16 == 0);
  FUZZ_CHECK(input[0] == 0x5a && input[1] == 0x5a);
  FUZZ_CHECK(static_cast<std::size_t>(input[4] | input[5] << 8) == input.size());
  const Bytes encoded = encode_v2_packet(packet.header, packet.payload);
  if (packet.payload.empty() && input.size() != kV2MinPacketSize) {
    FUZZ_CHECK(input.size() == kV2MinPacketSize + 16);
    FUZZ_CHECK(encoded.size() == kV2MinPacketSize);
    const Result<V2Packet> again = decode_v2_packet(encoded);
    FUZZ_CHECK(again.has_value() && again->header == packet.header && again->payload.empty());
    return;
  }
  FUZZ_CHECK(std::equal(encoded.begin(), encoded.end(), input.begin(), input.end()));
}

void check_stream(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return;
  // The first byte picks the piece size (1..64) and a small maximum half of the time.
  const std::size_t piece = 1 + data[0] % 64;
  const std::size_t max = data[0] & 0x80 ? 200 : kDefaultMaxFrameSize;
  StreamReassembler reassembler(StreamFraming::v2, max);
  std::size_t fed = 0;
  std::size_t accounted = 0;
  bool failed = false;
  for (std::size_t at = 1; at < size; at += piece) {
    const std::size_t count = std::min(piece, size - at);
    const StreamChunk chunk = reassembler.feed(ByteView(data + at, count));
    fed += count;
    for (const Bytes& frame : chunk.frames) {
      FUZZ_CHECK(frame.size() >= kV2MinPacketSize && frame.size() <= reassembler.max_frame_size());
      FUZZ_CHECK(frame[0] == 0x5a && frame[1] == 0x5a);
      FUZZ_CHECK(static_cast<std::size_t>(frame[4] | frame[5] << 8) == frame.size());
      accounted += frame.size();
      const Result<V2Packet> packet = decode_v2_packet(frame);
      if (packet) check_accepted(frame, *packet);
    }
    accounted += chunk.skipped;
    if (failed) FUZZ_CHECK(chunk.error.has_value() && chunk.frames.empty());
    if (chunk.error) {
      failed = true;
      FUZZ_CHECK(reassembler.buffered() == 0 && reassembler.failed());
      FUZZ_CHECK(chunk.error->offset < fed);
      continue;
    }
    FUZZ_CHECK(reassembler.buffered() < reassembler.max_frame_size());
    FUZZ_CHECK(accounted + reassembler.buffered() == fed);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);

  // 1–2.
  const Result<V2Packet> packet = decode_v2_packet(input);
  if (packet) {
    check_accepted(input, *packet);
  } else {
    FUZZ_CHECK(packet.error().offset <= size);
  }

  // 3: recompute the sign of a structurally valid packet.
  if (size >= kV2MinPacketSize && data[0] == 0x5a && data[1] == 0x5a &&
      static_cast<std::size_t>(data[4] | data[5] << 8) == size && (size - kV2MinPacketSize) % 16 == 0) {
    Bytes fixed(data, data + size);
    const crypto::Md5Digest sign = crypto::md5(ByteView(fixed).first(size - 16), as_bytes(kV2SignKey));
    std::copy(sign.begin(), sign.end(), fixed.end() - 16);
    const Result<V2Packet> signed_packet = decode_v2_packet(fixed);
    if (signed_packet) {
      check_accepted(fixed, *signed_packet);
    } else {
      FUZZ_CHECK(signed_packet.error().kind == ErrorKind::malformed);
      FUZZ_CHECK(signed_packet.error().offset == size - 17);
    }
  }

  // 4: the input as a payload.
  if (size <= kV2MaxPayload) {
    V2Header header;
    header.message_type = static_cast<std::uint16_t>(u64_at(data, size, 0));
    header.flags = static_cast<std::uint16_t>(u64_at(data, size, 2));
    header.message_id = static_cast<std::uint32_t>(u64_at(data, size, 4));
    header.device_id = u64_at(data, size, 8);
    header.reserved[size % 12] = static_cast<std::uint8_t>(size);
    const Bytes encoded = encode_v2_packet(header, input);
    FUZZ_CHECK(encoded.size() == (size == 0 ? 56 : 56 + (size / 16 + 1) * 16));
    const Result<V2Packet> decoded = decode_v2_packet(encoded);
    FUZZ_CHECK(decoded.has_value());
    FUZZ_CHECK(decoded->header == header);
    FUZZ_CHECK(std::equal(decoded->payload.begin(), decoded->payload.end(), data, data + size));
  }

  // 5.
  check_stream(data, size);
  return 0;
}
