// Home Assistant MQTT discovery, device-based (one retained config per device with `cmps`, HA ≥ 2024.12),
// derived only from the device model's entity declarations (zigbee2mqtt's homeassistant.ts idea).
// Pure functions: the bridge publishes what they return, tests compare it with golden JSON.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/model/device.h"
#include "daemon/model/entity.h"

namespace cloudless::ha {

inline constexpr const char* kOriginName = "cloudless";

struct DiscoveryContext {
  std::string base_topic = "cloudless";          // B
  std::string discovery_prefix = "homeassistant"; // P; empty: no discovery
  std::string version = CLOUDLESS_VERSION;        // origin "sw" and the bridge device's "sw"
  std::string url = CLOUDLESS_PROJECT_URL;         // origin "url"; empty (the default build): left out
};

// One discovery publication: retained, QoS 1, JSON object payload.
struct DiscoveryMessage {
  std::string topic;
  nlohmann::json payload;
  int qos = 1;
  bool retain = true;
};

// "cloudless_bridge_<node id>": the bridge device's identifier, `via_device` of every other device.
std::string bridge_identifier(const DiscoveryContext& context);

// P/device/<node id>/<device id>/config (also where an empty payload clears the device).
std::string device_config_topic(const DiscoveryContext& context, const std::string& device_id);

// The device's config, or nullopt while the device has no stable id yet (unique_ids must never change)
// or when discovery is disabled. Preset modes named "none" are dropped: HA adds "none" itself.
std::optional<DiscoveryMessage> device_discovery(const DiscoveryContext& context, const std::string& device_id,
                                                 const model::DeviceInfo& info,
                                                 const std::vector<model::Entity>& entities);

// The bridge itself as an HA device: connection_state (binary_sensor) and version (sensor).
std::optional<DiscoveryMessage> bridge_discovery(const DiscoveryContext& context);

}  // namespace cloudless::ha
