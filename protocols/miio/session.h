// One miIO device seen from the network: an async UDP client on the daemon's io_context.
//
//   call() ──queue──▶ [handshake?] ──hello──▶ device ──hello reply (did, stamp)──▶
//                     request(id, stamp) ──▶ device ──reply(id)──▶ callback
//   deadline timer: each attempt has `timeout`; on expiry re-handshake and resend with id + 100
//   (devices silently drop ids they think they have seen, research/miio.md §2.3), up to `retries`.
//
// One request is outstanding at a time (devices handle one). Replies are matched by id; a reply that
// fails the checksum under our token is remembered, so a timeout can say "wrong token" instead of
// "no answer". The receive is re-armed on every path: one bad datagram never stops the session.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "protocols/miio/packet.h"
#include "protocols/miio/rpc.h"

namespace cloudless::miio {

enum class CallFailure {
  none,
  timeout,       // no answer at all after every retry
  wrong_token,   // answers came, but none passed the checksum under our token
  device_error,  // the device answered {"error": {...}}
  malformed,     // the answer decrypted but is not a usable reply
  network,       // socket or name resolution failure
  stopped,       // the session was stopped
};

std::string_view call_failure_name(CallFailure failure);

struct CallResult {
  CallFailure failure = CallFailure::none;
  nlohmann::json result;           // the reply's "result" when ok
  std::optional<RpcError> error;   // device_error
  std::string detail;              // human text for logs

  bool ok() const { return failure == CallFailure::none; }
};

struct SessionOptions {
  std::string host;
  std::uint16_t port = kDefaultPort;
  Token token{};
  std::chrono::milliseconds timeout{2000};  // per attempt
  int retries = 2;                          // extra attempts after the first
  std::chrono::seconds rehandshake_after{120};
};

struct SessionCounters {
  std::uint64_t requests = 0;
  std::uint64_t replies = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t bad_checksum = 0;
  std::uint64_t malformed = 0;
  std::uint64_t stray = 0;  // well-formed but not for the request in flight
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  using Callback = std::function<void(const CallResult&)>;

  static std::shared_ptr<Session> create(boost::asio::io_context& io, SessionOptions options);
  ~Session();

  // Queues a call; `done` runs on the io_context exactly once, unless stop() came first.
  void call(std::string method, nlohmann::json params, Callback done);
  // Cancels everything; no callback runs afterwards. Idempotent.
  void stop();

  std::optional<std::uint32_t> device_id() const { return device_id_; }
  std::optional<Token> revealed_token() const { return revealed_token_; }  // from the hello reply, if any
  const SessionCounters& counters() const { return counters_; }

 private:
  struct Pending {
    std::string method;
    nlohmann::json params;
    Callback done;
  };

  Session(boost::asio::io_context& io, SessionOptions options);

  void start_next();
  void start_resolve();
  void on_resolved(const boost::system::error_code& error, boost::asio::ip::udp::resolver::results_type results);
  void start_receive();
  void on_receive(const boost::system::error_code& error, std::size_t size);
  void start_attempt();
  void send_hello();
  void send_request();
  void send(Bytes datagram);
  void arm_deadline();
  void on_deadline(const boost::system::error_code& error);
  void handle_hello(ByteView datagram);
  void handle_message(ByteView datagram);
  void finish(CallResult result);
  std::uint32_t outgoing_stamp() const;
  std::int64_t next_id(std::int64_t step);

  boost::asio::io_context& io_;
  SessionOptions options_;
  boost::asio::ip::udp::socket socket_;
  boost::asio::ip::udp::resolver resolver_;
  boost::asio::steady_timer deadline_;
  std::optional<boost::asio::ip::udp::endpoint> device_endpoint_;
  boost::asio::ip::udp::endpoint sender_;
  std::array<std::uint8_t, 4096> receive_buffer_{};
  bool receiving_ = false;
  bool resolving_ = false;
  bool stopped_ = false;

  std::deque<Pending> queue_;
  std::optional<Pending> in_flight_;
  enum class Phase { idle, hello, request } phase_ = Phase::idle;
  int attempt_ = 0;
  bool need_handshake_ = true;
  bool saw_bad_checksum_ = false;
  std::int64_t id_ = 0;
  std::int64_t current_id_ = 0;

  std::optional<std::uint32_t> device_id_;
  std::uint32_t device_stamp_ = 0;
  std::chrono::steady_clock::time_point stamp_received_at_{};
  std::chrono::steady_clock::time_point last_packet_at_{};
  std::optional<Token> revealed_token_;
  SessionCounters counters_;
};

}  // namespace cloudless::miio
