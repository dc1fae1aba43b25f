// The Mi kettle's connection (YM-K1501, product id 131; YM-K1501EU, 275; docs/ble.md §4.2, §4.3, §10):
//
//   start ─▶ connect ─▶ token (the owner chooses: configured, stored, or new) ─▶ legacy register
//         ─▶ notify aa02 (status) ─▶ read aa04, aa05 (settings) ─▶ ready
//   connect failed / register failed / link dropped / setup failed ─▶ failed ─▶ retry after 2 s, 4 s,
//         … 60 s; an advert from the kettle while waiting after a connect failure or a drop means it is
//         back in range: retry sooner (never sooner than the initial backoff after the failure)
//
// Why register on every connection and not "login": the kettle firmware implements only the legacy
// register handshake (every working kettle client does this, with the token kept from the first
// time); a kettle bound to Mi Home refuses a foreign token (mixB check fails): Failure::token_rejected.
//
// No logging and no state (protocols/ layer): what happens is reported through Events; the daemon's
// device kind (daemon/devices/mi_kettle) turns it into log lines, its state and stored keys. Setting
// writes and reads go through write() and read_settings() while ready; their handlers never run for a
// link that has gone meanwhile.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "protocols/common/bytes.h"
#include "protocols/xiaomi_ble/auth/gatt_link.h"
#include "protocols/xiaomi_ble/auth/mi_auth_session.h"
#include "protocols/xiaomi_ble/codec/mibeacon.h"

namespace cloudless::xiaomi_ble {

class KettleConnection {
 public:
  using Clock = std::chrono::steady_clock;

  // One established connection as the kettle uses it: the GATT operations, plus the two things a
  // bare GattLink does not offer (learning of a drop, ending the link). BlueZ' GattConnection gives
  // all three; unit tests give a scripted device.
  struct Link {
    std::shared_ptr<GattLink> gatt;
    // Registers the handler that runs once, later, when the link drops by itself (not after disconnect()).
    std::function<void(std::function<void(const GattError&)>)> on_disconnected;
    std::function<void()> disconnect;  // idempotent
  };
  using ConnectDone = std::function<void(const std::optional<GattError>& error, Link link)>;
  // Dropping the handle withdraws a connect still pending; may be null.
  using ConnectHandle = std::shared_ptr<void>;
  // Starts one connection to `mac`; `done` runs once, later, on the io thread.
  using Connector = std::function<ConnectHandle(const std::string& mac, ConnectDone done)>;

  struct Options {
    Connector connector;
    AuthTimeouts auth_timeouts{};
    std::chrono::milliseconds backoff_initial{std::chrono::seconds(2)};
    std::chrono::milliseconds backoff_max{std::chrono::seconds(60)};
    // A connect that has not called back by then counts as failed (the GATT client retries and waits
    // for discovery on its own, well within this; it is a guard against a client that went away).
    std::chrono::milliseconds connect_deadline{std::chrono::minutes(5)};
  };

  enum class Phase { stopped, waiting, connecting, authenticating, setting_up, ready };
  enum class Failure { connect, auth, token_rejected, lost, setup };

  struct Counters {
    std::uint64_t connect_attempts = 0;
    std::uint64_t connect_failures = 0;
    std::uint64_t auth_failures = 0;   // every failed register
    std::uint64_t token_rejected = 0;  // of which: the kettle's confirmation did not match
    std::uint64_t disconnects = 0;     // links lost after connecting
    std::uint64_t sessions = 0;        // connections that became ready
    std::uint64_t early_retries = 0;   // waits cut short by an advert
  };

  struct Events {
    // The token for this connection; nullopt when there is none to use (a failure of kind auth).
    // `is_new`: generated, not yet accepted by the kettle.
    std::function<std::optional<LegacyToken>(bool& is_new)> choose_token;
    // The kettle accepted the token (`token_was_new`: the first time) and told its firmware version.
    std::function<void(const LegacyRegisterResult& result, bool token_was_new)> registered;
    // An aa02 status notification, from setting_up on.
    std::function<void(const Bytes& value)> status;
    // A settings read: aa04 (time limit) or aa05 (boil mode); `error` set when the read failed.
    std::function<void(std::uint16_t characteristic, const std::optional<GattError>& error, const Bytes& value)>
        setting_read;
    // Notifications on and the settings read once: commands may write now.
    std::function<void()> ready;
    // The link is gone (or never came); the next attempt is in `retry_in`.
    std::function<void(Failure failure, const std::string& detail, bool was_ready, std::chrono::milliseconds retry_in)>
        failed;
  };

  KettleConnection(boost::asio::io_context& io, std::string mac, MacAddress address, std::uint16_t product_id,
                   Options options, Events events);
  ~KettleConnection();
  KettleConnection(const KettleConnection&) = delete;
  KettleConnection& operator=(const KettleConnection&) = delete;

  void start();  // connects from the loop, not from inside the caller
  void stop();   // no event or handler runs afterwards
  // Waiting: retry now. Otherwise nothing.
  void retry_now();
  // An advert from the kettle (not a cached one): while waiting after a connect failure or a drop,
  // the kettle is back in range.
  void on_advert();

  // Ready only: reads aa04 then aa05 (each reported by Events::setting_read), then runs `then`.
  void read_settings(std::function<void()> then);
  // Ready only: one write with response; `done` does not run if the link goes first.
  void write(std::uint16_t characteristic, Bytes value, std::function<void(const std::optional<GattError>&)> done);

  Phase phase() const { return phase_; }
  bool ready() const { return phase_ == Phase::ready && link_.gatt != nullptr; }
  const Counters& counters() const { return counters_; }
  // The delay of the next retry (doubling from backoff_initial to backoff_max).
  std::chrono::milliseconds next_backoff() const { return backoff_; }
  const Options& options() const { return options_; }

 private:
  template <typename Handler>
  auto guarded(Handler handler);  // runs `handler` only while this connection generation is current

  void connect();
  void on_connected(const std::optional<GattError>& error, Link link);
  void on_registered(const std::optional<AuthError>& error, const LegacyRegisterResult& result);
  void on_subscribed(const std::optional<GattError>& error);
  void on_link_lost(const GattError& why);
  void fail(Failure failure, const std::string& detail);
  void teardown();
  void schedule_retry(std::chrono::milliseconds delay);

  boost::asio::io_context& io_;
  std::string mac_;
  MacAddress address_{};
  std::uint16_t product_id_ = 0;
  Options options_;
  Events events_;
  boost::asio::steady_timer retry_timer_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // handlers hold a weak_ptr to it
  std::uint64_t generation_ = 0;  // bumped at every teardown: handlers of an old link are ignored

  Phase phase_ = Phase::stopped;
  ConnectHandle connect_handle_;
  Link link_;
  std::shared_ptr<AuthSession> auth_;
  bool token_is_new_ = false;

  std::chrono::milliseconds backoff_;
  std::optional<Failure> last_failure_;
  std::optional<Clock::time_point> last_failure_at_;
  std::optional<Clock::time_point> retry_at_;
  Counters counters_;
};

}  // namespace cloudless::xiaomi_ble
