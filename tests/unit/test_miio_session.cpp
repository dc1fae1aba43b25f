// The async miIO session against a fake device on 127.0.0.1 (our codec on the device side; the
// python3-miio cross-check and the Python simulator cover the independent side). The loop is driven
// with run_for, every wait bounded.
#include <catch2/catch.hpp>

#include <boost/asio.hpp>

#include "protocols/miio/packet.h"
#include "protocols/miio/rpc.h"
#include "protocols/miio/session.h"

namespace asio = boost::asio;
using asio::ip::udp;
using namespace cloudless;
using namespace cloudless::miio;
using nlohmann::json;

namespace {

const Token kToken = *parse_token("00112233445566778899aabbccddeeff");
const Token kOtherToken = *parse_token("ffeeddccbbaa99887766554433221100");
constexpr std::uint32_t kDid = 0x0badcafe;

// A device that answers hellos and requests; behaviour switches for the fault cases.
class FakeDevice {
 public:
  explicit FakeDevice(asio::io_context& io) : socket_(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    receive();
  }
  std::uint16_t port() const { return socket_.local_endpoint().port(); }

  int drop_requests = 0;          // ignore this many requests (hellos are always answered)
  bool answer_with_other_token = false;
  bool send_garbage_first = false;
  bool answer_with_wrong_id_first = false;
  std::optional<json> error_reply;  // answer {"error":…} instead
  std::vector<json> requests;       // every request decoded, in order
  std::vector<std::uint32_t> stamps;

 private:
  void receive() {
    socket_.async_receive_from(asio::buffer(buffer_), peer_, [this](auto error, std::size_t n) {
      if (error) return;
      handle(ByteView(buffer_.data(), n));
      receive();
    });
  }

  void send(const Bytes& datagram) { socket_.send_to(asio::buffer(datagram), peer_); }

  void handle(ByteView datagram) {
    if (datagram.size() == kHeaderSize) {
      std::array<std::uint8_t, 16> hidden;
      hidden.fill(0xff);
      send(encode_hello_reply(kDid, stamp_, hidden));
      return;
    }
    auto message = decode_message(kToken, datagram);
    if (!message) return;  // real devices stay silent on a bad checksum
    auto request = parse_request(message->payload);
    REQUIRE(request);
    requests.push_back({{"id", request->id}, {"method", request->method}, {"params", request->params}});
    stamps.push_back(message->header.stamp);
    if (drop_requests > 0) {
      --drop_requests;
      return;
    }
    if (send_garbage_first) {
      const Bytes garbage{0x21, 0x31, 0x00, 0x40, 1, 2, 3};
      send(garbage);
    }
    if (answer_with_wrong_id_first) {
      const std::string stale = R"({"id":1,"result":["stale"]})";
      send(encode_message(kToken, kDid, ++stamp_, as_bytes(stale)));
    }
    json reply = {{"id", request->id}};
    if (error_reply) reply["error"] = *error_reply;
    else reply["result"] = json::array({"ok", request->method});
    const std::string text = reply.dump();
    send(encode_message(answer_with_other_token ? kOtherToken : kToken, kDid, ++stamp_, as_bytes(text)));
  }

  udp::socket socket_;
  udp::endpoint peer_;
  std::array<std::uint8_t, 2048> buffer_{};
  std::uint32_t stamp_ = 1000;
};

struct Harness {
  asio::io_context io;
  FakeDevice device{io};
  std::shared_ptr<Session> session;

  explicit Harness(int retries = 2) {
    SessionOptions options;
    options.host = "127.0.0.1";
    options.port = device.port();
    options.token = kToken;
    options.timeout = std::chrono::milliseconds(150);
    options.retries = retries;
    session = Session::create(io, options);
  }

  std::optional<CallResult> call(const std::string& method) {
    std::optional<CallResult> result;
    session->call(method, json::array(), [&](const CallResult& r) { result = r; });
    for (int i = 0; i < 100 && !result; ++i) io.run_for(std::chrono::milliseconds(20));
    return result;
  }
};

}  // namespace

TEST_CASE("handshake, then a request answered and matched by id") {
  Harness h;
  auto result = h.call("get_prop");
  REQUIRE(result);
  REQUIRE(result->ok());
  CHECK(result->result == json::parse(R"(["ok","get_prop"])"));
  CHECK(h.session->device_id() == kDid);
  CHECK_FALSE(h.session->revealed_token());  // the hello hid it (16×ff)
  // The stamp we send is the device's stamp plus at least one second (research §2.2).
  REQUIRE(h.device.stamps.size() == 1);
  CHECK(h.device.stamps[0] >= 1001);
  // A second call needs no new handshake and uses the next id.
  auto second = h.call("get_power");
  REQUIRE(second);
  CHECK(second->ok());
  REQUIRE(h.device.requests.size() == 2);
  CHECK(h.device.requests[1]["id"].get<long>() == h.device.requests[0]["id"].get<long>() + 1);
}

TEST_CASE("a dropped request is retried with id + 100 after a new handshake") {
  Harness h;
  h.device.drop_requests = 1;
  auto result = h.call("get_prop");
  REQUIRE(result);
  REQUIRE(result->ok());
  REQUIRE(h.device.requests.size() == 2);
  const long first = h.device.requests[0]["id"].get<long>();
  const long second = h.device.requests[1]["id"].get<long>();
  CHECK((second == first + 100 || second < first));  // +100, or wrapped below 9999
  CHECK(h.session->counters().timeouts == 1);
}

TEST_CASE("silence after every retry is a timeout") {
  Harness h(1);
  h.device.drop_requests = 100;
  auto result = h.call("get_prop");
  REQUIRE(result);
  CHECK(result->failure == CallFailure::timeout);
  CHECK(h.device.requests.size() == 2);
}

TEST_CASE("replies under another token are reported as a wrong token") {
  Harness h(1);
  h.device.answer_with_other_token = true;
  auto result = h.call("get_prop");
  REQUIRE(result);
  CHECK(result->failure == CallFailure::wrong_token);
  CHECK(h.session->counters().bad_checksum >= 1);
}

TEST_CASE("garbage and stale replies are skipped, the real answer still lands") {
  Harness h;
  h.device.send_garbage_first = true;
  h.device.answer_with_wrong_id_first = true;
  auto result = h.call("get_prop");
  REQUIRE(result);
  REQUIRE(result->ok());
  CHECK(result->result == json::parse(R"(["ok","get_prop"])"));
  CHECK(h.session->counters().malformed >= 1);
  CHECK(h.session->counters().stray >= 1);
}

TEST_CASE("a device error is reported with its code and message") {
  Harness h(0);
  h.device.error_reply = json{{"code", -32601}, {"message", "Method not found."}};
  auto result = h.call("no_such_method");
  REQUIRE(result);
  CHECK(result->failure == CallFailure::device_error);
  REQUIRE(result->error);
  CHECK(result->error->code == -32601);
  CHECK(result->error->message == "Method not found.");
}

TEST_CASE("a -9999 user ack timeout is retried once, then reported") {
  Harness h(1);
  h.device.error_reply = json{{"code", -9999}, {"message", "user ack timeout"}};
  auto result = h.call("get_properties");
  REQUIRE(result);
  CHECK(result->failure == CallFailure::device_error);
  CHECK(h.device.requests.size() == 2);
}

TEST_CASE("calls queue one at a time; stop() cancels and no callback runs after it") {
  Harness h;
  int done = 0;
  h.session->call("a", json::array(), [&](const CallResult& r) { done += r.ok(); });
  h.session->call("b", json::array(), [&](const CallResult& r) { done += r.ok(); });
  for (int i = 0; i < 100 && done < 2; ++i) h.io.run_for(std::chrono::milliseconds(20));
  CHECK(done == 2);
  CHECK(h.device.requests.size() == 2);
  bool called = false;
  h.session->call("c", json::array(), [&](const CallResult&) { called = true; });
  h.session->stop();
  h.session->stop();  // idempotent
  h.io.run_for(std::chrono::milliseconds(300));
  CHECK_FALSE(called);
}
