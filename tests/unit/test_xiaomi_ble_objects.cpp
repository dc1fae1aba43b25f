// MiBeacon object TLVs (research/ble.md §1.5) and the product table (§1.6): every decoded id with
// its exact scale, the per-model rules, wrong lengths and impossible values rejected, unknown ids
// kept raw, TLV structure errors with offsets.
#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <string_view>

#include "protocols/common/bytes.h"
#include "protocols/xiaomi_ble/mibeacon_objects.h"
#include "protocols/xiaomi_ble/products.h"

using namespace cloudless;
using namespace cloudless::xiaomi_ble;

namespace {

Bytes hex(std::string_view text) {
  const std::optional<Bytes> bytes = from_hex(text);
  REQUIRE(bytes.has_value());
  return *bytes;
}

DecodedObjects decode(std::string_view objects, std::uint16_t product_id = 0) {
  const Result<DecodedObjects> decoded = decode_objects(hex(objects), product_id);
  if (!decoded) FAIL(decoded.error().describe());
  return *decoded;
}

struct Expected {
  Quantity quantity;
  double value;
};

// One object → exactly these readings (in order), nothing rejected, nothing raw.
struct Row {
  const char* what;
  std::uint16_t product_id;  // 0: generic rules
  const char* objects;       // id LE, length, data
  std::vector<Expected> readings;
};

// Model ids used below (products.cpp).
constexpr std::uint16_t kMjyd02yl = 0x07F6, kRtcgq02lm = 0x0A8D, kCgpr1 = 0x0A83, kMccgq02hl = 0x098B,
                        kXmosb01xs = 0x4683, kEs3 = 0x50FB;

const std::vector<Row>& rows() {
  static const std::vector<Row> table = {
      {"0x0003 approach event (any byte)", 0, "03000100", {{Quantity::motion_event, 1}}},
      // 0x0e71 = 3697 → 36.97 °C
      {"0x000A body temperature s16/100", 0, "0a0002710e", {{Quantity::temperature, 36.97}}},
      {"0x000F generic: motion only", 0, "0f0003640000", {{Quantity::motion, 1}}},
      {"0x000F MJYD02YL light 100", kMjyd02yl, "0f0003640000", {{Quantity::motion, 1}, {Quantity::light, 1}}},
      {"0x000F MJYD02YL dark 1", kMjyd02yl, "0f0003010000", {{Quantity::motion, 1}, {Quantity::light, 0}}},
      {"0x000F RTCGQ02LM light 256", kRtcgq02lm, "0f0003000100", {{Quantity::motion, 1}, {Quantity::light, 1}}},
      {"0x000F RTCGQ02LM dark 0", kRtcgq02lm, "0f0003000000", {{Quantity::motion, 1}, {Quantity::light, 0}}},
      // u24 0x012c0a = 76810 lx
      {"0x000F CGPR1 lux u24", kCgpr1, "0f00030a2c01", {{Quantity::motion, 1}, {Quantity::illuminance, 76810}}},
      {"0x0010 toothbrush on, counter", 0, "1000020003", {{Quantity::toothbrush, 1}, {Quantity::toothbrush_counter, 3}}},
      {"0x0010 toothbrush off, score", 0, "1000020153", {{Quantity::toothbrush, 0}, {Quantity::toothbrush_score, 83}}},
      {"0x0010 toothbrush on, no counter", 0, "10000100", {{Quantity::toothbrush, 1}}},
      {"0x1004 temperature s16/10", 0, "041002e200", {{Quantity::temperature, 22.6}}},
      // 0xff9c = −100 → −10.0 °C
      {"0x1004 negative temperature", 0, "0410029cff", {{Quantity::temperature, -10.0}}},
      {"0x1005 kettle idle 40 °C", 0, "0510020028", {{Quantity::kettle_state, 0}, {Quantity::temperature, 40}}},
      {"0x1005 kettle error", 0, "0510020464", {{Quantity::kettle_state, 4}, {Quantity::temperature, 100}}},
      {"0x1006 humidity u16/10", 0, "061002d301", {{Quantity::humidity, 46.7}}},
      {"0x1006 humidity 100.0", 0, "061002e803", {{Quantity::humidity, 100.0}}},
      // 0x0003e8 = 1000 lx
      {"0x1007 illuminance u24", 0, "071003e80300", {{Quantity::illuminance, 1000}}},
      {"0x1007 illuminance max u24", 0, "071003ffffff", {{Quantity::illuminance, 16777215}}},
      {"0x1007 MJYD02YL light", kMjyd02yl, "0710036400 00", {{Quantity::light, 1}}},
      {"0x1007 MCCGQ02HL dark", kMccgq02hl, "071003000000", {{Quantity::light, 0}}},
      {"0x1008 moisture %", 0, "08100140", {{Quantity::moisture, 64}}},
      {"0x1009 conductivity u16", 0, "0910025702", {{Quantity::conductivity, 599}}},
      {"0x100A battery %", 0, "0a10013b", {{Quantity::battery, 59}}},
      {"0x100A battery 0 %", 0, "0a100100", {{Quantity::battery, 0}}},
      {"0x100D temperature + humidity", 0, "0d1004b4009502", {{Quantity::temperature, 18.0}, {Quantity::humidity, 66.1}}},
      {"0x100D below zero", 0, "0d1004ceff2003", {{Quantity::temperature, -5.0}, {Quantity::humidity, 80.0}}},
      {"0x1010 formaldehyde u16/100", 0, "1010027d00", {{Quantity::formaldehyde, 1.25}}},
      {"0x1012 switch on", 0, "12100101", {{Quantity::power, 1}}},
      {"0x1012 switch off", 0, "12100100", {{Quantity::power, 0}}},
      {"0x1013 consumable %", 0, "1310015a", {{Quantity::consumable, 90}}},
      {"0x1014 water leak", 0, "14100101", {{Quantity::water_leak, 1}}},
      {"0x1014 dry", 0, "14100100", {{Quantity::water_leak, 0}}},
      {"0x1015 smoke", 0, "15100101", {{Quantity::smoke, 1}}},
      {"0x1015 no smoke", 0, "15100100", {{Quantity::smoke, 0}}},
      {"0x1017 30 s since motion = motion", 0, "1710041e000000", {{Quantity::motion, 1}, {Quantity::no_motion_time, 30}}},
      {"0x1017 31 s since motion = clear", 0, "1710041f000000", {{Quantity::motion, 0}, {Quantity::no_motion_time, 31}}},
      {"0x1017 u32 max", 0, "171004ffffffff", {{Quantity::motion, 0}, {Quantity::no_motion_time, 4294967295.0}}},
      {"0x1018 light", 0, "18100101", {{Quantity::light, 1}}},
      {"0x1018 dark", 0, "18100100", {{Quantity::light, 0}}},
      {"0x1019 open", 0, "19100100", {{Quantity::opening, 1}}},
      {"0x1019 closed", 0, "19100101", {{Quantity::opening, 0}, {Quantity::door_left_open, 0}}},
      {"0x1019 left open", 0, "19100102", {{Quantity::opening, 1}, {Quantity::door_left_open, 1}}},
      {"0x1019 device reset: nothing", 0, "19100103", {}},
      {"0x101B no motion for 60 s", 0, "1b10043c000000", {{Quantity::motion, 0}, {Quantity::no_motion_time, 60}}},
      {"0x2000 body temperature + battery", 0, "002005c60d630d51",
       {{Quantity::temperature, 36.87199806168224}, {Quantity::battery, 81}}},
      {"0x3003 brushing started", 0, "033005006a9d6453", {{Quantity::toothbrush, 1}}},
      {"0x3003 brushing ended, score", 0, "0330060103629d6453", {{Quantity::toothbrush, 0}, {Quantity::toothbrush_score, 83}}},
      {"0x4801 temperature float", 0, "0148046666be41", {{Quantity::temperature, 23.8}}},
      // −12.5 = 0xc1480000
      {"0x4801 negative float", 0, "014804000048c1", {{Quantity::temperature, -12.5}}},
      {"0x4802 humidity u8", 0, "02480127", {{Quantity::humidity, 39}}},
      {"0x4803 battery", 0, "03480164", {{Quantity::battery, 100}}},
      {"0x4804 open", 0, "04480101", {{Quantity::opening, 1}}},
      {"0x4804 closed", 0, "04480102", {{Quantity::opening, 0}, {Quantity::door_left_open, 0}}},
      // 123.5 = 0x42f70000
      {"0x4805 illuminance float", 0, "0548040000f742", {{Quantity::illuminance, 123.5}}},
      {"0x4806 wet", 0, "06480101", {{Quantity::water_leak, 1}}},
      // 45.5 = 0x42360000
      {"0x4808 humidity float", 0, "08480400003642", {{Quantity::humidity, 45.5}}},
      {"0x4818 no motion u16", 0, "1848023c00", {{Quantity::motion, 0}, {Quantity::no_motion_time, 60}}},
      {"0x4818 motion now", 0, "1848020000", {{Quantity::motion, 1}, {Quantity::no_motion_time, 0}}},
      {"0x483C pressure present", 0, "3c480101", {{Quantity::occupancy, 1}}},
      {"0x483D present for u32 s", 0, "3d480410270000", {{Quantity::pressure_present_time, 10000}}},
      {"0x483E absent for u32 s", 0, "3e480478000000", {{Quantity::pressure_absent_time, 120}}},
      {"0x484E ES3 occupied", kEs3, "4e48011f", {{Quantity::occupancy, 1}}},
      {"0x484E generic 2 = occupied", 0, "4e480102", {{Quantity::occupancy, 1}}},
      {"0x484E XMOSB01XS 2 = clear", kXmosb01xs, "4e480102", {{Quantity::occupancy, 0}}},
      {"0x484E XMOSB01XS 1 = occupied", kXmosb01xs, "4e480101", {{Quantity::occupancy, 1}}},
      {"0x4A01 low battery", 0, "014a0101", {{Quantity::low_battery, 1}}},
      {"0x4A08 motion + lux float", 0, "084a0400004c42", {{Quantity::motion, 1}, {Quantity::illuminance, 51}}},
      {"0x4A0F forcibly removed", 0, "0f4a0101", {{Quantity::opening, 1}, {Quantity::tamper, 1}}},
      {"0x4A0F not removed", 0, "0f4a0100", {{Quantity::tamper, 0}}},
      {"0x4A12 opened", 0, "124a0101", {{Quantity::opening, 1}}},
      {"0x4A12 closed", 0, "124a0102", {{Quantity::opening, 0}, {Quantity::door_left_open, 0}}},
      {"0x4A1A left open", 0, "1a4a0101", {{Quantity::opening, 1}, {Quantity::door_left_open, 1}}},
      {"0x4A1A not left open", 0, "1a4a0100", {{Quantity::door_left_open, 0}}},
      {"0x4C01 temperature float", 0, "014c04cdccd041", {{Quantity::temperature, 26.1}}},
      {"0x4C02 humidity u8", 0, "024c013a", {{Quantity::humidity, 58}}},
      {"0x4C03 battery", 0, "034c0155", {{Quantity::battery, 85}}},
      {"0x4C08 humidity float", 0, "084c0400003442", {{Quantity::humidity, 45.0}}},
  };
  return table;
}

void check_rows() {
  for (const Row& row : rows()) {
    CAPTURE(row.what, row.objects);
    std::string compact;
    for (const char c : std::string_view(row.objects)) {
      if (c != ' ') compact.push_back(c);
    }
    const DecodedObjects decoded = decode(compact, row.product_id);
    CHECK(decoded.rejected.empty());
    CHECK(decoded.raw.empty());
    REQUIRE(decoded.readings.size() == row.readings.size());
    for (std::size_t i = 0; i < row.readings.size(); ++i) {
      CAPTURE(i);
      CHECK(decoded.readings[i].quantity == row.readings[i].quantity);
      CHECK(decoded.readings[i].value == Approx(row.readings[i].value).epsilon(1e-12));
      CHECK(decoded.readings[i].object_id == (hex(compact)[0] | hex(compact)[1] << 8));
    }
  }
}

}  // namespace

TEST_CASE("objects: quantity names, units and kinds", "[xiaomi_ble][objects]") {
  CHECK(quantity_info(Quantity::temperature).unit == "°C");
  CHECK(quantity_info(Quantity::humidity).unit == "%");
  CHECK(quantity_info(Quantity::illuminance).unit == "lx");
  CHECK(quantity_info(Quantity::conductivity).unit == "µS/cm");
  CHECK(quantity_info(Quantity::formaldehyde).unit == "mg/m³");
  CHECK(quantity_info(Quantity::no_motion_time).unit == "s");
  CHECK(quantity_info(Quantity::opening).kind == ValueKind::binary);
  CHECK(quantity_info(Quantity::button).kind == ValueKind::event);
  CHECK(quantity_info(Quantity::motion_event).kind == ValueKind::event);
  CHECK(quantity_name(Quantity::door_left_open) == "door_left_open");
  CHECK(quantity_name(Quantity::button) == "button");
  // Names are unique (they become MQTT attribute names).
  std::set<std::string_view> names;
  for (int q = 0; q <= static_cast<int>(Quantity::button); ++q) names.insert(quantity_name(static_cast<Quantity>(q)));
  CHECK(names.size() == static_cast<std::size_t>(Quantity::button) + 1);
  CHECK(press_kind_name(PressKind::single) == "single");
  CHECK(press_kind_name(PressKind::double_press) == "double");
  CHECK(press_kind_name(PressKind::long_press) == "long");
  CHECK(press_kind_name(PressKind::rotate) == "rotate");
  CHECK(press_kind_name(PressKind::rotate_while_pressed) == "rotate_pressed");
}

TEST_CASE("objects: every decoded id with its exact scale", "[xiaomi_ble][objects]") { check_rows(); }

TEST_CASE("objects: buttons, presses and dimmers", "[xiaomi_ble][objects]") {
  struct Press {
    const char* what;
    std::uint16_t product_id;
    const char* objects;
    ButtonEvent expected;
  };
  const Press presses[] = {
      // 0x1001: index, value, press type
      {"single", 0, "011003020000", {2, PressKind::single, 0}},
      {"double", 0, "011003010001", {1, PressKind::double_press, 0}},
      {"long", 0, "011003000002", {0, PressKind::long_press, 0}},
      {"type 5 = single", 0, "011003030005", {3, PressKind::single, 0}},
      {"type 6 = long", 0, "011003030006", {3, PressKind::long_press, 0}},
      // K9B switches swap 1 and 2 (xiaomi-ble btn_switch_press_type)
      {"K9B-2BTN type 1 = long", 0x1569, "011003010001", {1, PressKind::long_press, 0}},
      {"K9B-3BTN type 2 = double", 0x0DFD, "011003000002", {0, PressKind::double_press, 0}},
      // dimmer (YLKG07YL): 3 = press (index 0: count, 1: seconds held), 4 = rotate
      {"dimmer 3 presses", 0x03B6, "011003000303", {0, PressKind::single, 3}},
      {"dimmer held 2 s", 0x03B6, "011003010203", {0, PressKind::long_press, 2}},
      {"dimmer right 2", 0x03B6, "011003000204", {0, PressKind::rotate, 2}},
      {"dimmer left 1", 0x03B6, "01100300ff04", {0, PressKind::rotate, -1}},
      {"dimmer pressed right 3", 0x03B6, "011003030004", {0, PressKind::rotate_while_pressed, 3}},
      {"dimmer pressed left 2", 0x03B6, "011003fe0004", {0, PressKind::rotate_while_pressed, -2}},
      // MIoT press objects: no data (index 0) or an index byte
      {"0x4A0C empty", 0, "0c4a00", {0, PressKind::single, 0}},
      {"0x4A0D right", 0x5968, "0d4a0101", {1, PressKind::double_press, 0}},
      {"0x4A0E", 0, "0e4a00", {0, PressKind::long_press, 0}},
      {"0x4E0C XMWXKG01YL both", 0x1949, "0c4e0103", {3, PressKind::single, 0}},
      {"0x4E0D", 0, "0d4e00", {0, PressKind::double_press, 0}},
      {"0x4E0E", 0, "0e4e0102", {2, PressKind::long_press, 0}},
      {"0x560C", 0, "0c5600", {0, PressKind::single, 0}},
      {"0x560D", 0, "0d560104", {4, PressKind::double_press, 0}},
      {"0x560E", 0, "0e5600", {0, PressKind::long_press, 0}},
      // K9BB-1BTN codes its press kind in the 0x4E0C byte
      {"K9BB 1 = single", 0x1C10, "0c4e0101", {0, PressKind::single, 0}},
      {"K9BB 8 = long", 0x1C10, "0c4e0108", {0, PressKind::long_press, 0}},
      {"K9BB 15 = double", 0x1C10, "0c4e010f", {0, PressKind::double_press, 0}},
      {"0x4A13 MS1BB button", 0, "134a0101", {0, PressKind::single, 0}},
  };
  for (const Press& press : presses) {
    CAPTURE(press.what);
    const DecodedObjects decoded = decode(press.objects, press.product_id);
    CHECK(decoded.rejected.empty());
    REQUIRE(decoded.readings.size() == 1);
    CHECK(decoded.readings[0].quantity == Quantity::button);
    CHECK(decoded.readings[0].value == 1);
    CHECK(decoded.readings[0].button == press.expected);
    REQUIRE(decoded.button_event());
    CHECK(*decoded.button_event() == press.expected);
  }
}

TEST_CASE("objects: wrong lengths of every decoded id are rejected", "[xiaomi_ble][objects]") {
  // id → accepted data lengths (everything from 0 to 8 outside them must be rejected).
  struct Lengths {
    std::uint16_t id;
    std::size_t min, max;
  };
  const Lengths lengths[] = {
      {0x0003, 1, 1}, {0x000A, 2, 2}, {0x000F, 3, 3}, {0x0010, 1, 2}, {0x1001, 3, 3}, {0x1004, 2, 2},
      {0x1005, 2, 2}, {0x1006, 2, 2}, {0x1007, 3, 3}, {0x1008, 1, 1}, {0x1009, 2, 2}, {0x100A, 1, 1},
      {0x100D, 4, 4}, {0x1010, 2, 2}, {0x1012, 1, 1}, {0x1013, 1, 1}, {0x1014, 1, 1}, {0x1015, 1, 1},
      {0x1017, 4, 4}, {0x1018, 1, 1}, {0x1019, 1, 1}, {0x101B, 4, 4}, {0x2000, 5, 5}, {0x3003, 5, 6},
      {0x4801, 4, 4}, {0x4802, 1, 1}, {0x4803, 1, 1}, {0x4804, 1, 1}, {0x4805, 4, 4}, {0x4806, 1, 1},
      {0x4808, 4, 4}, {0x4818, 2, 2}, {0x483C, 1, 1}, {0x483D, 4, 4}, {0x483E, 4, 4}, {0x484E, 1, 1},
      {0x4A01, 1, 1}, {0x4A08, 4, 4}, {0x4A0C, 0, 1}, {0x4A0D, 0, 1}, {0x4A0E, 0, 1}, {0x4A0F, 1, 1},
      {0x4A12, 1, 1}, {0x4A13, 1, 1}, {0x4A1A, 1, 1}, {0x4C01, 4, 4}, {0x4C02, 1, 1}, {0x4C03, 1, 1},
      {0x4C08, 4, 4}, {0x4E0C, 0, 1}, {0x4E0D, 0, 1}, {0x4E0E, 0, 1}, {0x560C, 0, 1}, {0x560D, 0, 1},
      {0x560E, 0, 1},
  };
  for (const Lengths& entry : lengths) {
    for (std::size_t size = 0; size <= 8; ++size) {
      CAPTURE(entry.id, size);
      // Data bytes chosen so every accepted length decodes (0x01: valid state/percent values).
      const std::vector<Object> objects = {{entry.id, 0, Bytes(size, 0x01)}};
      const DecodedObjects decoded = decode_objects(objects, 0);
      CHECK(decoded.raw.empty());
      const bool fits = size >= entry.min && size <= entry.max;
      if (fits) {
        CHECK(decoded.rejected.empty());
        CHECK_FALSE(decoded.readings.empty());
        continue;
      }
      REQUIRE(decoded.rejected.size() == 1);
      CHECK(decoded.readings.empty());
      CHECK(decoded.rejected[0].id == entry.id);
      CHECK_THAT(decoded.rejected[0].reason, Catch::Contains("data bytes, expected"));
    }
  }
}

TEST_CASE("objects: impossible values are rejected, not published", "[xiaomi_ble][objects]") {
  struct Bad {
    const char* what;
    std::uint16_t product_id;
    const char* objects;
    const char* says;
  };
  const Bad bad[] = {
      {"battery 101 %", 0, "0a100165", "outside 0..100"},
      {"humidity 100.1 %", 0, "061002e903", "outside 0..100"},
      {"0x100D humidity 6553.5 %", 0, "0d1004b400ffff", "outside 0..100"},
      {"moisture 200 %", 0, "081001c8", "outside 0..100"},
      {"consumable 255 %", 0, "131001ff", "outside 0..100"},
      {"0x4802 humidity 101", 0, "02480165", "outside 0..100"},
      {"0x4C03 battery 200", 0, "034c01c8", "outside 0..100"},
      {"0x2000 battery 255", 0, "002005c60d630dff", "outside 0..100"},
      {"float NaN", 0, "0148040000c07f", "not a finite number"},
      {"float +inf", 0, "0148040000807f", "not a finite number"},
      {"humidity float 150", 0, "08480400001643", "outside 0..100"},
      {"negative illuminance", 0, "054804000080bf", "negative illuminance"},
      {"door state 4", 0, "19100104", "unknown door state"},
      {"opening state 0", 0, "04480100", "unknown opening state"},
      {"opening event 3", 0, "124a0103", "unknown opening state"},
      {"kettle state 5", 0, "0510020528", "unknown kettle state"},
      {"brushing state 2", 0, "033005026a9d6453", "unknown brushing state"},
      {"press type 7", 0, "011003000007", "unknown press type"},
      {"dimmer press index 2", 0, "011003020103", "unknown index"},
      {"0x4A13 value 0", 0, "134a0100", "unknown button value"},
      {"K9BB code 2", 0x1C10, "0c4e0102", "unknown K9BB press code"},
  };
  for (const Bad& entry : bad) {
    CAPTURE(entry.what);
    const DecodedObjects decoded = decode(entry.objects, entry.product_id);
    REQUIRE(decoded.rejected.size() == 1);
    CHECK_THAT(decoded.rejected[0].reason, Catch::Contains(entry.says));
    // A partly good object (0x100D with a bad humidity, 0x2000 with a bad battery) keeps its good
    // part; a wholly bad one gives nothing.
    for (const Reading& reading : decoded.readings) {
      CHECK((reading.quantity == Quantity::temperature || reading.quantity == Quantity::humidity ||
             reading.quantity == Quantity::battery));
    }
  }
  // The good halves above: 0x100D temperature stays, 0x2000 body temperature stays.
  CHECK(decode("0d1004b400ffff").value(Quantity::temperature) == Approx(18.0));
  CHECK_FALSE(decode("0d1004b400ffff").value(Quantity::humidity));
  CHECK(decode("002005c60d630dff").value(Quantity::temperature) == Approx(36.87199806168224));
  CHECK_FALSE(decode("002005c60d630dff").value(Quantity::battery));
}

TEST_CASE("objects: unknown and undecoded ids are kept raw", "[xiaomi_ble][objects]") {
  // 0x9999 unknown; 0x000B lock event (9 bytes), 0x4E16 scale: known upstream, not decoded here.
  const DecodedObjects decoded = decode("99990201020b000911223344556677889a164e0100");
  CHECK(decoded.readings.empty());
  CHECK(decoded.rejected.empty());
  REQUIRE(decoded.raw.size() == 3);
  CHECK(decoded.raw[0] == Object{0x9999, 0, hex("0102")});
  CHECK(decoded.raw[1] == Object{0x000B, 5, hex("11223344556677889a")});
  CHECK(decoded.raw[2] == Object{0x4E16, 17, hex("00")});
  // Mixed with a known object, order is kept within each list.
  const DecodedObjects mixed = decode("9999000a10013b");
  REQUIRE(mixed.raw.size() == 1);
  CHECK(mixed.raw[0].id == 0x9999);
  CHECK(mixed.value(Quantity::battery) == 59);
}

TEST_CASE("objects: TLV structure", "[xiaomi_ble][objects]") {
  // Empty: no objects.
  Result<std::vector<Object>> split = split_objects({});
  REQUIRE(split);
  CHECK(split->empty());
  // Several objects, including a zero-length one, with their offsets.
  split = split_objects(hex("0c4e000d1004b40095020a10013b"));
  REQUIRE(split);
  REQUIRE(split->size() == 3);
  CHECK((*split)[0] == Object{0x4E0C, 0, {}});
  CHECK((*split)[1] == Object{0x100D, 3, hex("b4009502")});
  CHECK((*split)[2] == Object{0x100A, 10, hex("3b")});
  // A length running past the end: malformed at that object's header.
  split = split_objects(hex("0a10013b0d1005b4009502"));
  REQUIRE_FALSE(split);
  CHECK(split.error().offset == 4);
  CHECK(split.error().kind == ErrorKind::malformed);
  CHECK_THAT(split.error().what, Catch::Contains("0x100d"));
  // One or two bytes that cannot hold a header.
  for (const char* tail : {"0a10013b0d", "0a10013b0d10", "0d", "0d10"}) {
    CAPTURE(tail);
    split = split_objects(hex(tail));
    REQUIRE_FALSE(split);
    CHECK(split.error().offset == (std::string_view(tail).size() > 4 ? 4u : 0u));
    CHECK_THAT(split.error().what, Catch::Contains("trailing"));
  }
  // Every truncation of a multi-object payload: an error, or exactly the objects before the cut.
  const Bytes payload = hex("0d1004b40095020a10013b0c4e00");
  const std::vector<Object> all = *split_objects(payload);
  for (std::size_t size = 0; size < payload.size(); ++size) {
    CAPTURE(size);
    const Result<std::vector<Object>> cut = split_objects(ByteView(payload).first(size));
    if (!cut) {
      CHECK(cut.error().offset < size);
      continue;
    }
    CHECK(std::equal(cut->begin(), cut->end(), all.begin()));
    CHECK(cut->size() < all.size());
  }
  // decode_objects(ByteView) passes the structure error on.
  CHECK_FALSE(decode_objects(hex("0d1005b4009502"), 0));
}

// ---- products ----------------------------------------------------------------------------------

TEST_CASE("products: table invariants", "[xiaomi_ble][products]") {
  const std::vector<Product>& table = products();
  REQUIRE(table.size() >= 80);
  std::set<std::uint16_t> ids;
  for (std::size_t i = 0; i < table.size(); ++i) {
    const Product& product = table[i];
    CAPTURE(product.product_id, product.model);
    CHECK(ids.insert(product.product_id).second);  // unique
    if (i > 0) CHECK(table[i - 1].product_id < product.product_id);  // sorted for the lookup
    CHECK_FALSE(product.model.empty());
    CHECK_FALSE(product.name.empty());
    CHECK(find_product(product.product_id) == &product);
    std::set<Quantity> seen(product.quantities.begin(), product.quantities.end());
    CHECK(seen.size() == product.quantities.size());  // no quantity twice
  }
  CHECK(find_product(0xFFFF) == nullptr);  // V42
  CHECK(find_product(0x0000) == nullptr);
  CHECK(key_need_name(KeyNeed::bind_key) == "bind_key");
  CHECK(key_need_name(KeyNeed::legacy_key) == "legacy_key");
  CHECK(key_need_name(KeyNeed::none) == "none");
  CHECK(key_need_name(KeyNeed::unknown) == "unknown");
}

TEST_CASE("products: research §1.6 rows", "[xiaomi_ble][products]") {
  struct Expect {
    std::uint16_t id;
    const char* model;
    KeyNeed key;
    bool sleepy;
    std::vector<Quantity> sends;
  };
  const Expect expected[] = {
      {0x01AA, "LYWSDCGQ", KeyNeed::none, false, {Quantity::temperature, Quantity::humidity, Quantity::battery}},
      {0x045B, "LYWSD02", KeyNeed::none, false, {Quantity::temperature}},
      {0x16E4, "LYWSD02MMC", KeyNeed::bind_key, false, {Quantity::humidity}},
      {0x2542, "LYWSD02MMC", KeyNeed::bind_key, false, {Quantity::temperature}},
      {0x055B, "LYWSD03MMC", KeyNeed::bind_key, false, {Quantity::temperature, Quantity::humidity, Quantity::battery}},
      {0x0387, "MHO-C401", KeyNeed::bind_key, false, {Quantity::temperature}},
      {0x0347, "CGG1", KeyNeed::none, false, {Quantity::humidity}},
      {0x0B48, "CGG1-ENCRYPTED", KeyNeed::bind_key, false, {Quantity::humidity}},
      {0x066F, "CGDK2", KeyNeed::bind_key, false, {Quantity::temperature}},
      {0x4F59, "CGDK3", KeyNeed::bind_key, false, {Quantity::temperature}},
      {0x03D6, "CGH1", KeyNeed::none, true, {Quantity::opening}},
      {0x0A83, "CGPR1", KeyNeed::unknown, true, {Quantity::motion, Quantity::illuminance}},
      {0x1203, "XMWSDJ04MMC", KeyNeed::bind_key, false, {Quantity::humidity}},
      {0x2832, "MJWSD05MMC", KeyNeed::bind_key, false, {Quantity::temperature}},
      {0x4C47, "MJWSD05MMC", KeyNeed::bind_key, false, {Quantity::temperature}},
      {0x55B5, "MJWSD06MMC", KeyNeed::bind_key, false, {Quantity::humidity}},
      {0x5BEA, "MJWSD06MMC", KeyNeed::bind_key, false, {Quantity::humidity}},
      {0x78DB, "ESM787", KeyNeed::none, false, {Quantity::temperature}},
      {0x098B, "MCCGQ02HL", KeyNeed::bind_key, true, {Quantity::opening, Quantity::door_left_open}},
      {0x07F6, "MJYD02YL", KeyNeed::unknown, true, {Quantity::motion, Quantity::light}},
      {0x0A8D, "RTCGQ02LM", KeyNeed::bind_key, true, {Quantity::motion, Quantity::light}},
      {0x3531, "XMPIRO2SXS", KeyNeed::bind_key, true, {Quantity::motion, Quantity::illuminance}},
      {0x4683, "XMOSB01XS", KeyNeed::bind_key, true, {Quantity::occupancy}},
      {0x03DD, "MUE4094RT", KeyNeed::none, true, {Quantity::motion_event}},
      {0x0098, "HHCCJCY01", KeyNeed::none, false, {Quantity::moisture, Quantity::conductivity, Quantity::illuminance}},
      {0x015D, "HHCCPOT002", KeyNeed::none, false, {Quantity::moisture, Quantity::conductivity}},
      {0x02DF, "JQJCY01YM", KeyNeed::none, false, {Quantity::formaldehyde}},
      {0x0997, "JTYJGD03MI", KeyNeed::bind_key, true, {Quantity::smoke}},
      {0x6375, "SJWS02LM", KeyNeed::bind_key, true, {Quantity::water_leak}},
      {0x0083, "YM-K1501", KeyNeed::none, false, {Quantity::kettle_state, Quantity::temperature}},
      {0x040A, "WX08ZM", KeyNeed::none, false, {Quantity::consumable}},
      {0x0153, "YLYK01YL", KeyNeed::legacy_key, true, {Quantity::button}},
      {0x03B6, "YLKG07YL/YLKG08YL", KeyNeed::legacy_key, true, {Quantity::button}},
      {0x2387, "XMWXKG01LM", KeyNeed::bind_key, true, {Quantity::button}},
      {0x1889, "MS1BB(MI)", KeyNeed::bind_key, true, {Quantity::opening, Quantity::tamper}},
      {0x2AEB, "HS1BB(MI)", KeyNeed::bind_key, true, {Quantity::motion, Quantity::no_motion_time}},
      {0x3F4C, "PS1BB", KeyNeed::bind_key, true, {Quantity::occupancy, Quantity::battery}},
      {0x50FB, "ES3", KeyNeed::bind_key, true, {Quantity::occupancy}},
      {0x0806, "T700", KeyNeed::bind_key, true, {Quantity::toothbrush, Quantity::toothbrush_score}},
      {0x0489, "M1S-T500", KeyNeed::none, true, {Quantity::toothbrush_counter}},
      {0x00DB, "MMC-T201-1", KeyNeed::none, false, {Quantity::temperature, Quantity::battery}},
  };
  for (const Expect& row : expected) {
    CAPTURE(row.id, row.model);
    const Product* product = find_product(row.id);
    REQUIRE(product != nullptr);
    CHECK(product->model == row.model);
    CHECK(product->key == row.key);
    CHECK(product->sleepy == row.sleepy);
    for (const Quantity quantity : row.sends) CHECK(product->sends(quantity));
  }
  // A thermometer does not claim a door.
  CHECK_FALSE(find_product(0x055B)->sends(Quantity::opening));
}
