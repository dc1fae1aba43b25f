// Midea AC client commands (protocols/midea/ac_commands.h): byte-exact against msmart-ng's tests and
// the docs/midea.md §7.4 derived vectors, set-state target boundaries, set-state encode ↔ parse.
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <string_view>
#include <vector>

#include "protocols/common/bytes.h"
#include "protocols/midea/ac_commands.h"
#include "protocols/midea/ac_frame.h"

using namespace cloudless;
using namespace cloudless::midea;

namespace {

AcFrame parsed(const Bytes& frame) {
  const Result<AcFrame> result = parse_ac_frame(frame);
  REQUIRE(result.has_value());
  REQUIRE(result->body_check == BodyCheck::crc8);
  return *result;
}

// The state behind the §7.4 SetState vectors: "power on, beep, cool, 24.5, fan 102, swing off, rest off".
AcState vector_state_cool() {
  AcState state;
  state.power = true;
  state.mode = AcMode::cool;
  state.target_temperature = 24.5;
  state.fan_speed = kFanAuto;
  state.target_humidity = 40;  // docs/midea.md §10 errata: msmart's default, sent on every set
  return state;
}

}  // namespace

TEST_CASE("state query: msmart test_frame (message id 0x11) and §7.4 (message id 1)") {
  // msmart TestCommand.test_frame: frame[10:-1] = body + message id + CRC; length byte 0x21; type 0xAC;
  // frame type 0x03.
  const Bytes frame = encode_ac_query_state(0x11);
  CHECK(to_hex(ByteView(frame).subspan(10, frame.size() - 11)) == "418100ff03ff00020000000000000000000000000311f4");
  CHECK(frame[1] == 0x21);
  CHECK(frame[2] == 0xAC);
  CHECK(frame[9] == 0x03);
  CHECK(parse_ac_frame(frame).has_value());
  // §7.4 derived: GetState, message id 1.
  CHECK(to_hex(encode_ac_query_state(1)) == "aa21ac00000000000003418100ff03ff0002000000000000000000000000030169fe");
}

TEST_CASE("§7.4 capabilities queries: first page and the follow-up page") {
  // B5 01 00 + id 01, CRC e5, checksum a6.
  CHECK(to_hex(encode_ac_query_capabilities(1)) == "aa0fac00000000000003b5010001e5a6");
  // B5 01 01 01 + id 01.
  CHECK(to_hex(encode_ac_query_capabilities(1, CapabilitiesPage::additional)) == "aa10ac00000000000003b5010101012365");
}

TEST_CASE("§7.4 group-data query (group 4, id 1) and msmart test_group_command_payload") {
  // 41 21 01 44 00×16 + id 01.
  CHECK(to_hex(encode_ac_query_group_data(4, 1)) == "aa20ac000000000000034121014400000000000000000000000000000000013653");
  for (const std::uint8_t group : {1, 2, 4, 5, 7, 11}) {
    CAPTURE(int{group});
    const AcFrame frame = parsed(encode_ac_query_group_data(group, 7));
    CHECK(frame.frame_type == 0x03);
    REQUIRE(frame.body.size() == 21);
    CHECK(frame.body[3] == (0x40 | group));
    CHECK(frame.body[20] == 7);  // message id
  }
  CHECK(parsed(encode_ac_query_group_data(0x1F, 0)).body[3] == 0x4F);  // masked to 4 bits
}

TEST_CASE("§7.4 set state vectors, byte for byte") {
  SECTION("power on, beep, cool, 24.5, fan 102 (auto), swing off, the rest off, id 1") {
    // 40 43 58 66 7f7f00 30 00 00 00 00×7 00 28 00 00 00 00 | 01 be | d8
    //    43 = power | control source app | beep; 58 = cool (2 << 5) | 0x10 half | 8 (24 − 16)
    CHECK(to_hex(encode_ac_set_state(vector_state_cool(), 1, Beep::on)) ==
          "aa24ac00000000000002404358667f7f00300000000000000000000000280000000001bed8");
  }
  SECTION("heat, 16.0 through the alternate byte (4), fan 60, vertical swing, id 2") {
    AcState state = vector_state_cool();
    state.mode = AcMode::heat;
    state.target_temperature = 16.0;
    state.fan_speed = kFanMedium;
    state.swing_vertical = true;
    // 80 = heat (4 << 5), nibble 0; 3c = fan 60; 3c = 0x30 | 0x0c; idx 18 = 04
    CHECK(to_hex(encode_ac_set_state(state, 2, Beep::on)) ==
          "aa24ac000000000000024043803c7f7f003c0000000000000000000004280000000002d3b4");
  }
}

TEST_CASE("set state: every settable field lands on its bit") {
  const auto body_of = [](const AcState& state, Beep beep = Beep::on) {
    const AcFrame frame = parsed(encode_ac_set_state(state, 9, beep));
    CHECK(frame.frame_type == 0x02);
    REQUIRE(frame.body.size() == 25);
    CHECK(frame.body[24] == 9);  // message id
    return frame.body;
  };
  AcState state = vector_state_cool();
  state.power = false;
  CHECK(body_of(state)[1] == 0x42);
  CHECK(body_of(state, Beep::off)[1] == 0x02);
  state = vector_state_cool();
  state.swing_horizontal = true;
  CHECK(body_of(state)[7] == 0x33);
  state.swing_vertical = true;
  CHECK(body_of(state)[7] == 0x3F);
  state = vector_state_cool();
  state.turbo = true;
  CHECK(body_of(state)[8] == 0x20);
  CHECK(body_of(state)[10] == 0x02);
  state = vector_state_cool();
  state.follow_me = true;
  CHECK(body_of(state)[8] == 0x80);
  state = vector_state_cool();
  state.eco = true;
  state.purifier = true;
  state.aux_heat = true;
  CHECK(body_of(state)[9] == 0xA8);
  state = vector_state_cool();
  state.sleep = true;
  state.fahrenheit = true;
  CHECK(body_of(state)[10] == 0x05);
  state = vector_state_cool();
  state.target_humidity = 55;
  state.freeze_protection = true;
  state.independent_aux_heat = true;
  const Bytes body = body_of(state);
  CHECK(body[19] == 55);
  CHECK(body[21] == 0x80);
  CHECK(body[22] == 0x08);
  // A state that never carried humidity (short C0) sends msmart's default 40; freeze protection off.
  state = vector_state_cool();
  state.target_humidity.reset();
  state.freeze_protection.reset();
  CHECK(body_of(state)[19] == kDefaultTargetHumidity);
  CHECK(body_of(state)[21] == 0x00);
}

TEST_CASE("set state target boundaries: rounded to 0.5, clamped to 13.0..43.5, NaN rejected") {
  struct Row {
    double target;
    std::uint8_t low_bits;   // body[2] & 0x1F: +0.5 bit and nibble
    std::uint8_t alternate;  // body[18]
    double decoded;
  };
  const Row rows[] = {
      {12.0, 0x00, 1, 13.0},   // below the wire range: clamped
      {13.0, 0x00, 1, 13.0},   // lowest the alternate byte carries (13 − 12)
      {15.5, 0x10, 3, 15.5},
      {16.0, 0x00, 4, 16.0},   // int 16 is outside 17..30: alternate byte (the §7.4 vector)
      {16.5, 0x10, 4, 16.5},
      {16.74, 0x10, 4, 16.5},  // nearest half degree
      {16.75, 0x01, 0, 17.0},  // tie rounds up
      {17.0, 0x01, 0, 17.0},   // first primary value
      {24.5, 0x18, 0, 24.5},
      {30.0, 0x0E, 0, 30.0},   // last primary whole degree
      {30.5, 0x1E, 0, 30.5},
      {31.0, 0x00, 19, 31.0},  // back to the alternate byte
      {43.5, 0x10, 31, 43.5},  // highest the alternate byte carries
      {60.0, 0x10, 31, 43.5},  // clamped
      {std::numeric_limits<double>::infinity(), 0x10, 31, 43.5},
      {-std::numeric_limits<double>::infinity(), 0x00, 1, 13.0},
  };
  for (const Row& row : rows) {
    AcState state = vector_state_cool();
    state.target_temperature = row.target;
    CAPTURE(row.target);
    const AcFrame frame = parsed(encode_ac_set_state(state, 1));
    CHECK((frame.body[2] & 0x1F) == row.low_bits);
    CHECK(frame.body[18] == row.alternate);
    CHECK((frame.body[2] >> 5) == static_cast<int>(AcMode::cool));
    const Result<AcSetStateRequest> request = parse_ac_set_state(frame.body);
    REQUIRE(request.has_value());
    CHECK(request->state.target_temperature == row.decoded);
  }
  AcState nan_state = vector_state_cool();
  nan_state.target_temperature = std::numeric_limits<double>::quiet_NaN();
  CHECK(encode_ac_set_state(nan_state, 1).empty());
}

TEST_CASE("encode_ac_set_state ↔ parse_ac_set_state round trip over modes, targets and flags") {
  int count = 0;
  for (unsigned mode = 0; mode < 8; ++mode) {
    for (int halves = 26; halves <= 87; ++halves) {
      for (unsigned flags = 0; flags < 16; ++flags) {
        AcState state;
        state.power = (flags & 1) != 0;
        state.mode = static_cast<AcMode>(mode);
        state.target_temperature = halves / 2.0;
        state.fan_speed = static_cast<std::uint8_t>((halves * 7) % 103);
        state.swing_vertical = (flags & 2) != 0;
        state.swing_horizontal = (flags & 4) != 0;
        state.eco = (flags & 8) != 0;
        state.turbo = halves % 2 == 0;
        state.sleep = halves % 3 == 0;
        state.follow_me = halves % 5 == 0;
        state.purifier = halves % 7 == 0;
        state.aux_heat = mode == 4;
        state.independent_aux_heat = mode == 3;
        state.fahrenheit = flags > 7;
        state.target_humidity = static_cast<std::uint8_t>(halves);
        state.freeze_protection = mode == 5;
        const Beep beep = flags % 3 == 0 ? Beep::off : Beep::on;
        CAPTURE(mode, state.target_temperature, flags);
        const AcFrame frame = parsed(encode_ac_set_state(state, static_cast<std::uint8_t>(count), beep));
        const Result<AcSetStateRequest> request = parse_ac_set_state(frame.body);
        REQUIRE(request.has_value());
        CHECK(request->state == state);
        CHECK(request->beep == beep);
        ++count;
      }
    }
  }
  CHECK(count == 8 * 62 * 16);
}

TEST_CASE("parse_ac_set_state rejects truncations and other bodies") {
  const AcFrame frame = parsed(encode_ac_set_state(vector_state_cool(), 1));
  for (std::size_t size = 0; size < 24; ++size) {
    CAPTURE(size);
    const Result<AcSetStateRequest> request = parse_ac_set_state(ByteView(frame.body).first(size));
    REQUIRE_FALSE(request.has_value());
    CHECK(request.error().offset == size);
  }
  CHECK(parse_ac_set_state(ByteView(frame.body).first(24)).has_value());  // without the message id
  const Result<AcSetStateRequest> query = parse_ac_set_state(parsed(encode_ac_query_state(1)).body);
  REQUIRE_FALSE(query.has_value());
  CHECK(query.error().what == "body type 0x41 is not a set-state command (0x40)");
}

TEST_CASE("display toggle (msmart ToggleDisplayCommand): query frame, 41 42/02 00 ff 02 00 02 …") {
  const AcFrame with_beep = parsed(encode_ac_toggle_display(3, Beep::on));
  CHECK(with_beep.frame_type == 0x03);
  CHECK(to_hex(with_beep.body) == "414200ff0200020000000000000000000000000000" "03");
  const AcFrame silent = parsed(encode_ac_toggle_display(3, Beep::off));
  CHECK(silent.body[1] == 0x02);
  CHECK(silent.body.size() == 22);
}

TEST_CASE("properties get/set commands (msmart TestGetPropertiesCommand / TestSetPropertiesCommand)") {
  SECTION("get: B1, count, ids little endian") {
    const std::uint16_t ids[] = {property_id::kIndoorHumidity, property_id::kSwingVerticalAngle};
    const AcFrame frame = parsed(encode_ac_get_properties(ids, 5));
    CHECK(frame.frame_type == 0x03);
    CHECK(to_hex(frame.body) == "b10215000900" "05");
    CHECK(encode_ac_get_properties({}, 1).empty());
    const std::vector<std::uint16_t> most(120, 0x0009);
    CHECK(encode_ac_get_properties(most, 1).size() == 255);  // 2 + 240 + id = 243 body bytes
    const std::vector<std::uint16_t> too_many(121, 0x0009);
    CHECK(encode_ac_get_properties(too_many, 1).empty());
  }
  SECTION("set: B0, count, id len value (UD 25, LR 75)") {
    const AcPropertyValue values[] = {ac_u8_property(property_id::kSwingVerticalAngle, 25),
                                      ac_u8_property(property_id::kSwingHorizontalAngle, 75)};
    const AcFrame frame = parsed(encode_ac_set_properties(values, 6));
    CHECK(frame.frame_type == 0x02);
    CHECK(to_hex(frame.body) == "b002" "09000119" "0a00014b" "06");
    CHECK(encode_ac_set_properties({}, 1).empty());
    const AcPropertyValue huge[] = {AcPropertyValue{0x0001, Bytes(256, 0)}};
    CHECK(encode_ac_set_properties(huge, 1).empty());
    const std::vector<AcPropertyValue> many(61, ac_u8_property(0x0009, 1));  // 2 + 61·4 = 246 > 243
    CHECK(encode_ac_set_properties(many, 1).empty());
    const std::vector<AcPropertyValue> fits(60, ac_u8_property(0x0009, 1));  // 242 + id = 243
    CHECK(encode_ac_set_properties(fits, 1).size() == 255);
  }
  SECTION("value encodings (msmart TestSetPropertiesCommand.test_encode)") {
    CHECK(ac_breeze_away_property(true).value == Bytes{0x02});
    CHECK(ac_breeze_away_property(false).value == Bytes{0x01});
    CHECK(ac_bool_property(property_id::kBreezeless, true).value == Bytes{0x01});
    CHECK(ac_bool_property(property_id::kBreezeless, false).value == Bytes{0x00});
    CHECK(ac_u8_property(property_id::kBreezeControl, 0x04).value == Bytes{0x04});
    CHECK(ac_u8_property(property_id::kBreezeControl, 0x00).value == Bytes{0x00});
    Bytes ieco_on = {0, 1, 1};
    ieco_on.resize(13, 0);
    CHECK(ac_ieco_property(1, true).value == ieco_on);
    Bytes ieco_off = {0, 1, 0};
    ieco_off.resize(13, 0);
    CHECK(ac_ieco_property(1, false).value == ieco_off);
    CHECK(ac_cascade_property(0).value == (Bytes{0, 0}));
    CHECK(ac_cascade_property(1).value == (Bytes{1, 1}));
    CHECK(ac_cascade_property(2).value == (Bytes{1, 2}));
    CHECK(ac_fresh_air_property(100).value == (Bytes{0x01, 0x64, 0xFF}));
    CHECK(ac_fresh_air_property(60).value == (Bytes{0x01, 0x3C, 0xFF}));
    CHECK(ac_fresh_air_property(0).value == (Bytes{0x00, 0x00, 0xFF}));
    CHECK(ac_out_silent_property(true).value == Bytes{0x03});
    CHECK(ac_out_silent_property(false).value == Bytes{0x00});
    CHECK(ac_buzzer_property(true) == AcPropertyValue{property_id::kBuzzer, {0x01}});
  }
}

TEST_CASE("message ids: carried just before the CRC, any value") {
  for (const unsigned id : {0u, 1u, 0x7Fu, 0xFEu, 0xFFu}) {
    const auto message_id = static_cast<std::uint8_t>(id);
    CAPTURE(id);
    CHECK(parsed(encode_ac_query_state(message_id)).body.back() == message_id);
    CHECK(parsed(encode_ac_query_capabilities(message_id)).body.back() == message_id);
    CHECK(parsed(encode_ac_set_state(vector_state_cool(), message_id)).body.back() == message_id);
    CHECK(parsed(encode_ac_toggle_display(message_id)).body.back() == message_id);
  }
}
