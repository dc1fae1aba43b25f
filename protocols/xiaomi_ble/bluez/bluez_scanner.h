// Receives BLE advertisements from BlueZ (org.bluez on the system bus) with discovery, on the
// daemon's io_context. See docs/ble.md §6.1 (API), §7 (the fake used by the tests).
//
//   start("hci0") ─▶ connect (system bus) ─▶ match rules: ObjectManager signals, PropertiesChanged
//                    of Device1 and Adapter1 on the whole org.bluez tree, NameOwnerChanged(org.bluez)
//                  ─▶ GetNameOwner(org.bluez) ── none ──▶ [bluez_gone] ◀── owner gone ──┐
//                  ─▶ GetManagedObjects ─▶ adapter? ── no ──▶ [no_adapter] ◀── removed ──┤
//                                          powered? ── no ──▶ [adapter_off] ◀── Powered false
//                  ─▶ SetDiscoveryFilter (refused: go on unfiltered) ─▶ StartDiscovery ─▶ [discovering]
//   watchdog timer: no advert for `watchdog` while discovering ─▶ StopDiscovery, filter, StartDiscovery
//   Discovering=false behind our back ─▶ the same restart (after `rediscover_delay`)
//   owner back (bluetoothd restarted) / adapter back ─▶ everything again from GetManagedObjects
//   call failed ─▶ [failed], retried after `retry_interval`; bus lost ─▶ [bus_unavailable], reconnect
//
// Adverts come from three places: devices already known at start (GetManagedObjects: BlueZ' cached
// values, marked `cached`), InterfacesAdded (a device seen for the first time) and PropertiesChanged
// (every advert once DuplicateData is on). One subscription serves every device: there are no
// per-device proxies, and the per-device state is a small map of identity (address, type, name, rssi).
//
// Good neighbour: BlueZ is shared with other clients (Home Assistant on the same Pi). This class never
// powers the adapter, never changes pairable/discoverable, never removes devices, and stop() ends only
// its own discovery session (BlueZ keeps one per client and merges the filters).
//
// Nothing here touches D-Bus before start(). No logging: status transitions go to a callback and
// everything else is counted. Callbacks run on the io thread; none runs after stop().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "protocols/common/bytes.h"
#include "protocols/xiaomi_ble/bluez/bluez_bus.h"
#include "protocols/xiaomi_ble/codec/mibeacon.h"  // kMiBeaconServiceUuid

namespace cloudless::xiaomi_ble {


enum class AddressType { unknown, public_address, random };
std::string_view address_type_name(AddressType type);  // "unknown" | "public" | "random"

enum class AdvertSource {
  cached,   // read from GetManagedObjects at start: BlueZ' last known values, possibly old
  added,    // InterfacesAdded: a device BlueZ had not seen (or had forgotten)
  changed,  // PropertiesChanged: a fresh advertisement
};
std::string_view advert_source_name(AdvertSource source);  // "cached" | "added" | "changed"

struct Advert {
  std::string mac;                               // "A4:C1:38:02:83:F4" (upper case)
  AddressType address_type = AddressType::unknown;
  std::optional<std::string> name;               // BlueZ' Name, when the device ever sent one
  std::optional<std::int16_t> rssi;              // dBm: this update's, else the latest BlueZ reported
  std::map<std::string, Bytes> service_data;     // lower-case 128-bit UUID -> bytes, as in this update
  std::map<std::uint16_t, Bytes> manufacturer_data;  // company id -> bytes, as in this update
  AdvertSource source = AdvertSource::changed;
  std::string object_path;                       // /org/bluez/hci0/dev_A4_C1_38_02_83_F4
};

enum class ScanState {
  stopped,          // not started, or stop() was called
  bus_unavailable,  // cannot connect to the system bus, or the connection was lost: reconnecting
  bluez_gone,       // org.bluez has no owner (bluetoothd not running): waiting for it
  no_adapter,       // bluetoothd runs but the adapter does not exist: waiting for it
  adapter_off,      // the adapter is powered off: waiting (we never power it on)
  starting,         // setting the filter / starting (or restarting) discovery
  discovering,      // our discovery session is active
  failed,           // a BlueZ call failed: retrying after retry_interval
};
std::string_view scan_state_name(ScanState state);  // the enumerator's name

struct ScannerStatus {
  ScanState state = ScanState::stopped;
  std::string text;  // human sentence for the log, e.g. "discovering on hci0 (filter: le, fe95)"
};

struct ScannerCounters {
  std::uint64_t adverts = 0;            // adverts reported (every source)
  std::uint64_t restarts = 0;           // discovery restarts, for any reason
  std::uint64_t watchdog_restarts = 0;  // of which the watchdog's (no advert for `watchdog`)
  std::uint64_t errors = 0;             // failed BlueZ calls and lost bus connections
  std::uint64_t malformed = 0;          // properties of an unexpected D-Bus type (skipped)
  std::uint64_t bluez_appeared = 0;     // org.bluez got an owner (1 at start, +1 per bluetoothd restart)
  std::uint64_t adapter_appeared = 0;   // our adapter found (at start, after power-on, re-added)
};

struct ScannerOptions {
  // No advert at all for this long while discovering restarts discovery (docs/bridges.md §2.3
  // item 7: the stack silently stops after hours). Zero disables the watchdog.
  std::chrono::milliseconds watchdog{std::chrono::minutes(5)};
  std::chrono::milliseconds retry_interval{std::chrono::seconds(5)};  // after a failed call or bus loss
  std::chrono::milliseconds rediscover_delay{std::chrono::seconds(1)};  // Discovering=false → restart
  std::chrono::milliseconds call_timeout{std::chrono::seconds(10)};     // each BlueZ call
  // Discovery filter (Adapter1.SetDiscoveryFilter). Empty `uuids` = every advertiser.
  std::vector<std::string> uuids{std::string(kMiBeaconServiceUuid)};
  bool duplicate_data = true;  // a PropertiesChanged for every advert, not only for changed data
  // How to reach the bus; default: BluezBus::open_system. Tests substitute their own.
  std::function<BusOpenResult(boost::asio::io_context&)> open_bus;
};

class AdvertScanner : public std::enable_shared_from_this<AdvertScanner> {
 public:
  using AdvertCallback = std::function<void(const Advert&)>;
  using StatusCallback = std::function<void(const ScannerStatus&)>;

  static std::shared_ptr<AdvertScanner> create(boost::asio::io_context& io, ScannerOptions options = {});
  ~AdvertScanner();
  AdvertScanner(const AdvertScanner&) = delete;
  AdvertScanner& operator=(const AdvertScanner&) = delete;

  void on_advert(AdvertCallback callback) { on_advert_ = std::move(callback); }
  void on_status(StatusCallback callback) { on_status_ = std::move(callback); }

  // Starts scanning on `adapter` ("hci0"); no-op if already started. Connects to the bus now.
  void start(const std::string& adapter = "hci0");
  // Ends our discovery session (if any) and disconnects. No callback runs afterwards. Idempotent.
  void stop();

  const ScannerStatus& status() const { return status_; }
  const ScannerCounters& counters() const { return counters_; }
  // False when BlueZ refused the discovery filter and we scan unfiltered.
  bool filter_applied() const { return filter_applied_; }
  std::size_t known_devices() const { return devices_.size(); }

 private:
  struct DeviceInfo {
    std::string mac;
    AddressType address_type = AddressType::unknown;
    std::optional<std::string> name;
    std::optional<std::int16_t> rssi;
  };
  enum class Phase { idle, starting, discovering, restarting };

  AdvertScanner(boost::asio::io_context& io, ScannerOptions options);

  static std::shared_ptr<AdvertScanner> current(const std::weak_ptr<AdvertScanner>& weak, std::uint64_t epoch);
  void connect();
  void on_bus_lost(const std::string& why);
  void query_owner();
  void bluez_appeared(const std::string& owner);
  void bluez_vanished(const std::string& why);
  void read_objects();
  void adapter_found(const std::map<std::string, sdbus::Variant>& properties);
  void adapter_lost(const std::string& why);
  void begin_discovery(const std::string& why);
  void set_filter_then_start(std::uint64_t epoch);
  void start_discovery(std::uint64_t epoch);
  void restart_discovery(const std::string& why, bool by_watchdog);
  void arm_watchdog();
  void on_watchdog();
  void retry_later(std::function<void()> action);
  void call_failed(const std::string& what, const sdbus::Error& error, std::function<void()> retry);

  void on_name_owner_changed(sdbus::Message& signal);
  void on_interfaces_added(sdbus::Message& signal);
  void on_interfaces_removed(sdbus::Message& signal);
  void on_properties_changed(sdbus::Message& signal);
  void on_adapter_properties(const std::map<std::string, sdbus::Variant>& changed);
  void on_device_properties(const std::string& path, const std::map<std::string, sdbus::Variant>& properties,
                            AdvertSource source);

  bool is_our_device(const std::string& path) const;
  void set_status(ScanState state, std::string text);
  void bus_call(const std::string& path, const std::string& interface, const std::string& method,
                const BluezBus::ArgsWriter& args, BluezBus::ReplyHandler done);

  boost::asio::io_context& io_;
  ScannerOptions options_;
  std::shared_ptr<BluezBus> bus_;
  boost::asio::steady_timer retry_timer_;
  boost::asio::steady_timer watchdog_timer_;
  AdvertCallback on_advert_;
  StatusCallback on_status_;

  bool started_ = false;
  std::string adapter_;       // "hci0"
  std::string adapter_path_;  // "/org/bluez/hci0"
  // Bumped whenever the world our pending calls were made for is gone (bluetoothd or adapter went,
  // stop()): replies carrying an older epoch are ignored.
  std::uint64_t epoch_ = 0;
  std::string bluez_owner_;  // unique name of bluetoothd, "" while absent
  bool adapter_present_ = false;
  bool adapter_powered_ = false;
  bool adapter_discovering_ = false;
  Phase phase_ = Phase::idle;
  bool session_ = false;  // we (believe we) hold a discovery session
  bool filter_applied_ = false;
  std::string filter_note_;
  std::chrono::steady_clock::time_point last_advert_{};
  std::map<std::string, DeviceInfo> devices_;  // object path -> identity, our adapter's devices only
  ScannerStatus status_;
  ScannerCounters counters_;
};

// Pure helpers, exposed for the unit tests.
namespace bluez {
// "/org/bluez/hci0/dev_A4_C1_38_02_83_F4" -> "A4:C1:38:02:83:F4"; nullopt if not a device path.
std::optional<std::string> mac_from_device_path(std::string_view path);
// The discovery filter as sent to SetDiscoveryFilter.
std::map<std::string, sdbus::Variant> discovery_filter(const ScannerOptions& options);

// What one Device1 property dictionary (InterfacesAdded, GetManagedObjects or PropertiesChanged)
// tells us; properties of an unexpected type are skipped and counted in `malformed`.
struct DeviceUpdate {
  std::optional<std::string> address;
  std::optional<AddressType> address_type;
  std::optional<std::string> name;
  std::optional<std::int16_t> rssi;
  std::optional<std::map<std::string, Bytes>> service_data;
  std::optional<std::map<std::uint16_t, Bytes>> manufacturer_data;
  int malformed = 0;

  // An advertisement was received (not just a property such as Connected or Paired changing).
  bool is_advert() const {
    return rssi || (service_data && !service_data->empty()) || (manufacturer_data && !manufacturer_data->empty());
  }
};
DeviceUpdate decode_device_properties(const std::map<std::string, sdbus::Variant>& properties);
}  // namespace bluez

}  // namespace cloudless::xiaomi_ble
