// The Xiaomi BLE sensor device kind (daemon/devices/xiaomi_ble_sensor) fed adverts directly, as the
// BleHub would hand them over, without D-Bus: state JSON values, declared entities, availability,
// and everything that must never be published (wrong bindkey, malformed frames, unknown products,
// replayed counters, unencrypted frames for a keyed device, BlueZ' cached values). Plus the hub's
// dispatch by MAC.
//
// Frames are the real vectors of docs/ble.md §3 (xiaomi-ble = XB and ble_monitor = BM test
// suites; their public test keys, never a live device's); more are built with the codec's
// encode_mibeacon where a sequence of counters is needed, labelled synthetic.
#include <catch2/catch.hpp>

#include "tests/unit/device_test_support.h"

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "daemon/devices/ble_hub.h"
#include "daemon/devices/registry.h"
#include "daemon/devices/xiaomi_ble_sensor.h"
#include "protocols/common/bytes.h"
#include "protocols/xiaomi_ble/codec/mibeacon.h"
#include "tests/unit/test_support.h"

using namespace cloudless;
using cloudless::test::hex;
using namespace std::chrono_literals;
using nlohmann::json;
namespace ble = cloudless::xiaomi_ble;

namespace {

using Listener = cloudless::test::RecordingListener;
using cloudless::test::LogCapture;
struct TempDir : cloudless::test::TempDir {
  TempDir() : cloudless::test::TempDir("cloudless-ble") {}
};


// ---- vectors (docs/ble.md §3) -----------------------------------------------------------------

// V16 XB/BM test_Xiaomi_LYWSD03MMC_encrypted: FC 5858 (v5, MAC, object, encrypted), pid 055b
// LYWSD03MMC, fcnt 0x50, MAC f4830238c1a4, ciphertext 95ef58763c, ext counter 260000, MIC 97e2abb5;
// decrypts to 0x1006 len 2 d301 = 467 → humidity 46.7 %.
constexpr const char* kV16 = "58585b0550f4830238c1a495ef58763c26000097e2abb5";
constexpr const char* kV16Mac = "A4:C1:38:02:83:F4";
constexpr const char* kV16Key = "e9ea895fac7cca6d30532432a516f3a8";
// V1 XB test_Xiaomi_LYWSDCGQ (plain v2): FC 2050, pid 01aa, fcnt a3, MAC bf2e3b342d58, objects
// 100d len 4 b400 9502 (T 18.0 °C, H 66.1 %) and 100a len 1 3b (battery 59 %).
constexpr const char* kV1 = "5020aa01a3bf2e3b342d580d1004b40095020a10013b";
constexpr const char* kV1Mac = "58:2D:34:3B:2E:BF";
// V3 XB/BM test_Xiaomi_LYWSD03MMC (plain v3, custom firmware "Mi" mode): 100d 1001 ea01 → T 27.2, H 49.0.
constexpr const char* kV3 = "50305b05034c94b438c1a40d10041001ea01";
constexpr const char* kV3Mac = "A4:C1:38:B4:94:4C";
// V23 XB test_Xiaomi_MCCGQ02HL (v5 enc): 1019 len 1 02 → open, left open (closing timeout).
constexpr const char* kV23 = "58588b09a3ae2181ecaae40e2c553c040000d28a500c";
constexpr const char* kV23Mac = "E4:AA:EC:81:21:AE";
constexpr const char* kV23Key = "017e52d2684779298709b117c0a75a7b";
// V25 / V26 XB test_Xiaomi_RTCGQ02LM_light_and_motion / _timeout_motion (v5 enc, same device):
// 000f 000100 → motion, light (256); 101b 1e000000 → motion cleared after 30 s.
constexpr const char* kV25 = "58598d0a8c778e203cc2185a273628ec32060000c4264015";
constexpr const char* kV26 = "48598d0a927953750fed0f990600005cad2c29";
constexpr const char* kRtcgqMac = "18:C2:3C:20:8E:77";
constexpr const char* kRtcgqKey = "4960bb9f8711b4ffd7df1756d11427ae";
// V33 XB test_Xiaomi_XMWXKG01LM_press (v5 enc): 4e0c len 0 → a button press.
constexpr const char* kV33 = "58598723350537243cc218d67794020000cb2de309";
constexpr const char* kV33Mac = "18:C2:3C:24:37:05";
constexpr const char* kV33Key = "7202a2d4201bbf82ea5bb3705657c32a";
// V36 BM/XB test_Xiaomi_YLKG07YL_rotate (legacy v3 enc, 12-byte key): 1001 00ff04 → rotate left 1 step.
constexpr const char* kV36 = "5830b603368b98c54124f88bb8f2661351000000d6";
constexpr const char* kV36Mac = "F8:24:41:C5:98:8B";
constexpr const char* kV36Key = "b853075158487ca39a5b5ea9";
// V38 XB test_bindkey_wrong (RTCGQ02LM 54:EF:44:E0:C4:0F) under XB's wrong key: the MIC fails.
constexpr const char* kV38 = "58598d0a170fc4e044ef547cc27a5c03a1000000790df258";
constexpr const char* kV38Mac = "54:EF:44:E0:C4:0F";
constexpr const char* kV38WrongKey = "814aac74c4f17b6c1581e1ab87816b99";
// V42 XB test_Xiaomi_unknown_device_logs_product_id: V1 with pid ffff.
constexpr const char* kV42 = "5020ffffa3bf2e3b342d580d1004b40095020a10013b";

BleAdvert advert(const std::string& mac, const Bytes& frame, std::optional<std::int16_t> rssi = -60) {
  BleAdvert a;
  a.mac = mac;
  a.rssi = rssi;
  a.mibeacon = frame;
  return a;
}

BleAdvert advert(const std::string& mac, const char* frame_hex, std::optional<std::int16_t> rssi = -60) {
  return advert(mac, hex(frame_hex), rssi);
}

// Synthetic v5 encrypted frame (FC 5858: MAC + object + encrypted), built like docs/ble.md §3.4 S1.
Bytes v5_frame(std::uint16_t product_id, std::uint8_t counter, std::uint32_t extended, const char* objects_hex,
               const char* key_hex, const char* mac) {
  ble::MiBeacon beacon;
  beacon.frame_control = ble::decode_frame_control(0x5858);
  beacon.product_id = product_id;
  beacon.frame_counter = counter;
  beacon.extended_counter = extended;
  const Bytes frame = ble::encode_mibeacon(beacon, hex(objects_hex), hex(key_hex), *ble::parse_mac(mac));
  REQUIRE_FALSE(frame.empty());
  return frame;
}




config::BleDeviceConfig device_config(const std::string& mac, const std::string& key = "") {
  config::BleDeviceConfig config;
  config.mac = mac;
  config.bindkey_hex = key;
  return config;
}

// One sensor, started, with its listener and a private state_dir.
struct Fixture {
  boost::asio::io_context io;
  Listener listener;
  TempDir dir;
  std::unique_ptr<XiaomiBleSensor> sensor;

  explicit Fixture(const config::BleDeviceConfig& config, XiaomiBleSensor::Options options = {},
                   const std::string& id = "bedroom_sensor") {
    sensor = std::make_unique<XiaomiBleSensor>(id, config, DeviceContext{io, listener, dir.path()}, options);
    sensor->start();
  }
  const json& last() const {
    REQUIRE_FALSE(listener.states.empty());
    return listener.states.back();
  }
  const model::Entity* entity(const std::string& key) const {
    static std::vector<model::Entity> entities;
    entities = sensor->entities();
    for (const model::Entity& e : entities) {
      if (e.key == key) return &e;
    }
    return nullptr;
  }
};

}  // namespace

TEST_CASE("ble sensor: encrypted LYWSD03MMC advert (V16) becomes state, entities and availability", "[ble_sensor]") {
  Fixture f(device_config(kV16Mac, kV16Key));
  CHECK_FALSE(f.sensor->online());
  CHECK(f.sensor->info().stable_id == "ble_a4c1380283f4");
  CHECK(f.sensor->info().protocol == "xiaomi_ble");
  // Before any advert the product is unknown: only rssi and last_seen.
  CHECK(f.sensor->entities().size() == 2);

  f.sensor->on_advert(advert(kV16Mac, kV16, -71));
  REQUIRE(f.listener.states.size() == 1);
  CHECK(f.last() == json{{"humidity", 46.7}, {"rssi", -71}});  // 0x1006 d301 = 467 / 10
  CHECK(f.sensor->online());
  CHECK(f.listener.availability == std::vector<bool>{true});
  CHECK(f.sensor->last_seen().has_value());
  CHECK(f.sensor->counters().accepted == 1);

  // The product (learned from the advert) declares its entities: temperature, humidity, battery.
  REQUIRE(f.sensor->product() != nullptr);
  CHECK(f.sensor->product()->model == "LYWSD03MMC");
  CHECK(f.sensor->info().model_id == "LYWSD03MMC");
  CHECK(f.listener.descriptions >= 1);
  CHECK_FALSE(model::validate_entities(f.sensor->entities()).has_value());
  const model::Entity* temperature = f.entity("temperature");
  REQUIRE(temperature);
  CHECK(temperature->device_class == "temperature");
  CHECK(temperature->unit == "°C");
  CHECK(temperature->state_class == "measurement");
  CHECK(temperature->expire_after_s == 3600);  // chatty thermometer: ~3 advert cycles
  const model::Entity* humidity = f.entity("humidity");
  REQUIRE(humidity);
  CHECK(humidity->unit == "%");
  CHECK(humidity->expire_after_s == 3600);
  const model::Entity* battery = f.entity("battery");
  REQUIRE(battery);
  CHECK(battery->expire_after_s == 25 * 3600);  // battery: the long timeout (docs/bridges.md §5.3)
  CHECK(battery->entity_category == "diagnostic");
  const model::Entity* rssi = f.entity("rssi");
  REQUIRE(rssi);
  CHECK(rssi->entity_category == "diagnostic");
  CHECK_FALSE(rssi->enabled_by_default);
  CHECK(rssi->unit == "dBm");
  const model::Entity* last_seen = f.entity("last_seen");
  REQUIRE(last_seen);
  CHECK(last_seen->device_class == "timestamp");
  // Availability follows the longest expiry: 25 h.
  CHECK(f.sensor->offline_after() == std::chrono::hours(25));

  // The same frame again (every event is repeated 8-10 times): dropped, nothing published.
  f.sensor->on_advert(advert(kV16Mac, kV16, -70));
  CHECK(f.listener.states.size() == 1);
  CHECK(f.sensor->counters().duplicates == 1);
}

TEST_CASE("ble sensor: plain adverts (V1, V3) publish every reading with its JSON type", "[ble_sensor]") {
  SECTION("V1 LYWSDCGQ: two objects in one frame") {
    Fixture f(device_config(kV1Mac));
    f.sensor->on_advert(advert(kV1Mac, kV1, -80));
    REQUIRE(f.listener.states.size() == 1);
    CHECK(f.last() == json{{"temperature", 18}, {"humidity", 66.1}, {"battery", 59}, {"rssi", -80}});
    CHECK(f.last()["battery"].is_number_integer());
    CHECK(f.sensor->product()->model == "LYWSDCGQ");
  }
  SECTION("V3 LYWSD03MMC in plain v3 (custom firmware)") {
    Fixture f(device_config(kV3Mac));
    f.sensor->on_advert(advert(kV3Mac, kV3, std::nullopt));
    REQUIRE(f.listener.states.size() == 1);
    CHECK(f.last() == json{{"temperature", 27.2}, {"humidity", 49}});  // no RSSI known: none published
  }
}

TEST_CASE("ble sensor: door (V23) and motion (V25, V26) binary sensors", "[ble_sensor]") {
  SECTION("MCCGQ02HL left open") {
    Fixture f(device_config(kV23Mac, kV23Key));
    f.sensor->on_advert(advert(kV23Mac, kV23));
    REQUIRE(f.listener.states.size() == 1);
    // contact false = open (zigbee2mqtt: contact true is closed); left open after the closing timeout.
    CHECK(f.last() == json{{"contact", false}, {"door_left_open", true}, {"rssi", -60}});
    const model::Entity* contact = f.entity("contact");
    REQUIRE(contact);
    CHECK(contact->component == model::Component::binary_sensor);
    CHECK(contact->device_class == "door");
    CHECK(contact->inverted);  // HA "on" (open) when contact is false
    CHECK(contact->expire_after_s == 25 * 3600);  // sleepy: event-driven reports
    const model::Entity* left_open = f.entity("door_left_open");
    REQUIRE(left_open);
    CHECK(left_open->component == model::Component::binary_sensor);
  }
  SECTION("RTCGQ02LM motion with light, then motion cleared") {
    Fixture f(device_config(kRtcgqMac, kRtcgqKey));
    f.sensor->on_advert(advert(kRtcgqMac, kV25));
    REQUIRE(f.listener.states.size() == 1);
    CHECK(f.last() == json{{"occupancy", true}, {"light", true}, {"rssi", -60}});
    const model::Entity* occupancy = f.entity("occupancy");
    REQUIRE(occupancy);
    CHECK(occupancy->device_class == "motion");
    CHECK_FALSE(occupancy->inverted);

    f.sensor->on_advert(advert(kRtcgqMac, kV26, -65));
    REQUIRE(f.listener.states.size() == 2);
    CHECK(f.last() == json{{"occupancy", false}, {"light", true}, {"no_motion_time", 30}, {"rssi", -65}});
    const model::Entity* no_motion = f.entity("no_motion_time");
    REQUIRE(no_motion);
    CHECK(no_motion->unit == "s");
  }
}

TEST_CASE("ble sensor: button events go to `action` and are cleared right after", "[ble_sensor]") {
  SECTION("XMWXKG01LM press (zero-length object, V33)") {
    Fixture f(device_config(kV33Mac, kV33Key));
    f.sensor->on_advert(advert(kV33Mac, kV33));
    REQUIRE(f.listener.states.size() == 2);
    CHECK(f.listener.states[0]["action"] == "single");
    CHECK(f.listener.states[1]["action"] == "");
    const model::Entity* action = f.entity("action");
    REQUIRE(action);
    CHECK(action->component == model::Component::sensor);
    CHECK_FALSE(action->expire_after_s.has_value());  // an event never goes stale
  }
  SECTION("YLKG07YL dimmer rotated left (legacy v3, 12-byte key, V36)") {
    Fixture f(device_config(kV36Mac, kV36Key));
    f.sensor->on_advert(advert(kV36Mac, kV36));
    REQUIRE(f.listener.states.size() == 2);
    CHECK(f.listener.states[0]["action"] == "rotate_left");
    CHECK(f.listener.states[0]["action_value"] == -1);
    CHECK(f.listener.states[1]["action"] == "");
    CHECK_FALSE(f.listener.states[1].contains("action_value"));  // the steps belong to that event only
  }
}

TEST_CASE("ble sensor: a wrong bindkey never publishes and is logged, rate-limited", "[ble_sensor]") {
  LogCapture log;
  SECTION("V38 under the wrong key") {
    Fixture f(device_config(kV38Mac, kV38WrongKey), {}, "hall_motion");
    for (int i = 0; i < 5; ++i) f.sensor->on_advert(advert(kV38Mac, kV38));
    CHECK(f.listener.states.empty());
    CHECK(f.listener.availability.empty());
    CHECK_FALSE(f.sensor->online());
    CHECK(f.sensor->counters().problem(XiaomiBleSensor::Problem::decryption) == 5);
    // One line for the first failure, the rest summarised later (not within the same minute).
    CHECK(log.warnings({"hall_motion", "failed decryption", "check the bindkey"}) == 1);
  }
  SECTION("V16 under another device's key") {
    Fixture f(device_config(kV16Mac, kV23Key));
    f.sensor->on_advert(advert(kV16Mac, kV16));
    CHECK(f.listener.states.empty());
    CHECK(log.warnings({"bedroom_sensor", "A4:C1:38:02:83:F4", "failed decryption"}) == 1);
  }
}

TEST_CASE("ble sensor: encrypted adverts without a bindkey: one clear warning, nothing published", "[ble_sensor]") {
  LogCapture log;
  Fixture f(device_config(kV16Mac));
  f.sensor->on_advert(advert(kV16Mac, kV16));
  f.sensor->on_advert(advert(kV16Mac, kV16));
  CHECK(f.listener.states.empty());
  CHECK(f.sensor->counters().no_key == 2);
  CHECK(log.warnings({"bedroom_sensor", "no bindkey is configured", "bindkey:"}) == 1);
}

TEST_CASE("ble sensor: unknown product ids are not published; the log names the id and the MAC", "[ble_sensor]") {
  LogCapture log;
  Fixture f(device_config(kV1Mac));
  f.sensor->on_advert(advert(kV1Mac, kV42));
  CHECK(f.listener.states.empty());
  CHECK(f.sensor->counters().problem(XiaomiBleSensor::Problem::unknown_product) == 1);
  // The same assertion as XB test_Xiaomi_unknown_device_logs_product_id.
  CHECK(log.warnings({"product_id: 0xffff", "58:2D:34:3B:2E:BF"}) == 1);
}

TEST_CASE("ble sensor: malformed, truncated and oversized frames are dropped", "[ble_sensor]") {
  LogCapture log;
  Fixture f(device_config(kV16Mac, kV16Key));
  const Bytes frame = hex(kV16);
  // Every proper prefix of V16: none may be published (short ones are malformed, the rest fail the MIC).
  for (std::size_t n = 0; n < frame.size(); ++n) {
    CAPTURE(n);
    f.sensor->on_advert(advert(kV16Mac, Bytes(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(n))));
  }
  Bytes oversized = frame;
  oversized.resize(32, 0);  // longer than any MiBeacon (31 bytes)
  f.sensor->on_advert(advert(kV16Mac, oversized));
  // Another device's frame relayed under this address (the frame MAC is not the advertiser's).
  f.sensor->on_advert(advert(kV16Mac, kV23));
  CHECK(f.listener.states.empty());
  const auto& c = f.sensor->counters();
  CHECK(c.problem(XiaomiBleSensor::Problem::malformed) + c.problem(XiaomiBleSensor::Problem::decryption) +
            c.objectless ==
        frame.size() + 2);
  CHECK(c.problem(XiaomiBleSensor::Problem::malformed) > 0);
  CHECK(log.warnings({"malformed advert"}) == 1);  // the rest is summarised

  // The real frame still works afterwards.
  f.sensor->on_advert(advert(kV16Mac, kV16));
  CHECK(f.listener.states.size() == 1);
}

TEST_CASE("ble sensor: replayed counters are dropped, newer ones accepted (synthetic v5 frames)", "[ble_sensor]") {
  LogCapture log;
  Fixture f(device_config(kV16Mac, kV16Key));
  // LYWSD03MMC (055b) temperature 0x1004: 22.4 °C (e000) at counter 100, 22.5 (e100) at 101.
  const Bytes first = v5_frame(0x055B, 100, 0, "041002e000", kV16Key, kV16Mac);
  const Bytes second = v5_frame(0x055B, 101, 0, "041002e100", kV16Key, kV16Mac);
  f.sensor->on_advert(advert(kV16Mac, first));
  f.sensor->on_advert(advert(kV16Mac, second));
  REQUIRE(f.listener.states.size() == 2);
  CHECK(f.listener.states[0]["temperature"] == 22.4);
  CHECK(f.listener.states[1]["temperature"] == 22.5);

  f.sensor->on_advert(advert(kV16Mac, first));  // replay of an authentic older frame
  CHECK(f.listener.states.size() == 2);
  CHECK(f.listener.states.back()["temperature"] == 22.5);
  CHECK(f.sensor->counters().problem(XiaomiBleSensor::Problem::stale) == 1);
  CHECK(log.warnings({"old frame counter", "replayed"}) == 1);

  // A plain frame under the address of a device with a bindkey: spoofable, dropped.
  f.sensor->on_advert(advert(kV3Mac, kV3));  // (wrong MAC for this device: frame MAC check)
  ble::MiBeacon plain;
  plain.frame_control = ble::decode_frame_control(0x5050);  // v5 plain, MAC + object
  plain.product_id = 0x055B;
  plain.frame_counter = 200;
  const Bytes spoofed = ble::encode_mibeacon(plain, hex("041002ff00"), {}, *ble::parse_mac(kV16Mac));
  REQUIRE_FALSE(spoofed.empty());
  f.sensor->on_advert(advert(kV16Mac, spoofed));
  CHECK(f.listener.states.size() == 2);
  CHECK(f.sensor->counters().problem(XiaomiBleSensor::Problem::unencrypted) == 1);
}

TEST_CASE("ble sensor: a quantity the product table does not list extends the entities", "[ble_sensor]") {
  Fixture f(device_config(kV16Mac, kV16Key));
  f.sensor->on_advert(advert(kV16Mac, kV16));
  const int descriptions = f.listener.descriptions;
  REQUIRE(f.entity("illuminance") == nullptr);
  // Synthetic: the LYWSD03MMC sending 0x1007 illuminance 300 lx (2c0100).
  f.sensor->on_advert(advert(kV16Mac, v5_frame(0x055B, 0x51, 0x26, "0710032c0100", kV16Key, kV16Mac)));
  REQUIRE(f.listener.states.size() == 2);
  CHECK(f.last()["illuminance"] == 300);
  CHECK(f.last()["humidity"] == 46.7);  // the state keeps earlier readings
  CHECK(f.listener.descriptions == descriptions + 1);
  const model::Entity* illuminance = f.entity("illuminance");
  REQUIRE(illuminance);
  CHECK(illuminance->unit == "lx");
  CHECK(illuminance->expire_after_s == 3600);
}

TEST_CASE("ble sensor: BlueZ' cached values and RSSI-only updates publish nothing", "[ble_sensor]") {
  Fixture f(device_config(kV16Mac, kV16Key));
  BleAdvert cached = advert(kV16Mac, kV16, -50);
  cached.cached = true;
  f.sensor->on_advert(cached);
  BleAdvert rssi_only;
  rssi_only.mac = kV16Mac;
  rssi_only.rssi = -42;
  f.sensor->on_advert(rssi_only);
  CHECK(f.listener.states.empty());
  CHECK(f.sensor->counters().cached == 1);
  // The latest RSSI goes out with the next reading.
  f.sensor->on_advert(advert(kV16Mac, hex(kV16), std::nullopt));
  REQUIRE(f.listener.states.size() == 1);
  CHECK(f.last()["rssi"] == -42);
}

TEST_CASE("ble sensor: offline after the silence, online again at the next advert", "[ble_sensor]") {
  XiaomiBleSensor::Options options;
  options.offline_after = 150ms;
  Fixture f(device_config(kV16Mac, kV16Key), options);
  f.sensor->on_advert(advert(kV16Mac, v5_frame(0x055B, 1, 0, "041002e000", kV16Key, kV16Mac)));
  CHECK(f.sensor->online());
  f.io.run_for(60ms);
  CHECK(f.sensor->online());
  f.io.restart();
  f.io.run_for(400ms);
  CHECK_FALSE(f.sensor->online());
  CHECK(f.listener.availability == std::vector<bool>{true, false});
  f.sensor->on_advert(advert(kV16Mac, v5_frame(0x055B, 2, 0, "041002e100", kV16Key, kV16Mac)));
  CHECK(f.sensor->online());
  CHECK(f.listener.availability == std::vector<bool>{true, false, true});
  f.sensor->stop();
  f.io.restart();
  f.io.run_for(300ms);  // stopped: no timer fires any more
  CHECK(f.listener.availability.size() == 3);
}

TEST_CASE("ble sensor: product, quantities and last seen survive a restart (state_dir)", "[ble_sensor]") {
  boost::asio::io_context io;
  TempDir dir;
  {
    Listener listener;
    XiaomiBleSensor sensor("bedroom_sensor", device_config(kV23Mac, kV23Key), DeviceContext{io, listener, dir.path()});
    sensor.start();
    sensor.on_advert(advert(kV23Mac, kV23));
    REQUIRE(listener.states.size() == 1);
    sensor.stop();
  }
  Listener listener;
  XiaomiBleSensor sensor("bedroom_sensor", device_config(kV23Mac, kV23Key), DeviceContext{io, listener, dir.path()});
  sensor.start();
  // Before any advert: entities of the learned product, and online (seen seconds ago, within 25 h).
  REQUIRE(sensor.product() != nullptr);
  CHECK(sensor.product()->model == "MCCGQ02HL");
  bool has_contact = false;
  for (const model::Entity& e : sensor.entities()) has_contact = has_contact || e.key == "contact";
  CHECK(has_contact);
  CHECK(sensor.online());
  CHECK(listener.states.empty());  // nothing old is republished as new
  // A fresh filter: the device's next frame (here the same capture) is accepted after a restart.
  sensor.on_advert(advert(kV23Mac, kV23));
  CHECK(listener.states.size() == 1);
}

TEST_CASE("ble sensor: the config's product_id declares entities before the first advert", "[ble_sensor]") {
  config::BleDeviceConfig config = device_config("AA:BB:CC:DD:EE:FF");
  config.product_id = 131;  // 0x0083 YM-K1501 kettle
  Fixture f(config);
  REQUIRE(f.sensor->product() != nullptr);
  CHECK(f.sensor->product()->model == "YM-K1501");
  CHECK(f.entity("temperature") != nullptr);
  CHECK(f.entity("action") != nullptr);
  // docs/ble.md §3.4 S3 (synthetic kettle advert): 1005 015a → heating, 90 °C.
  f.sensor->on_advert(advert("AA:BB:CC:DD:EE:FF", "5030830007ffeeddccbbaa051002015a"));
  REQUIRE(f.listener.states.size() == 1);
  CHECK(f.last() == json{{"action", "heating"}, {"temperature", 90}, {"rssi", -60}});
}

TEST_CASE("ble sensor: nothing happens before start() or after stop(); commands are refused", "[ble_sensor]") {
  boost::asio::io_context io;
  Listener listener;
  TempDir dir;
  XiaomiBleSensor sensor("s", device_config(kV16Mac, kV16Key), DeviceContext{io, listener, dir.path()});
  sensor.on_advert(advert(kV16Mac, kV16));
  CHECK(listener.states.empty());
  CHECK(sensor.command(json{{"state", "ON"}}).has_value());
  sensor.start();
  sensor.stop();
  sensor.on_advert(advert(kV16Mac, kV16));
  CHECK(listener.states.empty());
}

TEST_CASE("ble hub: adverts go only to the device subscribed to their MAC", "[ble_hub]") {
  // No system bus for the scanner the first subscription starts: it only reports "bus unavailable".
  ::setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/cloudless-test-bus", 1);
  LogCapture log;
  boost::asio::io_context io;
  BleHub hub(io, config::BleConfig{});
  CHECK_FALSE(hub.scanning());  // constructing it touches nothing
  std::vector<std::string> got_a, got_b;
  BleSubscription a = hub.subscribe("a4:c1:38:02:83:f4", [&](const BleAdvert& x) { got_a.push_back(x.mac); });
  CHECK(hub.scanning());
  {
    BleSubscription b = hub.subscribe(kV23Mac, [&](const BleAdvert& x) { got_b.push_back(x.mac); });
    hub.deliver(advert(kV16Mac, kV16));
    hub.deliver(advert(kV23Mac, kV23));
    hub.deliver(advert("11:22:33:44:55:66", kV1));  // nobody configured it: dropped
    CHECK(got_a == std::vector<std::string>{kV16Mac});
    CHECK(got_b == std::vector<std::string>{kV23Mac});
    CHECK(hub.stats().unconfigured == 1);
    CHECK(hub.subscribers() == 2);
  }
  CHECK(hub.subscribers() == 1);
  hub.deliver(advert(kV23Mac, kV23));
  CHECK(got_b.size() == 1);
  CHECK(hub.stats().unconfigured == 2);

  // The last subscription going stops the scan, but only after the current handler (reload churn).
  BleSubscription moved = std::move(a);
  CHECK_FALSE(a);
  moved.reset();
  CHECK(hub.scanning());
  io.run_for(100ms);
  CHECK_FALSE(hub.scanning());
}

TEST_CASE("ble hub: a sensor from the registry subscribes on start and unsubscribes on stop", "[ble_hub]") {
  ::setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/cloudless-test-bus", 1);
  LogCapture log;
  boost::asio::io_context io;
  Listener listener;
  TempDir dir;
  BleHub hub(io, config::BleConfig{});
  config::DeviceConfig entry;
  entry.id = "bedroom_sensor";
  entry.protocol = "xiaomi_ble";
  entry.settings = device_config(kV16Mac, kV16Key);
  std::unique_ptr<model::Device> device = make_device(entry, DeviceContext{io, listener, dir.path(), &hub});
  REQUIRE(device != nullptr);
  CHECK(hub.subscribers() == 0);
  device->start();
  CHECK(hub.subscribers() == 1);
  hub.deliver(advert(kV16Mac, kV16, -71));
  REQUIRE(listener.states.size() == 1);
  CHECK(listener.states[0] == json{{"humidity", 46.7}, {"rssi", -71}});
  device->stop();
  CHECK(hub.subscribers() == 0);
  hub.deliver(advert(kV16Mac, v5_frame(0x055B, 0x60, 0x26, "041002e000", kV16Key, kV16Mac)));
  CHECK(listener.states.size() == 1);
}

TEST_CASE("ble hub: ProblemLog logs the first occurrence, then one summary per window", "[ble_hub]") {
  ProblemLog log(std::chrono::seconds(60));
  const auto t0 = ProblemLog::Clock::time_point{} + std::chrono::hours(1);
  CHECK(log.record(t0).action == ProblemLog::Action::log_first);
  CHECK(log.record(t0 + 1s).action == ProblemLog::Action::none);
  CHECK(log.record(t0 + 2s).action == ProblemLog::Action::none);
  REQUIRE(log.due().has_value());
  CHECK(*log.due() == t0 + 60s);
  CHECK(log.flush(t0 + 59s).action == ProblemLog::Action::none);
  const ProblemLog::Decision summary = log.flush(t0 + 60s);
  CHECK(summary.action == ProblemLog::Action::log_summary);
  CHECK(summary.count == 2);
  CHECK(summary.span == 60s);
  CHECK_FALSE(log.due().has_value());
  // Within the next window: counted; after a quiet window: a detailed line again.
  CHECK(log.record(t0 + 61s).action == ProblemLog::Action::none);
  CHECK(log.record(t0 + 125s).action == ProblemLog::Action::log_summary);
  CHECK(log.record(t0 + 300s).action == ProblemLog::Action::log_first);
  CHECK(log.total() == 6);
}
