// The topic layout of docs/contract.md ("MQTT topics") and the small conversions between MQTT payload text
// and JSON values. Pure functions: no client, no clock of their own, no logging.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace cloudless {

// Every topic the bridge publishes or subscribes to, derived from the base topic B and the Home
// Assistant discovery prefix P (empty: no discovery at all).
struct Topics {
  std::string base;    // B, e.g. "cloudless"
  std::string prefix;  // P, e.g. "homeassistant"; empty disables discovery

  std::string bridge_state() const { return base + "/bridge/state"; }
  std::string bridge_info() const { return base + "/bridge/info"; }
  std::string bridge_devices() const { return base + "/bridge/devices"; }
  std::string bridge_request_filter() const { return base + "/bridge/request/#"; }
  std::string bridge_response(std::string_view request) const {
    return base + "/bridge/response/" + std::string(request);
  }

  std::string device_state(std::string_view id) const { return base + "/" + std::string(id); }
  std::string device_attribute(std::string_view id, std::string_view attribute) const {
    return device_state(id) + "/" + std::string(attribute);
  }
  std::string device_availability(std::string_view id) const { return device_state(id) + "/availability"; }
  std::string device_set(std::string_view id) const { return device_state(id) + "/set"; }
  std::string device_set_attribute(std::string_view id, std::string_view attribute) const {
    return device_set(id) + "/" + std::string(attribute);
  }

  std::string set_filter() const { return base + "/+/set"; }
  std::string set_attribute_filter() const { return base + "/+/set/+"; }
  std::string get_filter() const { return base + "/+/get"; }

  bool discovery_enabled() const { return !prefix.empty(); }
  std::string ha_status() const { return prefix + "/status"; }
  // Device-based discovery: P/device/<node_id>/<device id>/config, node_id derived from B.
  std::string discovery_config(std::string_view device_id) const;
  std::string discovery_filter() const;  // P/device/<node_id>/+/config (stale cleanup)
};

// HA's node_id and object_id allow [a-zA-Z0-9_-] only: anything else in the base topic becomes '_'.
std::string discovery_node_id(std::string_view base_topic);

// What an inbound topic means to the bridge.
struct InboundTopic {
  enum class Kind {
    unknown,
    device_set,            // B/<id>/set
    device_set_attribute,  // B/<id>/set/<attribute>
    device_get,            // B/<id>/get
    bridge_request,        // B/bridge/request/<request...>
    ha_status,             // P/status
    discovery_config,      // P/device/<node_id>/<id>/config
  };
  Kind kind = Kind::unknown;
  std::string device_id;  // device_* and discovery_config
  std::string attribute;  // device_set_attribute
  std::string request;    // bridge_request, may contain '/'
};

InboundTopic classify_topic(const Topics& topics, std::string_view topic);

// A raw /set/<attribute> payload as a JSON value: a JSON number or true/false when it parses as one,
// otherwise the payload text itself ("ON", "cool").
nlohmann::json raw_payload_to_json(std::string_view payload);

// A state value as a raw per-attribute payload: strings unquoted, numbers as JSON text, true/false;
// objects and arrays as compact JSON.
std::string json_to_raw_payload(const nlohmann::json& value);

// Compact JSON text that never throws: invalid UTF-8 from a device is replaced, not fatal.
std::string dump_json(const nlohmann::json& value);

// The state message of cloudless/<id>: the device's state object (anything else counts as {}) with
// the bridge's "last_seen" as its last member when given. The state is dumped as it is and the
// member appended to the text: no copy of the device's object per message (docs/build.md §9).
std::string state_payload(const nlohmann::json& state, const std::optional<std::string>& last_seen);
// The same with a last_seen in two steps, so the first one's text can be kept while the state does
// not change: the state's JSON without a "last_seen" of its own (the bridge's takes its place), then
// that text with the bridge's "last_seen" appended as the last member.
std::string state_text(const nlohmann::json& state);
std::string with_last_seen(std::string_view state_text, const std::string& last_seen);

}  // namespace cloudless
