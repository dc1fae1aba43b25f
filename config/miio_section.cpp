// The `protocol: miio` device entry: a plug on UDP 54321 (docs/contract.md, config/example.yaml).
#include <string_view>

#include "config/device_sections.h"
#include "config/values.h"

namespace cloudless::config {

namespace {

using namespace std::chrono_literals;

constexpr std::string_view kMiioKeys[] = {"protocol", "host",          "port",    "token",
                                          "token_file", "model",       "poll_interval",
                                          "timeout",  "retries",       "miot"};
constexpr std::string_view kMiotKeys[] = {"switch",  "power",   "energy",
                                          "voltage", "current", "temperature"};
constexpr std::string_view kMiotPropertyKeys[] = {"siid", "piid", "scale"};

std::optional<MiotProperty> load_miot_property(Reader& reader, const Field& field) {
  if (!field.value.IsMap()) {
    reader.problem(field.line(), field.path,
            "expected a map {siid, piid, scale}, not " + kind_of(field.value));
    return std::nullopt;
  }
  const Fields fields =
      reader.select(reader.entries(field.value, field.path), kMiotPropertyKeys, " in a MIoT property");
  MiotProperty property;
  bool complete = true;
  for (const auto& [key, target] : {std::pair{"siid", &property.siid}, std::pair{"piid", &property.piid}}) {
    const Field* part = find(fields, key);
    if (!reader.require(fields, key, field)) {
      complete = false;
      continue;
    }
    const auto value = reader.read_integer(*part, 1, 255);
    if (value) *target = static_cast<int>(*value);
    complete = complete && value.has_value();
  }
  if (const Field* part = find(fields, "scale")) {
    const std::optional<double> scale = reader.read_number(*part);
    if (scale && *scale == 0) reader.problem(part->line(), part->path, "must not be 0");
    if (scale && *scale != 0) property.scale = *scale;
  }
  if (!complete) return std::nullopt;
  return property;
}

std::optional<MiotMapping> load_miot(Reader& reader, const Field& section) {
  if (!section.value.IsMap()) {
    reader.problem(section.line(), section.path,
            "expected a map of " + join(kMiotKeys, ", ") + " to {siid, piid, scale}, not " +
                kind_of(section.value));
    return std::nullopt;
  }
  const Fields fields = reader.select(reader.entries(section.value, section.path), kMiotKeys, " in miot");
  MiotMapping mapping;
  const std::pair<std::string_view, std::optional<MiotProperty>*> targets[] = {
      {"switch", &mapping.switch_}, {"power", &mapping.power},     {"energy", &mapping.energy},
      {"voltage", &mapping.voltage}, {"current", &mapping.current}, {"temperature", &mapping.temperature}};
  for (const auto& [key, target] : targets) {
    if (const Field* field = find(fields, key)) *target = load_miot_property(reader, *field);
  }
  return mapping;
}

DeviceSettings load_miio(Reader& reader, const Fields& fields, const Field& entry) {
  MiioDeviceConfig miio;
  const Field* host_field = find(fields, "host");
  std::optional<std::string> host;
  if (reader.require(fields, "host", entry)) host = reader.read_host(*host_field);
  if (host) miio.host = *host;
  bool port_known = true;
  if (const Field* field = find(fields, "port")) {
    const auto port = reader.read_integer(*field, 1, 65535);
    if (port) miio.port = static_cast<std::uint16_t>(*port);
    port_known = port.has_value();
  }
  if (host && port_known) {
    reader.claim("miio endpoints", lower_case(*host) + ":" + std::to_string(miio.port), *host_field,
          entry.name, "host and port");
  }

  if (reader.require(fields, "token", entry, "token_file")) {
    if (auto token = reader.read_hex_secret(fields, "token", "token_file", {32})) miio.token_hex = *token;
  }
  if (const Field* field = find(fields, "model")) {
    if (const std::optional<std::string> model = reader.read_text(*field)) {
      if (is_miio_model(*model)) {
        miio.model = *model;
      } else {
        reader.problem(field->line(), field->path, "expected a model name like chuangmi.plug.v3");
      }
    }
  }
  if (const Field* field = find(fields, "poll_interval")) {
    if (const auto interval = reader.read_duration(*field, 1s)) miio.poll_interval = *interval;
  }
  if (const Field* field = find(fields, "timeout")) {
    // Below ~100 ms a LAN round trip plus the plug's own latency (tens of ms on ESP32 plugs) fails.
    if (const auto timeout = reader.read_duration(*field, 100ms)) miio.timeout = *timeout;
  }
  if (const Field* field = find(fields, "retries")) {
    if (const auto retries = reader.read_integer(*field, 0, 10)) miio.retries = static_cast<int>(*retries);
  }
  if (const Field* field = find(fields, "miot")) miio.miot = load_miot(reader, *field);
  return miio;
}

}  // namespace

extern const DeviceSection kMiioSection{"miio", kMiioKeys, load_miio};

}  // namespace cloudless::config
