// bluez_scan_tool: runs an AdvertScanner (protocols/xiaomi_ble/bluez/bluez_scanner.h) on the bus named by
// DBUS_SYSTEM_BUS_ADDRESS and prints one JSON line per event, for tests/integration/test_bluez_scanner.py.
//
//   bluez_scan_tool [--adapter hci0] [--seconds 30] [--watchdog-ms 300000] [--retry-ms 5000]
//                   [--rediscover-ms 1000] [--call-timeout-ms 10000] [--no-uuid-filter]
//
//   {"event":"status","state":"discovering","text":"discovering on hci0 (...)"}
//   {"event":"advert","mac":"A4:C1:38:02:83:F4","address_type":"public","name":"LYWSD03MMC","rssi":-55,
//    "service_data":{"0000fe95-0000-1000-8000-00805f9b34fb":"5858..."},"manufacturer_data":{},
//    "source":"changed","path":"/org/bluez/hci0/dev_A4_C1_38_02_83_F4"}
//   {"event":"counters","adverts":3,"restarts":1,"watchdog_restarts":1,"errors":0,...}   (last line)
//
// Runs until --seconds pass or SIGTERM/SIGINT arrives, then stops the scanner (ending its discovery
// session) and exits 0 once the io_context has no work left. Usage errors: exit 2.
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "protocols/common/bytes.h"
#include "protocols/xiaomi_ble/bluez/bluez_scanner.h"

namespace {

namespace ble = cloudless::xiaomi_ble;

int usage() {
  std::cerr << "usage: bluez_scan_tool [--adapter NAME] [--seconds N] [--watchdog-ms MS] [--retry-ms MS]\n"
               "                       [--rediscover-ms MS] [--call-timeout-ms MS] [--no-uuid-filter]\n";
  return 2;
}

std::optional<long> parse_number(std::string_view text) {
  long value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < 0) return std::nullopt;
  return value;
}

void emit(const nlohmann::json& line) { std::cout << line.dump() << std::endl; }  // one flushed line each

nlohmann::json advert_json(const ble::Advert& advert) {
  nlohmann::json service_data = nlohmann::json::object();
  for (const auto& [uuid, bytes] : advert.service_data) service_data[uuid] = cloudless::to_hex(bytes);
  nlohmann::json manufacturer_data = nlohmann::json::object();
  for (const auto& [company, bytes] : advert.manufacturer_data)
    manufacturer_data[std::to_string(company)] = cloudless::to_hex(bytes);
  nlohmann::json line = {{"event", "advert"},
                         {"mac", advert.mac},
                         {"address_type", ble::address_type_name(advert.address_type)},
                         {"service_data", service_data},
                         {"manufacturer_data", manufacturer_data},
                         {"source", ble::advert_source_name(advert.source)},
                         {"path", advert.object_path}};
  if (advert.name) line["name"] = *advert.name;
  if (advert.rssi) line["rssi"] = *advert.rssi;
  return line;
}

}  // namespace

int main(int argc, char** argv) {
  std::string adapter = "hci0";
  long seconds = 30;
  ble::ScannerOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--no-uuid-filter") {
      options.uuids.clear();
      continue;
    }
    if (i + 1 >= argc) return usage();
    const std::string_view value = argv[++i];
    if (arg == "--adapter") {
      adapter = value;
      continue;
    }
    const auto number = parse_number(value);
    if (!number) return usage();
    if (arg == "--seconds")
      seconds = *number;
    else if (arg == "--watchdog-ms")
      options.watchdog = std::chrono::milliseconds(*number);
    else if (arg == "--retry-ms")
      options.retry_interval = std::chrono::milliseconds(*number);
    else if (arg == "--rediscover-ms")
      options.rediscover_delay = std::chrono::milliseconds(*number);
    else if (arg == "--call-timeout-ms")
      options.call_timeout = std::chrono::milliseconds(*number);
    else
      return usage();
  }

  boost::asio::io_context io;
  auto scanner = ble::AdvertScanner::create(io, options);
  scanner->on_status([](const ble::ScannerStatus& status) {
    emit({{"event", "status"}, {"state", ble::scan_state_name(status.state)}, {"text", status.text}});
  });
  scanner->on_advert([](const ble::Advert& advert) { emit(advert_json(advert)); });

  boost::asio::steady_timer deadline(io, std::chrono::seconds(seconds));
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  bool finished = false;
  const auto finish = [&] {
    if (finished) return;
    finished = true;
    scanner->stop();
    const auto& c = scanner->counters();
    emit({{"event", "counters"},
          {"adverts", c.adverts},
          {"restarts", c.restarts},
          {"watchdog_restarts", c.watchdog_restarts},
          {"errors", c.errors},
          {"malformed", c.malformed},
          {"bluez_appeared", c.bluez_appeared},
          {"adapter_appeared", c.adapter_appeared},
          {"filter_applied", scanner->filter_applied()}});
    deadline.cancel();
    boost::system::error_code ignored;
    signals.cancel(ignored);
  };
  deadline.async_wait([&](const boost::system::error_code& error) {
    if (!error) finish();
  });
  signals.async_wait([&](const boost::system::error_code& error, int) {
    if (!error) finish();
  });

  scanner->start(adapter);
  io.run();  // returns once stop() has released the bus: nothing else keeps the loop alive
  return 0;
}
