// libFuzzer harness for the Midea V3 "8370" transport (protocols/midea/frame_v3.h) behind the
// stream reassembler (stream_reassembler.h): what a V3 module's TCP 6444 sends us.
//
// Invariants (a violation aborts, so libFuzzer reports it as a crash):
//  1. No crash, out-of-bounds read (ASan) or UB (UBSan) in StreamReassembler(v3).feed,
//     parse_v3_header, decode_v3_message, parse_v3_handshake_request/_response or is_v3_error,
//     whatever the bytes and however the stream is cut (the first input byte picks the piece size).
//  2. Reassembly: every frame starts 8370 with size field + 8 == frame size ≤ max_frame_size;
//     frames + skipped + buffered == bytes fed while there is no error; after an error nothing is
//     buffered and every later feed repeats it.
//  3. Round trips on every frame (and on the raw input): an accepted encrypted message
//     re-encodes byte for byte (type, counter, data, pad fill); an accepted handshake request
//     re-encodes byte for byte; an accepted handshake response re-encodes byte for byte from
//     R = tcp_key XOR key; is_v3_error ⇔ the packet equals the ERROR reply up to its counter, and
//     then decode_v3_message / parse_v3_handshake_response report ErrorKind::authentication.
//  4. Signature fix-up: a structurally valid type-3/6 frame whose SHA-256 is recomputed under the
//     key is never an authentication error (only the pad nibble can still be wrong). This drives
//     the paths behind the signature, which random bytes never pass.
//  5. decode(encode(x)) == x: the input is the data, counter and pad fill come from its bytes.
// Keys: msmart's test TCP key (docs/midea.md §7.2) for messages, 00 01 … 1f for handshakes
// (§3.3 synthetic vector), so the seeds in tests/fuzz/corpus/midea_v3_stream/ decode.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "protocols/common/crypto.h"
#include "protocols/midea/frame_v3.h"
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

constexpr V3TcpKey kTcpKey = {0x55, 0xa0, 0xa1, 0x78, 0x74, 0x6a, 0x42, 0x4b, 0xf1, 0xfc, 0x6b,
                              0xb7, 0x4b, 0x9f, 0xb9, 0xe4, 0x51, 0x59, 0x65, 0x04, 0x8d, 0x24,
                              0xce, 0x8d, 0xc7, 0x2a, 0xca, 0x91, 0x59, 0x7d, 0x05, 0xab};
constexpr V3Key kKey = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                        16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
constexpr std::array<std::uint8_t, 16> kZeroIv{};

bool same(const Bytes& a, ByteView b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); }

// 3 and 4 for one complete packet.
void check_packet(ByteView packet) {
  const Result<V3Header> header = parse_v3_header(packet);
  if (header) {
    FUZZ_CHECK(header->size + kV3PrefixSize == packet.size());
  } else {
    FUZZ_CHECK(header.error().kind == ErrorKind::malformed && header.error().offset <= packet.size());
  }

  const bool error_reply = is_v3_error(packet);
  if (error_reply) {
    Bytes expected = encode_v3_error();
    expected[6] = packet[6];
    expected[7] = packet[7];
    FUZZ_CHECK(same(expected, packet));
  }

  const Result<V3Message> message = decode_v3_message(kTcpKey, packet);
  if (message) {
    FUZZ_CHECK(header.has_value());
    const Bytes encoded = message->type == V3Type::encrypted_request
                              ? encode_v3_request(kTcpKey, message->counter, message->data, message->pad_fill)
                              : encode_v3_response(kTcpKey, message->counter, message->data, message->pad_fill);
    FUZZ_CHECK(message->type == header->type);
    FUZZ_CHECK(message->pad_fill.size() == header->pad);
    FUZZ_CHECK(same(encoded, packet));
  } else {
    FUZZ_CHECK(message.error().offset <= packet.size());
    if (error_reply) FUZZ_CHECK(message.error().kind == ErrorKind::authentication);
  }

  const Result<V3HandshakeRequest> request = parse_v3_handshake_request(packet);
  if (request) FUZZ_CHECK(same(encode_v3_handshake_request(request->token, request->counter), packet));

  const Result<V3TcpKey> tcp_key = parse_v3_handshake_response(kKey, packet);
  if (tcp_key) {
    V3HandshakeRandom random{};
    for (std::size_t i = 0; i < random.size(); ++i) random[i] = static_cast<std::uint8_t>((*tcp_key)[i] ^ kKey[i]);
    const auto counter = static_cast<std::uint16_t>(packet[6] << 8 | packet[7]);
    FUZZ_CHECK(same(encode_v3_handshake_response(kKey, counter, random), packet));
  } else {
    FUZZ_CHECK(tcp_key.error().offset <= packet.size());
    if (error_reply) FUZZ_CHECK(tcp_key.error().kind == ErrorKind::authentication);
  }

  // 4: re-sign a structurally valid encrypted packet.
  if (!header || (header->type != V3Type::encrypted_request && header->type != V3Type::encrypted_response)) return;
  if (header->size < 46 || (header->size + 2 - kV3SignSize) % 16 != 0) return;
  const ByteView ciphertext = packet.subspan(kV3HeaderSize, header->size + 2 - kV3SignSize);
  const std::optional<Bytes> plaintext = crypto::aes256_cbc_decrypt_no_padding(kTcpKey, kZeroIv, ciphertext);
  FUZZ_CHECK(plaintext.has_value());
  Bytes fixed(packet.begin(), packet.end());
  const crypto::Sha256Digest sign = crypto::sha256(packet.first(kV3HeaderSize), *plaintext);
  std::copy(sign.begin(), sign.end(), fixed.end() - kV3SignSize);
  const Result<V3Message> resigned = decode_v3_message(kTcpKey, fixed);
  if (!resigned) {
    FUZZ_CHECK(resigned.error().kind == ErrorKind::malformed);
    FUZZ_CHECK(header->pad + 2u > plaintext->size());
  } else {
    FUZZ_CHECK(resigned->data.size() + 2 + header->pad == plaintext->size());
  }
}

// 1 and 2.
void check_stream(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return;
  const std::size_t piece = 1 + data[0] % 64;
  const std::size_t max = data[0] & 0x80 ? 160 : kDefaultMaxFrameSize;
  StreamReassembler reassembler(StreamFraming::v3, max);
  std::size_t fed = 0;
  std::size_t accounted = 0;
  bool failed = false;
  for (std::size_t at = 1; at < size; at += piece) {
    const std::size_t count = std::min(piece, size - at);
    const StreamChunk chunk = reassembler.feed(ByteView(data + at, count));
    fed += count;
    for (const Bytes& frame : chunk.frames) {
      FUZZ_CHECK(frame.size() >= kV3PrefixSize && frame.size() <= reassembler.max_frame_size());
      FUZZ_CHECK(frame[0] == kV3Magic0 && frame[1] == kV3Magic1);
      FUZZ_CHECK(static_cast<std::size_t>(frame[2] << 8 | frame[3]) + kV3PrefixSize == frame.size());
      accounted += frame.size();
      check_packet(frame);
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
  check_stream(data, size);
  check_packet(ByteView(data, size));

  // 5: the input as data.
  if (size <= kV3MaxData) {
    const auto counter = static_cast<std::uint16_t>(size > 1 ? data[0] << 8 | data[1] : size);
    const ByteView pad_fill(data, std::min<std::size_t>(size, 15));
    const Bytes encoded = encode_v3_request(kTcpKey, counter, ByteView(data, size), pad_fill);
    const std::size_t pad = (16 - (size + 2) % 16) % 16;
    FUZZ_CHECK(encoded.size() == kV3PrefixSize + size + pad + kV3SignSize);
    const Result<V3Message> decoded = decode_v3_message(kTcpKey, encoded);
    FUZZ_CHECK(decoded.has_value());
    FUZZ_CHECK(decoded->type == V3Type::encrypted_request && decoded->counter == counter);
    FUZZ_CHECK(std::equal(decoded->data.begin(), decoded->data.end(), data, data + size));
    for (std::size_t i = 0; i < pad; ++i) FUZZ_CHECK(decoded->pad_fill[i] == (i < pad_fill.size() ? pad_fill[i] : 0));
  }
  return 0;
}
