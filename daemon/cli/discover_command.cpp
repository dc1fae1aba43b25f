// `cloudless discover`: the miIO hello (UDP 54321) and Midea discovery (UDP 6445 and 20086) run at
// the same time on one io_context, by broadcast or to one address; one line per device.
#include <cinttypes>
#include <cstdio>

#include <boost/asio/io_context.hpp>

#include "daemon/cli/commands.h"
#include "protocols/common/bytes.h"
#include "protocols/midea/lan_discovery.h"
#include "protocols/miio/discovery.h"
#include "protocols/miio/session.h"

namespace cloudless::cli {

namespace asio = boost::asio;

namespace {

std::chrono::milliseconds seconds_to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
}

// A revealed token lets us ask a miIO device for its model right away (one short attempt).
std::string ask_miio_model(const std::string& address, std::uint16_t port, const miio::Token& token) {
  asio::io_context io;
  miio::SessionOptions options;
  options.host = address;
  options.port = port;
  options.token = token;
  options.timeout = std::chrono::milliseconds(1000);
  options.retries = 0;
  auto session = miio::Session::create(io, options);
  std::string model;
  session->call("miIO.info", nlohmann::json::array(), [&](const miio::CallResult& result) {
    if (result.ok() && result.result.is_object() && result.result.contains("model") &&
        result.result["model"].is_string())
      model = result.result["model"].get<std::string>();
    session->stop();
  });
  io.run();
  return model;
}

void print_miio(const miio::DiscoveredDevice& device, std::uint16_t port) {
  const std::string model = device.token ? ask_miio_model(device.address, port, *device.token) : std::string();
  std::printf("miio  %-15s  id=%u  model=%s  token=%s\n", device.address.c_str(), device.device_id,
              model.empty() ? "?" : model.c_str(),
              device.token ? to_hex(*device.token).c_str() : "hidden (use the token from your backup or cloud)");
}

// protocol, IP, id, model (SN8), version, udpid (what a V3 token/key pair is looked up by), SSID.
void print_midea(const midea::DiscoveredAppliance& appliance) {
  const midea::DiscoveryReply& reply = appliance.reply;
  const std::string model = reply.model();
  const auto type = reply.device_type();
  char type_text[8] = "?";
  if (type) std::snprintf(type_text, sizeof type_text, "0x%02x", *type);
  std::printf("midea %-15s  id=%" PRIu64 "  model=%s  version=V%d  udpid=%s  ssid=%s  port=%u  type=%s\n",
              appliance.sender.c_str(), reply.appliance_id, model.empty() ? "?" : model.c_str(), reply.version,
              to_hex(appliance.udpid).c_str(), reply.ssid.empty() ? "?" : reply.ssid.c_str(), reply.port,
              type_text);
}

}  // namespace

int discover(const DiscoverOptions& options) {
  asio::io_context io;
  const auto timeout = seconds_to_ms(options.timeout_s);

  std::vector<miio::DiscoveredDevice> miio_found;
  std::string miio_error;
  auto miio_discovery = miio::Discovery::create(io, options.target, options.miio_port);
  miio_discovery->start(timeout, [&](std::vector<miio::DiscoveredDevice> devices, std::string error) {
    miio_found = std::move(devices);
    miio_error = std::move(error);
  });

  std::vector<midea::DiscoveredAppliance> midea_found;
  std::string midea_error;
  midea::LanDiscoveryOptions midea_options;
  if (!options.target.empty()) midea_options.target = options.target;
  if (!options.midea_ports.empty()) midea_options.ports = options.midea_ports;
  midea_options.timeout = timeout;
  auto midea_discovery = midea::LanDiscovery::create(io, midea_options);
  midea_discovery->start([&](std::vector<midea::DiscoveredAppliance> appliances, const std::string& error) {
    midea_found = std::move(appliances);
    midea_error = error;
  });

  io.run();

  for (const auto& device : miio_found) print_miio(device, options.miio_port);
  for (const auto& appliance : midea_found) print_midea(appliance);
  if (!miio_error.empty()) std::fprintf(stderr, "cloudless: discover: miio: %s\n", miio_error.c_str());
  if (!midea_error.empty()) std::fprintf(stderr, "cloudless: discover: midea: %s\n", midea_error.c_str());
  // One protocol failing (e.g. no permission to broadcast on its port) still leaves the other's list.
  if (!miio_error.empty() && !midea_error.empty()) return kExitFailure;
  if (miio_found.empty() && midea_found.empty())
    std::fprintf(stderr, "no device answered within %.1f s (%s)\n", options.timeout_s,
                 options.target.empty() ? "broadcast: devices on other subnets or VLANs cannot hear it; try --target"
                                        : options.target.c_str());
  return kExitOk;
}

}  // namespace cloudless::cli
