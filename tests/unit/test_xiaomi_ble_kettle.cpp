// Mi kettle payload codec (protocols/xiaomi_ble/codec/kettle.h; docs/ble.md §4.3, §10): the status
// notification, the three settings, every truncation and every range check.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "protocols/common/bytes.h"
#include "protocols/xiaomi_ble/auth/gatt_link.h"
#include "protocols/xiaomi_ble/codec/kettle.h"
#include "tests/unit/test_support.h"

using namespace cloudless;
using namespace cloudless::xiaomi_ble;
using cloudless::test::hex;


TEST_CASE("kettle: the 12-byte status of a newer unit (§4.3)", "[xiaomi_ble][kettle]") {
  // 00 action idle | ff mode none | 00 00 unknown | 50 keep-warm set 80 °C | 20 current 32 °C |
  // 00 type boil_then_cool | 00 00 minutes 0 | 01 02 00 unknown
  const auto status = parse_kettle_status(hex("00ff00005020000000010200"));
  REQUIRE(status);
  CHECK(status->action == KettleAction::idle);
  CHECK(status->mode == KettleMode::none);
  CHECK(status->mode_code == 0xFF);
  CHECK(status->keep_warm_set_temperature == 80);
  CHECK(status->current_temperature == 32);
  CHECK(status->keep_warm_type == KettleKeepWarmType::boil_then_cool);
  CHECK(status->keep_warm_minutes == 0);
  CHECK(kettle_action_name(status->action) == "idle");
  CHECK(kettle_mode_name(status->mode) == "none");
  CHECK(kettle_keep_warm_type_name(status->keep_warm_type) == "boil_then_cool");
}

TEST_CASE("kettle: actions, modes and types", "[xiaomi_ble][kettle]") {
  // Keeping warm (3), keep-warm mode in aprosvetova's code (2), set 64 °C, now 58 °C, heat_to,
  // 0x012c = 300 minutes (little-endian bytes 7..8).
  auto status = parse_kettle_status(hex("03020000403a012c01"));
  REQUIRE(status);
  CHECK(status->action == KettleAction::keeping_warm);
  CHECK(status->mode == KettleMode::keep_warm);
  CHECK(status->keep_warm_set_temperature == 64);
  CHECK(status->current_temperature == 58);
  CHECK(status->keep_warm_type == KettleKeepWarmType::heat_to);
  CHECK(status->keep_warm_minutes == 300);
  CHECK(kettle_action_name(status->action) == "keeping_warm");
  CHECK(kettle_mode_name(status->mode) == "keep_warm");
  CHECK(kettle_keep_warm_type_name(status->keep_warm_type) == "heat_to");

  // mikettle's keep-warm code 3, heating, boil mode 1; 7 bytes: no minutes.
  status = parse_kettle_status(hex("01030000505a00"));
  REQUIRE(status);
  CHECK(status->action == KettleAction::heating);
  CHECK(status->mode == KettleMode::keep_warm);
  CHECK(status->mode_code == 3);
  CHECK_FALSE(status->keep_warm_minutes);

  status = parse_kettle_status(hex("0201000050640007"));  // cooling, boil, 8 bytes: byte 7 alone
  REQUIRE(status);
  CHECK(status->action == KettleAction::cooling);
  CHECK(status->mode == KettleMode::boil);
  CHECK(status->current_temperature == 100);
  CHECK(status->keep_warm_minutes == 7);
  CHECK(kettle_action_name(KettleAction::heating) == "heating");
  CHECK(kettle_action_name(KettleAction::cooling) == "cooling");
  CHECK(kettle_mode_name(KettleMode::boil) == "boil");
}

TEST_CASE("kettle: every truncation of a status fails", "[xiaomi_ble][kettle]") {
  const Bytes full = hex("00ff00005020000000010200");
  for (std::size_t size = 0; size < kKettleStatusMinSize; ++size) {
    CAPTURE(size);
    const auto status = parse_kettle_status(ByteView(full).first(size));
    REQUIRE_FALSE(status);
    CHECK(status.error().offset == size);
  }
  for (std::size_t size = kKettleStatusMinSize; size <= full.size(); ++size) {
    CAPTURE(size);
    CHECK(parse_kettle_status(ByteView(full).first(size)));
  }
}

TEST_CASE("kettle: unknown codes are errors, not guesses", "[xiaomi_ble][kettle]") {
  Bytes status = hex("00ff00005020000000010200");
  for (int action = 4; action <= 255; ++action) {
    Bytes altered = status;
    altered[0] = static_cast<std::uint8_t>(action);
    CAPTURE(action);
    const auto parsed = parse_kettle_status(altered);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().offset == 0);
  }
  for (int mode : {0, 4, 5, 0x80, 0xFE}) {
    Bytes altered = status;
    altered[1] = static_cast<std::uint8_t>(mode);
    CAPTURE(mode);
    const auto parsed = parse_kettle_status(altered);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().offset == 1);
  }
  for (int type : {2, 3, 0xFF}) {
    Bytes altered = status;
    altered[6] = static_cast<std::uint8_t>(type);
    CAPTURE(type);
    const auto parsed = parse_kettle_status(altered);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().offset == 6);
  }
}

TEST_CASE("kettle: setup encoder with range checks", "[xiaomi_ble][kettle]") {
  auto setup = encode_kettle_setup(KettleKeepWarmType::heat_to, 85);
  REQUIRE(setup);
  CHECK(to_hex(*setup) == "0155");
  setup = encode_kettle_setup(KettleKeepWarmType::boil_then_cool, 40);
  REQUIRE(setup);
  CHECK(to_hex(*setup) == "0028");
  setup = encode_kettle_setup(KettleKeepWarmType::boil_then_cool, 95);
  REQUIRE(setup);
  CHECK(to_hex(*setup) == "005f");
  for (int temperature : {-1, 0, 39, 96, 100, 255, 256}) {
    CAPTURE(temperature);
    CHECK_FALSE(encode_kettle_setup(KettleKeepWarmType::heat_to, temperature));
  }
  CHECK_FALSE(encode_kettle_setup(static_cast<KettleKeepWarmType>(2), 60));
}

TEST_CASE("kettle: keep-warm time limit in half hours", "[xiaomi_ble][kettle]") {
  struct Row {
    double hours;
    const char* byte;
  };
  for (const Row row : {Row{0, "00"}, Row{0.5, "01"}, Row{7.5, "0f"}, Row{12, "18"}, Row{1, "02"}}) {
    CAPTURE(row.hours);
    const auto bytes = encode_kettle_time_limit(row.hours);
    REQUIRE(bytes);
    CHECK(to_hex(*bytes) == row.byte);
    const auto back = decode_kettle_time_limit(*bytes);
    REQUIRE(back);
    CHECK(*back == row.hours);
  }
  for (double hours : {-0.5, 12.5, 13.0, 0.25, 7.3, std::numeric_limits<double>::quiet_NaN(),
                       std::numeric_limits<double>::infinity()}) {
    CAPTURE(hours);
    CHECK_FALSE(encode_kettle_time_limit(hours));
  }
  CHECK_FALSE(decode_kettle_time_limit({}));
  CHECK_FALSE(decode_kettle_time_limit(hex("0f00")));
  CHECK_FALSE(decode_kettle_time_limit(hex("19")));  // 12.5 h: beyond the kettle's limit
  CHECK(decode_kettle_time_limit(hex("18")));
}

TEST_CASE("kettle: turn off after boil", "[xiaomi_ble][kettle]") {
  CHECK(to_hex(encode_kettle_boil_mode(true)) == "01");
  CHECK(to_hex(encode_kettle_boil_mode(false)) == "00");
  auto value = decode_kettle_boil_mode(hex("01"));
  REQUIRE(value);
  CHECK(*value);
  value = decode_kettle_boil_mode(hex("00"));
  REQUIRE(value);
  CHECK_FALSE(*value);
  CHECK_FALSE(decode_kettle_boil_mode({}));
  CHECK_FALSE(decode_kettle_boil_mode(hex("02")));
  CHECK_FALSE(decode_kettle_boil_mode(hex("0100")));
}

TEST_CASE("kettle: characteristic ids expand in the Bluetooth base UUID (§10)", "[xiaomi_ble][kettle]") {
  CHECK(uuid16(kKettleStatusChar) == "0000aa02-0000-1000-8000-00805f9b34fb");
  CHECK(uuid16(kKettleSetupChar) == "0000aa01-0000-1000-8000-00805f9b34fb");
  CHECK(kKettleServiceUuid == "01344736-0000-1000-8000-262837236156");
}
