// The Midea LAN session (V2 and V3) against in-process fake air conditioners on 127.0.0.1.
// The fake device is built from the codec's device-side encoders (handshake response, V3 response,
// V2 reply packet, 0xAA C0 state frame) and decodes what the session sends with the device-side
// decoders, so every request is checked on the wire. The V3 keys are the synthetic vector of
// docs/midea.md §3.3 (key 00..1f, device random 20..3f → session key 32 × 0x20, verified
// there with python3-cryptography): the fake device decrypts with that expected key, not with one
// the session computed. The loop is driven with run_for; every wait is bounded.
#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio.hpp>

#include "protocols/midea/ac_commands.h"
#include "protocols/midea/ac_frame.h"
#include "protocols/midea/ac_state.h"
#include "protocols/midea/frame_v3.h"
#include "protocols/midea/lan_session.h"
#include "protocols/midea/packet_v2.h"
#include "protocols/midea/stream_reassembler.h"

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace cloudless;
using namespace cloudless::midea;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

template <std::size_t N>
std::array<std::uint8_t, N> counting(std::uint8_t first) {
  std::array<std::uint8_t, N> out{};
  for (std::size_t i = 0; i < N; ++i) out[i] = static_cast<std::uint8_t>(first + i);
  return out;
}

// docs/midea.md §3.3 synthetic vector: key = 00..1f, device random R = 20..3f → tcp key = R XOR key = 32 × 0x20.
const V3Key kKey = counting<32>(0x00);
const V3HandshakeRandom kRandom = counting<32>(0x20);
const V3TcpKey kTcpKey = [] {
  V3TcpKey key;
  key.fill(0x20);
  return key;
}();
const V3Token kToken = counting<64>(0x80);  // any 64 bytes: the device only records it
constexpr std::uint64_t kApplianceId = 15393162840672;  // the id of docs/midea.md §7.4's V2 vector

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& part : parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

struct SeenRequest {
  V2Header header;
  AcFrame frame;
  std::optional<std::uint16_t> v3_counter;
  Clock::time_point at;
};

class FakeAc;

// One accepted TCP connection of the fake device.
class FakeConnection : public std::enable_shared_from_this<FakeConnection> {
 public:
  FakeConnection(FakeAc& device, tcp::socket socket, bool v3)
      : device_(device),
        socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        reassembler_(v3 ? StreamFraming::v3 : StreamFraming::v2) {}

  void read();
  // Writes the chunks in order, `gap` apart, then closes the connection if asked to.
  void send(std::vector<Bytes> chunks, std::chrono::milliseconds gap = 0ms, bool close_after = false) {
    for (Bytes& chunk : chunks) pending_.push_back(std::move(chunk));
    gap_ = gap;
    close_after_ = close_after_ || close_after;
    if (!writing_) write_next();
  }
  void close() {
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    open_ = false;
  }
  bool authenticated = false;

 private:
  void write_next() {
    if (!open_) return;
    if (pending_.empty()) {
      writing_ = false;
      if (close_after_) close();
      return;
    }
    writing_ = true;
    auto chunk = std::make_shared<Bytes>(std::move(pending_.front()));
    pending_.erase(pending_.begin());
    asio::async_write(socket_, asio::buffer(*chunk), [self = shared_from_this(), chunk](auto error, std::size_t) {
      if (error) return;
      if (self->gap_.count() == 0 || self->pending_.empty()) {
        self->write_next();
        return;
      }
      self->timer_.expires_after(self->gap_);
      self->timer_.async_wait([self](auto e) {
        if (!e) self->write_next();
      });
    });
  }

  FakeAc& device_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  StreamReassembler reassembler_;
  std::array<std::uint8_t, 1024> buffer_{};
  std::vector<Bytes> pending_;
  std::chrono::milliseconds gap_{0};
  bool writing_ = false;
  bool close_after_ = false;
  bool open_ = true;
};

// A Midea AC on 127.0.0.1:<random port>, V2 or V3. Answers 0x41 queries and 0x40 sets with a C0
// state frame unless a script says otherwise.
class FakeAc {
 public:
  FakeAc(asio::io_context& io, bool v3)
      : io_(io), v3_(v3), acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), reopen_timer_(io) {
    port_ = acceptor_.local_endpoint().port();
    state.power = true;
    state.mode = AcMode::cool;
    state.target_temperature = 24.5;
    state.indoor_temperature = 27.5;
    accept();
  }

  std::uint16_t port() const { return port_; }
  bool v3() const { return v3_; }

  // ---- behaviour ----
  V3Key answer_key = kKey;          // the key the handshake answer is encrypted under
  bool answer_handshake_error = false;
  bool ignore_handshake = false;    // accept TCP, never answer the handshake
  bool silent = false;              // decode requests, never answer
  bool close_after_reply = false;   // the "drops the connection every few minutes" case, every time
  std::chrono::milliseconds refuse_after_close{0};  // then refuse new connections this long
  std::chrono::milliseconds byte_gap{0};             // > 0: write replies one byte at a time
  std::set<std::size_t> close_on_requests;  // close the connection instead of answering these (1-based)
  std::chrono::milliseconds reply_delay{0};  // answer this late (the answer is computed on arrival)
  // Replaces the normal answer: returns the writes to make (each one async_write).
  std::function<std::vector<Bytes>(const SeenRequest&)> script;
  AcState state;

  // ---- what the device saw ----
  int accepts = 0;
  std::vector<V3Token> handshake_tokens;
  std::vector<std::uint16_t> handshake_counters;
  std::vector<Clock::time_point> handshake_times;
  std::vector<SeenRequest> requests;
  int undecodable = 0;

  // ---- device-side encoders for scripts ----
  Bytes state_frame(std::uint8_t frame_type = 0x03) const {
    AcFrame frame;
    frame.frame_type = frame_type;
    frame.protocol_version = 3;
    frame.body = encode_ac_state_body(state);
    return encode_ac_frame(frame);
  }
  static Bytes notify_frame() {
    AcFrame frame;
    frame.frame_type = static_cast<std::uint8_t>(FrameType::notify1);
    frame.body = {0xA1, 0x01, 0x02, 0x03, 0x04};
    return encode_ac_frame(frame);
  }
  static Bytes v2_reply(ByteView frame) {
    V2Header header;
    header.flags = kV2FlagsReply;
    header.device_id = kApplianceId;
    return encode_v2_packet(header, frame);
  }
  // What goes on the wire for one frame: the V2 reply packet, wrapped in a V3 response on V3.
  Bytes wrap(ByteView frame) const {
    const Bytes v2 = v2_reply(frame);
    return v3_ ? encode_v3_response(kTcpKey, 0, v2) : v2;
  }
  Bytes wrap_v2_packet(ByteView v2) const { return v3_ ? encode_v3_response(kTcpKey, 0, v2) : Bytes(v2.begin(), v2.end()); }
  Bytes normal_reply(const SeenRequest& request) {
    if (request.frame.body_type() == body_type::kSetState) {
      auto set = parse_ac_set_state(request.frame.body);
      CHECK(set.has_value());
      if (set) {
        const AcState readings = state;
        state = set->state;
        state.indoor_temperature = readings.indoor_temperature;
        state.outdoor_temperature = readings.outdoor_temperature;
      }
      return wrap(state_frame(0x02));
    }
    return wrap(state_frame());
  }

  void handle(const std::shared_ptr<FakeConnection>& connection, ByteView packet) {
    Bytes v2;
    std::optional<std::uint16_t> counter;
    if (v3_) {
      if (!connection->authenticated) {
        auto hello = parse_v3_handshake_request(packet);
        REQUIRE(hello.has_value());
        handshake_tokens.push_back(hello->token);
        handshake_counters.push_back(hello->counter);
        handshake_times.push_back(Clock::now());
        if (ignore_handshake) return;
        if (answer_handshake_error) {
          connection->send({encode_v3_error()});
          return;
        }
        connection->authenticated = true;
        connection->send({encode_v3_handshake_response(answer_key, hello->counter, kRandom)});
        return;
      }
      auto message = decode_v3_message(kTcpKey, packet);
      if (!message || message->type != V3Type::encrypted_request) {
        ++undecodable;
        return;
      }
      counter = message->counter;
      v2 = message->data;
    } else {
      v2.assign(packet.begin(), packet.end());
    }
    auto decoded = decode_v2_packet(v2);
    if (!decoded) {
      ++undecodable;
      return;
    }
    auto frame = parse_ac_frame(decoded->payload);
    if (!frame) {
      ++undecodable;
      return;
    }
    requests.push_back({decoded->header, *frame, counter, Clock::now()});
    if (silent) return;
    if (close_on_requests.count(requests.size()) != 0) {
      connection->close();
      return;
    }
    std::vector<Bytes> writes = script ? script(requests.back()) : std::vector<Bytes>{normal_reply(requests.back())};
    if (byte_gap.count() > 0) {
      std::vector<Bytes> bytes;
      for (const Bytes& write : writes)
        for (std::uint8_t b : write) bytes.push_back({b});
      writes = std::move(bytes);
    }
    if (reply_delay.count() > 0) {
      auto timer = std::make_shared<asio::steady_timer>(io_, reply_delay);
      timer->async_wait([this, timer, connection, writes = std::move(writes)](const boost::system::error_code& error) mutable {
        if (!error) connection->send(std::move(writes), byte_gap, close_after_reply);
      });
      return;
    }
    connection->send(std::move(writes), byte_gap, close_after_reply);
    if (close_after_reply && refuse_after_close.count() > 0) refuse_for(refuse_after_close);
  }

 private:
  void accept() {
    acceptor_.async_accept([this](const boost::system::error_code& error, tcp::socket socket) {
      if (error) return;
      ++accepts;
      auto connection = std::make_shared<FakeConnection>(*this, std::move(socket), v3_);
      connections_.push_back(connection);
      connection->read();
      accept();
    });
  }

  // Closes the listening socket (connects are refused) and reopens it on the same port later.
  void refuse_for(std::chrono::milliseconds duration) {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    reopen_timer_.expires_after(duration);
    reopen_timer_.async_wait([this](const boost::system::error_code& error) {
      if (error) return;
      const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port_);
      acceptor_.open(endpoint.protocol());
      acceptor_.set_option(tcp::acceptor::reuse_address(true));
      acceptor_.bind(endpoint);
      acceptor_.listen();
      accept();
    });
  }

  asio::io_context& io_;
  bool v3_;
  tcp::acceptor acceptor_;
  asio::steady_timer reopen_timer_;
  std::uint16_t port_ = 0;
  std::vector<std::shared_ptr<FakeConnection>> connections_;
};

void FakeConnection::read() {
  socket_.async_read_some(asio::buffer(buffer_), [self = shared_from_this()](auto error, std::size_t n) {
    if (error || !self->open_) return;
    StreamChunk chunk = self->reassembler_.feed(ByteView(self->buffer_.data(), n));
    REQUIRE_FALSE(chunk.error.has_value());
    CHECK(chunk.skipped == 0);  // the session never sends garbage
    for (const Bytes& packet : chunk.frames) self->device_.handle(self, packet);
    self->read();
  });
}

struct LinkLog {
  int connected = 0;
  int disconnected = 0;
  int authentication_failed = 0;
  std::vector<std::string> details;
};

struct Harness {
  asio::io_context io;
  FakeAc device;
  LanSessionOptions options;
  std::shared_ptr<LanSession> session;
  LinkLog links;
  std::vector<std::string> rejects;
  std::vector<AcFrame> unsolicited;

  explicit Harness(bool v3) : device(io, v3) {
    options.host = "127.0.0.1";
    options.port = device.port();
    options.appliance_id = kApplianceId;
    if (v3) {
      options.token = kToken;
      options.key = kKey;
    }
    options.timeout = 300ms;
    options.retries = 2;
    options.settle_after_handshake = 0ms;
    options.backoff_initial = 50ms;
    options.backoff_max = 400ms;
  }
  ~Harness() {
    if (session) session->stop();
  }

  LanSession& open() {
    session = LanSession::create(io, options);
    session->on_link([this](LinkEvent event, const std::string& detail) {
      links.details.push_back(detail);
      if (event == LinkEvent::connected) ++links.connected;
      if (event == LinkEvent::disconnected) ++links.disconnected;
      if (event == LinkEvent::authentication_failed) ++links.authentication_failed;
    });
    session->on_reject([this](const std::string& what) { rejects.push_back(what); });
    session->on_unsolicited([this](const AcFrame& frame) { unsolicited.push_back(frame); });
    return *session;
  }

  void run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 3000ms) {
    const auto end = Clock::now() + limit;
    while (!done() && Clock::now() < end) {
      io.run_for(5ms);
      if (io.stopped()) io.restart();
    }
  }
  void run_for(std::chrono::milliseconds duration) {
    const auto end = Clock::now() + duration;
    while (Clock::now() < end) {
      io.run_for(5ms);
      if (io.stopped()) io.restart();
    }
  }

  std::optional<RequestResult> call(Bytes frame = encode_ac_query_state(1),
                                    std::uint8_t reply_type = body_type::kState,
                                    std::chrono::milliseconds limit = 3000ms) {
    if (!session) open();
    std::optional<RequestResult> result;
    session->request(std::move(frame), reply_type, [&result](const RequestResult& r) { result = r; });
    run_until([&] { return result.has_value(); }, limit);
    return result;
  }
};

AcState reply_state(const RequestResult& result) {
  REQUIRE(result.ok());
  REQUIRE(result.reply.body_type() == body_type::kState);
  auto state = parse_ac_state(result.reply.body);
  REQUIRE(state.has_value());
  return *state;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("midea lan V2: request and reply, the header the device sees", "[midea][lan]") {
  Harness h(false);
  const auto first = h.call(encode_ac_query_state(7));
  REQUIRE(first);
  REQUIRE(first->ok());
  CHECK(first->detail.empty());
  CHECK(reply_state(*first) == h.device.state);

  const auto second = h.call(encode_ac_query_state(8));
  REQUIRE(second);
  CHECK(second->ok());

  REQUIRE(h.device.requests.size() == 2);
  for (const SeenRequest& seen : h.device.requests) {
    CHECK(seen.header.message_type == kV2TypeCommand);
    CHECK(seen.header.flags == kV2FlagsRequest);
    CHECK(seen.header.device_id == kApplianceId);
    CHECK_FALSE(seen.v3_counter.has_value());
    // Timestamp bytes: centiseconds, s, min, h, day, month, year % 100, year / 100 (UTC now).
    CHECK(seen.header.timestamp[0] < 100);
    CHECK(seen.header.timestamp[1] < 60);
    CHECK(seen.header.timestamp[3] < 24);
    CHECK(seen.header.timestamp[5] >= 1);
    CHECK(seen.header.timestamp[5] <= 12);
    CHECK(seen.header.timestamp[7] == 20);
  }
  CHECK(h.device.requests[0].frame.body == parse_ac_frame(encode_ac_query_state(7))->body);
  CHECK(h.device.requests[1].header.message_id == h.device.requests[0].header.message_id + 1);
  CHECK(h.device.accepts == 1);  // one long-lived connection
  const LanSessionCounters& c = h.session->counters();
  CHECK(c.requests == 2);
  CHECK(c.replies == 2);
  CHECK(c.connects == 1);
  CHECK(c.handshakes == 0);
  CHECK(c.timeouts == 0);
  CHECK(h.session->connected());
  CHECK(h.links.connected == 1);
  CHECK(h.rejects.empty());
}

TEST_CASE("midea lan V3: handshake with our token, encrypted counted requests, set state", "[midea][lan]") {
  Harness h(true);
  const auto query = h.call(encode_ac_query_state(1));
  REQUIRE(query);
  REQUIRE(query->ok());
  CHECK(reply_state(*query) == h.device.state);

  AcState wanted = h.device.state;
  wanted.mode = AcMode::heat;
  wanted.target_temperature = 21.0;
  wanted.fan_speed = kFanLow;
  const auto set = h.call(encode_ac_set_state(wanted, 2), body_type::kState);
  REQUIRE(set);
  REQUIRE(set->ok());
  const AcState after = reply_state(*set);
  CHECK(after.mode == AcMode::heat);
  CHECK(after.target_temperature == 21.0);
  CHECK(after.fan_speed == kFanLow);
  CHECK(h.device.state.mode == AcMode::heat);  // the device parsed the set command

  const auto third = h.call(encode_ac_query_state(3));
  REQUIRE(third);
  CHECK(third->ok());

  // One connection, one handshake carrying our token with counter 0; the requests decrypt under
  // the session key of the docs/midea.md vector and count up from there.
  CHECK(h.device.accepts == 1);
  REQUIRE(h.device.handshake_tokens.size() == 1);
  CHECK(h.device.handshake_tokens[0] == kToken);
  CHECK(h.device.handshake_counters[0] == 0);
  CHECK(h.device.undecodable == 0);
  REQUIRE(h.device.requests.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    REQUIRE(h.device.requests[i].v3_counter.has_value());
    CHECK(*h.device.requests[i].v3_counter == i + 1);
    CHECK(h.device.requests[i].header.device_id == kApplianceId);
  }
  const LanSessionCounters& c = h.session->counters();
  CHECK(c.handshakes == 1);
  CHECK(c.connects == 1);
  CHECK(c.replies == 3);
  CHECK(c.auth_failures == 0);
  CHECK(h.links.connected == 1);
}

TEST_CASE("midea lan V3: settle_after_handshake delays the first request", "[midea][lan]") {
  Harness h(true);
  h.options.settle_after_handshake = 60ms;
  const auto result = h.call();
  REQUIRE(result);
  REQUIRE(result->ok());
  REQUIRE(h.device.handshake_times.size() == 1);
  REQUIRE(h.device.requests.size() == 1);
  CHECK(h.device.requests[0].at - h.device.handshake_times[0] >= 55ms);
}

TEST_CASE("midea lan V3: junk and a reply arriving one byte at a time", "[midea][lan]") {
  Harness h(true);
  h.device.byte_gap = 1ms;  // ~160 separate writes
  h.device.script = [&](const SeenRequest& request) {
    return std::vector<Bytes>{concat({Bytes{1, 2, 3, 4, 5, 6, 7, 8}, h.device.normal_reply(request)})};
  };
  h.options.timeout = 2000ms;
  const auto result = h.call();
  REQUIRE(result);
  REQUIRE(result->ok());
  CHECK(reply_state(*result) == h.device.state);
  CHECK(h.session->counters().skipped_bytes == 8);
  CHECK(h.session->counters().bad_packets == 0);
  // Eight reads of one junk byte each, reported once, when the packet was found.
  REQUIRE(h.rejects.size() == 1);
  CHECK(h.rejects[0] == "skipped 8 stream bytes before a packet magic");
}

TEST_CASE("midea lan V3: a late answer to an earlier send is not taken for the next reply", "[midea][lan]") {
  // Every answer comes 150 ms late with a 100 ms timeout: request 1 is sent twice and completed
  // by the answer to its first send; the answer to its second send (the old state) is still on
  // its way when the set is sent. It must not complete the set.
  Harness h(true);
  h.device.reply_delay = 150ms;
  h.options.timeout = 100ms;
  const auto query = h.call();
  REQUIRE(query);
  REQUIRE(query->ok());
  CHECK(h.device.requests.size() == 2);

  AcState wanted = h.device.state;
  wanted.mode = AcMode::heat;
  const auto set = h.call(encode_ac_set_state(wanted, 2));
  REQUIRE(set);
  REQUIRE(set->ok());
  CHECK(reply_state(*set).mode == AcMode::heat);
  CHECK(h.device.accepts == 2);  // the connection that could still carry a stale answer was closed
  CHECK(h.session->counters().disconnects == 0);  // our own close is not a loss
}

TEST_CASE("midea lan V3: a reply and a notification merged in one write", "[midea][lan]") {
  Harness h(true);
  h.device.script = [&](const SeenRequest& request) {
    return std::vector<Bytes>{concat({h.device.normal_reply(request), h.device.wrap(FakeAc::notify_frame())})};
  };
  const auto result = h.call();
  REQUIRE(result);
  REQUIRE(result->ok());
  CHECK(result->reply.body_type() == body_type::kState);
  h.run_until([&] { return !h.unsolicited.empty(); }, 500ms);
  REQUIRE(h.unsolicited.size() == 1);
  CHECK(h.unsolicited[0].body_type() == 0xA1);
  CHECK(h.session->counters().unsolicited == 1);
  CHECK(h.session->counters().replies == 1);
}

TEST_CASE("midea lan V2: an unsolicited frame before the reply goes to the handler", "[midea][lan]") {
  Harness h(false);
  h.device.script = [&](const SeenRequest& request) {
    // A notification, then (a separate write) a C0 with frame type 0x05 — a notification type,
    // which must not be taken for the answer — then the real reply.
    return std::vector<Bytes>{h.device.wrap(FakeAc::notify_frame()), h.device.wrap(h.device.state_frame(0x05)),
                              h.device.normal_reply(request)};
  };
  const auto result = h.call();
  REQUIRE(result);
  REQUIRE(result->ok());
  CHECK(result->reply.frame_type == 0x03);
  REQUIRE(h.unsolicited.size() == 2);
  CHECK(h.unsolicited[0].body_type() == 0xA1);
  CHECK(h.unsolicited[1].body_type() == body_type::kState);
  CHECK(h.unsolicited[1].frame_type == 0x05);
  CHECK(h.session->counters().unsolicited == 2);
}

TEST_CASE("midea lan V2: garbage bytes before a packet are skipped and counted", "[midea][lan]") {
  Harness h(false);
  const Bytes garbage{0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07};
  h.device.script = [&](const SeenRequest& request) {
    return std::vector<Bytes>{concat({garbage, h.device.normal_reply(request)})};
  };
  const auto result = h.call();
  REQUIRE(result);
  REQUIRE(result->ok());
  CHECK(h.session->counters().skipped_bytes == 7);
  REQUIRE(h.rejects.size() == 1);
  CHECK(contains(h.rejects[0], "skipped 7"));
}

TEST_CASE("midea lan V2: bad V2 sign and bad 0xAA checksum are rejected, the good reply still counts", "[midea][lan]") {
  Harness h(false);
  h.device.script = [&](const SeenRequest& request) {
    Bytes bad_sign = h.device.normal_reply(request);
    bad_sign.back() ^= 0x01;
    Bytes bad_checksum_frame = h.device.state_frame();
    bad_checksum_frame.back() ^= 0xFF;
    return std::vector<Bytes>{bad_sign, h.device.wrap(bad_checksum_frame), h.device.normal_reply(request)};
  };
  const auto result = h.call();
  REQUIRE(result);
  REQUIRE(result->ok());
  const LanSessionCounters& c = h.session->counters();
  CHECK(c.bad_packets == 1);
  CHECK(c.bad_frames == 1);
  CHECK(c.replies == 1);
  REQUIRE(h.rejects.size() == 2);
  CHECK(contains(h.rejects[0], "V2"));
  CHECK(contains(h.rejects[0], "sign"));
  CHECK(contains(h.rejects[1], "0xAA"));
  CHECK(contains(h.rejects[1], "checksum"));
}

TEST_CASE("midea lan V3: a packet under the wrong session key is rejected", "[midea][lan]") {
  Harness h(true);
  h.device.script = [&](const SeenRequest& request) {
    V3TcpKey other = kTcpKey;
    other[0] ^= 1;
    const Bytes v2 = FakeAc::v2_reply(h.device.state_frame());
    return std::vector<Bytes>{encode_v3_response(other, 0, v2), h.device.normal_reply(request)};
  };
  const auto result = h.call();
  REQUIRE(result);
  REQUIRE(result->ok());
  CHECK(h.session->counters().bad_packets == 1);
  REQUIRE(h.rejects.size() == 1);
  CHECK(contains(h.rejects[0], "V3"));
}

TEST_CASE("midea lan V3: wrong key is an authentication failure without a reconnect loop", "[midea][lan]") {
  Harness h(true);
  h.device.answer_key[5] ^= 0x40;  // the device's answer does not verify under our key
  h.options.backoff_initial = 150ms;
  h.options.backoff_max = 1000ms;
  const auto first = h.call();
  REQUIRE(first);
  CHECK(first->failure == RequestFailure::authentication);
  CHECK(contains(first->detail, "authentication failed: check token/key"));
  CHECK(h.links.authentication_failed == 1);
  CHECK(h.session->counters().auth_failures == 1);
  CHECK_FALSE(h.session->connected());

  // Keep asking for 400 ms: the requests during the backoff fail at once without connecting; at
  // most a retry after 150 ms (and one after 150 + 300 ms) reaches the device.
  int failures = 0;
  const auto end = Clock::now() + 400ms;
  while (Clock::now() < end) {
    const auto result = h.call(encode_ac_query_state(2), body_type::kState, 1000ms);
    REQUIRE(result);
    CHECK(result->failure == RequestFailure::authentication);
    CHECK(contains(result->detail, "authentication failed: check token/key"));
    ++failures;
    h.run_for(5ms);
  }
  CHECK(failures > 10);
  CHECK(h.device.accepts >= 2);  // it does try again after the backoff
  CHECK(h.device.accepts <= 3);
  CHECK(h.session->counters().auth_failures == static_cast<std::uint64_t>(h.device.accepts));
  CHECK(h.device.requests.empty());
}

TEST_CASE("midea lan V3: handshake answered ERROR is an authentication failure", "[midea][lan]") {
  Harness h(true);
  h.device.answer_handshake_error = true;
  const auto result = h.call();
  REQUIRE(result);
  CHECK(result->failure == RequestFailure::authentication);
  CHECK(contains(result->detail, "authentication failed: check token/key"));
  CHECK(contains(result->detail, "ERROR"));
  CHECK(h.session->counters().auth_failures == 1);
  CHECK(h.session->counters().handshakes == 0);
  CHECK(h.device.accepts == 1);
}

TEST_CASE("midea lan V3: ERROR mid-session → reconnect, re-handshake, the request still succeeds", "[midea][lan]") {
  Harness h(true);
  h.device.script = [&](const SeenRequest& request) {
    if (h.device.requests.size() == 2) return std::vector<Bytes>{encode_v3_error()};
    return std::vector<Bytes>{h.device.normal_reply(request)};
  };
  const auto first = h.call();
  REQUIRE(first);
  REQUIRE(first->ok());
  const auto second = h.call();
  REQUIRE(second);
  REQUIRE(second->ok());
  CHECK(h.device.handshake_tokens.size() == 2);
  CHECK(h.device.accepts == 2);
  CHECK(h.device.requests.size() == 3);  // the second request was sent again after re-authenticating
  const LanSessionCounters& c = h.session->counters();
  CHECK(c.reauth_requests == 1);
  CHECK(c.handshakes == 2);
  CHECK(c.auth_failures == 0);
  CHECK(h.links.authentication_failed == 0);
  // A new connection starts its counter again at the handshake.
  CHECK(h.device.handshake_counters[1] == 0);
  CHECK(*h.device.requests[2].v3_counter == 1);
}

TEST_CASE("midea lan V3: the device drops the connection after every reply, nobody notices", "[midea][lan]") {
  Harness h(true);
  h.device.close_after_reply = true;
  for (int i = 0; i < 5; ++i) {
    CAPTURE(i);
    const auto result = h.call(encode_ac_query_state(static_cast<std::uint8_t>(i)));
    REQUIRE(result);
    CHECK(result->ok());
    h.run_for(10ms);  // let the close arrive while idle
  }
  CHECK(h.device.accepts == 5);
  CHECK(h.device.requests.size() == 5);
  const LanSessionCounters& c = h.session->counters();
  CHECK(c.connects == 5);
  CHECK(c.handshakes == 5);
  CHECK(c.disconnects == 5);
  CHECK(c.timeouts == 0);
  CHECK(c.auth_failures == 0);
  CHECK(h.links.disconnected == 5);
  CHECK_FALSE(h.session->connected());
}

TEST_CASE("midea lan V2: the device drops and refuses connections for a while, requests still succeed", "[midea][lan]") {
  Harness h(false);
  h.device.close_after_reply = true;
  h.device.refuse_after_close = 60ms;
  h.options.backoff_initial = 25ms;
  h.options.retries = 3;
  for (int i = 0; i < 3; ++i) {
    CAPTURE(i);
    const auto result = h.call(encode_ac_query_state(static_cast<std::uint8_t>(i)));
    REQUIRE(result);
    CHECK(result->ok());
  }
  CHECK(h.device.accepts == 3);
  CHECK(h.session->counters().connects == 3);
  // Each request after a drop met at least one refused connect before the device listened again.
  CHECK(h.device.requests.size() == 3);
}

TEST_CASE("midea lan V2: a reply racing the next request on a half-closed connection", "[midea][lan]") {
  // No pause between requests: the next request may be written before the close is seen; the
  // lost attempt on the old connection must be retried on a new one without a visible failure.
  Harness h(false);
  h.device.close_after_reply = true;
  h.options.retries = 0;  // only the free retry for a reused connection can save it
  for (int i = 0; i < 4; ++i) {
    CAPTURE(i);
    const auto result = h.call();
    REQUIRE(result);
    CHECK(result->ok());
  }
  CHECK(h.device.accepts == 4);
}

TEST_CASE("midea lan V3: an idle connection found dead by the next request costs no attempt", "[midea][lan]") {
  // The connection answered request 1, then the device closes it when request 2 arrives (it had
  // dropped it meanwhile). The loss of a connection that predates the request is retried on a
  // new one for free: even with retries = 0 the request succeeds.
  Harness h(true);
  h.device.close_on_requests = {2};
  h.options.retries = 0;
  const auto first = h.call();
  REQUIRE(first);
  REQUIRE(first->ok());
  const auto second = h.call();
  REQUIRE(second);
  CHECK(second->ok());
  CHECK(h.device.accepts == 2);
  CHECK(h.device.requests.size() == 3);
  CHECK(h.session->counters().disconnects == 1);
  CHECK(h.session->counters().handshakes == 2);

  SECTION("but only once: the retry's own new connection lost the same way uses up the attempt") {
    // Request 3: send 4 on the reused connection → closed → free retry; send 5 on a new
    // connection → closed again → with retries = 0 it fails.
    h.device.close_on_requests = {4, 5};
    const auto third = h.call();
    REQUIRE(third);
    CHECK(third->failure == RequestFailure::timeout);
    CHECK(h.device.requests.size() == 5);
    CHECK(h.device.accepts == 3);
  }
}

TEST_CASE("midea lan V2: a connection lost twice for one request with retries = 0 fails", "[midea][lan]") {
  // Request 1 opens the connection and the device closes it on arrival: that connection was made
  // for the request, so no free retry; with retries = 0 the request fails (not a hot loop).
  Harness h(false);
  h.device.close_on_requests = {1};
  h.options.retries = 0;
  const auto result = h.call();
  REQUIRE(result);
  CHECK(result->failure == RequestFailure::timeout);  // it had been connected
  CHECK(contains(result->detail, "closed by the device"));
  CHECK(h.device.accepts == 1);
}

TEST_CASE("midea lan V2: a silent device → timeout after retries + 1 attempts", "[midea][lan]") {
  Harness h(false);
  h.device.silent = true;
  h.options.timeout = 100ms;
  const auto start = Clock::now();
  const auto result = h.call();
  REQUIRE(result);
  CHECK(result->failure == RequestFailure::timeout);
  CHECK(Clock::now() - start >= 300ms);
  CHECK(h.device.requests.size() == 3);
  // Two sends on the first connection, then a fresh connection for the last attempt.
  CHECK(h.device.accepts == 2);
  CHECK(h.session->counters().timeouts == 3);
  CHECK(h.session->counters().requests == 3);
  CHECK(h.session->counters().replies == 0);
}

TEST_CASE("midea lan: nothing listening → unreachable", "[midea][lan]") {
  asio::io_context probe;
  tcp::acceptor closed(probe, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const std::uint16_t port = closed.local_endpoint().port();
  closed.close();

  for (bool v3 : {false, true}) {
    CAPTURE(v3);
    Harness h(v3);
    h.options.port = port;
    h.options.backoff_initial = 10ms;
    const auto result = h.call();
    REQUIRE(result);
    CHECK(result->failure == RequestFailure::unreachable);
    CHECK(contains(result->detail, "refused"));
    CHECK(h.session->counters().connects == 0);
    CHECK(request_failure_name(result->failure) == "unreachable");
  }
}

TEST_CASE("midea lan V3: TCP up but no handshake answer → timeout, also while backing off", "[midea][lan]") {
  Harness h(true);
  h.device.ignore_handshake = true;
  h.options.timeout = 100ms;  // budget per request: 3 × 100 ms
  h.options.backoff_initial = 60ms;
  // A request waits for a running backoff when what is left of it ≤ budget − timeout = 200 ms.
  // Request 1: handshake timeout at 100 ms, backoff 60 ms (waits), second try times out at
  // 260 ms, backoff 120 ms would end after the budget: timeout.
  const auto first = h.call();
  REQUIRE(first);
  CHECK(first->failure == RequestFailure::timeout);
  CHECK(contains(first->detail, "no handshake answer"));
  CHECK(h.device.accepts == 2);
  // Request 2 waits out that 120 ms backoff and tries once more; the backoff grows to 240 ms.
  const auto second = h.call();
  REQUIRE(second);
  CHECK(second->failure == RequestFailure::timeout);
  CHECK(h.device.accepts == 3);
  // Request 3 meets that 240 ms backoff: it fails at once, with the kind of failure the last try met
  // (TCP answered, the handshake did not): timeout, not unreachable.
  const auto start = Clock::now();
  const auto third = h.call();
  REQUIRE(third);
  CHECK(Clock::now() - start < 100ms);
  CHECK(third->failure == RequestFailure::timeout);
  CHECK(h.device.accepts == 3);
  CHECK(h.session->counters().handshakes == 0);
  CHECK(h.session->counters().auth_failures == 0);
}

TEST_CASE("midea lan V2: a host name is resolved first", "[midea][lan]") {
  Harness h(false);
  h.options.host = "localhost";
  const auto result = h.call();
  REQUIRE(result);
  CHECK(result->ok());
  CHECK(h.device.accepts == 1);
}

TEST_CASE("midea lan V3: lost framing closes the connection, the request is retried", "[midea][lan]") {
  Harness h(true);
  h.device.script = [&](const SeenRequest& request) {
    // A V3 header declaring 65535 + 8 bytes: above the 4096-byte limit, framing is lost.
    if (h.device.requests.size() == 1) return std::vector<Bytes>{Bytes{0x83, 0x70, 0xFF, 0xFF, 0x20, 0x03, 0x00, 0x00}};
    return std::vector<Bytes>{h.device.normal_reply(request)};
  };
  const auto result = h.call();
  REQUIRE(result);
  REQUIRE(result->ok());
  CHECK(h.session->counters().framing_errors == 1);
  CHECK(h.device.accepts == 2);
  CHECK(h.device.handshake_tokens.size() == 2);
  REQUIRE_FALSE(h.rejects.empty());
  CHECK(contains(h.rejects[0], "framing lost"));
}

TEST_CASE("midea lan V3: session_lifetime reached → reconnect and new handshake", "[midea][lan]") {
  Harness h(true);
  h.options.session_lifetime = std::chrono::seconds(0);  // every request finds the key too old
  for (int i = 0; i < 3; ++i) {
    const auto result = h.call();
    REQUIRE(result);
    CHECK(result->ok());
  }
  CHECK(h.device.handshake_tokens.size() == 3);
  CHECK(h.device.accepts == 3);
  CHECK(h.session->counters().handshakes == 3);
  CHECK(h.session->counters().disconnects == 0);  // renewals are not losses
}

TEST_CASE("midea lan: stop() with a request pending → no callback, socket closed", "[midea][lan]") {
  Harness h(true);
  h.device.silent = true;
  h.options.timeout = 100ms;
  h.open();
  int calls = 0;
  h.session->request(encode_ac_query_state(1), body_type::kState, [&](const RequestResult&) { ++calls; });
  h.session->request(encode_ac_query_state(2), body_type::kState, [&](const RequestResult&) { ++calls; });
  h.run_until([&] { return !h.device.requests.empty(); }, 1000ms);
  REQUIRE(h.device.requests.size() == 1);
  h.session->stop();
  CHECK_FALSE(h.session->connected());
  h.session->request(encode_ac_query_state(3), body_type::kState, [&](const RequestResult&) { ++calls; });
  h.run_for(700ms);  // beyond every attempt of both requests (2 × 3 × 100 ms)
  CHECK(calls == 0);
  CHECK(h.device.requests.size() == 1);
}

TEST_CASE("midea lan: the last shared_ptr may be dropped inside a callback", "[midea][lan]") {
  SECTION("dropped only: queued work still completes, then the idle session is freed") {
    Harness h(false);
    h.open();
    int calls = 0;
    std::weak_ptr<LanSession> weak = h.session;
    h.session->request(encode_ac_query_state(1), body_type::kState, [&](const RequestResult& result) {
      CHECK(result.ok());
      ++calls;
      h.session.reset();  // the owner lets go from inside the callback
    });
    h.session->request(encode_ac_query_state(2), body_type::kState, [&](const RequestResult& result) {
      CHECK(result.ok());
      ++calls;
    });
    h.run_until([&] { return calls == 2 && weak.expired(); }, 2000ms);
    CHECK(calls == 2);
    // Nothing but the read loop's weak_ptr referred to the idle session: it is gone, and its
    // destructor closed the connection.
    CHECK(weak.expired());
  }
  SECTION("stopped and dropped: no further callback") {
    Harness h(true);
    h.open();
    int calls = 0;
    std::weak_ptr<LanSession> weak = h.session;
    h.session->request(encode_ac_query_state(1), body_type::kState, [&](const RequestResult& result) {
      CHECK(result.ok());
      ++calls;
      h.session->stop();
      h.session.reset();
    });
    h.session->request(encode_ac_query_state(2), body_type::kState, [&](const RequestResult&) { ++calls; });
    h.run_until([&] { return calls > 0 && weak.expired(); }, 2000ms);
    h.run_for(50ms);
    CHECK(calls == 1);
    CHECK(weak.expired());
    CHECK(h.device.requests.size() == 1);
  }
}

TEST_CASE("midea lan: an empty frame is invalid, answered on the io_context", "[midea][lan]") {
  Harness h(false);
  h.open();
  std::optional<RequestResult> result;
  h.session->request(Bytes{}, body_type::kState, [&](const RequestResult& r) { result = r; });
  CHECK_FALSE(result.has_value());  // never inside request()
  h.run_until([&] { return result.has_value(); }, 500ms);
  REQUIRE(result);
  CHECK(result->failure == RequestFailure::invalid);
  CHECK(h.device.accepts == 0);
}
