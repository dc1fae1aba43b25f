// One MQTT client connection (Paho C++ 1.2.0 async_client) seen from the io_context: every Paho
// callback only copies what it needs and posts it to the loop, so all handlers below run on the
// io_context thread, and no call here ever blocks the loop.
//
//   start() ──connect──► broker ◄──automatic reconnect (Paho, 1 s … 30 s)── connection lost
//      ▲        │ first connect failed
//      └─timer──┘ (our own backoff 1 s doubling to 30 s: Paho does not retry a failed first connect)
//   connected ──► on_connected handler (first connect AND every reconnect: subscribe, republish there)
//   stop() ──► publish the will payload as a clean goodbye ──► DISCONNECT ──► done (grace timers on both)
//
// The header stays free of Paho so that only mqtt_connection.cpp pays for <mqtt/async_client.h>.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

namespace cloudless {

struct MqttMessage {
  std::string topic;
  std::string payload;
  int qos = 0;
  bool retained = false;
};

struct MqttConnectionOptions {
  std::string server = "mqtt://127.0.0.1:1883";  // mqtt://, mqtts://, tcp://, ssl:// (Paho 1.2/C 1.3.12 take all four)
  std::string client_id;
  std::string user;      // empty: anonymous
  std::string password;  // never logged
  std::string ca_file;   // TLS
  std::string cert_file;
  std::string key_file;
  bool insecure = false;  // TLS without certificate and host name verification
  std::chrono::seconds keepalive{30};
  // Last will, also published by stop() itself (a clean DISCONNECT suppresses the broker's LWT).
  MqttMessage will;
  std::chrono::milliseconds first_retry{1000};  // first-connect backoff: doubles up to max_retry
  std::chrono::milliseconds max_retry{30000};
  std::chrono::milliseconds stop_grace{2000};    // per stop() step, when the broker does not answer
  // Inbound messages with a larger payload are dropped on Paho's thread, before they are copied or
  // parsed: no command of ours comes near it, and a 100 MB payload must not stall the loop.
  std::size_t max_payload = 64 * 1024;
};

struct MqttCounters {
  std::uint64_t published = 0;       // publishes handed to Paho
  std::uint64_t publish_errors = 0;  // publishes Paho refused (disconnected, buffer full, …)
  std::uint64_t received = 0;
  std::uint64_t oversized = 0;       // inbound messages dropped for their size
  std::uint64_t reconnects = 0;      // successful connects after the first one
  std::uint64_t connection_losses = 0;
};

class MqttConnection {
 public:
  using ConnectedHandler = std::function<void()>;
  using LostHandler = std::function<void(const std::string& cause)>;
  using MessageHandler = std::function<void(const MqttMessage&)>;

  MqttConnection(boost::asio::io_context& io, MqttConnectionOptions options);
  // Without stop(): a bounded (1 s) DISCONNECT; the broker then keeps the retained state as it was.
  ~MqttConnection();
  MqttConnection(const MqttConnection&) = delete;
  MqttConnection& operator=(const MqttConnection&) = delete;

  // Set before start(). All run on the io_context.
  void on_connected(ConnectedHandler handler);
  void on_connection_lost(LostHandler handler);
  void on_message(MessageHandler handler);

  // Creates the client and connects in the background. Never blocks, never throws.
  void start();
  // Publishes the will payload, disconnects and calls `done` (posted) — also when the broker is gone.
  void stop(std::function<void()> done);

  // Non-blocking; false (logged at debug, counted) when not connected or when Paho refuses.
  bool publish(const std::string& topic, const std::string& payload, int qos, bool retained);
  bool subscribe(const std::string& filter, int qos);
  bool unsubscribe(const std::string& filter);

  bool connected() const;
  const MqttCounters& counters() const;
  const std::string& client_id() const;

  // The server URI with any user:password@ removed, for log lines.
  static std::string redact_uri(const std::string& uri);
  // True for mqtts:// and ssl:// (and wss://).
  static bool uses_tls(const std::string& uri);

 private:
  struct Core;
  std::shared_ptr<Core> core_;
};

}  // namespace cloudless
