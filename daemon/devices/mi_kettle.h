// Device kind: the Xiaomi Mi smart kettle (YM-K1501, product id 131; YM-K1501EU, 275), controlled over
// a GATT connection with the legacy Mi auth (docs/ble.md §4.2, §4.3, §10). It turns the kettle's
// status notifications into the kettle state of docs/contract.md and writes its keep-warm settings:
//   {"action":"heating","mode":"boil","temperature":45,"keep_warm_temperature":80,
//    "keep_warm_type":"heat_to","keep_warm_time_limit":12,"turn_off_after_boil":false,"rssi":-70}
// (last_seen is added by the MQTT bridge from Device::last_seen()).
//
//   the connection (protocols/xiaomi_ble/auth/kettle_connection): connect, legacy register, notifications,
//   settings read, backoff and retries; this kind chooses the token (config, else state_dir, else new,
//   stored once the kettle confirmed it) and turns what the connection reports into state and log lines:
//   aa02 status ─▶ parsed (malformed: counted, never published) ─▶ publish
//   command ─▶ checked against entities() ─▶ queue writes aa01 [type, temp] / aa04 / aa05 (with response)
//           ─▶ read back aa04 / aa05 ─▶ publish
//   connection failed ─▶ offline; an advert from the kettle tells the connection it is back in range
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
#include "protocols/xiaomi_ble/auth/kettle_connection.h"
#include "protocols/xiaomi_ble/auth/mi_auth_session.h"
#include "protocols/xiaomi_ble/codec/mibeacon.h"

namespace cloudless {

// Whether a BLE device config describes a Mi kettle (product id 131 or 275): registry.cpp's switch.
bool is_mi_kettle(const config::BleDeviceConfig& config);

class MiKettle : public model::Device {
 public:
  using Clock = std::chrono::steady_clock;

  using Connection = xiaomi_ble::KettleConnection;
  using Link = Connection::Link;
  using ConnectDone = Connection::ConnectDone;
  using ConnectHandle = Connection::ConnectHandle;
  using Connector = Connection::Connector;
  using Phase = Connection::Phase;

  // The connection's (connector, empty: BlueZ through context.ble_hub->gatt_client(); auth timeouts;
  // backoff; connect deadline) and this kind's own.
  struct Options : Connection::Options {
    // Identical statuses arrive every few seconds: republished only when something changed or after
    // this long (keeps last_seen moving without an MQTT message per notification).
    std::chrono::milliseconds republish_interval{std::chrono::seconds(60)};
    // Window of the rate-limited log lines (connection problems, malformed statuses).
    std::chrono::milliseconds log_window{std::chrono::hours(1)};
  };


  // The connection's counters (connects, registers, drops, sessions, early retries) and this kind's own.
  struct Counters : Connection::Counters {
    std::uint64_t statuses = 0;        // aa02 notifications accepted
    std::uint64_t malformed = 0;       // aa02 notifications or aa04/aa05 values that did not parse
    std::uint64_t writes = 0;          // setting writes completed
    std::uint64_t write_failures = 0;
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

  Phase phase() const { return connection_ ? connection_->phase() : Phase::stopped; }
  Counters counters() const;
  // The delay of the next retry (doubling from backoff_initial to backoff_max).
  std::chrono::milliseconds next_backoff() const {
    return connection_ ? connection_->next_backoff() : options_.backoff_initial;
  }

 private:
  struct Write {
    std::uint16_t characteristic = 0;
    Bytes value;
    std::string what;  // for the log: "keep-warm setup", "time limit", "turn off after boil"
  };

  template <typename Handler>
  auto guarded(Handler handler);  // runs `handler` only while started

  Connection::Events connection_events();
  std::optional<xiaomi_ble::LegacyToken> choose_token(bool& is_new);
  void on_registered(const xiaomi_ble::LegacyRegisterResult& result, bool token_was_new);
  void remember_token(const xiaomi_ble::LegacyToken& token);
  void on_setting_read(std::uint16_t characteristic, const std::optional<xiaomi_ble::GattError>& error,
                       const Bytes& value);
  void became_ready();
  void on_status(const Bytes& value);
  void on_failed(Connection::Failure failure, const std::string& detail, bool was_ready,
                 std::chrono::milliseconds retry_in);
  void reset_writes();

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
  boost::asio::steady_timer report_timer_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // handlers hold a weak_ptr to it
  bool started_ = false;
  std::unique_ptr<Connection> connection_;  // from start() to stop()

  bool token_configured_ = false;  // this connection's token is from `token:` in the config
  std::optional<xiaomi_ble::LegacyToken> unconfirmed_token_;  // a generated token kept across attempts
  std::string firmware_;
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
  Counters counters_;  // this kind's own (statuses, malformed, writes); counters() adds the connection's
};

}  // namespace cloudless
