// MiBeacon object TLVs (docs/ble.md §1.5) and the product table (§1.6): every decoded id with
// its exact scale, the per-model rules, wrong lengths and impossible values rejected, unknown ids
// kept raw, TLV structure errors with offsets.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocols/common/bytes.h"
#include "protocols/xiaomi_ble/codec/mibeacon_objects.h"
#include "protocols/xiaomi_ble/codec/products.h"
#include "tests/unit/test_support.h"

using namespace cloudless;
using namespace cloudless::xiaomi_ble;
using cloudless::test::hex;

namespace {

// `objects` may have spaces between objects, for reading.
DecodedObjects decode(std::string_view objects, std::uint16_t product_id = 0) {
  std::string compact;
  for (const char c : objects) {
    if (c != ' ') compact.push_back(c);
  }
  const Result<DecodedObjects> decoded = decode_objects(hex(compact), product_id);
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

// Model ids used below (products.cpp). Device-specific ids (0x4800 and up) need a product that
// defines them.
constexpr std::uint16_t kMjyd02yl = 0x07F6, kRtcgq02lm = 0x0A8D, kCgpr1 = 0x0A83, kMccgq02hl = 0x098B,
                        kXmosb01xs = 0x4683, kEs3 = 0x50FB, kCgdk3 = 0x4F59, kMjwsd06mmc = 0x55B5,
                        kPs1bb = 0x3F4C, kMs1bb = 0x1889, kRs1bb = 0x3F0F, kHs1bb = 0x2AEB, kEs5bb = 0x6A0F,
                        kLywsd02mmc = 0x16E4, kXmwsdj04mmc = 0x1203, kSjws02lm = 0x6375, kMcComm = 0x78D1,
                        kZnms16lm = 0x069E, kZnms17lm = 0x069F, kSv40 = 0x11C2, kDslC08 = 0x0380,
                        kS200 = 0x4C04, kS400 = 0x3BD5, kYlyk01yl = 0x0153;

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
      {"0x4801 temperature float", kCgdk3, "0148046666be41", {{Quantity::temperature, 23.8}}},
      // −12.5 = 0xc1480000
      {"0x4801 negative float", kCgdk3, "014804000048c1", {{Quantity::temperature, -12.5}}},
      {"0x4802 humidity u8", kMjwsd06mmc, "02480127", {{Quantity::humidity, 39}}},
      {"0x4803 battery", kPs1bb, "03480164", {{Quantity::battery, 100}}},
      {"0x4804 open", kMs1bb, "04480101", {{Quantity::opening, 1}}},
      // closing also ends "left open" and "forcibly removed" (xiaomi-ble test_Xiaomi_MS1BB_MI_obj4a12)
      {"0x4804 closed", kMs1bb, "04480102",
       {{Quantity::opening, 0}, {Quantity::door_left_open, 0}, {Quantity::tamper, 0}}},
      // 123.5 = 0x42f70000
      {"0x4805 illuminance float", kXmosb01xs, "0548040000f742", {{Quantity::illuminance, 123.5}}},
      {"0x4806 wet", kRs1bb, "06480101", {{Quantity::water_leak, 1}}},
      {"0x4806 SJWS02LM bottom sensor wet", kSjws02lm, "06480101", {{Quantity::water_leak, 1}}},
      // 45.5 = 0x42360000
      {"0x4808 humidity float", kCgdk3, "08480400003642", {{Quantity::humidity, 45.5}}},
      {"0x480C MC-COMM open", kMcComm, "0c480100", {{Quantity::opening, 1}}},
      {"0x480C MC-COMM closed", kMcComm, "0c480101", {{Quantity::opening, 0}}},
      {"0x4818 no motion u16", kHs1bb, "1848023c00", {{Quantity::motion, 0}, {Quantity::no_motion_time, 60}}},
      {"0x4818 motion now", kHs1bb, "1848020000", {{Quantity::motion, 1}, {Quantity::no_motion_time, 0}}},
      {"0x483C pressure present", kPs1bb, "3c480101", {{Quantity::occupancy, 1}}},
      {"0x483D present for u32 s", kPs1bb, "3d480410270000", {{Quantity::pressure_present_time, 10000}}},
      {"0x483E absent for u32 s", kPs1bb, "3e480478000000", {{Quantity::pressure_absent_time, 120}}},
      {"0x484E ES3 occupied", kEs3, "4e48011f", {{Quantity::occupancy, 1}}},
      {"0x484E ES5BB 2 = occupied", kEs5bb, "4e480102", {{Quantity::occupancy, 1}}},
      {"0x484E XMOSB01XS 2 = clear", kXmosb01xs, "4e480102", {{Quantity::occupancy, 0}}},
      {"0x484E XMOSB01XS 1 = occupied", kXmosb01xs, "4e480101", {{Quantity::occupancy, 1}}},
      {"0x487B SJWS02LM top sensor wet", kSjws02lm, "7b480101", {{Quantity::top_splash, 1}}},
      {"0x487B SJWS02LM top sensor dry", kSjws02lm, "7b480100", {{Quantity::top_splash, 0}}},
      {"0x4A08 motion + lux float", kHs1bb, "084a0400004c42", {{Quantity::motion, 1}, {Quantity::illuminance, 51}}},
      {"0x4A0F forcibly removed", kMs1bb, "0f4a0101", {{Quantity::opening, 1}, {Quantity::tamper, 1}}},
      {"0x4A0F not removed", kMs1bb, "0f4a0100", {{Quantity::tamper, 0}}},
      {"0x4A12 opened", kMs1bb, "124a0101", {{Quantity::opening, 1}}},
      {"0x4A12 closed", kMs1bb, "124a0102", {{Quantity::opening, 0}, {Quantity::door_left_open, 0}, {Quantity::tamper, 0}}},
      {"0x4A1A left open", kMs1bb, "1a4a0101", {{Quantity::opening, 1}, {Quantity::door_left_open, 1}}},
      {"0x4A1A not left open", kMs1bb, "1a4a0100", {{Quantity::door_left_open, 0}}},
      // 0x4A68 SJWS02LM: 0 bottom wet, 1 bottom dry, 2 top wet, 3 top dry
      {"0x4A68 bottom wet", kSjws02lm, "684a0100", {{Quantity::water_leak, 1}}},
      {"0x4A68 bottom dry", kSjws02lm, "684a0101", {{Quantity::water_leak, 0}}},
      {"0x4A68 top wet", kSjws02lm, "684a0102", {{Quantity::top_splash, 1}}},
      {"0x4A68 top dry", kSjws02lm, "684a0103", {{Quantity::top_splash, 0}}},
      {"0x4C01 temperature float", kLywsd02mmc, "014c04cdccd041", {{Quantity::temperature, 26.1}}},
      {"0x4C02 humidity u8", kLywsd02mmc, "024c013a", {{Quantity::humidity, 58}}},
      {"0x4C03 battery", kHs1bb, "034c0155", {{Quantity::battery, 85}}},
      {"0x4C08 humidity float", kXmwsdj04mmc, "084c0400003442", {{Quantity::humidity, 45.0}}},
      {"0x5413 ES5BB someone close", kEs5bb, "13540101", {{Quantity::occupancy_close_range, 1}}},
      // Locks. 0x0007 door: 0 open, 1 closed, 2 left open, 4 pried, 5 stuck (3 knock: a lock event)
      {"0x0007 opened", kSv40, "07000100", {{Quantity::opening, 1}, {Quantity::door_stuck, 0}}},
      {"0x0007 closed, with timestamp", kSv40, "07000501e96c7c65",
       {{Quantity::opening, 0}, {Quantity::door_left_open, 0}, {Quantity::door_pried, 0}}},
      {"0x0007 left open", kSv40, "07000102", {{Quantity::opening, 1}, {Quantity::door_left_open, 1}}},
      {"0x0007 pried", kSv40, "07000104", {{Quantity::opening, 1}, {Quantity::door_pried, 1}}},
      {"0x0007 stuck", kSv40, "07000105", {{Quantity::opening, 0}, {Quantity::door_stuck, 1}}},
      // 0x0008 armed: byte 0 = 0 armed, 1 disarmed
      {"0x0008 armed", kSv40, "08000100", {{Quantity::armed, 1}}},
      {"0x0008 disarmed, with timestamp", kSv40, "08000501e96c7c65", {{Quantity::armed, 0}}},
      // Scales. 0x4E16 S200: profile 1, 0x00001851 = 6225 → 62.25 kg (xiaomi-ble test_Xiaomi_Scale_S200_MJTZC02YM)
      {"0x4E16 S200 weight", kS200, "164e0901511800008a1b1169", {{Quantity::weight, 62.25}, {Quantity::profile_id, 1}}},
      {"0x4E16 S200 empty", kS200, "164e0901000000008a1b1169", {}},
      // 0x6E16 S400: profile 2, packed 0x54e152bb: weight 0x2bb = 69.9 kg, heart rate 42 + 50, impedance 543.2 Ω
      {"0x6E16 S400 weight + 50 kHz", kS400, "166e0902bb52e154ed26f767",
       {{Quantity::profile_id, 2}, {Quantity::weight, 69.9}, {Quantity::heart_rate, 92},
        {Quantity::impedance_low, 543.2}, {Quantity::stabilized, 0}}},
      {"0x6E16 S400 250 kHz: final", kS400, "166e09010000c04ded26f767",
       {{Quantity::profile_id, 1}, {Quantity::impedance_high, 497.6}, {Quantity::stabilized, 1}}},
      {"0x6E16 S400 weight only: final", kS400, "166e0901ebfa0300d50f186a",
       {{Quantity::profile_id, 1}, {Quantity::weight, 74.7}, {Quantity::stabilized, 1}}},
      {"0x6E16 S400 stepped off", kS400, "166e090100000000d50f186a", {{Quantity::profile_id, 1}, {Quantity::stabilized, 0}}},
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
  for (std::size_t q = 0; q < kQuantityCount; ++q) names.insert(quantity_name(static_cast<Quantity>(q)));
  CHECK(names.size() == kQuantityCount);
  CHECK(quantity_info(Quantity::weight).unit == "kg");
  CHECK(quantity_info(Quantity::impedance_high).unit == "Ω");
  CHECK(quantity_info(Quantity::locked).kind == ValueKind::binary);
  CHECK(quantity_info(Quantity::lock_event).kind == ValueKind::event);
  CHECK(press_kind_name(PressKind::rotate_left) == "rotate_left");
  CHECK(press_kind_name(PressKind::rotate_right) == "rotate_right");
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
      // MIoT press objects (PTX 0x38BB, XMWS01XS 0x5968, XMWXKG01LM 0x2387, XMWXKG01YL 0x1949, KS1
      // 0x3A61, KS2BB 0x520B): no data (index 0) or an index byte
      {"0x4A0C empty", 0x38BB, "0c4a00", {0, PressKind::single, 0}},
      {"0x4A0D right", 0x5968, "0d4a0101", {1, PressKind::double_press, 0}},
      {"0x4A0E", 0x38BB, "0e4a00", {0, PressKind::long_press, 0}},
      {"0x4E0C XMWXKG01YL right", 0x1949, "0c4e0102", {2, PressKind::single, 0}},
      {"0x4E0D", 0x2387, "0d4e00", {0, PressKind::double_press, 0}},
      {"0x4E0E", 0x1949, "0e4e0102", {2, PressKind::long_press, 0}},
      {"0x560C", 0x520B, "0c5600", {0, PressKind::single, 0}},
      {"0x560D", 0x3A61, "0d560104", {4, PressKind::double_press, 0}},
      {"0x560E", 0x520B, "0e5600", {0, PressKind::long_press, 0}},
      // XMMF01JQD magic cube: 0x1001 byte 0 is the direction it was turned (xiaomi-ble test_Xiaomi_XMMF01JQD)
      {"cube turned left", 0x04E1, "011003010000", {0, PressKind::rotate_left, 0}},
      {"cube turned right", 0x04E1, "011003000000", {0, PressKind::rotate_right, 0}},
      // K9BB-1BTN codes its press kind in the 0x4E0C byte
      {"K9BB 1 = single", 0x1C10, "0c4e0101", {0, PressKind::single, 0}},
      {"K9BB 8 = long", 0x1C10, "0c4e0108", {0, PressKind::long_press, 0}},
      {"K9BB 15 = double", 0x1C10, "0c4e010f", {0, PressKind::double_press, 0}},
      {"0x4A13 MS1BB button", kMs1bb, "134a0101", {0, PressKind::single, 0}},
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

TEST_CASE("objects: one object or frame with several events gives each, in order", "[xiaomi_ble][objects]") {
  struct Many {
    const char* what;
    std::uint16_t product_id;
    const char* objects;
    std::vector<ButtonEvent> expected;
  };
  const Many many[] = {
      // K9B: one index byte stands for the buttons pressed together (xiaomi-ble test_Xiaomi_K9B)
      {"K9B-2BTN index 2 = both", 0x1569, "011003020000", {{0, PressKind::single, 0}, {1, PressKind::single, 0}}},
      {"K9B-3BTN index 6 = all three, long", 0x0DFD, "011003060001",
       {{0, PressKind::long_press, 0}, {1, PressKind::long_press, 0}, {2, PressKind::long_press, 0}}},
      {"K9B-3BTN index 3 = left + middle", 0x0DFD, "011003030000", {{0, PressKind::single, 0}, {1, PressKind::single, 0}}},
      {"K9B-3BTN index 4 = middle + right", 0x0DFD, "011003040002",
       {{1, PressKind::double_press, 0}, {2, PressKind::double_press, 0}}},
      {"K9B-3BTN index 5 = left + right", 0x0DFD, "011003050000", {{0, PressKind::single, 0}, {2, PressKind::single, 0}}},
      // XMWXKG01YL 0x4E0C: 3 = left (1) and right (2)
      {"XMWXKG01YL both", 0x1949, "0c4e0103", {{1, PressKind::single, 0}, {2, PressKind::single, 0}}},
      // Two objects in one frame (KS1): a double then a long press of button 1
      {"KS1 two objects", 0x3A61, "0d5601010e560101", {{1, PressKind::double_press, 0}, {1, PressKind::long_press, 0}}},
  };
  for (const Many& entry : many) {
    CAPTURE(entry.what);
    const DecodedObjects decoded = decode(entry.objects, entry.product_id);
    CHECK(decoded.rejected.empty());
    REQUIRE(decoded.readings.size() == entry.expected.size());
    for (std::size_t i = 0; i < entry.expected.size(); ++i) {
      CAPTURE(i);
      CHECK(decoded.readings[i].quantity == Quantity::button);
      CHECK(decoded.readings[i].button == entry.expected[i]);
    }
  }
  // K9B-1BTN knows index 0 only; K9B-2BTN 0..2.
  CHECK_THAT(decode("011003010000", 0x1568).rejected.at(0).reason, Catch::Contains("K9B-1BTN button 1"));
  CHECK_THAT(decode("011003030000", 0x1569).rejected.at(0).reason, Catch::Contains("K9B-2BTN button 3"));
}

TEST_CASE("objects: the YLYK01YL's on and off buttons also give the light's power", "[xiaomi_ble][objects]") {
  // xiaomi-ble test_Xiaomi_YLYK01YL: 0x1001 000000 = button 0 ("on"): power on and a press
  DecodedObjects decoded = decode("011003000000", kYlyk01yl);
  REQUIRE(decoded.readings.size() == 2);
  CHECK(decoded.readings[0].quantity == Quantity::power);
  CHECK(decoded.readings[0].value == 1);
  CHECK(decoded.readings[1].button == ButtonEvent{0, PressKind::single, 0});
  decoded = decode("011003010002", kYlyk01yl);  // "off", long
  REQUIRE(decoded.readings.size() == 2);
  CHECK(decoded.readings[0].value == 0);
  CHECK(decoded.readings[1].button == ButtonEvent{1, PressKind::long_press, 0});
  decoded = decode("011003020000", kYlyk01yl);  // brightness: no power change
  REQUIRE(decoded.readings.size() == 1);
  CHECK(decoded.readings[0].quantity == Quantity::button);
}

TEST_CASE("objects: device-specific ids decode only for the products that define them", "[xiaomi_ble][objects]") {
  // xiaomi-ble test_Xiaomi_button_object_ignored_for_non_button_device: KS1 presses (0x560D,
  // 0x560E) under a thermometer's product id are not a thermometer's: no reading, kept raw.
  DecodedObjects decoded = decode("0d5601010e560101", 0x01AA);
  CHECK(decoded.readings.empty());
  CHECK(decoded.rejected.empty());
  REQUIRE(decoded.raw.size() == 2);
  CHECK(decoded.raw[0].id == 0x560D);
  CHECK(decoded.raw[1].id == 0x560E);
  // The same bytes for the KS1 itself: two presses.
  CHECK(decode("0d5601010e560101", 0x3A61).readings.size() == 2);
  // An unknown product gets none of them, generic objects still decode.
  decoded = decode("0148046666be410a10013b0c4e00", 0);
  REQUIRE(decoded.readings.size() == 1);
  CHECK(decoded.readings[0].quantity == Quantity::battery);
  CHECK(decoded.raw.size() == 2);
  // Known products that do not define an id keep it raw too: a door sensor's 0x4806, a
  // thermometer's 0x4E0C, a water sensor's 0x484E, 0x4A01 (no product defines it).
  for (const auto& [product_id, object] : std::vector<std::pair<std::uint16_t, const char*>>{
           {kMs1bb, "06480101"}, {0x055B, "0c4e00"}, {kSjws02lm, "4e480101"}, {kMs1bb, "014a0101"}}) {
    CAPTURE(product_id, object);
    decoded = decode(object, product_id);
    CHECK(decoded.readings.empty());
    CHECK(decoded.raw.size() == 1);
  }
  // Every device-specific id a product lists is one the decoder knows: never kept raw for it.
  for (const Product& product : products()) {
    for (const std::uint16_t id : product.device_objects) {
      CAPTURE(product.model, id);
      CHECK(is_device_specific(id));
      for (std::size_t size = 0; size <= 9; ++size) {
        const DecodedObjects one = decode_objects(std::vector<Object>{{id, 0, Bytes(size, 0x01)}}, product.product_id);
        CHECK(one.raw.empty());
      }
    }
  }
  CHECK_FALSE(is_device_specific(0x3003));
  CHECK(is_device_specific(0x4800));
}

TEST_CASE("objects: lock events", "[xiaomi_ble][objects]") {
  struct LockRow {
    const char* what;
    std::uint16_t product_id;
    const char* objects;
    std::vector<std::pair<Quantity, double>> values;  // the non-event readings, in order
    std::vector<std::string_view> events;             // the lock events, in order
  };
  const LockRow rows[] = {
      // 0x0006 fingerprint: key id u32, result u8 (xiaomi-ble test_Xiaomi_ZNMS16LM_fingerprint*)
      {"fingerprint match, unknown operator", kZnms16lm, "060005ffffffff00",
       {{Quantity::fingerprint, 1}, {Quantity::key_id, 0xFFFFFFFF}}, {"fingerprint_match_successful"}},
      {"fingerprint low quality, administrator", kZnms16lm, "06000500000000 03",
       {{Quantity::fingerprint, 0}, {Quantity::key_id, 0}}, {"fingerprint_low_quality"}},
      {"fingerprint skin too wet", kZnms16lm, "0600050500000006", {{Quantity::fingerprint, 0}, {Quantity::key_id, 5}},
       {"fingerprint_skin_is_too_wet"}},
      // 0x000B: 0x20 = biometrics (2) | unlock outside (0); key 0x80010002; timestamp (test_Xiaomi_ZNMS16LM_lock)
      {"unlocked outside by fingerprint 2", kZnms16lm, "0b000920020001807c442f61",
       {{Quantity::locked, 0}, {Quantity::key_id, 0x80010002}, {Quantity::lock_method, 2}}, {"unlock_outside_the_door"}},
      // 0xb4 = automatic (11) | unlock inside (4), administrator (test_Xiaomi_Lockin_SV40_lock)
      {"unlocked inside, automatic", kSv40, "0b0009b400000000f76c7c65",
       {{Quantity::locked, 0}, {Quantity::key_id, 0}, {Quantity::lock_method, 11}}, {"unlock_inside_the_door"}},
      // 0x51 = NFC (5) << 4 | locked (1); key 0x80020007 is password key 7
      {"locked by NFC, password key 7", kSv40, "0b00095107000280f76c7c65",
       {{Quantity::locked, 1}, {Quantity::key_id, 0x80020007}, {Quantity::lock_method, 5}}, {"locked"}},
      // 0x1F = password (1) << 4 | abnormal (15), which leaves the lock unlocked; key id 0xC0DE0003
      // names an alarm: the action, then the alarm; no key id
      {"lock picking alarm", kSv40, "0b00091f0300dec0f76c7c65", {{Quantity::locked, 0}, {Quantity::lock_method, 1}},
       {"abnormal", "lock_picking"}},
      // 0x06 child lock on: a lock action for every lock but ZNMS17LM, which tells it apart
      {"child lock on, SV40", kSv40, "0b00090600000000f76c7c65",
       {{Quantity::locked, 1}, {Quantity::key_id, 0}, {Quantity::lock_method, 0}}, {"turn_on_child_lock"}},
      {"child lock on, ZNMS17LM", kZnms17lm, "0b00090600000000f76c7c65", {{Quantity::key_id, 0}, {Quantity::lock_method, 0}},
       {"turn_on_child_lock"}},
      // 0x0007 3 = knocked
      {"door knock", kSv40, "07000103", {{Quantity::opening, 0}}, {"door_knock"}},
      // 0x0008 on DSL-C08: the handle lifted outside, which locks by hand (test_Xiaomi_DSL_C08)
      {"DSL-C08 armed, locked outside", kDslC08, "08000100", {{Quantity::armed, 1}, {Quantity::lock_method, 10}},
       {"lock_outside_the_door"}},
  };
  for (const LockRow& row : rows) {
    CAPTURE(row.what);
    std::string compact;
    for (const char c : std::string_view(row.objects)) {
      if (c != ' ') compact.push_back(c);
    }
    const DecodedObjects decoded = decode(compact, row.product_id);
    CHECK(decoded.rejected.empty());
    std::vector<std::pair<Quantity, double>> values;
    std::vector<std::string_view> events;
    for (const Reading& reading : decoded.readings) {
      if (reading.quantity == Quantity::lock_event) {
        events.push_back(reading.event);
        CHECK(reading.value == 1);
      } else {
        values.emplace_back(reading.quantity, reading.value);
        CHECK(reading.event.empty());
      }
    }
    CHECK(values == row.values);
    CHECK(events == row.events);
  }
  // Every event name is one of lock_event_names(), which are unique.
  const std::vector<std::string_view>& names = lock_event_names();
  CHECK(std::set<std::string_view>(names.begin(), names.end()).size() == names.size());
  CHECK(std::find(names.begin(), names.end(), "lock_picking") != names.end());
  CHECK(std::find(names.begin(), names.end(), "door_knock") != names.end());
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
      {0x4A08, 4, 4}, {0x4A0C, 0, 1}, {0x4A0D, 0, 1}, {0x4A0E, 0, 1}, {0x4A0F, 1, 1},
      {0x4A12, 1, 1}, {0x4A13, 1, 1}, {0x4A1A, 1, 1}, {0x4C01, 4, 4}, {0x4C02, 1, 1}, {0x4C03, 1, 1},
      {0x4C08, 4, 4}, {0x4E0C, 0, 1}, {0x4E0D, 0, 1}, {0x4E0E, 0, 1}, {0x560C, 0, 1}, {0x560D, 0, 1},
      {0x560E, 0, 1}, {0x0006, 5, 5}, {0x000B, 9, 9}, {0x480C, 1, 1}, {0x487B, 1, 1}, {0x4A68, 1, 1},
      {0x4E16, 9, 9}, {0x6E16, 9, 9}, {0x5413, 1, 1},
  };
  // The product whose rules apply: 0 for generic ids, else the first one defining the id (0x4A01:
  // none does, so it is left out above).
  const auto product_for = [](std::uint16_t id) -> std::uint16_t {
    if (!is_device_specific(id)) return 0;
    for (const Product& product : products()) {
      if (product.defines(id)) return product.product_id;
    }
    return 0;
  };
  for (const Lengths& entry : lengths) {
    for (std::size_t size = 0; size <= 8; ++size) {
      CAPTURE(entry.id, size);
      // Data bytes chosen so every accepted length decodes (0x01: valid state/percent values).
      const std::vector<Object> objects = {{entry.id, 0, Bytes(size, 0x01)}};
      const DecodedObjects decoded = decode_objects(objects, product_for(entry.id));
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
  // 0x0007 and 0x0008 (locks): 1 byte, or 5 with a timestamp.
  for (const std::uint16_t id : {std::uint16_t{0x0007}, std::uint16_t{0x0008}}) {
    for (std::size_t size = 0; size <= 8; ++size) {
      CAPTURE(id, size);
      const DecodedObjects decoded = decode_objects(std::vector<Object>{{id, 0, Bytes(size, 0x01)}}, 0);
      CHECK(decoded.rejected.size() == (size == 1 || size == 5 ? 0u : 1u));
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
      {"0x4802 humidity 101", kMjwsd06mmc, "02480165", "outside 0..100"},
      {"0x4C03 battery 200", kHs1bb, "034c01c8", "outside 0..100"},
      {"0x2000 battery 255", 0, "002005c60d630dff", "outside 0..100"},
      {"float NaN", kCgdk3, "0148040000c07f", "not a finite number"},
      {"float +inf", kCgdk3, "0148040000807f", "not a finite number"},
      {"humidity float 150", kCgdk3, "08480400001643", "outside 0..100"},
      {"negative illuminance", kXmosb01xs, "054804000080bf", "negative illuminance"},
      {"door state 4", 0, "19100104", "unknown door state"},
      {"opening state 0", kMs1bb, "04480100", "unknown opening state"},
      {"opening event 3", kMs1bb, "124a0103", "unknown opening state"},
      {"kettle state 5", 0, "0510020528", "unknown kettle state"},
      {"brushing state 2", 0, "033005026a9d6453", "unknown brushing state"},
      {"press type 7", 0, "011003000007", "unknown press type"},
      {"dimmer press index 2", 0, "011003020103", "unknown index"},
      {"0x4A13 value 0", kMs1bb, "134a0100", "unknown button value"},
      {"K9BB code 2", 0x1C10, "0c4e0102", "unknown K9BB press code"},
      {"cube direction 2", 0x04E1, "011003020000", "unknown cube direction"},
      {"K9B-2BTN button 3", 0x1569, "011003030000", "unknown K9B-2BTN button"},
      {"MC-COMM door state 2", kMcComm, "0c480102", "unknown door state"},
      {"SJWS02LM water event 4", kSjws02lm, "684a0104", "unknown water event"},
      {"fingerprint result 7", kZnms16lm, "0600050000000007", "unknown fingerprint result"},
      {"door event 6", kSv40, "07000106", "unknown door event"},
      {"armed state 2", kSv40, "08000102", "unknown armed state"},
      {"lock action 9", kSv40, "0b00090900000000f76c7c65", "unknown lock action"},
      {"lock method 12", kSv40, "0b0009c100000000f76c7c65", "unknown lock method"},
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
  // 0x9999 unknown; 0x100E lock attribute bitmap: known upstream, not decoded here; 0x4E16 scale:
  // device-specific, and no product given.
  const DecodedObjects decoded = decode("9999020102 0e100111 164e0100");
  CHECK(decoded.readings.empty());
  CHECK(decoded.rejected.empty());
  REQUIRE(decoded.raw.size() == 3);
  CHECK(decoded.raw[0] == Object{0x9999, 0, hex("0102")});
  CHECK(decoded.raw[1] == Object{0x100E, 5, hex("11")});
  CHECK(decoded.raw[2] == Object{0x4E16, 9, hex("00")});
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
  // One or two bytes that cannot hold a header are ignored, the objects before them kept (the
  // MMC-W505 sends one after its temperature: xiaomi-ble test_Xiaomi_MMC_W505).
  for (const char* tail : {"0a10013b0d", "0a10013b0d10", "0a0002750d07"}) {
    CAPTURE(tail);
    split = split_objects(hex(tail));
    REQUIRE(split);
    REQUIRE(split->size() == 1);
    CHECK((*split)[0].offset == 0);
  }
  for (const char* tail : {"0d", "0d10"}) {
    CAPTURE(tail);
    split = split_objects(hex(tail));
    REQUIRE(split);
    CHECK(split->empty());
  }
  const Result<DecodedObjects> w505 = decode_objects(hex("0a0002750d07"), 0x0391);
  REQUIRE(w505);
  CHECK(w505->value(Quantity::temperature) == Approx(34.45));
  // Every truncation of a multi-object payload: an error (a length running past the cut), or
  // exactly the objects before the cut.
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
    std::set<std::uint16_t> objects(product.device_objects.begin(), product.device_objects.end());
    CHECK(objects.size() == product.device_objects.size());  // no object twice
  }
  CHECK(find_product(0xFFFF) == nullptr);  // V42
  CHECK(find_product(0x0000) == nullptr);
  CHECK(key_need_name(KeyNeed::bind_key) == "bind_key");
  CHECK(key_need_name(KeyNeed::legacy_key) == "legacy_key");
  CHECK(key_need_name(KeyNeed::none) == "none");
  CHECK(key_need_name(KeyNeed::unknown) == "unknown");
}

TEST_CASE("products: docs/ble.md §1.6 rows", "[xiaomi_ble][products]") {
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
      {0x03B6, "YLKG07YL/YLKG08YL", KeyNeed::legacy_key, true, {Quantity::button}},
      {0x2387, "XMWXKG01LM", KeyNeed::bind_key, true, {Quantity::button}},
      {0x1889, "MS1BB(MI)", KeyNeed::bind_key, true, {Quantity::opening, Quantity::tamper}},
      {0x2AEB, "HS1BB(MI)", KeyNeed::bind_key, true, {Quantity::motion, Quantity::no_motion_time}},
      {0x3F4C, "PS1BB", KeyNeed::bind_key, true, {Quantity::occupancy, Quantity::battery}},
      {0x50FB, "ES3", KeyNeed::bind_key, true, {Quantity::occupancy}},
      {0x0806, "T700", KeyNeed::bind_key, true, {Quantity::toothbrush, Quantity::toothbrush_score}},
      // Added with xiaomi-ble's vectors and object layouts: the PTX switch (0x4A0C..0E), the
      // MC-COMM door sensor (0x480C), the SJWS02LM's top sensor, scales and locks.
      {0x38BB, "PTX_YK1_QMIMB", KeyNeed::bind_key, true, {Quantity::button}},
      {0x78D1, "MC-COMM", KeyNeed::unknown, true, {Quantity::opening}},
      {0x6375, "SJWS02LM", KeyNeed::bind_key, true, {Quantity::water_leak, Quantity::top_splash, Quantity::battery}},
      {0x6A0F, "ES5BB", KeyNeed::bind_key, true, {Quantity::occupancy, Quantity::occupancy_close_range}},
      {0x3BD5, "MJTZC01YM", KeyNeed::bind_key, true,
       {Quantity::weight, Quantity::impedance_low, Quantity::impedance_high, Quantity::heart_rate, Quantity::stabilized}},
      {0x4C04, "MJTZC02YM", KeyNeed::bind_key, true, {Quantity::weight, Quantity::profile_id}},
      {0x069E, "ZNMS16LM", KeyNeed::none, true,
       {Quantity::locked, Quantity::lock_event, Quantity::lock_method, Quantity::key_id, Quantity::fingerprint}},
      {0x11C2, "Lockin-SV40", KeyNeed::bind_key, true, {Quantity::locked, Quantity::opening, Quantity::door_pried}},
      {0x0E39, "XMZNMS08LM", KeyNeed::bind_key, true, {Quantity::locked, Quantity::door_left_open}},
      {0x0380, "DSL-C08", KeyNeed::none, true, {Quantity::armed, Quantity::lock_event}},
      // The magic cube's frames are plain (xiaomi-ble test_Xiaomi_XMMF01JQD: FC 3050, v3, no encryption).
      {0x04E1, "XMMF01JQD", KeyNeed::none, true, {Quantity::button}},
      {0x0153, "YLYK01YL", KeyNeed::legacy_key, true, {Quantity::button, Quantity::power}},
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
