// 0xC1 group-data codec. Layout: ac_group_data.h and docs/midea.md §4.8.
#include "protocols/midea/ac_group_data.h"

#include <array>
#include <string>

#include "protocols/midea/ac_frame.h"

namespace cloudless::midea {

namespace {

constexpr std::size_t kMinGroupBody = 4;  // C1 21 01 4g

// Minimum body size per decoded group (last index read + 1); 0 = not decoded.
std::size_t required_size(std::uint8_t group) {
  switch (group) {
    case 1: return 15;
    case 2: return 9;
    case 4: return 19;
    case 5: return 11;
    case 7: return 12;
    case 11: return 13;
    default: return 0;
  }
}

// Radix-100 or radix-256 big-endian accumulation over `bytes`, as an exact integer; the caller divides
// once, so a value compares equal to its decimal literal (docs/midea.md §7.3 "float note").
enum class Digits { bcd, mixed, binary };
std::uint64_t accumulate(ByteView bytes, Digits digits) {
  std::uint64_t value = 0;
  for (const std::uint8_t byte : bytes) {
    switch (digits) {
      case Digits::bcd: value = value * 100 + 10 * (byte >> 4) + (byte & 0x0F); break;  // nibbles unchecked
      case Digits::mixed: value = value * 100 + byte; break;
      case Digits::binary: value = value << 8 | byte; break;
    }
  }
  return value;
}

struct EnergyRule {
  Digits energy_digits;
  double energy_divisor;  // raw → kWh
  Digits power_digits;    // power divisor is always 10 (raw → W)
};

EnergyRule rule_for(EnergyFormat format) {
  switch (format) {
    case EnergyFormat::bcd: return {Digits::bcd, 100, Digits::bcd};
    case EnergyFormat::binary: return {Digits::binary, 10, Digits::binary};
    case EnergyFormat::mixed: return {Digits::mixed, 100, Digits::mixed};
    case EnergyFormat::binary_centi: return {Digits::binary, 100, Digits::binary};
    case EnergyFormat::bcd_energy_binary_power: return {Digits::bcd, 100, Digits::binary};
  }
  return {Digits::bcd, 100, Digits::bcd};
}

bool all_zero(ByteView bytes) {
  for (const std::uint8_t byte : bytes) {
    if (byte != 0) return false;
  }
  return true;
}

void decode_energy(AcGroupData& out, ByteView body, EnergyFormat format) {
  const ByteView total = body.subspan(4, 4);     // idx 4..7
  const ByteView current = body.subspan(12, 4);  // idx 12..15
  const ByteView power = body.subspan(16, 3);    // idx 16..18
  // A unit without a meter answers zeros (msmart: "valid if at least one stat is non zero").
  if (all_zero(total) && all_zero(current) && all_zero(power)) return;
  const EnergyRule rule = rule_for(format);
  out.total_energy = static_cast<double>(accumulate(total, rule.energy_digits)) / rule.energy_divisor;
  out.current_energy = static_cast<double>(accumulate(current, rule.energy_digits)) / rule.energy_divisor;
  out.power = static_cast<double>(accumulate(power, rule.power_digits)) / 10.0;
}

}  // namespace

std::string_view energy_format_name(EnergyFormat format) {
  switch (format) {
    case EnergyFormat::bcd: return "bcd";
    case EnergyFormat::binary: return "binary";
    case EnergyFormat::mixed: return "mixed";
    case EnergyFormat::binary_centi: return "binary_centi";
    case EnergyFormat::bcd_energy_binary_power: return "bcd_energy_binary_power";
  }
  return "bcd";
}

std::optional<EnergyFormat> energy_format_from_name(std::string_view name) {
  for (const EnergyFormat format : {EnergyFormat::bcd, EnergyFormat::binary, EnergyFormat::mixed,
                                    EnergyFormat::binary_centi, EnergyFormat::bcd_energy_binary_power}) {
    if (energy_format_name(format) == name) return format;
  }
  return std::nullopt;
}

Result<AcGroupData> parse_ac_group_data(ByteView body, EnergyFormat format) {
  if (body.empty()) return parse_error("empty group-data body", 0);
  if (body[0] != body_type::kGroupData) {
    return parse_error("body type " + hex_literal(body[0], 2) + " is not a group-data reply (0xc1)", 0);
  }
  if (body.size() < kMinGroupBody) {
    return parse_error("truncated group-data body: " + std::to_string(body.size()) + " of 4 bytes", body.size());
  }
  AcGroupData out;
  out.group = body[3] & 0x0F;  // idx 3: 0x40 | group
  const std::size_t needed = required_size(out.group);
  if (body.size() < needed) {
    return parse_error("truncated group " + std::to_string(out.group) + " body: " + std::to_string(body.size()) +
                           " of " + std::to_string(needed) + " bytes",
                       body.size());
  }
  switch (out.group) {
    case 1:
      out.compressor_frequency = body[4];
      out.target_compressor_frequency = body[5];
      out.compressor_current = body[7];
      out.compressor_voltage = body[8];
      out.indoor_ambient_temperature = (body[10] - 30) / 2.0;
      out.indoor_coil_temperature = (body[11] - 30) / 2.0;
      out.outdoor_coil_temperature = (body[12] - 50) / 2.0;
      out.outdoor_ambient_temperature = (body[13] - 50) / 2.0;
      out.discharge_temperature = body[14];
      break;
    case 2:
      out.target_indoor_fan_speed = body[4] * 8;
      out.indoor_fan_speed = body[5] * 8;
      out.water_pump = (body[8] & 0x10) != 0;  // or the float switch that triggers it (msmart)
      break;
    case 4:
      decode_energy(out, body, format);
      break;
    case 5:
      if (body[4] != 0) out.indoor_humidity = body[4];
      out.outdoor_fan_speed = body[8] * 8;
      out.defrost = body[10] != 0;
      break;
    case 7:
      out.outdoor_unit_power = body[10] + 256 * body[11];
      break;
    case 11:
      out.horizontal_louver_angle = body[9];
      out.vertical_louver_angle = body[12];
      break;
    default:
      break;
  }
  return out;
}

}  // namespace cloudless::midea
