// What the `cloudless ble …` commands read from the configuration: the adapter, state_dir and the
// configured BLE devices. The default file may be absent or unreadable (a fresh install, a user not
// in the cloudless group): then the commands work without it and say so; a file named with --config
// must load.
#pragma once

#include <map>
#include <optional>
#include <string>

namespace cloudless::cli {

struct ConfiguredBle {
  std::string id;
  std::string bindkey_hex;  // empty: none configured
  std::optional<int> product_id;
  std::string token_hex;    // empty: none configured
};

struct BleSettings {
  std::string adapter;                          // ble.adapter, or "" when the config has no ble: section
  std::string state_dir;                        // state_dir of the config, or "" when no file was read
  std::map<std::string, ConfiguredBle> by_mac;  // upper-case MAC → configured device
  std::string source;                           // the file read, "" when none
};

// nullopt with an exit code in `exit_code` when the command must stop (a file named with --config
// that does not load, or a default file that exists, is readable and is broken: 78 either way).
std::optional<BleSettings> load_ble_settings(const std::string& path, bool given, int& exit_code);

}  // namespace cloudless::cli
