// The MQTT side of the daemon: maps the device model to the topics and payloads of docs/contract.md and to
// Home Assistant discovery. It knows entities and JSON, never a packet byte. All methods run on the
// io_context thread; Paho's callbacks are posted onto it by MqttConnection.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "config/config.h"
#include "daemon/model/device.h"

namespace cloudless {

class MqttConnection;

struct BridgeStats {
  std::uint64_t published = 0;
  std::uint64_t received = 0;
  std::uint64_t reconnects = 0;
  std::uint64_t rejected_commands = 0;
};

class Bridge : public model::DeviceListener {
 public:
  // `info` is the bridge/info payload (version, config summary without secrets).
  Bridge(boost::asio::io_context& io, config::MqttConfig mqtt, nlohmann::json info);
  ~Bridge() override;

  // Connects in the background: first-connect retry with backoff, automatic reconnect; on every
  // (re)connect subscribes and republishes everything. Never blocks.
  void start();
  // Publishes bridge/state offline (retained), disconnects, then calls `done` on the io_context
  // (also when the broker is unreachable, after a short grace period).
  void stop(std::function<void()> done);

  // Devices are owned by the caller and must outlive their registration.
  void add_device(model::Device& device);
  // Unregisters; with `clear_discovery` also empties its retained discovery config and availability.
  void remove_device(const std::string& device_id, bool clear_discovery);
  void set_info(nlohmann::json info);

  bool connected() const;
  const BridgeStats& stats() const;

  // DeviceListener
  void on_state(model::Device& device) override;
  void on_availability(model::Device& device) override;
  void on_description_changed(model::Device& device) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cloudless
