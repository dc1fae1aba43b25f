// The `protocol: midea` device entry: an air conditioner on TCP 6444, V2 or V3 (docs/contract.md,
// config/example.yaml).
#include <algorithm>
#include <iterator>
#include <string_view>

#include "config/device_sections.h"

namespace cloudless::config {

namespace {

using namespace std::chrono_literals;

constexpr std::string_view kMideaKeys[] = {"protocol",      "host",    "port",          "id",
                                           "token",         "token_file", "key",        "key_file",
                                           "poll_interval", "timeout", "energy_format", "temp_step"};
// Target temperature steps a Midea unit can be offered: the wire carries half degrees.
constexpr double kMideaTempSteps[] = {0.5, 1.0};
constexpr midea::EnergyFormat kMideaEnergyFormats[] = {
    midea::EnergyFormat::bcd, midea::EnergyFormat::binary, midea::EnergyFormat::mixed,
    midea::EnergyFormat::binary_centi, midea::EnergyFormat::bcd_energy_binary_power};

DeviceSettings load_midea(Reader& reader, const Fields& fields, const Field& entry) {
  MideaDeviceConfig midea;
  if (reader.require(fields, "host", entry)) {
    if (const auto host = reader.read_host(*find(fields, "host"))) midea.host = *host;
  }
  if (const Field* field = find(fields, "port")) {
    if (const auto port = reader.read_integer(*field, 1, 65535)) midea.port = static_cast<std::uint16_t>(*port);
  }
  if (reader.require(fields, "id", entry)) {
    const Field* field = find(fields, "id");
    if (const auto id = reader.read_unsigned64(*field)) {
      midea.appliance_id = *id;
      reader.claim("midea appliance ids", std::to_string(*id), *field, entry.name, "appliance id");
    }
  }

  // V3 appliances need both token and key; V1/V2 ones need neither.
  const bool has_token = find(fields, "token") || find(fields, "token_file");
  const bool has_key = find(fields, "key") || find(fields, "key_file");
  if (has_token != has_key) {
    reader.problem(entry.key_line, entry.path,
            has_token ? "token given without key (V3 appliances need both, older ones neither)"
                      : "key given without token (V3 appliances need both, older ones neither)");
  }
  if (auto token = reader.read_hex_secret(fields, "token", "token_file", {128})) midea.token_hex = *token;
  if (auto key = reader.read_hex_secret(fields, "key", "key_file", {64})) midea.key_hex = *key;

  if (const Field* field = find(fields, "poll_interval")) {
    if (const auto interval = reader.read_duration(*field, 1s)) midea.poll_interval = *interval;
  }
  if (const Field* field = find(fields, "timeout")) {
    // Below ~100 ms a LAN round trip plus the Wi-Fi module's own latency fails.
    if (const auto timeout = reader.read_duration(*field, 100ms)) midea.timeout = *timeout;
  }
  if (const Field* field = find(fields, "energy_format")) {
    if (const auto name = reader.read_text(*field)) {
      if (const auto format = midea::energy_format_from_name(*name)) {
        midea.energy_format = *format;
      } else {
        std::string valid;
        for (const midea::EnergyFormat known : kMideaEnergyFormats) {
          if (!valid.empty()) valid += ", ";
          valid += midea::energy_format_name(known);
        }
        reader.problem(field->line(), field->path, "must be one of " + valid);
      }
    }
  }
  if (const Field* field = find(fields, "temp_step")) {
    if (const auto step = reader.read_number(*field)) {
      if (std::find(std::begin(kMideaTempSteps), std::end(kMideaTempSteps), *step) != std::end(kMideaTempSteps)) {
        midea.temp_step = *step;
      } else {
        reader.problem(field->line(), field->path, "must be 0.5 or 1 (°C)");
      }
    }
  }
  return midea;
}

}  // namespace

extern const DeviceSection kMideaSection{"midea", kMideaKeys, load_midea};

}  // namespace cloudless::config
