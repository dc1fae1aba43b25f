// The UDP socket miIO sessions share: datagrams sorted by sender, a drain per wake-up, a peer owned by
// one receiver, and nothing kept alive once the last receiver is gone. Peers are plain UDP sockets on
// 127.0.0.1; the loop is driven with run_for, every wait bounded.
#include <catch2/catch.hpp>

#include <boost/asio.hpp>

#include "protocols/miio/session.h"
#include "protocols/miio/shared_socket.h"

namespace asio = boost::asio;
using asio::ip::udp;
using namespace cloudless;
using namespace cloudless::miio;

namespace {

// A device stand-in: echoes every datagram back with a prefix, `echoes` times, and notes who sent it.
class EchoPeer {
 public:
  EchoPeer(asio::io_context& io, std::string prefix, int echoes = 1)
      : socket_(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        prefix_(std::move(prefix)),
        echoes_(echoes) {
    receive();
  }
  udp::endpoint endpoint() const { return socket_.local_endpoint(); }
  void send_to(const std::string& text, const udp::endpoint& to) { socket_.send_to(asio::buffer(text), to); }

  std::vector<udp::endpoint> senders;  // the source of every datagram received

 private:
  void receive() {
    socket_.async_receive_from(asio::buffer(buffer_), from_, [this](auto error, std::size_t n) {
      if (error) return;
      senders.push_back(from_);
      const std::string text = prefix_ + std::string(buffer_.data(), n);
      for (int i = 0; i < echoes_; ++i) socket_.send_to(asio::buffer(text), from_);
      receive();
    });
  }

  udp::socket socket_;
  std::string prefix_;
  int echoes_;
  udp::endpoint from_;
  std::array<char, 2048> buffer_{};
};

class Collector final : public DatagramReceiver {
 public:
  std::vector<std::string> texts;
  std::function<void()> on_each;
  void on_datagram(ByteView datagram) override {
    texts.emplace_back(reinterpret_cast<const char*>(datagram.data()), datagram.size());
    if (on_each) on_each();
  }
};

ByteView bytes_of(const std::string& text) { return as_bytes(text); }

void run_until(asio::io_context& io, const std::function<bool()>& done) {
  for (int i = 0; i < 100 && !done(); ++i) io.run_for(std::chrono::milliseconds(10));
}

}  // namespace

TEST_CASE("each receiver gets only its own peer's datagrams, all through one source port") {
  asio::io_context io;
  EchoPeer a(io, "a:"), b(io, "b:");
  auto socket = SharedSocket::create(io);
  auto to_a = std::make_shared<Collector>(), to_b = std::make_shared<Collector>();
  boost::system::error_code error;
  REQUIRE(socket->attach(a.endpoint(), to_a, error));
  REQUIRE(socket->attach(b.endpoint(), to_b, error));
  socket->send_to(bytes_of("1"), a.endpoint());
  socket->send_to(bytes_of("2"), b.endpoint());
  socket->send_to(bytes_of("3"), a.endpoint());
  run_until(io, [&] { return to_a->texts.size() == 2 && to_b->texts.size() == 1; });
  CHECK(to_a->texts == std::vector<std::string>{"a:1", "a:3"});
  CHECK(to_b->texts == std::vector<std::string>{"b:2"});
  REQUIRE(a.senders.size() == 2);
  REQUIRE(b.senders.size() == 1);
  CHECK(a.senders[0].port() == b.senders[0].port());
  CHECK(socket->unknown_senders() == 0);
}

TEST_CASE("a datagram from an address and port nobody attached is counted and dropped") {
  asio::io_context io;
  EchoPeer device(io, "d:"), stranger(io, "s:");
  auto socket = SharedSocket::create(io);
  auto receiver = std::make_shared<Collector>();
  boost::system::error_code error;
  REQUIRE(socket->attach(device.endpoint(), receiver, error));
  socket->send_to(bytes_of("hello"), device.endpoint());
  run_until(io, [&] { return receiver->texts.size() == 1; });
  REQUIRE(device.senders.size() == 1);
  stranger.send_to("forged", device.senders[0]);  // to our port, from elsewhere
  run_until(io, [&] { return socket->unknown_senders() == 1; });
  CHECK(socket->unknown_senders() == 1);
  CHECK(receiver->texts == std::vector<std::string>{"d:hello"});
}

TEST_CASE("a peer belongs to one receiver; only its own receiver detaches it") {
  asio::io_context io;
  EchoPeer device(io, "d:");
  auto socket = SharedSocket::create(io);
  auto first = std::make_shared<Collector>(), second = std::make_shared<Collector>();
  boost::system::error_code error;
  REQUIRE(socket->attach(device.endpoint(), first, error));
  CHECK_FALSE(socket->attach(device.endpoint(), second, error));
  CHECK_FALSE(error);  // taken, not broken
  socket->detach(device.endpoint(), second.get());  // not its peer: nothing happens
  CHECK(socket->receivers() == 1);
  socket->send_to(bytes_of("x"), device.endpoint());
  run_until(io, [&] { return first->texts.size() == 1; });
  CHECK(first->texts == std::vector<std::string>{"d:x"});
  socket->detach(device.endpoint(), first.get());
  CHECK(socket->receivers() == 0);
  REQUIRE(socket->attach(device.endpoint(), second, error));
  socket->send_to(bytes_of("y"), device.endpoint());
  run_until(io, [&] { return second->texts.size() == 1; });
  CHECK(second->texts == std::vector<std::string>{"d:y"});
  CHECK(first->texts.size() == 1);
}

TEST_CASE("a burst is read in fewer wake-ups than datagrams while answers are expected, and all of it") {
  asio::io_context io;
  // 150 answers to one datagram: more than one drain may take (kMaxPerDrain), fewer than the socket holds.
  EchoPeer device(io, "d:", 150);
  auto socket = SharedSocket::create(io);
  auto receiver = std::make_shared<Collector>();
  boost::system::error_code error;
  REQUIRE(socket->attach(device.endpoint(), receiver, error));
  socket->expect_reply(device.endpoint(), receiver.get(), true);
  socket->send_to(bytes_of("go"), device.endpoint());
  run_until(io, [&] { return receiver->texts.size() == 150; });
  CHECK(receiver->texts.size() == 150);
  CHECK(socket->drains() < 150);
  CHECK(socket->drains() >= 3);  // 150 datagrams, at most 64 a drain
}

TEST_CASE("a receiver may detach itself while it handles a datagram") {
  asio::io_context io;
  EchoPeer device(io, "d:", 3);
  auto socket = SharedSocket::create(io);
  auto receiver = std::make_shared<Collector>();
  receiver->on_each = [&] { socket->detach(device.endpoint(), receiver.get()); };
  boost::system::error_code error;
  REQUIRE(socket->attach(device.endpoint(), receiver, error));
  socket->send_to(bytes_of("go"), device.endpoint());
  run_until(io, [&] { return !receiver->texts.empty(); });
  io.run_for(std::chrono::milliseconds(50));
  CHECK(receiver->texts == std::vector<std::string>{"d:go"});
  CHECK(socket->receivers() == 0);
}

TEST_CASE("nothing keeps the socket alive once its last receiver leaves") {
  asio::io_context io;
  EchoPeer device(io, "d:");
  auto receiver = std::make_shared<Collector>();
  std::weak_ptr<SharedSocket> watched;
  {
    auto socket = SharedSocket::of(io);
    watched = socket;
    CHECK(SharedSocket::of(io) == socket);  // one per io_context
    boost::system::error_code error;
    REQUIRE(socket->attach(device.endpoint(), receiver, error));
    socket->send_to(bytes_of("x"), device.endpoint());
    run_until(io, [&] { return receiver->texts.size() == 1; });
    socket->detach(device.endpoint(), receiver.get());
  }
  io.run_for(std::chrono::milliseconds(20));  // the cancelled wait lets go of it
  CHECK(watched.expired());
}

TEST_CASE("sessions on one io_context share a socket; a second session for the same device gets its own") {
  asio::io_context io;
  EchoPeer a(io, "a:"), b(io, "b:");
  auto make = [&](const udp::endpoint& device) {
    SessionOptions options;
    options.host = "127.0.0.1";
    options.port = device.port();
    options.timeout = std::chrono::milliseconds(50);
    options.retries = 0;
    return Session::create(io, options);
  };
  auto to_a = make(a.endpoint()), to_b = make(b.endpoint()), also_to_a = make(a.endpoint());
  int finished = 0;
  for (const auto& session : {to_a, to_b, also_to_a})
    session->call("miIO.info", nlohmann::json::array(), [&](const CallResult&) { ++finished; });
  run_until(io, [&] { return finished == 3; });
  REQUIRE(finished == 3);  // the echo is no hello reply: each call ends without an answer
  REQUIRE(a.senders.size() >= 2);
  REQUIRE(b.senders.size() >= 1);
  CHECK(a.senders[0].port() != 0);
  // to_a and to_b sent their hellos from the same port; also_to_a from another one.
  const auto shared_port = b.senders[0].port();
  int from_shared = 0, from_other = 0;
  for (const auto& sender : a.senders) (sender.port() == shared_port ? from_shared : from_other)++;
  CHECK(from_shared >= 1);
  CHECK(from_other >= 1);
}
