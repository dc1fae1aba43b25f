// miIO discovery: the 32-byte hello sent to one address or broadcast on UDP 54321, every reply
// collected until a deadline (docs/miio.md §3.1). Replies are de-duplicated by source address.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "protocols/miio/packet.h"

namespace cloudless::miio {

struct DiscoveredDevice {
  std::string address;
  std::uint32_t device_id = 0;
  std::uint32_t stamp = 0;
  std::optional<Token> token;  // only while unprovisioned (or on old firmware)
};

class Discovery : public std::enable_shared_from_this<Discovery> {
 public:
  using Callback = std::function<void(std::vector<DiscoveredDevice>, std::string error)>;

  // `target`: an IPv4 address, or empty for 255.255.255.255. `port` is the devices' port.
  static std::shared_ptr<Discovery> create(boost::asio::io_context& io, std::string target,
                                           std::uint16_t port = kDefaultPort);
  // Sends the hello three times, 500 ms apart, and reports after `timeout`.
  void start(std::chrono::milliseconds timeout, Callback done);
  void stop();

 private:
  Discovery(boost::asio::io_context& io, std::string target, std::uint16_t port);
  void send_hello();
  void start_receive();

  boost::asio::ip::udp::socket socket_;
  boost::asio::steady_timer resend_timer_;
  boost::asio::steady_timer deadline_;
  std::string target_;
  std::uint16_t port_;
  boost::asio::ip::udp::endpoint destination_;
  boost::asio::ip::udp::endpoint sender_;
  std::array<std::uint8_t, 1024> buffer_{};
  Bytes hello_ = encode_hello_request();
  int sends_left_ = 3;
  std::vector<DiscoveredDevice> found_;
  Callback done_;
  bool stopped_ = false;
};

}  // namespace cloudless::miio
