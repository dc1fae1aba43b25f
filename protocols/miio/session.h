// One miIO device seen from the network: an async UDP client on the daemon's io_context.
//
//   call() ──queue──▶ [handshake?] ──hello──▶ device ──hello reply (did, stamp)──▶
//                     request(id, stamp) ──▶ device ──reply(id)──▶ callback
//   deadline timer: each attempt has `timeout`; on expiry re-handshake and resend with id + 100
//   (devices silently drop ids they think they have seen, docs/miio.md §2.3), up to `retries`.
//
// One request is outstanding at a time (devices handle one). What the device says is believed only
// when it answers what we asked: the did and stamp of a hello reply only while our hello is pending
// (a hello needs no token, so anyone on the LAN can send one), and the stamp of an authenticated reply
// only when it carries the id of the request in flight and our device's did. A reply that fails the
// checksum under our token is remembered, so a timeout can say "wrong token" instead of "no answer".
// The receive is re-armed on every path: one bad datagram never stops the session.
//
// Sockets: the sessions on an io_context share one UDP socket (shared_socket.h), which hands each
// session the datagrams from its device's address and port. A session whose device another session
// already talks to gets a socket of its own.
//
// Devices drop a request whose id is not above the last one they handled, and remember that id
// across our restarts. So the session resumes after `last_id` and reports every id it is about to
// use through `on_id`: whoever owns the session keeps the ids safe across restarts.
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
#include "protocols/miio/shared_socket.h"

namespace cloudless::miio {

enum class CallFailure {
  none,
  timeout,       // no answer at all after every retry
  wrong_token,   // answers came, but none passed the checksum under our token
  device_error,  // the device answered {"error": {...}}
  malformed,     // the answer decrypted but is not a usable reply
  network,       // socket or name resolution failure
  stopped,       // the session was stopped
  expired,       // the call's own deadline passed before it could be (re)sent
  overloaded,    // the queue was full: the call was refused without being sent
};

std::string_view call_failure_name(CallFailure failure);

struct CallResult {
  CallFailure failure = CallFailure::none;
  nlohmann::json result;           // the reply's "result" when ok
  std::optional<RpcError> error;   // device_error
  std::string detail;              // human text for logs
  int attempts = 0;                // attempts started (each a hello and/or a request); 0: nothing was sent
  bool read = false;               // ok, and the result went to the call's ResultReader (`result` is null)

  bool ok() const { return failure == CallFailure::none; }
};

// Message ids run 1..9998 and wrap to 1, as python-miio's do (it never sends 9999).
constexpr std::int64_t kMaxMessageId = 9998;
// `id` (any positive number) brought back onto the ring 1..kMaxMessageId.
constexpr std::int64_t wrap_message_id(std::int64_t id) { return (id - 1) % kMaxMessageId + 1; }
// How many steps id `a` is ahead of id `b` on that ring, 0..kMaxMessageId-1.
constexpr std::int64_t message_ids_ahead(std::int64_t a, std::int64_t b) {
  return ((a - b) % kMaxMessageId + kMaxMessageId) % kMaxMessageId;
}

struct SessionOptions {
  std::string host;
  std::uint16_t port = kDefaultPort;
  Token token{};
  std::chrono::milliseconds timeout{2000};  // per attempt
  int retries = 2;                          // extra attempts after the first
  std::chrono::seconds rehandshake_after{120};
  // Calls waiting behind the one in flight; more are refused (CallFailure::overloaded).
  std::size_t max_queued = 16;
  // The last id an earlier run may have used (1..kMaxMessageId): the first request uses a higher
  // one. Unset: a random start below the wrap point.
  std::optional<std::int64_t> last_id;
  // Called with each id before the request carrying it is sent.
  std::function<void(std::int64_t id)> on_id;
};

struct SessionCounters {
  std::uint64_t requests = 0;
  std::uint64_t replies = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t bad_checksum = 0;
  std::uint64_t malformed = 0;
  std::uint64_t stray = 0;  // from our device, well-formed, but not for the request in flight
};

class Session final : public std::enable_shared_from_this<Session>, public DatagramReceiver {
 public:
  using Callback = std::function<void(const CallResult&)>;

  static std::shared_ptr<Session> create(boost::asio::io_context& io, SessionOptions options);
  ~Session();

  using Clock = std::chrono::steady_clock;

  // Queues a call; `done` runs on the io_context exactly once, unless stop() came first. A call
  // with `expires_at` is not sent, nor sent again after a timeout, once that time has passed
  // (CallFailure::expired): a command must not be carried out long after it was given.
  void call(std::string method, const nlohmann::json& params, Callback done,
            std::optional<Clock::time_point> expires_at = std::nullopt);
  // The same with parameters serialised beforehand (a poll's, built once per model).
  void call(std::string method, EncodedParams params, Callback done,
            std::optional<Clock::time_point> expires_at = std::nullopt);
  // The same, the result read by `reader` when the reply has the plain shape (read_reply): then
  // CallResult::read is set and the reader holds the result until its next call.
  void call(std::string method, EncodedParams params, std::shared_ptr<ResultReader> reader, Callback done);
  // Cancels everything; no callback runs afterwards. Idempotent.
  void stop();

  std::optional<std::uint32_t> device_id() const { return device_id_; }
  std::optional<Token> revealed_token() const { return revealed_token_; }  // from the hello reply, if any
  const SessionCounters& counters() const { return counters_; }

 private:
  struct Pending {
    std::string method;
    EncodedParams params;
    Callback done;
    std::optional<Clock::time_point> expires_at;
    std::shared_ptr<ResultReader> reader;
  };

  Session(boost::asio::io_context& io, SessionOptions options);

  void enqueue(Pending call);
  void start_next();
  void start_resolve();
  void on_resolved(const boost::system::error_code& error, boost::asio::ip::udp::resolver::results_type results);
  bool attach_socket();
  void on_datagram(ByteView datagram) override;
  void start_attempt();
  void send_hello();
  void send_request(std::int64_t id_step);
  void send(ByteView datagram);
  void expect_reply(bool expecting);
  void arm_deadline(std::chrono::milliseconds after);
  void on_deadline(const boost::system::error_code& error);
  void handle_hello(ByteView datagram);
  void handle_message(ByteView datagram);
  bool accepts(std::optional<std::int64_t> id, const Message& message) const;
  void on_reply(const Message& message);
  void start_busy_backoff();
  bool expire_if_due();
  void finish(CallResult result);
  std::uint32_t outgoing_stamp() const;
  std::int64_t next_id(std::int64_t step);

  boost::asio::io_context& io_;
  SessionOptions options_;
  PacketKeys keys_;  // from options_.token, derived once
  std::shared_ptr<SharedSocket> socket_;  // set once the device's address is known
  boost::asio::ip::udp::resolver resolver_;
  boost::asio::steady_timer deadline_;
  std::optional<boost::asio::ip::udp::endpoint> device_endpoint_;
  bool resolving_ = false;
  bool stopped_ = false;

  std::deque<Pending> queue_;
  std::optional<Pending> in_flight_;
  enum class Phase { idle, hello, request, backoff } phase_ = Phase::idle;
  int attempt_ = 0;
  bool attempt_started_ = false;
  int busy_replies_ = 0;  // -30012 answers to the call in flight
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
