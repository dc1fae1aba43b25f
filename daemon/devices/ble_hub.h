// The daemon's one Bluetooth LE receiver, shared by every BLE device kind.
//
//   XiaomiBleSensor ──subscribe(mac)──▶ BleHub ──(first subscriber)──▶ AdvertScanner (BlueZ, D-Bus)
//   XiaomiBleSensor ◀──BleAdvert────── deliver(): by MAC ◀──on_advert── adverts of every device
//                                       on_status ──▶ one log line per scan state change, rate-limited
//
// Why one hub: BlueZ keeps one discovery session per client, and one D-Bus subscription carries the
// adverts of every device; a scanner per device would multiply sessions, match rules and watchdogs.
// Why lazy: a user with only WiFi devices (or no `ble:` section) must not need a system bus, BlueZ or
// the `bluetooth` group: constructing the hub touches nothing; the scanner is created by the first
// subscription and stopped when the last one goes (checked after the current handler, so a device
// restarted by a SIGHUP reload does not restart the scan).
//
// Adverts from MACs nobody subscribed to are counted and dropped here: unconfigured advertisers are
// never published (entity spam is a top complaint, docs/bridges.md §2.3 item 3); `cloudless ble
// scan` lists them instead.
//
// Everything runs on the io_context thread. The hub must outlive its subscriptions (the Daemon owns it
// and destroys its devices first).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>

#include "config/config.h"
#include "protocols/common/bytes.h"

namespace cloudless {

namespace xiaomi_ble {
class AdvertScanner;
class GattClient;
struct ScannerStatus;
}  // namespace xiaomi_ble

// One advertisement as a device kind sees it. Deliberately free of BlueZ and sdbus types, so device
// kinds and their tests need neither.
struct BleAdvert {
  std::string mac;                   // "A4:C1:38:02:83:F4", upper case
  std::optional<std::int16_t> rssi;  // dBm
  std::optional<Bytes> mibeacon;     // service data of UUID 0xFE95, when this update carried it
  // BlueZ' remembered value from before we started scanning (GetManagedObjects): possibly hours old.
  bool cached = false;
};

// A recurring problem's log policy: the first occurrence is logged at once (with its details), later
// ones are counted and summarised at most once per window ("12 adverts failed decryption in the
// last 60 s"), so a sensor with a wrong key advertising every second cannot flood the journal.
class ProblemLog {
 public:
  using Clock = std::chrono::steady_clock;

  explicit ProblemLog(Clock::duration window = std::chrono::seconds(60)) : window_(window) {}

  enum class Action { none, log_first, log_summary };
  struct Decision {
    Action action = Action::none;
    std::uint64_t count = 0;    // log_summary: occurrences since the last line
    Clock::duration span{};     // log_summary: the time they cover
  };

  // Records one occurrence at `now`.
  Decision record(Clock::time_point now);
  // The summary of what was counted, once the window has passed (none otherwise).
  Decision flush(Clock::time_point now);
  // When flush() will have something to say; nullopt when nothing is pending.
  std::optional<Clock::time_point> due() const;
  std::uint64_t total() const { return total_; }

 private:
  Clock::duration window_;
  std::uint64_t total_ = 0;
  std::uint64_t pending_ = 0;
  std::optional<Clock::time_point> window_start_;  // last line logged
};

class BleHub;

// Move-only handle of one subscription; destroying it unsubscribes.
class BleSubscription {
 public:
  BleSubscription() = default;
  BleSubscription(BleSubscription&& other) noexcept;
  BleSubscription& operator=(BleSubscription&& other) noexcept;
  BleSubscription(const BleSubscription&) = delete;
  BleSubscription& operator=(const BleSubscription&) = delete;
  ~BleSubscription() { reset(); }

  void reset();
  explicit operator bool() const { return hub_ != nullptr; }

 private:
  friend class BleHub;
  BleSubscription(BleHub* hub, std::uint64_t id) : hub_(hub), id_(id) {}

  BleHub* hub_ = nullptr;
  std::uint64_t id_ = 0;
};

struct BleHubStats {
  std::uint64_t adverts = 0;       // adverts received from the scanner (or deliver())
  std::uint64_t dispatched = 0;    // handed to a subscribed device
  std::uint64_t unconfigured = 0;  // from MACs nobody subscribed to: dropped
  std::uint64_t scanner_starts = 0;
};

class BleHub {
 public:
  using Receiver = std::function<void(const BleAdvert&)>;

  // Touches no D-Bus: the scanner is created by the first subscribe().
  BleHub(boost::asio::io_context& io, config::BleConfig config);
  ~BleHub();
  BleHub(const BleHub&) = delete;
  BleHub& operator=(const BleHub&) = delete;

  // Adverts from `mac` (any case, with colons) go to `receiver` until the handle is destroyed.
  // Starts the scanner if it is not running.
  BleSubscription subscribe(const std::string& mac, Receiver receiver);

  // A reloaded `ble:` section: a running scan restarts with the new adapter or watchdog.
  void configure(config::BleConfig config);

  // Hands one advert to the devices subscribed to its MAC (the scanner's callback; tests call it).
  void deliver(const BleAdvert& advert);

  // The adapter's GATT client (bluez_gatt_client.h) for device kinds that connect (the kettle),
  // created at the first call; it opens its D-Bus connection at its first connect().
  std::shared_ptr<xiaomi_ble::GattClient> gatt_client();

  bool scanning() const { return scanner_ != nullptr; }
  std::size_t subscribers() const { return receivers_.size(); }
  const BleHubStats& stats() const { return stats_; }
  const config::BleConfig& config() const { return config_; }

 private:
  friend class BleSubscription;
  struct Entry {
    std::string mac;
    Receiver receiver;
  };

  void unsubscribe(std::uint64_t id);
  void start_scanner();
  void stop_scanner();
  void stop_when_idle();
  void on_status(const xiaomi_ble::ScannerStatus& status);

  boost::asio::io_context& io_;
  config::BleConfig config_;
  std::shared_ptr<xiaomi_ble::AdvertScanner> scanner_;
  std::shared_ptr<xiaomi_ble::GattClient> gatt_client_;
  std::map<std::uint64_t, Entry> receivers_;  // by subscription id
  std::uint64_t next_id_ = 1;
  bool idle_check_posted_ = false;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // posted handlers hold a weak_ptr to it
  BleHubStats stats_;

  // Status logging: the last state logged, whether it was a problem, and one ProblemLog per state
  // so a flapping bluetoothd or adapter cannot flood the journal.
  int last_state_ = -1;
  bool last_problem_logged_ = false;
  bool discovered_since_start_ = false;
  std::uint64_t seen_watchdog_restarts_ = 0;
  std::map<int, ProblemLog> status_logs_;
};

}  // namespace cloudless
