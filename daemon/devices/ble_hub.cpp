#include "daemon/devices/ble_hub.h"

#include <algorithm>
#include <cctype>
#include <utility>
#include <vector>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "protocols/xiaomi_ble/bluez/bluez_gatt_client.h"
#include "protocols/xiaomi_ble/bluez/bluez_scanner.h"

namespace cloudless {

namespace {

namespace ble = xiaomi_ble;

std::string upper_case(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::toupper(c); });
  return text;
}

// States that mean "no adverts are coming" and deserve a warning. `starting` is transient (logged at
// debug), `discovering` is the good state (logged as a recovery when a problem was logged before).
bool is_problem(ble::ScanState state) {
  switch (state) {
    case ble::ScanState::bus_unavailable:
    case ble::ScanState::bluez_gone:
    case ble::ScanState::no_adapter:
    case ble::ScanState::adapter_off:
    case ble::ScanState::failed:
      return true;
    case ble::ScanState::stopped:
    case ble::ScanState::starting:
    case ble::ScanState::discovering:
      return false;
  }
  return false;
}

// An extra hint for the states a user can do something about.
std::string_view hint(ble::ScanState state) {
  switch (state) {
    case ble::ScanState::bus_unavailable:
      return " (is dbus running, and may the cloudless user talk to org.bluez? see systemd/cloudless.service)";
    case ble::ScanState::bluez_gone:
      return " (is bluetoothd running? `systemctl status bluetooth`)";
    case ble::ScanState::no_adapter:
      return " (check `ble: adapter:` and `bluetoothctl list`)";
    default:
      return "";
  }
}

// The ProblemLog of watchdog restarts, next to those of the scan states (ScanState values, all >= 0).
constexpr int kWatchdogLog = -2;

long long whole_seconds(std::chrono::steady_clock::duration span) {
  return std::chrono::duration_cast<std::chrono::seconds>(span).count();
}

}  // namespace

// ---- ProblemLog -----------------------------------------------------------------------------------

ProblemLog::Decision ProblemLog::record(Clock::time_point now) {
  ++total_;
  // First ever, or the first after a quiet window: worth its own detailed line.
  if (!window_start_ || (pending_ == 0 && now - *window_start_ >= window_)) {
    window_start_ = now;
    return {Action::log_first, 1, {}};
  }
  ++pending_;
  return flush(now);
}

ProblemLog::Decision ProblemLog::flush(Clock::time_point now) {
  if (pending_ == 0 || !window_start_ || now - *window_start_ < window_) return {};
  Decision decision{Action::log_summary, pending_, now - *window_start_};
  pending_ = 0;
  window_start_ = now;
  return decision;
}

std::optional<ProblemLog::Clock::time_point> ProblemLog::due() const {
  if (pending_ == 0 || !window_start_) return std::nullopt;
  return *window_start_ + window_;
}

// ---- BleSubscription ------------------------------------------------------------------------------

BleSubscription::BleSubscription(BleSubscription&& other) noexcept
    : hub_(std::exchange(other.hub_, nullptr)), id_(other.id_) {}

BleSubscription& BleSubscription::operator=(BleSubscription&& other) noexcept {
  if (this != &other) {
    reset();
    hub_ = std::exchange(other.hub_, nullptr);
    id_ = other.id_;
  }
  return *this;
}

void BleSubscription::reset() {
  if (hub_ == nullptr) return;
  std::exchange(hub_, nullptr)->unsubscribe(id_);
}

// ---- BleHub ---------------------------------------------------------------------------------------

BleHub::BleHub(boost::asio::io_context& io, config::BleConfig config) : io_(io), config_(std::move(config)) {}

BleHub::~BleHub() {
  stop_scanner();
  if (gatt_client_) gatt_client_->stop();
}

std::shared_ptr<xiaomi_ble::GattClient> BleHub::gatt_client() {
  if (!gatt_client_) gatt_client_ = xiaomi_ble::GattClient::create(io_, config_.adapter);
  return gatt_client_;
}

BleSubscription BleHub::subscribe(const std::string& mac, Receiver receiver) {
  const std::uint64_t id = next_id_++;
  receivers_[id] = Entry{upper_case(mac), std::move(receiver)};
  if (!scanner_) start_scanner();
  return BleSubscription(this, id);
}

void BleHub::unsubscribe(std::uint64_t id) {
  receivers_.erase(id);
  if (receivers_.empty()) stop_when_idle();
}

// Deferred: on a reload a changed device unsubscribes and its replacement subscribes within the same
// handler; stopping at once would end the discovery session only to start it again.
void BleHub::stop_when_idle() {
  if (idle_check_posted_ || !scanner_) return;
  idle_check_posted_ = true;
  boost::asio::post(io_, [this, alive = std::weak_ptr<int>(alive_)] {
    if (alive.expired()) return;
    idle_check_posted_ = false;
    if (!receivers_.empty() || !scanner_) return;
    spdlog::info("BLE: no BLE device left; stopping the scan");
    stop_scanner();
  });
}

void BleHub::configure(config::BleConfig config) {
  if (config == config_) return;
  if (gatt_client_ && config.adapter != config_.adapter) {
    // Connections on the old adapter end (their owners see `cancelled` and reconnect on the new one).
    gatt_client_->stop();
    gatt_client_.reset();
  }
  config_ = std::move(config);
  if (!scanner_) return;
  spdlog::info("BLE: settings changed (adapter {}, scan_watchdog {} s); restarting the scan", config_.adapter,
               config_.scan_watchdog.count());
  stop_scanner();
  start_scanner();
}

void BleHub::start_scanner() {
  ble::ScannerOptions options;
  // docs/bridges.md §2.3 item 7: the BLE stack silently stops after hours; the watchdog restarts
  // discovery when no advert at all (from any device) arrived for this long.
  options.watchdog = std::chrono::duration_cast<std::chrono::milliseconds>(config_.scan_watchdog);
  scanner_ = ble::AdvertScanner::create(io_, std::move(options));
  scanner_->on_advert([this](const ble::Advert& advert) {
    BleAdvert out;
    out.mac = advert.mac;
    out.rssi = advert.rssi;
    out.cached = advert.source == ble::AdvertSource::cached;
    if (const auto it = advert.service_data.find(std::string(ble::kMiBeaconServiceUuid));
        it != advert.service_data.end()) {
      out.mibeacon = it->second;
    }
    deliver(out);
  });
  scanner_->on_status([this](const ble::ScannerStatus& status) { on_status(status); });
  ++stats_.scanner_starts;
  last_state_ = -1;
  discovered_since_start_ = false;
  seen_watchdog_restarts_ = 0;
  spdlog::info("BLE: starting the scan on {}", config_.adapter);
  scanner_->start(config_.adapter);
}

void BleHub::stop_scanner() {
  if (!scanner_) return;
  // stop() ends our discovery session; no callback runs afterwards.
  scanner_->stop();
  scanner_.reset();
}

void BleHub::deliver(const BleAdvert& advert) {
  ++stats_.adverts;
  bool wanted = false;
  // Copy the matching receivers first: a receiver may unsubscribe (device stopped) while we iterate.
  std::vector<std::uint64_t> ids;
  for (const auto& [id, entry] : receivers_) {
    if (entry.mac == advert.mac) ids.push_back(id);
  }
  for (const std::uint64_t id : ids) {
    const auto it = receivers_.find(id);
    if (it == receivers_.end()) continue;
    wanted = true;
    ++stats_.dispatched;
    const Receiver receiver = it->second.receiver;  // a copy: it may unsubscribe itself
    receiver(advert);
  }
  if (!wanted) ++stats_.unconfigured;
}

void BleHub::on_status(const ble::ScannerStatus& status) {
  const auto now = ProblemLog::Clock::now();
  if (scanner_) {
    const std::uint64_t restarts = scanner_->counters().watchdog_restarts;
    if (restarts > seen_watchdog_restarts_) {
      seen_watchdog_restarts_ = restarts;
      const ProblemLog::Decision decision = status_logs_[kWatchdogLog].record(now);
      if (decision.action == ProblemLog::Action::log_first) {
        spdlog::warn("BLE: {} (watchdog restart {} since the scan started; `ble: scan_watchdog` sets the time)",
                     status.text, restarts);
      } else if (decision.action == ProblemLog::Action::log_summary) {
        spdlog::warn("BLE: the scan watchdog restarted discovery {} times in the last {} s: no adverts arrive",
                     decision.count, whole_seconds(decision.span));
      }
    }
  }
  const int state = static_cast<int>(status.state);
  if (state == last_state_) return;  // same state, new wording: nothing new for the user
  last_state_ = state;

  if (status.state == ble::ScanState::starting || status.state == ble::ScanState::stopped) {
    spdlog::debug("BLE: {}", status.text);
    return;
  }
  if (status.state == ble::ScanState::discovering) {
    // "discovering" after a logged problem is the recovery the user waits for; the first one at
    // start is worth one info line too.
    if (last_problem_logged_ || !discovered_since_start_) {
      spdlog::info("BLE: {}", status.text);
    } else {
      spdlog::debug("BLE: {}", status.text);
    }
    discovered_since_start_ = true;
    last_problem_logged_ = false;
    return;
  }
  if (!is_problem(status.state)) return;
  const ProblemLog::Decision decision = status_logs_[state].record(now);
  switch (decision.action) {
    case ProblemLog::Action::log_first:
      spdlog::warn("BLE: {}{}", status.text, hint(status.state));
      last_problem_logged_ = true;
      return;
    case ProblemLog::Action::log_summary:
      spdlog::warn("BLE: {} ({} more times in the last {} s)", status.text, decision.count,
                   whole_seconds(decision.span));
      last_problem_logged_ = true;
      return;
    case ProblemLog::Action::none:
      spdlog::debug("BLE: {}", status.text);
      last_problem_logged_ = false;
      return;
  }
}

}  // namespace cloudless
