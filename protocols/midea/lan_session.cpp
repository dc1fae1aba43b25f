// The Midea LAN session: one TCP connection to an appliance, driven entirely from the io_context.
// Interface and the big picture: lan_session.h. docs/midea.md §2 (V2), §3 (V3), §8 item 2.
//
// Actors (the Asio "timeouts" client shape): the resolver/connect chain, one read loop per
// connection, a write queue, the attempt deadline, the backoff timer and the settle timer.
//
//   request ─▶ queue ─▶ pump ─▶ start_attempt ─┬─ ready ─────────────────────────▶ send_request ─▶ [deadline]
//                                             ├─ idle, backoff running ───────▶ wait / fail at once
//                                             └─ idle ─▶ connect ─▶ [V3 handshake] ─▶ [settle] ─▶ send_request
//   read loop ─▶ StreamReassembler ─▶ packet ─▶ (V3 decrypt) ─▶ V2 decode ─▶ 0xAA frame ─▶ reply | unsolicited
//
// Rules, and why:
//  - One request in flight (devices handle one). It owns `retries + 1` attempts and a budget of
//    (retries + 1) × timeout from the moment it leaves the queue. An attempt is one connect (which
//    must finish, V3 handshake included, within `timeout`) or one send of the request (which must
//    be answered within `timeout`).
//  - Reply matching: the first frame whose body type is the request's reply_body_type, received
//    after the request was sent, completes it. Frames of the notification types (0x04, 0x05) never
//    match; they go to the unsolicited handler and the request keeps waiting. This is stricter than
//    msmart-ng, which checks the frame type only for B5 (it collects every frame that arrives after a
//    command and takes the first of the wanted kind, skipping a B5 whose frame type is not 0x03 as
//    "not capabilities", msmart-ng #122). Here it covers every body type: a C0 the unit pushes as a
//    notification is published by the handler anyway, and the request gets its own answer.
//  - Reconnects are lazy: a connection dropped while idle stays closed until the next request needs
//    it; then the reconnect is immediate. Devices drop connections every few minutes and refuse new
//    ones for a few seconds (docs/midea.md §8 item 2), so a *failed* connect or handshake starts a
//    backoff (backoff_initial, doubling to backoff_max; reset by the next successful connect or
//    handshake) and the next connect waits for it.
//  - A request that finds a connect backoff running waits for it when the backoff ends early
//    enough for one more attempt (backoff end + timeout ≤ the request's budget), else it fails at
//    once as unreachable (timeout when the last try got as far as TCP): a short refusal window is
//    ridden out, a device that is really gone answers quickly instead of piling up waiting requests.
//  - An authentication failure (handshake answered ERROR, or an answer that does not verify under
//    our key) fails the request at once with `authentication` and starts the same backoff; requests
//    during that backoff fail at once with `authentication`, without touching the network: a wrong
//    token/key must never turn into a hot reconnect loop (and a device may lock out a client that
//    keeps trying).
//  - A connection lost while a request is in flight (EOF, reset, lost framing, ERROR asking for
//    re-authentication) ends that attempt; the next attempt reconnects at once. When the lost
//    connection predates the request (an idle connection that died quietly) the first such loss
//    is free: it does not use up an attempt. This is what keeps "the device drops the connection
//    every few minutes" invisible to the user.
//  - A reply timeout retries on the same connection; a second consecutive timeout on one
//    connection closes it and the next attempt reconnects (devices sometimes keep a dead
//    connection open). With the default retries = 2: send, resend, reconnect + send.
//  - Replies carry nothing that ties them to one send, so a request sent twice on one connection
//    may be answered twice, and the late answer would be taken for the next request's reply (seen
//    against the Python simulator: a set "answered" with the state from before the set). So a
//    connection on which the request in flight was sent more than once, or whose request ended in
//    a timeout, is closed when the request ends; the next request reconnects. This only costs
//    anything after a timeout.
//  - The session key (V3) or connection (V2) is used for at most session_lifetime: the first
//    attempt after that reconnects and re-handshakes (msmart re-authenticates after 12 h).
//  - Every handler checks `stopped_` and the connection generation, so a handler of a closed
//    connection or a cancelled timer does nothing. Async operations hold shared_from_this(),
//    except the read loop, which holds a weak_ptr: an idle session whose owner drops it without
//    stop() is destroyed, and its destructor closes the socket.
#include "protocols/midea/lan_session.h"

#include <algorithm>
#include <ctime>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "protocols/midea/packet_v2.h"

namespace cloudless::midea {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

constexpr std::string_view kAuthenticationDetail = "authentication failed: check token/key";
// msmart masks the V3 counter to 12 bits; devices have not been seen to check it (docs/midea.md §3.2).
constexpr std::uint16_t kV3CounterMask = 0x0FFF;

V2Timestamp utc_timestamp_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  return make_v2_timestamp(utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                           static_cast<int>(millis / 10));
}

// The V2 packet of a frame: 40-byte header, PKCS#7-padded ciphertext, 16-byte sign.
std::size_t v2_packet_size(std::size_t frame_size) {
  return kV2HeaderSize + (frame_size / 16 + 1) * 16 + kV2SignSize;
}

std::string milliseconds_text(std::chrono::milliseconds value) { return std::to_string(value.count()) + " ms"; }

}  // namespace

std::string_view request_failure_name(RequestFailure failure) {
  switch (failure) {
    case RequestFailure::none: return "ok";
    case RequestFailure::timeout: return "no answer";
    case RequestFailure::unreachable: return "unreachable";
    case RequestFailure::authentication: return "authentication failed";
    case RequestFailure::stopped: return "stopped";
    case RequestFailure::invalid: return "invalid request";
  }
  return "unknown";
}

std::shared_ptr<LanSession> LanSession::create(asio::io_context& io, LanSessionOptions options) {
  return std::shared_ptr<LanSession>(new LanSession(io, std::move(options)));
}

LanSession::LanSession(asio::io_context& io, LanSessionOptions options)
    : io_(io),
      options_(std::move(options)),
      socket_(io),
      resolver_(io),
      deadline_(io),
      backoff_timer_(io),
      reassembler_(options_.is_v3() ? StreamFraming::v3 : StreamFraming::v2, options_.max_frame_size),
      settle_timer_(io) {}

LanSession::~LanSession() {
  error_code ignored;
  socket_.close(ignored);
}

bool LanSession::connected() const { return phase_ == Phase::ready || phase_ == Phase::settling; }

void LanSession::request(Bytes frame, std::uint8_t reply_body_type, Callback done) {
  if (stopped_) return;
  queue_.push_back(Pending{std::move(frame), reply_body_type, std::move(done)});
  // Never run the request (or its callback) inside the caller's stack frame.
  if (!in_flight_) asio::post(io_, [self = shared_from_this()] { self->pump(); });
}

void LanSession::stop() {
  if (stopped_) return;
  stopped_ = true;
  ++generation_;
  ++deadline_sequence_;
  error_code ignored;
  deadline_.cancel();
  backoff_timer_.cancel();
  settle_timer_.cancel();
  resolver_.cancel();
  socket_.close(ignored);
  phase_ = Phase::idle;
  write_queue_.clear();
  queue_.clear();
  in_flight_.reset();
}

// ---- requests -------------------------------------------------------------------------------------

void LanSession::pump() {
  if (stopped_ || in_flight_ || queue_.empty()) return;
  in_flight_ = std::move(queue_.front());
  queue_.pop_front();
  attempt_ = 0;
  sends_on_connection_ = 0;
  request_sent_ = false;
  connected_for_request_ = connected();
  reused_connection_ = connected();
  request_deadline_ = Clock::now() + options_.timeout * (std::max(options_.retries, 0) + 1);

  const std::size_t size = in_flight_->frame.size();
  const bool too_long = size > kV2MaxPayload || (options_.is_v3() && v2_packet_size(size) > kV3MaxData);
  if (size == 0 || too_long) {
    finish({RequestFailure::invalid, {},
            size == 0 ? "empty request frame" : "request frame of " + std::to_string(size) + " bytes is too long"});
    return;
  }
  start_attempt();
}

void LanSession::start_attempt() {
  if (stopped_ || !in_flight_) return;
  const auto now = Clock::now();
  if (connected() && now - ready_since_ >= options_.session_lifetime) {
    // Routine renewal, not a loss: no disconnect counted, no backoff.
    close_connection();
    reused_connection_ = false;
  }
  if (phase_ == Phase::ready) {
    send_request();
    return;
  }
  if (phase_ != Phase::idle) return;  // connecting/handshaking/settling: their completion sends

  if (now < backoff_until_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(backoff_until_ - now);
    if (backoff_reason_ == BackoffReason::authentication) {
      finish({RequestFailure::authentication, {},
              std::string(kAuthenticationDetail) + " (" + last_failure_ + "; next try in " + milliseconds_text(left) +
                  ")"});
      return;
    }
    if (backoff_until_ + options_.timeout <= request_deadline_) {
      backoff_timer_.expires_at(backoff_until_);
      backoff_timer_.async_wait([self = shared_from_this()](const error_code& error) {
        if (self->stopped_ || error == asio::error::operation_aborted) return;
        self->start_attempt();
      });
      return;
    }
    finish({connected_for_request_ ? RequestFailure::timeout : backoff_failure_, {},
            last_failure_ + " (next connection attempt in " + milliseconds_text(left) + ")"});
    return;
  }
  start_connect();
}

void LanSession::send_request() {
  V2Header header;
  header.message_type = kV2TypeCommand;
  header.flags = kV2FlagsRequest;
  header.message_id = ++message_id_;
  header.timestamp = utc_timestamp_now();
  header.device_id = options_.appliance_id;
  Bytes packet = encode_v2_packet(header, in_flight_->frame);
  if (options_.is_v3()) {
    // msmart fills the pad with random bytes. Nobody checks them and they travel encrypted, so
    // they need no secrecy: a seeded PRNG, not RAND_bytes, whose first call loads OpenSSL's EVP
    // layer (2.2 MB resident, docs/build.md §9).
    std::array<std::uint8_t, 16> pad{};
    for (std::uint8_t& byte : pad) byte = static_cast<std::uint8_t>(pad_random_() >> 23);  // its 31 bits: the top 8
    packet = encode_v3_request(*tcp_key_, next_v3_counter(), packet, pad);
  }
  ++counters_.requests;
  ++sends_on_connection_;
  request_sent_ = true;
  arm_deadline(options_.timeout);
  write(std::move(packet));
}

void LanSession::finish(RequestResult result) {
  cancel_deadline();
  backoff_timer_.cancel();
  // A late answer to an earlier send must not become the next request's reply (header comment).
  if (phase_ != Phase::idle && (sends_on_connection_ > 1 || result.failure == RequestFailure::timeout))
    close_connection();
  sends_on_connection_ = 0;
  std::optional<Pending> done = std::move(in_flight_);
  in_flight_.reset();
  // Runs inside a handler that holds a shared_ptr to us, so the callback may drop the owner's last
  // one, stop the session or queue more requests.
  if (done && done->done) done->done(result);
  if (!stopped_ && !queue_.empty()) asio::post(io_, [self = shared_from_this()] { self->pump(); });
}

// ---- connection -----------------------------------------------------------------------------------

void LanSession::start_connect() {
  close_connection();
  phase_ = Phase::connecting;
  const std::uint64_t generation = generation_;
  arm_deadline(options_.timeout);  // covers resolve + connect + handshake

  error_code error;
  const auto address = asio::ip::make_address(options_.host, error);
  if (!error) {
    on_resolved(generation, {},
                tcp::resolver::results_type::create(tcp::endpoint(address, options_.port), options_.host,
                                                    std::to_string(options_.port)));
    return;
  }
  resolver_.async_resolve(options_.host, std::to_string(options_.port),
                          [self = shared_from_this(), generation](const error_code& e,
                                                                  const tcp::resolver::results_type& results) {
                            self->on_resolved(generation, e, results);
                          });
}

void LanSession::on_resolved(std::uint64_t generation, const error_code& error,
                             const tcp::resolver::results_type& results) {
  if (stopped_ || generation != generation_) return;
  if (error || results.empty()) {
    connect_failed("cannot resolve " + options_.host + ": " + (error ? error.message() : "no address"), false);
    return;
  }
  asio::async_connect(socket_, results,
                      [self = shared_from_this(), generation](const error_code& e, const tcp::endpoint&) {
                        self->on_connected(generation, e);
                      });
}

void LanSession::on_connected(std::uint64_t generation, const error_code& error) {
  if (stopped_ || generation != generation_) return;
  if (error) {
    connect_failed("cannot connect to " + options_.host + ":" + std::to_string(options_.port) + ": " + error.message(),
                   false);
    return;
  }
  ++counters_.connects;
  connected_for_request_ = true;
  error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  start_read();
  if (!options_.is_v3()) {
    become_ready();
    return;
  }
  phase_ = Phase::handshaking;
  v3_counter_ = 0;
  write(encode_v3_handshake_request(*options_.token, next_v3_counter()));
}

void LanSession::on_authenticated(const V3TcpKey& tcp_key) {
  tcp_key_.emplace(tcp_key);
  ++counters_.handshakes;
  become_ready();
}

void LanSession::become_ready() {
  cancel_deadline();
  backoff_delay_ = std::chrono::milliseconds(0);
  backoff_reason_ = BackoffReason::none;
  ready_since_ = Clock::now();
  const std::uint64_t generation = generation_;
  const bool settle = options_.is_v3() && options_.settle_after_handshake.count() > 0;
  phase_ = settle ? Phase::settling : Phase::ready;
  emit_link(LinkEvent::connected, (options_.is_v3() ? "authenticated with " : "connected to ") + options_.host);
  if (stopped_ || generation != generation_) return;
  if (!settle) {
    if (in_flight_) send_request();
    return;
  }
  // msmart waits after the handshake before the first command; a command sent at once may be lost.
  settle_timer_.expires_after(options_.settle_after_handshake);
  settle_timer_.async_wait([self = shared_from_this(), generation](const error_code& error) {
    if (self->stopped_ || error == asio::error::operation_aborted || generation != self->generation_) return;
    self->phase_ = Phase::ready;
    if (self->in_flight_) self->send_request();
  });
}

void LanSession::connect_failed(const std::string& detail, bool authentication) {
  // Failing at once during the backoff reports what the last try met: a device whose TCP answered
  // but not its handshake is "no answer", not "unreachable".
  backoff_failure_ = phase_ == Phase::connecting ? RequestFailure::unreachable : RequestFailure::timeout;
  close_connection();
  backoff_delay_ = backoff_delay_.count() == 0 ? options_.backoff_initial
                                               : std::min(backoff_delay_ * 2, options_.backoff_max);
  backoff_until_ = Clock::now() + backoff_delay_;
  last_failure_ = detail;
  if (authentication) {
    backoff_reason_ = BackoffReason::authentication;
    ++counters_.auth_failures;
    const std::string text = std::string(kAuthenticationDetail) + " (" + detail + ")";
    emit_link(LinkEvent::authentication_failed, text);
    if (stopped_) return;
    // Retrying within the request would only repeat the refusal (and hammer the device).
    finish({RequestFailure::authentication, {}, text});
    return;
  }
  backoff_reason_ = BackoffReason::connect;
  attempt_failed(detail);
}

void LanSession::connection_lost(const std::string& detail) {
  if (phase_ == Phase::connecting || phase_ == Phase::handshaking) {
    // Accepted and closed before we were authenticated: a failed connect (with backoff), else a
    // device that accepts and drops every connection would see a hot reconnect loop.
    connect_failed(detail, false);
    return;
  }
  const bool free_retry = reused_connection_;
  close_connection();
  ++counters_.disconnects;
  emit_link(LinkEvent::disconnected, detail);
  if (stopped_ || !in_flight_) return;  // idle: the next request reconnects
  if (free_retry) {
    reused_connection_ = false;
    start_attempt();
    return;
  }
  attempt_failed(detail);
}

void LanSession::attempt_failed(const std::string& detail) {
  if (!in_flight_) return;
  ++attempt_;
  if (attempt_ > options_.retries) {
    finish({connected_for_request_ ? RequestFailure::timeout : RequestFailure::unreachable, {},
            detail + " (after " + std::to_string(attempt_) + " attempts)"});
    return;
  }
  start_attempt();
}

void LanSession::close_connection() {
  ++generation_;
  error_code ignored;
  cancel_deadline();
  settle_timer_.cancel();
  resolver_.cancel();
  socket_.close(ignored);
  phase_ = Phase::idle;
  write_queue_.clear();
  writing_ = false;
  reassembler_.reset();
  tcp_key_.reset();
  consecutive_timeouts_ = 0;
  sends_on_connection_ = 0;
  pending_skipped_ = 0;
}

// ---- I/O ------------------------------------------------------------------------------------------

void LanSession::write(Bytes packet) {
  write_queue_.push_back(std::move(packet));
  if (!writing_) write_next();
}

void LanSession::write_next() {
  if (write_queue_.empty()) return;
  writing_ = true;
  auto buffer = std::make_shared<Bytes>(std::move(write_queue_.front()));
  write_queue_.pop_front();
  const std::uint64_t generation = generation_;
  asio::async_write(socket_, asio::buffer(*buffer),
                    [self = shared_from_this(), buffer, generation](const error_code& error, std::size_t) {
                      if (self->stopped_ || generation != self->generation_) return;
                      self->writing_ = false;
                      if (error) {
                        self->connection_lost("write failed: " + error.message());
                        return;
                      }
                      self->write_next();
                    });
}

void LanSession::start_read() {
  const std::uint64_t generation = generation_;
  socket_.async_read_some(asio::buffer(read_buffer_),
                          [weak = weak_from_this(), generation](const error_code& error, std::size_t size) {
                            if (auto self = weak.lock()) self->on_read(generation, error, size);
                          });
}

void LanSession::on_read(std::uint64_t generation, const error_code& error, std::size_t size) {
  if (stopped_ || generation != generation_) return;
  if (error) {
    connection_lost(error == asio::error::eof ? std::string("connection closed by the device")
                                              : "connection lost: " + error.message());
    return;
  }
  StreamChunk chunk = reassembler_.feed(ByteView(read_buffer_.data(), size));
  counters_.skipped_bytes += chunk.skipped;
  pending_skipped_ += chunk.skipped;
  // One report per resynchronisation, when the next packet is found: a junk burst that arrives a
  // byte per read would otherwise give one report per byte.
  if (pending_skipped_ > 0 && !chunk.frames.empty()) {
    const std::uint64_t skipped = pending_skipped_;
    pending_skipped_ = 0;
    if (reject_handler_) reject_handler_("skipped " + std::to_string(skipped) + " stream bytes before a packet magic");
    if (stopped_ || generation != generation_) return;
  }
  for (const Bytes& packet : chunk.frames) {
    handle_packet(packet);
    // A packet may complete a request whose callback stops us, or close/replace the connection.
    if (stopped_ || generation != generation_) return;
  }
  if (chunk.error) {
    ++counters_.framing_errors;
    const std::string what = "framing lost: " + chunk.error->describe();
    if (reject_handler_) reject_handler_(what);
    if (stopped_ || generation != generation_) return;
    connection_lost(what);
    return;
  }
  start_read();
}

// ---- packets and frames ---------------------------------------------------------------------------

void LanSession::handle_packet(ByteView packet) {
  if (!options_.is_v3()) {
    handle_v2_packet(packet);
    return;
  }
  if (phase_ == Phase::handshaking) {
    auto tcp_key = parse_v3_handshake_response(*options_.key, packet);
    if (!tcp_key) {
      if (tcp_key.error().kind == ErrorKind::authentication) {
        connect_failed(tcp_key.error().what, true);
      } else {
        reject(counters_.bad_packets, "V3 handshake answer rejected: " + tcp_key.error().describe());
      }
      return;
    }
    on_authenticated(*tcp_key);
    return;
  }
  if (is_v3_error(packet)) {
    // The device wants a new handshake (msmart #65): reconnect, re-authenticate, resend.
    ++counters_.reauth_requests;
    connection_lost("device asked for re-authentication (ERROR)");
    return;
  }
  if (!tcp_key_) {
    reject(counters_.bad_packets, "V3 packet before the handshake completed");
    return;
  }
  auto message = decode_v3_message(*tcp_key_, packet);
  if (!message) {
    reject(counters_.bad_packets, "V3 packet rejected: " + message.error().describe());
    return;
  }
  if (message->type != V3Type::encrypted_response) {
    reject(counters_.bad_packets, "V3 packet rejected: an encrypted request sent by the device");
    return;
  }
  handle_v2_packet(message->data);
}

void LanSession::handle_v2_packet(ByteView bytes) {
  auto packet = decode_v2_packet(bytes);
  if (!packet) {
    reject(counters_.bad_packets, "V2 packet rejected: " + packet.error().describe());
    return;
  }
  consecutive_timeouts_ = 0;  // the connection is alive
  if (packet->header.is_heartbeat()) return;
  handle_frame(packet->payload);
}

void LanSession::handle_frame(ByteView payload) {
  auto frame = parse_ac_frame(payload);
  if (!frame) {
    reject(counters_.bad_frames, "0xAA frame rejected: " + frame.error().describe());
    return;
  }
  const bool notification = frame->frame_type == static_cast<std::uint8_t>(FrameType::notify1) ||
                            frame->frame_type == static_cast<std::uint8_t>(FrameType::notify2);
  if (in_flight_ && request_sent_ && !notification && frame->body_type() == in_flight_->reply_body_type) {
    ++counters_.replies;
    RequestResult result;
    result.reply = std::move(*frame);
    finish(std::move(result));
    return;
  }
  ++counters_.unsolicited;
  if (unsolicited_handler_) unsolicited_handler_(*frame);
}

void LanSession::reject(std::uint64_t& counter, std::string what) {
  ++counter;
  if (reject_handler_) reject_handler_(what);
}

void LanSession::emit_link(LinkEvent event, const std::string& detail) {
  if (link_handler_) link_handler_(event, detail);
}

// ---- deadline -------------------------------------------------------------------------------------

void LanSession::arm_deadline(std::chrono::milliseconds after) {
  const std::uint64_t sequence = ++deadline_sequence_;
  deadline_.expires_after(after);
  deadline_.async_wait([self = shared_from_this(), sequence](const error_code& error) {
    if (error == asio::error::operation_aborted) return;
    self->on_deadline(sequence);
  });
}

void LanSession::cancel_deadline() {
  ++deadline_sequence_;
  deadline_.cancel();
}

void LanSession::on_deadline(std::uint64_t sequence) {
  if (stopped_ || sequence != deadline_sequence_) return;  // cancelled or re-armed meanwhile
  switch (phase_) {
    case Phase::connecting:
      connect_failed("no connection to " + options_.host + ":" + std::to_string(options_.port) + " within " +
                         milliseconds_text(options_.timeout),
                     false);
      return;
    case Phase::handshaking:
      connect_failed("no handshake answer within " + milliseconds_text(options_.timeout), false);
      return;
    case Phase::ready:
      break;
    case Phase::idle:
    case Phase::settling:
      return;
  }
  if (!in_flight_) return;
  ++counters_.timeouts;
  ++consecutive_timeouts_;
  ++attempt_;
  if (attempt_ > options_.retries) {
    finish({RequestFailure::timeout, {},
            "no answer after " + std::to_string(attempt_) + " attempts of " + milliseconds_text(options_.timeout)});
    return;
  }
  if (consecutive_timeouts_ >= 2) {
    // Two silent sends on one connection: it may be dead while still open. Start afresh.
    close_connection();
    reused_connection_ = false;
    emit_link(LinkEvent::disconnected, "no answer on this connection twice: reconnecting");
    if (stopped_) return;
  }
  start_attempt();
}

std::uint16_t LanSession::next_v3_counter() {
  const std::uint16_t counter = v3_counter_;
  v3_counter_ = static_cast<std::uint16_t>((v3_counter_ + 1) & kV3CounterMask);
  return counter;
}

}  // namespace cloudless::midea
