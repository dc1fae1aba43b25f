// Midea LAN discovery on the io_context: the 72-byte request (discovery_codec.h) to UDP 6445 and
// 20086 of one address or the broadcast address, every reply parsed, one result per appliance.
// docs/midea.md §1. Resent every second until the deadline (UDP is lossy; msmart sends
// three rounds), replies de-duplicated by appliance id.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "protocols/midea/discovery_codec.h"

namespace cloudless::midea {

struct DiscoveredAppliance {
  DiscoveryReply reply;
  std::string sender;  // the address the datagram came from (may differ from reply.ip behind NAT)
  // The udpid a user looks the V3 token/key pair up with (docs/midea.md §5.2): the variant that matches
  // the V3 trailer when it matches one, else 6-byte big-endian.
  Udpid udpid{};
};

struct LanDiscoveryOptions {
  std::string target = "255.255.255.255";  // one address, or the broadcast address
  std::vector<std::uint16_t> ports = {kDiscoveryPort, kDiscoveryPortAlt};
  std::chrono::milliseconds timeout{5000};
  std::chrono::milliseconds resend_interval{1000};
};

struct LanDiscoveryCounters {
  std::uint64_t sent = 0;
  std::uint64_t replies = 0;
  std::uint64_t rejected = 0;  // datagrams that failed to parse (our own request echoed included)
};

class LanDiscovery : public std::enable_shared_from_this<LanDiscovery> {
 public:
  using Callback = std::function<void(std::vector<DiscoveredAppliance>, const std::string& error)>;
  static std::shared_ptr<LanDiscovery> create(boost::asio::io_context& io, LanDiscoveryOptions options);
  // Runs until the deadline, then calls `done` once on the io_context (error empty, or why the
  // socket could not be opened/sent on).
  void start(Callback done);
  void stop();  // no callback afterwards
  const LanDiscoveryCounters& counters() const { return counters_; }

 private:
  LanDiscovery(boost::asio::io_context& io, LanDiscoveryOptions options);
  boost::asio::io_context& io_;
  LanDiscoveryOptions options_;
  boost::asio::ip::udp::socket socket_;
  boost::asio::steady_timer deadline_;
  boost::asio::steady_timer resend_timer_;
  LanDiscoveryCounters counters_;

  // ---- implementation state (lan_discovery.cpp) ----
  void on_target(const boost::asio::ip::address& address);
  void send_round();
  void start_receive();
  void on_receive(const boost::system::error_code& error, std::size_t size);
  void finish(std::string error);

  boost::asio::ip::udp::resolver resolver_;
  Callback done_;
  bool started_ = false;
  bool finished_ = false;  // the callback ran, or stop()
  boost::asio::ip::udp::endpoint target_;
  boost::asio::ip::udp::endpoint sender_;
  std::array<std::uint8_t, 2048> receive_buffer_{};
  std::shared_ptr<const Bytes> request_;
  std::vector<DiscoveredAppliance> results_;
  std::string send_error_;  // the last failed send, reported when nothing could be sent
};

}  // namespace cloudless::midea
