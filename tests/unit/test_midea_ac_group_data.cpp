// Midea AC 0xC1 group data (protocols/midea/ac_group_data.h): every group-data vector of
// docs/midea.md §7.3 — energy in each format, humidity, defrost, groups 1/2/7/11 — plus the format
// option table, truncations and unknown groups.
//
// Sources: msmart-ng `msmart/device/AC/test_command.py` (TestGroupDataResponse) and `test_device.py`,
// midea-local `tests/devices/ac/message_ac_test.py` (format 101); issue links as msmart gives them.
// Expected values compare with == : the codec divides an exact integer once, so each value is the
// double nearest to its decimal literal.
#include <catch2/catch.hpp>

#include <string_view>

#include "protocols/common/bytes.h"
#include "protocols/midea/ac_frame.h"
#include "protocols/midea/ac_group_data.h"
#include "tests/unit/test_support.h"

using namespace cloudless;
using namespace cloudless::midea;
using cloudless::test::hex;

namespace {

Bytes body_of(std::string_view text) {
  const Bytes bytes = hex(text);
  if (bytes.empty() || bytes[0] != kAcFrameStart) return bytes;
  const Result<AcFrame> frame = parse_ac_frame(bytes);
  REQUIRE(frame.has_value());
  REQUIRE(classify_ac_frame(*frame) == AcBodyKind::group_data);
  return frame->body;
}

AcGroupData group_of(std::string_view text, EnergyFormat format = EnergyFormat::bcd) {
  const Result<AcGroupData> data = parse_ac_group_data(body_of(text), format);
  REQUIRE(data.has_value());
  return *data;
}

struct EnergyVector {
  const char* source;
  const char* data;
  EnergyFormat format;
  std::optional<double> total;    // kWh
  std::optional<double> current;  // kWh
  std::optional<double> power;    // W
};

const EnergyVector kEnergyVectors[] = {
    // msmart PR #116: total idx 4..7 = 00 06 79 20 → BCD 0·10000 + 6·100 + 79 + 0.20 = 679.2; the rest 0.
    {"msmart test_energy_usage #1", "aa1fac00000000000303c121014400067920000000000000000000000000aabf",
     EnergyFormat::bcd, 679.2, 0.0, 0.0},
    // total 00 56 4a 02 → 5600 + bcd(0x4a) = 50 (nibble 0xa unchecked) + 0.02 = 5650.02;
    // current idx 12..15 = 00 14 ae 00 → 1400 + bcd(0xae) = 114 → 1514.0; power 00 00 00.
    {"msmart test_energy_usage #2", "aa20ac00000000000203c121014400564a02640000000014ae0000000000041a22",
     EnergyFormat::bcd, 5650.02, 1514.0, 0.0},
    // All zero: the unit has no meter → none, in every format.
    {"msmart test_energy_usage #3 (none)", "aa20ac00000000000303c1210144000000000000000000000000000000000843bc",
     EnergyFormat::bcd, std::nullopt, std::nullopt, std::nullopt},
    {"msmart test_binary_energy_usage (none)", "aa20ac00000000000303c1210144000000000000000000000000000000000843bc",
     EnergyFormat::binary, std::nullopt, std::nullopt, std::nullopt},
    // midea-ac-py #204: total 00 00 05 e0 = 1504 / 10 = 150.4; current 00 00 00 06 = 0.6;
    // power 00 0a eb = 2795 / 10 = 279.5 W.
    {"msmart test_binary_energy_usage", "aa22ac00000000000803c1210144000005e00000000000000006000aeb000000487a5e",
     EnergyFormat::binary, 150.4, 0.6, 279.5},
    // The same bytes read as BCD (docs/midea.md §7.3: "BCD view 6.4, 0.06, 115.1"): 5 + bcd(0xe0) = 140 → 6.40;
    // 0.06; bcd(0x0a) = 10 → 100 + bcd(0xeb) = 151 → 15.1 → 115.1.
    {"msmart binary vector read as BCD", "aa22ac00000000000803c1210144000005e00000000000000006000aeb000000487a5e",
     EnergyFormat::bcd, 6.4, 0.06, 115.1},
    // midea-local format 101 (BCD energy, binary power): total 00 00 00 58 → 0.58 kWh; current 00 00 00 16
    // → 0.16 kWh; power 00 16 b7 = 5815 / 10 = 581.5 W.
    {"midea-local message_ac_test #1", "c12101440000005800000000000000160016b700000001a9",
     EnergyFormat::bcd_energy_binary_power, 0.58, 0.16, 581.5},
    // 0.59, 0.17, 0x16a3 = 5795 → 579.5 W.
    {"midea-local message_ac_test #2", "c12101440000005900000000000000170016a30000000105",
     EnergyFormat::bcd_energy_binary_power, 0.59, 0.17, 579.5},
    // 0.60 (bcd(0x5a) = 60), 0.18, 0x162b = 5675 → 567.5 W.
    {"midea-local message_ac_test #3", "c12101440000005a000000000000001800162b0000000187",
     EnergyFormat::bcd_energy_binary_power, 0.60, 0.18, 567.5},
};

}  // namespace

TEST_CASE("§7.3 group 4 energy vectors, each with the format its source used") {
  for (const EnergyVector& vector : kEnergyVectors) {
    CAPTURE(vector.source, energy_format_name(vector.format));
    const AcGroupData data = group_of(vector.data, vector.format);
    CHECK(data.group == 4);
    CHECK(data.total_energy == vector.total);
    CHECK(data.current_energy == vector.current);
    CHECK(data.power == vector.power);
    CHECK_FALSE(data.indoor_humidity.has_value());
  }
}

TEST_CASE("group 4 format options on one hand-made body") {
  // total 12 34 56 78, running ff ff ff ff (ignored), current 00 00 01 02, power 01 23 45.
  const Bytes body = hex("c121014412345678ffffffff0000010201234500");
  struct Row {
    EnergyFormat format;
    double total, current, power;
  };
  const Row rows[] = {
      // BCD: 12·10000 + 34·100 + 56 + 0.78; 1.02; power 1·1000 + 23·10 + 4.5
      {EnergyFormat::bcd, 123456.78, 1.02, 1234.5},
      // binary: 0x12345678 / 10; 0x0102 / 10; 0x012345 / 10
      {EnergyFormat::binary, 30541989.6, 25.8, 7456.5},
      // mixed: bytes as is (0x12 = 18 …), radix 100: 18·10⁶ + 52·10⁴ + 86·100 + 120 = 18528720 → /100;
      // power (1·100 + 35)·100 + 69 = 13569 → /10
      {EnergyFormat::mixed, 185287.2, 1.02, 1356.9},
      // binary with 0.01 kWh
      {EnergyFormat::binary_centi, 3054198.96, 2.58, 7456.5},
      // BCD energy, binary power
      {EnergyFormat::bcd_energy_binary_power, 123456.78, 1.02, 7456.5},
  };
  for (const Row& row : rows) {
    CAPTURE(energy_format_name(row.format));
    const Result<AcGroupData> data = parse_ac_group_data(body, row.format);
    REQUIRE(data.has_value());
    CHECK(data->total_energy == row.total);
    CHECK(data->current_energy == row.current);
    CHECK(data->power == row.power);
    CHECK(energy_format_from_name(energy_format_name(row.format)) == row.format);
  }
  CHECK_FALSE(energy_format_from_name("BCD").has_value());
  // Only the "total running" bytes set: still no meter (msmart's validity ignores them).
  CHECK_FALSE(parse_ac_group_data(hex("c12101440000000011111111000000000000000000")).value().total_energy.has_value());
}

TEST_CASE("§7.3 group 5: indoor humidity, outdoor fan, defrost") {
  // msmart PR #116: idx 4 = 0x3f → 63 %; idx 8 = 0x5d → 93·8 = 744; idx 10 = 0x00 → not defrosting.
  const AcGroupData humid = group_of("aa20ac00000000000303c12101453f546c005d0a000000de1f0000ba9a0004af9c");
  CHECK(humid.group == 5);
  CHECK(humid.indoor_humidity == std::optional<std::uint8_t>(63));
  CHECK(humid.outdoor_fan_speed == std::optional<int>(744));
  CHECK(humid.defrost == std::optional<bool>(false));
  CHECK_FALSE(humid.total_energy.has_value());
  // idx 4 = 0 → the unit has no humidity sensor.
  CHECK_FALSE(group_of("aa1fac00000000000303c1210145000000000000000000000000000000001aed").indoor_humidity.has_value());
  // msmart #248 bodies: idx 10 = 0x01 → defrosting; idx 10 = 0x00 → not.
  CHECK(group_of("c12101451e4f2b5e003c01000000692900cf7e0001bb38").defrost == std::optional<bool>(true));
  CHECK(group_of("c12101451e4dcf5e611f00000052ad2900cf7e0002").defrost == std::optional<bool>(false));
}

TEST_CASE("§7.3 group 1: compressor and refrigerant circuit") {
  // msmart synthetic (test_command.py): idx 4 28 Hz, 5 29 Hz, 7 1 A, 8 0xe8 = 232 V; T1 idx 10 = 71 →
  // (71 − 30)/2 = 20.5; T2 38 → 4.0; T3 102 → (102 − 50)/2 = 26.0; T4 88 → 19.0; TP 45.
  const AcGroupData a = group_of("c10000411c1d0001e800472666582d0000000000");
  CHECK(a.group == 1);
  CHECK(a.compressor_frequency == std::optional<int>(28));
  CHECK(a.target_compressor_frequency == std::optional<int>(29));
  CHECK(a.compressor_current == std::optional<int>(1));
  CHECK(a.compressor_voltage == std::optional<int>(232));
  CHECK(a.indoor_ambient_temperature == std::optional<double>(20.5));
  CHECK(a.indoor_coil_temperature == std::optional<double>(4.0));
  CHECK(a.outdoor_coil_temperature == std::optional<double>(26.0));
  CHECK(a.outdoor_ambient_temperature == std::optional<double>(19.0));
  CHECK(a.discharge_temperature == std::optional<int>(45));
  // msmart synthetic (test_device.py): 35 Hz, 36, 4 A, 0xe6 = 230 V, T2 0x2e → 8.0, T3 0x8c → 45.0, TP 55.
  const AcGroupData b = group_of("c100004123240004e600482e8c4a370000000000");
  CHECK(b.compressor_frequency == std::optional<int>(35));
  CHECK(b.target_compressor_frequency == std::optional<int>(36));
  CHECK(b.compressor_current == std::optional<int>(4));
  CHECK(b.compressor_voltage == std::optional<int>(230));
  CHECK(b.indoor_coil_temperature == std::optional<double>(8.0));
  CHECK(b.outdoor_coil_temperature == std::optional<double>(45.0));
  CHECK(b.discharge_temperature == std::optional<int>(55));
  // Real capture, midea-local model 22390001: 0x2b = 43 Hz, target 43, 3 A, 0xd6 = 214 V.
  const AcGroupData real =
      group_of("aa29ac00000000000803c12101412b2b0403d6005446736c260000000000000000000000000000019e8b");
  CHECK(real.compressor_frequency == std::optional<int>(43));
  CHECK(real.target_compressor_frequency == std::optional<int>(43));
  CHECK(real.compressor_current == std::optional<int>(3));
  CHECK(real.compressor_voltage == std::optional<int>(214));
}

TEST_CASE("§7.3 groups 2, 7 and 11 (msmart synthetic bodies)") {
  // Group 2: idx 4 0x34 → 52·8 = 416, idx 5 0x35 → 424, idx 8 0x10 → pump running.
  const AcGroupData g2 = group_of("c100004234350000100000000000000000000000");
  CHECK(g2.group == 2);
  CHECK(g2.target_indoor_fan_speed == std::optional<int>(416));
  CHECK(g2.indoor_fan_speed == std::optional<int>(424));
  CHECK(g2.water_pump == std::optional<bool>(true));
  // Group 7: idx 10 0x0d + 256 · idx 11 0x01 = 269 W.
  const AcGroupData g7 = group_of("c10000470000000000000d010000000000000000");
  CHECK(g7.group == 7);
  CHECK(g7.outdoor_unit_power == std::optional<int>(269));
  // Group 11: idx 9 0x48 = 72°, idx 12 0xf0 = 240°.
  const AcGroupData g11 = group_of("c100004b0064006400486400f000000000000000");
  CHECK(g11.group == 11);
  CHECK(g11.horizontal_louver_angle == std::optional<int>(72));
  CHECK(g11.vertical_louver_angle == std::optional<int>(240));
}

TEST_CASE("group data: unknown groups carry only the group, short bodies and other types rejected") {
  const Result<AcGroupData> run_time = parse_ac_group_data(hex("c1210140000102030405060708090a0b0c0d0e"));
  REQUIRE(run_time.has_value());
  CHECK(run_time->group == 0);
  AcGroupData only_group;
  CHECK(*run_time == only_group);
  CHECK(parse_ac_group_data(hex("c1210143")).value().group == 3);

  struct Row {
    const char* body;
    std::size_t needed;
  };
  const Row rows[] = {{"c1210141", 15}, {"c1210142", 9}, {"c1210144", 19},
                      {"c1210145", 11}, {"c1210147", 12}, {"c121014b", 13}};
  for (const Row& row : rows) {
    Bytes body = hex(row.body);
    body.resize(row.needed, 0);
    CAPTURE(row.body);
    CHECK(parse_ac_group_data(body).has_value());
    for (std::size_t size = 0; size < row.needed; ++size) {
      CAPTURE(size);
      const Result<AcGroupData> data = parse_ac_group_data(ByteView(body).first(size));
      REQUIRE_FALSE(data.has_value());
      CHECK(data.error().offset == size);
    }
  }
  Bytes energy = hex("c1210144");
  energy.resize(18, 0);
  CHECK(parse_ac_group_data(energy).error().what == "truncated group 4 body: 18 of 19 bytes");
  CHECK(parse_ac_group_data(hex("c0014566")).error().what == "body type 0xc0 is not a group-data reply (0xc1)");
  CHECK(parse_ac_group_data({}).error().what == "empty group-data body");
}
