// The Mi auth handshakes (protocols/xiaomi_ble/auth/mi_auth_session.h) against a scripted GATT peer:
// FakeLink implements GattLink on the io_context (every handler posted, never inline, as the
// contract says), records every write, and answers writes with notifications from a script. The
// device side of each handshake is built here from the codecs and the vectors (docs/ble.md
// §4.2, §4.4), so a session passes only if it sends exactly the bytes the device expects.
#include <catch2/catch.hpp>

#include "tests/unit/test_support.h"

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "protocols/common/bytes.h"
#include "protocols/xiaomi_ble/auth/gatt_link.h"
#include "protocols/xiaomi_ble/auth/mi_auth_legacy.h"
#include "protocols/xiaomi_ble/auth/mi_auth_session.h"
#include "protocols/xiaomi_ble/auth/mi_auth_standard.h"

using namespace cloudless;
using namespace cloudless::xiaomi_ble;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace la = cloudless::xiaomi_ble::legacy_auth;
namespace sa = cloudless::xiaomi_ble::standard_auth;

using cloudless::test::array_of;
using cloudless::test::hex;
using cloudless::test::hex_of;

namespace {

constexpr std::uint16_t kToken = 0x0001, kVersion = 0x0004, kUpnp = 0x0010, kBeaconKey = 0x0014, kAvdtp = 0x0019;

// "0000xxxx-0000-1000-8000-00805f9b34fb" → 0xxxxx.
std::uint16_t short_id(std::string_view uuid) {
  return static_cast<std::uint16_t>(std::stoul(std::string(uuid.substr(4, 4)), nullptr, 16));
}

struct Note {
  std::uint16_t id;
  Bytes value;
};

struct Write {
  std::uint16_t id;
  Bytes value;
  WriteType type;
};

class FakeLink : public GattLink {
 public:
  using Script = std::function<std::vector<Note>(std::uint16_t id, const Bytes& value)>;

  FakeLink(asio::io_context& io, std::set<std::uint16_t> characteristics)
      : io_(io), characteristics_(std::move(characteristics)) {}

  const std::string& mac() const override { return mac_; }
  bool has_characteristic(std::string_view uuid) const override {
    for (const std::uint16_t id : characteristics_) {
      if (uuid16(id) == uuid) return true;
    }
    return false;
  }

  void read(std::string_view uuid, ReadHandler done) override {
    const std::uint16_t id = short_id(uuid);
    ++reads[id];
    asio::post(io_, [this, id, done = std::move(done)] {
      if (disconnected_) return done(lost(), {});
      const auto found = values.find(id);
      if (found == values.end()) return done(GattError{GattErrorKind::no_characteristic, "", "no such value"}, {});
      done(std::nullopt, found->second);
    });
  }

  void write(std::string_view uuid, Bytes value, WriteType type, DoneHandler done) override {
    const std::uint16_t id = short_id(uuid);
    writes.push_back({id, value, type});
    // The script runs at the moment the device receives the write; it may also drop the link.
    std::vector<Note> answers = script ? script(id, value) : std::vector<Note>{};
    asio::post(io_, [this, done = std::move(done)] { done(disconnected_ ? std::optional<GattError>(lost()) : std::nullopt); });
    for (Note& note : answers) notify(note.id, std::move(note.value));
  }

  void subscribe(std::string_view uuid, NotifyHandler on_value, DoneHandler done) override {
    const std::uint16_t id = short_id(uuid);
    subscribed.push_back(id);
    handlers_[id] = std::move(on_value);
    asio::post(io_, [this, done = std::move(done)] { done(disconnected_ ? std::optional<GattError>(lost()) : std::nullopt); });
  }

  // Delivers a notification later on the loop, if the link is still up and someone listens.
  void notify(std::uint16_t id, Bytes value) {
    asio::post(io_, [this, id, value = std::move(value)] {
      if (disconnected_) return;
      const auto handler = handlers_.find(id);
      if (handler != handlers_.end() && handler->second) handler->second(value);
    });
  }

  void disconnect() { disconnected_ = true; }

  std::vector<Bytes> writes_to(std::uint16_t id) const {
    std::vector<Bytes> out;
    for (const Write& write : writes) {
      if (write.id == id) out.push_back(write.value);
    }
    return out;
  }

  Script script;
  std::map<std::uint16_t, Bytes> values;  // what reads return
  std::vector<Write> writes;
  std::vector<std::uint16_t> subscribed;
  std::map<std::uint16_t, int> reads;

 private:
  static GattError lost() { return GattError{GattErrorKind::disconnected, "org.bluez.Error.Failed", "Not connected"}; }

  asio::io_context& io_;
  std::set<std::uint16_t> characteristics_;
  std::string mac_ = "AA:BB:CC:DD:EE:FF";
  std::map<std::uint16_t, NotifyHandler> handlers_;
  bool disconnected_ = false;
};

// Runs the loop until nothing is left (bounded: a forgotten timer cannot hang the test).
void run(asio::io_context& io) {
  io.restart();
  io.run_for(5s);
}

template <typename Result>
struct Outcome {
  int calls = 0;
  std::optional<AuthError> error;
  Result result{};

  auto handler() {
    return [this](const std::optional<AuthError>& e, const Result& r) {
      ++calls;
      error = e;
      result = r;
    };
  }
};

AuthTimeouts short_timeouts() {
  AuthTimeouts timeouts;
  timeouts.notification = 50ms;
  return timeouts;
}

// ---- legacy register: §4.2 vector -------------------------------------------------------------------

constexpr MacAddress kMac = {0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF};
const char* const kLegacyToken = "015ccba8800abdc12eb8ed82";

LegacyRegisterParams legacy_params() {
  LegacyRegisterParams params;
  params.mac = kMac;
  params.product_id = 131;  // YM-K1501
  params.token = array_of<12>(kLegacyToken);
  return params;
}

std::shared_ptr<FakeLink> legacy_device(asio::io_context& io, const char* reply) {
  auto link = std::make_shared<FakeLink>(io, std::set<std::uint16_t>{kToken, kVersion, kUpnp, kBeaconKey});
  const Bytes answer = reply ? hex(reply) : Bytes{};
  link->script = [answer, has_reply = reply != nullptr](std::uint16_t id, const Bytes& value) -> std::vector<Note> {
    // The device answers the token write (the only 12-byte write to 0x0001) with its reply.
    if (has_reply && id == kToken && value.size() == 12) return {{kToken, answer}};
    return {};
  };
  const auto token = array_of<12>(kLegacyToken);
  link->values[kVersion] = *la::cipher(token, as_bytes("1.0.0_0050"));
  link->values[kBeaconKey] = *la::cipher(token, hex("b8530751584847ca39a5b5ea"));
  return link;
}

}  // namespace

TEST_CASE("auth kinds and names", "[xiaomi_ble][auth_session]") {
  asio::io_context io;
  CHECK(detect_auth_kind(FakeLink(io, {kToken, kUpnp, kAvdtp})) == AuthKind::standard);
  CHECK(detect_auth_kind(FakeLink(io, {kToken, kUpnp, kVersion})) == AuthKind::legacy);
  CHECK(detect_auth_kind(FakeLink(io, {0x2a00})) == AuthKind::none);
  CHECK(auth_kind_name(AuthKind::legacy) == "legacy");
  CHECK(auth_kind_name(AuthKind::standard) == "standard");
  CHECK(auth_kind_name(AuthKind::none) == "none");
  CHECK(auth_failure_name(AuthFailure::device_error) == "device_error");
  CHECK(auth_failure_name(AuthFailure::timeout) == "timeout");
  CHECK(auth_failure_name(AuthFailure::mismatch) == "mismatch");
}

TEST_CASE("legacy register: the §4.2 vector succeeds", "[xiaomi_ble][auth_session]") {
  asio::io_context io;
  auto link = legacy_device(io, "4b084375b08944f4a117bb22");  // the genuine reply for pid 131
  Outcome<LegacyRegisterResult> outcome;
  auto params = legacy_params();
  params.read_beacon_key = true;
  auto session = start_legacy_register(io, link, params, short_timeouts(), outcome.handler());
  CHECK(link->writes.empty());  // nothing happens inline: the loop runs the handshake
  session.reset();              // dropping the pointer does not stop it
  run(io);

  REQUIRE(outcome.calls == 1);
  REQUIRE_FALSE(outcome.error);
  CHECK(hex_of(outcome.result.token) == kLegacyToken);
  CHECK(outcome.result.version == "1.0.0_0050");
  REQUIRE(outcome.result.beacon_key);
  CHECK(hex_of(*outcome.result.beacon_key) == "b8530751584847ca39a5b5ea");

  // Subscribed before the first write; then exactly the three writes of §4.2, in order.
  REQUIRE(link->subscribed == std::vector<std::uint16_t>{kToken});
  REQUIRE(link->writes.size() == 3);
  CHECK(link->writes[0].id == kUpnp);
  CHECK(to_hex(link->writes[0].value) == "90ca85de");
  CHECK(link->writes[1].id == kToken);
  CHECK(to_hex(link->writes[1].value) == "2c18ec5cd4af78ba9413b083");
  CHECK(link->writes[2].id == kToken);
  CHECK(to_hex(link->writes[2].value) == "ea0f7d48");
  for (const Write& write : link->writes) CHECK(write.type == WriteType::request);
  CHECK(link->reads[kVersion] == 1);
  CHECK(link->reads[kBeaconKey] == 1);
}

TEST_CASE("legacy register: no beacon key read unless asked", "[xiaomi_ble][auth_session]") {
  asio::io_context io;
  auto link = legacy_device(io, "4b084375b08944f4a117bb22");
  Outcome<LegacyRegisterResult> outcome;
  start_legacy_register(io, link, legacy_params(), short_timeouts(), outcome.handler());
  run(io);
  REQUIRE(outcome.calls == 1);
  REQUIRE_FALSE(outcome.error);
  CHECK_FALSE(outcome.result.beacon_key);
  CHECK(link->reads[kBeaconKey] == 0);
}

TEST_CASE("legacy register: a wrong reply is a mismatch, and nothing more is written", "[xiaomi_ble][auth_session]") {
  asio::io_context io;
  auto link = legacy_device(io, "4b084375b08944f4a117bb23");  // last bit flipped
  Outcome<LegacyRegisterResult> outcome;
  start_legacy_register(io, link, legacy_params(), short_timeouts(), outcome.handler());
  run(io);
  REQUIRE(outcome.calls == 1);
  REQUIRE(outcome.error);
  CHECK(outcome.error->kind == AuthFailure::mismatch);
  CHECK_FALSE(outcome.error->text.empty());
  CHECK(outcome.result.token == LegacyToken{});  // nothing unverified comes back
  CHECK(link->writes.size() == 2);               // no confirmation write
  CHECK(link->reads.empty());
}

TEST_CASE("legacy register: a reply of the wrong size is malformed", "[xiaomi_ble][auth_session]") {
  asio::io_context io;
  auto link = legacy_device(io, "4b084375b08944f4a117bb");
  Outcome<LegacyRegisterResult> outcome;
  start_legacy_register(io, link, legacy_params(), short_timeouts(), outcome.handler());
  run(io);
  REQUIRE(outcome.calls == 1);
  REQUIRE(outcome.error);
  CHECK(outcome.error->kind == AuthFailure::malformed);
}

TEST_CASE("legacy register: no reply is a timeout", "[xiaomi_ble][auth_session]") {
  asio::io_context io;
  auto link = legacy_device(io, nullptr);
  Outcome<LegacyRegisterResult> outcome;
  const auto started = std::chrono::steady_clock::now();
  start_legacy_register(io, link, legacy_params(), short_timeouts(), outcome.handler());
  run(io);
  REQUIRE(outcome.calls == 1);
  REQUIRE(outcome.error);
  CHECK(outcome.error->kind == AuthFailure::timeout);
  CHECK(outcome.error->text.find("register reply") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - started < 2s);
}

TEST_CASE("legacy register: a disconnect mid-handshake is a link failure", "[xiaomi_ble][auth_session]") {
  asio::io_context io;
  auto link = legacy_device(io, nullptr);
  link->script = [&link](std::uint16_t id, const Bytes& value) -> std::vector<Note> {
    if (id == kToken && value.size() == 12) link->disconnect();  // the kettle walks out of range
    return {};
  };
  Outcome<LegacyRegisterResult> outcome;
  start_legacy_register(io, link, legacy_params(), short_timeouts(), outcome.handler());
  run(io);
  REQUIRE(outcome.calls == 1);
  REQUIRE(outcome.error);
  CHECK(outcome.error->kind == AuthFailure::link);
  REQUIRE(outcome.error->gatt);
  CHECK(outcome.error->gatt->kind == GattErrorKind::disconnected);
  CHECK(outcome.error->text.find("writing the token") != std::string::npos);
}

TEST_CASE("legacy register: a failed version read is a link failure", "[xiaomi_ble][auth_session]") {
  asio::io_context io;
  auto link = legacy_device(io, "4b084375b08944f4a117bb22");
  link->values.erase(kVersion);
  Outcome<LegacyRegisterResult> outcome;
  start_legacy_register(io, link, legacy_params(), short_timeouts(), outcome.handler());
  run(io);
  REQUIRE(outcome.calls == 1);
  REQUIRE(outcome.error);
  CHECK(outcome.error->kind == AuthFailure::link);
}

TEST_CASE("legacy register: a device without the Mi characteristics is unsupported", "[xiaomi_ble][auth_session]") {
  asio::io_context io;
  auto link = std::make_shared<FakeLink>(io, std::set<std::uint16_t>{kVersion});
  Outcome<LegacyRegisterResult> outcome;
  start_legacy_register(io, link, legacy_params(), short_timeouts(), outcome.handler());
  CHECK(outcome.calls == 0);  // not inline
  run(io);
  REQUIRE(outcome.calls == 1);
  REQUIRE(outcome.error);
  CHECK(outcome.error->kind == AuthFailure::unsupported);
  CHECK(link->writes.empty());
}

TEST_CASE("legacy register: cancel() ends it without calling the handler", "[xiaomi_ble][auth_session]") {
  asio::io_context io;
  auto link = legacy_device(io, nullptr);
  Outcome<LegacyRegisterResult> outcome;
  AuthTimeouts timeouts;
  timeouts.notification = 10s;  // would keep the loop busy if cancel() left the timer
  auto session = start_legacy_register(io, link, legacy_params(), timeouts, outcome.handler());
  io.run_for(20ms);
  session->cancel();
  session->cancel();  // idempotent
  const auto started = std::chrono::steady_clock::now();
  run(io);
  CHECK(outcome.calls == 0);
  CHECK(std::chrono::steady_clock::now() - started < 2s);
  // A late notification after cancel() is ignored.
  link->notify(kToken, hex("4b084375b08944f4a117bb22"));
  run(io);
  CHECK(outcome.calls == 0);
}

// ---- legacy login: the device side built from docs/ble.md §S2 ------------------------------------------------

namespace {

const LegacyLoginVariant kLoginVariants[] = {{true, true}, {true, false}, {false, true}, {false, false}};

// The device: on the start constant it sends a challenge; on the response it checks
// rc4(key, response) == end constant and confirms with rc4(key, confirm constant). `device_token`
// is the token the device knows.
void script_legacy_login(FakeLink& link, const la::Token& device_token, const la::LoginVariant& variant,
                         std::shared_ptr<Bytes> key_seen) {
  const Bytes challenge = hex("3e5ff0a1");
  link.script = [device_token, variant, challenge, key_seen](std::uint16_t id,
                                                              const Bytes& value) -> std::vector<Note> {
    const auto start = la::login_start(variant);
    if (id == kUpnp && value == Bytes(start.begin(), start.end())) return {{kToken, challenge}};
    if (id != kToken) return {};
    const auto key = la::login_key(device_token, challenge, variant);
    REQUIRE(key);
    *key_seen = *key;
    const auto opened = la::cipher(*key, value);
    const auto end = la::login_constant(la::kLoginEnd, variant);
    if (!opened || *opened != Bytes(end.begin(), end.end())) return {{kToken, hex("00000000")}};
    const auto confirm = la::login_constant(la::kLoginConfirm, variant);
    return {{kToken, *la::cipher(*key, confirm)}};
  };
}

}  // namespace

TEST_CASE("legacy login: each variant against a device of the same variant", "[xiaomi_ble][auth_session]") {
  for (const LegacyLoginVariant& variant : kLoginVariants) {
    CAPTURE(variant.little_endian_constants, variant.twelve_byte_key);
    asio::io_context io;
    auto link = std::make_shared<FakeLink>(io, std::set<std::uint16_t>{kToken, kUpnp});
    auto key_seen = std::make_shared<Bytes>();
    const la::LoginVariant codec_variant{variant.little_endian_constants, variant.twelve_byte_key};
    script_legacy_login(*link, array_of<12>(kLegacyToken), codec_variant, key_seen);
    Outcome<LegacyLoginResult> outcome;
    start_legacy_login(io, link, LegacyLoginParams{array_of<12>(kLegacyToken), variant}, short_timeouts(),
                       outcome.handler());
    run(io);
    REQUIRE(outcome.calls == 1);
    REQUIRE_FALSE(outcome.error);
    CHECK(outcome.result.session_key.size() == (variant.twelve_byte_key ? 12u : 4u));
    CHECK(outcome.result.session_key == *key_seen);
    REQUIRE(link->writes.size() == 2);
    CHECK(link->writes[0].id == kUpnp);
    CHECK(to_hex(link->writes[0].value) == (variant.little_endian_constants ? "00bc43cd" : "cd43bc00"));
    CHECK(link->writes[1].id == kToken);
  }
}

TEST_CASE("legacy login: a wrong token or the other byte order is a mismatch", "[xiaomi_ble][auth_session]") {
  asio::io_context io;
  {
    auto link = std::make_shared<FakeLink>(io, std::set<std::uint16_t>{kToken, kUpnp});
    auto device_token = array_of<12>(kLegacyToken);
    device_token[5] ^= 0x10;  // the device knows another token
    script_legacy_login(*link, device_token, la::LoginVariant{}, std::make_shared<Bytes>());
    Outcome<LegacyLoginResult> outcome;
    start_legacy_login(io, link, LegacyLoginParams{array_of<12>(kLegacyToken), {}}, short_timeouts(),
                       outcome.handler());
    run(io);
    REQUIRE(outcome.calls == 1);
    REQUIRE(outcome.error);
    CHECK(outcome.error->kind == AuthFailure::mismatch);
    CHECK(outcome.result.session_key.empty());
  }
  {
    // A big-endian device never sees our little-endian start constant: no challenge → timeout.
    auto link = std::make_shared<FakeLink>(io, std::set<std::uint16_t>{kToken, kUpnp});
    script_legacy_login(*link, array_of<12>(kLegacyToken), la::LoginVariant{false, true}, std::make_shared<Bytes>());
    Outcome<LegacyLoginResult> outcome;
    start_legacy_login(io, link, LegacyLoginParams{array_of<12>(kLegacyToken), {true, true}}, short_timeouts(),
                       outcome.handler());
    run(io);
    REQUIRE(outcome.calls == 1);
    REQUIRE(outcome.error);
    CHECK(outcome.error->kind == AuthFailure::timeout);
  }
}

TEST_CASE("legacy login: a short challenge is malformed", "[xiaomi_ble][auth_session]") {
  asio::io_context io;
  auto link = std::make_shared<FakeLink>(io, std::set<std::uint16_t>{kToken, kUpnp});
  link->script = [](std::uint16_t id, const Bytes&) -> std::vector<Note> {
    if (id == kUpnp) return {{kToken, Bytes{0x01, 0x02}}};
    return {};
  };
  Outcome<LegacyLoginResult> outcome;
  start_legacy_login(io, link, LegacyLoginParams{array_of<12>(kLegacyToken), {}}, short_timeouts(), outcome.handler());
  run(io);
  REQUIRE(outcome.calls == 1);
  REQUIRE(outcome.error);
  CHECK(outcome.error->kind == AuthFailure::malformed);
}

// ---- standard auth: a simulated device speaking AVDTP ----------------------------------------------------

namespace {

// The device's side of AVDTP transfers. Incoming: header → RCV_RDY, frames → RCV_OK, then
// on_received(type, data). Outgoing (send()): header, RCV_RDY → frames, RCV_OK → on_sent(type).
// on_command handles UPNP writes. Every notification is returned to FakeLink, which delivers it.
class SimDevice {
 public:
  std::function<std::vector<Note>(const Bytes& command)> on_command;
  std::function<std::vector<Note>(std::uint8_t type, const Bytes& data)> on_received;
  std::function<std::vector<Note>(std::uint8_t type)> on_sent;
  std::vector<std::string> protocol_errors;  // anything the app did out of order

  std::vector<Note> send(std::uint8_t type, Bytes data) {
    outgoing_type_ = type;
    outgoing_ = sa::split_frames(data);
    ready_seen_ = false;
    return {{kAvdtp, sa::encode_header(type, static_cast<std::uint16_t>(outgoing_.size()))}};
  }

  std::vector<Note> on_write(std::uint16_t id, const Bytes& value) {
    if (id == kUpnp) return on_command ? on_command(value) : std::vector<Note>{};
    if (id != kAvdtp) return {};
    const auto message = sa::parse_avdtp(value);
    if (!message) {
      protocol_errors.push_back("unparsable " + to_hex(value));
      return {};
    }
    if (message->kind == sa::AvdtpMessage::Kind::control) {
      if (message->control == sa::Control::ready && !outgoing_.empty() && !ready_seen_) {
        ready_seen_ = true;
        std::vector<Note> frames;
        for (const Bytes& frame : outgoing_) frames.push_back({kAvdtp, frame});
        return frames;
      }
      if (message->control == sa::Control::ok && ready_seen_) {
        outgoing_.clear();
        ready_seen_ = false;
        return on_sent ? on_sent(outgoing_type_) : std::vector<Note>{};
      }
      protocol_errors.push_back("unexpected control " + to_hex(value));
      return {};
    }
    if (message->kind == sa::AvdtpMessage::Kind::header) {
      incoming_type_ = message->header.type;
      REQUIRE(incoming_.start(message->header.frames));
      return {{kAvdtp, sa::encode_control(sa::Control::ready)}};
    }
    const auto added = incoming_.add(value);
    if (!added) {
      protocol_errors.push_back("bad frame " + to_hex(value));
      return {};
    }
    if (*added == sa::FrameReassembler::Status::more) return {};
    std::vector<Note> notes{{kAvdtp, sa::encode_control(sa::Control::ok)}};
    if (on_received) {
      auto more = on_received(incoming_type_, incoming_.assemble());
      notes.insert(notes.end(), more.begin(), more.end());
    }
    return notes;
  }

 private:
  std::vector<Bytes> outgoing_;
  std::uint8_t outgoing_type_ = 0;
  bool ready_seen_ = false;
  sa::FrameReassembler incoming_;
  std::uint8_t incoming_type_ = 0;
};

// docs/ble.md §4.4 register vector.
const char* const kPrivateKey = "6b243de1b1cfee581130b070c635c8957ac56f0c2c3d40b1af8732d6cd6ec183";
const char* const kOurPublicKey =
    "4925e4cf05129fa65116a4a324fc86eefd4cd176717f0938ccbd2387fd52d0ef"
    "d85162c20c0fcc72ca85a8b18f61ef980a70e1a6e7ff15f5289881ee59b8f4af";
const char* const kDevicePublicKey =
    "2afe2a8c1c56e5e70721665cd20d017273111ecaeceb1e4d641e7b7a122a9c30"
    "41e5cbc962eefbdb155ffd95847a0d8762803291fc2866c5672ceee0e77d77fc";
const char* const kRemoteInfo = "0100000000626c742e342e31386e35383236366b67673030";
const char* const kDidCiphertext = "646735cc7a96373aabbd93afa089bb6cd2d080302101007a";
// docs/ble.md §4.4 login vector.
const char* const kStandardToken = "0cf5615003810d89c233a12a";
const char* const kAppRandom = "a8699783c1f03c7b73a046cdb613a9bf";
const char* const kDeviceRandom = "90fdec0ece05016d7f116b50fca4b4bf";
const char* const kDeviceInfo = "471467ea7ed6064f8dd72f416c079dcb3bb78e3c94a51e97b98ef7623a7798e5";
const char* const kAppInfo = "bbb99b6a6f1ae419e3b13db93514f3e12a1843033f276392eea99068affca753";

struct StandardDevice {
  std::shared_ptr<FakeLink> link;
  std::shared_ptr<SimDevice> device = std::make_shared<SimDevice>();
  std::map<std::uint8_t, Bytes> received;  // by transfer type
};

StandardDevice make_standard_device(asio::io_context& io, std::set<std::uint16_t> characteristics = {kUpnp, kAvdtp,
                                                                                                      kToken}) {
  StandardDevice sim;
  sim.link = std::make_shared<FakeLink>(io, std::move(characteristics));
  sim.link->script = [device = sim.device](std::uint16_t id, const Bytes& value) { return device->on_write(id, value); };
  return sim;
}

// The register side: remote info after GET_INFO, its public key after ours, 11000000 after AUTH
// when the DID proof was the vector's.
void script_register(StandardDevice& sim) {
  auto* received = &sim.received;
  SimDevice* device = sim.device.get();
  device->on_command = [device, received](const Bytes& command) -> std::vector<Note> {
    if (to_hex(command) == "a2000000") return device->send(0x00, hex(kRemoteInfo));
    if (to_hex(command) == "13000000") {
      const bool proven = received->count(0x00) && to_hex(received->at(0x00)) == kDidCiphertext;
      return {{kUpnp, hex(proven ? "11000000" : "12000000")}};
    }
    return {};
  };
  device->on_received = [device, received](std::uint8_t type, const Bytes& data) -> std::vector<Note> {
    (*received)[type] = data;
    if (type == 0x03) return device->send(0x03, hex(kDevicePublicKey));
    return {};
  };
}

// The login side: Rd after our Ra, then its proof; 21000000 after our proof when it is the vector's.
void script_login(StandardDevice& sim, const std::string& device_info, const char* answer = nullptr) {
  auto* received = &sim.received;
  SimDevice* device = sim.device.get();
  device->on_received = [device, received, answer](std::uint8_t type, const Bytes& data) -> std::vector<Note> {
    (*received)[type] = data;
    if (type == 0x0b) return device->send(0x0d, hex(kDeviceRandom));
    if (type == 0x0a) {
      if (answer) return {{kUpnp, hex(answer)}};
      return {{kUpnp, hex(to_hex(data) == kAppInfo ? "21000000" : "23000000")}};
    }
    return {};
  };
  device->on_sent = [device, device_info](std::uint8_t type) -> std::vector<Note> {
    if (type == 0x0d) return device->send(0x0c, hex(device_info));
    return {};
  };
}

StandardLoginParams login_params() {
  StandardLoginParams params;
  params.token = array_of<12>(kStandardToken);
  params.app_random = array_of<16>(kAppRandom);
  return params;
}

}  // namespace

TEST_CASE("standard register: the §4.4 vector end to end", "[xiaomi_ble][auth_session]") {
  asio::io_context io;
  auto sim = make_standard_device(io);
  script_register(sim);
  Outcome<StandardRegisterResult> outcome;
  StandardRegisterParams params;
  params.private_key = array_of<32>(kPrivateKey);
  start_standard_register(io, sim.link, params, short_timeouts(), outcome.handler());
  run(io);

  CHECK(sim.device->protocol_errors.empty());
  REQUIRE(outcome.calls == 1);
  if (outcome.error) FAIL(outcome.error->text);
  CHECK(hex_of(outcome.result.token) == "0cf5615003810d89c233a12a");
  CHECK(hex_of(outcome.result.bind_key) == "8fc5100e31299d80c4c290dc7d33f19e");
  CHECK(outcome.result.did == "blt.4.18n58266kgg00");
  // What reached the device: our public key and the DID proof of the vector.
  CHECK(to_hex(sim.received[0x03]) == kOurPublicKey);
  CHECK(to_hex(sim.received[0x00]) == kDidCiphertext);

  // Both channels subscribed before the first write; UPNP commands with response, AVDTP without.
  REQUIRE(sim.link->subscribed.size() == 2);
  CHECK(sim.link->writes.front().id == kUpnp);
  CHECK(sim.link->writes_to(kUpnp) == std::vector<Bytes>{hex("a2000000"), hex("15000000"), hex("13000000")});
  for (const Write& write : sim.link->writes) {
    CHECK(write.type == (write.id == kUpnp ? WriteType::request : WriteType::command));
  }
  // Our AVDTP writes: RCV_RDY/RCV_OK for the remote info, header + 4 frames for the key,
  // RCV_RDY/RCV_OK for the device's key, header + 2 frames for the DID.
  const std::vector<Bytes> avdtp = sim.link->writes_to(kAvdtp);
  REQUIRE(avdtp.size() == 2 + 5 + 2 + 3);
  CHECK(to_hex(avdtp[0]) == "00000101");
  CHECK(to_hex(avdtp[1]) == "00000100");
  CHECK(to_hex(avdtp[2]) == "000000030400");
  CHECK(avdtp[3].size() == 20);
  CHECK(to_hex(avdtp[6]) == "0400" + std::string(kOurPublicKey).substr(108));
  CHECK(to_hex(avdtp[7]) == "00000101");
  CHECK(to_hex(avdtp[8]) == "00000100");
  CHECK(to_hex(avdtp[9]) == "000000000200");
  CHECK(to_hex(avdtp[10]) == "0100" + std::string(kDidCiphertext).substr(0, 36));
  CHECK(to_hex(avdtp[11]) == "0200" + std::string(kDidCiphertext).substr(36));
}

TEST_CASE("standard register: device refusals and errors", "[xiaomi_ble][auth_session]") {
  struct Row {
    const char* answer;
    AuthFailure failure;
  };
  for (const Row row : {Row{"12000000", AuthFailure::device_error}, Row{"e2000000", AuthFailure::device_error},
                        Row{"21000000", AuthFailure::malformed}, Row{"99", AuthFailure::malformed}}) {
    CAPTURE(row.answer);
    asio::io_context io;
    auto sim = make_standard_device(io);
    script_register(sim);
    const std::string answer = row.answer;
    SimDevice* device = sim.device.get();
    auto normal = device->on_command;
    device->on_command = [normal, answer](const Bytes& command) -> std::vector<Note> {
      if (to_hex(command) == "13000000") return {{kUpnp, hex(answer)}};
      return normal(command);
    };
    Outcome<StandardRegisterResult> outcome;
    StandardRegisterParams params;
    params.private_key = array_of<32>(kPrivateKey);
    start_standard_register(io, sim.link, params, short_timeouts(), outcome.handler());
    run(io);
    REQUIRE(outcome.calls == 1);
    REQUIRE(outcome.error);
    CHECK(outcome.error->kind == row.failure);
    if (row.failure == AuthFailure::device_error) CHECK(outcome.error->text.find(answer) != std::string::npos);
    CHECK(outcome.result.bind_key == BindKey{});  // no key without the device's 11000000
  }
}

TEST_CASE("standard register: an invalid device public key is malformed", "[xiaomi_ble][auth_session]") {
  asio::io_context io;
  auto sim = make_standard_device(io);
  script_register(sim);
  SimDevice* device = sim.device.get();
  device->on_received = [device](std::uint8_t type, const Bytes&) -> std::vector<Note> {
    Bytes bad = hex(kDevicePublicKey);
    bad[63] ^= 1;  // off the curve
    if (type == 0x03) return device->send(0x03, bad);
    return {};
  };
  Outcome<StandardRegisterResult> outcome;
  start_standard_register(io, sim.link, {}, short_timeouts(), outcome.handler());  // a random key pair
  run(io);
  REQUIRE(outcome.calls == 1);
  REQUIRE(outcome.error);
  CHECK(outcome.error->kind == AuthFailure::malformed);
}

TEST_CASE("standard register: a device without AVDTP is unsupported", "[xiaomi_ble][auth_session]") {
  asio::io_context io;
  auto sim = make_standard_device(io, {kToken, kUpnp});
  Outcome<StandardRegisterResult> outcome;
  start_standard_register(io, sim.link, {}, short_timeouts(), outcome.handler());
  run(io);
  REQUIRE(outcome.calls == 1);
  REQUIRE(outcome.error);
  CHECK(outcome.error->kind == AuthFailure::unsupported);
  CHECK(sim.link->writes.empty());
}

TEST_CASE("standard register: a silent device times out, RCV_ERR is a device error", "[xiaomi_ble][auth_session]") {
  {
    asio::io_context io;
    auto sim = make_standard_device(io);  // answers nothing
    Outcome<StandardRegisterResult> outcome;
    start_standard_register(io, sim.link, {}, short_timeouts(), outcome.handler());
    run(io);
    REQUIRE(outcome.calls == 1);
    REQUIRE(outcome.error);
    CHECK(outcome.error->kind == AuthFailure::timeout);
    CHECK(outcome.error->text.find("remote info") != std::string::npos);
  }
  {
    asio::io_context io;
    auto sim = make_standard_device(io);
    sim.device->on_command = [](const Bytes&) -> std::vector<Note> { return {{kAvdtp, hex("000001050300")}}; };
    Outcome<StandardRegisterResult> outcome;
    start_standard_register(io, sim.link, {}, short_timeouts(), outcome.handler());
    run(io);
    REQUIRE(outcome.calls == 1);
    REQUIRE(outcome.error);
    CHECK(outcome.error->kind == AuthFailure::device_error);
    CHECK(outcome.error->text.find("RCV_ERR") != std::string::npos);
  }
}

TEST_CASE("standard register: out-of-sequence and malformed frames", "[xiaomi_ble][auth_session]") {
  struct Row {
    const char* name;
    std::vector<const char*> notes;  // sent on AVDTP in answer to GET_INFO
  };
  const Row rows[] = {
      {"frame before header", {"0100aa"}},
      {"RCV_OK while receiving", {"00000100"}},
      {"zero-frame header", {"000000000000"}},
      {"remote info too long", {"000000000200", "0100" "0102030405060708090a0b0c0d0e0f101112",
                                "0200" "0102030405060708090a0b0c0d0e0f101112"}},
      {"remote info too short", {"000000000100", "0100" "0102030405"}},
      {"duplicate frame", {"000000000200", "0100aa", "0100aa"}},
      {"index beyond the header", {"000000000200", "0300aa"}},
      {"unknown control", {"00000109"}},
  };
  for (const Row& row : rows) {
    CAPTURE(row.name);
    asio::io_context io;
    auto sim = make_standard_device(io);
    std::vector<Note> notes;
    for (const char* note : row.notes) notes.push_back({kAvdtp, hex(note)});
    // Headers get RCV_RDY from us; the frames follow right after, without waiting for it.
    sim.device->on_command = [notes](const Bytes& command) -> std::vector<Note> {
      if (to_hex(command) == "a2000000") return notes;
      return {};
    };
    sim.link->script = [device = sim.device](std::uint16_t id, const Bytes& value) -> std::vector<Note> {
      if (id == kUpnp) return device->on_command(value);
      return {};
    };
    Outcome<StandardRegisterResult> outcome;
    start_standard_register(io, sim.link, {}, short_timeouts(), outcome.handler());
    run(io);
    REQUIRE(outcome.calls == 1);
    REQUIRE(outcome.error);
    CHECK(outcome.error->kind == AuthFailure::malformed);
  }
}

TEST_CASE("standard login: the §4.4 vector end to end", "[xiaomi_ble][auth_session]") {
  asio::io_context io;
  auto sim = make_standard_device(io);
  script_login(sim, kDeviceInfo);
  Outcome<StandardLoginResult> outcome;
  start_standard_login(io, sim.link, login_params(), short_timeouts(), outcome.handler());
  run(io);
  CHECK(sim.device->protocol_errors.empty());
  REQUIRE(outcome.calls == 1);
  if (outcome.error) FAIL(outcome.error->text);
  CHECK(hex_of(outcome.result.dev_key) == "3c2fdae69f8746663a7d91029724b072");
  CHECK(hex_of(outcome.result.app_key) == "12a4122dbe3cf60f3bdcb37139c34611");
  CHECK(hex_of(outcome.result.dev_iv) == "cd016050");
  CHECK(hex_of(outcome.result.app_iv) == "c87de6f1");
  CHECK(to_hex(sim.received[0x0b]) == kAppRandom);
  CHECK(to_hex(sim.received[0x0a]) == kAppInfo);
  CHECK(sim.link->writes_to(kUpnp) == std::vector<Bytes>{hex("24000000")});
  const std::vector<Bytes> avdtp = sim.link->writes_to(kAvdtp);
  REQUIRE(avdtp.size() >= 2);
  CHECK(to_hex(avdtp[0]) == "0000000b0100");
  CHECK(to_hex(avdtp[1]) == "0100" + std::string(kAppRandom));
}

TEST_CASE("standard login: a flipped byte in the device's proof is a mismatch", "[xiaomi_ble][auth_session]") {
  asio::io_context io;
  auto sim = make_standard_device(io);
  std::string flipped = kDeviceInfo;
  flipped[10] = flipped[10] == '0' ? '1' : '0';
  script_login(sim, flipped);
  Outcome<StandardLoginResult> outcome;
  start_standard_login(io, sim.link, login_params(), short_timeouts(), outcome.handler());
  run(io);
  REQUIRE(outcome.calls == 1);
  REQUIRE(outcome.error);
  CHECK(outcome.error->kind == AuthFailure::mismatch);
  CHECK(outcome.result.app_key == std::array<std::uint8_t, 16>{});
  CHECK(sim.received.count(0x0a) == 0);  // our proof is never sent to an unproven device
}

TEST_CASE("standard login: a wrong token is a mismatch", "[xiaomi_ble][auth_session]") {
  asio::io_context io;
  auto sim = make_standard_device(io);
  script_login(sim, kDeviceInfo);
  Outcome<StandardLoginResult> outcome;
  auto params = login_params();
  params.token[0] ^= 0x01;
  start_standard_login(io, sim.link, params, short_timeouts(), outcome.handler());
  run(io);
  REQUIRE(outcome.calls == 1);
  REQUIRE(outcome.error);
  CHECK(outcome.error->kind == AuthFailure::mismatch);
}

TEST_CASE("standard login: 23000000 and e-codes are device errors", "[xiaomi_ble][auth_session]") {
  for (const char* answer : {"23000000", "e0000000", "e3000000"}) {
    CAPTURE(answer);
    asio::io_context io;
    auto sim = make_standard_device(io);
    script_login(sim, kDeviceInfo, answer);
    Outcome<StandardLoginResult> outcome;
    start_standard_login(io, sim.link, login_params(), short_timeouts(), outcome.handler());
    run(io);
    REQUIRE(outcome.calls == 1);
    REQUIRE(outcome.error);
    CHECK(outcome.error->kind == AuthFailure::device_error);
    CHECK(outcome.error->text.find(answer) != std::string::npos);
  }
}

TEST_CASE("standard login: a random Ra when none is given", "[xiaomi_ble][auth_session]") {
  asio::io_context io;
  auto sim = make_standard_device(io);
  script_login(sim, kDeviceInfo);
  Outcome<StandardLoginResult> outcome;
  auto params = login_params();
  params.app_random.reset();
  start_standard_login(io, sim.link, params, short_timeouts(), outcome.handler());
  run(io);
  REQUIRE(outcome.calls == 1);
  // The scripted device's proof is for the vector's Ra: with another Ra it cannot match.
  REQUIRE(outcome.error);
  CHECK(outcome.error->kind == AuthFailure::mismatch);
  REQUIRE(sim.received.count(0x0b));
  CHECK(to_hex(sim.received[0x0b]) != kAppRandom);
  CHECK(sim.received[0x0b].size() == 16);
}

TEST_CASE("standard login: a disconnect mid-transfer is a link failure", "[xiaomi_ble][auth_session]") {
  asio::io_context io;
  auto sim = make_standard_device(io);
  script_login(sim, kDeviceInfo);
  auto link = sim.link.get();
  auto device = sim.device;
  sim.link->script = [link, device](std::uint16_t id, const Bytes& value) -> std::vector<Note> {
    if (id == kAvdtp && value.size() == 18 && value[0] == 0x01) link->disconnect();  // Ra's frame
    return device->on_write(id, value);
  };
  Outcome<StandardLoginResult> outcome;
  start_standard_login(io, sim.link, login_params(), short_timeouts(), outcome.handler());
  run(io);
  REQUIRE(outcome.calls == 1);
  REQUIRE(outcome.error);
  CHECK(outcome.error->kind == AuthFailure::link);
  REQUIRE(outcome.error->gatt);
  CHECK(outcome.error->gatt->kind == GattErrorKind::disconnected);
}
