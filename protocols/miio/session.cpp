#include "protocols/miio/session.h"

#include <random>

#include <boost/asio/ip/address.hpp>

namespace cloudless::miio {

namespace asio = boost::asio;
using udp = asio::ip::udp;

namespace {
constexpr std::int64_t kMaxId = 9999;       // devices' counters wrap here (python-miio: 9999 never sent)
constexpr std::int64_t kRetryIdStep = 100;  // python-miio and node miio jump ahead on a retry

// -9999 "user ack timeout" and -30001 come and go on working devices (research §2.5, §2.7).
bool is_recoverable(const RpcError& error) {
  return error.code == -30001 || (error.code == -9999 && error.message.find("ack timeout") != std::string::npos);
}
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
  }
  return "unknown";
}

std::shared_ptr<Session> Session::create(asio::io_context& io, SessionOptions options) {
  return std::shared_ptr<Session>(new Session(io, std::move(options)));
}

Session::Session(asio::io_context& io, SessionOptions options)
    : io_(io), options_(std::move(options)), socket_(io), resolver_(io), deadline_(io) {
  // Start below the wrap point at a random id: a device may remember the last id of an earlier
  // client run and ignore ids it believes it has handled (aholstenson/miio#163).
  std::random_device seed;
  id_ = std::uniform_int_distribution<std::int64_t>(1, 5000)(seed);
}

Session::~Session() = default;

void Session::call(std::string method, nlohmann::json params, Callback done) {
  if (stopped_) return;
  queue_.push_back(Pending{std::move(method), std::move(params), std::move(done)});
  if (!in_flight_) start_next();
}

void Session::stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ignored;
  deadline_.cancel();
  resolver_.cancel();
  socket_.close(ignored);
  queue_.clear();
  in_flight_.reset();
}

void Session::start_next() {
  if (stopped_ || in_flight_ || queue_.empty()) return;
  in_flight_ = std::move(queue_.front());
  queue_.pop_front();
  attempt_ = 0;
  saw_bad_checksum_ = false;
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
  boost::system::error_code open_error;
  if (!socket_.is_open()) {
    socket_.open(udp::v4(), open_error);
    if (open_error) {
      finish({CallFailure::network, {}, std::nullopt, "cannot open UDP socket: " + open_error.message()});
      return;
    }
  }
  start_receive();
  start_attempt();
}

void Session::start_receive() {
  if (receiving_ || stopped_) return;
  receiving_ = true;
  socket_.async_receive_from(asio::buffer(receive_buffer_), sender_,
                             [self = shared_from_this()](const boost::system::error_code& e, std::size_t n) {
                               self->receiving_ = false;
                               self->on_receive(e, n);
                             });
}

void Session::on_receive(const boost::system::error_code& error, std::size_t size) {
  if (stopped_) return;
  if (error == asio::error::operation_aborted) return;
  if (!error && device_endpoint_ && sender_ == *device_endpoint_) {
    const ByteView datagram(receive_buffer_.data(), size);
    if (size == kHeaderSize)
      handle_hello(datagram);
    else
      handle_message(datagram);
  } else if (!error) {
    ++counters_.stray;  // someone else on the network: not our device's address and port
  }
  // ICMP port unreachable surfaces as connection_refused on Linux: the device is not listening. Keep
  // receiving either way; the deadline decides.
  start_receive();
}

void Session::start_attempt() {
  if (stopped_ || !in_flight_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!device_id_ || now - last_packet_at_ > options_.rehandshake_after) need_handshake_ = true;
  if (need_handshake_)
    send_hello();
  else
    send_request();
}

void Session::send_hello() {
  phase_ = Phase::hello;
  arm_deadline();
  send(encode_hello_request());
}

void Session::send_request() {
  phase_ = Phase::request;
  // The first attempt steps the id by one, a retry by 100 (see the header comment).
  current_id_ = next_id(attempt_ == 0 ? 1 : kRetryIdStep);
  const std::string text = encode_request(current_id_, in_flight_->method, in_flight_->params);
  ++counters_.requests;
  arm_deadline();
  send(encode_message(options_.token, *device_id_, outgoing_stamp(), as_bytes(text)));
}

void Session::send(Bytes datagram) {
  auto buffer = std::make_shared<Bytes>(std::move(datagram));
  socket_.async_send_to(asio::buffer(*buffer), *device_endpoint_,
                        [self = shared_from_this(), buffer](const boost::system::error_code&, std::size_t) {
                          // A failed send is a lost datagram like any other: the deadline retries it.
                        });
}

void Session::arm_deadline() {
  deadline_.expires_after(options_.timeout);
  deadline_.async_wait([self = shared_from_this()](const boost::system::error_code& e) { self->on_deadline(e); });
}

void Session::on_deadline(const boost::system::error_code& error) {
  if (stopped_ || error == asio::error::operation_aborted || !in_flight_) return;
  if (deadline_.expiry() > std::chrono::steady_clock::now()) return;  // re-armed by a later step
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
  last_packet_at_ = std::chrono::steady_clock::now();
  if (hello->token) revealed_token_ = hello->token;
  device_id_ = hello->device_id;
  device_stamp_ = hello->stamp;
  stamp_received_at_ = last_packet_at_;
  if (phase_ != Phase::hello || !in_flight_) return;
  need_handshake_ = false;
  send_request();
}

void Session::handle_message(ByteView datagram) {
  auto message = decode_message(options_.token, datagram);
  if (!message) {
    if (message.error().kind == ErrorKind::authentication) {
      ++counters_.bad_checksum;
      saw_bad_checksum_ = true;
    } else {
      ++counters_.malformed;
    }
    return;
  }
  last_packet_at_ = std::chrono::steady_clock::now();
  device_stamp_ = message->header.stamp;
  stamp_received_at_ = last_packet_at_;
  if (phase_ != Phase::request || !in_flight_) {
    ++counters_.stray;
    return;
  }
  auto reply = parse_reply(message->payload);
  if (!reply) {
    ++counters_.malformed;
    return;  // keep waiting: a retry may bring a readable answer
  }
  if (reply->id && *reply->id != current_id_) {
    ++counters_.stray;  // a late answer to an earlier attempt
    return;
  }
  ++counters_.replies;
  if (reply->error) {
    if (is_recoverable(*reply->error) && attempt_ < options_.retries) {
      ++attempt_;
      send_request();
      return;
    }
    finish({CallFailure::device_error, {}, reply->error,
            "device error " + std::to_string(reply->error->code) + ": " + reply->error->message});
    return;
  }
  finish({CallFailure::none, std::move(reply->result), std::nullopt, {}});
}

void Session::finish(CallResult result) {
  deadline_.cancel();
  phase_ = Phase::idle;
  std::optional<Pending> done = std::move(in_flight_);
  in_flight_.reset();
  if (done && done->done) done->done(result);
  // The callback may have stopped us or queued more.
  if (!stopped_) asio::post(io_, [self = shared_from_this()] { self->start_next(); });
}

std::uint32_t Session::outgoing_stamp() const {
  // Device stamp + whole seconds since it arrived, at least +1 (research §2.2).
  const auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - stamp_received_at_);
  const auto step = std::max<std::int64_t>(1, elapsed.count());
  return device_stamp_ + static_cast<std::uint32_t>(step);
}

std::int64_t Session::next_id(std::int64_t step) {
  id_ += step;
  if (id_ >= kMaxId) id_ = id_ % kMaxId + 1;
  return id_;
}

}  // namespace cloudless::miio
