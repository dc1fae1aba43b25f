// The daemon: one io_context on one thread owning the bridge, the devices, signals (SIGTERM/SIGINT
// stop, SIGHUP reload) and the systemd notifier.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "config/config.h"
#include "daemon/devices/ble_hub.h"
#include "daemon/model/device.h"
#include "daemon/mqtt/bridge.h"
#include "daemon/app/systemd_notify.h"

namespace cloudless {

class Daemon {
 public:
  explicit Daemon(config::Config config);
  ~Daemon();
  int run();  // returns the process exit code

 private:
  void add_device(const config::DeviceConfig& device);
  void remove_device(const std::string& id, bool clear_discovery);
  void wait_for_signal();
  void wait_for_reload();
  void reload();
  void shutdown();
  void update_status();
  nlohmann::json info_payload() const;

  boost::asio::io_context io_{1};
  boost::asio::signal_set stop_signals_;
  boost::asio::signal_set reload_signal_;
  boost::asio::steady_timer status_timer_;
  boost::asio::steady_timer shutdown_deadline_;
  config::Config config_;
  SystemdNotifier notifier_;
  std::unique_ptr<Bridge> bridge_;
  // Shared by the BLE devices; declared before devices_ so that it outlives them (they unsubscribe
  // when destroyed). Scans only while a BLE device is subscribed: without one, no D-Bus at all.
  BleHub ble_hub_;
  std::map<std::string, std::unique_ptr<model::Device>> devices_;
  std::map<std::string, config::DeviceConfig> device_configs_;
  bool stopping_ = false;
};

// Every subcommand's config summary for bridge/info: no secrets.
nlohmann::json config_summary(const config::Config& config);

}  // namespace cloudless
