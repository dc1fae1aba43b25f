// cloudless: bridges smart-home devices to MQTT without their vendors' clouds. This file only parses
// the command line (docs/contract.md "The binary") and hands over to daemon/cli.
#include <cstdio>
#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "daemon/cli/commands.h"
#include "daemon/cli/parse_command_line.h"

namespace {

constexpr const char* kDefaultConfig = "/etc/cloudless/config.yaml";

void add_config_option(CLI::App* command, std::string& path) {
  command->add_option("--config", path, "configuration file")->capture_default_str();
}

void add_miio_target(CLI::App* command, cloudless::cli::MiioTarget& target) {
  command->add_option("--host", target.host, "device IPv4 address or host name")->required();
  command->add_option("--token", target.token, "device token, 32 hex digits")->required();
  command->add_option("--port", target.port, "device UDP port")->capture_default_str();
  command->add_option("--timeout", target.timeout_s, "seconds to wait for each answer")->capture_default_str();
  command->add_option("--retries", target.retries, "extra attempts after a timeout")->capture_default_str();
}

// Parses the command line into the command to run. The parser's tables (about 50 kB) are gone by
// the time it runs: the daemon keeps running for months.
std::function<int()> parse_command(int argc, char** argv) {
  using namespace cloudless::cli;
  CLI::App app{"cloudless: Xiaomi miIO, Midea and Xiaomi BLE devices on MQTT and Home Assistant, no cloud", "cloudless"};
  app.require_subcommand(1);
  app.set_version_flag("--version", CLOUDLESS_VERSION);
  std::string config_path = kDefaultConfig;

  auto* run = app.add_subcommand("run", "run the daemon");
  add_config_option(run, config_path);

  auto* check = app.add_subcommand("check-config", "validate the configuration; exit 0, or 78 listing every problem");
  add_config_option(check, config_path);

  DiscoverOptions discover_options;
  auto* discover_command = app.add_subcommand(
      "discover",
      "find miIO devices (UDP 54321) and Midea appliances (UDP 6445/20086) by broadcast or at one address");
  add_config_option(discover_command, config_path);
  discover_command->add_option("--timeout", discover_options.timeout_s, "seconds to listen for answers")
      ->capture_default_str();
  discover_command->add_option("--target", discover_options.target, "ask one IPv4 address instead of broadcasting");
  discover_command->add_option("--miio-port", discover_options.miio_port, "miIO UDP port")->capture_default_str();
  // Hidden: tests run fake appliances on free ports of 127.0.0.x.
  discover_command->add_option("--midea-port", discover_options.midea_ports, "Midea discovery UDP port (repeatable)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->group("");

  auto* miio = app.add_subcommand("miio", "talk to one Xiaomi miIO WiFi device");
  miio->require_subcommand(1);
  MiioTarget target;
  auto* info = miio->add_subcommand("info", "ask miIO.info (model, firmware, network) and pretty-print it");
  add_config_option(info, config_path);
  add_miio_target(info, target);

  std::string method, params;
  auto* call = miio->add_subcommand("call", "send any raw miIO method, e.g. get_prop '[\"power\"]'");
  add_config_option(call, config_path);
  add_miio_target(call, target);
  call->add_option("METHOD", method, "method name, e.g. get_prop or get_properties")->required();
  call->add_option("JSON-PARAMS", params, "parameters as a JSON list or object (default [])");

  ProvisionOptions provision_options;
  auto* provision = miio->add_subcommand(
      "provision",
      "join a device in setup-AP mode to your WLAN (miIO.config_router), then check whether its token survived");
  add_config_option(provision, config_path);
  provision->add_option("--ssid", provision_options.ssid, "your WLAN name (2.4 GHz)")->required();
  provision->add_option("--password", provision_options.password, "your WLAN password")->required();
  provision->add_option("--host", provision_options.host, "the device in its setup AP (default: the default gateway)");
  provision->add_option("--port", provision_options.port, "device UDP port")->capture_default_str();
  provision->add_option("--token", provision_options.token, "token, if the device hides it in its hello");
  provision->add_option("--uid", provision_options.uid, "Mi account user id to report (default 0)")->capture_default_str();
  provision->add_option("--country-domain", provision_options.country_domain, "server region, e.g. de (optional)");
  provision->add_option("--lan-host", provision_options.lan_host,
                        "the device's address on your WLAN, to check its token afterwards");
  provision->add_option("--wait", provision_options.wait_s, "seconds to keep trying --lan-host")->capture_default_str();

  auto* midea = app.add_subcommand("midea", "talk to one Midea air conditioner (LAN V2/V3)");
  midea->require_subcommand(1);
  MideaQueryOptions midea_options;
  auto* midea_query_command = midea->add_subcommand(
      "query",
      "read capabilities and state once; print the state as the daemon publishes it, then the capabilities. "
      "Without --id, Midea discovery at --host learns the appliance id and V2/V3 first");
  add_config_option(midea_query_command, config_path);
  midea_query_command->add_option("--host", midea_options.host, "appliance IPv4 address")->required();
  midea_query_command->add_option("--port", midea_options.port, "appliance TCP port (default: from discovery, or 6444)");
  midea_query_command->add_option("--id", midea_options.id, "appliance id, as `cloudless discover` prints it");
  midea_query_command->add_option("--token", midea_options.token, "V3 token, 128 hex digits");
  midea_query_command->add_option("--key", midea_options.key, "V3 key, 64 hex digits");
  midea_query_command->add_option("--token-file", midea_options.token_file, "file holding the V3 token");
  midea_query_command->add_option("--key-file", midea_options.key_file, "file holding the V3 key");
  midea_query_command->add_option("--timeout", midea_options.timeout_s, "seconds to wait for each answer")
      ->capture_default_str();
  midea_query_command
      ->add_option("--energy-format", midea_options.energy_format,
                   "power/energy encoding: bcd, binary, mixed, binary_centi, bcd_energy_binary_power")
      ->capture_default_str();
  // Hidden: tests run fake appliances on free ports of 127.0.0.x.
  midea_query_command
      ->add_option("--discovery-port", midea_options.discovery_ports, "Midea discovery UDP port (repeatable)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->group("");

  auto* ble = app.add_subcommand(
      "ble", "Xiaomi Bluetooth LE: list advertisers, get bind keys (offline capture, or from the device itself)");
  ble->require_subcommand(1);
  BleScanOptions ble_scan_options;
  auto* ble_scan_command = ble->add_subcommand(
      "scan", "list the Xiaomi BLE advertisers heard through BlueZ: MAC, product, encrypted or not, last values");
  ble_scan_command->footer(
      "Listen through BlueZ (system D-Bus) for --seconds and list every Xiaomi BLE advertiser heard "
      "(MiBeacon, service data 0xFE95): MAC, RSSI, number of adverts, product id and model, whether its "
      "adverts are encrypted, the last values it sent (decrypted when the config has its bindkey) and "
      "the device id when it is configured. The daemon publishes configured sensors only; use this to "
      "find MACs and to check a bind key. Reads the adapter (ble.adapter) and bind keys from --config "
      "when the file exists. Exit 1 with what to do when the bus, bluetoothd or the adapter is missing or off.");
  add_config_option(ble_scan_command, config_path);
  ble_scan_command->add_option("--seconds", ble_scan_options.seconds, "how long to listen")->capture_default_str();
  ble_scan_command->add_option("--adapter", ble_scan_options.adapter,
                               "Bluetooth adapter, e.g. hci1 (default: ble.adapter of the config, else hci0)");
  ble_scan_command->add_flag("--json", ble_scan_options.json, "print a JSON array instead of the table");

  BleBindkeyOptions ble_bindkey_options;
  auto* ble_bindkey_command = ble->add_subcommand(
      "bindkey", "decrypt a captured Mi Home bind request offline: the bind key of an encrypted BLE sensor");
  ble_bindkey_command->footer(
      "Decrypt, offline, the bind request Mi Home sends while adding a BLE sensor (POST "
      ".../app/device/bltbind, captured with an HTTPS proxy such as mitmproxy, HTTP Toolkit, Charles or "
      "Stream) and print the sensor's bind key, the device it belongs to (did, MAC, model) and a YAML "
      "snippet for the config. --ssecurity comes from the Mi Home login response of the same session, "
      "--nonce and --data are the request's _nonce and data form fields; URL-encoded values (%2B %2F %3D) "
      "are accepted, --data may be the whole form body, and @FILE (or @- for standard input) reads a value "
      "from a file. Exit 1 when decryption fails (values from different sessions), 2 for values that are "
      "not base64. The README section \"Getting a bind key (Xiaomi BLE)\" walks through the capture.");
  add_config_option(ble_bindkey_command, config_path);
  ble_bindkey_command->add_option("--ssecurity", ble_bindkey_options.ssecurity,
                                  "ssecurity from the login response (base64, or @FILE)")
      ->required();
  ble_bindkey_command->add_option("--nonce", ble_bindkey_options.nonce,
                                  "_nonce of the bltbind request (base64, or @FILE; may be omitted when --data is "
                                  "the whole form body)");
  ble_bindkey_command->add_option("--data", ble_bindkey_options.data,
                                  "data of the bltbind request (base64, the whole form body, or @FILE)")
      ->required();

  BleGattOptions ble_gatt_options;
  const auto add_gatt_options = [&](CLI::App* command) {
    add_config_option(command, config_path);
    command->add_option("MAC", ble_gatt_options.mac, "the device's Bluetooth address, AA:BB:CC:DD:EE:FF")->required();
    command->add_option("--adapter", ble_gatt_options.adapter,
                        "Bluetooth adapter, e.g. hci1 (default: ble.adapter of the config, else hci0)");
    command->add_option("--state-dir", ble_gatt_options.state_dir,
                        "where tokens and keys are kept (default: state_dir of the config, else /var/lib/cloudless)");
    command->add_option("--timeout", ble_gatt_options.timeout_s,
                        "seconds to wait for the device to show up before connecting")
        ->capture_default_str();
  };
  auto* ble_register_command = ble->add_subcommand(
      "register", "become the device's owner over GATT and store its token and bind key (unbinds it from Mi Home)");
  ble_register_command->footer(
      "Connect to the device through BlueZ, run the handshake it speaks and store what it hands out in "
      "state_dir (ble_<mac>.json, mode 0600), where the daemon finds it: no cloud, no phone. Standard auth "
      "(Mi service 2.x, e.g. LYWSD03MMC): a new ECDH key exchange gives a new token and a new MiBeacon bind "
      "key, printed and used by the daemon from the sensor's next advert. THIS UNBINDS THE DEVICE FROM MI "
      "HOME: the app's key stops working and re-adding it there makes a new one (and breaks ours). Legacy Mi "
      "auth (kettles, MiFlora, Yeelight remotes): registers a new token with the product id (--product-id, "
      "else the configured product_id) and reads the v2/v3 beacon key where the device allows it. Nothing is "
      "stored unless the device confirmed the exchange. Exit 1 with the reason when it fails.");
  add_gatt_options(ble_register_command);
  ble_register_command->add_option("--product-id", ble_gatt_options.product_id,
                                   "legacy Mi auth only: the product id, e.g. 131 (YM-K1501 kettle)");
  auto* ble_login_command = ble->add_subcommand("login", "check the stored (or configured) token against the device");
  ble_login_command->footer(
      "Connect and log in with the token `cloudless ble register` stored (or the device's `token:` in the "
      "config): exit 0 when the device proves it knows the same token, 1 with the reason otherwise. Changes "
      "nothing on the device. Legacy Mi auth login constants are unverified on hardware: --seed-byte-order "
      "and --short-key select the reading of the published write-up (docs/ble.md §S2) instead of the Mi SDK's.");
  add_gatt_options(ble_login_command);
  ble_login_command->add_flag("--seed-byte-order", ble_gatt_options.legacy_big_endian,
                              "legacy login: send the constants big-endian, as the published write-up (docs/ble.md §S2) prints them");
  ble_login_command->add_flag("--short-key", ble_gatt_options.legacy_short_key,
                              "legacy login: a 4-byte session key (docs/ble.md §S2) instead of 12 bytes (Mi Home)");

  // Everything after `keys` (its --help too) belongs to the key commands' own program (keys_main.cpp).
  auto* keys = app.add_subcommand(
      "keys", "get keys without the vendor app: miIO tokens and BLE bind keys (Xiaomi QR login or an app backup), "
              "Midea V3 token/key (MSmartHome account); one-shot, the daemon never talks to a cloud");
  keys->prefix_command();
  keys->set_help_flag();

  if (const auto exit_code = parse_command_line(app, argc, argv, "cloudless")) {
    return [code = *exit_code] { return code; };
  }

  if (*run) return [=] { return run_daemon(config_path); };
  if (*check) return [=] { return check_config(config_path); };
  if (*discover_command) return [=] { return discover(discover_options); };
  if (*info) return [=] { return miio_info(target); };
  if (*call) return [=] { return miio_call(target, method, params); };
  if (*provision) return [=] { return miio_provision(provision_options); };
  if (*midea_query_command) return [=] { return midea_query(midea_options); };
  if (*ble_scan_command) {
    ble_scan_options.config_path = config_path;
    ble_scan_options.config_given = ble_scan_command->get_option("--config")->count() > 0;
    return [=] { return ble_scan(ble_scan_options); };
  }
  if (*ble_bindkey_command) {
    ble_bindkey_options.config_path = config_path;
    ble_bindkey_options.config_given = ble_bindkey_command->get_option("--config")->count() > 0;
    return [=] { return ble_bindkey(ble_bindkey_options); };
  }
  if (*ble_register_command || *ble_login_command) {
    ble_gatt_options.config_path = config_path;
    CLI::App* command = *ble_register_command ? ble_register_command : ble_login_command;
    ble_gatt_options.config_given = command->get_option("--config")->count() > 0;
    if (*ble_register_command) return [=] { return ble_register(ble_gatt_options); };
    return [=] { return ble_login(ble_gatt_options); };
  }
  // CLOUDLESS_KEYS_DIR: <libexecdir>/cloudless of the install prefix (daemon/CMakeLists.txt).
  if (*keys) return [arguments = keys->remaining()] { return run_keys_program(CLOUDLESS_KEYS_DIR, arguments); };
  std::fprintf(stderr, "cloudless: no command given\n\n%s", app.help().c_str());
  return [] { return kExitUsage; };
}

}  // namespace

int main(int argc, char** argv) { return parse_command(argc, argv)(); }
