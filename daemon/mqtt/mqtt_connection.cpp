#include "daemon/mqtt/mqtt_connection.h"

#include <chrono>
#include <csignal>
#include <cstdint>
#include <deque>
#include <optional>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <mqtt/async_client.h>
#include <spdlog/spdlog.h>

namespace cloudless {

namespace {

using Clock = std::chrono::steady_clock;

// More than this many connection losses within kStormWindow: someone else probably uses our client id.
constexpr int kStormLosses = 3;
constexpr auto kStormWindow = std::chrono::minutes(1);
constexpr auto kDestructorDisconnect = std::chrono::seconds(1);

std::string describe_rc(int rc) {
  // MQTT 3.1.1 CONNACK return codes arrive as positive return codes of the connect token.
  switch (rc) {
    case 1: return "connection refused: unacceptable protocol version";
    case 2: return "connection refused: client id rejected";
    case 3: return "connection refused: server unavailable";
    case 4: return "connection refused: bad user name or password";
    case 5: return "connection refused: not authorized";
    default: break;
  }
  const std::string text = mqtt::exception::error_str(rc);
  return text.empty() ? "error " + std::to_string(rc) : text + " (" + std::to_string(rc) + ")";
}

// Counts occurrences and lets one warning line through per minute, carrying the count since the
// previous line: a flood from a broker or a misbehaving client must not flood the journal.
class RateLimitedWarning {
 public:
  template <typename Log>
  void report(Log&& log) {
    ++unreported_;
    const auto now = Clock::now();
    if (last_ && now - *last_ < std::chrono::minutes(1)) return;
    log(unreported_);
    last_ = now;
    unreported_ = 0;
  }

 private:
  std::optional<Clock::time_point> last_;
  std::uint64_t unreported_ = 0;
};

}  // namespace

struct MqttConnection::Core : std::enable_shared_from_this<Core> {
  // Paho token listener (runs on Paho's thread): posts the outcome onto the loop, nothing else.
  class Listener : public mqtt::iaction_listener {
   public:
    using Handler = void (Core::*)(bool ok, int rc);
    Listener(Core& core, Handler handler) : io_(core.io), handler_(handler) {}
    void bind(std::weak_ptr<Core> core) { core_ = std::move(core); }
    void on_success(const mqtt::token&) override { post(true, 0); }
    void on_failure(const mqtt::token& token) override { post(false, token.get_return_code()); }

   private:
    void post(bool ok, int rc) {
      boost::asio::post(io_, [core = core_, handler = handler_, ok, rc] {
        if (auto self = core.lock()) ((*self).*handler)(ok, rc);
      });
    }
    boost::asio::io_context& io_;
    std::weak_ptr<Core> core_;
    Handler handler_;
  };

  Core(boost::asio::io_context& io_context, MqttConnectionOptions opts)
      : io(io_context),
        options(std::move(opts)),
        retry_delay(options.first_retry),
        retry_timer(io_context),
        stop_timer(io_context),
        connect_listener(*this, &Core::on_connect_result),
        goodbye_listener(*this, &Core::on_goodbye_result),
        disconnect_listener(*this, &Core::on_disconnect_result) {}

  ~Core() {
    retry_timer.cancel();
    stop_timer.cancel();
    if (!client) return;
    // Final shutdown only (stop() not used or not finished): a short bounded wait is acceptable here;
    // it also makes sure no message callback is still being delivered when the client goes away.
    try {
      if (client->is_connected()) client->disconnect(0)->wait_for(kDestructorDisconnect);
    } catch (const std::exception& e) {
      spdlog::debug("mqtt: disconnect at shutdown: {}", e.what());
    }
    client.reset();
  }

  // Paho C's default start-up initialises OpenSSL the pre-1.1 way (all algorithms, all error
  // strings): ~2 MB resident even when the broker is plain mqtt://. OpenSSL 3 initialises itself
  // when TLS is first used, so this costs mqtts:// nothing (docs/build.md §9). Once per process,
  // before the first client exists.
  static void skip_paho_openssl_init() {
    static const bool done = [] {
      MQTTAsync_init_options init = MQTTAsync_init_options_initializer;
      init.do_openssl_init = 0;
      MQTTAsync_global_init(&init);
      return true;
    }();
    (void)done;
  }

  void bind_listeners() {
    connect_listener.bind(weak_from_this());
    goodbye_listener.bind(weak_from_this());
    disconnect_listener.bind(weak_from_this());
  }

  // ---- start / connect --------------------------------------------------------------------------

  void start() {
    if (started) return;
    started = true;
    // Paho C sets SIG_IGN itself, yet SIGPIPE crashes were reported with 1.3.12-era code
    // (paho.mqtt.c #1346, #1386): a broker closing the socket must never kill the daemon.
    std::signal(SIGPIPE, SIG_IGN);
    skip_paho_openssl_init();
    try {
      client = std::make_unique<mqtt::async_client>(options.server, options.client_id,
                                                    mqtt::create_options(MQTTVERSION_3_1_1, kMaxBufferedMessages),
                                                    nullptr);
    } catch (const std::exception& e) {
      spdlog::error("mqtt: cannot use server '{}': {}", MqttConnection::redact_uri(options.server), e.what());
      return;
    }
    install_callbacks();
    build_connect_options();
    spdlog::info("mqtt: connecting to {} as '{}'", MqttConnection::redact_uri(options.server), options.client_id);
    connect();
  }

  void install_callbacks() {
    // These run on Paho's thread: copy, post, return. The weak_ptr means a handler that runs after
    // the connection object is gone does nothing, and never touches a destroyed client.
    std::weak_ptr<Core> weak = weak_from_this();
    boost::asio::io_context* context = &io;
    client->set_connected_handler([weak, context](const std::string& cause) {
      boost::asio::post(*context, [weak, cause] {
        if (auto self = weak.lock()) self->on_connected(cause);
      });
    });
    client->set_connection_lost_handler([weak, context](const std::string& cause) {
      boost::asio::post(*context, [weak, cause] {
        if (auto self = weak.lock()) self->on_connection_lost(cause);
      });
    });
    client->set_message_callback([weak, context, max_payload = options.max_payload](mqtt::const_message_ptr message) {
      if (!message) return;
      if (message->get_payload_ref().size() > max_payload) {
        boost::asio::post(*context, [weak, topic = message->get_topic(), size = message->get_payload_ref().size()] {
          if (auto self = weak.lock()) self->on_oversized_message(topic, size);
        });
        return;
      }
      MqttMessage copy{message->get_topic(), message->to_string(), message->get_qos(), message->is_retained()};
      boost::asio::post(*context, [weak, copy = std::move(copy)] {
        if (auto self = weak.lock()) self->on_message(copy);
      });
    });
  }

  void build_connect_options() {
    mqtt::connect_options_builder builder;
    builder.clean_session(true)
        .keep_alive_interval(options.keepalive)
        .connect_timeout(std::chrono::seconds(10))
        .automatic_reconnect(std::chrono::seconds(1), std::chrono::seconds(30));
    if (!options.will.topic.empty()) {
      // std::string, not a literal: will_options(topic, "offline", …) is ambiguous in 1.2.0 (docs/build.md §7).
      builder.will(mqtt::will_options(options.will.topic, std::string(options.will.payload), options.will.qos,
                                      options.will.retained));
    }
    if (!options.user.empty()) {
      builder.user_name(options.user);
      builder.password(options.password);
    }
    if (MqttConnection::uses_tls(options.server)) {
      // Without ssl_options an mqtts:// connect fails at once with -6 "Invalid (NULL) parameter".
      mqtt::ssl_options ssl;
      if (!options.ca_file.empty()) ssl.set_trust_store(options.ca_file);
      if (!options.cert_file.empty()) ssl.set_key_store(options.cert_file);
      if (!options.key_file.empty()) ssl.set_private_key(options.key_file);
      ssl.set_enable_server_cert_auth(!options.insecure);
      ssl.set_verify(!options.insecure);
      builder.ssl(std::move(ssl));
    }
    connect_options = builder.finalize();
  }

  void connect() {
    if (stopping || !client) return;
    try {
      client->connect(connect_options, nullptr, connect_listener);
    } catch (const std::exception& e) {
      spdlog::warn("mqtt: connect to {} failed: {}", MqttConnection::redact_uri(options.server), e.what());
      schedule_retry();
    }
  }

  void on_connect_result(bool ok, int rc) {
    // Paho 1.2.0 reports success on this listener twice per connect and again after each automatic
    // reconnect; the connected handler is the single source of truth for "connected".
    if (ok || stopping || ever_connected || connected) return;
    spdlog::warn("mqtt: cannot connect to {}: {}; retrying in {} s", MqttConnection::redact_uri(options.server),
                 describe_rc(rc), std::chrono::duration_cast<std::chrono::seconds>(retry_delay).count());
    schedule_retry();
  }

  void schedule_retry() {
    if (stopping) return;
    retry_timer.expires_after(retry_delay);
    retry_delay = std::min(retry_delay * 2, options.max_retry);
    retry_timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->connect();
    });
  }

  // ---- connection events (io thread) ------------------------------------------------------------

  void on_connected(const std::string& cause) {
    if (connected) return;
    retry_timer.cancel();
    retry_delay = options.first_retry;
    if (stopping) {
      // Paho reconnected on its own (or a connect was in flight) after stop(): leave again at once.
      try {
        client->disconnect(0);
      } catch (const std::exception&) {
      }
      return;
    }
    connected = true;
    if (ever_connected) {
      ++counters.reconnects;
      spdlog::info("mqtt: connection to {} restored ({})", MqttConnection::redact_uri(options.server),
                   cause.empty() ? "reconnected" : cause);
    } else {
      spdlog::info("mqtt: connected to {}", MqttConnection::redact_uri(options.server));
    }
    ever_connected = true;
    if (connected_handler) connected_handler();
  }

  void on_connection_lost(const std::string& cause) {
    if (!connected) return;
    connected = false;
    ++counters.connection_losses;
    // Paho 1.2.0 passes an empty cause for a dropped socket.
    spdlog::warn("mqtt: connection to {} lost ({}); reconnecting", MqttConnection::redact_uri(options.server),
                 cause.empty() ? "connection closed" : cause);
    note_loss();
    if (lost_handler) lost_handler(cause);
  }

  void note_loss() {
    const auto now = Clock::now();
    losses.push_back(now);
    while (!losses.empty() && now - losses.front() > kStormWindow) losses.pop_front();
    if (static_cast<int>(losses.size()) <= kStormLosses) return;
    if (last_storm_warning && now - *last_storm_warning < kStormWindow) return;
    last_storm_warning = now;
    spdlog::warn("mqtt: {} connection losses within a minute: another client may be using client id '{}'",
                 losses.size(), options.client_id);
  }

  void on_message(const MqttMessage& message) {
    ++counters.received;
    if (stopping || !message_handler) return;
    message_handler(message);
  }

  void on_oversized_message(const std::string& topic, std::size_t size) {
    ++counters.received;
    ++counters.oversized;
    oversized_warning.report([&](std::uint64_t count) {
      spdlog::warn("mqtt: dropped {} message(s) over the {} byte limit since the last report, the latest {} bytes on {}",
                   count, options.max_payload, size, topic.substr(0, 200));
    });
  }

  // ---- stop: goodbye → disconnect → done ----------------------------------------------------------

  void stop(std::function<void()> done) {
    if (stopping) {
      if (done) boost::asio::post(io, std::move(done));
      return;
    }
    stopping = true;
    stop_done = std::move(done);
    retry_timer.cancel();
    if (!client || !connected) {
      finish_stop();
      return;
    }
    // The LWT fires only on an unclean loss, so say goodbye ourselves; disconnect once the broker
    // acknowledged it (a DISCONNECT with quiesce while a QoS 1 publish is in flight could hang in
    // Paho C 1.3.12 here), or after the grace period.
    step = StopStep::goodbye;
    try {
      auto message = mqtt::make_message(options.will.topic, options.will.payload, options.will.qos,
                                        options.will.retained);
      client->publish(message, nullptr, goodbye_listener);
      ++counters.published;
    } catch (const std::exception& e) {
      ++counters.publish_errors;
      spdlog::debug("mqtt: goodbye publish failed: {}", e.what());
      start_disconnect();
      return;
    }
    arm_stop_timer();
  }

  void arm_stop_timer() {
    stop_timer.expires_after(options.stop_grace);
    stop_timer.async_wait([weak = weak_from_this(), expected = step](const boost::system::error_code& ec) {
      if (ec) return;
      auto self = weak.lock();
      if (!self || self->step != expected) return;
      spdlog::debug("mqtt: broker did not answer during stop; going on");
      if (expected == StopStep::goodbye) self->start_disconnect();
      else self->finish_stop();
    });
  }

  void on_goodbye_result(bool ok, int rc) {
    if (step != StopStep::goodbye) return;
    if (!ok) spdlog::debug("mqtt: goodbye publish not acknowledged: {}", describe_rc(rc));
    start_disconnect();
  }

  void start_disconnect() {
    step = StopStep::disconnect;
    stop_timer.cancel();
    try {
      client->disconnect(0, nullptr, disconnect_listener);
    } catch (const std::exception& e) {
      spdlog::debug("mqtt: disconnect: {}", e.what());
      finish_stop();
      return;
    }
    arm_stop_timer();
  }

  void on_disconnect_result(bool, int) {
    if (step == StopStep::disconnect) finish_stop();
  }

  void finish_stop() {
    step = StopStep::done;
    stop_timer.cancel();
    if (connected) spdlog::info("mqtt: disconnected from {}", MqttConnection::redact_uri(options.server));
    connected = false;
    if (stop_done) boost::asio::post(io, std::exchange(stop_done, nullptr));
  }

  // ---- operations ---------------------------------------------------------------------------------

  // Paho keeps at most this many QoS 1 messages in flight or queued; its default (100) silently
  // dropped states when BLE adverts came in bursts (bench/ble_bench.py).
  static constexpr int kMaxBufferedMessages = 10000;
  RateLimitedWarning publish_warning;
  RateLimitedWarning oversized_warning;

  bool publish(const std::string& topic, const std::string& payload, int qos, bool retained) {
    if (!client || !connected) return false;
    try {
      client->publish(topic, payload.data(), payload.size(), qos, retained);
      ++counters.published;
      return true;
    } catch (const std::exception& e) {
      ++counters.publish_errors;
      // A lost state is worth a warning, but a burst must not flood the journal.
      publish_warning.report([&](std::uint64_t count) {
        spdlog::warn("mqtt: {} publish(es) failed since the last report, the latest to {}: {}", count, topic, e.what());
      });
      return false;
    }
  }

  bool subscribe(const std::string& filter, int qos) {
    if (!client || !connected) return false;
    try {
      client->subscribe(filter, qos);
      return true;
    } catch (const std::exception& e) {
      spdlog::warn("mqtt: subscribe to {} failed: {}", filter, e.what());
      return false;
    }
  }

  bool unsubscribe(const std::string& filter) {
    if (!client || !connected) return false;
    try {
      client->unsubscribe(filter);
      return true;
    } catch (const std::exception& e) {
      spdlog::debug("mqtt: unsubscribe from {} failed: {}", filter, e.what());
      return false;
    }
  }

  enum class StopStep { none, goodbye, disconnect, done };

  boost::asio::io_context& io;
  MqttConnectionOptions options;
  ConnectedHandler connected_handler;
  LostHandler lost_handler;
  MessageHandler message_handler;
  MqttCounters counters;
  bool started = false;
  bool stopping = false;
  bool connected = false;
  bool ever_connected = false;
  StopStep step = StopStep::none;
  std::chrono::milliseconds retry_delay;
  boost::asio::steady_timer retry_timer;
  boost::asio::steady_timer stop_timer;
  std::deque<Clock::time_point> losses;
  std::optional<Clock::time_point> last_storm_warning;
  std::function<void()> stop_done;
  mqtt::connect_options connect_options;
  // Tokens keep raw pointers to these listeners: declared before the client, so destroyed after it.
  Listener connect_listener;
  Listener goodbye_listener;
  Listener disconnect_listener;
  std::unique_ptr<mqtt::async_client> client;
};

MqttConnection::MqttConnection(boost::asio::io_context& io, MqttConnectionOptions options)
    : core_(std::make_shared<Core>(io, std::move(options))) {
  core_->bind_listeners();
}

MqttConnection::~MqttConnection() = default;

void MqttConnection::on_connected(ConnectedHandler handler) { core_->connected_handler = std::move(handler); }
void MqttConnection::on_connection_lost(LostHandler handler) { core_->lost_handler = std::move(handler); }
void MqttConnection::on_message(MessageHandler handler) { core_->message_handler = std::move(handler); }

void MqttConnection::start() { core_->start(); }
void MqttConnection::stop(std::function<void()> done) { core_->stop(std::move(done)); }

bool MqttConnection::publish(const std::string& topic, const std::string& payload, int qos, bool retained) {
  return core_->publish(topic, payload, qos, retained);
}
bool MqttConnection::subscribe(const std::string& filter, int qos) { return core_->subscribe(filter, qos); }
bool MqttConnection::unsubscribe(const std::string& filter) { return core_->unsubscribe(filter); }

bool MqttConnection::connected() const { return core_->connected && !core_->stopping; }
const MqttCounters& MqttConnection::counters() const { return core_->counters; }
const std::string& MqttConnection::client_id() const { return core_->options.client_id; }

std::string MqttConnection::redact_uri(const std::string& uri) {
  const std::size_t scheme = uri.find("://");
  const std::size_t host_start = scheme == std::string::npos ? 0 : scheme + 3;
  const std::size_t at = uri.find('@', host_start);
  const std::size_t slash = uri.find('/', host_start);
  if (at == std::string::npos || (slash != std::string::npos && slash < at)) return uri;
  return uri.substr(0, host_start) + uri.substr(at + 1);
}

bool MqttConnection::uses_tls(const std::string& uri) {
  return uri.rfind("mqtts://", 0) == 0 || uri.rfind("ssl://", 0) == 0 || uri.rfind("wss://", 0) == 0;
}

}  // namespace cloudless
