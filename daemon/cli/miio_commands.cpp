// `cloudless miio info|call|provision`: one io_context run to completion. (`discover`: discover_command.cpp.)
#include <cstdio>
#include <fstream>
#include <sstream>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "daemon/cli/commands.h"
#include "protocols/common/bytes.h"
#include "protocols/miio/discovery.h"
#include "protocols/miio/rpc.h"
#include "protocols/miio/session.h"

namespace cloudless::cli {

namespace asio = boost::asio;

namespace {

std::chrono::milliseconds seconds_to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

std::string pretty(const nlohmann::json& value) {
  return value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Runs one call on a fresh session and returns its result.
miio::CallResult call_once(const MiioTarget& target, const miio::Token& token, const std::string& method,
                           const nlohmann::json& params) {
  asio::io_context io;
  miio::SessionOptions options;
  options.host = target.host;
  options.port = target.port;
  options.token = token;
  options.timeout = seconds_to_ms(target.timeout_s);
  options.retries = target.retries;
  auto session = miio::Session::create(io, options);
  miio::CallResult outcome{miio::CallFailure::stopped, {}, std::nullopt, "not run"};
  session->call(method, params, [&](const miio::CallResult& result) {
    outcome = result;
    session->stop();
  });
  io.run();
  return outcome;
}

std::optional<miio::Token> token_or_complain(const std::string& hex) {
  auto token = miio::parse_token(hex);
  if (!token) std::fprintf(stderr, "cloudless: --token: expected 32 hex digits\n");
  return token;
}

int report_failure(const MiioTarget& target, const miio::CallResult& result) {
  switch (result.failure) {
    case miio::CallFailure::wrong_token:
      std::fprintf(stderr, "%s: authentication failed: the device answers, but not with this token (check --token)\n",
                   target.host.c_str());
      break;
    case miio::CallFailure::timeout:
      std::fprintf(stderr, "%s:%u: no answer (%s); is the device on, on this subnet, and is the token right?\n",
                   target.host.c_str(), target.port, result.detail.c_str());
      break;
    default:
      std::fprintf(stderr, "%s: %s: %s\n", target.host.c_str(), std::string(miio::call_failure_name(result.failure)).c_str(),
                   result.detail.c_str());
  }
  return kExitFailure;
}

std::vector<miio::DiscoveredDevice> discover_miio(const std::string& target, std::uint16_t port, double timeout_s,
                                                  std::string& error) {
  asio::io_context io;
  std::vector<miio::DiscoveredDevice> found;
  auto discovery = miio::Discovery::create(io, target, port);
  discovery->start(seconds_to_ms(timeout_s), [&](std::vector<miio::DiscoveredDevice> devices, std::string e) {
    found = std::move(devices);
    error = std::move(e);
  });
  io.run();
  return found;
}

// The IPv4 default gateway from /proc/net/route: where a device's setup AP usually is.
std::string default_gateway() {
  std::ifstream routes("/proc/net/route");
  std::string line;
  std::getline(routes, line);  // header
  while (std::getline(routes, line)) {
    std::istringstream fields(line);
    std::string interface, destination, gateway;
    fields >> interface >> destination >> gateway;
    if (destination != "00000000" || gateway.size() != 8) continue;
    const unsigned long value = std::stoul(gateway, nullptr, 16);  // little-endian bytes
    return std::to_string(value & 0xff) + "." + std::to_string(value >> 8 & 0xff) + "." +
           std::to_string(value >> 16 & 0xff) + "." + std::to_string(value >> 24 & 0xff);
  }
  return {};
}

}  // namespace

int miio_info(const MiioTarget& target) {
  const auto token = token_or_complain(target.token);
  if (!token) return kExitUsage;
  const auto result = call_once(target, *token, "miIO.info", nlohmann::json::array());
  if (!result.ok()) return report_failure(target, result);
  std::printf("%s\n", pretty(result.result).c_str());
  return kExitOk;
}

int miio_call(const MiioTarget& target, const std::string& method, const std::string& params_json) {
  const auto token = token_or_complain(target.token);
  if (!token) return kExitUsage;
  nlohmann::json params = nlohmann::json::array();
  if (!params_json.empty()) {
    params = nlohmann::json::parse(params_json, nullptr, false);
    if (params.is_discarded() || !(params.is_array() || params.is_object())) {
      std::fprintf(stderr, "cloudless: JSON-PARAMS must be a JSON list or object, e.g. '[\"power\"]'\n");
      return kExitUsage;
    }
  }
  const auto result = call_once(target, *token, method, params);
  if (!result.ok()) return report_failure(target, result);
  std::printf("%s\n", pretty(result.result).c_str());
  return kExitOk;
}

int miio_provision(const ProvisionOptions& options) {
  std::string host = options.host.empty() ? default_gateway() : options.host;
  if (host.empty()) {
    std::fprintf(stderr, "cloudless: no default gateway found; join the device's setup Wi-Fi (<model>_miapXXXX) "
                         "or pass --host\n");
    return kExitFailure;
  }
  std::printf("Looking for the device at %s:%u ...\n", host.c_str(), options.port);
  std::string error;
  const auto found = discover_miio(host, options.port, 3.0, error);
  if (!error.empty() || found.empty()) {
    std::fprintf(stderr, "cloudless: no miIO device answered at %s:%u%s%s\n", host.c_str(), options.port,
                 error.empty() ? "" : ": ", error.c_str());
    return kExitFailure;
  }
  const auto& device = found.front();
  std::optional<miio::Token> token = device.token;
  if (!options.token.empty()) {
    token = token_or_complain(options.token);
    if (!token) return kExitUsage;
  }
  if (!token) {
    std::fprintf(stderr,
                 "cloudless: the device (id %u) hides its token, so it is not in setup mode. Reset it (hold the button "
                 "until the light blinks), join its setup Wi-Fi and try again, or pass --token.\n",
                 device.device_id);
    return kExitFailure;
  }
  std::printf("Device id %u answers; its setup token is %s\n", device.device_id, to_hex(*token).c_str());

  nlohmann::json params = {{"ssid", options.ssid}, {"passwd", options.password}, {"uid", options.uid}};
  if (!options.country_domain.empty()) params["country_domain"] = options.country_domain;
  MiioTarget target{host, options.port, {}, 3.0, 1};
  const auto result = call_once(target, *token, "miIO.config_router", params);
  if (!result.ok()) {
    if (result.failure == miio::CallFailure::timeout)
      std::fprintf(stderr, "cloudless: no answer to miIO.config_router; the device may have switched networks "
                           "already: look for it in your router's DHCP leases\n");
    return report_failure(target, result);
  }
  // Firmware answers 0, "ok", "OK" or ["ok"] (docs/miio.md §4.2; python-miio crashes on the bare 0).
  if (!miio::is_ok_result(result.result)) {
    std::fprintf(stderr, "cloudless: the device refused the WLAN settings: %s\n", result.result.dump().c_str());
    return kExitFailure;
  }
  std::printf("The device accepted the settings for \"%s\" and now leaves its setup Wi-Fi.\n", options.ssid.c_str());

  const std::string token_hex = to_hex(*token);
  if (options.lan_host.empty()) {
    std::printf("\nReconnect this machine to your WLAN, find the plug's address in your router, then check the token:\n"
                "  cloudless miio info --host <plug address> --token %s\n"
                "If that says \"authentication failed\", the firmware made a new token when it joined (most firmware\n"
                "since 2017 does, and does not reveal it on the LAN); see README \"Getting a token\".\n",
                token_hex.c_str());
    return kExitOk;
  }

  std::printf("Checking whether the setup token still works at %s (up to %.0f s) ...\n", options.lan_host.c_str(),
              options.wait_s);
  const auto deadline = std::chrono::steady_clock::now() + seconds_to_ms(options.wait_s);
  MiioTarget lan{options.lan_host, options.port, {}, 2.0, 0};
  miio::CallResult last;
  do {
    last = call_once(lan, *token, "miIO.info", nlohmann::json::array());
    if (last.ok() || last.failure == miio::CallFailure::wrong_token) break;
  } while (std::chrono::steady_clock::now() < deadline);

  if (last.ok()) {
    std::printf("The token survived: put this in your config:\n  host: %s\n  token: %s\n", options.lan_host.c_str(),
                token_hex.c_str());
    return kExitOk;
  }
  // Most firmware stays silent on a request under a wrong token; if the device still answers a
  // hello there, it is on the LAN and ignoring our token.
  bool answers_hello = false;
  if (last.failure == miio::CallFailure::timeout) {
    std::string ignored;
    answers_hello = !discover_miio(options.lan_host, options.port, 2.0, ignored).empty();
  }
  if (last.failure == miio::CallFailure::wrong_token || answers_hello) {
    std::printf("The device answers at %s, but NOT with the setup token: its firmware made a new token when it\n"
                "joined your WLAN and does not reveal it on the LAN. You need that new token once, from one of:\n"
                "  - a Mi Home app backup (Debian package miio-tools: miio-extract-tokens BACKUP), or\n"
                "  - a one-time read from the Xiaomi cloud with a token extractor, then block the plug's Internet.\n"
                "Once you have it, cloudless never needs the cloud again.\n",
                options.lan_host.c_str());
    return kExitFailure;
  }
  std::printf("No answer from %s within %.0f s. Check that the device joined your WLAN (router DHCP leases), then\n"
              "  cloudless miio info --host <address> --token %s\n",
              options.lan_host.c_str(), options.wait_s, token_hex.c_str());
  return kExitFailure;
}

}  // namespace cloudless::cli
