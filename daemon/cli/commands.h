// The one-shot subcommands of `cloudless` (docs/contract.md "The binary"). Each returns the exit code:
// 0 ok, 1 runtime failure, 2 usage, 78 configuration error.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cloudless::cli {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitConfig = 78;

int check_config(const std::string& config_path);
int run_daemon(const std::string& config_path);

// `cloudless keys ARGS…`: replaces this process with the key commands' program, cloudless-keys
// (keys_main.cpp), found beside this executable (a build tree) or else in `installed_dir`. Returns
// only when it cannot be started (exit 1, said on stderr).
int run_keys_program(const std::string& installed_dir, const std::vector<std::string>& arguments);

struct DiscoverOptions {
  double timeout_s = 5;
  std::string target;  // empty: broadcast
  std::uint16_t miio_port = 54321;
  std::vector<std::uint16_t> midea_ports;  // empty: 6445 and 20086 (tests use free ports)
};
// miIO hello and Midea discovery at once, on one io_context; one line per device.
int discover(const DiscoverOptions& options);

struct MiioTarget {
  std::string host;
  std::uint16_t port = 54321;
  std::string token;
  double timeout_s = 2;
  int retries = 2;
};
int miio_info(const MiioTarget& target);
int miio_call(const MiioTarget& target, const std::string& method, const std::string& params_json);

struct ProvisionOptions {
  std::string ssid;
  std::string password;
  std::string host;       // the device inside its setup AP; empty: the default gateway
  std::uint16_t port = 54321;
  std::string token;      // only when the device hides its token in the hello
  long long uid = 0;
  std::string country_domain;
  std::string lan_host;   // where the device will be on the LAN, to check its token afterwards
  double wait_s = 60;     // how long to try the LAN address
};
int miio_provision(const ProvisionOptions& options);

struct MideaQueryOptions {
  std::string host;
  std::uint16_t port = 0;        // 0: what discovery reports, else 6444
  std::uint64_t id = 0;          // 0: learn it (and V2/V3) by discovery at `host`
  std::string token, key;        // V3: 128 and 64 hex digits
  std::string token_file, key_file;
  double timeout_s = 2;          // per attempt
  std::string energy_format = "bcd";
  std::vector<std::uint16_t> discovery_ports;  // empty: 6445 and 20086 (tests use free ports)
};
// Capabilities and one state query, printed as the daemon would publish the state.
int midea_query(const MideaQueryOptions& options);

struct BleScanOptions {
  double seconds = 10;
  std::string adapter;      // empty: ble.adapter of the config, else hci0
  std::string config_path;
  bool config_given = false;  // named with --config: it must load (the default file may be absent)
  bool json = false;          // a JSON array instead of the table
};
// Xiaomi BLE advertisers heard through BlueZ in `seconds`: one table row each (ble_commands.cpp).
int ble_scan(const BleScanOptions& options);

struct BleBindkeyOptions {
  std::string ssecurity, nonce, data;  // as captured; "@FILE" reads a file, "@-" standard input
  std::string config_path;
  bool config_given = false;
};
// Decrypts a captured Mi Home bind request offline and prints each key with a YAML snippet.
int ble_bindkey(const BleBindkeyOptions& options);

struct BleGattOptions {
  std::string mac;
  std::optional<int> product_id;  // legacy Mi auth: --product-id, else the configured product_id
  std::string adapter;            // empty: ble.adapter of the config, else hci0
  std::string state_dir;          // empty: state_dir of the config, else /var/lib/cloudless
  double timeout_s = 30;          // how long to wait for the device to show up
  std::string config_path;
  bool config_given = false;
  bool legacy_big_endian = false;  // login: the printed byte order of docs/ble.md §S2 instead of the SDK's
  bool legacy_short_key = false;   // login: the 4-byte session key of docs/ble.md §S2 instead of Mi Home's 12
};
// Becomes the device's owner over GATT (standard or legacy Mi auth) and stores token and bind key.
int ble_register(const BleGattOptions& options);
// Checks the stored (or configured) token against the device.
int ble_login(const BleGattOptions& options);

}  // namespace cloudless::cli
