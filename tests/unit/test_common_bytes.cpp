// The byte helpers every codec shares (protocols/common/bytes.h).
#include <catch2/catch.hpp>

#include "protocols/common/bytes.h"

using namespace cloudless;

TEST_CASE("bytes: hex text both ways", "[common][bytes]") {
  CHECK(from_hex("00ff7A") == Bytes{0x00, 0xff, 0x7a});
  CHECK(from_hex("") == Bytes{});
  CHECK_FALSE(from_hex("0").has_value());
  CHECK_FALSE(from_hex("0g").has_value());
  CHECK_FALSE(from_hex("00 ff").has_value());
  CHECK(to_hex(Bytes{0x00, 0xab, 0x10}) == "00ab10");
}

TEST_CASE("bytes: hex literals pad to the digits asked for and never cut", "[common][bytes]") {
  CHECK(hex_literal(0xb5, 2) == "0xb5");
  CHECK(hex_literal(0x7, 2) == "0x07");
  CHECK(hex_literal(0, 4) == "0x0000");
  CHECK(hex_literal(0x0b48, 4, HexCase::upper) == "0x0B48");
  CHECK(hex_literal(0x12345, 4) == "0x12345");
  CHECK(hex_literal(0xdeadbeef, 8) == "0xdeadbeef");
  CHECK(hex_literal(0xffffffffffffffffull, 1) == "0xffffffffffffffff");
}

TEST_CASE("bytes: the reader checks the remaining length before every read", "[common][bytes]") {
  const Bytes data{0x01, 0x02, 0x03, 0x04, 0x05};
  ByteReader reader(data);
  CHECK(reader.u16_be() == 0x0102);
  CHECK(reader.u16_le() == 0x0403);
  CHECK(reader.remaining() == 1);
  CHECK_FALSE(reader.u32_be().has_value());
  CHECK(reader.offset() == 4);  // a failed read consumes nothing
  CHECK(reader.u8() == 0x05);
  CHECK_FALSE(reader.u8().has_value());
  CHECK_FALSE(reader.take(1).has_value());
  CHECK(reader.take(0).has_value());
}
