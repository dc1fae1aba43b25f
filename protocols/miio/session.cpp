#include "protocols/miio/session.h"

#include <memory>
#include <random>

#include <boost/asio/ip/address.hpp>

namespace cloudless::miio {

namespace asio = boost::asio;
using udp = asio::ip::udp;

namespace {
constexpr std::int64_t kRetryIdStep = 100;  // python-miio and node miio jump ahead on a retry
constexpr std::chrono::milliseconds kFirstBusyPause{250};
// -9999 "user ack timeout" and -30001 come and go on working devices (docs/miio.md §2.5, §2.7): asked
// again at once.
bool is_transient(const RpcError& error) {
  return error.code == -30001 || (error.code == -9999 && error.message.find("ack timeout") != std::string::npos);
}

// -30012 "busy.": the device is still working on something else (answered by miIO humidifiers to
// node miio, aholstenson/miio#280). Asked again after a pause that doubles each time.
bool is_busy(const RpcError& error) { return error.code == -30012; }
}  // namespace

std::string_view call_failure_name(CallFailure failure) {
  switch (failure) {
    case CallFailure::none: return "ok";
    case CallFailure::timeout: return "no answer";
    case CallFailure::wrong_token: return "wrong token";
    case CallFailure::device_error: return "device error";
    case CallFailure::malformed: return "malformed reply";
    case CallFailure::network: return "network error";
    case CallFailure::stopped: return "stopped";
    case CallFailure::expired: return "expired";
    case CallFailure::overloaded: return "queue full";
  }
  return "unknown";
}

std::shared_ptr<Session> Session::create(asio::io_context& io, SessionOptions options) {
  return std::shared_ptr<Session>(new Session(io, std::move(options)));
}

Session::Session(asio::io_context& io, SessionOptions options)
    : io_(io), options_(std::move(options)), keys_(options_.token), resolver_(io), deadline_(io) {
  if (options_.last_id && *options_.last_id >= 1 && *options_.last_id <= kMaxMessageId) {
    id_ = *options_.last_id;
    return;
  }
  // Nothing known: start below the wrap point at a random id. A device may remember the last id of
  // an earlier client run and ignore ids it believes it has handled (aholstenson/miio#163).
  std::random_device seed;
  id_ = std::uniform_int_distribution<std::int64_t>(1, 5000)(seed);
}

Session::~Session() {
  if (socket_ && device_endpoint_) socket_->detach(*device_endpoint_, this);
}

void Session::call(std::string method, const nlohmann::json& params, Callback done,
                   std::optional<Clock::time_point> expires_at) {
  call(std::move(method), encode_params(params), std::move(done), expires_at);
}

void Session::call(std::string method, EncodedParams params, Callback done,
                   std::optional<Clock::time_point> expires_at) {
  enqueue(Pending{std::move(method), std::move(params), std::move(done), expires_at, nullptr});
}

void Session::call(std::string method, EncodedParams params, std::shared_ptr<ResultReader> reader, Callback done) {
  enqueue(Pending{std::move(method), std::move(params), std::move(done), std::nullopt, std::move(reader)});
}

void Session::enqueue(Pending call) {
  if (stopped_) return;
  if (queue_.size() >= options_.max_queued) {
    // Refused on the loop, never inside the caller's own frame.
    asio::post(io_, [self = shared_from_this(), done = std::move(call.done), waiting = queue_.size()] {
      if (self->stopped_ || !done) return;
      done({CallFailure::overloaded, {}, std::nullopt, std::to_string(waiting) + " calls already waiting"});
    });
    return;
  }
  queue_.push_back(std::move(call));
  if (!in_flight_) start_next();
}

void Session::stop() {
  if (stopped_) return;
  stopped_ = true;
  deadline_.cancel();
  resolver_.cancel();
  if (socket_ && device_endpoint_) socket_->detach(*device_endpoint_, this);
  queue_.clear();
  in_flight_.reset();
}

void Session::start_next() {
  if (stopped_ || in_flight_ || queue_.empty()) return;
  in_flight_ = std::move(queue_.front());
  queue_.pop_front();
  attempt_ = 0;
  attempt_started_ = false;
  busy_replies_ = 0;
  saw_bad_checksum_ = false;
  if (expire_if_due()) return;
  if (!device_endpoint_) {
    start_resolve();
    return;
  }
  start_attempt();
}

void Session::start_resolve() {
  boost::system::error_code error;
  const auto address = asio::ip::make_address(options_.host, error);
  if (!error) {
    on_resolved({}, udp::resolver::results_type::create(udp::endpoint(address, options_.port), options_.host, ""));
    return;
  }
  if (resolving_) return;
  resolving_ = true;
  resolver_.async_resolve(udp::v4(), options_.host, std::to_string(options_.port),
                          [self = shared_from_this()](const boost::system::error_code& e, udp::resolver::results_type r) {
                            self->resolving_ = false;
                            self->on_resolved(e, std::move(r));
                          });
}

void Session::on_resolved(const boost::system::error_code& error, udp::resolver::results_type results) {
  if (stopped_) return;
  if (error || results.empty()) {
    finish({CallFailure::network, {}, std::nullopt, "cannot resolve " + options_.host + ": " + error.message()});
    return;
  }
  device_endpoint_ = results.begin()->endpoint();
  if (!attach_socket()) return;
  start_attempt();
}

// The shared socket, or one of our own when another session already talks to this device.
bool Session::attach_socket() {
  boost::system::error_code error;
  socket_ = SharedSocket::of(io_);
  if (!socket_->attach(*device_endpoint_, shared_from_this(), error) && !error) {
    socket_ = SharedSocket::create(io_);
    socket_->attach(*device_endpoint_, shared_from_this(), error);
  }
  if (error) {
    socket_.reset();
    device_endpoint_.reset();  // the next call tries again
    finish({CallFailure::network, {}, std::nullopt, "cannot open UDP socket: " + error.message()});
    return false;
  }
  return true;
}

// Only datagrams from our device's address and port come here (the socket sorts them by sender).
void Session::on_datagram(ByteView datagram) {
  if (stopped_) return;
  if (datagram.size() == kHeaderSize)
    handle_hello(datagram);
  else
    handle_message(datagram);
}

void Session::start_attempt() {
  if (stopped_ || !in_flight_) return;
  if (expire_if_due()) return;
  attempt_started_ = true;
  const auto now = Clock::now();
  if (!device_id_ || now - last_packet_at_ > options_.rehandshake_after) need_handshake_ = true;
  if (need_handshake_)
    send_hello();
  else
    send_request(attempt_ == 0 ? 1 : kRetryIdStep);
}

void Session::send_hello() {
  phase_ = Phase::hello;
  arm_deadline(options_.timeout);
  send(encode_hello_request());
}

void Session::send_request(std::int64_t id_step) {
  phase_ = Phase::request;
  // The first attempt steps the id by one, a retry after silence by 100 (see the header comment).
  current_id_ = next_id(id_step);
  if (options_.on_id) options_.on_id(current_id_);
  const std::string text = encode_request(current_id_, in_flight_->method, in_flight_->params);
  ++counters_.requests;
  arm_deadline(options_.timeout);
  send(encode_message(keys_, *device_id_, outgoing_stamp(), as_bytes(text)));
}

// Sent at once: the socket never blocks, and a UDP send either goes out whole or fails, so an
// asynchronous send would only add a completion to run. A failed send (a full socket buffer included)
// is a lost datagram like any other: the deadline retries it.
void Session::send(ByteView datagram) {
  expect_reply(true);
  socket_->send_to(datagram, *device_endpoint_);
}

void Session::expect_reply(bool expecting) {
  if (socket_ && device_endpoint_) socket_->expect_reply(*device_endpoint_, this, expecting);
}

void Session::arm_deadline(std::chrono::milliseconds after) {
  deadline_.expires_after(after);
  deadline_.async_wait([self = shared_from_this()](const boost::system::error_code& e) { self->on_deadline(e); });
}

void Session::on_deadline(const boost::system::error_code& error) {
  if (stopped_ || error == asio::error::operation_aborted || !in_flight_) return;
  if (deadline_.expiry() > Clock::now()) return;  // re-armed by a later step
  if (phase_ == Phase::backoff) {  // the pause after a "busy" answer is over: ask again
    if (expire_if_due()) return;
    send_request(1);
    return;
  }
  ++counters_.timeouts;
  need_handshake_ = true;  // python-miio re-handshakes after any receive timeout
  if (attempt_ < options_.retries) {
    ++attempt_;
    start_attempt();
    return;
  }
  if (saw_bad_checksum_) {
    finish({CallFailure::wrong_token, {}, std::nullopt,
            "the device answered, but not one reply passed the checksum: the token is wrong (or changed)"});
    return;
  }
  finish({CallFailure::timeout, {}, std::nullopt,
          "no answer after " + std::to_string(options_.retries + 1) + " attempts"});
}

void Session::handle_hello(ByteView datagram) {
  auto hello = parse_hello_reply(datagram);
  if (!hello) {
    ++counters_.malformed;
    return;
  }
  // Only the answer to our own hello counts: a hello reply carries no checksum, so one we did not
  // ask for may come from anyone on the LAN, and must not change the did or the stamp we sign with.
  if (phase_ != Phase::hello || !in_flight_) {
    ++counters_.stray;
    return;
  }
  last_packet_at_ = Clock::now();
  if (hello->token) revealed_token_ = hello->token;
  device_id_ = hello->device_id;
  device_stamp_ = hello->stamp;
  stamp_received_at_ = last_packet_at_;
  need_handshake_ = false;
  send_request(attempt_ == 0 ? 1 : kRetryIdStep);
}

void Session::handle_message(ByteView datagram) {
  auto message = decode_message(keys_, datagram);
  if (!message) {
    if (message.error().kind == ErrorKind::authentication) {
      ++counters_.bad_checksum;
      saw_bad_checksum_ = true;
    } else {
      ++counters_.malformed;
    }
    return;
  }
  if (phase_ != Phase::request || !in_flight_) {
    ++counters_.stray;
    return;
  }
  // A call that knows its result's shape reads it without a DOM; anything else, and any reply that
  // is not the plain answer to this request, goes the general way below.
  if (in_flight_->reader && accepts(read_reply(message->payload, *in_flight_->reader), *message)) {
    on_reply(*message);
    CallResult result;
    result.read = true;
    finish(std::move(result));
    return;
  }
  auto reply = parse_reply(message->payload);
  if (!reply) {
    ++counters_.malformed;
    return;  // keep waiting: a retry may bring a readable answer
  }
  if (!accepts(reply->id, *message)) {
    ++counters_.stray;
    return;
  }
  on_reply(*message);
  if (reply->error) {
    if (attempt_ < options_.retries && is_busy(*reply->error)) {
      ++attempt_;
      start_busy_backoff();
      return;
    }
    if (attempt_ < options_.retries && is_transient(*reply->error)) {
      ++attempt_;
      if (expire_if_due()) return;
      send_request(1);  // it answered: the id was seen, no need to jump ahead
      return;
    }
    finish({CallFailure::device_error, {}, reply->error,
            "device error " + std::to_string(reply->error->code) + ": " + reply->error->message});
    return;
  }
  finish({CallFailure::none, std::move(reply->result), std::nullopt, {}});
}

// Only the answer to the request in flight says anything about now: a reply without an id, with
// another one (a late answer to an earlier attempt, or a replay) or under another did is ignored,
// its stamp included.
bool Session::accepts(std::optional<std::int64_t> id, const Message& message) const {
  return id && *id == current_id_ && device_id_ && message.header.device_id == *device_id_;
}

void Session::on_reply(const Message& message) {
  last_packet_at_ = Clock::now();
  device_stamp_ = message.header.stamp;
  stamp_received_at_ = last_packet_at_;
  ++counters_.replies;
}

void Session::start_busy_backoff() {
  ++busy_replies_;
  const int doublings = std::min(busy_replies_ - 1, 4);
  phase_ = Phase::backoff;
  expect_reply(false);
  arm_deadline(std::min<std::chrono::milliseconds>(kFirstBusyPause * (1 << doublings), options_.timeout));
}

bool Session::expire_if_due() {
  if (!in_flight_ || !in_flight_->expires_at || Clock::now() < *in_flight_->expires_at) return false;
  finish({CallFailure::expired, {}, std::nullopt,
          attempt_started_ ? "no answer before the call expired" : "expired before it could be sent"});
  return true;
}

void Session::finish(CallResult result) {
  result.attempts = attempt_started_ ? attempt_ + 1 : 0;
  deadline_.cancel();
  phase_ = Phase::idle;
  expect_reply(false);
  std::optional<Pending> done = std::move(in_flight_);
  in_flight_.reset();
  if (done && done->done) done->done(result);
  // The callback may have stopped us or queued more.
  if (!stopped_) asio::post(io_, [self = shared_from_this()] { self->start_next(); });
}

std::uint32_t Session::outgoing_stamp() const {
  // Device stamp + whole seconds since it arrived, at least +1 (docs/miio.md §2.2).
  const auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - stamp_received_at_);
  const auto step = std::max<std::int64_t>(1, elapsed.count());
  return device_stamp_ + static_cast<std::uint32_t>(step);
}

std::int64_t Session::next_id(std::int64_t step) {
  id_ = wrap_message_id(id_ + step);
  return id_;
}

}  // namespace cloudless::miio
