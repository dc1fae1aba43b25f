// cloudless: bridges smart-home devices to MQTT without their vendors' clouds. This file only parses
// the command line (PRODUCT.md "The binary") and hands over to daemon/cli.
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "daemon/cli/commands.h"

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

}  // namespace

int main(int argc, char** argv) {
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
  auto* discover_command =
      app.add_subcommand("discover", "find miIO devices by broadcast (UDP 54321) or at one address");
  add_config_option(discover_command, config_path);
  discover_command->add_option("--timeout", discover_options.timeout_s, "seconds to listen for answers")
      ->capture_default_str();
  discover_command->add_option("--target", discover_options.target, "ask one IPv4 address instead of broadcasting");
  discover_command->add_option("--miio-port", discover_options.miio_port, "miIO UDP port")->capture_default_str();

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

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "cloudless: %s\n\n%s", e.what(), app.help().c_str());
    return kExitUsage;
  }

  if (*run) return run_daemon(config_path);
  if (*check) return check_config(config_path);
  if (*discover_command) return discover(discover_options);
  if (*info) return miio_info(target);
  if (*call) return miio_call(target, method, params);
  if (*provision) return miio_provision(provision_options);
  std::fprintf(stderr, "cloudless: no command given\n\n%s", app.help().c_str());
  return kExitUsage;
}
