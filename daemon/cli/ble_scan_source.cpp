// See ble_scan_source.h. One io_context, run to completion on the calling thread: the scanner, a
// deadline timer and a signal_set; the first of "time is up", "signal" or "cannot start" stops the
// scanner (ending our discovery session), after which nothing keeps io.run() alive.
#include "daemon/cli/ble_scan_source.h"

#include <csignal>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "protocols/xiaomi_ble/bluez/bluez_scanner.h"

namespace cloudless::cli {

namespace asio = boost::asio;
namespace ble = cloudless::xiaomi_ble;

namespace {

// States in which the scanner waits for the world to change (and would wait forever): for a one-shot
// command these mean "cannot scan", as long as discovery never ran.
bool cannot_start(ble::ScanState state) {
  switch (state) {
    case ble::ScanState::bus_unavailable:
    case ble::ScanState::bluez_gone:
    case ble::ScanState::no_adapter:
    case ble::ScanState::adapter_off:
    case ble::ScanState::failed:
      return true;
    default:
      return false;
  }
}

// The scanner's sentences end with what it will do next ("; retrying in 5 s", "; waiting for it"):
// true for the daemon, not for a command that gives up at once.
std::string without_plan(std::string text) {
  for (const char* plan : {"; retrying", "; reconnecting", "; waiting"}) {
    const std::size_t at = text.rfind(plan);
    if (at != std::string::npos) text.erase(at);
  }
  return text;
}

}  // namespace

BleScanRun run_ble_scan(const std::string& adapter, std::chrono::milliseconds duration,
                        const std::function<void(const HeardAdvert&)>& heard,
                        const std::function<void(const std::string&)>& progress) {
  asio::io_context io(1);
  ble::ScannerOptions options;
  // A restart by the watchdog within a short scan would only lose adverts.
  options.watchdog = std::chrono::milliseconds(0);
  auto scanner = ble::AdvertScanner::create(io, options);
  BleScanRun run;

  asio::steady_timer deadline(io, duration);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  bool finished = false;
  const auto finish = [&] {
    if (finished) return;
    finished = true;
    run.filter_applied = scanner->filter_applied();
    run.adverts = scanner->counters().adverts;
    scanner->stop();
    deadline.cancel();
    boost::system::error_code ignored;
    signals.cancel(ignored);
  };

  scanner->on_status([&](const ble::ScannerStatus& status) {
    if (finished) return;
    if (status.state == ble::ScanState::discovering) {
      run.discovered = true;
      progress(status.text);
      return;
    }
    if (!run.discovered && cannot_start(status.state)) {
      run.problem_state = std::string(ble::scan_state_name(status.state));
      run.problem_text = without_plan(status.text);
      finish();
      return;
    }
    if (run.discovered && status.state != ble::ScanState::stopped) {
      run.notes.push_back(status.text);
      progress(status.text);
    }
  });
  scanner->on_advert([&](const ble::Advert& advert) {
    const auto data = advert.service_data.find(std::string(ble::kMiBeaconServiceUuid));
    if (data == advert.service_data.end() || data->second.empty()) return;
    HeardAdvert out;
    out.mac = advert.mac;
    out.name = advert.name;
    out.rssi = advert.rssi;
    out.mibeacon = data->second;
    out.cached = advert.source == ble::AdvertSource::cached;
    heard(out);
  });

  deadline.async_wait([&](const boost::system::error_code& error) {
    if (!error) finish();
  });
  signals.async_wait([&](const boost::system::error_code& error, int) {
    if (error) return;
    run.interrupted = true;
    finish();
  });

  scanner->start(adapter);
  io.run();  // returns once stop() has released the bus and both waits are cancelled
  return run;
}

}  // namespace cloudless::cli
