// The miIO plug device kind against a fake plug on 127.0.0.1 (our codec on the device side; the
// Python simulator is the independent one, in the integration tests): commands, availability by
// time, message ids kept across restarts. The loop is driven with run_for, every wait bounded.
#include <catch2/catch.hpp>

#include <fstream>
#include <functional>

#include <boost/asio.hpp>

#include "daemon/devices/miio_plug.h"
#include "device_test_support.h"
#include "protocols/miio/packet.h"
#include "protocols/miio/rpc.h"

namespace asio = boost::asio;
using asio::ip::udp;
using namespace cloudless;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const char* kTokenHex = "00112233445566778899aabbccddeeff";
const miio::Token kToken = *miio::parse_token(kTokenHex);
constexpr std::uint32_t kDid = 0x0badcafe;

// A chuangmi.plug.v3 as far as the plug kind asks: get_prop, get_power, set_power.
class FakePlug {
 public:
  explicit FakePlug(asio::io_context& io) : socket_(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    receive();
  }
  std::uint16_t port() const { return socket_.local_endpoint().port(); }

  bool power = true;
  bool silent = false;
  std::function<void(const json& request)> on_request;  // before the answer goes out
  std::vector<json> requests;

  std::vector<json> calls(const std::string& method) const {
    std::vector<json> out;
    for (const json& r : requests)
      if (r["method"] == method) out.push_back(r);
    return out;
  }

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
    if (silent) return;
    if (datagram.size() == miio::kHeaderSize) {
      std::array<std::uint8_t, 16> hidden{};
      send(miio::encode_hello_reply(kDid, ++stamp_, hidden));
      return;
    }
    auto message = miio::decode_message(kToken, datagram);
    if (!message) return;
    auto request = miio::parse_request(message->payload);
    if (!request) return;
    const json seen = {{"id", request->id}, {"method", request->method}, {"params", request->params}};
    requests.push_back(seen);
    if (on_request) on_request(seen);
    json result;
    if (request->method == "get_prop") {
      result = json::array({power, true, 30, "on"});  // on, usb_on, temperature, wifi_led
    } else if (request->method == "get_power") {
      result = json::array({1500});  // 15 W
    } else if (request->method == "set_power") {
      power = request->params == json::array({"on"});
      result = json::array({"ok"});
    } else {
      result = json::array();
    }
    const std::string text = json{{"id", request->id}, {"result", result}}.dump();
    send(miio::encode_message(kToken, kDid, ++stamp_, as_bytes(text)));
  }

  udp::socket socket_;
  udp::endpoint peer_;
  std::array<std::uint8_t, 2048> buffer_{};
  std::uint32_t stamp_ = 1000;
};

struct Harness {
  asio::io_context io;
  FakePlug fake{io};
  test::RecordingListener listener;
  test::TempDir state_dir{"cloudless-miio-plug"};
  config::MiioDeviceConfig config;
  std::unique_ptr<MiioPlug> plug;

  Harness() {
    config.host = "127.0.0.1";
    config.port = fake.port();
    config.token_hex = kTokenHex;
    config.model = "chuangmi.plug.v3";
    config.poll_interval = 1s;
    config.timeout = 200ms;
    config.retries = 1;
  }
  void start() {
    plug = std::make_unique<MiioPlug>("desk_plug", config, DeviceContext{io, listener, state_dir.path()});
    plug->start();
  }
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 5000ms) {
    for (auto waited = 0ms; waited < limit && !done(); waited += 20ms) io.run_for(20ms);
    return done();
  }
  void run_for(std::chrono::milliseconds duration) { io.run_for(duration); }
  std::string state_file() const { return state_dir.path() + "/miio_desk_plug.json"; }
  json saved() const {
    std::ifstream in(state_file());
    return json::parse(in, nullptr, false);
  }
  std::vector<std::string> switch_states() const {
    std::vector<std::string> out;
    for (const json& state : listener.states)
      if (state.contains("state")) out.push_back(state["state"].get<std::string>());
    return out;
  }
};

// When the silence that starts at t = 0 turns a plug polled with `budget` offline: polls start one
// poll interval after the last one ended and fail after every attempt timed out.
std::chrono::milliseconds offline_after_silence(std::chrono::milliseconds poll_interval, MiioCallBudget budget) {
  using Clock = TimedAvailability::Clock;
  const Clock::time_point t0{};
  TimedAvailability availability(poll_interval * 3);
  availability.on_answer(t0);  // the last answer, at the end of the poll before the silence
  Clock::time_point now = t0;
  for (int poll = 0; poll < 100; ++poll) {
    now += poll_interval + budget.timeout * (budget.retries + 1);
    if (auto changed = availability.on_silence(now, budget.retries + 1); changed && !*changed)
      return std::chrono::duration_cast<std::chrono::milliseconds>(now - t0);
  }
  return std::chrono::hours(1);
}

}  // namespace

// ---- timeouts that follow the poll interval, availability by time

TEST_CASE("the call budget follows the poll interval unless configured") {
  config::MiioDeviceConfig config;
  config.poll_interval = 1s;
  CHECK(miio_call_budget(config).timeout == 1s);
  CHECK(miio_call_budget(config).retries == 1);
  config.poll_interval = 3s;
  CHECK(miio_call_budget(config).timeout == 1500ms);
  CHECK(miio_call_budget(config).retries == 1);
  config.poll_interval = 10s;
  CHECK(miio_call_budget(config).timeout == 2s);
  CHECK(miio_call_budget(config).retries == 2);
  config.poll_interval = 1s;
  config.timeout = 5s;
  config.retries = 0;
  CHECK(miio_call_budget(config).timeout == 5s);
  CHECK(miio_call_budget(config).retries == 0);
}

TEST_CASE("a silent plug is offline after about three poll intervals: <= 10 s at 1 s, <= 35 s at 10 s") {
  for (const auto interval : {1000ms, 2000ms, 5000ms, 10000ms, 60000ms}) {
    CAPTURE(interval.count());
    config::MiioDeviceConfig config;
    config.poll_interval = interval;
    const auto offline = offline_after_silence(interval, miio_call_budget(config));
    CAPTURE(offline.count());
    CHECK(offline >= interval * 3);
    CHECK(offline <= interval * 5);
    if (interval == 1000ms) CHECK(offline <= 10s);
    if (interval == 10000ms) CHECK(offline <= 35s);
  }
}

TEST_CASE("availability: one unanswered attempt is never enough, however long the silence") {
  using Clock = TimedAvailability::Clock;
  const Clock::time_point t0{};
  TimedAvailability availability(3s);
  CHECK(availability.on_answer(t0) == std::optional<bool>(true));
  CHECK_FALSE(availability.on_silence(t0 + 10s, 1));  // one lost datagram
  CHECK(availability.online());
  CHECK(availability.on_silence(t0 + 11s, 1) == std::optional<bool>(false));  // a second one: offline
  CHECK(availability.on_answer(t0 + 12s) == std::optional<bool>(true));
  // Two unanswered attempts, but only 2 s of silence: still online.
  CHECK_FALSE(availability.on_silence(t0 + 14s, 2));
  CHECK(availability.silent_for(t0 + 14s) == 2s);
  // A plug that never answered is offline at its first failure.
  TimedAvailability fresh(3s);
  CHECK(fresh.on_silence(t0, 1) == std::optional<bool>(false));
}

// ---- commands

TEST_CASE("a burst of commands becomes the newest one per attribute, not a burst of calls") {
  Harness h;
  h.start();
  REQUIRE(h.run_until([&] { return !h.listener.states.empty(); }));
  for (int i = 0; i < 1000; ++i) CHECK_FALSE(h.plug->command({{"state", i % 2 ? "ON" : "OFF"}}));
  CHECK_FALSE(h.plug->command({{"state", "OFF"}}));
  REQUIRE(h.run_until([&] { return !h.fake.power && !h.fake.calls("set_power").empty(); }));
  h.run_for(1500ms);
  CHECK(h.fake.calls("set_power").size() <= 2);
  CHECK_FALSE(h.fake.power);
  CHECK(h.switch_states().back() == "OFF");
}

TEST_CASE("a reading begun before a command is not published after it") {
  Harness h;
  h.start();
  REQUIRE(h.run_until([&] { return !h.listener.states.empty(); }));
  // The /set lands while get_prop is being answered: the reading taken before it (ON) is finished
  // with get_power only after the command has switched the plug OFF.
  bool sent = false;
  h.fake.on_request = [&](const json& request) {
    if (request["method"] == "get_prop" && !sent) {
      sent = true;
      CHECK_FALSE(h.plug->command({{"state", "OFF"}}));
    }
  };
  const std::size_t before = h.listener.states.size();
  REQUIRE(h.run_until([&] { return sent && !h.fake.power; }));
  h.run_for(2500ms);  // further polls read OFF
  std::vector<std::string> after;
  for (std::size_t i = before; i < h.listener.states.size(); ++i)
    if (h.listener.states[i].contains("state")) after.push_back(h.listener.states[i]["state"]);
  REQUIRE_FALSE(after.empty());
  const auto first_off = std::find(after.begin(), after.end(), "OFF");
  REQUIRE(first_off != after.end());
  CHECK(std::find(first_off, after.end(), "ON") == after.end());
}

TEST_CASE("a command without an answer puts the real state back without freshening last_seen") {
  Harness h;
  h.config.poll_interval = 60s;  // no poll gets in the way
  h.start();
  REQUIRE(h.run_until([&] { return !h.listener.states.empty(); }));
  const auto seen = h.plug->last_seen();
  REQUIRE(seen);
  h.fake.silent = true;
  const std::size_t before = h.listener.states.size();
  CHECK_FALSE(h.plug->command({{"state", "OFF"}}));
  REQUIRE(h.run_until([&] { return h.listener.states.size() > before; }, 3000ms));
  CHECK(h.listener.states.back()["state"] == "ON");  // the real, unchanged state
  CHECK(h.plug->last_seen() == seen);
  // Two unanswered attempts, but far less than three poll intervals of silence: still online.
  CHECK(h.plug->online());
}

TEST_CASE("a command older than its lifetime is dropped with a warning, never sent later") {
  test::LogCapture log;
  Harness h;
  h.config.poll_interval = 60s;  // no poll gets in the way
  h.config.timeout = 3000ms;     // a slow plug: the first command takes 6 s to fail
  h.config.retries = 1;
  h.start();
  REQUIRE(h.run_until([&] { return !h.listener.states.empty(); }));
  h.fake.silent = true;
  h.fake.requests.clear();
  CHECK_FALSE(h.plug->command({{"state", "OFF"}}));
  h.run_for(100ms);
  CHECK_FALSE(h.plug->command({{"usb", "OFF"}}));  // waits behind it, for longer than 5 s
  REQUIRE(h.run_until([&] { return log.warnings({"desk_plug: set usb OFF dropped"}) == 1; }, 8000ms));
  h.fake.silent = false;
  h.run_for(1000ms);
  CHECK(h.fake.calls("set_usb_off").empty());
  CHECK(h.fake.requests.empty());  // nothing at all reached the plug once it answered again
}

// ---- message ids across restarts

TEST_CASE("message ids resume above the reservation on disk, which stays ahead of every id sent") {
  Harness h;
  {
    std::ofstream out(h.state_file());
    out << R"({"did":195939070,"model":"chuangmi.plug.v3","message_id":7000})";
  }
  h.start();
  REQUIRE(h.run_until([&] { return !h.fake.requests.empty(); }));
  CHECK(h.fake.requests.front()["id"] == 7001);
  // Before the request left, the reservation moved ahead of it.
  CHECK(h.saved()["message_id"] == 8001);
  REQUIRE(h.run_until([&] { return h.fake.requests.size() >= 6; }));
  CHECK(h.saved()["message_id"] == 8001);  // ~500 ids before the next write
  h.plug->stop();
  const auto last_sent = h.fake.requests.back()["id"].get<std::int64_t>();

  // The next run starts above everything the first one may have sent, even after a crash.
  Harness again;
  {
    std::ofstream out(again.state_file());
    out << h.saved().dump();
  }
  again.start();
  REQUIRE(again.run_until([&] { return !again.fake.requests.empty(); }));
  const auto first = again.fake.requests.front()["id"].get<std::int64_t>();
  CHECK(first > last_sent + MiioPlug::kIdReserveRefill);
  CHECK(first == 8002);
}

TEST_CASE("the message-id reservation wraps with the ids") {
  Harness h;
  {
    std::ofstream out(h.state_file());
    out << R"({"message_id":9990})";
  }
  h.start();
  REQUIRE(h.run_until([&] { return !h.fake.requests.empty(); }));
  CHECK(h.fake.requests.front()["id"] == 9991);
  CHECK(h.saved()["message_id"] == 993);  // 9991 + 1000, around 9998 → 1
}
