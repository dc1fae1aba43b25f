// A bridged device as the MQTT layer sees it: an id, a description, a list of entities and a JSON
// state under the entities' keys. Device kinds (daemon/devices/) derive from Device, run on the one
// io_context and report changes through DeviceListener; they never see a topic.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/model/entity.h"

namespace cloudless::model {

struct DeviceInfo {
  std::string protocol;      // "miio", "midea", "xiaomi_ble"
  std::string stable_id;     // from hardware (miIO did, Midea appliance id, BLE MAC); empty while unknown
  std::string manufacturer;  // "Xiaomi"
  std::string model_name;    // "Mi Smart Plug"
  std::string model_id;      // "chuangmi.plug.v3"
  std::string sw_version;
  std::string hw_version;
  std::string address;       // host or MAC, for bridge/devices
};

class Device;

class DeviceListener {
 public:
  virtual ~DeviceListener() = default;
  virtual void on_state(Device& device) = 0;                     // state() changed or was refreshed
  virtual void on_availability(Device& device) = 0;              // online() changed
  virtual void on_description_changed(Device& device) = 0;       // info() or entities() changed
};

// Result of a command: nullopt when accepted, otherwise why not ("unknown attribute 'x'").
using CommandError = std::optional<std::string>;

class Device {
 public:
  Device(std::string id, DeviceListener& listener) : id_(std::move(id)), listener_(listener) {}
  virtual ~Device() = default;
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  const std::string& id() const { return id_; }
  virtual DeviceInfo info() const = 0;
  virtual std::vector<Entity> entities() const = 0;

  virtual void start() = 0;
  virtual void stop() = 0;     // idempotent; no callback after it returns
  virtual void refresh() = 0;  // poll now and publish (MQTT /get)

  // Apply the attributes of a /set (already JSON: {"state":"ON"}). Checks names and values at once
  // and answers synchronously; the device work itself is asynchronous and ends in a state update.
  virtual CommandError command(const nlohmann::json& changes) = 0;

  const nlohmann::json& state() const { return state_; }
  // Changes whenever the state's content does, and is never reused (not even by another device):
  // the bridge keeps the state's JSON text while a device keeps reporting the same values.
  std::uint64_t state_revision() const { return state_revision_; }
  bool online() const { return online_; }
  std::optional<std::chrono::system_clock::time_point> last_seen() const { return last_seen_; }

 protected:
  // Merge `changes` into the state, mark the device seen now and tell the listener.
  void publish_state(const nlohmann::json& changes);
  // Replace the whole state with `full` (a device kind that rebuilds its complete state each time):
  // a reading that disappeared (an AC's outdoor sensor reporting "none") leaves the payload instead
  // of keeping its last value forever.
  void replace_state(nlohmann::json full);
  // Tell the listener the state again without marking the device seen: after a command that got
  // no answer, subscribers are put back on the real state while last_seen keeps saying when the
  // device was last heard from.
  void republish_state() { listener_.on_state(*this); }
  void set_online(bool online);
  void description_changed() { listener_.on_description_changed(*this); }

 private:
  std::string id_;
  DeviceListener& listener_;
  static std::uint64_t next_state_revision();

  nlohmann::json state_ = nlohmann::json::object();
  std::uint64_t state_revision_ = next_state_revision();
  bool online_ = false;
  std::optional<std::chrono::system_clock::time_point> last_seen_;
};

// Availability with hysteresis: offline only after `misses_to_offline` consecutive failed polls,
// online again on the first answer, so one lost datagram never flaps the entity.
class AvailabilityTracker {
 public:
  explicit AvailabilityTracker(int misses_to_offline = 3) : misses_to_offline_(misses_to_offline) {}
  // Each returns the new availability when it changed.
  std::optional<bool> on_success();
  std::optional<bool> on_failure();
  bool online() const { return online_; }
  int consecutive_failures() const { return failures_; }

 private:
  int misses_to_offline_;
  int failures_ = 0;
  bool online_ = false;
  bool decided_ = false;
};

}  // namespace cloudless::model
