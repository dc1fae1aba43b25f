#include "daemon/app/app.h"

#include <csignal>

#include <spdlog/spdlog.h>

#include "daemon/devices/registry.h"
#include "daemon/app/logging.h"
#include "daemon/devices/state_store.h"
#include "daemon/mqtt/mqtt_connection.h"
#include "protocols/common/crypto.h"

namespace cloudless {

namespace asio = boost::asio;

namespace {
const char* output_name(config::OutputMode mode) {
  switch (mode) {
    case config::OutputMode::json: return "json";
    case config::OutputMode::attribute: return "attribute";
    case config::OutputMode::both: return "both";
  }
  return "json";
}

bool same_device(const config::DeviceConfig& a, const config::DeviceConfig& b) {
  return a.protocol == b.protocol && a.settings == b.settings;
}
}  // namespace

nlohmann::json config_summary(const config::Config& config) {
  nlohmann::json devices = nlohmann::json::array();
  for (const auto& device : config.devices) devices.push_back({{"id", device.id}, {"protocol", device.protocol}});
  return {{"mqtt",
           {{"server", config.mqtt.server},
            {"client_id", config.mqtt.client_id},
            {"base_topic", config.mqtt.base_topic},
            {"discovery_prefix", config.mqtt.discovery_prefix},
            {"output", output_name(config.mqtt.output)},
            {"authenticated", !config.mqtt.user.empty()}}},
          {"state_dir", config.state_dir},
          {"log_level", config.log_level},
          {"devices", devices}};
}

Daemon::Daemon(config::Config config)
    : stop_signals_(io_, SIGINT, SIGTERM),
      reload_signal_(io_, SIGHUP),
      status_timer_(io_),
      shutdown_deadline_(io_),
      config_(std::move(config)),
      notifier_(io_),
      ble_hub_(io_, config_.ble.value_or(config::BleConfig{})) {}

Daemon::~Daemon() {
  // The bridge refers to the devices: drop it first, then the devices.
  bridge_.reset();
  devices_.clear();
}

nlohmann::json Daemon::info_payload() const {
  return {{"version", CLOUDLESS_VERSION}, {"config", config_summary(config_)}};
}

int Daemon::run() {
  std::signal(SIGPIPE, SIG_IGN);
  spdlog::info("cloudless {} starting: {} device(s), broker {}", CLOUDLESS_VERSION, config_.devices.size(),
               config_.mqtt.server);
  // openssl.cnf shapes TLS only: without mqtts:// nothing here needs it, and not reading it keeps 0.5 MB
  // of libcrypto out of memory once BLE sensors use EVP (MiBeacon's CCM; docs/build.md §9). The broker
  // cannot change without a restart, so this holds for the life of the process.
  if (!MqttConnection::uses_tls(config_.mqtt.server)) crypto::skip_system_config();
  // Made (0750) before any device reads from it; a problem here costs only what devices learn.
  if (const std::string problem = ensure_state_dir(config_.state_dir); !problem.empty())
    spdlog::error("state_dir: {}; learned state (ids, energy, keys) will not survive a restart", problem);
  bridge_ = std::make_unique<Bridge>(io_, config_.mqtt, info_payload());
  for (const auto& device : config_.devices) add_device(device);
  bridge_->start();
  wait_for_signal();
  // Ready once the config is loaded and the loop runs; the broker may come later (docs/bridges.md §4.1).
  notifier_.ready();
  notifier_.start_watchdog();
  update_status();
  io_.run();
  spdlog::info("cloudless stopped");
  return 0;
}

void Daemon::add_device(const config::DeviceConfig& device) {
  auto created = make_device(device, DeviceContext{io_, *bridge_, config_.state_dir, &ble_hub_});
  if (!created) return;
  model::Device& ref = *created;
  devices_[device.id] = std::move(created);
  device_configs_[device.id] = device;
  bridge_->add_device(ref);
  ref.start();
}

void Daemon::remove_device(const std::string& id, bool clear_discovery) {
  auto it = devices_.find(id);
  if (it == devices_.end()) return;
  it->second->stop();
  bridge_->remove_device(id, clear_discovery);
  devices_.erase(it);
  device_configs_.erase(id);
}

void Daemon::wait_for_signal() {
  stop_signals_.async_wait([this](const boost::system::error_code& error, int signal) {
    if (error) return;
    spdlog::info("received {}, stopping", signal == SIGTERM ? "SIGTERM" : "SIGINT");
    shutdown();
  });
  wait_for_reload();
}

void Daemon::wait_for_reload() {
  reload_signal_.async_wait([this](const boost::system::error_code& error, int) {
    if (error || stopping_) return;
    reload();
    wait_for_reload();
  });
}

void Daemon::reload() {
  if (stopping_) return;
  notifier_.reloading();
  spdlog::info("SIGHUP: reloading {}", config_.source);
  auto loaded = config::load_file(config_.source);
  if (!loaded.config) {
    spdlog::error("reload rejected, keeping the running configuration ({} problem(s)):", loaded.errors.size());
    for (const auto& line : loaded.errors) spdlog::error("  {}", line);
    notifier_.ready();
    return;
  }
  config::Config next = std::move(*loaded.config);
  if (!(next.mqtt == config_.mqtt)) spdlog::warn("reload: mqtt settings changed; restart cloudless to apply them");
  if (next.state_dir != config_.state_dir) spdlog::warn("reload: state_dir changed; restart cloudless to apply it");
  if (next.log_level != config_.log_level) {
    set_log_level(next.log_level);
    spdlog::info("reload: log level {}", next.log_level);
  }
  next.mqtt = config_.mqtt;
  next.state_dir = config_.state_dir;

  std::map<std::string, const config::DeviceConfig*> wanted;
  for (const auto& device : next.devices) wanted[device.id] = &device;
  std::vector<std::string> gone;
  for (const auto& [id, device] : device_configs_) {
    auto it = wanted.find(id);
    if (it == wanted.end()) {
      gone.push_back(id);
    } else if (!same_device(device, *it->second)) {
      spdlog::info("reload: {} changed; restarting it", id);
      gone.push_back(id);
    }
  }
  for (const auto& id : gone) {
    const bool removed_for_good = wanted.find(id) == wanted.end();
    if (removed_for_good) spdlog::info("reload: {} removed", id);
    remove_device(id, removed_for_good);
  }
  config_ = std::move(next);
  // Before the devices subscribe: a changed adapter or watchdog restarts a running scan.
  ble_hub_.configure(config_.ble.value_or(config::BleConfig{}));
  for (const auto& device : config_.devices) {
    if (devices_.count(device.id)) continue;
    if (!device_configs_.count(device.id)) spdlog::info("reload: adding {}", device.id);
    add_device(device);
  }
  bridge_->set_info(info_payload());
  notifier_.ready();
  update_status();
}

void Daemon::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  notifier_.stopping();
  notifier_.stop_watchdog();
  status_timer_.cancel();
  reload_signal_.cancel();
  for (auto& [id, device] : devices_) device->stop();
  // Give the broker a few seconds for the clean "offline"; never hang on it.
  shutdown_deadline_.expires_after(std::chrono::seconds(8));
  shutdown_deadline_.async_wait([this](const boost::system::error_code& error) {
    if (error) return;
    spdlog::warn("MQTT disconnect did not finish in time; exiting anyway");
    io_.stop();
  });
  bridge_->stop([this] {
    shutdown_deadline_.cancel();
    io_.stop();
  });
}

void Daemon::update_status() {
  if (stopping_) return;
  std::size_t online = 0;
  for (const auto& [id, device] : devices_)
    if (device->online()) ++online;
  notifier_.status(std::string(bridge_->connected() ? "MQTT connected" : "MQTT not connected") + "; " +
                   std::to_string(online) + "/" + std::to_string(devices_.size()) + " devices online");
  status_timer_.expires_after(std::chrono::seconds(10));
  status_timer_.async_wait([this](const boost::system::error_code& error) {
    if (!error) update_status();
  });
}

}  // namespace cloudless
