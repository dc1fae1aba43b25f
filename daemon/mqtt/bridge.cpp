#include "daemon/mqtt/bridge.h"

#include <optional>
#include <random>
#include <utility>
#include <set>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "daemon/model/json_excerpt.h"
#include "daemon/model/timestamp.h"
#include "daemon/mqtt/discovery.h"
#include "daemon/mqtt/mqtt_connection.h"
#include "daemon/mqtt/topics.h"
#include "protocols/common/json_limits.h"

namespace cloudless {

namespace {

using nlohmann::json;

constexpr int kQos = 1;
// After a (re)connect, retained configs under our node id arriving within this window are compared
// with the registered devices; configs of devices that are gone are cleared.
constexpr auto kStaleCleanupWindow = std::chrono::seconds(3);
// Availability and states follow discovery after a random delay, so HA has processed the configs and
// a broker is not hit by every bridge at once (HA's birth-message guidance).
constexpr int kRepublishJitterMinMs = 1000;
constexpr int kRepublishJitterMaxMs = 3000;
// Home Assistant's birth message and bridge/request/republish_discovery each ask for everything
// again (every discovery config and state). Asks within this interval of the last republish are
// served once, when it has passed: 2,000 asks in a burst cost one or two republishes, not 50 MB.
constexpr auto kRepublishMinInterval = std::chrono::seconds(5);
// States wait this long and then go to Paho together: each publish wakes Paho's send thread, and
// polled devices on a shared grid answer within a few milliseconds of each other, so one wake-up
// serves them all (docs/build.md §9). Order is kept; nothing is merged or dropped.
constexpr auto kStateBatchWindow = std::chrono::milliseconds(20);
// bridge/devices lists every device, and each availability or description change asked for it
// again: N devices coming online at start-up cost N lists of N entries. Changes within this window
// share one publish.
constexpr auto kDevicesBatchWindow = std::chrono::milliseconds(100);

// State keys that would collide with our own per-device topics in attribute output.
bool reserved_attribute(const std::string& key) { return key == "availability" || key == "set" || key == "get"; }

}  // namespace

struct Bridge::Impl {
  struct TopicPayload {
    std::string topic;
    std::string payload;
  };
  struct DumpedState {
    std::uint64_t revision = 0;  // model::Device::state_revision() of `text`; 0 is never one
    std::string text;
  };

  Impl(boost::asio::io_context& io_context, config::MqttConfig config, json bridge_info)
      : io(io_context),
        mqtt(std::move(config)),
        info(std::move(bridge_info)),
        topics{mqtt.base_topic, mqtt.discovery_prefix},
        discovery_context{mqtt.base_topic, mqtt.discovery_prefix, CLOUDLESS_VERSION},
        republish_timer(io_context),
        coalesce_timer(io_context),
        cleanup_timer(io_context),
        state_batch_timer(io_context),
        devices_timer(io_context),
        random(std::random_device{}()) {}

  // ---- connection ---------------------------------------------------------------------------------

  void start() {
    if (connection) return;
    MqttConnectionOptions options;
    options.server = mqtt.server;
    options.client_id = mqtt.client_id.empty() ? config::default_client_id() : mqtt.client_id;
    options.user = mqtt.user;
    options.password = mqtt.password;
    options.ca_file = mqtt.ca_file;
    options.cert_file = mqtt.cert_file;
    options.key_file = mqtt.key_file;
    options.insecure = mqtt.insecure;
    options.keepalive = mqtt.keepalive;
    options.will = MqttMessage{topics.bridge_state(), "offline", kQos, true};
    connection = std::make_unique<MqttConnection>(io, std::move(options));
    connection->on_connected([this] { on_connected(); });
    connection->on_connection_lost([this](const std::string&) { cleanup_timer.cancel(); cleanup_active = false; });
    connection->on_message([this](const MqttMessage& message) { on_message(message); });
    connection->start();
  }

  void stop(std::function<void()> done) {
    flush_states();  // before the connection says goodbye
    if (std::exchange(devices_pending, false)) publish_devices();
    stopping = true;
    state_batch_timer.cancel();
    devices_timer.cancel();
    republish_timer.cancel();
    coalesce_timer.cancel();
    cleanup_timer.cancel();
    cleanup_active = false;
    if (!connection) {
      if (done) boost::asio::post(io, std::move(done));
      return;
    }
    connection->stop(std::move(done));
  }

  bool connected() const { return connection && connection->connected(); }

  void on_connected() {
    ++connects;
    if (connects > 1) ++stats.reconnects;
    // A (re)connect republishes everything: it serves any ask that was waiting.
    coalesce_timer.cancel();
    republish_pending = false;
    last_republish = std::chrono::steady_clock::now();
    subscribe_all();
    if (topics.discovery_enabled()) start_stale_cleanup();
    publish(topics.bridge_state(), "online", true);
    publish(topics.bridge_info(), dump_json(info), true);
    devices_pending = false;  // this publish serves a pending one
    devices_timer.cancel();
    publish_devices();
    publish_all_discovery();
    schedule_state_republish();
  }

  void subscribe_all() {
    connection->subscribe(topics.set_filter(), kQos);
    connection->subscribe(topics.set_attribute_filter(), kQos);
    connection->subscribe(topics.get_filter(), kQos);
    connection->subscribe(topics.bridge_request_filter(), kQos);
    if (topics.discovery_enabled()) connection->subscribe(topics.ha_status(), kQos);
  }

  bool publish(const std::string& topic, const std::string& payload, bool retained, int qos = kQos) {
    if (!connected()) return false;
    if (!connection->publish(topic, payload, qos, retained)) return false;
    ++stats.published;
    return true;
  }

  // ---- what we publish ----------------------------------------------------------------------------

  model::Device* find(const std::string& id) const {
    const auto it = devices.find(id);
    return it == devices.end() ? nullptr : it->second;
  }

  bool registered(const model::Device& device) const { return find(device.id()) == &device; }

  json device_entry(const model::Device& device) const {
    const model::DeviceInfo description = device.info();
    const auto seen = device.last_seen();
    return {
        {"id", device.id()},
        {"protocol", description.protocol},
        {"model", description.model_id.empty() ? description.model_name : description.model_id},
        {"address", description.address},
        {"online", device.online()},
        {"last_seen", seen ? json(format_utc_iso8601(*seen)) : json(nullptr)},
    };
  }

  json devices_array() const {
    json array = json::array();
    for (const auto& [id, device] : devices) array.push_back(device_entry(*device));
    return array;
  }

  void publish_devices() { publish(topics.bridge_devices(), dump_json(devices_array()), true); }

  // bridge/devices within kDevicesBatchWindow: one publish serves every change before it.
  void schedule_devices_publish() {
    if (devices_pending || stopping) return;
    devices_pending = true;
    devices_timer.expires_after(kDevicesBatchWindow);
    devices_timer.async_wait([this, alive = std::weak_ptr<int>(alive_token)](const boost::system::error_code& ec) {
      if (alive.expired()) return;  // the bridge is gone (see alive_token)
      if (ec || !std::exchange(devices_pending, false)) return;
      publish_devices();
    });
  }

  void publish_availability(const model::Device& device) {
    publish(topics.device_availability(device.id()), device.online() ? "online" : "offline", true);
  }

  void publish_state(const model::Device& device) {
    const json& state = device.state();
    std::optional<std::string> seen;
    if (const auto at = device.last_seen()) seen = format_utc_iso8601(*at);
    // States go at mqtt.state_qos (default 0): each is replaced by the next one, and QoS 1 costs a
    // PUBACK round trip through Paho's threads per message (docs/build.md §9).
    if (mqtt.output != config::OutputMode::attribute)
      queue_state(topics.device_state(device.id()),
                  seen ? with_last_seen(state_text_of(device), *seen) : state_payload(state, seen));
    if (mqtt.output == config::OutputMode::json) return;
    if (state.is_object()) {
      for (const auto& [key, value] : state.items()) {
        if (value.is_null() || reserved_attribute(key) || (seen && key == "last_seen")) continue;
        queue_state(topics.device_attribute(device.id(), key), json_to_raw_payload(value));
      }
    }
    if (seen) queue_state(topics.device_attribute(device.id(), "last_seen"), *seen);
  }

  // The state's JSON text, dumped again only when the device's state changed since the last time:
  // a plug that is off, or an AC holding its temperature, reports the same values every poll.
  const std::string& state_text_of(const model::Device& device) {
    DumpedState& dumped = dumped_states[device.id()];
    if (dumped.revision != device.state_revision()) {
      dumped.text = state_text(device.state());
      dumped.revision = device.state_revision();
    }
    return dumped.text;
  }

  void queue_state(std::string topic, std::string payload) {
    if (!connected()) return;  // a (re)connect republishes every state anyway
    batched_states.push_back({std::move(topic), std::move(payload)});
    if (batched_states.size() > 1) return;
    state_batch_timer.expires_after(kStateBatchWindow);
    state_batch_timer.async_wait([this, alive = std::weak_ptr<int>(alive_token)](const boost::system::error_code& ec) {
      if (alive.expired()) return;  // the bridge is gone (see alive_token)
      if (!ec) flush_states();
    });
  }

  void flush_states() {
    for (const TopicPayload& message : batched_states) publish(message.topic, message.payload, false, mqtt.state_qos);
    batched_states.clear();
  }

  // The device's discovery config, built afresh, or nullopt while the device has no stable id yet.
  // Built on each use rather than kept: uses are rare (a description change, a republish), and 50
  // plugs' configs would hold 125 kB for good.
  std::optional<TopicPayload> discovery_of(const model::Device& device, const std::vector<model::Entity>& entities) {
    auto message = ha::device_discovery(discovery_context, device.id(), device.info(), entities);
    if (!message) return std::nullopt;
    return TopicPayload{message->topic, dump_json(message->payload)};
  }

  // Publishes the device's discovery config after a change of its description.
  void update_discovery(const model::Device& device) {
    if (!topics.discovery_enabled()) return;
    const std::vector<model::Entity> entities = device.entities();
    if (const auto problem = model::validate_entities(entities)) {
      spdlog::error("{}: entity declaration: {}", device.id(), *problem);
    }
    if (const auto discovery = discovery_of(device, entities)) {
      publish(discovery->topic, discovery->payload, true);
    } else {
      spdlog::debug("{}: no stable id yet, Home Assistant discovery deferred", device.id());
    }
  }

  void publish_all_discovery() {
    if (!topics.discovery_enabled()) return;
    if (auto bridge = ha::bridge_discovery(discovery_context)) {
      publish(bridge->topic, dump_json(bridge->payload), bridge->retain);
    }
    for (const auto& [id, device] : devices) {
      if (const auto discovery = discovery_of(*device, device->entities())) {
        publish(discovery->topic, discovery->payload, true);
      }
    }
  }

  void republish_states_now() {
    std::size_t with_state = 0;
    for (const auto& [id, device] : devices) {
      publish_availability(*device);
      if (device->last_seen() || !device->state().empty()) {
        publish_state(*device);
        ++with_state;
      }
    }
    flush_states();  // already one batch: no window to wait for
    // Tests wait for this line: after it, every state on the broker is a new one.
    spdlog::debug("mqtt: republished availability of {} device(s), state of {}", devices.size(), with_state);
  }

  void schedule_state_republish() {
    std::uniform_int_distribution<int> jitter(kRepublishJitterMinMs, kRepublishJitterMaxMs);
    republish_timer.expires_after(std::chrono::milliseconds(jitter(random)));
    republish_timer.async_wait([this, alive = std::weak_ptr<int>(alive_token)](const boost::system::error_code& ec) {
      if (alive.expired()) return;  // the bridge is gone (see alive_token)
      if (ec || stopping) return;
      republish_states_now();
    });
  }

  void republish_everything() {
    publish(topics.bridge_state(), "online", true);
    publish_all_discovery();
    schedule_state_republish();
  }

  // Serves an ask for everything again (HA online, republish_discovery): now, or once when
  // kRepublishMinInterval has passed since the last republish. Never more than one is pending, and
  // no ask is lost: a pending republish serves every ask that came before it.
  void request_republish() {
    if (republish_pending) return;
    const auto now = std::chrono::steady_clock::now();
    if (!last_republish || now - *last_republish >= kRepublishMinInterval) {
      republish_coalesced();
      return;
    }
    republish_pending = true;
    coalesce_timer.expires_at(*last_republish + kRepublishMinInterval);
    coalesce_timer.async_wait([this, alive = std::weak_ptr<int>(alive_token)](const boost::system::error_code& ec) {
      if (alive.expired()) return;  // the bridge is gone (see alive_token)
      if (ec || stopping || !republish_pending) return;
      republish_pending = false;
      republish_coalesced();
    });
  }

  void republish_coalesced() {
    last_republish = std::chrono::steady_clock::now();
    republish_everything();
  }

  // ---- stale discovery cleanup --------------------------------------------------------------------

  void start_stale_cleanup() {
    cleanup_seen.clear();
    cleanup_active = connection->subscribe(topics.discovery_filter(), kQos);
    if (!cleanup_active) return;
    cleanup_timer.expires_after(kStaleCleanupWindow);
    cleanup_timer.async_wait([this, alive = std::weak_ptr<int>(alive_token)](const boost::system::error_code& ec) {
      if (alive.expired()) return;  // the bridge is gone (see alive_token)
      if (ec || stopping) return;
      finish_stale_cleanup();
    });
  }

  void finish_stale_cleanup() {
    cleanup_active = false;
    for (const std::string& id : cleanup_seen) {
      if (id == "bridge" || devices.count(id)) continue;
      spdlog::info("{}: clearing stale Home Assistant discovery config (device no longer configured)", id);
      publish(topics.discovery_config(id), "", true);
    }
    cleanup_seen.clear();
    connection->unsubscribe(topics.discovery_filter());
  }

  // ---- what we receive ----------------------------------------------------------------------------

  void on_message(const MqttMessage& message) {
    ++stats.received;
    try {
      dispatch(message);
    } catch (const std::exception& e) {
      spdlog::warn("mqtt: message on {} failed: {}", message.topic, e.what());
    }
  }

  void dispatch(const MqttMessage& message) {
    const InboundTopic inbound = classify_topic(topics, message.topic);
    using Kind = InboundTopic::Kind;
    switch (inbound.kind) {
      case Kind::unknown:
        spdlog::debug("mqtt: ignoring message on {}", message.topic);
        return;
      case Kind::discovery_config:
        // Only retained configs describe what the broker still holds; live echoes of our own
        // publishes arrive without the flag. Empty payloads are deletions.
        if (cleanup_active && message.retained && !message.payload.empty()) cleanup_seen.insert(inbound.device_id);
        return;
      case Kind::ha_status:
        // A retained birth arrives on every subscribe; (re)connect republishes anyway.
        if (message.retained || message.payload != "online") return;
        spdlog::info("mqtt: Home Assistant is online; republishing discovery and states");
        request_republish();
        return;
      default:
        break;
    }

    if (message.retained) {
      // A stale retained "ON" must never switch a heater hours later.
      ++stats.rejected_commands;
      spdlog::warn("mqtt: ignoring retained command on {} (clear it with an empty retained message)",
                   message.topic);
      return;
    }

    if (inbound.kind == Kind::bridge_request) {
      on_bridge_request(inbound.request, message.payload);
      return;
    }

    model::Device* device = find(inbound.device_id);
    if (!device) {
      spdlog::debug("mqtt: no device '{}' for {}", inbound.device_id, message.topic);
      return;
    }
    switch (inbound.kind) {
      case Kind::device_set: {
        const Result<json> changes = parse_untrusted_json(message.payload);
        if (!changes) {
          spdlog::warn("{}: ignoring {}: {}", device->id(), message.topic, changes.error().describe());
          return;
        }
        if (!changes->is_object()) {
          spdlog::warn("{}: ignoring {}: payload is not a JSON object", device->id(), message.topic);
          return;
        }
        run_command(*device, *changes);
        return;
      }
      case Kind::device_set_attribute:
        run_command(*device, json{{inbound.attribute, raw_payload_to_json(message.payload)}});
        return;
      case Kind::device_get:
        device->refresh();
        return;
      default:
        return;
    }
  }

  void run_command(model::Device& device, const json& changes) {
    if (changes.empty()) return;
    const model::CommandError error = device.command(changes);
    if (error) spdlog::warn("{}: command {} rejected: {}", device.id(), model::json_excerpt(changes), *error);
  }

  void on_bridge_request(const std::string& request, const std::string& payload) {
    json response = {{"status", "ok"}, {"data", json::object()}};
    const Result<json> body = payload.empty() ? Result<json>(json::object()) : parse_untrusted_json(payload);
    const auto fail = [&response](std::string why) {
      response["status"] = "error";
      response["data"] = json::object();
      response["error"] = std::move(why);
    };
    if (!body) {
      fail(body.error().describe());
    } else {
      if (body->is_object() && body->contains("transaction")) response["transaction"] = (*body)["transaction"];
      if (request == "health_check") {
        response["data"] = health();
      } else if (request == "republish_discovery") {
        request_republish();
      } else if (request == "devices") {
        response["data"] = devices_array();
      } else {
        fail("unknown request '" + request.substr(0, 100) + "'");
      }
    }
    if (response["status"] == "error") spdlog::warn("mqtt: bridge request '{}': {}", request, response["error"].get<std::string>());
    publish(topics.bridge_response(request), dump_json(response), false);
  }

  json health() const {
    int online = 0;
    for (const auto& [id, device] : devices) online += device->online() ? 1 : 0;
    return {
        {"healthy", true},
        {"devices", {{"online", online}, {"total", devices.size()}}},
        {"mqtt", {{"published", stats.published}, {"received", stats.received}, {"reconnects", stats.reconnects}}},
    };
  }

  // ---- device registry ----------------------------------------------------------------------------

  void add_device(model::Device& device) {
    if (device.id() == "bridge") {
      spdlog::error("a device cannot be called 'bridge': its topics are the bridge's own");
      return;
    }
    if (find(device.id()) && find(device.id()) != &device) {
      spdlog::warn("{}: registered twice; the newer device replaces the older", device.id());
    }
    devices[device.id()] = &device;
    update_discovery(device);
    schedule_devices_publish();
    publish_availability(device);
    if (device.last_seen()) publish_state(device);
  }

  void remove_device(const std::string& id, bool clear_discovery) {
    const bool known = devices.erase(id) > 0;
    dumped_states.erase(id);
    if (clear_discovery) {
      if (topics.discovery_enabled()) publish(topics.discovery_config(id), "", true);
      publish(topics.device_availability(id), "", true);
    }
    if (known) schedule_devices_publish();
  }

  boost::asio::io_context& io;
  config::MqttConfig mqtt;
  json info;
  Topics topics;
  ha::DiscoveryContext discovery_context;
  std::unique_ptr<MqttConnection> connection;
  std::map<std::string, model::Device*> devices;  // by id, so bridge/devices is sorted
  std::map<std::string, DumpedState> dumped_states;  // by device id (state_text_of)
  BridgeStats stats;
  std::uint64_t connects = 0;
  bool stopping = false;
  bool cleanup_active = false;
  std::set<std::string> cleanup_seen;
  boost::asio::steady_timer republish_timer;
  boost::asio::steady_timer coalesce_timer;  // a republish waiting for kRepublishMinInterval
  bool republish_pending = false;
  std::optional<std::chrono::steady_clock::time_point> last_republish;
  boost::asio::steady_timer cleanup_timer;
  boost::asio::steady_timer state_batch_timer;  // kStateBatchWindow after the first queued state
  boost::asio::steady_timer devices_timer;      // a bridge/devices publish waiting for kDevicesBatchWindow
  bool devices_pending = false;
  std::vector<TopicPayload> batched_states;
  std::minstd_rand random;
  // Timer handlers hold a weak_ptr to it: a wait that completed just before the bridge was destroyed
  // (its handler already queued, so cancelling the timer no longer reaches it) finds it expired and
  // touches nothing (found by ASan: a state batch expiring as a test destroyed its bridge).
  std::shared_ptr<int> alive_token = std::make_shared<int>(0);
};

Bridge::Bridge(boost::asio::io_context& io, config::MqttConfig mqtt, nlohmann::json info)
    : impl_(std::make_unique<Impl>(io, std::move(mqtt), std::move(info))) {}

Bridge::~Bridge() {
  // Timers first: their handlers capture the Impl.
  impl_->republish_timer.cancel();
  impl_->coalesce_timer.cancel();
  impl_->cleanup_timer.cancel();
  impl_->connection.reset();
}

void Bridge::start() { impl_->start(); }
void Bridge::stop(std::function<void()> done) { impl_->stop(std::move(done)); }
void Bridge::add_device(model::Device& device) { impl_->add_device(device); }
void Bridge::remove_device(const std::string& device_id, bool clear_discovery) {
  impl_->remove_device(device_id, clear_discovery);
}

void Bridge::set_info(nlohmann::json info) {
  impl_->info = std::move(info);
  impl_->publish(impl_->topics.bridge_info(), dump_json(impl_->info), true);
}

bool Bridge::connected() const { return impl_->connected(); }
const BridgeStats& Bridge::stats() const { return impl_->stats; }

void Bridge::on_state(model::Device& device) {
  if (impl_->stopping || !impl_->registered(device)) return;
  impl_->publish_state(device);
}

void Bridge::on_availability(model::Device& device) {
  if (impl_->stopping || !impl_->registered(device)) return;
  impl_->publish_availability(device);
  impl_->schedule_devices_publish();
}

void Bridge::on_description_changed(model::Device& device) {
  if (impl_->stopping || !impl_->registered(device)) return;
  impl_->update_discovery(device);
  impl_->schedule_devices_publish();
}

}  // namespace cloudless
