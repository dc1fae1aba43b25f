// Midea TCP stream reassembly (protocols/midea/stream_reassembler.h): real packets of
// docs/midea.md §7.2 glued into one stream, cut at every byte boundary, fed byte by byte and in
// random chunks; the midea-local decode_8370 cases (§3.4); garbage before a magic; oversized and
// undersized declared lengths, rejected before anything of them is buffered.
#include <catch2/catch.hpp>

#include <random>
#include <string_view>
#include <vector>

#include "protocols/common/bytes.h"
#include "protocols/midea/frame_v3.h"
#include "protocols/midea/packet_v2.h"
#include "protocols/midea/stream_reassembler.h"
#include "tests/unit/test_support.h"

using namespace cloudless;
using namespace cloudless::midea;
using cloudless::test::hex;

namespace {

// §7.2 msmart issue #63: real handshake request and ERROR reply.
constexpr const char* kHandshakeRequest =
    "83700040200000002f42c22e6416cbd1d8cae8c13154826771c7130ca938537d433c5d5acf8bcdcc8a5511247ce3975e7f7a622b"
    "d8693ea92c37684508b981f347df30e8474b43d1";
constexpr const char* kErrorReply = "83700005200f00004552524f52";
// §7.2 msmart test_lan.py test_decode_v3_packet: a real encrypted response.
constexpr const char* kV3Response =
    "8370008e2063ec2b8aeb17d4e3aff77094dde7fa65cf22671adf807f490a97b927347943626e9b4f58362cf34b97a0d641f8bf0c"
    "8fcbf69ad8cca131d2d7baa70ef048c5e3f3dc78da8af4598ff47aee762a0345c18815d91b50a24dedcacde0663c4ec5e73a963d"
    "c8bbbea9a593859996eb79dcfcc6a29b96262fcaa8ea6346366efea214e4a2e48caf83489475246b6fef90192b00";
// §7.4 derived V3 request (counter 5, zero pad).
constexpr const char* kV3Request =
    "8370008e20662c474717200a60275f658a93bc2a7ecb46dc51aee46f8327e62a0c1aa1449f79b0abb88211b4d51ee897a6b36bb5"
    "9153da01fa7b2a1e01845194ce463f93f098ab376fb0068a7a34322beef3386ff3fc12e435154112ddbce34bc1a4c2d2a0fd2f32"
    "ddc44da828c27ff98fbceca6294a31e6285ce24477d37251939bad2bbe91d110719eb3afe8add576d2c7a04e9236";
// §7.2 msmart test_decode_packet: a real V2 reply; §7.4 derived V2 request; §7.1 #1 discovery reply.
constexpr const char* kV2Reply =
    "5a5a01116800208000000000000000000000000060ca0000000e0000000000000000000001000000c6a90377a364cb55af337259"
    "514c6f96bf084e8c7a899b50b68920cdea36cecf11c882a88861d1f46cd87912f201218c66151f0c9fbe5941c5384e707c36ff76";
constexpr const char* kV2Request =
    "5a5a01116800200000000000001e2d0c0f07241460ca0000000e0000000000000000000000000000b8436dd15e84d5a4fc6fbf77"
    "d2b12486e10c552981b23022cb71ea0fc54dc25ecfa0ce55888ac57fc42a7eacc3285d3758bbc599514f1a640652f717c1e8ecf9";
constexpr const char* kV2Discovery =
    "5a5a011178007a8000000000000000000000000060ca0000000e0000000000000000000001000000c08651cb1b88a167bdcf7d37"
    "534ef81312d39429bf9b2673f200b635fae369a560fa9655eab8344be22b1e3b024ef5dfd392dc3db64dbffb6a66fb9cd5ec87a7"
    "8000cd9043833b9f76991e8af29f3496";

std::vector<Bytes> v3_packets() {
  return {hex(kHandshakeRequest), hex(kV3Response), hex(kErrorReply), hex(kV3Request)};
}

std::vector<Bytes> v2_packets() {
  V2Header heartbeat;
  heartbeat.message_type = kV2TypeHeartbeat;
  heartbeat.flags = kV2FlagsHeartbeat;
  return {hex(kV2Reply), encode_v2_packet(heartbeat, ByteView{}), hex(kV2Request), hex(kV2Discovery)};
}

Bytes concatenate(const std::vector<Bytes>& packets) {
  Bytes out;
  for (const Bytes& packet : packets) out.insert(out.end(), packet.begin(), packet.end());
  return out;
}

// Feeds `stream` cut at `cuts` (sorted offsets) and collects everything.
struct Collected {
  std::vector<Bytes> frames;
  std::size_t skipped = 0;
  std::optional<ParseError> error;
};

Collected feed_in_pieces(StreamReassembler& reassembler, const Bytes& stream, const std::vector<std::size_t>& cuts) {
  Collected out;
  std::size_t begin = 0;
  std::vector<std::size_t> ends = cuts;
  ends.push_back(stream.size());
  for (const std::size_t end : ends) {
    StreamChunk chunk = reassembler.feed(ByteView(stream).subspan(begin, end - begin));
    for (Bytes& frame : chunk.frames) out.frames.push_back(std::move(frame));
    out.skipped += chunk.skipped;
    if (chunk.error) out.error = chunk.error;
    // The buffer never holds more than one incomplete packet.
    CHECK(reassembler.buffered() < reassembler.max_frame_size());
    begin = end;
  }
  return out;
}

}  // namespace

TEST_CASE("midea stream: V3 packets in one read", "[midea][stream]") {
  StreamReassembler reassembler(StreamFraming::v3);
  const std::vector<Bytes> packets = v3_packets();
  const StreamChunk chunk = reassembler.feed(concatenate(packets));
  CHECK(chunk.frames == packets);
  CHECK_FALSE(chunk.error.has_value());
  CHECK(chunk.skipped == 0);
  CHECK(reassembler.buffered() == 0);
  // Each cut packet is what the V3 codec expects.
  for (const Bytes& frame : chunk.frames) CHECK(parse_v3_header(frame).has_value());
}

TEST_CASE("midea stream: V3 stream split at every byte boundary", "[midea][stream]") {
  const std::vector<Bytes> packets = v3_packets();
  const Bytes stream = concatenate(packets);
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    CAPTURE(cut);
    StreamReassembler reassembler(StreamFraming::v3);
    const Collected got = feed_in_pieces(reassembler, stream, {cut});
    CHECK(got.frames == packets);
    CHECK_FALSE(got.error.has_value());
    CHECK(got.skipped == 0);
    CHECK(reassembler.buffered() == 0);
  }
}

TEST_CASE("midea stream: V3 stream cut at every pair of boundaries", "[midea][stream]") {
  // Two packets so the O(n²) sweep stays small: 13-byte ERROR then a 72-byte handshake.
  const std::vector<Bytes> packets = {hex(kErrorReply), hex(kHandshakeRequest)};
  const Bytes stream = concatenate(packets);
  for (std::size_t first = 0; first <= stream.size(); ++first) {
    for (std::size_t second = first; second <= stream.size(); ++second) {
      StreamReassembler reassembler(StreamFraming::v3);
      const Collected got = feed_in_pieces(reassembler, stream, {first, second});
      if (got.frames != packets) FAIL_CHECK("cuts " << first << ", " << second);
    }
  }
}

TEST_CASE("midea stream: byte by byte and random chunks", "[midea][stream]") {
  for (const StreamFraming framing : {StreamFraming::v2, StreamFraming::v3}) {
    const std::vector<Bytes> packets = framing == StreamFraming::v2 ? v2_packets() : v3_packets();
    const Bytes stream = concatenate(packets);

    std::vector<std::size_t> every_byte;
    for (std::size_t i = 1; i < stream.size(); ++i) every_byte.push_back(i);
    StreamReassembler byte_wise(framing);
    CHECK(feed_in_pieces(byte_wise, stream, every_byte).frames == packets);

    std::mt19937 random(20260901);  // fixed seed: reproducible chunkings
    for (int round = 0; round < 200; ++round) {
      std::vector<std::size_t> cuts;
      for (std::size_t at = 0;;) {
        at += 1 + random() % 40;
        if (at >= stream.size()) break;
        cuts.push_back(at);
      }
      StreamReassembler reassembler(framing);
      const Collected got = feed_in_pieces(reassembler, stream, cuts);
      if (got.frames != packets) FAIL_CHECK("round " << round);
    }
  }
}

TEST_CASE("midea stream: midea-local decode_8370 cases (docs/midea.md §3.4)", "[midea][stream]") {
  SECTION("two packets and a lone trailing 0x83 → two packets, 83 kept") {
    StreamReassembler reassembler(StreamFraming::v3);
    Bytes stream = concatenate({hex(kV3Response), hex(kV3Request)});
    stream.push_back(0x83);
    const StreamChunk chunk = reassembler.feed(stream);
    CHECK(chunk.frames.size() == 2);
    CHECK(reassembler.buffered() == 1);
    // … and the kept byte starts the next packet.
    const StreamChunk rest = reassembler.feed(ByteView(hex(kErrorReply)).subspan(1));
    REQUIRE(rest.frames.size() == 1);
    CHECK(rest.frames[0] == hex(kErrorReply));
  }
  SECTION("a packet 4 bytes short → nothing yet, all of it kept") {
    StreamReassembler reassembler(StreamFraming::v3);
    const Bytes packet = hex(kV3Response);
    const StreamChunk chunk = reassembler.feed(ByteView(packet).first(packet.size() - 4));
    CHECK(chunk.frames.empty());
    CHECK_FALSE(chunk.error.has_value());
    CHECK(reassembler.buffered() == packet.size() - 4);
    const StreamChunk rest = reassembler.feed(ByteView(packet).last(4));
    REQUIRE(rest.frames.size() == 1);
    CHECK(rest.frames[0] == packet);
  }
}

TEST_CASE("midea stream: bytes before a magic are skipped and counted", "[midea][stream]") {
  StreamReassembler reassembler(StreamFraming::v3);
  Bytes stream = hex("00ff8371");  // 83 followed by something else is not a magic
  const Bytes error = hex(kErrorReply);
  stream.insert(stream.end(), error.begin(), error.end());
  stream.insert(stream.end(), {0x01, 0x02, 0x03});
  stream.insert(stream.end(), error.begin(), error.end());
  const StreamChunk chunk = reassembler.feed(stream);
  CHECK(chunk.frames == std::vector<Bytes>{error, error});
  CHECK(chunk.skipped == 7);
  CHECK(reassembler.buffered() == 0);

  // Pure garbage is dropped as it arrives (only a possible first magic byte is held).
  const StreamChunk garbage = reassembler.feed(Bytes(1000, 0x55));
  CHECK(garbage.skipped == 1000);
  CHECK(reassembler.buffered() == 0);
}

TEST_CASE("midea stream: oversized declared length is rejected before buffering", "[midea][stream]") {
  SECTION("V3 size ffff against the default 4 KiB maximum") {
    StreamReassembler reassembler(StreamFraming::v3);
    const StreamChunk chunk = reassembler.feed(hex("8370ffff"));
    REQUIRE(chunk.error.has_value());
    CHECK(chunk.error->what == "V3 stream: declared packet length 65543 is above the 4096-byte maximum");
    CHECK(chunk.error->offset == 2);
    CHECK(chunk.error->kind == ErrorKind::malformed);
    CHECK(reassembler.buffered() == 0);
    CHECK(reassembler.failed());

    // Sticky until reset: the stream lost its framing.
    const StreamChunk later = reassembler.feed(hex(kErrorReply));
    CHECK(later.frames.empty());
    REQUIRE(later.error.has_value());
    CHECK(later.error->what == chunk.error->what);
    reassembler.reset();
    CHECK_FALSE(reassembler.failed());
    CHECK(reassembler.feed(hex(kErrorReply)).frames.size() == 1);
  }
  SECTION("the error offset is the stream offset, after good frames of the same read") {
    StreamReassembler reassembler(StreamFraming::v3);
    Bytes stream = hex(kErrorReply);
    stream.insert(stream.end(), {0x83, 0x70, 0x7f, 0xff, 0x20});
    const StreamChunk chunk = reassembler.feed(stream);
    CHECK(chunk.frames.size() == 1);  // delivered before the error
    REQUIRE(chunk.error.has_value());
    CHECK(chunk.error->offset == 13 + 2);
  }
  SECTION("exactly the maximum is accepted, one more is not") {
    for (const std::size_t max : {std::size_t{85}, std::size_t{150}}) {
      CAPTURE(max);
      StreamReassembler at_limit(StreamFraming::v3, max);
      const Bytes packet = hex(kV3Response);  // 150 bytes
      const StreamChunk chunk = at_limit.feed(packet);
      if (max >= packet.size()) {
        CHECK(chunk.frames.size() == 1);
        CHECK_FALSE(chunk.error.has_value());
      } else {
        CHECK(chunk.frames.empty());
        REQUIRE(chunk.error.has_value());
        CHECK(chunk.error->what == "V3 stream: declared packet length 150 is above the 85-byte maximum");
      }
    }
    StreamReassembler just_below(StreamFraming::v3, 149);
    CHECK(just_below.feed(hex(kV3Response)).error.has_value());
  }
  SECTION("V2 length ffff and length below 56") {
    StreamReassembler big(StreamFraming::v2);
    const StreamChunk too_big = big.feed(hex("5a5a0111ffff"));
    REQUIRE(too_big.error.has_value());
    CHECK(too_big.error->what == "V2 stream: declared packet length 65535 is above the 4096-byte maximum");
    CHECK(too_big.error->offset == 4);
    CHECK(big.buffered() == 0);

    StreamReassembler small(StreamFraming::v2);
    const StreamChunk too_small = small.feed(hex("5a5a01113700"));  // 55: one byte under header + sign
    REQUIRE(too_small.error.has_value());
    CHECK(too_small.error->what == "V2 stream: declared packet length 55 is below the 56-byte minimum");
  }
  SECTION("max_frame_size is clamped to what each framing can express") {
    CHECK(StreamReassembler(StreamFraming::v3, 1).max_frame_size() == 8);
    CHECK(StreamReassembler(StreamFraming::v3, 1'000'000).max_frame_size() == 65543);
    CHECK(StreamReassembler(StreamFraming::v2, 1).max_frame_size() == 56);
    CHECK(StreamReassembler(StreamFraming::v2, 1'000'000).max_frame_size() == 65535);
    // With the full V3 maximum a 64 KiB packet passes.
    StreamReassembler full(StreamFraming::v3, 1'000'000);
    const Bytes largest = encode_v3_request(V3TcpKey{}, 0, Bytes(kV3MaxData, 0));
    const StreamChunk chunk = full.feed(largest);
    REQUIRE(chunk.frames.size() == 1);
    CHECK(chunk.frames[0] == largest);
  }
}

TEST_CASE("midea stream: V2 packets split at every byte boundary", "[midea][stream]") {
  const std::vector<Bytes> packets = v2_packets();
  const Bytes stream = concatenate(packets);
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    CAPTURE(cut);
    StreamReassembler reassembler(StreamFraming::v2);
    const Collected got = feed_in_pieces(reassembler, stream, {cut});
    CHECK(got.frames == packets);
    CHECK_FALSE(got.error.has_value());
    // Each cut packet decodes.
    if (cut == 0) {
      for (const Bytes& frame : got.frames) CHECK(decode_v2_packet(frame).has_value());
    }
  }
}

TEST_CASE("midea stream: empty feeds", "[midea][stream]") {
  StreamReassembler reassembler(StreamFraming::v3);
  const StreamChunk chunk = reassembler.feed(ByteView{});
  CHECK(chunk.frames.empty());
  CHECK_FALSE(chunk.error.has_value());
  CHECK(chunk.skipped == 0);
  CHECK(reassembler.buffered() == 0);
}
