#include "daemon/devices/mi_kettle.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <utility>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "daemon/devices/ble_key_store.h"
#include "daemon/model/command_check.h"
#include "daemon/model/json_excerpt.h"
#include "daemon/model/switch_value.h"
#include "daemon/model/timestamp.h"
#include "protocols/xiaomi_ble/bluez/bluez_gatt_client.h"
#include "protocols/xiaomi_ble/codec/kettle.h"
#include "protocols/xiaomi_ble/auth/mi_auth_legacy.h"
#include "protocols/xiaomi_ble/codec/products.h"

namespace cloudless {

namespace {

namespace ble = xiaomi_ble;
using nlohmann::json;

// Kettle characteristics (kettle.h; docs/ble.md §4.3): short ids in the Bluetooth base UUID (§10).
constexpr std::uint16_t kSetup = ble::kKettleSetupChar;          // write: [keep-warm type, temperature]
constexpr std::uint16_t kTimeLimit = ble::kKettleTimeLimitChar;  // r/w: keep-warm time limit, hours × 2
constexpr std::uint16_t kBoilMode = ble::kKettleBoilModeChar;    // r/w: turn off after boil, 0/1

// The state keys, named once for entities(), the state payload and the commands.
constexpr std::string_view kActionKey = "action";  // idle, heating, cooling, keeping_warm
constexpr std::string_view kModeKey = "mode";      // none, boil, keep_warm
constexpr std::string_view kTemperatureKey = "temperature";
constexpr std::string_view kKeepWarmTemperatureKey = "keep_warm_temperature";
constexpr std::string_view kKeepWarmTypeKey = "keep_warm_type";
constexpr std::string_view kTimeLimitKey = "keep_warm_time_limit";
constexpr std::string_view kBoilOffKey = "turn_off_after_boil";
constexpr std::string_view kRssiKey = "rssi";

constexpr int kMinKeepWarm = ble::kKettleMinKeepWarmTemperature;
constexpr int kMaxKeepWarm = ble::kKettleMaxKeepWarmTemperature;
constexpr double kMaxTimeLimit = ble::kKettleMaxTimeLimitHours;

std::string lower_hex_mac(const std::string& mac) {
  std::string out;
  for (const char c : mac) {
    if (c != ':') out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

long long whole_seconds(std::chrono::steady_clock::duration span) {
  return std::chrono::duration_cast<std::chrono::seconds>(span).count();
}

// 12 → 12, 7.5 → 7.5: whole hours stay JSON integers.
json hours_json(double hours) {
  if (std::floor(hours) == hours) return static_cast<int>(hours);
  return hours;
}

// The production connector: BlueZ through the hub's GATT client (fetched per attempt: a reloaded
// adapter replaces the client).
MiKettle::Connector bluez_connector(BleHub* hub) {
  return [hub](const std::string& mac, MiKettle::ConnectDone done) -> MiKettle::ConnectHandle {
    const std::shared_ptr<ble::GattClient> client = hub->gatt_client();
    auto request = client->connect(
        mac, [done = std::move(done)](const std::optional<ble::GattError>& error,
                                      std::shared_ptr<ble::GattConnection> connection) {
          if (error || !connection) {
            done(error ? *error : ble::GattError{ble::GattErrorKind::failed, "", "no connection"}, {});
            return;
          }
          MiKettle::Link link;
          const std::weak_ptr<ble::GattConnection> weak = connection;
          link.gatt = connection;
          link.on_disconnected = [weak](std::function<void(const ble::GattError&)> handler) {
            if (const auto c = weak.lock()) c->on_disconnected(std::move(handler));
          };
          link.disconnect = [weak] {
            if (const auto c = weak.lock()) c->disconnect();
          };
          done(std::nullopt, std::move(link));
        });
    return std::make_shared<ble::GattConnectRequest>(std::move(request));
  };
}

}  // namespace

bool is_mi_kettle(const config::BleDeviceConfig& config) {
  return config.product_id && (*config.product_id == 131 || *config.product_id == 275);
}

MiKettle::MiKettle(std::string id, config::BleDeviceConfig config, DeviceContext context)
    : MiKettle(std::move(id), std::move(config), context, Options{}) {}

MiKettle::MiKettle(std::string id, config::BleDeviceConfig config, DeviceContext context, Options options)
    : model::Device(std::move(id), context.listener),
      config_(std::move(config)),
      context_(context),
      options_(std::move(options)),
      mac_(ble::parse_mac(config_.mac)),
      product_id_(static_cast<std::uint16_t>(config_.product_id.value_or(0))),
      report_timer_(context.io),
      connect_log_(options_.log_window),
      token_log_(options_.log_window),
      auth_log_(options_.log_window),
      malformed_log_(options_.log_window) {
  if (!options_.connector && context_.ble_hub) options_.connector = bluez_connector(context_.ble_hub);
}

MiKettle::~MiKettle() { stop(); }

model::DeviceInfo MiKettle::info() const {
  model::DeviceInfo info;
  info.protocol = "xiaomi_ble";
  info.stable_id = "ble_" + lower_hex_mac(config_.mac);  // same id scheme as the BLE sensors
  info.manufacturer = "Xiaomi";
  const ble::Product* product = ble::find_product(product_id_);
  info.model_name = product ? std::string(product->name) : "Mi smart kettle";
  info.model_id = product ? std::string(product->model) : "";
  info.sw_version = firmware_;
  info.address = config_.mac;
  return info;
}

std::vector<model::Entity> MiKettle::entities() const {
  namespace presets = model::presets;
  std::vector<model::Entity> out;

  model::Entity action;
  action.key = kActionKey;
  action.name = "Action";
  action.icon = "mdi:kettle-steam";
  out.push_back(action);  // idle, heating, cooling, keeping_warm

  model::Entity mode;
  mode.key = kModeKey;
  mode.name = "Mode";
  mode.icon = "mdi:kettle";
  out.push_back(mode);  // none, boil, keep_warm

  out.push_back(presets::temperature(std::string(kTemperatureKey)));

  model::Entity keep_warm;
  keep_warm.key = kKeepWarmTemperatureKey;
  keep_warm.component = model::Component::number;
  keep_warm.name = "Keep-warm temperature";
  keep_warm.unit = "°C";
  keep_warm.icon = "mdi:thermometer";
  keep_warm.entity_category = "config";
  keep_warm.settable = true;
  keep_warm.min = kMinKeepWarm;
  keep_warm.max = kMaxKeepWarm;
  keep_warm.step = 1;
  out.push_back(keep_warm);

  model::Entity type;
  type.key = kKeepWarmTypeKey;
  type.component = model::Component::select;
  type.name = "Keep-warm type";
  type.icon = "mdi:kettle-alert";
  type.entity_category = "config";
  type.settable = true;
  type.options = {"boil_then_cool", "heat_to"};
  out.push_back(type);

  model::Entity limit;
  limit.key = kTimeLimitKey;
  limit.component = model::Component::number;
  limit.name = "Keep-warm time limit";
  limit.unit = "h";
  limit.icon = "mdi:timer-outline";
  limit.entity_category = "config";
  limit.settable = true;
  limit.min = 0;
  limit.max = kMaxTimeLimit;
  limit.step = 0.5;
  out.push_back(limit);

  out.push_back(presets::boolean_switch(std::string(kBoilOffKey), "Turn off after boil").with_icon("mdi:kettle-off"));
  out.push_back(presets::signal_strength(std::string(kRssiKey)));
  return out;
}

// ---- life cycle -----------------------------------------------------------------------------------

template <typename Handler>
auto MiKettle::guarded(Handler handler) {
  return [this, alive = std::weak_ptr<int>(alive_), handler = std::move(handler)](auto&&... args) mutable {
    if (alive.expired() || !started_) return;
    handler(std::forward<decltype(args)>(args)...);
  };
}

MiKettle::Counters MiKettle::counters() const {
  Counters out = counters_;
  if (connection_) static_cast<Connection::Counters&>(out) = connection_->counters();
  return out;
}

void MiKettle::start() {
  if (started_) return;
  if (!mac_ || !is_mi_kettle(config_)) {
    spdlog::error("{}: not a Mi kettle configuration (mac {}, product_id {}); the device stays offline", id(),
                  config_.mac, config_.product_id.value_or(0));
    return;
  }
  if (!options_.connector) {
    spdlog::error("{}: no Bluetooth in this program; the kettle stays offline", id());
    return;
  }
  started_ = true;
  connection_ = std::make_unique<Connection>(context_.io, config_.mac, *mac_, product_id_,
                                             static_cast<const Connection::Options&>(options_), connection_events());
  if (context_.ble_hub) {
    subscription_ = context_.ble_hub->subscribe(config_.mac, [this](const BleAdvert& advert) { on_advert(advert); });
  }
  connection_->start();
}

void MiKettle::stop() {
  if (!started_) return;
  started_ = false;
  connection_->stop();
  alive_ = std::make_shared<int>(0);  // every handler still queued holds a weak_ptr to the old one
  report_timer_.cancel();
  subscription_.reset();
  reset_writes();
}

void MiKettle::refresh() {
  if (!connection_) return;
  if (connection_->phase() == Phase::waiting) {
    connection_->retry_now();
    return;
  }
  if (!connection_->ready()) return;
  connection_->read_settings(guarded([this] { publish(true); }));
}

// The connection reports from session callbacks, which never run after stop().
MiKettle::Connection::Events MiKettle::connection_events() {
  Connection::Events events;
  events.choose_token = [this](bool& is_new) { return choose_token(is_new); };
  events.registered = [this](const ble::LegacyRegisterResult& result, bool token_was_new) {
    on_registered(result, token_was_new);
  };
  events.status = [this](const Bytes& value) { on_status(value); };
  events.setting_read = [this](std::uint16_t characteristic, const std::optional<ble::GattError>& error,
                               const Bytes& value) { on_setting_read(characteristic, error, value); };
  events.ready = [this] { became_ready(); };
  events.failed = [this](Connection::Failure failure, const std::string& detail, bool was_ready,
                         std::chrono::milliseconds retry_in) { on_failed(failure, detail, was_ready, retry_in); };
  return events;
}

// ---- the token ------------------------------------------------------------------------------------

// The token of this connection: the configured one, else the one stored at the first connection,
// else a new one (kept in memory across attempts and saved only once the kettle confirmed it).
std::optional<ble::LegacyToken> MiKettle::choose_token(bool& is_new) {
  is_new = false;
  token_configured_ = false;
  if (!config_.token_hex.empty()) {
    const std::optional<Bytes> bytes = from_hex(config_.token_hex);
    if (!bytes || bytes->size() != ble::LegacyToken{}.size()) {
      spdlog::error("{}: the configured token is not 24 hex digits", id());
      return std::nullopt;
    }
    ble::LegacyToken token{};
    std::copy(bytes->begin(), bytes->end(), token.begin());
    token_configured_ = true;
    return token;
  }
  const LoadedBleKeys loaded = load_ble_keys(context_.state_dir, config_.mac);
  if (loaded.keys && loaded.keys->token && loaded.keys->token->size() == ble::LegacyToken{}.size()) {
    ble::LegacyToken token{};
    std::copy(loaded.keys->token->begin(), loaded.keys->token->end(), token.begin());
    return token;
  }
  if (!loaded.error.empty() && !unconfirmed_token_) {
    spdlog::warn("{}: {} is unreadable ({}); the kettle gets a new token, stored there once it accepts it", id(),
                 ble_key_file(context_.state_dir, config_.mac), loaded.error);
  }
  if (!unconfirmed_token_) unconfirmed_token_ = ble::legacy_auth::generate_token();
  is_new = true;
  return *unconfirmed_token_;
}

void MiKettle::on_registered(const ble::LegacyRegisterResult& result, bool token_was_new) {
  if (token_was_new) remember_token(result.token);
  if (result.version != firmware_) {
    firmware_ = result.version;
    description_changed();
  }
}

// Saved only now, after the kettle confirmed the token: a token it never accepted is worth nothing.
void MiKettle::remember_token(const ble::LegacyToken& token) {
  StoredBleKeys keys;
  keys.mac = config_.mac;
  keys.auth = "legacy";
  keys.token = Bytes(token.begin(), token.end());
  keys.product_id = product_id_;
  keys.registered = format_utc_iso8601(std::chrono::system_clock::now());
  const std::string problem = save_ble_keys(context_.state_dir, keys);
  if (!problem.empty()) {
    spdlog::error("{}: the kettle accepted a new token, but it could not be stored ({}); the next connection "
                  "registers yet another one",
                  id(), problem);
    return;
  }
  spdlog::info("{}: the kettle {} accepted a new token; stored in {}", id(), config_.mac,
               ble_key_file(context_.state_dir, config_.mac));
  unconfirmed_token_.reset();
}

// ---- what the kettle reports ----------------------------------------------------------------------

// aa04 / aa05 into known_. A value that does not parse is reported and left out; a failed read is
// logged (a dropped link also ends in a failure of the connection).
void MiKettle::on_setting_read(std::uint16_t characteristic, const std::optional<ble::GattError>& error,
                               const Bytes& value) {
  if (characteristic == kTimeLimit) {
    if (error) {
      spdlog::debug("{}: reading the keep-warm time limit failed: {}", id(), error->describe());
    } else if (const auto hours = ble::decode_kettle_time_limit(value)) {
      known_.keep_warm_time_limit = *hours;
    } else {
      report_malformed("keep-warm time limit " + to_hex(value) + ": " + hours.error().describe());
    }
    return;
  }
  if (error) {
    spdlog::debug("{}: reading turn-off-after-boil failed: {}", id(), error->describe());
  } else if (const auto off = ble::decode_kettle_boil_mode(value)) {
    known_.turn_off_after_boil = *off;
  } else {
    report_malformed("turn-off-after-boil " + to_hex(value) + ": " + off.error().describe());
  }
}

void MiKettle::became_ready() {
  // The first session, and the end of an outage whose start was logged; a kettle flapping within the
  // log window reconnects quietly (its drops are summarised by the ProblemLog, which starts a fresh
  // first line by itself after a quiet window).
  if (connection_->counters().sessions == 1 || lost_logged_) {
    spdlog::info("{}: connected to the kettle {} (firmware {}{})", id(), config_.mac,
                 firmware_.empty() ? "unknown" : firmware_,
                 failures_since_ready_ ? ", after " + std::to_string(failures_since_ready_) + " failed attempts" : "");
  }
  failures_since_ready_ = 0;
  lost_logged_ = false;
  set_online(true);
  publish(true);
}

void MiKettle::on_status(const Bytes& value) {
  const auto status = ble::parse_kettle_status(value);
  if (!status) {
    report_malformed("status " + to_hex(value) + ": " + status.error().describe());
    return;
  }
  ++counters_.statuses;
  known_.action = std::string(ble::kettle_action_name(status->action));
  known_.mode = std::string(ble::kettle_mode_name(status->mode));
  known_.temperature = status->current_temperature;
  known_.keep_warm_temperature = status->keep_warm_set_temperature;
  known_.keep_warm_type = std::string(ble::kettle_keep_warm_type_name(status->keep_warm_type));
  if (connection_->ready()) publish(false);  // while setting up, published once the settings are read
}

json MiKettle::current_state() const {
  json state = json::object();
  if (known_.action) state[kActionKey] = *known_.action;
  if (known_.mode) state[kModeKey] = *known_.mode;
  if (known_.temperature) state[kTemperatureKey] = *known_.temperature;
  if (known_.keep_warm_temperature) state[kKeepWarmTemperatureKey] = *known_.keep_warm_temperature;
  if (known_.keep_warm_type) state[kKeepWarmTypeKey] = *known_.keep_warm_type;
  if (known_.keep_warm_time_limit) state[kTimeLimitKey] = hours_json(*known_.keep_warm_time_limit);
  if (known_.turn_off_after_boil) state[kBoilOffKey] = *known_.turn_off_after_boil;
  if (rssi_) state[kRssiKey] = *rssi_;
  return state;
}

void MiKettle::publish(bool force) {
  json state = current_state();
  const auto now = Clock::now();
  if (!force && last_published_ && *last_published_ == state && last_published_at_ &&
      now - *last_published_at_ < options_.republish_interval) {
    return;
  }
  last_published_ = state;
  last_published_at_ = now;
  replace_state(std::move(state));
}

// ---- presence and failures ------------------------------------------------------------------------

void MiKettle::on_advert(const BleAdvert& advert) {
  if (!started_ || advert.cached) return;  // a cached value says nothing about now
  if (advert.rssi) rssi_ = advert.rssi;
  connection_->on_advert();
}

void MiKettle::on_failed(Connection::Failure failure, const std::string& detail, bool was_ready,
                         std::chrono::milliseconds retry_in) {
  using Failure = Connection::Failure;
  reset_writes();
  ++failures_since_ready_;
  set_online(false);
  const long long retry_s = std::max<long long>(1, retry_in.count() / 1000);

  ProblemLog& log = failure == Failure::token_rejected ? token_log_
                    : failure == Failure::auth         ? auth_log_
                                                       : connect_log_;
  const ProblemLog::Decision decision = log.record(Clock::now());
  if (decision.action == ProblemLog::Action::none) {
    spdlog::debug("{}: kettle {}: {}; retry in {} s", id(), config_.mac, detail, retry_s);
    return;
  }
  lost_logged_ = true;
  if (decision.action == ProblemLog::Action::log_summary) {
    spdlog::warn("{}: the kettle {} is still not usable: {} more failures in the last {} s (last: {}); retrying "
                 "every {} s at most",
                 id(), config_.mac, decision.count, whole_seconds(decision.span), detail,
                 options_.backoff_max.count() / 1000);
    return;
  }
  switch (failure) {
    case Failure::token_rejected:
      spdlog::warn("{}: the kettle {} rejected the token{} ({}): check product_id (131 YM-K1501, 275 YM-K1501EU){}; "
                   "retrying in {} s",
                   id(), config_.mac, token_configured_ ? " configured in `token:`" : " stored in state_dir", detail,
                   token_configured_ ? " and the token" : "", retry_s);
      break;
    case Failure::auth:
      spdlog::warn("{}: Mi auth with the kettle {} failed: {}; retrying in {} s", id(), config_.mac, detail, retry_s);
      break;
    case Failure::lost:
      spdlog::warn("{}: {} the kettle {} ({}); reconnecting in {} s (further failures are summarised)", id(),
                   was_ready ? "lost the connection to" : "connection dropped while setting up", config_.mac, detail,
                   retry_s);
      break;
    case Failure::connect:
    case Failure::setup:
      spdlog::warn("{}: cannot use the kettle {}: {}; retrying in {} s (out of range or switched off? further "
                   "failures are summarised)",
                   id(), config_.mac, detail, retry_s);
      break;
  }
}

void MiKettle::reset_writes() {
  writes_.clear();
  writing_ = false;
  reread_time_limit_ = reread_boil_ = false;
  pending_setup_.reset();
}

// ---- rate-limited reports of malformed values -----------------------------------------------------

void MiKettle::report_malformed(const std::string& detail) {
  ++counters_.malformed;
  last_malformed_ = detail;
  const ProblemLog::Decision decision = malformed_log_.record(Clock::now());
  if (decision.action == ProblemLog::Action::log_first) {
    spdlog::warn("{}: malformed {} from the kettle {} dropped, not published (more are summarised)", id(), detail,
                 config_.mac);
  } else if (decision.action == ProblemLog::Action::log_summary) {
    spdlog::warn("{}: {} malformed values from the kettle dropped in the last {} s (last: {})", id(), decision.count,
                 whole_seconds(decision.span), detail);
  } else {
    spdlog::debug("{}: malformed {} dropped", id(), detail);
    schedule_report_flush();
  }
}

void MiKettle::schedule_report_flush() {
  const auto due = malformed_log_.due();
  if (!due) return;
  report_timer_.expires_at(*due);
  report_timer_.async_wait([this, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& error) {
    if (error || alive.expired() || !started_) return;
    flush_reports();
  });
}

void MiKettle::flush_reports() {
  const ProblemLog::Decision decision = malformed_log_.flush(Clock::now());
  if (decision.action != ProblemLog::Action::log_summary) return;
  spdlog::warn("{}: {} malformed values from the kettle dropped in the last {} s (last: {})", id(), decision.count,
               whole_seconds(decision.span), last_malformed_);
}

// ---- commands -------------------------------------------------------------------------------------

model::CommandError MiKettle::command(const json& changes) {
  // Validate everything first, against the entities() declared (ranges, steps, options): a command
  // with one bad attribute writes nothing.
  if (auto error = model::check_command(entities(), changes)) return error;
  std::optional<int> temperature;
  std::optional<ble::KettleKeepWarmType> type;
  std::optional<double> limit;
  std::optional<bool> boil_off;
  for (const auto& [key, value] : changes.items()) {
    if (key == kKeepWarmTemperatureKey) {
      temperature = value.get<int>();
    } else if (key == kKeepWarmTypeKey) {
      for (const auto candidate : {ble::KettleKeepWarmType::boil_then_cool, ble::KettleKeepWarmType::heat_to}) {
        if (value.get<std::string>() == ble::kettle_keep_warm_type_name(candidate)) type = candidate;
      }
    } else if (key == kTimeLimitKey) {
      limit = value.get<double>();
    } else if (key == kBoilOffKey) {
      // TOGGLE only once the kettle has said what it is.
      boil_off = model::resolve_switch(*model::parse_switch_value(value), known_.turn_off_after_boil);
      if (!boil_off) return "turn_off_after_boil: TOGGLE needs the kettle's current setting, not reported yet";
    }
  }
  if (!connection_ || !connection_->ready()) return "kettle not connected";

  // aa01 carries both keep-warm settings: the one not in the command comes from what is queued,
  // else from the kettle's last status.
  std::vector<Write> writes;
  if (temperature || type) {
    std::optional<int> base_temperature = known_.keep_warm_temperature;
    std::optional<ble::KettleKeepWarmType> base_type;
    for (const auto candidate : {ble::KettleKeepWarmType::boil_then_cool, ble::KettleKeepWarmType::heat_to}) {
      if (known_.keep_warm_type && *known_.keep_warm_type == ble::kettle_keep_warm_type_name(candidate))
        base_type = candidate;
    }
    if (pending_setup_) {
      base_type = static_cast<ble::KettleKeepWarmType>(pending_setup_->first);
      base_temperature = pending_setup_->second;
    }
    if ((!temperature && !base_temperature) || (!type && !base_type))
      return "the kettle has not reported its keep-warm settings yet; set keep_warm_temperature and keep_warm_type "
             "together";
    const ble::KettleKeepWarmType wanted_type = type ? *type : *base_type;
    const int wanted_temperature = temperature ? *temperature : *base_temperature;
    const auto setup = ble::encode_kettle_setup(wanted_type, wanted_temperature);
    if (!setup) return "keep-warm setup not encodable: " + setup.error().describe();
    writes.push_back({kSetup, *setup, "keep-warm setup"});
  }
  if (limit) {
    const auto bytes = ble::encode_kettle_time_limit(*limit);
    if (!bytes) return "keep_warm_time_limit not encodable: " + bytes.error().describe();
    writes.push_back({kTimeLimit, *bytes, "keep-warm time limit"});
  }
  if (boil_off) writes.push_back({kBoilMode, ble::encode_kettle_boil_mode(*boil_off), "turn-off-after-boil"});

  if (temperature || type) {
    const Bytes& setup = writes.front().value;  // [type, temperature]
    pending_setup_ = std::make_pair(static_cast<int>(setup[0]), static_cast<int>(setup[1]));
  }
  reread_time_limit_ = reread_time_limit_ || limit.has_value();
  reread_boil_ = reread_boil_ || boil_off.has_value();
  for (Write& write : writes) writes_.push_back(std::move(write));
  spdlog::info("{}: set {}", id(), model::json_excerpt(changes));
  if (!writing_) {
    writing_ = true;
    // Start on the loop, not inside the caller's handler.
    boost::asio::post(context_.io, guarded([this] { next_write(); }));
  }
  return std::nullopt;
}

void MiKettle::start_writes() {
  if (writing_) return;
  writing_ = true;
  next_write();
}

void MiKettle::next_write() {
  if (!connection_ || !connection_->ready()) return;
  if (writes_.empty()) {
    writes_finished();
    return;
  }
  Write write = std::move(writes_.front());
  writes_.pop_front();
  const std::uint16_t characteristic = write.characteristic;
  Bytes value = write.value;
  connection_->write(characteristic, std::move(value),
                     guarded([this, write = std::move(write)](const std::optional<ble::GattError>& error) {
                       if (error) {
                         ++counters_.write_failures;
                         spdlog::warn("{}: writing the {} to the kettle failed: {}", id(), write.what,
                                      error->describe());
                         reset_writes();
                         publish(true);  // restate what the kettle really has
                         return;
                       }
                       ++counters_.writes;
                       if (write.characteristic == kSetup && write.value.size() >= 2) {
                         // Confirmed by the kettle (write with response); its next status says the same.
                         known_.keep_warm_type = std::string(ble::kettle_keep_warm_type_name(
                             static_cast<ble::KettleKeepWarmType>(write.value[0])));
                         known_.keep_warm_temperature = write.value[1];
                       }
                       next_write();
                     }));
}

void MiKettle::writes_finished() {
  const bool reread = reread_time_limit_ || reread_boil_;
  reread_time_limit_ = reread_boil_ = false;
  const auto done = [this] {
    writing_ = false;
    pending_setup_.reset();
    publish(true);
    if (!writes_.empty()) start_writes();  // a command arrived during the read-back
  };
  if (!reread) {
    done();
    return;
  }
  // What the kettle stored, not what we asked for.
  connection_->read_settings(guarded(done));
}

}  // namespace cloudless
