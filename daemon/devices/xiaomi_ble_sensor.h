// Device kind: a Xiaomi BLE sensor that advertises MiBeacon frames (thermometers, door, motion,
// plant sensors, buttons...). It never connects: it listens to the adverts of its configured MAC
// through the daemon's BleHub, decodes them with protocols/xiaomi_ble (decode_advert: parse, check
// the MAC, decrypt with the bindkey, decode objects with the product's rules) and turns readings into
// the BLE sensor state of docs/contract.md:
//   {"temperature":22.4,"humidity":48.2,"battery":87,"rssi":-71,"last_seen":"…"}
//   door {"contact":true,…} (true = closed), motion {"occupancy":true,"illuminance":12,…}
//
//   advert ─▶ cached? drop ─▶ decode_advert ─▶ MIC/format/product checks ─▶ frame counter filter
//          ─▶ readings → state JSON (+ rssi) ─▶ publish; new quantity → entities grow
//   silence timer: no accepted advert for `offline_after` → availability offline
//
// Entities are declared from the product table (docs/ble.md §1.6) once the product id is known
// (from an advert, from `product_id:` in the config, or remembered in state_dir) and extended when a
// quantity the table does not list shows up. Each gets an HA expire_after sized per quantity
// (docs/bridges.md §5.3): ~3 advert cycles for the measurements of chatty devices, 25 h for
// battery and for everything a sleepy (event-driven) device sends.
//
// Nothing wrong is ever published: adverts that fail the MIC (wrong bindkey), malformed or truncated
// frames, unknown product ids, unencrypted frames for a device with a bindkey (anyone can send a
// plain frame under its address), replayed/old frame counters and BlueZ' cached values are dropped,
// each reason logged once and then summarised at most once a minute per device.
//
// Button events (and the MUE4094RT's motion events, a lock's actions and alarms) go to the `action`
// key, zigbee2mqtt-style: the event is published ({"action":"single"}, or "button_1_double",
// "rotate_left" with "action_value" steps for dimmers, "unlock_outside_the_door") and cleared right
// after ({"action":""}, action_value removed), so that an HA automation on the `action` sensor fires
// for every press, also twice the same. An advert with several events (two buttons pressed together,
// a lock action and its alarm) publishes one state per event, in frame order, then the clear. The
// MQTT layer has no `event` component, so this is a plain sensor (no state_class: HA then accepts "").
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "config/config.h"
#include "daemon/devices/ble_hub.h"
#include "daemon/devices/device_context.h"
#include "daemon/model/device.h"
#include "daemon/devices/state_store.h"
#include "protocols/common/bytes.h"
#include "protocols/xiaomi_ble/codec/frame_counter_filter.h"
#include "protocols/xiaomi_ble/codec/mibeacon.h"
#include "protocols/xiaomi_ble/codec/products.h"

namespace cloudless {

class XiaomiBleSensor : public model::Device {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    // Availability goes offline after this long without an accepted advert. Default: the longest
    // expire_after of the device's entities (25 h: battery), so the availability topic agrees with
    // what Home Assistant shows (docs/bridges.md §5.3 "the long timeout").
    std::optional<std::chrono::milliseconds> offline_after;
  };

  // Why adverts were not published (each also counted in Counters).
  enum class Problem { decryption, malformed, unknown_product, unencrypted, stale, rejected_object };
  static constexpr std::size_t kProblemCount = 6;

  struct Counters {
    std::uint64_t adverts = 0;        // handed to on_advert
    std::uint64_t accepted = 0;       // published
    std::uint64_t duplicates = 0;     // same frame counter again (every event is repeated 8-10 times)
    std::uint64_t cached = 0;         // BlueZ' remembered values at scan start
    std::uint64_t objectless = 0;     // frames without objects ("I exist" beacons)
    std::uint64_t no_key = 0;         // encrypted frames while no bindkey is configured
    std::array<std::uint64_t, kProblemCount> problems{};  // indexed by Problem
    std::uint64_t problem(Problem p) const { return problems[static_cast<std::size_t>(p)]; }
  };

  XiaomiBleSensor(std::string id, config::BleDeviceConfig config, DeviceContext context, Options options = {});
  ~XiaomiBleSensor() override;

  model::DeviceInfo info() const override;
  std::vector<model::Entity> entities() const override;
  void start() override;  // subscribes to the hub (when the context has one)
  void stop() override;
  void refresh() override;  // BLE sensors cannot be polled: nothing to do
  model::CommandError command(const nlohmann::json& changes) override;

  // One advert from this device's MAC: the hub's callback, and the tests' entry point. Ignored
  // before start() and after stop().
  void on_advert(const BleAdvert& advert);

  const Counters& counters() const { return counters_; }
  const xiaomi_ble::Product* product() const { return product_; }
  std::chrono::milliseconds offline_after() const;

 private:
  void restore();
  void remember(bool urgent);
  bool adopt_stored_key(Clock::time_point now);  // true when a new key was taken from state_dir
  void adopt_product(const xiaomi_ble::Product& product);
  bool declare(xiaomi_ble::Quantity quantity);
  void accept(const xiaomi_ble::DecodedAdvert& advert, Clock::time_point now);
  void mark_alive(Clock::time_point now);
  void arm_silence_timer();
  void on_silence();
  void report(Problem problem, Clock::time_point now, const std::string& detail);
  void schedule_report_flush();
  void flush_reports();
  std::string summary_line(Problem problem, std::uint64_t count, long long seconds) const;
  bool sleepy() const;

  config::BleDeviceConfig config_;
  DeviceContext context_;
  Options options_;
  std::optional<xiaomi_ble::MacAddress> mac_;
  Bytes key_;  // empty: no bindkey configured or stored
  std::optional<Clock::time_point> stored_key_checked_;
  std::string stored_key_error_;  // the last unreadable-file problem logged
  BleSubscription subscription_;
  boost::asio::steady_timer silence_timer_;
  boost::asio::steady_timer report_timer_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // timer handlers hold a weak_ptr to it
  bool started_ = false;

  const xiaomi_ble::Product* product_ = nullptr;
  std::vector<xiaomi_ble::Quantity> declared_;  // in declaration order; one per state key
  xiaomi_ble::FrameCounterFilter counter_filter_;
  std::optional<std::int16_t> last_rssi_;
  Bytes last_frame_;  // the last accepted frame, to skip its repetitions cheaply
  std::optional<Clock::time_point> last_accepted_;
  std::optional<std::chrono::system_clock::time_point> last_accepted_wall_;

  bool warned_no_key_ = false;
  bool warned_product_mismatch_ = false;
  std::array<ProblemLog, kProblemCount> problem_logs_;
  std::array<std::string, kProblemCount> last_detail_;  // for summaries that name the cause
  Counters counters_;
  StateFile state_file_;
};

}  // namespace cloudless
