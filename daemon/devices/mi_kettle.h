// Device kind: the Xiaomi Mi smart kettle (YM-K1501, product id 131; YM-K1501EU, 275), controlled over
// a GATT connection with the legacy Mi auth (docs/ble.md §4.2, §4.3, §10). It turns the kettle's
// status notifications into the kettle state of docs/contract.md and writes its keep-warm settings:
//   {"action":"heating","mode":"boil","temperature":45,"keep_warm_temperature":80,
//    "keep_warm_type":"heat_to","keep_warm_time_limit":12,"turn_off_after_boil":false,"rssi":-70}
// (last_seen is added by the MQTT bridge from Device::last_seen()).
//
//   start ─▶ subscribe adverts (presence) ─▶ connect ─▶ token: config, else state_dir, else new
//         ─▶ legacy register (every connection; the kettle accepts the token it was given first)
//         ─▶ [new token confirmed: saved to state_dir] ─▶ notify aa02 ─▶ read aa04, aa05 ─▶ online
//   aa02 status ─▶ parsed (malformed: counted, never published) ─▶ publish
//   command ─▶ validate everything ─▶ queue writes aa01 [type, temp] / aa04 / aa05 (with response)
//           ─▶ read back aa04 / aa05 ─▶ publish
//   connect failed / auth failed / link dropped ─▶ offline ─▶ retry after 2 s, 4 s, … 60 s; an advert
//           from the kettle while waiting means it is back in range: retry at once
//
// Why register on every connection and not "login": the kettle firmware implements only the legacy
// register handshake (every working kettle client does this, with the token kept from the first
// time); a kettle bound to Mi Home refuses a foreign token (mixB check fails), which is logged as
// "the kettle rejected the token".
//
// Logging: one line per state change (online, lost), then rate-limited (ProblemLog, 1 h window), so a
// kettle out of range for a day writes a line an hour, not one per retry.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "config/config.h"
#include "daemon/devices/ble_hub.h"
#include "daemon/devices/device_context.h"
#include "daemon/model/device.h"
#include "protocols/common/bytes.h"
#include "protocols/xiaomi_ble/auth/gatt_link.h"
#include "protocols/xiaomi_ble/auth/mi_auth_session.h"
#include "protocols/xiaomi_ble/codec/mibeacon.h"

namespace cloudless {

// Whether a BLE device config describes a Mi kettle (product id 131 or 275): registry.cpp's switch.
bool is_mi_kettle(const config::BleDeviceConfig& config);

class MiKettle : public model::Device {
 public:
  using Clock = std::chrono::steady_clock;

  // One established connection as the kettle uses it: the GATT operations, plus the two things a
  // bare GattLink does not offer (learning of a drop, ending the link). BlueZ' GattConnection gives
  // all three; unit tests give a scripted device.
  struct Link {
    std::shared_ptr<xiaomi_ble::GattLink> gatt;
    // Registers the handler that runs once, later, when the link drops by itself (not after disconnect()).
    std::function<void(std::function<void(const xiaomi_ble::GattError&)>)> on_disconnected;
    std::function<void()> disconnect;  // idempotent
  };
  using ConnectDone = std::function<void(const std::optional<xiaomi_ble::GattError>& error, Link link)>;
  // Dropping the handle withdraws a connect still pending (GattConnectRequest); may be null.
  using ConnectHandle = std::shared_ptr<void>;
  // Starts one connection to `mac`; `done` runs once, later, on the io thread.
  using Connector = std::function<ConnectHandle(const std::string& mac, ConnectDone done)>;

  struct Options {
    Connector connector;  // empty: BlueZ through context.ble_hub->gatt_client()
    xiaomi_ble::AuthTimeouts auth_timeouts{};
    std::chrono::milliseconds backoff_initial{std::chrono::seconds(2)};
    std::chrono::milliseconds backoff_max{std::chrono::seconds(60)};
    // A connect that has not called back by then counts as failed (the GATT client retries and waits
    // for discovery on its own, well within this; it is a guard against a client that went away).
    std::chrono::milliseconds connect_deadline{std::chrono::minutes(5)};
    // Identical statuses arrive every few seconds: republished only when something changed or after
    // this long (keeps last_seen moving without an MQTT message per notification).
    std::chrono::milliseconds republish_interval{std::chrono::seconds(60)};
    // Window of the rate-limited log lines (connection problems, malformed statuses).
    std::chrono::milliseconds log_window{std::chrono::hours(1)};
  };

  enum class Phase { stopped, waiting, connecting, authenticating, setting_up, ready };

  struct Counters {
    std::uint64_t connect_attempts = 0;
    std::uint64_t connect_failures = 0;
    std::uint64_t auth_failures = 0;   // every failed register
    std::uint64_t token_rejected = 0;  // of which: the kettle's confirmation did not match
    std::uint64_t disconnects = 0;     // links lost after connecting
    std::uint64_t sessions = 0;        // authenticated connections
    std::uint64_t statuses = 0;        // aa02 notifications accepted
    std::uint64_t malformed = 0;       // aa02 notifications or aa04/aa05 values that did not parse
    std::uint64_t writes = 0;          // setting writes completed
    std::uint64_t write_failures = 0;
    std::uint64_t early_retries = 0;   // waits cut short by an advert
  };

  // (Two constructors, not a default argument: g++ rejects `Options options = {}` for a nested struct
  // with member initializers inside its enclosing class.)
  MiKettle(std::string id, config::BleDeviceConfig config, DeviceContext context);
  MiKettle(std::string id, config::BleDeviceConfig config, DeviceContext context, Options options);
  ~MiKettle() override;

  model::DeviceInfo info() const override;
  std::vector<model::Entity> entities() const override;
  void start() override;
  void stop() override;
  void refresh() override;  // connected: read aa04/aa05 again and republish; waiting: retry now
  model::CommandError command(const nlohmann::json& changes) override;

  // One advert from the kettle's MAC (the hub's callback; tests call it): RSSI, and presence.
  void on_advert(const BleAdvert& advert);

  Phase phase() const { return phase_; }
  const Counters& counters() const { return counters_; }
  // The delay of the next retry (doubling from backoff_initial to backoff_max).
  std::chrono::milliseconds next_backoff() const { return backoff_; }

 private:
  enum class Failure { connect, auth, token_rejected, lost, setup };
  struct Write {
    std::uint16_t characteristic = 0;
    Bytes value;
    std::string what;  // for the log: "keep-warm setup", "time limit", "turn off after boil"
  };

  template <typename Handler>
  auto guarded(Handler handler);  // runs `handler` only while this connection generation is current

  void connect();
  void on_connected(const std::optional<xiaomi_ble::GattError>& error, Link link);
  std::optional<xiaomi_ble::LegacyToken> choose_token();
  void on_registered(const std::optional<xiaomi_ble::AuthError>& error, const xiaomi_ble::LegacyRegisterResult& result);
  void remember_token(const xiaomi_ble::LegacyToken& token);
  void on_subscribed(const std::optional<xiaomi_ble::GattError>& error);
  void read_settings(std::function<void()> then);
  void became_ready();
  void on_status(const Bytes& value);
  void on_link_lost(const xiaomi_ble::GattError& why);
  void fail(Failure failure, const std::string& detail);
  void teardown();
  void schedule_retry(std::chrono::milliseconds delay);
  void retry_now();

  void start_writes();
  void next_write();
  void writes_finished();

  void publish(bool force);
  nlohmann::json current_state() const;
  void report_malformed(const std::string& detail);
  void schedule_report_flush();
  void flush_reports();

  config::BleDeviceConfig config_;
  DeviceContext context_;
  Options options_;
  std::optional<xiaomi_ble::MacAddress> mac_;
  std::uint16_t product_id_ = 0;
  BleSubscription subscription_;
  boost::asio::steady_timer retry_timer_;
  boost::asio::steady_timer report_timer_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // handlers hold a weak_ptr to it
  std::uint64_t generation_ = 0;  // bumped at every teardown: handlers of an old link are ignored

  Phase phase_ = Phase::stopped;
  ConnectHandle connect_handle_;
  Link link_;
  std::shared_ptr<xiaomi_ble::AuthSession> auth_;
  xiaomi_ble::LegacyToken token_{};
  bool token_is_new_ = false;      // generated by us and not yet confirmed by the kettle (not saved)
  bool token_configured_ = false;  // from `token:` in the config
  std::optional<xiaomi_ble::LegacyToken> unconfirmed_token_;  // a generated token kept across attempts
  std::string firmware_;

  std::chrono::milliseconds backoff_;
  std::optional<Failure> last_failure_;
  std::optional<Clock::time_point> last_failure_at_;
  std::optional<Clock::time_point> retry_at_;
  std::uint64_t failures_since_ready_ = 0;
  bool lost_logged_ = false;  // a "not reachable" line was logged in this outage

  // What the kettle last reported; nullopt until known.
  struct Settings {
    std::optional<std::string> action, mode, keep_warm_type;
    std::optional<int> temperature, keep_warm_temperature;
    std::optional<double> keep_warm_time_limit;  // hours
    std::optional<bool> turn_off_after_boil;
  } known_;
  std::optional<std::int16_t> rssi_;
  std::optional<nlohmann::json> last_published_;
  std::optional<Clock::time_point> last_published_at_;

  // Setting writes: queued by command(), done one at a time with response, then read back.
  std::deque<Write> writes_;
  bool writing_ = false;
  bool reread_time_limit_ = false, reread_boil_ = false;
  std::optional<std::pair<int, int>> pending_setup_;  // [type, temperature] queued or in flight

  ProblemLog connect_log_, token_log_, auth_log_, malformed_log_;
  std::string last_malformed_;
  Counters counters_;
};

}  // namespace cloudless
