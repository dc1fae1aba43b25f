// Midea LAN discovery against fake UDP responders on 127.0.0.7 (two ports, like 6445 and 20086).
// Replies are built with encode_discovery_reply; the udpid expectations are the codec's published
// vectors (test_midea_discovery.cpp: derive_udpid of 123456789 and 147334558165565). The loop is
// driven with run_for; every wait is bounded.
#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio.hpp>

#include "protocols/midea/discovery_codec.h"
#include "protocols/midea/lan_discovery.h"

namespace asio = boost::asio;
using asio::ip::udp;
using namespace cloudless;
using namespace cloudless::midea;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

const char* const kResponderAddress = "127.0.0.7";

// Answers every datagram it receives with `answers` (each a separate datagram).
class Responder {
 public:
  explicit Responder(asio::io_context& io) : socket_(io, udp::endpoint(asio::ip::make_address(kResponderAddress), 0)) {
    receive();
  }
  std::uint16_t port() const { return socket_.local_endpoint().port(); }

  std::vector<Bytes> answers;
  std::vector<Bytes> received;

 private:
  void receive() {
    socket_.async_receive_from(asio::buffer(buffer_), peer_, [this](const boost::system::error_code& error, std::size_t n) {
      if (error) return;
      received.emplace_back(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(n));
      for (const Bytes& answer : answers) socket_.send_to(asio::buffer(answer), peer_);
      receive();
    });
  }

  udp::socket socket_;
  udp::endpoint peer_;
  std::array<std::uint8_t, 2048> buffer_{};
};

DiscoveryReply make_reply(int version, std::uint64_t id, std::string ssid) {
  DiscoveryReply reply;
  reply.version = version;
  reply.appliance_id = id;
  reply.ip = {127, 0, 0, 7};
  reply.port = 6444;
  reply.serial_number = "000000P0000000Q1F0C9D153F7B40000";
  reply.ssid = std::move(ssid);
  return reply;
}

Bytes encode(const DiscoveryReply& reply) {
  Bytes datagram = encode_discovery_reply(reply);
  REQUIRE_FALSE(datagram.empty());
  return datagram;
}

struct Outcome {
  std::vector<DiscoveredAppliance> appliances;
  std::string error;
};

void run_until(asio::io_context& io, const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto end = Clock::now() + limit;
  while (!done() && Clock::now() < end) {
    io.run_for(5ms);
    if (io.stopped()) io.restart();
  }
}

const DiscoveredAppliance* find(const std::vector<DiscoveredAppliance>& all, std::uint64_t id) {
  for (const DiscoveredAppliance& appliance : all)
    if (appliance.reply.appliance_id == id) return &appliance;
  return nullptr;
}

}  // namespace

TEST_CASE("midea lan discovery: V2 and V3 replies on two ports, garbage and duplicates", "[midea][lan][discovery]") {
  asio::io_context io;
  Responder first(io);
  Responder second(io);

  constexpr std::uint64_t kV2Id = 0x860000001234;
  constexpr std::uint64_t kV3BigEndianId = 147334558165565;  // 0x86000000AA3D, a cloud-bound id
  constexpr std::uint64_t kV3LittleEndianId = 123456789;
  constexpr std::uint64_t kV3UnboundId = 0xFF72DDA86DCA;  // never cloud-bound: zero trailer (§1.2)

  DiscoveryReply v2 = make_reply(2, kV2Id, "net_ac_1234");
  DiscoveryReply v3_big = make_reply(3, kV3BigEndianId, "net_ac_7045");
  v3_big.trailer = derive_udpid(kV3BigEndianId, UdpidVariant::big_endian_6);
  DiscoveryReply v3_little = make_reply(3, kV3LittleEndianId, "net_c3_B6E4");
  v3_little.trailer = derive_udpid(kV3LittleEndianId, UdpidVariant::little_endian_6);
  DiscoveryReply v3_unbound = make_reply(3, kV3UnboundId, "net_ac_6DCA");
  v3_unbound.trailer = Udpid{};

  const Bytes garbage = {'h', 'e', 'l', 'l', 'o'};
  first.answers = {encode(v2), garbage, encode(v3_big), encode(v2)};
  second.answers = {encode(v3_little), encode(v2), encode(v3_unbound), encode_discovery_request()};

  LanDiscoveryOptions options;
  options.target = kResponderAddress;
  options.ports = {first.port(), second.port()};
  options.timeout = 300ms;
  options.resend_interval = 100ms;
  auto discovery = LanDiscovery::create(io, options);
  std::optional<Outcome> outcome;
  int calls = 0;
  discovery->start([&](std::vector<DiscoveredAppliance> appliances, const std::string& error) {
    ++calls;
    outcome = Outcome{std::move(appliances), error};
  });
  run_until(io, [&] { return outcome.has_value(); }, 2000ms);
  REQUIRE(outcome);
  CHECK(outcome->error.empty());

  // Every request on the wire is the 72-byte request, resent while the deadline runs.
  CHECK(first.received.size() >= 2);
  CHECK(second.received.size() >= 2);
  for (const Bytes& request : first.received) CHECK(request == encode_discovery_request());

  REQUIRE(outcome->appliances.size() == 4);  // one per appliance id, however many copies came
  const DiscoveredAppliance* a = find(outcome->appliances, kV2Id);
  REQUIRE(a);
  CHECK(a->reply.version == 2);
  CHECK(a->reply.ssid == "net_ac_1234");
  CHECK(a->reply.port == 6444);
  CHECK(a->sender == kResponderAddress);
  CHECK(a->udpid == derive_udpid(kV2Id, UdpidVariant::big_endian_6));  // V2: no trailer, the default variant

  const DiscoveredAppliance* b = find(outcome->appliances, kV3BigEndianId);
  REQUIRE(b);
  CHECK(b->reply.version == 3);
  CHECK(to_hex(b->udpid) == "4fbe0d4139de99cc88a0285e14657045");

  const DiscoveredAppliance* c = find(outcome->appliances, kV3LittleEndianId);
  REQUIRE(c);
  CHECK(c->reply.device_type() == std::optional<std::uint8_t>(0xC3));
  CHECK(to_hex(c->udpid) == "8011a3aa5116c19f17161815770eb6e4");  // the trailer's variant wins

  const DiscoveredAppliance* d = find(outcome->appliances, kV3UnboundId);
  REQUIRE(d);
  CHECK(d->udpid == derive_udpid(kV3UnboundId, UdpidVariant::big_endian_6));

  const LanDiscoveryCounters& counters = discovery->counters();
  const auto rounds = first.received.size() + second.received.size();
  CHECK(counters.sent >= rounds);  // a last copy may still be on its way at the deadline
  CHECK(counters.sent >= 4);
  CHECK(counters.rejected >= 2);  // the garbage and the echoed request, at least once each
  CHECK(counters.replies >= 7);

  run_until(io, [] { return false; }, 150ms);
  CHECK(calls == 1);  // once, at the deadline
}

TEST_CASE("midea lan discovery: nobody answers → empty result at the deadline", "[midea][lan][discovery]") {
  asio::io_context io;
  udp::socket closed(io, udp::endpoint(asio::ip::make_address(kResponderAddress), 0));
  const std::uint16_t port = closed.local_endpoint().port();
  closed.close();

  LanDiscoveryOptions options;
  options.target = kResponderAddress;
  options.ports = {port};
  options.timeout = 200ms;
  options.resend_interval = 50ms;
  auto discovery = LanDiscovery::create(io, options);
  std::optional<Outcome> outcome;
  const auto start = Clock::now();
  discovery->start([&](std::vector<DiscoveredAppliance> appliances, const std::string& error) {
    outcome = Outcome{std::move(appliances), error};
  });
  run_until(io, [&] { return outcome.has_value(); }, 2000ms);
  REQUIRE(outcome);
  CHECK(Clock::now() - start >= 200ms);
  CHECK(outcome->appliances.empty());
  CHECK(outcome->error.empty());
  CHECK(discovery->counters().sent >= 3);
  CHECK(discovery->counters().replies == 0);
}

TEST_CASE("midea lan discovery: stop() → no callback", "[midea][lan][discovery]") {
  asio::io_context io;
  Responder responder(io);
  responder.answers = {encode(make_reply(2, 42, "net_ac_002A"))};
  LanDiscoveryOptions options;
  options.target = kResponderAddress;
  options.ports = {responder.port()};
  options.timeout = 150ms;
  options.resend_interval = 50ms;
  auto discovery = LanDiscovery::create(io, options);
  int calls = 0;
  discovery->start([&](std::vector<DiscoveredAppliance>, const std::string&) { ++calls; });
  run_until(io, [&] { return discovery->counters().replies > 0; }, 1000ms);
  CHECK(discovery->counters().replies > 0);
  discovery->stop();
  run_until(io, [] { return false; }, 300ms);
  CHECK(calls == 0);
}

TEST_CASE("midea lan discovery: no port configured is an error, reported on the io_context", "[midea][lan][discovery]") {
  asio::io_context io;
  LanDiscoveryOptions options;
  options.target = kResponderAddress;
  options.ports = {};
  auto discovery = LanDiscovery::create(io, options);
  std::optional<Outcome> outcome;
  discovery->start([&](std::vector<DiscoveredAppliance> appliances, const std::string& error) {
    outcome = Outcome{std::move(appliances), error};
  });
  CHECK_FALSE(outcome.has_value());  // never inside start()
  run_until(io, [&] { return outcome.has_value(); }, 1000ms);
  REQUIRE(outcome);
  CHECK_FALSE(outcome->error.empty());
  CHECK(outcome->appliances.empty());
}
