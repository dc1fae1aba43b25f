// Midea LAN discovery on the io_context (interface: lan_discovery.h; docs/midea.md §1, §5.2).
//
//   start ─▶ [resolve target] ─▶ socket 0.0.0.0:0, SO_BROADCAST ─▶ request ─▶ every port ─┐
//            resend timer (resend_interval) ─────────────────────────────────────────────┘
//   receive loop ─▶ parse_discovery_reply ─▶ first reply per appliance id kept ─▶ … deadline ─▶ done
//
// Why these choices:
//  - The socket binds the wildcard address of the target's family on an ephemeral port: devices
//    answer unicast to the sender's address and port (§1.1), from whatever address they have, so a
//    socket bound to one interface address would miss replies (127.0.0.x in tests, any LAN
//    address in real life).
//  - UDP is lossy, so the request goes out every resend_interval until the deadline; every device
//    answers every copy on both ports, hence the de-duplication by appliance id (the first reply
//    wins; later ones carry the same content).
//  - Every datagram that does not parse (garbage, V1 XML, our own broadcast echoed back) is counted
//    and ignored; the receive is re-armed on every path, so one bad datagram never ends discovery.
//  - The udpid shown to the user is the variant that matches the V3 trailer when one does, else the
//    6-byte big-endian one, the variant every captured trailer matched (§1.2).
#include "protocols/midea/lan_discovery.h"

#include <algorithm>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>

namespace cloudless::midea {

namespace asio = boost::asio;
using udp = asio::ip::udp;
using error_code = boost::system::error_code;

std::shared_ptr<LanDiscovery> LanDiscovery::create(asio::io_context& io, LanDiscoveryOptions options) {
  return std::shared_ptr<LanDiscovery>(new LanDiscovery(io, std::move(options)));
}

LanDiscovery::LanDiscovery(asio::io_context& io, LanDiscoveryOptions options)
    : io_(io),
      options_(std::move(options)),
      socket_(io),
      deadline_(io),
      resend_timer_(io),
      resolver_(io),
      request_(std::make_shared<const Bytes>(encode_discovery_request())) {}

void LanDiscovery::start(Callback done) {
  if (started_ || finished_) return;
  started_ = true;
  done_ = std::move(done);
  deadline_.expires_after(options_.timeout);
  deadline_.async_wait([self = shared_from_this()](const error_code& error) {
    if (error == asio::error::operation_aborted) return;
    self->finish(self->counters_.sent == 0 && !self->send_error_.empty() ? self->send_error_ : std::string());
  });

  error_code error;
  const auto address = asio::ip::make_address(options_.target, error);
  if (!error) {
    // Posted: the callback must never run inside start().
    asio::post(io_, [self = shared_from_this(), address] { self->on_target(address); });
    return;
  }
  resolver_.async_resolve(udp::v4(), options_.target, "",
                          [self = shared_from_this()](const error_code& e, const udp::resolver::results_type& results) {
                            if (self->finished_) return;
                            if (e || results.empty()) {
                              self->finish("cannot resolve " + self->options_.target + ": " +
                                           (e ? e.message() : std::string("no address")));
                              return;
                            }
                            self->on_target(results.begin()->endpoint().address());
                          });
}

void LanDiscovery::stop() {
  if (finished_) return;
  finished_ = true;
  error_code ignored;
  deadline_.cancel();
  resend_timer_.cancel();
  resolver_.cancel();
  socket_.close(ignored);
  done_ = nullptr;
}

void LanDiscovery::on_target(const asio::ip::address& address) {
  if (finished_) return;
  if (options_.ports.empty()) {
    finish("no discovery port configured");
    return;
  }
  const udp protocol = address.is_v6() ? udp::v6() : udp::v4();
  error_code error;
  socket_.open(protocol, error);
  if (!error && address.is_v4()) socket_.set_option(asio::socket_base::broadcast(true), error);
  if (!error) socket_.bind(udp::endpoint(protocol, 0), error);
  if (error) {
    finish("cannot open the discovery socket: " + error.message());
    return;
  }
  target_ = udp::endpoint(address, 0);
  start_receive();
  send_round();
}

void LanDiscovery::send_round() {
  if (finished_) return;
  for (const std::uint16_t port : options_.ports) {
    const udp::endpoint destination(target_.address(), port);
    socket_.async_send_to(asio::buffer(*request_), destination,
                          [self = shared_from_this(), request = request_, destination](const error_code& error,
                                                                                          std::size_t) {
                            if (self->finished_) return;
                            if (error) {
                              // e.g. "network unreachable" for a broadcast without a route: reported
                              // at the deadline only if no copy could be sent at all.
                              self->send_error_ = "cannot send to " + destination.address().to_string() + ":" +
                                                  std::to_string(destination.port()) + ": " + error.message();
                              return;
                            }
                            ++self->counters_.sent;
                          });
  }
  resend_timer_.expires_after(options_.resend_interval);
  resend_timer_.async_wait([self = shared_from_this()](const error_code& error) {
    if (error == asio::error::operation_aborted || self->finished_) return;
    self->send_round();
  });
}

void LanDiscovery::start_receive() {
  socket_.async_receive_from(asio::buffer(receive_buffer_), sender_,
                             [self = shared_from_this()](const error_code& error, std::size_t size) {
                               self->on_receive(error, size);
                             });
}

void LanDiscovery::on_receive(const error_code& error, std::size_t size) {
  if (finished_ || error == asio::error::operation_aborted) return;
  if (!error) {
    auto reply = parse_discovery_reply(ByteView(receive_buffer_.data(), size));
    if (!reply) {
      ++counters_.rejected;
    } else {
      ++counters_.replies;
      const bool known = std::any_of(results_.begin(), results_.end(), [&](const DiscoveredAppliance& seen) {
        return seen.reply.appliance_id == reply->appliance_id;
      });
      if (!known) {
        DiscoveredAppliance appliance;
        std::optional<UdpidVariant> variant;
        if (reply->trailer) variant = match_udpid(reply->appliance_id, *reply->trailer);
        appliance.udpid = derive_udpid(reply->appliance_id, variant.value_or(UdpidVariant::big_endian_6));
        appliance.sender = sender_.address().to_string();
        appliance.reply = std::move(*reply);
        results_.push_back(std::move(appliance));
      }
    }
  }
  // Re-armed on every path, errors included (an ICMP error must not end discovery).
  start_receive();
}

void LanDiscovery::finish(std::string error) {
  if (finished_) return;
  finished_ = true;
  error_code ignored;
  deadline_.cancel();
  resend_timer_.cancel();
  resolver_.cancel();
  socket_.close(ignored);
  Callback done = std::move(done_);
  done_ = nullptr;
  if (done) done(std::move(results_), error);
}

}  // namespace cloudless::midea
