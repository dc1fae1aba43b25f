// Midea 0xAA application frame (protocols/midea/ac_frame.h): CRC8 and checksum, every real frame of
// docs/midea.md §7.3 and §7.4, every corruption and every truncation.
//
// Sources: msmart-ng `msmart/device/AC/test_command.py` and `test_device.py` (captures from users'
// units, issue links there), §7.4 vectors computed for docs/midea.md with the published algorithms.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include "protocols/common/bytes.h"
#include "protocols/midea/ac_frame.h"
#include "tests/unit/test_support.h"

using namespace cloudless;
using namespace cloudless::midea;
using cloudless::test::hex;

namespace {

struct FrameVector {
  const char* source;
  const char* frame;
  std::uint8_t frame_type;
  std::uint8_t protocol_version;
  BodyCheck check;
  AcBodyKind kind;
};

// Every whole frame of §7.3/§7.4 that must parse. "check" is what the body's last byte turned out to be.
const FrameVector kValidFrames[] = {
    // State (0xC0)
    {"§7.3 state, V3 unit sending a checksum instead of the CRC, short body (midea-ac-py #11)",
     "aa1eac00000000000003c0004b1e7f7f000000000069630000000000000d33", 0x03, 0x00, BodyCheck::checksum,
     AcBodyKind::state},
    {"§7.3 state V2", "aa22ac00000000000303c0014566000000300010045eff00000000000000000069fdb9", 0x03, 0x03,
     BodyCheck::crc8, AcBodyKind::state},
    {"§7.3 state V3", "aa23ac00000000000303c00145660000003c0010045c6b20000000000000000000020d79", 0x03, 0x03,
     BodyCheck::crc8, AcBodyKind::state},
    {"§7.3 state, extra precision (msmart #89)",
     "aa23ac00000000000203c00188647f7f000000000063450c0056190000000000000497c3", 0x03, 0x02, BodyCheck::crc8,
     AcBodyKind::state},
    {"§7.3 state, extra precision (msmart #89)",
     "aa23ac00000000000203c00188647f7f000000000067450c00750000000000000001a3b0", 0x03, 0x02, BodyCheck::crc8,
     AcBodyKind::state},
    {"§7.3 state, extra precision", "aa23ac00000000000203c00188647f7f000080000064450c00501d00000000000001508e", 0x03,
     0x02, BodyCheck::crc8, AcBodyKind::state},
    // Capabilities (0xB5)
    {"§7.3 B5 (midea-ac-py #13)", "aa29ac00000000000303b5071202010113020101140201011502010116020101170201001a020101dedb",
     0x03, 0x03, BodyCheck::crc8, AcBodyKind::capabilities},
    {"§7.3 B5 fan_custom, more pages",
     "aa3dac00000000000203b50a12020101180001001402010115020101160201001a020101100201011f020100250207203c203c203c00400001000100c83a",
     0x03, 0x02, BodyCheck::crc8, AcBodyKind::capabilities},
    {"§7.3 B5 Toshiba window 2019", "aa29ac00000000000303b507120201021402010015020102170201021a0201021002010524020101990d",
     0x03, 0x03, BodyCheck::crc8, AcBodyKind::capabilities},
    {"§7.3 B5 Midea U-shaped 2022",
     "aa39ac00000000000303b50912020102130201001402010015020100170201021a02010010020101250207203c203c203c00240201010102a1a0",
     0x03, 0x03, BodyCheck::crc8, AcBodyKind::capabilities},
    {"§7.3 B5 page 1 (midea-ac-py #60)",
     "aa3dac00000000000303b50a12020101430001011402010115020101160201001a020101100201011f020103250207203c203c203c05400001000100c805",
     0x03, 0x03, BodyCheck::crc8, AcBodyKind::capabilities},
    {"§7.3 B5 page 2", "aa23ac00000000000303b5051e020101130201012202010019020100390001010000febe", 0x03, 0x03,
     BodyCheck::crc8, AcBodyKind::capabilities},
    {"§7.3 B5 aux heat page 1 (midea-ac-py #297)",
     "aa29ac00000000000303b50514020109150201021a020101250207203c203c203c003402010101007b1d", 0x03, 0x03,
     BodyCheck::crc8, AcBodyKind::capabilities},
    {"§7.3 B5 aux heat page 2",
     "aa2fac00000000000303b508100201051f020100300001001302010019020101390001009300010194000101000095ca", 0x03, 0x03,
     BodyCheck::crc8, AcBodyKind::capabilities},
    {"§7.3 B5 flash (midea-ac-py #343)",
     "aa27ac00000000000303b5051f0201002c020101670001011602010451000101e30001010004f564", 0x03, 0x03,
     BodyCheck::crc8, AcBodyKind::capabilities},
    {"§7.3 B5 flash (midea-ac-py #425)",
     "aa56ac00000000000803b51012020100180001001402010115020101160201041a020101100201011f020103250207203c203c203c0551000101e30002080867000102c200010098000101950001019d00010101008b43",
     0x03, 0x08, BodyCheck::crc8, AcBodyKind::capabilities},
    {"§7.3 B5 flash + iECO ECOMaster (midea-ac-py #426)",
     "aa52ac00000000000803b50f120201001402010015020101160201041a02010110020101250207203c203c203c002402010151000101e3000208086700010495000101980001017c000100cd0001000100bd47",
     0x03, 0x08, BodyCheck::crc8, AcBodyKind::capabilities},
    {"§7.3 B5 cascade (midea-ac-py #359)",
     "aa3bac00000000000303b50a1e02010113020101220201001902010039000101580001024200010159000101090001010a000101000000000000cfbf",
     0x03, 0x03, BodyCheck::crc8, AcBodyKind::capabilities},
    {"§7.3 B5 out silent (PortaSplit)",
     "aa2fac00000000000803b5081f0201002c020101160201043900010151000101e300010113020101cd0001030002365b", 0x03, 0x08,
     BodyCheck::crc8, AcBodyKind::capabilities},
    {"§7.3 B5 iECO (msmart #148)", "aa2bac00000000000803b5071f0201002c020101160201043900010151000101e3000101130201010002fa6d",
     0x03, 0x08, BodyCheck::crc8, AcBodyKind::capabilities},
    {"§7.3 B5 notification, frame type 0x05 (msmart #122): not capabilities",
     "aa1aac00000000000205b50310060101090001010a000101dcbcb4", 0x05, 0x02, BodyCheck::crc8,
     AcBodyKind::capabilities_notification},
    // Properties (0xB1/0xB0)
    {"§7.3 B1 (midea-ac-py #60)", "aa21ac00000000000303b10409000001000a00000100150000012b1e020000005fa3", 0x03, 0x03,
     BodyCheck::crc8, AcBodyKind::properties},
    {"§7.3 B0 ack (msmart #97)", "aa18ac00000000000302b0020a0000013209001101000089a4", 0x02, 0x03, BodyCheck::crc8,
     AcBodyKind::properties},
    {"§7.3 B1 LR only (msmart #97)", "aa13ac00000000000303b1010a0000013200c884", 0x03, 0x03, BodyCheck::crc8,
     AcBodyKind::properties},
    {"§7.3 B0 unknown id (midea-ac-py #128)", "aa1bac00000000000202b0021e001004001000001a00000100000e18", 0x02, 0x02,
     BodyCheck::crc8, AcBodyKind::properties},
    {"§7.3 B0 breeze control failed (msmart #161)", "aa18ac00000000000302b00243001101041a00000100002ce5", 0x02, 0x03,
     BodyCheck::crc8, AcBodyKind::properties},
    {"§7.3 B1 breeze away", "aa1cac00000000000303b103430000010218000001004200000000cf0e", 0x03, 0x03,
     BodyCheck::crc8, AcBodyKind::properties},
    {"§7.3 B1 breeze away, no breeze control", "aa1bac00000000000303b1034300000018000000420000010200914e", 0x03, 0x03,
     BodyCheck::crc8, AcBodyKind::properties},
    {"§7.3 B1 breeze mild", "aa1cac00000000000303b1034300000103180000010042000000001ac2", 0x03, 0x03,
     BodyCheck::crc8, AcBodyKind::properties},
    {"§7.3 B1 breezeless", "aa1cac00000000000303b10343000001041800000101420000000034a6", 0x03, 0x03,
     BodyCheck::crc8, AcBodyKind::properties},
    {"§7.3 B1 fresh air high", "aa15ac00000000000303b1014b000003015052001680", 0x03, 0x03, BodyCheck::crc8,
     AcBodyKind::properties},
    {"§7.3 B1 fresh air off", "aa15ac00000000000303b1014b00000300284f00368c", 0x03, 0x03, BodyCheck::crc8,
     AcBodyKind::properties},
    {"§7.3 B1 with a bad CRC, accepted (midea-ac-py #101)", "aa14ac00000000000303b10109000001003c000042", 0x03,
     0x03, BodyCheck::unchecked, AcBodyKind::properties},
    // Group data (0xC1)
    {"§7.3 C1 energy BCD (msmart PR #116)", "aa1fac00000000000303c121014400067920000000000000000000000000aabf", 0x03,
     0x03, BodyCheck::crc8, AcBodyKind::group_data},
    {"§7.3 C1 energy BCD", "aa20ac00000000000203c121014400564a02640000000014ae0000000000041a22", 0x03, 0x02,
     BodyCheck::crc8, AcBodyKind::group_data},
    {"§7.3 C1 energy none", "aa20ac00000000000303c1210144000000000000000000000000000000000843bc", 0x03, 0x03,
     BodyCheck::crc8, AcBodyKind::group_data},
    {"§7.3 C1 energy binary (midea-ac-py #204)", "aa22ac00000000000803c1210144000005e00000000000000006000aeb000000487a5e",
     0x03, 0x08, BodyCheck::crc8, AcBodyKind::group_data},
    {"§7.3 C1 group 5 humidity", "aa20ac00000000000303c12101453f546c005d0a000000de1f0000ba9a0004af9c", 0x03, 0x03,
     BodyCheck::crc8, AcBodyKind::group_data},
    {"§7.3 C1 group 5 no humidity", "aa1fac00000000000303c1210145000000000000000000000000000000001aed", 0x03, 0x03,
     BodyCheck::crc8, AcBodyKind::group_data},
    {"§7.3 C1 group 1, midea-local model 22390001",
     "aa29ac00000000000803c12101412b2b0403d6005446736c260000000000000000000000000000019e8b", 0x03, 0x08,
     BodyCheck::crc8, AcBodyKind::group_data},
    // Commands (§7.4, derived)
    {"§7.4 GetState id 1", "aa21ac00000000000003418100ff03ff0002000000000000000000000000030169fe", 0x03, 0x00,
     BodyCheck::crc8, AcBodyKind::other},
    {"§7.4 GetCapabilities id 1", "aa0fac00000000000003b5010001e5a6", 0x03, 0x00, BodyCheck::crc8,
     AcBodyKind::capabilities},
    {"§7.4 GetCapabilities page 2 id 1", "aa10ac00000000000003b5010101012365", 0x03, 0x00, BodyCheck::crc8,
     AcBodyKind::capabilities},
    {"§7.4 group 4 query id 1", "aa20ac000000000000034121014400000000000000000000000000000000013653", 0x03, 0x00,
     BodyCheck::crc8, AcBodyKind::other},
    {"§7.4 SetState cool 24.5", "aa24ac00000000000002404358667f7f00300000000000000000000000280000000001bed8", 0x02,
     0x00, BodyCheck::crc8, AcBodyKind::other},
    {"§7.4 SetState heat 16", "aa24ac000000000000024043803c7f7f003c0000000000000000000004280000000002d3b4", 0x02,
     0x00, BodyCheck::crc8, AcBodyKind::other},
};

}  // namespace

TEST_CASE("CRC-8/MAXIM and the additive checksum") {
  // Catalogue check value of CRC-8/MAXIM-DOW.
  CHECK(ac_crc8(as_bytes("123456789")) == 0xA1);
  CHECK(ac_crc8({}) == 0x00);
  // docs/midea.md §4.1: table entries 1..7 = 5E BC E2 61 3F DD 83 (the CRC of the single byte i).
  const std::uint8_t table[] = {0x00, 0x5E, 0xBC, 0xE2, 0x61, 0x3F, 0xDD, 0x83};
  for (std::uint8_t i = 0; i < 8; ++i) {
    const std::uint8_t byte[] = {i};
    CAPTURE(int{i});
    CHECK(ac_crc8(byte) == table[i]);
  }
  // msmart test_frame: body 41 81 00 ff 03 ff 00 02 00×12 03, message id 0x11 → CRC 0xF4.
  const Bytes body = hex("418100ff03ff00020000000000000000000000000311");
  CHECK(ac_crc8(body) == 0xF4);
  // Checksum = two's complement of the byte sum.
  CHECK(ac_checksum({}) == 0x00);
  CHECK(ac_checksum(hex("01")) == 0xFF);
  CHECK(ac_checksum(hex("ff01")) == 0x00);
  CHECK(ac_checksum(hex("8000000000")) == 0x80);
}

TEST_CASE("every real frame of §7.3 and §7.4 parses, with its header and body check") {
  for (const FrameVector& vector : kValidFrames) {
    CAPTURE(vector.source, vector.frame);
    const Bytes frame = hex(vector.frame);
    const Result<AcFrame> parsed = parse_ac_frame(frame);
    REQUIRE(parsed.has_value());
    CHECK(parsed->device_type == 0xAC);
    CHECK(parsed->frame_type == vector.frame_type);
    CHECK(parsed->protocol_version == vector.protocol_version);
    CHECK(parsed->body_check == vector.check);
    CHECK(classify_ac_frame(*parsed) == vector.kind);
    // Body = bytes 10 .. n−3 (its CRC and the frame checksum stripped).
    CHECK(parsed->body == Bytes(frame.begin() + 10, frame.end() - 2));
    CHECK(parsed->body_type() == frame[10]);
    // Length byte = size − 1.
    CHECK(frame[1] + 1u == frame.size());
  }
}

TEST_CASE("encode_ac_frame rebuilds every CRC8 frame byte for byte, parse(encode(f)) == f") {
  for (const FrameVector& vector : kValidFrames) {
    CAPTURE(vector.source);
    const Bytes frame = hex(vector.frame);
    const Result<AcFrame> parsed = parse_ac_frame(frame);
    REQUIRE(parsed.has_value());
    const Bytes rebuilt = encode_ac_frame(*parsed);
    if (vector.check == BodyCheck::crc8) CHECK(rebuilt == frame);
    // A frame whose body ended in a checksum (or a bad CRC) comes back with a CRC8: same fields.
    const Result<AcFrame> again = parse_ac_frame(rebuilt);
    REQUIRE(again.has_value());
    AcFrame expected = *parsed;
    expected.body_check = BodyCheck::crc8;
    CHECK(*again == expected);
  }
}

TEST_CASE("header fields the codec does not interpret are carried, never validated") {
  AcFrame frame;
  frame.sync = 0x8D;  // legacy senders: length XOR type (0x21 ^ 0xAC, dudanov MideaUART)
  frame.reserved = {0x01, 0x02, 0x03, 0x04};
  frame.protocol_version = 0x03;
  frame.frame_type = 0x0A;
  frame.body = hex("c0");
  const Bytes bytes = encode_ac_frame(frame);
  REQUIRE(bytes.size() == 13);
  CHECK(to_hex(bytes).substr(0, 20) == "aa0cac8d01020304030a");
  const Result<AcFrame> parsed = parse_ac_frame(bytes);
  REQUIRE(parsed.has_value());
  CHECK(*parsed == frame);
}

TEST_CASE("§7.3 rejects: bad checksum, bad CRC, too short, wrong device type") {
  SECTION("bad frame checksum (msmart test_invalid_checksum): last byte 0xFF") {
    const Bytes frame = hex("aa14ac00000000000303b10109000001003c0000FF");
    const Result<AcFrame> parsed = parse_ac_frame(frame);
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().offset == 20);
    CHECK(parsed.error().kind == ErrorKind::malformed);
    CHECK(parsed.error().what == "bad frame checksum 0xff (expected 0x42)");
  }
  SECTION("state with a bad body CRC (msmart test_properties_response_invalid_crc): not exempt") {
    const Bytes frame = hex("aa22ac00000000000303c0014566000000300010045eff00000000000000000069aa0c");
    const Result<AcFrame> parsed = parse_ac_frame(frame);
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().offset == 33);
    CHECK(parsed.error().what.find("bad body CRC 0xaa (expected CRC8 0xfd") == 0);
  }
  SECTION("too short (msmart #234): 01 00 00 00 has no start byte") {
    const Result<AcFrame> parsed = parse_ac_frame(hex("01000000"));
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().offset == 0);
    CHECK(parsed.error().what == "bad start byte 0x01 (expected 0xaa)");
  }
  SECTION("device type 0xCC (midea-ac-py #374): rejected for an AC, accepted when 0xCC is expected") {
    const Bytes frame = hex(
        "aa63cc0000000000000301fe00000043005000728c8000bc00728c728c808000010141ff0102030006030100000000000000010001"
        "03010000000000000000000001000100010000000000000000000000000001000200000100000101000102ff02ffa2");
    const Result<AcFrame> parsed = parse_ac_frame(frame);
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().offset == 2);
    CHECK(parsed.error().what == "device type 0xcc (expected 0xac)");
    // With 0xCC expected the frame is well formed, but its body check fails: the 0xCC body ends in
    // neither a CRC8 nor a checksum (msmart never got that far either).
    const Result<AcFrame> as_cc = parse_ac_frame(frame, 0xCC);
    REQUIRE_FALSE(as_cc.has_value());
    CHECK(as_cc.error().offset == frame.size() - 2);
  }
  SECTION("empty input") {
    const Result<AcFrame> parsed = parse_ac_frame({});
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().what == "empty frame");
    CHECK(parsed.error().offset == 0);
  }
}

TEST_CASE("every truncation of every valid frame is rejected at the point it ends") {
  for (const FrameVector& vector : kValidFrames) {
    const Bytes frame = hex(vector.frame);
    for (std::size_t size = 0; size < frame.size(); ++size) {
      CAPTURE(vector.source, size);
      const Result<AcFrame> parsed = parse_ac_frame(ByteView(frame).first(size));
      REQUIRE_FALSE(parsed.has_value());
      CHECK(parsed.error().kind == ErrorKind::malformed);
      // Truncations are reported at the end of the data (empty input at 0).
      CHECK(parsed.error().offset == size);
    }
  }
}

TEST_CASE("every single-byte corruption of a valid frame is rejected (the checksum covers all)") {
  for (const FrameVector& vector : kValidFrames) {
    const Bytes frame = hex(vector.frame);
    for (std::size_t i = 0; i < frame.size(); ++i) {
      Bytes corrupt = frame;
      corrupt[i] ^= 0x01;
      CAPTURE(vector.source, i);
      const Result<AcFrame> parsed = parse_ac_frame(corrupt);
      REQUIRE_FALSE(parsed.has_value());
      if (i == 0) CHECK(parsed.error().offset == 0);              // start byte
      if (i == 1) CHECK(parsed.error().what.find("length byte says") != std::string::npos);  // too long / short
      if (i >= 2) CHECK(parsed.error().offset == frame.size() - 1);  // everything else: checksum
    }
  }
}

TEST_CASE("wrong length byte (checksum fixed up) and trailing bytes are rejected") {
  const Bytes frame = hex("aa23ac00000000000303c00145660000003c0010045c6b20000000000000000000020d79");
  SECTION("length byte one too large: the frame looks truncated") {
    Bytes bad = frame;
    bad[1] += 1;
    bad.back() = ac_checksum(ByteView(bad).subspan(1, bad.size() - 2));
    const Result<AcFrame> parsed = parse_ac_frame(bad);
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().what == "truncated frame: length byte says 37 bytes, have 36");
    CHECK(parsed.error().offset == 36);
  }
  SECTION("length byte one too small: one trailing byte") {
    Bytes bad = frame;
    bad[1] -= 1;
    bad.back() = ac_checksum(ByteView(bad).subspan(1, bad.size() - 2));
    const Result<AcFrame> parsed = parse_ac_frame(bad);
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().what == "length byte says 35 bytes, frame has 36 (trailing bytes)");
    CHECK(parsed.error().offset == 35);
  }
  SECTION("a valid frame followed by another byte") {
    Bytes bad = frame;
    bad.push_back(0x00);
    const Result<AcFrame> parsed = parse_ac_frame(bad);
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().offset == frame.size());
  }
  SECTION("length byte below the minimum frame") {
    Bytes bad = hex("aa0bac000000000000030000000000");
    const Result<AcFrame> parsed = parse_ac_frame(bad);
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().offset == 1);
    CHECK(parsed.error().what == "length byte 11 too small: a frame has at least 13 bytes");
  }
}

TEST_CASE("a body ending in the additive checksum is accepted everywhere, a bad one only for B0/B1") {
  // Build a C0 body whose last byte is the checksum, then corrupt it.
  const Bytes body = hex("c0004b1e7f7f00000000006963000000000000");
  AcFrame frame;
  frame.frame_type = 0x03;
  frame.body = body;
  Bytes bytes = encode_ac_frame(frame);
  bytes[bytes.size() - 2] = ac_checksum(body);
  bytes.back() = ac_checksum(ByteView(bytes).subspan(1, bytes.size() - 2));
  CHECK(to_hex(bytes) == "aa1eac00000000000003c0004b1e7f7f000000000069630000000000000d33");  // the §7.3 capture
  const Result<AcFrame> parsed = parse_ac_frame(bytes);
  REQUIRE(parsed.has_value());
  CHECK(parsed->body_check == BodyCheck::checksum);

  for (const std::uint8_t type : {std::uint8_t{0xB0}, std::uint8_t{0xB1}, std::uint8_t{0xB5}, std::uint8_t{0xC1}}) {
    AcFrame other;
    other.frame_type = 0x03;
    other.body = {type, 0x00};
    Bytes wrong = encode_ac_frame(other);
    wrong[wrong.size() - 2] ^= 0x55;  // neither CRC8 nor checksum now
    wrong.back() = ac_checksum(ByteView(wrong).subspan(1, wrong.size() - 2));
    CAPTURE(int{type});
    const Result<AcFrame> result = parse_ac_frame(wrong);
    if (type == 0xB0 || type == 0xB1) {
      REQUIRE(result.has_value());
      CHECK(result->body_check == BodyCheck::unchecked);
    } else {
      REQUIRE_FALSE(result.has_value());
      CHECK(result.error().offset == wrong.size() - 2);
    }
  }
}

TEST_CASE("encode_ac_frame size limits: 1..244 body bytes") {
  AcFrame frame;
  frame.frame_type = 0x03;
  CHECK(encode_ac_frame(frame).empty());  // empty body
  frame.body.assign(kAcMaxBodySize, 0x41);
  const Bytes largest = encode_ac_frame(frame);
  REQUIRE(largest.size() == 256);
  CHECK(largest[1] == 0xFF);
  CHECK(parse_ac_frame(largest).has_value());
  frame.body.push_back(0x00);
  CHECK(encode_ac_frame(frame).empty());  // 245 bytes: the length byte cannot say it
  CHECK(encode_ac_command(FrameType::query, {}, 1).empty());
  const Bytes command(kAcMaxBodySize - 1, 0x41);
  CHECK(encode_ac_command(FrameType::query, command, 1).size() == 256);
  const Bytes too_long(kAcMaxBodySize, 0x41);
  CHECK(encode_ac_command(FrameType::query, too_long, 1).empty());
}

TEST_CASE("classify_ac_frame: unknown body types are 'other', B5 only as a query reply") {
  AcFrame frame;
  frame.frame_type = 0x04;
  frame.body = hex("a1");  // notify1 status body (midea_ac_lan): not decoded here
  CHECK(classify_ac_frame(frame) == AcBodyKind::other);
  frame.body = hex("bb");  // sub-protocol
  CHECK(classify_ac_frame(frame) == AcBodyKind::other);
  frame.body = hex("b5");
  CHECK(classify_ac_frame(frame) == AcBodyKind::capabilities_notification);
  frame.frame_type = 0x03;
  CHECK(classify_ac_frame(frame) == AcBodyKind::capabilities);
  frame.frame_type = 0x02;
  frame.body = hex("c0");
  CHECK(classify_ac_frame(frame) == AcBodyKind::state);  // reply to a set command
  CHECK(ac_body_kind_name(AcBodyKind::capabilities_notification) == "capabilities_notification");
}
