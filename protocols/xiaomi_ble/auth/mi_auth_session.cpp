// The four Mi auth handshakes of mi_auth_session.h over a GattLink. Each is a small object on the io
// thread: it queues GATT operations one at a time (so writes reach the device in order whatever the
// link does), waits for each notification with a timer, and ends exactly once through finish_once().
//
// Lifetime: every pending GATT handler and the armed timer hold a shared_ptr to the session, so it
// lives while anything is in flight; the notification handlers registered on the link hold only a
// weak_ptr (the session owns the link: a strong pointer there would be a cycle).
#include "protocols/xiaomi_ble/auth/mi_auth_session.h"

#include <algorithm>
#include <deque>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <openssl/rand.h>

#include "protocols/common/crypto.h"
#include "protocols/xiaomi_ble/auth/mi_auth_legacy.h"
#include "protocols/xiaomi_ble/auth/mi_auth_standard.h"

namespace cloudless::xiaomi_ble {

namespace asio = boost::asio;
namespace la = legacy_auth;
namespace sa = standard_auth;

namespace {

// Mi service characteristics (docs/ble.md §4.1), short ids in the Bluetooth base UUID.
constexpr std::uint16_t kTokenChar = 0x0001;      // legacy: token write + notify
constexpr std::uint16_t kVersionChar = 0x0004;    // legacy: firmware version, RC4'd with the token
constexpr std::uint16_t kUpnpChar = 0x0010;       // legacy: auth start; standard: commands + results
constexpr std::uint16_t kBeaconKeyChar = 0x0014;  // legacy: v2/v3 MiBeacon key, RC4'd with the token
constexpr std::uint16_t kAvdtpChar = 0x0019;      // standard: framed data channel

std::string char_name(std::uint16_t id) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text = "0x";
  for (int shift = 12; shift >= 0; shift -= 4) text.push_back(kDigits[(id >> shift) & 0xF]);
  return text;
}

template <typename Array>
Bytes bytes_of(const Array& array) {
  return Bytes(array.begin(), array.end());
}

// What every handshake shares: the link, the operation queue, the notification timer and the
// "finished" flag that makes the handler run exactly once.
class Handshake : public AuthSession, public std::enable_shared_from_this<Handshake> {
 public:
  void cancel() override { finish_once(); }

 protected:
  using ReadThen = std::function<void(const std::optional<GattError>&, Bytes)>;

  Handshake(asio::io_context& io, std::shared_ptr<GattLink> link, AuthTimeouts timeouts)
      : io_(io), link_(std::move(link)), timeouts_(timeouts), timer_(io) {}

  // The first step runs from the loop, never inside start_*(): the handler must not run before
  // the caller even holds the session pointer.
  void start() {
    asio::post(io_, [self = shared_from_this()] {
      if (!self->finished_) self->run();
    });
  }

  virtual void run() = 0;
  // Hands `error` to the user's handler (with an empty result).
  virtual void deliver_error(const AuthError& error) = 0;
  // A notification on `id` while the handshake runs.
  virtual void on_notification(std::uint16_t id, const Bytes& value) = 0;

  // Marks the handshake finished; false when it already was (then nothing may be delivered).
  bool finish_once() {
    if (finished_) return false;
    finished_ = true;
    ++timer_generation_;
    timer_.cancel();
    queue_.clear();
    return true;
  }
  bool finished() const { return finished_; }

  void fail(AuthFailure kind, std::string text, std::optional<GattError> gatt = std::nullopt) {
    if (!finish_once()) return;
    deliver_error(AuthError{kind, std::move(text), std::move(gatt)});
  }
  void fail_link(const std::string& step, const GattError& error) {
    fail(AuthFailure::link, step + " failed: " + error.describe(), error);
  }
  void fail_malformed(std::string text) { fail(AuthFailure::malformed, std::move(text)); }
  void fail_rc4() { fail(AuthFailure::crypto, crypto::kRc4UnavailableReason); }

  bool has(std::uint16_t id) const { return link_->has_characteristic(uuid16(id)); }

  // Enables notifications on `id`; `then` runs once they are on. A failure ends the handshake.
  void subscribe(std::uint16_t id, std::function<void()> then) {
    std::weak_ptr<Handshake> weak = weak_from_this();
    link_->subscribe(
        uuid16(id),
        [weak, id](const Bytes& value) {
          const auto self = weak.lock();
          if (self && !self->finished_) self->on_notification(id, value);
        },
        [self = shared_from_this(), id, then = std::move(then)](const std::optional<GattError>& error) {
          if (self->finished_) return;
          if (error) {
            self->fail_link("enabling notifications on " + char_name(id), *error);
            return;
          }
          then();
        });
  }

  // Queues a write; a failure ends the handshake with AuthFailure::link naming `step`.
  void write(std::uint16_t id, Bytes value, WriteType type, std::string step) {
    queue_.push_back(Operation{id, std::move(value), type, false, std::move(step), nullptr});
    pump();
  }
  // Queues a read; `then` gets the value or the error and decides.
  void read(std::uint16_t id, std::string step, ReadThen then) {
    queue_.push_back(Operation{id, {}, WriteType::request, true, std::move(step), std::move(then)});
    pump();
  }

  // (Re)starts the wait for a device notification: without one within the timeout, the handshake
  // ends with AuthFailure::timeout naming `what`.
  void await_notification(std::string what) {
    waiting_for_ = std::move(what);
    const std::uint64_t generation = ++timer_generation_;
    timer_.expires_after(timeouts_.notification);
    timer_.async_wait([self = shared_from_this(), generation](const boost::system::error_code& error) {
      if (error || self->finished_ || generation != self->timer_generation_) return;
      self->fail(AuthFailure::timeout, "no " + self->waiting_for_ + " from the device within " +
                                           std::to_string(self->timeouts_.notification.count()) + " ms");
    });
  }
  void stop_waiting() {
    ++timer_generation_;
    timer_.cancel();
  }

  asio::io_context& io_;
  std::shared_ptr<GattLink> link_;

 private:
  struct Operation {
    std::uint16_t id = 0;
    Bytes value;
    WriteType type = WriteType::request;
    bool is_read = false;
    std::string step;
    ReadThen then;
  };

  // One GATT operation in flight at a time, in queue order.
  void pump() {
    if (busy_ || finished_ || queue_.empty()) return;
    Operation operation = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    const std::string uuid = uuid16(operation.id);
    if (operation.is_read) {
      link_->read(uuid, [self = shared_from_this(), step = std::move(operation.step),
                         then = std::move(operation.then)](const std::optional<GattError>& error, Bytes value) {
        self->busy_ = false;
        if (self->finished_) return;
        then(error, std::move(value));
        self->pump();
      });
      return;
    }
    link_->write(uuid, std::move(operation.value), operation.type,
                 [self = shared_from_this(), step = std::move(operation.step)](const std::optional<GattError>& error) {
                   self->busy_ = false;
                   if (self->finished_) return;
                   if (error) {
                     self->fail_link(step, *error);
                     return;
                   }
                   self->pump();
                 });
  }

  AuthTimeouts timeouts_;
  asio::steady_timer timer_;
  std::uint64_t timer_generation_ = 0;
  std::string waiting_for_;
  std::deque<Operation> queue_;
  bool busy_ = false;
  bool finished_ = false;
};

// ---- legacy register (docs/ble.md §4.2) ------------------------------------------------------------

class LegacyRegister final : public Handshake {
 public:
  LegacyRegister(asio::io_context& io, std::shared_ptr<GattLink> link, LegacyRegisterParams params,
                 AuthTimeouts timeouts, LegacyRegisterHandler done)
      : Handshake(io, std::move(link), timeouts), params_(params), done_(std::move(done)) {}

  using Handshake::start;

 private:
  void run() override {
    if (!has(kTokenChar) || !has(kUpnpChar)) {
      fail(AuthFailure::unsupported, "the device lacks the Mi auth characteristics 0x0001/0x0010");
      return;
    }
    const auto token_write = la::register_token_write(params_.mac, params_.product_id, params_.token);
    if (!token_write) {
      fail_rc4();
      return;
    }
    // §4.2 lists "write 90CA85DE" before "enable notifications". We subscribe first: the start
    // write only arms the device, so the order does not matter to it, but a notification that
    // arrives before notifications are on is lost for good, and waiting for the reply is the one
    // step that must not miss anything.
    subscribe(kTokenChar, [this, token_write = *token_write] {
      write(kUpnpChar, bytes_of(la::kRegisterStart), WriteType::request, "writing the register start 90CA85DE");
      write(kTokenChar, token_write, WriteType::request, "writing the token");
      awaiting_reply_ = true;
      await_notification("register reply on 0x0001");
    });
  }

  void on_notification(std::uint16_t id, const Bytes& value) override {
    if (id != kTokenChar || !awaiting_reply_) {
      fail_malformed("unexpected notification " + to_hex(value) + " on " + char_name(id));
      return;
    }
    awaiting_reply_ = false;
    stop_waiting();
    switch (la::verify_register_reply(params_.mac, params_.product_id, params_.token, value)) {
      case la::CheckResult::match: break;
      case la::CheckResult::mismatch:
        fail(AuthFailure::mismatch,
             "the device's register reply does not match the token: wrong product id, a device that is not in "
             "pairing mode, or not the device we think");
        return;
      case la::CheckResult::malformed:
        fail_malformed("register reply of " + std::to_string(value.size()) + " bytes, expected 12");
        return;
      case la::CheckResult::crypto_unavailable: fail_rc4(); return;
    }
    const auto finish = la::register_finish(params_.token);
    if (!finish) {
      fail_rc4();
      return;
    }
    result_.token = params_.token;
    write(kTokenChar, *finish, WriteType::request, "writing the register confirmation");
    read(kVersionChar, "reading the version 0x0004", [this](const std::optional<GattError>& error, Bytes version) {
      if (error) {
        fail_link("reading the version 0x0004", *error);
        return;
      }
      const auto text = la::decrypt_version(params_.token, version);
      if (!text) {
        fail_rc4();
        return;
      }
      result_.version = *text;
      if (!params_.read_beacon_key) {
        succeed();
        return;
      }
      read(kBeaconKeyChar, "reading the beacon key 0x0014", [this](const std::optional<GattError>& key_error, Bytes key) {
        // Optional (§4.2 step 7, pairing mode only): the registration stands without it.
        if (!key_error) {
          if (auto decrypted = la::decrypt_beacon_key(params_.token, key)) result_.beacon_key = *decrypted;
        }
        succeed();
      });
    });
  }

  void succeed() {
    if (!finish_once()) return;
    auto done = std::move(done_);
    done(std::nullopt, result_);
  }
  void deliver_error(const AuthError& error) override {
    auto done = std::move(done_);
    done(error, LegacyRegisterResult{});
  }

  LegacyRegisterParams params_;
  LegacyRegisterHandler done_;
  LegacyRegisterResult result_;
  bool awaiting_reply_ = false;
};

// ---- legacy login (docs/ble.md §S2, §10) --------------------------------------------------

class LegacyLogin final : public Handshake {
 public:
  LegacyLogin(asio::io_context& io, std::shared_ptr<GattLink> link, LegacyLoginParams params, AuthTimeouts timeouts,
              LegacyLoginHandler done)
      : Handshake(io, std::move(link), timeouts),
        params_(params),
        variant_{params.variant.little_endian_constants, params.variant.twelve_byte_key},
        done_(std::move(done)) {}

  using Handshake::start;

 private:
  enum class Step { starting, awaiting_challenge, awaiting_confirmation };

  void run() override {
    if (!has(kTokenChar) || !has(kUpnpChar)) {
      fail(AuthFailure::unsupported, "the device lacks the Mi auth characteristics 0x0001/0x0010");
      return;
    }
    if (!crypto::rc4_available()) {
      fail_rc4();
      return;
    }
    subscribe(kTokenChar, [this] {
      write(kUpnpChar, bytes_of(la::login_start(variant_)), WriteType::request, "writing the login start");
      step_ = Step::awaiting_challenge;
      await_notification("login challenge on 0x0001");
    });
  }

  void on_notification(std::uint16_t id, const Bytes& value) override {
    if (id != kTokenChar || step_ == Step::starting) {
      fail_malformed("unexpected notification " + to_hex(value) + " on " + char_name(id));
      return;
    }
    stop_waiting();
    if (step_ == Step::awaiting_challenge) {
      auto key = la::login_key(params_.token, value, variant_);
      if (!key) {
        if (value.size() < 4) {
          fail_malformed("login challenge " + to_hex(value) + ": " + key.error().describe());
        } else {
          fail_rc4();
        }
        return;
      }
      const auto response = la::login_response(*key, variant_);
      if (!response) {
        fail_rc4();
        return;
      }
      key_ = std::move(*key);
      write(kTokenChar, *response, WriteType::request, "writing the login response");
      step_ = Step::awaiting_confirmation;
      await_notification("login confirmation on 0x0001");
      return;
    }
    switch (la::check_login_confirmation(key_, value, variant_)) {
      case la::CheckResult::match: break;
      case la::CheckResult::mismatch:
        fail(AuthFailure::mismatch,
             "the device's login confirmation does not match: wrong token (or the other login variant)");
        return;
      case la::CheckResult::malformed:
        fail_malformed("login confirmation of " + std::to_string(value.size()) + " bytes, expected at least 4");
        return;
      case la::CheckResult::crypto_unavailable: fail_rc4(); return;
    }
    if (!finish_once()) return;
    auto done = std::move(done_);
    done(std::nullopt, LegacyLoginResult{key_});
  }

  void deliver_error(const AuthError& error) override {
    auto done = std::move(done_);
    done(error, LegacyLoginResult{});
  }

  LegacyLoginParams params_;
  la::LoginVariant variant_;
  LegacyLoginHandler done_;
  Step step_ = Step::starting;
  Bytes key_;
};

// ---- standard auth: AVDTP transfers (docs/ble.md §4.4) ---------------------------------------------

// Sending: we write the header, the device answers RCV_RDY, we write the frames, it answers
// RCV_OK. Receiving: the device writes the header, we answer RCV_RDY, it writes the frames, we
// answer RCV_OK. One transfer at a time; anything else on AVDTP or UPNP is out of sequence.
class StandardHandshake : public Handshake {
 protected:
  using Handshake::Handshake;

  // What the device must answer on UPNP to finish; it is not accepted at any other time.
  virtual void on_result(sa::UpnpStatus status) = 0;

  bool check_characteristics() {
    if (!has(kAvdtpChar)) {
      fail(AuthFailure::unsupported,
           "the device has no AVDTP characteristic 0x0019: it does not speak the standard Mi auth");
      return false;
    }
    if (!has(kUpnpChar)) {
      fail(AuthFailure::unsupported, "the device has no UPNP characteristic 0x0010");
      return false;
    }
    return true;
  }

  // Notifications on both channels, UPNP first (results), then AVDTP (data).
  void subscribe_both(std::function<void()> then) {
    subscribe(kUpnpChar, [this, then = std::move(then)]() mutable { subscribe(kAvdtpChar, std::move(then)); });
  }

  void send_command(const std::array<std::uint8_t, 4>& command, std::string step) {
    write(kUpnpChar, bytes_of(command), WriteType::request, std::move(step));
  }

  void send_transfer(std::uint8_t type, ByteView data, std::string what, std::function<void()> then) {
    sending_ = Sending{sa::split_frames(data), false, std::move(what), std::move(then)};
    write_avdtp(sa::encode_header(type, static_cast<std::uint16_t>(sending_->frames.size())),
                "announcing " + sending_->what);
    await_notification("RCV_RDY for " + sending_->what);
  }

  // `type` nullopt: any header type is accepted (§4.4 names none for the remote info; §10).
  void receive_transfer(std::optional<std::uint8_t> type, std::size_t size, std::string what,
                        std::function<void(Bytes)> then) {
    receiving_.emplace(Receiving{type, size, false, sa::FrameReassembler(size), std::move(what), std::move(then)});
    await_notification(receiving_->what);
  }

  void await_result(sa::UpnpStatus status, std::string what) {
    awaited_result_ = status;
    await_notification(std::move(what));
  }

 private:
  struct Sending {
    std::vector<Bytes> frames;
    bool frames_sent = false;
    std::string what;
    std::function<void()> then;
  };
  struct Receiving {
    std::optional<std::uint8_t> type;
    std::size_t size = 0;
    bool header_seen = false;
    sa::FrameReassembler reassembler;
    std::string what;
    std::function<void(Bytes)> then;
  };

  // The Mi apps write AVDTP without response; the transfer's RCV_RDY/RCV_OK are the acknowledgement.
  void write_avdtp(Bytes value, std::string step) {
    write(kAvdtpChar, std::move(value), WriteType::command, std::move(step));
  }

  void on_notification(std::uint16_t id, const Bytes& value) override {
    if (id == kUpnpChar) {
      on_upnp(value);
    } else if (id == kAvdtpChar) {
      on_avdtp(value);
    } else {
      fail_malformed("unexpected notification " + to_hex(value) + " on " + char_name(id));
    }
  }

  void on_upnp(const Bytes& value) {
    const sa::UpnpResult result = sa::classify_upnp(value);
    switch (result.status) {
      case sa::UpnpStatus::error:
        fail(AuthFailure::device_error, "the device reported error " + result.code);
        return;
      case sa::UpnpStatus::register_failed:
        fail(AuthFailure::device_error, "the device refused the registration (" + result.code + ")");
        return;
      case sa::UpnpStatus::login_failed:
        fail(AuthFailure::device_error, "the device refused the login (" + result.code + "): wrong token?");
        return;
      case sa::UpnpStatus::register_ok:
      case sa::UpnpStatus::login_ok:
        if (awaited_result_ == result.status) {
          stop_waiting();
          on_result(result.status);
          return;
        }
        fail_malformed("the device reported " + result.code + " out of sequence");
        return;
      case sa::UpnpStatus::unknown: break;
    }
    fail_malformed("unexpected UPNP notification " + result.code);
  }

  void on_avdtp(const Bytes& value) {
    auto message = sa::parse_avdtp(value);
    if (!message) {
      fail_malformed("AVDTP notification " + to_hex(value) + ": " + message.error().describe());
      return;
    }
    switch (message->kind) {
      case sa::AvdtpMessage::Kind::control: on_control(message->control); return;
      case sa::AvdtpMessage::Kind::header: on_header(message->header); return;
      case sa::AvdtpMessage::Kind::frame: on_frame(value); return;
    }
  }

  void on_control(sa::Control control) {
    const std::string name(sa::control_name(control));
    if (control == sa::Control::timeout || control == sa::Control::error) {
      const std::string during = sending_ ? sending_->what : receiving_ ? receiving_->what : "the handshake";
      fail(AuthFailure::device_error, "the device reported " + name + " during " + during);
      return;
    }
    if (sending_ && control == sa::Control::ready && !sending_->frames_sent) {
      sending_->frames_sent = true;
      for (std::size_t i = 0; i < sending_->frames.size(); ++i) {
        write_avdtp(std::move(sending_->frames[i]),
                    "writing frame " + std::to_string(i + 1) + " of " + sending_->what);
      }
      await_notification("RCV_OK for " + sending_->what);
      return;
    }
    if (sending_ && control == sa::Control::ok && sending_->frames_sent) {
      auto then = std::move(sending_->then);
      sending_.reset();
      stop_waiting();
      then();
      return;
    }
    fail_malformed("the device sent " + name + " out of sequence");
  }

  void on_header(const sa::Header& header) {
    if (!receiving_ || receiving_->header_seen) {
      fail_malformed("the device announced a transfer (type " + std::to_string(header.type) + ") out of sequence");
      return;
    }
    if (receiving_->type && header.type != *receiving_->type) {
      fail_malformed("the device announced a transfer of type " + std::to_string(header.type) + " instead of " +
                     receiving_->what);
      return;
    }
    if (auto started = receiving_->reassembler.start(header.frames); !started) {
      fail_malformed(receiving_->what + ": " + started.error().what);
      return;
    }
    receiving_->header_seen = true;
    write_avdtp(sa::encode_control(sa::Control::ready), "answering RCV_RDY to " + receiving_->what);
    await_notification(receiving_->what + " frames");
  }

  void on_frame(const Bytes& value) {
    if (!receiving_ || !receiving_->header_seen) {
      fail_malformed("the device sent a data frame out of sequence");
      return;
    }
    const auto added = receiving_->reassembler.add(value);
    if (!added) {
      fail_malformed(receiving_->what + ": " + added.error().what);
      return;
    }
    if (*added == sa::FrameReassembler::Status::more) {
      await_notification(receiving_->what + " frames");
      return;
    }
    Bytes data = receiving_->reassembler.assemble();
    if (data.size() != receiving_->size) {
      fail_malformed(receiving_->what + " of " + std::to_string(data.size()) + " bytes, expected " +
                     std::to_string(receiving_->size));
      return;
    }
    write_avdtp(sa::encode_control(sa::Control::ok), "answering RCV_OK to " + receiving_->what);
    auto then = std::move(receiving_->then);
    receiving_.reset();
    stop_waiting();
    then(std::move(data));
  }

  std::optional<Sending> sending_;
  std::optional<Receiving> receiving_;
  std::optional<sa::UpnpStatus> awaited_result_;
};

template <std::size_t N>
std::array<std::uint8_t, N> array_from(const Bytes& bytes) {
  std::array<std::uint8_t, N> out{};
  std::copy_n(bytes.begin(), std::min(N, bytes.size()), out.begin());
  return out;
}

// ---- standard register (docs/ble.md §4.4 "Register") -----------------------------------------------

class StandardRegister final : public StandardHandshake {
 public:
  StandardRegister(asio::io_context& io, std::shared_ptr<GattLink> link, StandardRegisterParams params,
                   AuthTimeouts timeouts, StandardRegisterHandler done)
      : StandardHandshake(io, std::move(link), timeouts), params_(params), done_(std::move(done)) {}

  using Handshake::start;

 private:
  void run() override {
    if (!check_characteristics()) return;
    const auto pair = params_.private_key ? sa::key_pair_from_private(*params_.private_key) : sa::generate_key_pair();
    if (!pair) {
      fail(AuthFailure::crypto, "could not create a P-256 key pair");
      return;
    }
    key_pair_ = *pair;
    subscribe_both([this] {
      // Ready for the device's answer before the command that provokes it.
      receive_transfer(std::nullopt, sa::kRemoteInfoSize, "remote info", [this](Bytes data) { on_remote_info(data); });
      send_command(sa::kCmdGetInfo, "writing GET_INFO");
    });
  }

  void on_remote_info(const Bytes& data) {
    const auto info = sa::parse_remote_info(data);
    if (!info) {
      fail_malformed("remote info: " + info.error().describe());
      return;
    }
    did_ = info->did;
    result_.did = info->did_text;
    send_command(sa::kCmdSetKey, "writing SET_KEY");
    send_transfer(sa::kTypePublicKey, key_pair_.public_key, "our public key", [this] {
      receive_transfer(sa::kTypePublicKey, std::tuple_size_v<sa::PublicKey>, "the device's public key",
                       [this](Bytes data) { on_device_key(data); });
    });
  }

  void on_device_key(const Bytes& data) {
    const auto shared = sa::derive_shared_secret(key_pair_.private_key, array_from<64>(data));
    if (!shared) {
      fail_malformed("the device's public key is not a valid P-256 point");
      return;
    }
    const auto keys = sa::derive_register_keys(*shared);
    if (!keys) {
      fail(AuthFailure::crypto, "HKDF-SHA256 failed");
      return;
    }
    const auto proof = sa::encrypt_did(keys->a, did_);
    if (!proof) {
      fail(AuthFailure::crypto, "AES-CCM failed");
      return;
    }
    result_.token = keys->token;
    result_.bind_key = keys->bind_key;
    send_transfer(sa::kTypeDid, *proof, "the DID proof", [this] {
      await_result(sa::UpnpStatus::register_ok, "register result 11000000");
      send_command(sa::kCmdAuth, "writing AUTH");
    });
  }

  void on_result(sa::UpnpStatus) override {
    if (!finish_once()) return;
    auto done = std::move(done_);
    done(std::nullopt, result_);
  }
  void deliver_error(const AuthError& error) override {
    auto done = std::move(done_);
    done(error, StandardRegisterResult{});
  }

  StandardRegisterParams params_;
  StandardRegisterHandler done_;
  sa::KeyPair key_pair_;
  std::array<std::uint8_t, sa::kDidSize> did_{};
  StandardRegisterResult result_;
};

// ---- standard login (docs/ble.md §4.4 "Login") -----------------------------------------------------

class StandardLogin final : public StandardHandshake {
 public:
  StandardLogin(asio::io_context& io, std::shared_ptr<GattLink> link, StandardLoginParams params,
                AuthTimeouts timeouts, StandardLoginHandler done)
      : StandardHandshake(io, std::move(link), timeouts), params_(params), done_(std::move(done)) {}

  using Handshake::start;

 private:
  void run() override {
    if (!check_characteristics()) return;
    if (params_.app_random) {
      app_random_ = *params_.app_random;
    } else if (RAND_bytes(app_random_.data(), static_cast<int>(app_random_.size())) != 1) {
      fail(AuthFailure::crypto, "no random bytes from OpenSSL");
      return;
    }
    subscribe_both([this] {
      send_command(sa::kCmdLogin, "writing LOGIN");
      send_transfer(sa::kTypeAppRandom, app_random_, "our random", [this] {
        receive_transfer(sa::kTypeDeviceRandom, 16, "the device's random", [this](Bytes data) {
          device_random_ = array_from<16>(data);
          receive_transfer(sa::kTypeDeviceInfo, 32, "the device's login proof",
                           [this](Bytes proof) { on_device_info(proof); });
        });
      });
    });
  }

  void on_device_info(const Bytes& proof) {
    const auto keys = sa::derive_login_keys(params_.token, app_random_, device_random_);
    if (!keys) {
      fail(AuthFailure::crypto, "HKDF-SHA256 failed");
      return;
    }
    if (!sa::check_device_info(*keys, app_random_, device_random_, proof)) {
      fail(AuthFailure::mismatch, "the device's login proof does not match: wrong token");
      return;
    }
    const auto ours = sa::app_info(*keys, app_random_, device_random_);
    if (!ours) {
      fail(AuthFailure::crypto, "HMAC-SHA256 failed");
      return;
    }
    result_ = StandardLoginResult{keys->dev_key, keys->app_key, keys->dev_iv, keys->app_iv};
    send_transfer(sa::kTypeAppInfo, *ours, "our login proof",
                  [this] { await_result(sa::UpnpStatus::login_ok, "login result 21000000"); });
  }

  void on_result(sa::UpnpStatus) override {
    if (!finish_once()) return;
    auto done = std::move(done_);
    done(std::nullopt, result_);
  }
  void deliver_error(const AuthError& error) override {
    auto done = std::move(done_);
    done(error, StandardLoginResult{});
  }

  StandardLoginParams params_;
  StandardLoginHandler done_;
  sa::Random app_random_{};
  sa::Random device_random_{};
  StandardLoginResult result_;
};

template <typename Session, typename Params, typename Handler>
std::shared_ptr<AuthSession> launch(asio::io_context& io, std::shared_ptr<GattLink> link, Params params,
                                    AuthTimeouts timeouts, Handler done) {
  auto session = std::make_shared<Session>(io, std::move(link), std::move(params), timeouts, std::move(done));
  session->start();
  return session;
}

}  // namespace

AuthKind detect_auth_kind(const GattLink& link) {
  if (link.has_characteristic(uuid16(kAvdtpChar))) return AuthKind::standard;
  if (link.has_characteristic(uuid16(kTokenChar))) return AuthKind::legacy;
  return AuthKind::none;
}

std::string_view auth_kind_name(AuthKind kind) {
  switch (kind) {
    case AuthKind::legacy: return "legacy";
    case AuthKind::standard: return "standard";
    case AuthKind::none: return "none";
  }
  return "none";
}

std::string_view auth_failure_name(AuthFailure failure) {
  switch (failure) {
    case AuthFailure::link: return "link";
    case AuthFailure::timeout: return "timeout";
    case AuthFailure::mismatch: return "mismatch";
    case AuthFailure::device_error: return "device_error";
    case AuthFailure::malformed: return "malformed";
    case AuthFailure::unsupported: return "unsupported";
    case AuthFailure::crypto: return "crypto";
  }
  return "malformed";
}

std::shared_ptr<AuthSession> start_legacy_register(asio::io_context& io, std::shared_ptr<GattLink> link,
                                                   LegacyRegisterParams params, AuthTimeouts timeouts,
                                                   LegacyRegisterHandler done) {
  return launch<LegacyRegister>(io, std::move(link), params, timeouts, std::move(done));
}

std::shared_ptr<AuthSession> start_legacy_login(asio::io_context& io, std::shared_ptr<GattLink> link,
                                                LegacyLoginParams params, AuthTimeouts timeouts,
                                                LegacyLoginHandler done) {
  return launch<LegacyLogin>(io, std::move(link), params, timeouts, std::move(done));
}

std::shared_ptr<AuthSession> start_standard_register(asio::io_context& io, std::shared_ptr<GattLink> link,
                                                     StandardRegisterParams params, AuthTimeouts timeouts,
                                                     StandardRegisterHandler done) {
  return launch<StandardRegister>(io, std::move(link), params, timeouts, std::move(done));
}

std::shared_ptr<AuthSession> start_standard_login(asio::io_context& io, std::shared_ptr<GattLink> link,
                                                  StandardLoginParams params, AuthTimeouts timeouts,
                                                  StandardLoginHandler done) {
  return launch<StandardLogin>(io, std::move(link), params, timeouts, std::move(done));
}

}  // namespace cloudless::xiaomi_ble
