#include "daemon/cli/ble_settings.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "config/config.h"
#include "daemon/cli/commands.h"

namespace cloudless::cli {

std::optional<BleSettings> load_ble_settings(const std::string& path, bool given, int& exit_code) {
  BleSettings settings;
  if (!given) {
    if (::access(path.c_str(), F_OK) != 0) return settings;  // no config yet: fine for these commands
    if (::access(path.c_str(), R_OK) != 0) {
      std::fprintf(stderr, "cloudless: cannot read %s (permission denied): going on without it (no bind keys)\n",
                   path.c_str());
      return settings;
    }
  }
  const config::LoadResult loaded = config::load_file(path);
  if (!loaded.config) {
    for (const auto& line : loaded.errors) std::fprintf(stderr, "%s\n", line.c_str());
    std::fprintf(stderr, "%s: %zu problem(s)\n", path.c_str(), loaded.errors.size());
    exit_code = kExitConfig;
    return std::nullopt;
  }
  settings.source = path;
  settings.state_dir = loaded.config->state_dir;
  if (loaded.config->ble) settings.adapter = loaded.config->ble->adapter;
  for (const auto& device : loaded.config->devices) {
    const auto* ble_device = std::get_if<config::BleDeviceConfig>(&device.settings);
    if (!ble_device) continue;
    std::string mac = ble_device->mac;
    std::transform(mac.begin(), mac.end(), mac.begin(), [](unsigned char c) { return std::toupper(c); });
    settings.by_mac[mac] = ConfiguredBle{device.id, ble_device->bindkey_hex, ble_device->product_id, ble_device->token_hex};
  }
  return settings;
}

}  // namespace cloudless::cli
