#include "protocols/miio/discovery.h"

#include <algorithm>

#include <boost/asio/ip/address.hpp>

namespace cloudless::miio {

namespace asio = boost::asio;
using udp = asio::ip::udp;

std::shared_ptr<Discovery> Discovery::create(asio::io_context& io, std::string target, std::uint16_t port) {
  return std::shared_ptr<Discovery>(new Discovery(io, std::move(target), port));
}

Discovery::Discovery(asio::io_context& io, std::string target, std::uint16_t port)
    : socket_(io), resend_timer_(io), deadline_(io), target_(std::move(target)), port_(port) {}

void Discovery::start(std::chrono::milliseconds timeout, Callback done) {
  done_ = std::move(done);
  boost::system::error_code error;
  const auto address = target_.empty() ? asio::ip::make_address_v4("255.255.255.255")
                                       : asio::ip::make_address_v4(target_, error);
  if (error) {
    auto callback = std::move(done_);
    callback({}, "not an IPv4 address: " + target_);
    return;
  }
  destination_ = udp::endpoint(address, port_);
  socket_.open(udp::v4(), error);
  if (!error && target_.empty()) socket_.set_option(asio::socket_base::broadcast(true), error);
  if (error) {
    auto callback = std::move(done_);
    callback({}, "cannot open UDP socket: " + error.message());
    return;
  }
  deadline_.expires_after(timeout);
  deadline_.async_wait([self = shared_from_this()](const boost::system::error_code& e) {
    if (e || self->stopped_) return;
    auto found = std::move(self->found_);
    auto callback = std::move(self->done_);
    self->stop();
    if (callback) callback(std::move(found), {});
  });
  start_receive();
  send_hello();
}

void Discovery::stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ignored;
  resend_timer_.cancel();
  deadline_.cancel();
  socket_.close(ignored);
}

void Discovery::send_hello() {
  if (stopped_ || sends_left_-- <= 0) return;
  socket_.async_send_to(asio::buffer(hello_), destination_, [self = shared_from_this()](auto, auto) {});
  resend_timer_.expires_after(std::chrono::milliseconds(500));
  resend_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& e) {
    if (!e) self->send_hello();
  });
}

void Discovery::start_receive() {
  socket_.async_receive_from(asio::buffer(buffer_), sender_,
                             [self = shared_from_this()](const boost::system::error_code& e, std::size_t n) {
                               if (self->stopped_ || e == asio::error::operation_aborted) return;
                               if (!e) {
                                 auto hello = parse_hello_reply(ByteView(self->buffer_.data(), n));
                                 const std::string address = self->sender_.address().to_string();
                                 const bool known = std::any_of(self->found_.begin(), self->found_.end(),
                                                                [&](const DiscoveredDevice& d) { return d.address == address; });
                                 if (hello && !known)
                                   self->found_.push_back({address, hello->device_id, hello->stamp, hello->token});
                               }
                               self->start_receive();
                             });
}

}  // namespace cloudless::miio
