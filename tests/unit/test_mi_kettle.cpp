// The Mi kettle device kind (daemon/devices/mi_kettle) and the connection it drives
// (protocols/xiaomi_ble/auth/kettle_connection) against a scripted kettle behind a fake
// GattLink on an io_context, without D-Bus: the fake answers the legacy Mi register as a genuine
// kettle would (its replies computed with the codec of mi_auth_legacy.h from the device's side:
// docs/ble.md §4.2), notifies status bytes (docs/ble.md §4.3: `00ff00005020000000010200`), answers
// aa04/aa05 reads and records every write. Covers token handling (new → stored only once confirmed;
// stored → reused; configured → used, nothing stored; refused → logged, nothing stored), status →
// state JSON, each command → the exact bytes written, invalid commands → error and no write, drops
// and reconnects with backoff (and an advert cutting the wait short), malformed statuses never
// published, stop() silencing everything. Every wait is bounded (run_until).
#include <catch2/catch.hpp>

#include "tests/unit/device_test_support.h"

#include <stdlib.h>

#include <chrono>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "daemon/devices/ble_key_store.h"
#include "daemon/devices/mi_kettle.h"
#include "daemon/devices/registry.h"
#include "protocols/common/bytes.h"
#include "protocols/xiaomi_ble/auth/gatt_link.h"
#include "protocols/xiaomi_ble/auth/mi_auth_legacy.h"
#include "protocols/xiaomi_ble/codec/mibeacon.h"
#include "tests/unit/test_support.h"

using namespace cloudless;
using cloudless::test::hex;
using namespace std::chrono_literals;
using nlohmann::json;
namespace ble = cloudless::xiaomi_ble;
using Clock = std::chrono::steady_clock;

namespace {

using Listener = cloudless::test::RecordingListener;
using cloudless::test::LogCapture;
struct TempDir : cloudless::test::TempDir {
  TempDir() : cloudless::test::TempDir("cloudless-kettle") {}
};


constexpr const char* kMac = "AA:BB:CC:DD:EE:FF";
// docs/ble.md §4.2: drndos' default token, used as a "configured" token.
constexpr const char* kConfiguredToken = "015ccba8800abdc12eb8ed82";
// docs/ble.md §4.3: a 12-byte status of a newer unit: action 00 idle, mode ff none, 2 unknown bytes,
// keep-warm set 0x50 = 80 °C, current 0x20 = 32 °C, type 00 = boil then cool, minutes 0000, 3 more.
constexpr const char* kIdleStatus = "00ff00005020000000010200";
// Synthetic: action 01 heating, mode 01 boil, set 0x46 = 70 °C, current 0x2d = 45 °C, type 01 = heat to.
constexpr const char* kHeatingStatus = "01010000462d010000000000";

// ---- the device's side of the legacy register (docs/ble.md §4.2), from the codec ---------------------

const ble::MacAddress kMacBytes = *ble::parse_mac(kMac);

// What a genuine kettle notifies after it received `token_write` (= rc4(mixA, token)): a reply the
// client verifies with rc4(mixB, rc4(mixA, reply)) == token, i.e. reply = rc4(mixA, rc4(mixB, token)).
// A kettle bound to another token answers for that one instead: the client's check fails.
Bytes device_register_reply(std::uint16_t pid, const Bytes& token) {
  const auto mix_a = ble::legacy_auth::mix_a(kMacBytes, pid);
  const auto mix_b = ble::legacy_auth::mix_b(kMacBytes, pid);
  const std::optional<Bytes> inner = ble::legacy_auth::cipher(mix_b, token);
  REQUIRE(inner);
  const std::optional<Bytes> reply = ble::legacy_auth::cipher(mix_a, *inner);
  REQUIRE(reply);
  return *reply;
}

Bytes device_decrypt_token(std::uint16_t pid, const Bytes& token_write) {
  const std::optional<Bytes> token = ble::legacy_auth::cipher(ble::legacy_auth::mix_a(kMacBytes, pid), token_write);
  REQUIRE(token);
  return *token;
}

Bytes rc4_with(const Bytes& key, const Bytes& data) {
  const std::optional<Bytes> out = ble::legacy_auth::cipher(key, data);
  REQUIRE(out);
  return *out;
}

// ---- a scripted kettle ------------------------------------------------------------------------------

struct FakeKettle : ble::GattLink, std::enable_shared_from_this<FakeKettle> {
  boost::asio::io_context& io;
  std::uint16_t pid;
  std::string mac_text = kMac;
  std::optional<Bytes> bound_token;  // a kettle bound to this token refuses every other one
  bool connected = true;
  bool registered = false;  // saw the register-finish write
  Bytes token;              // the token of the last register
  std::uint8_t time_limit_x2 = 24;
  std::uint8_t boil_mode = 0;
  Bytes time_limit_read_override;  // non-empty: returned for aa04 instead (malformed values)
  std::vector<std::pair<std::string, std::string>> writes;  // (uuid, hex), in order, register included
  std::map<std::string, NotifyHandler> notify;
  std::function<void(const ble::GattError&)> on_disconnected;

  FakeKettle(boost::asio::io_context& context, std::uint16_t product_id) : io(context), pid(product_id) {}

  const std::string& mac() const override { return mac_text; }
  bool has_characteristic(std::string_view) const override { return true; }

  ble::GattError dropped() const { return {ble::GattErrorKind::disconnected, "", "not connected"}; }

  void read(std::string_view uuid, ReadHandler done) override {
    const std::string id(uuid);
    boost::asio::post(io, [self = shared_from_this(), id, done = std::move(done)] {
      if (!self->connected) return done(self->dropped(), {});
      if (id == ble::uuid16(0x0004)) return done(std::nullopt, rc4_with(self->token, Bytes{'1', '.', '0', '.', '7'}));
      if (id == ble::uuid16(0xAA04)) {
        if (!self->time_limit_read_override.empty()) return done(std::nullopt, self->time_limit_read_override);
        return done(std::nullopt, Bytes{self->time_limit_x2});
      }
      if (id == ble::uuid16(0xAA05)) return done(std::nullopt, Bytes{self->boil_mode});
      done(ble::GattError{ble::GattErrorKind::no_characteristic, "", id}, {});
    });
  }

  void write(std::string_view uuid, Bytes value, ble::WriteType, DoneHandler done) override {
    const std::string id(uuid);
    boost::asio::post(io, [self = shared_from_this(), id, value = std::move(value), done = std::move(done)] {
      if (!self->connected) return done(self->dropped());
      self->writes.emplace_back(id, to_hex(value));
      self->on_write(id, value);
      done(std::nullopt);
    });
  }

  void subscribe(std::string_view uuid, NotifyHandler on_value, DoneHandler done) override {
    const std::string id(uuid);
    boost::asio::post(io, [self = shared_from_this(), id, on_value = std::move(on_value), done = std::move(done)] {
      if (!self->connected) return done(self->dropped());
      self->notify[id] = on_value;
      done(std::nullopt);
    });
  }

  // The kettle's side of the handshake and of the settings.
  void on_write(const std::string& id, const Bytes& value) {
    if (id == ble::uuid16(0x0001) && value.size() == 12 && !registered && token.empty()) {
      token = device_decrypt_token(pid, value);
      const Bytes reply = device_register_reply(pid, bound_token ? *bound_token : token);
      send(ble::uuid16(0x0001), reply);
    } else if (id == ble::uuid16(0x0001) && value.size() == 4) {
      registered = value == rc4_with(token, hex("92ab54fa"));
    } else if (id == ble::uuid16(0xAA04) && value.size() == 1) {
      time_limit_x2 = value[0];
    } else if (id == ble::uuid16(0xAA05) && value.size() == 1) {
      boil_mode = value[0];
    }
  }

  void send(const std::string& id, const Bytes& value) {
    boost::asio::post(io, [self = shared_from_this(), id, value] {
      if (!self->connected) return;
      const auto it = self->notify.find(id);
      if (it != self->notify.end()) it->second(value);
    });
  }
  void status(const char* hex_text) { send(ble::uuid16(0xAA02), hex(hex_text)); }

  // Out of range: everything fails from now on, and the owner hears of it once.
  void drop() {
    connected = false;
    notify.clear();
    if (on_disconnected) {
      boost::asio::post(io, [handler = std::move(on_disconnected), error = dropped()] { handler(error); });
      on_disconnected = nullptr;
    }
  }

  // Setting writes only (aa01/aa04/aa05), as "uuid-short=hex".
  std::vector<std::string> setting_writes() const {
    std::vector<std::string> out;
    for (const auto& [id, value] : writes) {
      for (const std::uint16_t short_id : {0xAA01, 0xAA04, 0xAA05}) {
        if (id == ble::uuid16(short_id)) out.push_back(id.substr(4, 4) + "=" + value);
      }
    }
    return out;
  }
};

// The air between the daemon and the kettle: each connect gets a fresh FakeKettle (a new GATT
// connection) while in range, an error otherwise.
struct Radio {
  boost::asio::io_context& io;
  std::uint16_t pid;
  bool in_range = true;
  std::optional<Bytes> bound_token;
  int connects = 0;
  std::shared_ptr<FakeKettle> kettle;                 // the current connection
  std::vector<std::shared_ptr<FakeKettle>> history;   // every connection made

  Radio(boost::asio::io_context& context, std::uint16_t product_id) : io(context), pid(product_id) {}

  MiKettle::Connector connector() {
    return [this](const std::string& mac, MiKettle::ConnectDone done) -> MiKettle::ConnectHandle {
      ++connects;
      CHECK(mac == kMac);
      auto handle = std::make_shared<bool>(true);  // "withdrawn" when the kettle drops it
      boost::asio::post(io, [this, weak = std::weak_ptr<bool>(handle), done = std::move(done)] {
        if (weak.expired()) return;
        if (!in_range) {
          done(ble::GattError{ble::GattErrorKind::timeout, "", "le-connection-abort-by-local"}, {});
          return;
        }
        kettle = std::make_shared<FakeKettle>(io, pid);
        kettle->bound_token = bound_token;
        history.push_back(kettle);
        MiKettle::Link link;
        link.gatt = kettle;
        const std::weak_ptr<FakeKettle> weak_kettle = kettle;
        link.on_disconnected = [weak_kettle](std::function<void(const ble::GattError&)> handler) {
          if (const auto k = weak_kettle.lock()) k->on_disconnected = std::move(handler);
        };
        link.disconnect = [weak_kettle] {
          if (const auto k = weak_kettle.lock()) {
            k->on_disconnected = nullptr;  // our own disconnect is not reported back
            k->connected = false;
          }
        };
        done(std::nullopt, std::move(link));
      });
      return handle;
    };
  }
};




config::BleDeviceConfig kettle_config(int pid = 131, const std::string& token = "") {
  config::BleDeviceConfig config;
  config.mac = kMac;
  config.product_id = pid;
  config.token_hex = token;
  return config;
}

MiKettle::Options fast_options(Radio& radio) {
  MiKettle::Options options;
  options.connector = radio.connector();
  options.auth_timeouts.notification = 200ms;
  options.backoff_initial = 20ms;
  options.backoff_max = 80ms;
  return options;
}

struct Fixture {
  boost::asio::io_context io;
  Listener listener;
  LogCapture log;
  TempDir own_dir;
  std::string dir;
  Radio radio;
  std::unique_ptr<MiKettle> kettle;

  explicit Fixture(config::BleDeviceConfig config = kettle_config(), std::optional<std::string> state_dir = {},
                   std::function<void(MiKettle::Options&)> tweak = {})
      : dir(state_dir.value_or(own_dir.path())), radio(io, static_cast<std::uint16_t>(*config.product_id)) {
    MiKettle::Options options = fast_options(radio);
    if (tweak) tweak(options);
    kettle = std::make_unique<MiKettle>("kitchen_kettle", config, DeviceContext{io, listener, dir}, options);
  }
  ~Fixture() {
    if (kettle) kettle->stop();
  }

  // Runs the loop until `done` holds; false after `limit`.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 3s) {
    const auto deadline = Clock::now() + limit;
    while (!done()) {
      if (Clock::now() >= deadline) return false;
      io.restart();
      io.run_for(5ms);
    }
    return true;
  }
  void settle(std::chrono::milliseconds span = 50ms) {
    io.restart();
    io.run_for(span);
  }
  bool ready() { return run_until([this] { return kettle->phase() == MiKettle::Phase::ready; }); }
  const json& last() const {
    REQUIRE_FALSE(listener.states.empty());
    return listener.states.back();
  }
  std::optional<StoredBleKeys> stored() const { return load_ble_keys(dir, kMac).keys; }
};

}  // namespace

TEST_CASE("kettle: a config with product id 131 or 275 is a kettle, anything else a sensor", "[kettle]") {
  CHECK(is_mi_kettle(kettle_config(131)));
  CHECK(is_mi_kettle(kettle_config(275)));
  CHECK_FALSE(is_mi_kettle(kettle_config(0x055b)));
  config::BleDeviceConfig sensor;
  sensor.mac = kMac;
  CHECK_FALSE(is_mi_kettle(sensor));

  boost::asio::io_context io;
  Listener listener;
  config::DeviceConfig device;
  device.id = "kitchen_kettle";
  device.protocol = "xiaomi_ble";
  device.settings = kettle_config(275);
  const auto made = make_device(device, DeviceContext{io, listener, "/nonexistent"});
  REQUIRE(made);
  CHECK(dynamic_cast<MiKettle*>(made.get()) != nullptr);
  CHECK(made->info().model_id == "YM-K1501EU");
  CHECK(made->info().stable_id == "ble_aabbccddeeff");
  device.settings = sensor;
  const auto other = make_device(device, DeviceContext{io, listener, "/nonexistent"});
  REQUIRE(other);
  CHECK(dynamic_cast<MiKettle*>(other.get()) == nullptr);
}

TEST_CASE("kettle: entities as docs/contract.md lists them", "[kettle]") {
  Fixture f;
  const std::vector<model::Entity> entities = f.kettle->entities();
  CHECK_FALSE(model::validate_entities(entities));
  std::map<std::string, model::Entity> by_key;
  for (const model::Entity& e : entities) by_key[e.key] = e;
  for (const char* key : {"action", "mode", "temperature", "keep_warm_temperature", "keep_warm_type",
                          "keep_warm_time_limit", "turn_off_after_boil", "rssi"}) {
    CAPTURE(key);
    CHECK(by_key.count(key) == 1);
  }
  CHECK(by_key["action"].component == model::Component::sensor);
  CHECK_FALSE(by_key["action"].icon.empty());
  CHECK(by_key["temperature"].device_class == "temperature");
  CHECK(by_key["temperature"].unit == "°C");
  const model::Entity& keep_warm = by_key["keep_warm_temperature"];
  CHECK(keep_warm.component == model::Component::number);
  CHECK(keep_warm.settable);
  CHECK(keep_warm.min == 40);
  CHECK(keep_warm.max == 95);
  CHECK(keep_warm.step == 1);
  CHECK(by_key["keep_warm_type"].options == std::vector<std::string>{"boil_then_cool", "heat_to"});
  CHECK(by_key["keep_warm_time_limit"].max == 12);
  CHECK(by_key["keep_warm_time_limit"].step == 0.5);
  CHECK(by_key["turn_off_after_boil"].component == model::Component::switch_);
  CHECK(by_key["turn_off_after_boil"].boolean_state);
  CHECK(by_key["turn_off_after_boil"].settable);
}

TEST_CASE("kettle: the first connection registers a new token and stores it once confirmed", "[kettle]") {
  Fixture f;
  CHECK_FALSE(f.stored());
  f.kettle->start();
  REQUIRE(f.ready());
  CHECK(f.kettle->online());
  CHECK(f.listener.availability == std::vector<bool>{true});
  REQUIRE(f.radio.kettle);
  CHECK(f.radio.kettle->registered);  // the register-finish write was rc4(token, 92ab54fa)

  // The legacy register on the wire (docs/ble.md §4.2): start 90ca85de to 0x0010, then rc4(mixA, token)
  // to 0x0001, then rc4(token, 92ab54fa) to 0x0001.
  const auto& writes = f.radio.kettle->writes;
  REQUIRE(writes.size() >= 3);
  CHECK(writes[0] == std::make_pair(ble::uuid16(0x0010), std::string("90ca85de")));
  CHECK(writes[1].first == ble::uuid16(0x0001));
  CHECK(writes[2] == std::make_pair(ble::uuid16(0x0001), to_hex(rc4_with(f.radio.kettle->token, hex("92ab54fa")))));

  const std::optional<StoredBleKeys> keys = f.stored();
  REQUIRE(keys);
  CHECK(keys->auth == "legacy");
  REQUIRE(keys->token);
  CHECK(*keys->token == f.radio.kettle->token);  // exactly the token the kettle accepted
  CHECK(keys->product_id == 131);
  CHECK(keys->mac == kMac);
  CHECK_FALSE(keys->registered.empty());
  CHECK(f.kettle->info().sw_version == "1.0.7");

  // The settings read at connect time: aa04 = 24 → 12 h, aa05 = 0 → false.
  CHECK(f.last() == json{{"keep_warm_time_limit", 12}, {"turn_off_after_boil", false}});

  SECTION("status notifications become the state") {
    f.radio.kettle->status(kIdleStatus);
    REQUIRE(f.run_until([&] { return f.last().contains("action"); }));
    CHECK(f.last() == json{{"action", "idle"},
                           {"mode", "none"},
                           {"temperature", 32},
                           {"keep_warm_temperature", 80},
                           {"keep_warm_type", "boil_then_cool"},
                           {"keep_warm_time_limit", 12},
                           {"turn_off_after_boil", false}});
    f.radio.kettle->status(kHeatingStatus);
    REQUIRE(f.run_until([&] { return f.last()["action"] == "heating"; }));
    CHECK(f.last()["mode"] == "boil");
    CHECK(f.last()["temperature"] == 45);
    CHECK(f.last()["keep_warm_temperature"] == 70);
    CHECK(f.last()["keep_warm_type"] == "heat_to");

    // The same status again within the republish interval is not published again.
    const std::size_t published = f.listener.states.size();
    f.radio.kettle->status(kHeatingStatus);
    f.settle();
    CHECK(f.listener.states.size() == published);
    CHECK(f.kettle->counters().statuses == 3);
  }

  SECTION("a second run uses the stored token") {
    const Bytes first_token = *keys->token;
    const std::string registered_at = keys->registered;
    f.kettle->stop();
    Fixture second(kettle_config(), f.dir);
    second.kettle->start();
    REQUIRE(second.ready());
    REQUIRE(second.radio.kettle);
    CHECK(second.radio.kettle->token == first_token);
    const auto again = second.stored();
    REQUIRE(again);
    CHECK(again->registered == registered_at);  // not rewritten
  }
}

TEST_CASE("kettle: a configured token is used and nothing is stored", "[kettle]") {
  Fixture f(kettle_config(275, kConfiguredToken));
  f.kettle->start();
  REQUIRE(f.ready());
  REQUIRE(f.radio.kettle);
  CHECK(f.radio.kettle->token == hex(kConfiguredToken));
  // docs/ble.md §4.2 vector, pid 275: the step-3 write of this token is 98fba984896b999a9cdc3fd1 and
  // the step-5 write ea0f7d48.
  const auto& writes = f.radio.kettle->writes;
  REQUIRE(writes.size() >= 3);
  CHECK(writes[1] == std::make_pair(ble::uuid16(0x0001), std::string("98fba984896b999a9cdc3fd1")));
  CHECK(writes[2] == std::make_pair(ble::uuid16(0x0001), std::string("ea0f7d48")));
  CHECK_FALSE(f.stored());
}

TEST_CASE("kettle: a refused token is logged as such, stays offline, stores nothing", "[kettle]") {
  Fixture f;
  f.radio.bound_token = hex("00112233445566778899aabb");  // bound to someone else's token
  f.kettle->start();
  REQUIRE(f.run_until([&] { return f.kettle->counters().token_rejected >= 2; }));
  CHECK_FALSE(f.kettle->online());
  CHECK(f.listener.states.empty());  // nothing from an unauthenticated kettle
  CHECK_FALSE(f.stored());
  CHECK(f.log.warnings("rejected the token") == 1);  // then rate-limited
  CHECK(f.kettle->command({{"turn_off_after_boil", true}}) == std::optional<std::string>("kettle not connected"));
  // The same generated token is offered again on the retry (kept until confirmed).
  REQUIRE(f.radio.history.size() >= 2);
  CHECK(f.radio.history[0]->token.size() == 12);
  CHECK(f.radio.history[1]->token == f.radio.history[0]->token);
}

TEST_CASE("kettle: commands write the exact bytes and read the settings back", "[kettle]") {
  Fixture f;
  f.kettle->start();
  REQUIRE(f.ready());
  f.radio.kettle->status(kIdleStatus);  // keep-warm 80 °C, boil then cool
  REQUIRE(f.run_until([&] { return f.last().contains("action"); }));
  FakeKettle& device = *f.radio.kettle;

  const auto command = [&](const json& changes) {
    device.writes.clear();
    const std::size_t before = f.listener.states.size();
    REQUIRE_FALSE(f.kettle->command(changes));
    REQUIRE(f.run_until([&] { return f.listener.states.size() > before; }));
    f.settle(20ms);
    return device.setting_writes();
  };

  // aa01 [type, temperature]: the type not in the command comes from the last status (00).
  CHECK(command({{"keep_warm_temperature", 70}}) == std::vector<std::string>{"aa01=0046"});
  CHECK(command({{"keep_warm_type", "heat_to"}}) == std::vector<std::string>{"aa01=0146"});
  CHECK(f.last()["keep_warm_type"] == "heat_to");
  CHECK(f.last()["keep_warm_temperature"] == 70);
  CHECK(command({{"keep_warm_type", "boil_then_cool"}, {"keep_warm_temperature", 95}}) ==
        std::vector<std::string>{"aa01=005f"});
  // aa04: hours × 2.
  CHECK(command({{"keep_warm_time_limit", 6}}) == std::vector<std::string>{"aa04=0c"});
  CHECK(f.last()["keep_warm_time_limit"] == 6);
  CHECK(command({{"keep_warm_time_limit", 7.5}}) == std::vector<std::string>{"aa04=0f"});
  CHECK(f.last()["keep_warm_time_limit"] == 7.5);
  CHECK(command({{"keep_warm_time_limit", 0}}) == std::vector<std::string>{"aa04=00"});
  // aa05: 0/1, from a JSON boolean or the raw ON/OFF of /set/turn_off_after_boil.
  CHECK(command({{"turn_off_after_boil", true}}) == std::vector<std::string>{"aa05=01"});
  CHECK(f.last()["turn_off_after_boil"] == true);
  CHECK(command({{"turn_off_after_boil", "OFF"}}) == std::vector<std::string>{"aa05=00"});
  CHECK(f.last()["turn_off_after_boil"] == false);
  CHECK(command({{"turn_off_after_boil", "ON"}}) == std::vector<std::string>{"aa05=01"});
  // Any case, as for every switch (it once took "on" but not "On"), and TOGGLE from what it is now.
  CHECK(command({{"turn_off_after_boil", "off"}}) == std::vector<std::string>{"aa05=00"});
  CHECK(command({{"turn_off_after_boil", "On"}}) == std::vector<std::string>{"aa05=01"});
  CHECK(f.last()["turn_off_after_boil"] == true);
  CHECK(command({{"turn_off_after_boil", "toggle"}}) == std::vector<std::string>{"aa05=00"});
  CHECK(f.last()["turn_off_after_boil"] == false);
  // Everything at once: in aa01, aa04, aa05 order.
  CHECK(command({{"turn_off_after_boil", false}, {"keep_warm_time_limit", 12}, {"keep_warm_temperature", 40}}) ==
        std::vector<std::string>{"aa01=0028", "aa04=18", "aa05=00"});
  CHECK(device.time_limit_x2 == 24);
  CHECK(device.boil_mode == 0);
  CHECK(f.kettle->counters().write_failures == 0);

  SECTION("refresh reads the settings again") {
    device.time_limit_x2 = 3;  // changed on the kettle itself
    const std::size_t before = f.listener.states.size();
    f.kettle->refresh();
    REQUIRE(f.run_until([&] { return f.listener.states.size() > before; }));
    CHECK(f.last()["keep_warm_time_limit"] == 1.5);
  }
}

TEST_CASE("kettle: invalid commands are refused and write nothing", "[kettle]") {
  Fixture f;
  // Before any connection: validated first, then refused.
  CHECK(f.kettle->command({{"keep_warm_temperature", 70}}) == std::optional<std::string>("kettle not connected"));
  f.kettle->start();
  REQUIRE(f.ready());
  FakeKettle& device = *f.radio.kettle;

  // The kettle has not sent a status yet: aa01 needs both values.
  const auto unknown = f.kettle->command({{"keep_warm_temperature", 70}});
  REQUIRE(unknown);
  CHECK_THAT(*unknown, Catch::Contains("not reported its keep-warm settings"));
  CHECK_FALSE(f.kettle->command({{"keep_warm_temperature", 70}, {"keep_warm_type", "heat_to"}}));
  f.settle();
  CHECK(device.setting_writes() == std::vector<std::string>{"aa01=0146"});
  device.writes.clear();

  const std::vector<std::pair<json, std::string>> bad = {
      {json{{"keep_warm_temperature", 39}}, "keep_warm_temperature"},
      {json{{"keep_warm_temperature", 96}}, "keep_warm_temperature"},
      {json{{"keep_warm_temperature", 70.5}}, "keep_warm_temperature"},
      {json{{"keep_warm_temperature", "70"}}, "keep_warm_temperature"},
      {json{{"keep_warm_type", "warm"}}, "keep_warm_type"},
      {json{{"keep_warm_type", 1}}, "keep_warm_type"},
      {json{{"keep_warm_time_limit", 12.5}}, "keep_warm_time_limit"},
      {json{{"keep_warm_time_limit", 0.25}}, "keep_warm_time_limit"},
      {json{{"keep_warm_time_limit", -1}}, "keep_warm_time_limit"},
      {json{{"turn_off_after_boil", "maybe"}}, "turn_off_after_boil"},
      {json{{"turn_off_after_boil", 1}}, "turn_off_after_boil"},
      {json{{"state", "ON"}}, "unknown attribute \"state\""},
      // One bad attribute spoils the whole command: the good one is not written either.
      {json{{"turn_off_after_boil", true}, {"keep_warm_temperature", 100}}, "keep_warm_temperature"},
      {json::object(), "JSON object"},
      {json::array({1}), "JSON object"},
  };
  for (const auto& [changes, expected] : bad) {
    CAPTURE(changes.dump());
    const auto error = f.kettle->command(changes);
    REQUIRE(error);
    CHECK_THAT(*error, Catch::Contains(expected));
  }
  f.settle();
  CHECK(device.setting_writes().empty());
  CHECK(device.boil_mode == 0);
}

TEST_CASE("kettle: a dropped link goes offline and reconnects after the backoff", "[kettle]") {
  Fixture f;
  f.kettle->start();
  REQUIRE(f.ready());
  f.radio.kettle->status(kIdleStatus);
  REQUIRE(f.run_until([&] { return f.last().contains("action"); }));
  const std::size_t published = f.listener.states.size();

  f.radio.in_range = false;
  f.radio.kettle->drop();
  REQUIRE(f.run_until([&] { return !f.kettle->online(); }));
  CHECK(f.listener.availability == std::vector<bool>{true, false});
  CHECK(f.kettle->counters().disconnects == 1);
  CHECK(f.kettle->command({{"turn_off_after_boil", true}}) == std::optional<std::string>("kettle not connected"));
  CHECK(f.log.warnings("lost the connection") == 1);

  // Out of range: retries with a doubling wait, capped (20, 40, 80, 80 ms), logged once.
  REQUIRE(f.run_until([&] { return f.kettle->counters().connect_failures >= 4; }));
  CHECK(f.kettle->next_backoff() == 80ms);
  CHECK(f.log.warnings("cannot use the kettle") == 0);  // the same outage: summarised, not repeated
  CHECK(f.listener.states.size() == published);         // nothing published while away

  f.radio.in_range = true;
  REQUIRE(f.ready());
  CHECK(f.kettle->online());
  CHECK(f.listener.availability == std::vector<bool>{true, false, true});
  CHECK(f.kettle->next_backoff() == 20ms);  // reset by the successful session
  REQUIRE(f.radio.kettle);
  CHECK(f.radio.kettle->connected);
  CHECK(f.kettle->counters().sessions == 2);
}

TEST_CASE("kettle: an advert while waiting retries at once", "[kettle]") {
  Fixture f(kettle_config(), std::nullopt, [](MiKettle::Options& options) {
    options.backoff_initial = 20ms;
    options.backoff_max = 60s;  // without the advert the next attempt would be far away
  });
  f.radio.in_range = false;
  f.kettle->start();
  REQUIRE(f.run_until([&] { return f.kettle->counters().connect_failures >= 5; }));  // waits 20..320 ms
  CHECK(f.log.warnings("cannot use the kettle") == 1);
  REQUIRE(f.run_until([&] { return f.kettle->phase() == MiKettle::Phase::waiting; }));
  CHECK(f.kettle->next_backoff() >= 640ms);
  f.radio.in_range = true;
  const int connects = f.radio.connects;

  BleAdvert cached;
  cached.mac = kMac;
  cached.cached = true;  // BlueZ' remembered advert says nothing about now
  f.kettle->on_advert(cached);
  CHECK(f.kettle->counters().early_retries == 0);

  BleAdvert advert;
  advert.mac = kMac;
  advert.rssi = -67;
  f.kettle->on_advert(advert);
  CHECK(f.kettle->counters().early_retries == 1);
  REQUIRE(f.run_until([&] { return f.kettle->phase() == MiKettle::Phase::ready; }, 500ms));
  CHECK(f.radio.connects == connects + 1);
  CHECK(f.last()["rssi"] == -67);
}

TEST_CASE("kettle: malformed statuses and values are counted, logged once, never published", "[kettle]") {
  Fixture f;
  f.kettle->start();
  REQUIRE(f.ready());
  f.radio.kettle->status(kIdleStatus);
  REQUIRE(f.run_until([&] { return f.last().contains("action"); }));
  const json good = f.last();
  const std::size_t published = f.listener.states.size();

  f.radio.kettle->status("00ff");                      // truncated
  f.radio.kettle->status("09ff00005020000000010200");  // action 9 does not exist
  f.radio.kettle->status("");                          // empty
  REQUIRE(f.run_until([&] { return f.kettle->counters().malformed >= 3; }));
  f.settle();
  CHECK(f.listener.states.size() == published);
  CHECK(f.last() == good);
  CHECK(f.log.warnings("malformed") == 1);  // the rest are summarised later
  CHECK(f.kettle->online());                // a bad notification is not a dead link

  SECTION("a malformed aa04 value is left out, not guessed") {
    f.radio.kettle->time_limit_read_override = hex("0102");  // two bytes
    f.kettle->refresh();
    REQUIRE(f.run_until([&] { return f.kettle->counters().malformed >= 4; }));
    f.settle();
    CHECK(f.last()["keep_warm_time_limit"] == 12);  // the last good value
  }
}

TEST_CASE("kettle: stop() ends the link and silences every callback", "[kettle]") {
  Fixture f;
  f.kettle->start();
  REQUIRE(f.ready());
  const std::shared_ptr<FakeKettle> device = f.radio.kettle;
  const std::size_t published = f.listener.states.size();
  const std::size_t availability = f.listener.availability.size();
  const auto status_handler = device->notify.at(ble::uuid16(0xAA02));
  f.kettle->stop();
  f.kettle->stop();  // idempotent
  CHECK_FALSE(device->connected);  // disconnected by stop()
  status_handler(hex(kIdleStatus));  // a notification racing with stop(): ignored
  f.settle();
  CHECK(f.listener.states.size() == published);
  CHECK(f.listener.availability.size() == availability);

  SECTION("stop while connecting: the pending connect is withdrawn") {
    Fixture g;
    g.kettle->start();
    g.io.restart();
    g.io.poll_one();  // the posted connect() runs, the fake's answer is still queued
    g.kettle->stop();
    g.settle();
    CHECK(g.radio.connects == 1);
    CHECK_FALSE(g.radio.kettle);  // the connector saw the handle dropped and never connected
    CHECK(g.listener.availability.empty());
  }
}
