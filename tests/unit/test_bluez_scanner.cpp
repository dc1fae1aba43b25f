// BlueZ advert scanner: the pure helpers (device paths, the discovery filter, Device1 property
// decoding) and the life cycle that needs no bus (nothing before start(), retries, a clean stop()).
// The D-Bus behaviour itself is tested against python-dbusmock in tests/integration/test_bluez_scanner.py.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "protocols/common/bytes.h"
#include "protocols/xiaomi_ble/bluez/bluez_bus.h"
#include "protocols/xiaomi_ble/bluez/bluez_scanner.h"
#include "tests/unit/test_support.h"

using namespace cloudless;
using namespace cloudless::xiaomi_ble;
using cloudless::test::hex;
using Properties = std::map<std::string, sdbus::Variant>;

namespace {

const std::string kFe95 = std::string(kMiBeaconServiceUuid);

// docs/ble.md §3.2 vector V16 (xiaomi-ble test_Xiaomi_LYWSD03MMC_encrypted, also pushed into the
// bluez5 mock in §7.1): MiBeacon v5 of a LYWSD03MMC A4:C1:38:02:83:F4. 5858 frame control (v5,
// encrypted, MAC present), 5b05 product id 0x055b, 50 frame counter 80, f4830238c1a4 MAC reversed,
// 95ef58763c encrypted object, 260000 extended counter, 97e2abb5 MIC.
const char* const kFrameHex = "58585b0550f48302" "38c1a495ef58763c" "26000097e2abb5";

}  // namespace

TEST_CASE("mac_from_device_path reads BlueZ device object paths", "[bluez]") {
  CHECK(bluez::mac_from_device_path("/org/bluez/hci0/dev_A4_C1_38_02_83_F4") == "A4:C1:38:02:83:F4");
  CHECK(bluez::mac_from_device_path("/org/bluez/hci1/dev_e4_aa_ec_81_21_ae") == "E4:AA:EC:81:21:AE");
  // Not device paths: the adapter, a GATT object below a device, truncated or malformed leaves.
  CHECK_FALSE(bluez::mac_from_device_path("/org/bluez/hci0"));
  CHECK_FALSE(bluez::mac_from_device_path("/org/bluez/hci0/dev_A4_C1_38_02_83_F4/service0023"));
  CHECK_FALSE(bluez::mac_from_device_path("/org/bluez/hci0/dev_A4_C1_38_02_83"));
  CHECK_FALSE(bluez::mac_from_device_path("/org/bluez/hci0/dev_A4_C1_38_02_83_F4_00"));
  CHECK_FALSE(bluez::mac_from_device_path("/org/bluez/hci0/dev_A4-C1-38-02-83-F4"));
  CHECK_FALSE(bluez::mac_from_device_path("/org/bluez/hci0/dev_G4_C1_38_02_83_F4"));
  CHECK_FALSE(bluez::mac_from_device_path(""));
  CHECK_FALSE(bluez::mac_from_device_path("dev_A4_C1_38_02_83_F4"));
}

TEST_CASE("the discovery filter asks for LE, duplicate data and the MiBeacon UUID", "[bluez]") {
  ScannerOptions options;
  const auto filter = bluez::discovery_filter(options);
  REQUIRE(filter.size() == 3);
  CHECK(filter.at("Transport").get<std::string>() == "le");
  CHECK(filter.at("DuplicateData").get<bool>() == true);
  CHECK(filter.at("UUIDs").get<std::vector<std::string>>() ==
        std::vector<std::string>{"0000fe95-0000-1000-8000-00805f9b34fb"});

  options.uuids.clear();  // every advertiser: no UUIDs key at all (an empty list would match nothing)
  options.duplicate_data = false;
  const auto open = bluez::discovery_filter(options);
  CHECK(open.size() == 2);
  CHECK(open.count("UUIDs") == 0);
  CHECK(open.at("DuplicateData").get<bool>() == false);
}

TEST_CASE("Device1 properties of a MiBeacon advert decode with their real D-Bus types", "[bluez]") {
  // As InterfacesAdded / GetManagedObjects deliver them (a{sv}; ServiceData a{sv} of ay; RSSI n).
  Properties properties;
  properties["Address"] = sdbus::Variant(std::string("A4:C1:38:02:83:F4"));
  properties["AddressType"] = sdbus::Variant(std::string("public"));
  properties["Name"] = sdbus::Variant(std::string("LYWSD03MMC"));
  properties["RSSI"] = sdbus::Variant(std::int16_t{-55});
  properties["ServiceData"] = sdbus::Variant(
      std::map<std::string, sdbus::Variant>{{"0000FE95-0000-1000-8000-00805F9B34FB", sdbus::Variant(hex(kFrameHex))}});
  properties["ManufacturerData"] =
      sdbus::Variant(std::map<std::uint16_t, sdbus::Variant>{{0x038f, sdbus::Variant(hex("0102"))}});
  properties["Connected"] = sdbus::Variant(false);  // not ours: ignored, not malformed

  const auto update = bluez::decode_device_properties(properties);
  CHECK(update.malformed == 0);
  CHECK(update.address == "A4:C1:38:02:83:F4");
  CHECK(update.address_type == AddressType::public_address);
  CHECK(update.name == "LYWSD03MMC");
  CHECK(update.rssi == std::int16_t{-55});
  REQUIRE(update.service_data);
  REQUIRE(update.service_data->size() == 1);
  // UUID keys are lower-cased, so callers can look up kMiBeaconServiceUuid whatever BlueZ sent.
  CHECK(to_hex(update.service_data->at(kFe95)) == kFrameHex);
  REQUIRE(update.manufacturer_data);
  CHECK(to_hex(update.manufacturer_data->at(0x038f)) == "0102");
  CHECK(update.is_advert());
}

TEST_CASE("an RSSI-only PropertiesChanged is an advert, a Connected change is not", "[bluez]") {
  Properties rssi_only;
  rssi_only["RSSI"] = sdbus::Variant(std::int16_t{-90});
  const auto rssi = bluez::decode_device_properties(rssi_only);
  CHECK(rssi.rssi == std::int16_t{-90});
  CHECK_FALSE(rssi.service_data);
  CHECK(rssi.is_advert());

  Properties connected;
  connected["Connected"] = sdbus::Variant(true);
  connected["ServiceData"] = sdbus::Variant(std::map<std::string, sdbus::Variant>{});  // empty: no data
  const auto other = bluez::decode_device_properties(connected);
  CHECK(other.malformed == 0);
  CHECK_FALSE(other.is_advert());

  Properties random_address;
  random_address["AddressType"] = sdbus::Variant(std::string("random"));
  CHECK(bluez::decode_device_properties(random_address).address_type == AddressType::random);
}

TEST_CASE("properties of unexpected types are skipped and counted, never thrown", "[bluez]") {
  // python-dbusmock 0.28.7's AddDevice sends ServiceData as aa{sv} and ManufacturerData as aa{qv}
  // (docs/ble.md §7.2 Bug 1); a buggy peer could send RSSI as int32 or bytes as a string.
  Properties properties;
  properties["ServiceData"] = sdbus::Variant(std::vector<std::map<std::string, sdbus::Variant>>{});
  properties["ManufacturerData"] = sdbus::Variant(std::vector<std::map<std::uint16_t, sdbus::Variant>>{});
  properties["RSSI"] = sdbus::Variant(std::int32_t{-55});
  properties["Name"] = sdbus::Variant(std::int32_t{7});
  const auto update = bluez::decode_device_properties(properties);
  CHECK(update.malformed == 4);
  CHECK_FALSE(update.service_data);
  CHECK_FALSE(update.manufacturer_data);
  CHECK_FALSE(update.rssi);
  CHECK_FALSE(update.name);
  CHECK_FALSE(update.is_advert());

  // One bad entry inside ServiceData does not cost the good one.
  Properties mixed;
  mixed["ServiceData"] = sdbus::Variant(std::map<std::string, sdbus::Variant>{
      {kFe95, sdbus::Variant(hex("3058"))}, {"0000181a-0000-1000-8000-00805f9b34fb", sdbus::Variant(std::string("x"))}});
  const auto partial = bluez::decode_device_properties(mixed);
  CHECK(partial.malformed == 1);
  REQUIRE(partial.service_data);
  CHECK(partial.service_data->size() == 1);
  CHECK(to_hex(partial.service_data->at(kFe95)) == "3058");
}

TEST_CASE("names for logs and JSON", "[bluez]") {
  CHECK(scan_state_name(ScanState::bluez_gone) == "bluez_gone");
  CHECK(scan_state_name(ScanState::discovering) == "discovering");
  CHECK(address_type_name(AddressType::public_address) == "public");
  CHECK(advert_source_name(AdvertSource::cached) == "cached");
}

TEST_CASE("a scanner that is never started touches no D-Bus", "[bluez][scanner]") {
  boost::asio::io_context io;
  int opens = 0;
  ScannerOptions options;
  options.open_bus = [&](boost::asio::io_context&) {
    ++opens;
    return BusOpenResult{nullptr, "must not be called"};
  };
  int statuses = 0;
  {
    auto scanner = AdvertScanner::create(io, options);
    scanner->on_status([&](const ScannerStatus&) { ++statuses; });
    scanner->stop();  // stop without start: a no-op
    io.run_for(std::chrono::milliseconds(50));
    CHECK(scanner->status().state == ScanState::stopped);
  }
  io.run_for(std::chrono::milliseconds(20));
  CHECK(opens == 0);
  CHECK(statuses == 0);
}

TEST_CASE("no bus: reported once, retried every retry_interval, and stop() ends the retries", "[bluez][scanner]") {
  boost::asio::io_context io;
  int opens = 0;
  ScannerOptions options;
  options.retry_interval = std::chrono::milliseconds(40);
  options.open_bus = [&](boost::asio::io_context&) {
    ++opens;
    return BusOpenResult{nullptr, "cannot connect to the system bus: test"};
  };
  std::vector<ScannerStatus> statuses;
  auto scanner = AdvertScanner::create(io, options);
  scanner->on_status([&](const ScannerStatus& status) { statuses.push_back(status); });
  scanner->start("hci0");
  CHECK(opens == 1);  // start() connects at once
  io.run_for(std::chrono::milliseconds(230));
  CHECK(opens >= 4);
  CHECK(opens <= 7);
  // The same state and text each time: one transition, not one line per retry.
  REQUIRE(statuses.size() == 1);
  CHECK(statuses[0].state == ScanState::bus_unavailable);
  CHECK(statuses[0].text == "cannot connect to the system bus: test; retrying in 40 ms");
  CHECK(scanner->counters().errors == static_cast<std::uint64_t>(opens));

  scanner->start("hci0");  // already started: no second connection attempt
  const int before_stop = opens;
  CHECK(before_stop == opens);
  scanner->stop();
  io.restart();
  io.run_for(std::chrono::milliseconds(150));
  CHECK(opens == before_stop);
  CHECK(statuses.size() == 1);  // no callback after stop()
  CHECK(scanner->status().state == ScanState::stopped);

  // Started again, it connects again.
  scanner->start("hci1");
  CHECK(opens == before_stop + 1);
  scanner->stop();
}

TEST_CASE("BluezBus reports an unreachable bus as text, without throwing", "[bluez][bus]") {
  // open_system, not open_address: sdbus-c++ 1.2 leaks the sd_bus when open_address fails (LSan).
  const char* saved = std::getenv("DBUS_SYSTEM_BUS_ADDRESS");
  const std::string previous = saved ? saved : "";
  ::setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/cloudless-test-bus", 1);
  boost::asio::io_context io;
  const auto result = BluezBus::open_system(io);
  if (saved)
    ::setenv("DBUS_SYSTEM_BUS_ADDRESS", previous.c_str(), 1);
  else
    ::unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
  CHECK_FALSE(result.bus);
  CHECK(result.error.find("cannot connect to the system bus") != std::string::npos);
  CHECK(BluezBus::adopt(io, nullptr).error == "no D-Bus connection");
}
