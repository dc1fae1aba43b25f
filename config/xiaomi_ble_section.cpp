// The `protocol: xiaomi_ble` device entry: a MiBeacon sensor or a Mi kettle, by MAC (docs/contract.md,
// config/example.yaml).
#include <string_view>

#include "config/device_sections.h"
#include "config/values.h"

namespace cloudless::config {

namespace {

constexpr std::string_view kXiaomiBleKeys[] = {"protocol",   "mac",   "bindkey",   "bindkey_file",
                                               "product_id", "token", "token_file"};

DeviceSettings load_xiaomi_ble(Reader& reader, const Fields& fields, const Field& entry) {
  BleDeviceConfig ble;
  if (reader.require(fields, "mac", entry)) {
    const Field* field = find(fields, "mac");
    if (const std::optional<std::string> text = reader.read_text(*field)) {
      Result<std::string> mac = parse_mac(*text);
      if (mac) {
        ble.mac = mac.value();
        reader.claim("bluetooth macs", ble.mac, *field, entry.name, "MAC");
      } else {
        reader.problem(field->line(), field->path, mac.error().what);
      }
    }
  }
  // 32 digits for MiBeacon v4/v5 (AES-CCM); 24 for the legacy v2/v3 beacons, whose key is 12 bytes.
  if (auto bindkey = reader.read_hex_secret(fields, "bindkey", "bindkey_file", {32, 24})) {
    ble.bindkey_hex = *bindkey;
  }
  if (const Field* field = find(fields, "product_id")) {
    if (const auto id = reader.read_integer(*field, 0, 65535)) ble.product_id = static_cast<int>(*id);
  }
  if (auto token = reader.read_hex_secret(fields, "token", "token_file", {24})) ble.token_hex = *token;
  return ble;
}

}  // namespace

extern const DeviceSection kXiaomiBleSection{"xiaomi_ble", kXiaomiBleKeys, load_xiaomi_ble};

}  // namespace cloudless::config
