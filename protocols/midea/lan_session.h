// One Midea appliance seen from the network: a long-lived TCP connection to port 6444 on the
// daemon's io_context, speaking V2 (5A5A packets, no authentication) or V3 (8370 framing with the
// token/key handshake), carrying 0xAA application frames. docs/midea.md §2, §3.
//
//   request(frame) ──queue──▶ [connect] ──▶ [V3: handshake(token) ◀── 64-byte answer → tcp key]
//        ──▶ V2 packet(frame) [wrapped in an encrypted 8370 request] ──▶ device
//        ◀── packets, reassembled from the stream ──▶ 0xAA frame ──▶ the matching request's callback
//                                                           └──▶ anything else: the unsolicited handler
//
// Why a long-lived connection with quiet reconnects: units drop the TCP connection every few
// minutes and refuse new ones for a few seconds (docs/midea.md §8 item 2). A request that meets a
// dropped connection reconnects (and re-handshakes) and is sent again within its own deadline;
// the caller sees a failure only when the device stays unreachable for all attempts.
// The ERROR packet means "authenticate again" (mid-session, msmart #65): close, reconnect,
// re-handshake. A handshake that is answered with ERROR or with a body that does not verify under
// our key is an authentication failure: reported as such, retried only after the backoff.
// The session key lives `session_lifetime` (msmart: 12 h); the next request after that reconnects.
//
// One request is in flight at a time (devices handle one). Replies are matched by body type.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "protocols/common/bytes.h"
#include "protocols/midea/ac_frame.h"
#include "protocols/midea/frame_v3.h"
#include "protocols/midea/stream_reassembler.h"

namespace cloudless::midea {

struct LanSessionOptions {
  std::string host;
  std::uint16_t port = 6444;
  std::uint64_t appliance_id = 0;  // written into every V2 header
  // Both set: V3 (8370 + handshake). Neither: V2. (One without the other is a config error.)
  std::optional<V3Token> token;
  std::optional<V3Key> key;
  std::chrono::milliseconds timeout{2000};        // per attempt: connect+handshake, or reply
  int retries = 2;                                // extra attempts per request
  std::chrono::milliseconds settle_after_handshake{1000};  // msmart waits 1 s before the first command
  std::chrono::seconds session_lifetime{std::chrono::hours(12)};
  std::chrono::milliseconds backoff_initial{1000};  // after a failed connect or handshake
  std::chrono::milliseconds backoff_max{60000};
  std::size_t max_frame_size = kDefaultMaxFrameSize;
  bool is_v3() const { return token.has_value() && key.has_value(); }
};

enum class RequestFailure {
  none,
  timeout,         // connected, but no matching reply after every attempt
  unreachable,     // could not connect (refused, reset, no route, name resolution) after every attempt
  authentication,  // V3 handshake refused: ERROR answer or a body that fails under our key
  stopped,         // the session was stopped
  invalid,         // the request frame itself is not encodable (empty, too long)
};
std::string_view request_failure_name(RequestFailure failure);

struct RequestResult {
  RequestFailure failure = RequestFailure::none;
  AcFrame reply;       // parsed 0xAA frame when ok
  std::string detail;  // human text for logs ("connection refused", "handshake answered ERROR", ...)
  bool ok() const { return failure == RequestFailure::none; }
};

// Everything a session counts; the device kind logs deltas and tests read them.
struct LanSessionCounters {
  std::uint64_t requests = 0;
  std::uint64_t replies = 0;           // matched replies
  std::uint64_t timeouts = 0;          // attempts without a reply
  std::uint64_t connects = 0;          // TCP connections established
  std::uint64_t disconnects = 0;       // connections lost or closed by the peer
  std::uint64_t handshakes = 0;        // successful V3 handshakes
  std::uint64_t auth_failures = 0;     // refused handshakes
  std::uint64_t reauth_requests = 0;   // ERROR received mid-session
  std::uint64_t skipped_bytes = 0;     // stream bytes before a magic
  std::uint64_t framing_errors = 0;    // impossible length fields (connection closed)
  std::uint64_t bad_packets = 0;       // V2/V3 packets failing sign/decrypt/structure
  std::uint64_t bad_frames = 0;        // 0xAA frames failing length/checksum/CRC/type
  std::uint64_t unsolicited = 0;       // valid frames no request was waiting for
};

// What the session tells its owner besides replies (for logs and availability).
enum class LinkEvent {
  connected,             // TCP up (and, for V3, authenticated)
  disconnected,          // lost; the next request reconnects
  authentication_failed, // "authentication failed: check token/key"
};

class LanSession : public std::enable_shared_from_this<LanSession> {
 public:
  using Callback = std::function<void(const RequestResult&)>;
  using FrameHandler = std::function<void(const AcFrame&)>;
  using LinkHandler = std::function<void(LinkEvent, const std::string& detail)>;
  // Every bad packet or frame, with why: the device kind rate-limits these into log lines.
  using RejectHandler = std::function<void(const std::string& what)>;

  static std::shared_ptr<LanSession> create(boost::asio::io_context& io, LanSessionOptions options);
  ~LanSession();
  LanSession(const LanSession&) = delete;
  LanSession& operator=(const LanSession&) = delete;

  // Queues one 0xAA frame (ac_commands.h). `done` runs on the io_context exactly once (unless
  // stop() came first) with the first frame received after the send whose body type is
  // `reply_body_type` and whose frame type is not a notification (0x04, 0x05): callers never see a
  // notification as an answer (those go to the unsolicited handler).
  void request(Bytes frame, std::uint8_t reply_body_type, Callback done);

  void on_unsolicited(FrameHandler handler) { unsolicited_handler_ = std::move(handler); }
  void on_link(LinkHandler handler) { link_handler_ = std::move(handler); }
  void on_reject(RejectHandler handler) { reject_handler_ = std::move(handler); }

  // Cancels everything and closes the socket; no callback runs afterwards. Idempotent.
  void stop();

  bool connected() const;  // TCP up and (V3) authenticated
  const LanSessionCounters& counters() const { return counters_; }
  const LanSessionOptions& options() const { return options_; }

 private:
  LanSession(boost::asio::io_context& io, LanSessionOptions options);

  struct Pending {
    Bytes frame;
    std::uint8_t reply_body_type = 0;
    Callback done;
  };

  boost::asio::io_context& io_;
  LanSessionOptions options_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::steady_timer deadline_;
  boost::asio::steady_timer backoff_timer_;
  StreamReassembler reassembler_;
  std::array<std::uint8_t, 2048> read_buffer_{};
  std::deque<Pending> queue_;
  std::optional<Pending> in_flight_;
  LanSessionCounters counters_;
  FrameHandler unsolicited_handler_;
  LinkHandler link_handler_;
  RejectHandler reject_handler_;
  bool stopped_ = false;

  // ---- implementation state (lan_session.cpp explains the rules) ----
  using Clock = std::chrono::steady_clock;
  // idle: no socket. connecting: resolve + TCP connect. handshaking: V3 handshake sent.
  // settling: authenticated, waiting settle_after_handshake. ready: requests may be sent.
  enum class Phase { idle, connecting, handshaking, settling, ready };
  enum class BackoffReason { none, connect, authentication };

  void pump();
  void start_attempt();
  void start_connect();
  void on_resolved(std::uint64_t generation, const boost::system::error_code& error,
                   const boost::asio::ip::tcp::resolver::results_type& results);
  void on_connected(std::uint64_t generation, const boost::system::error_code& error);
  void on_authenticated(const V3TcpKey& tcp_key);
  void become_ready();
  void send_request();
  void write(Bytes packet);
  void write_next();
  void start_read();
  void on_read(std::uint64_t generation, const boost::system::error_code& error, std::size_t size);
  void handle_packet(ByteView packet);
  void handle_v2_packet(ByteView packet);
  void handle_frame(ByteView payload);
  void arm_deadline(std::chrono::milliseconds after);
  void cancel_deadline();
  void on_deadline(std::uint64_t sequence);
  void connect_failed(const std::string& detail, bool authentication);
  void connection_lost(const std::string& detail);
  void attempt_failed(const std::string& detail);
  void close_connection();
  void reject(std::uint64_t& counter, std::string what);
  void emit_link(LinkEvent event, const std::string& detail);
  void finish(RequestResult result);
  std::uint16_t next_v3_counter();

  boost::asio::steady_timer settle_timer_;
  Phase phase_ = Phase::idle;
  std::uint64_t generation_ = 0;       // bumped on every close/connect: stale handlers return early
  std::uint64_t deadline_sequence_ = 0;  // bumped on every arm/cancel of deadline_
  std::optional<V3SessionKey> tcp_key_;  // expanded once per handshake
  std::uint16_t v3_counter_ = 0;
  std::uint32_t message_id_ = 0;
  std::minstd_rand pad_random_{std::random_device{}()};  // V3 pad bytes (unchecked, encrypted)
  Clock::time_point ready_since_{};
  int consecutive_timeouts_ = 0;       // on the current connection, reset by any valid packet
  int sends_on_connection_ = 0;        // sends of the request in flight on the current connection
  std::uint64_t pending_skipped_ = 0;  // skipped bytes not reported yet (one report per resync)
  std::deque<Bytes> write_queue_;
  bool writing_ = false;
  // The request in flight.
  int attempt_ = 0;
  Clock::time_point request_deadline_{};
  bool request_sent_ = false;
  bool connected_for_request_ = false;  // a TCP connection existed at some point of this request
  bool reused_connection_ = false;      // the connection predates the request (one free retry)
  // Backoff after failed connects / handshakes.
  BackoffReason backoff_reason_ = BackoffReason::none;
  Clock::time_point backoff_until_{};
  std::chrono::milliseconds backoff_delay_{0};
  std::string last_failure_;
  RequestFailure backoff_failure_ = RequestFailure::unreachable;  // timeout once TCP was up
};

}  // namespace cloudless::midea
