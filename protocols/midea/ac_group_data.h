// 0xC1 "group data" replies of a Midea AC: energy and power (group 4), indoor humidity and defrost
// (group 5), and service data (groups 1, 2, 7, 11). docs/midea.md §4.8.
//
// Body (frame body without its CRC): C1 21 01 (0x40 | group) … ; group = idx 3 & 0x0F (msmart reads
// frame[13] & 0xF and ignores idx 1..2: its synthetic group-1 vectors carry 00 00 there).
//
// Group 4 (energy), every field big endian over its bytes:
//   idx 4..7    total energy        kWh
//   idx 8..11   "total running" energy (unreliable, unused)
//   idx 12..15  current-run energy  kWh
//   idx 16..18  real-time power     W
// The number format depends on the model and nothing on the wire says which (capability 0x0216 ∈
// {2,3} is only a hint, docs/midea.md §9): the user picks EnergyFormat. When all of idx 4..7 and 12..18
// are zero the unit has no meter: every field is none (msmart).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "protocols/common/bytes.h"
#include "protocols/common/result.h"

namespace cloudless::midea {

// Decoding of the group-4 fields. Names follow the integrations; midea-local `PowerFormats` numbers in
// brackets (its code, not wuwentao's doc/AC.md, which labels 1 and 2 the other way round).
enum class EnergyFormat {
  // [1] msmart's default: each byte BCD, bcd(x) = 10·(x >> 4) + (x & 0xF), no nibble validation;
  //     energy = radix-100 number / 100 kWh (10000·b0 + 100·b1 + b2 + 0.01·b3), power = … / 10 W.
  bcd,
  // [2] msmart "binary": energy = u32 BE / 10 kWh, power = u24 BE / 10 W.
  binary,
  // [3] midea-local's default, "mixed/INT": each byte 0..99 as is, radix 100; energy / 100 kWh,
  //     power / 10 W.
  mixed,
  // [12] binary with energy in 0.01 kWh: energy = u32 BE / 100 kWh, power = u24 BE / 10 W.
  binary_centi,
  // [101] BCD energy (/100 kWh) with binary power (u24 BE / 10 W): midea-local's tests; PortaSplit
  //       users needed binary power (midea-ac-py #414).
  bcd_energy_binary_power,
};
std::string_view energy_format_name(EnergyFormat format);  // "bcd", "binary", "mixed", "binary_centi", …
std::optional<EnergyFormat> energy_format_from_name(std::string_view name);

struct AcGroupData {
  std::uint8_t group = 0;  // idx 3 & 0x0F

  // group 4 (body ≥ 19 bytes)
  std::optional<double> total_energy;    // kWh
  std::optional<double> current_energy;  // kWh, current run
  std::optional<double> power;           // W

  // group 5 (body ≥ 11 bytes)
  std::optional<std::uint8_t> indoor_humidity;  // idx 4, %; 0 → none
  std::optional<int> outdoor_fan_speed;         // idx 8 × 8 (rpm-like)
  std::optional<bool> defrost;                  // idx 10 ≠ 0

  // group 1 (body ≥ 15 bytes): compressor and refrigerant circuit
  std::optional<int> compressor_frequency;         // idx 4, Hz
  std::optional<int> target_compressor_frequency;  // idx 5, Hz
  std::optional<int> compressor_current;           // idx 7, A
  std::optional<int> compressor_voltage;           // idx 8, V
  std::optional<double> indoor_ambient_temperature;  // T1 idx 10: (raw − 30) / 2 °C
  std::optional<double> indoor_coil_temperature;     // T2 idx 11: (raw − 30) / 2 °C
  std::optional<double> outdoor_coil_temperature;    // T3 idx 12: (raw − 50) / 2 °C
  std::optional<double> outdoor_ambient_temperature; // T4 idx 13: (raw − 50) / 2 °C
  std::optional<int> discharge_temperature;          // TP idx 14, °C

  // group 2 (body ≥ 9 bytes): indoor fan, condensate pump
  std::optional<int> target_indoor_fan_speed;  // idx 4 × 8
  std::optional<int> indoor_fan_speed;         // idx 5 × 8
  std::optional<bool> water_pump;              // idx 8 & 0x10

  // group 7 (body ≥ 12 bytes)
  std::optional<int> outdoor_unit_power;  // W, idx 10 + 256 · idx 11 (little endian)

  // group 11 (body ≥ 13 bytes): louver angles, degrees
  std::optional<int> horizontal_louver_angle;  // idx 9
  std::optional<int> vertical_louver_angle;    // idx 12

  bool operator==(const AcGroupData&) const = default;
};

// Parses a 0xC1 body. Rejects another body type, a body shorter than 4 bytes, and a body too short for
// its group's fields (offset = body size). A group this codec does not decode (0, 3, 6, …) is not an
// error: the result carries only `group`. `format` matters for group 4 only.
Result<AcGroupData> parse_ac_group_data(ByteView body, EnergyFormat format = EnergyFormat::bcd);

}  // namespace cloudless::midea
