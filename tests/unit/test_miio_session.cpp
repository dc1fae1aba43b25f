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
  int junk_before_answer = 0;       // this many short junk datagrams, all sent just before the answer
  std::size_t answer_padding = 0;   // a string of this many bytes added to the answer's result
  bool answer_with_wrong_id_first = false;
  // Before the real answer, what a hostile host on the LAN could send from the plug's address (or
  // the plug itself, late): each carries a stamp far from the real one.
  bool unsolicited_hello_first = false;     // a hello reply nobody asked for, with another did
  bool reply_without_id_first = false;      // an authenticated reply that names no id
  bool reply_from_other_did_first = false;  // the right id, but another did in the header
  bool stale_reply_with_wild_stamp_first = false;  // an earlier id, authenticated
  bool stale_reply_with_wild_stamp_after = false;  // the same, just after the real answer (a replay)
  std::optional<json> error_reply;  // answer {"error":…} instead
  int error_replies = -1;           // answer error_reply this many times, then normally (-1: always)
  std::vector<json> requests;       // every request decoded, in order
  std::vector<std::uint32_t> stamps;
  std::vector<std::uint32_t> dids;  // the did in each request's header
  std::vector<std::chrono::steady_clock::time_point> arrivals;
  static constexpr std::uint32_t kWildStamp = 0x70000000;
  static constexpr std::uint32_t kOtherDid = 0x0666;

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
    dids.push_back(message->header.device_id);
    arrivals.push_back(std::chrono::steady_clock::now());
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
    if (unsolicited_hello_first) {
      std::array<std::uint8_t, 16> zeros{};
      send(encode_hello_reply(kOtherDid, kWildStamp, zeros));
    }
    if (reply_without_id_first) {
      const std::string forged = R"({"result":["forged"]})";
      send(encode_message(kToken, kDid, kWildStamp, as_bytes(forged)));
    }
    if (reply_from_other_did_first) {
      const std::string forged = json{{"id", request->id}, {"result", json::array({"forged"})}}.dump();
      send(encode_message(kToken, kOtherDid, kWildStamp, as_bytes(forged)));
    }
    if (stale_reply_with_wild_stamp_first) {
      const std::string stale = json{{"id", request->id - 1}, {"result", json::array({"stale"})}}.dump();
      send(encode_message(kToken, kDid, kWildStamp, as_bytes(stale)));
    }
    for (int i = 0; i < junk_before_answer; ++i) {
      const Bytes junk{0x21, 0x31, 0x00, 0x09, static_cast<std::uint8_t>(i), 2, 3, 4, 5};
      send(junk);
    }
    json reply = {{"id", request->id}};
    const bool answer_error = error_reply && error_replies != 0;
    if (answer_error && error_replies > 0) --error_replies;
    if (answer_error) reply["error"] = *error_reply;
    else reply["result"] = json::array({"ok", request->method});
    if (answer_padding > 0 && reply.contains("result")) reply["result"].push_back(std::string(answer_padding, 'x'));
    const std::string text = reply.dump();
    send(encode_message(answer_with_other_token ? kOtherToken : kToken, kDid, ++stamp_, as_bytes(text)));
    if (stale_reply_with_wild_stamp_after) {
      const std::string stale = json{{"id", request->id - 1}, {"result", json::array({"stale"})}}.dump();
      send(encode_message(kToken, kDid, kWildStamp, as_bytes(stale)));
    }
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

  explicit Harness(int retries = 2, const std::function<void(SessionOptions&)>& adjust = {}) {
    SessionOptions options;
    options.host = "127.0.0.1";
    options.port = device.port();
    options.token = kToken;
    options.timeout = std::chrono::milliseconds(150);
    options.retries = retries;
    if (adjust) adjust(options);
    session = Session::create(io, options);
  }

  std::optional<CallResult> call(const std::string& method,
                                 std::optional<Session::Clock::time_point> expires_at = std::nullopt) {
    std::optional<CallResult> result;
    session->call(method, json::array(), [&](const CallResult& r) { result = r; }, expires_at);
    for (int i = 0; i < 100 && !result; ++i) io.run_for(std::chrono::milliseconds(20));
    return result;
  }

  std::optional<CallResult> call_with_reader(const std::string& method, std::shared_ptr<ResultReader> reader) {
    std::optional<CallResult> result;
    session->call(method, encode_params(json::array()), std::move(reader), [&](const CallResult& r) { result = r; });
    for (int i = 0; i < 100 && !result; ++i) io.run_for(std::chrono::milliseconds(20));
    return result;
  }
};

// Reads a result that is a list of strings (what FakeDevice answers); `refuse` makes it refuse all.
class StringListReader final : public ResultReader {
 public:
  explicit StringListReader(bool refuse = false) : refuse_(refuse) {}
  std::vector<std::string> items;
  int resets = 0;

  void reset() override {
    items.clear();
    ++resets;
  }
  bool null() override { return false; }
  bool boolean(bool) override { return false; }
  bool number_integer(number_integer_t) override { return false; }
  bool number_unsigned(number_unsigned_t) override { return false; }
  bool number_float(number_float_t, const string_t&) override { return false; }
  bool string(string_t& value) override {
    items.push_back(value);
    return true;
  }
  bool start_object(std::size_t) override { return false; }
  bool key(string_t&) override { return false; }
  bool end_object() override { return false; }
  bool start_array(std::size_t) override { return !refuse_; }
  bool end_array() override { return true; }

 private:
  bool refuse_;
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
  // The stamp we send is the device's stamp plus at least one second (docs/miio.md §2.2).
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

TEST_CASE("every datagram waiting is read at once, not only when the next one arrives") {
  // 40 junk datagrams queue up before the answer: the session reads one per wake-up and must be woken
  // again for each of those still queued, without a retry to stir the socket.
  Harness h;
  h.device.junk_before_answer = 40;
  auto result = h.call("get_prop");
  REQUIRE(result);
  REQUIRE(result->ok());
  CHECK(h.session->counters().malformed == 40);
  CHECK(h.session->counters().replies == 1);
  CHECK(h.session->counters().timeouts == 0);  // answered at once, not after a retry woke the socket
  CHECK(h.device.requests.size() == 1);
  // The next call is answered too: nothing was left behind in the socket.
  h.device.junk_before_answer = 0;
  auto second = h.call("get_power");
  REQUIRE(second);
  CHECK(second->ok());
}

TEST_CASE("an answer larger than 4 KiB is read whole") {
  Harness h;
  h.device.answer_padding = 20000;
  auto result = h.call("get_prop");
  REQUIRE(result);
  REQUIRE(result->ok());
  REQUIRE(result->result.size() == 3);
  CHECK(result->result[2].get<std::string>().size() == 20000);
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

// ---- what the session believes, and from whom

TEST_CASE("a hello reply nobody asked for changes neither the did nor the stamp") {
  Harness h;
  REQUIRE(h.call("first"));
  h.device.unsolicited_hello_first = true;  // arrives just before the answer to "second"
  auto second = h.call("second");
  REQUIRE(second);
  REQUIRE(second->ok());
  h.device.unsolicited_hello_first = false;
  auto third = h.call("third");
  REQUIRE(third);
  REQUIRE(third->ok());
  CHECK(h.session->device_id() == kDid);
  REQUIRE(h.device.dids.size() == 3);
  CHECK(h.device.dids[2] == kDid);
  CHECK(h.device.stamps[2] < FakeDevice::kWildStamp);
  CHECK(h.session->counters().stray >= 1);
}

TEST_CASE("replies without an id, under another did or to an earlier id are not the answer") {
  Harness h;
  SECTION("no id") { h.device.reply_without_id_first = true; }
  SECTION("another did") { h.device.reply_from_other_did_first = true; }
  SECTION("an earlier id") { h.device.stale_reply_with_wild_stamp_first = true; }
  SECTION("an earlier id, replayed after the answer") { h.device.stale_reply_with_wild_stamp_after = true; }
  auto result = h.call("get_prop");
  REQUIRE(result);
  REQUIRE(result->ok());
  CHECK(result->result == json::parse(R"(["ok","get_prop"])"));
  h.io.run_for(std::chrono::milliseconds(50));  // a datagram after the answer lands too
  CHECK(h.session->counters().stray >= 1);
  // Their stamp was not taken either: the next request is signed from the real one.
  auto next = h.call("get_power");
  REQUIRE(next);
  REQUIRE(next->ok());
  REQUIRE(h.device.stamps.size() == 2);
  CHECK(h.device.stamps[1] < FakeDevice::kWildStamp);
  CHECK(h.device.dids[1] == kDid);
}

TEST_CASE("a call with a reader gets its result read, only from the answer to it") {
  Harness h;
  SECTION("a plain answer") {}
  SECTION("after a reply without an id") { h.device.reply_without_id_first = true; }
  SECTION("after a reply under another did") { h.device.reply_from_other_did_first = true; }
  SECTION("after a reply to an earlier id") { h.device.stale_reply_with_wild_stamp_first = true; }
  auto reader = std::make_shared<StringListReader>();
  auto result = h.call_with_reader("get_prop", reader);
  REQUIRE(result);
  REQUIRE(result->ok());
  CHECK(result->read);
  CHECK(result->result.is_null());
  CHECK(reader->items == std::vector<std::string>{"ok", "get_prop"});
  CHECK(h.session->counters().replies == 1);
  // The stamp of the answer read this way is taken: the next request is signed from it.
  auto next = h.call("get_power");
  REQUIRE(next);
  REQUIRE(h.device.stamps.size() == 2);
  CHECK(h.device.stamps[1] < FakeDevice::kWildStamp);
}

TEST_CASE("a reply a reader refuses, or an error reply, goes the general way") {
  Harness h(0);
  SECTION("refused") {
    auto reader = std::make_shared<StringListReader>(/*refuse=*/true);
    auto result = h.call_with_reader("get_prop", reader);
    REQUIRE(result);
    REQUIRE(result->ok());
    CHECK_FALSE(result->read);
    CHECK(result->result == json::parse(R"(["ok","get_prop"])"));
    CHECK(reader->resets == 1);
  }
  SECTION("an error") {
    h.device.error_reply = json{{"code", -32601}, {"message", "Method not found."}};
    auto reader = std::make_shared<StringListReader>();
    auto result = h.call_with_reader("no_such_method", reader);
    REQUIRE(result);
    CHECK(result->failure == CallFailure::device_error);
    CHECK_FALSE(result->read);
    REQUIRE(result->error);
    CHECK(result->error->code == -32601);
  }
}

// ---- message ids across restarts

TEST_CASE("the session resumes after last_id and reports each id before it is sent") {
  std::vector<std::int64_t> reported;
  Harness h(2, [&](SessionOptions& options) {
    options.last_id = 4321;
    options.on_id = [&](std::int64_t id) { reported.push_back(id); };
  });
  h.device.drop_requests = 1;  // the retry jumps by 100
  auto result = h.call("get_prop");
  REQUIRE(result);
  REQUIRE(result->ok());
  REQUIRE(h.device.requests.size() == 2);
  CHECK(h.device.requests[0]["id"] == 4322);
  CHECK(h.device.requests[1]["id"] == 4422);
  CHECK(reported == std::vector<std::int64_t>{4322, 4422});
}

TEST_CASE("ids wrap from 9998 to 1, and a nonsense last_id is not used") {
  SECTION("wrap") {
    Harness h(2, [](SessionOptions& options) { options.last_id = 9997; });
    REQUIRE(h.call("a"));
    REQUIRE(h.call("b"));
    REQUIRE(h.call("c"));
    REQUIRE(h.device.requests.size() == 3);
    CHECK(h.device.requests[0]["id"] == 9998);
    CHECK(h.device.requests[1]["id"] == 1);  // 9999 is never sent
    CHECK(h.device.requests[2]["id"] == 2);
  }
  SECTION("out of range") {
    Harness h(2, [](SessionOptions& options) { options.last_id = 12345; });
    REQUIRE(h.call("a"));
    REQUIRE(h.device.requests.size() == 1);
    const auto id = h.device.requests[0]["id"].get<std::int64_t>();
    CHECK(id >= 1);
    CHECK(id <= kMaxMessageId);
  }
}

// ---- busy devices, old calls, full queues

TEST_CASE("a -30012 busy reply is asked again after a pause, and the call succeeds") {
  Harness h(2, [](SessionOptions& options) { options.timeout = std::chrono::milliseconds(1000); });
  h.device.error_reply = json{{"code", -30012}, {"message", "busy."}};
  h.device.error_replies = 1;
  auto result = h.call("set_power");
  REQUIRE(result);
  REQUIRE(result->ok());
  REQUIRE(h.device.requests.size() == 2);
  // A pause, not an immediate resend (timers never fire early; 250 ms is the first pause).
  CHECK(h.device.arrivals[1] - h.device.arrivals[0] >= std::chrono::milliseconds(200));
  // It answered: no jump of 100 in the id.
  CHECK(h.device.requests[1]["id"].get<long>() == h.device.requests[0]["id"].get<long>() % kMaxMessageId + 1);
  CHECK(result->attempts == 2);
}

TEST_CASE("an always busy device ends in a device error after the retries") {
  Harness h(1);
  h.device.error_reply = json{{"code", -30012}, {"message", "busy."}};
  auto result = h.call("set_power");
  REQUIRE(result);
  CHECK(result->failure == CallFailure::device_error);
  REQUIRE(result->error);
  CHECK(result->error->code == -30012);
  CHECK(h.device.requests.size() == 2);
}

TEST_CASE("a call is not sent again once it has expired") {
  Harness h(10);
  h.device.drop_requests = 100;
  const auto expires = Session::Clock::now() + std::chrono::milliseconds(400);
  auto result = h.call("set_power", expires);
  REQUIRE(result);
  CHECK(result->failure == CallFailure::expired);
  CHECK(Session::Clock::now() >= expires);
  // 150 ms per attempt: at most 3 attempts fit in 400 ms, far from the 11 the retries allow.
  CHECK(h.device.requests.size() <= 3);
  CHECK(result->attempts >= 1);
}

TEST_CASE("a call that expires while it waits in the queue is never sent") {
  Harness h(0);
  h.device.drop_requests = 1;  // the first call waits its full 150 ms timeout
  std::optional<CallResult> first, second;
  h.session->call("slow", json::array(), [&](const CallResult& r) { first = r; });
  h.session->call("set_power", json::array(), [&](const CallResult& r) { second = r; },
                  Session::Clock::now() + std::chrono::milliseconds(50));
  for (int i = 0; i < 100 && !second; ++i) h.io.run_for(std::chrono::milliseconds(20));
  REQUIRE(first);
  CHECK(first->failure == CallFailure::timeout);
  REQUIRE(second);
  CHECK(second->failure == CallFailure::expired);
  CHECK(second->attempts == 0);
  REQUIRE(h.device.requests.size() == 1);
  CHECK(h.device.requests[0]["method"] == "slow");
}

TEST_CASE("calls beyond max_queued are refused at once, the others go through") {
  Harness h(2, [](SessionOptions& options) { options.max_queued = 2; });
  std::vector<CallFailure> outcomes(4, CallFailure::stopped);
  int done = 0;
  for (int i = 0; i < 4; ++i)
    h.session->call("m" + std::to_string(i), json::array(), [&, i](const CallResult& r) {
      outcomes[i] = r.failure;
      ++done;
    });
  for (int i = 0; i < 100 && done < 4; ++i) h.io.run_for(std::chrono::milliseconds(20));
  REQUIRE(done == 4);
  CHECK(outcomes[0] == CallFailure::none);  // in flight
  CHECK(outcomes[1] == CallFailure::none);  // queued
  CHECK(outcomes[2] == CallFailure::none);  // queued
  CHECK(outcomes[3] == CallFailure::overloaded);
  CHECK(h.device.requests.size() == 3);
}
