// The one-shot subcommands of `cloudless` (PRODUCT.md "The binary"). Each returns the exit code:
// 0 ok, 1 runtime failure, 2 usage, 78 configuration error.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace cloudless::cli {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitConfig = 78;

int check_config(const std::string& config_path);
int run_daemon(const std::string& config_path);

struct DiscoverOptions {
  double timeout_s = 5;
  std::string target;  // empty: broadcast
  std::uint16_t miio_port = 54321;
};
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

}  // namespace cloudless::cli
