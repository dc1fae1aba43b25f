#include "daemon/devices/miio_plug.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <utility>

#include <spdlog/spdlog.h>

#include "daemon/devices/round_digits.h"
#include "daemon/model/command_check.h"
#include "daemon/model/switch_value.h"

namespace cloudless {

namespace {

using miio::Quantity;

const miio::EncodedParams kNoParams{"[]"};  // get_power's

// Each entity a plug can have, declared once: the quantity it shows, its state key, how its value is
// written (a switch as ON/OFF, a number rounded to the device's resolution) and its declaration.
// entities(), the state payload and the /set lookup all read this table, in this order.
struct PlugEntity {
  Quantity quantity;
  std::string_view key;
  int digits;  // -1: a switch
  model::Entity (*declare)();
};

const PlugEntity kPlugEntities[] = {
    {Quantity::on, "state", -1, [] { return model::presets::power_switch("state"); }},
    {Quantity::usb, "usb", -1, [] { return model::presets::switch_("usb", "USB"); }},
    {Quantity::led, "led", -1, [] { return model::presets::switch_("led", "LED"); }},
    {Quantity::power, "power", 2, [] { return model::presets::power("power"); }},
    // Kept by the bridge (EnergyCounter): monotonic across plug restarts; 4 digits.
    {Quantity::energy, "energy", 4, [] { return model::presets::energy("energy"); }},
    {Quantity::voltage, "voltage", 1, [] { return model::presets::voltage("voltage"); }},
    {Quantity::current, "current", 3, [] { return model::presets::current("current"); }},
    {Quantity::temperature, "temperature", 1, [] { return model::presets::temperature("temperature").diagnostic(); }},
};

// The switchable quantity of a state key.
std::optional<Quantity> switch_quantity(const std::string& key) {
  for (const PlugEntity& entity : kPlugEntities) {
    if (entity.digits < 0 && entity.key == key) return entity.quantity;
  }
  return std::nullopt;
}

// Whether the device itself answered (with values or an error), as opposed to silence, a reply under
// another token, or a call that never left.
bool answered(const miio::CallResult& result) {
  return result.failure == miio::CallFailure::none || result.failure == miio::CallFailure::device_error;
}

std::string on_off(bool on) { return on ? "ON" : "OFF"; }

// Applies the YAML `miot:` mapping on top of a model (or builds a model from it alone).
miio::PlugModel with_mapping(miio::PlugModel model, const config::MiotMapping& mapping) {
  model.dialect = miio::Dialect::miot;
  auto apply = [&](Quantity quantity, const std::optional<config::MiotProperty>& property, bool writable) {
    if (!property) return;
    std::erase_if(model.miot, [&](const miio::MiotProperty& p) { return p.quantity == quantity; });
    model.miot.push_back({quantity, property->siid, property->piid, property->scale, writable});
  };
  apply(Quantity::on, mapping.switch_, true);
  apply(Quantity::power, mapping.power, false);
  apply(Quantity::energy, mapping.energy, false);
  apply(Quantity::voltage, mapping.voltage, false);
  apply(Quantity::current, mapping.current, false);
  apply(Quantity::temperature, mapping.temperature, false);
  return model;
}

}  // namespace

MiioCallBudget miio_call_budget(const config::MiioDeviceConfig& config) {
  using std::chrono::milliseconds;
  MiioCallBudget budget{};
  budget.timeout = config.timeout.value_or(std::clamp<milliseconds>(config.poll_interval / 2, milliseconds(1000),
                                                                     milliseconds(2000)));
  budget.retries = config.retries.value_or(config.poll_interval < std::chrono::seconds(5) ? 1 : 2);
  return budget;
}

std::optional<bool> TimedAvailability::on_answer(Clock::time_point now) {
  last_answer_ = now;
  first_silence_.reset();
  unanswered_ = 0;
  if (online_ && decided_) return std::nullopt;
  online_ = true;
  decided_ = true;
  return true;
}

std::optional<bool> TimedAvailability::on_silence(Clock::time_point now, int unanswered_attempts) {
  unanswered_ += std::max(unanswered_attempts, 1);
  if (!first_silence_) first_silence_ = now;
  if (!decided_) {
    decided_ = true;
    online_ = false;
    return false;
  }
  if (!online_ || unanswered_ < 2 || silent_for(now) < offline_after_) return std::nullopt;
  online_ = false;
  return false;
}

TimedAvailability::Clock::duration TimedAvailability::silent_for(Clock::time_point now) const {
  const auto since = last_answer_ ? *last_answer_ : first_silence_.value_or(now);
  return now - since;
}

MiioPlug::MiioPlug(std::string id, config::MiioDeviceConfig config, DeviceContext context)
    : model::Device(std::move(id), context.listener),
      config_(std::move(config)),
      context_(context),
      poll_loop_(context.io, config_.poll_interval, [this] { poll(); }),
      switch_timer_(context.io),
      availability_(config_.poll_interval * 3),
      state_file_(context.state_dir, "miio_" + this->id(), kStateWriteInterval) {
  if (!config_.model.empty()) adopt_model(config_.model);
}

MiioPlug::~MiioPlug() { stop(); }

template <typename Handler>
miio::Session::Callback MiioPlug::guarded(Handler handler) {
  return [alive = std::weak_ptr<int>(alive_), this, handler = std::move(handler)](const miio::CallResult& result) mutable {
    if (alive.expired() || !started_) return;
    handler(result);
  };
}

void MiioPlug::adopt_model(const std::string& model_name) {
  dialect_known_ = true;
  miio::PlugModel model;
  if (const miio::PlugModel* known = miio::find_plug_model(model_name)) {
    model = *known;
  } else if (config_.miot) {
    model = miio::generic_miot_plug(model_name);
    model.name = "MIoT plug (mapped in config)";
  } else {
    // Legacy or MIoT? Only the plug can say: probe_dialect() asks it at the first poll.
    model = miio::generic_legacy_plug(model_name);
    dialect_known_ = false;
    spdlog::warn("{}: model {} is not in the plug table; bridging on/off only (add a `miot:` mapping for readings)",
                 id(), model_name);
  }
  if (config_.miot) model = with_mapping(std::move(model), *config_.miot);
  model.model = model_name;
  use_model(std::move(model));
  model_known_ = true;
}

void MiioPlug::use_model(miio::PlugModel model) {
  model_ = std::move(model);
  // The same requests every poll: built once per model, not per poll (docs/build.md §9).
  legacy_get_prop_params_ = miio::encode_params(miio::legacy_get_prop_params(model_));
  miot_get_batches_.clear();
  for (const auto& batch : miio::miot_get_batches(model_)) miot_get_batches_.push_back(miio::encode_params(batch));
}

model::DeviceInfo MiioPlug::info() const {
  model::DeviceInfo info;
  info.protocol = "miio";
  if (did_) info.stable_id = "miio_" + std::to_string(*did_);
  info.manufacturer = "Xiaomi";
  info.model_name = model_known_ ? model_.name : "miIO device";
  info.model_id = model_known_ ? model_.model : "";
  info.sw_version = firmware_;
  info.hw_version = hardware_;
  info.address = config_.host;
  return info;
}

std::vector<model::Entity> MiioPlug::entities() const {
  std::vector<model::Entity> out;
  for (const PlugEntity& entity : kPlugEntities) {
    // The switch before the model is known; energy wherever the plug meters (counted from power if need be).
    const bool declared = entity.quantity == Quantity::on ||
                          (model_known_ && (model_.has(entity.quantity) ||
                                            (entity.quantity == Quantity::energy && model_.has(Quantity::power))));
    if (declared) out.push_back(entity.declare());
  }
  return out;
}

void MiioPlug::start() {
  if (started_) return;
  started_ = true;

  // What we learned in an earlier run: the did (so discovery is published while the plug is
  // unreachable), the model, the energy counter and how far the message ids went.
  const nlohmann::json saved = state_file_.load();
  written_ = saved;
  if (auto it = saved.find("did"); it != saved.end() && it->is_number_unsigned()) did_ = it->get<std::uint32_t>();
  if (auto it = saved.find("model"); it != saved.end() && it->is_string() && !model_known_)
    adopt_model(it->get<std::string>());
  if (auto it = saved.find("energy"); it != saved.end()) {
    if (const std::string problem = energy_.restore(*it); !problem.empty())
      spdlog::warn("{}: saved energy not restored ({}): counting afresh from the plug's next reading", id(), problem);
  }
  energy_written_ = energy_.total_kwh();
  if (auto it = saved.find("message_id"); it != saved.end() && it->is_number_integer()) {
    const auto reserved = it->get<std::int64_t>();
    if (reserved >= 1 && reserved <= miio::kMaxMessageId) reserved_id_ = reserved;
  }

  const auto token = miio::parse_token(config_.token_hex);
  const MiioCallBudget budget = miio_call_budget(config_);
  miio::SessionOptions options;
  options.host = config_.host;
  options.port = config_.port;
  options.token = token.value_or(miio::Token{});
  options.timeout = budget.timeout;
  options.retries = budget.retries;
  // Resume above every id an earlier run may have sent: the plug ignores the ones it thinks it saw.
  options.last_id = reserved_id_;
  options.on_id = [alive = std::weak_ptr<int>(alive_), this](std::int64_t message_id) {
    if (!alive.expired()) on_message_id(message_id);
  };
  session_ = miio::Session::create(context_.io, options);

  if (did_) description_changed();
  poll_loop_.start();
}

void MiioPlug::stop() {
  if (!started_) return;
  started_ = false;
  poll_loop_.stop();
  if (session_) session_->stop();
  session_.reset();
  switch_timer_.cancel();
  switch_waiting_ = false;
  pending_switches_.clear();
  switch_in_flight_.reset();
  remember(Write::now);
}

void MiioPlug::refresh() {
  if (started_) poll_loop_.refresh();
}

// Started by poll_loop_, which runs one poll at a time; every path ends in poll_finished().
void MiioPlug::poll() {
  commands_sent_at_poll_start_ = commands_sent_;
  if (!model_known_)
    poll_info();
  else
    poll_state();
}

void MiioPlug::poll_info() {
  session_->call("miIO.info", nlohmann::json::array(), guarded([this](const miio::CallResult& result) {
    if (!result.ok()) {
      on_poll_failed(result, "miIO.info");
      return;
    }
    const nlohmann::json& info = result.result;
    auto text = [&](const char* key) {
      auto it = info.is_object() ? info.find(key) : info.end();
      return it != info.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    firmware_ = text("fw_ver");
    hardware_ = text("hw_ver");
    std::string model_name = text("model");
    if (model_name.empty()) {
      // Some MIoT firmware (ESP32C3, miio_ver 0.1.0) leaves the model out of miIO.info.
      spdlog::warn("{}: miIO.info names no model; set `model:` in the config", id());
      model_name = "unknown";
    }
    adopt_model(model_name);
    spdlog::info("{}: {} ({}), firmware {}", id(), model_.model, model_.name, firmware_.empty() ? "?" : firmware_);
    if (session_->device_id()) did_ = session_->device_id();
    remember(Write::now);
    description_changed();
    poll_state();
  }));
}

void MiioPlug::poll_state() {
  if (!dialect_known_) {
    probe_dialect();
    return;
  }
  if (model_.dialect == miio::Dialect::miot) {
    poll_miot_batch(0, {});
    return;
  }
  session_->call("get_prop", legacy_get_prop_params_, list_reader_, guarded([this](const miio::CallResult& result) {
    if (!result.ok()) {
      on_poll_failed(result, "get_prop");
      return;
    }
    auto reading = result.read ? miio::PlugReading(miio::decode_legacy_values(model_, list_reader_->values()))
                               : miio::decode_legacy_props(model_, result.result);
    if (!reading) {
      on_poll_failed({miio::CallFailure::malformed, {}, std::nullopt, reading.error().what}, "get_prop");
      return;
    }
    if (!model_.get_power) {
      on_reading(*reading);
      return;
    }
    session_->call("get_power", kNoParams, list_reader_,
                   guarded([this, reading = *reading](const miio::CallResult& power_result) mutable {
                     if (power_result.ok()) {
                       const auto watts = power_result.read ? miio::decode_get_power_values(list_reader_->values())
                                                            : miio::decode_get_power(power_result.result);
                       if (watts) reading.power = *watts;
                     }
                     on_reading(reading);  // on/off and temperature still count without the load
                   }));
  }));
}

// A model outside the table speaks either the legacy get_prop or MIoT get_properties. Both dialects
// answer the other one's methods with errors (-9999 "user ack timeout" on chuangmi.plug.212a01,
// "undefined command" on cuco.plug.v3), and -9999 also comes and goes on plugs that do know the
// method. So only values decide: get_properties for the switch every MIoT plug has at 2/1, then
// get_prop ["power"]. When neither brings values, nothing is decided and both are asked again.
void MiioPlug::probe_dialect() {
  const nlohmann::json miot_probe = nlohmann::json::array({{{"did", "probe"}, {"siid", 2}, {"piid", 1}}});
  session_->call("get_properties", miot_probe, guarded([this](const miio::CallResult& miot) {
    if (miot.ok() && miot.result.is_array()) {
      settle_dialect(miio::Dialect::miot);
      poll_state();
      return;
    }
    if (!answered(miot)) {  // silence: asking the other way now would only wait again
      on_poll_failed(miot, "get_properties");
      return;
    }
    session_->call("get_prop", nlohmann::json::array({"power"}), guarded([this, miot](const miio::CallResult& legacy) {
      if (legacy.ok() && legacy.result.is_array()) {
        settle_dialect(miio::Dialect::legacy);
        poll_state();
        return;
      }
      if (!probe_warned_ && answered(legacy)) {
        probe_warned_ = true;
        spdlog::warn("{}: {} answers neither get_properties ({}) nor get_prop ({}); asking again at every poll", id(),
                     model_.model, miot.detail, legacy.detail);
      }
      on_poll_failed(legacy, "get_prop");
    }));
  }));
}

void MiioPlug::settle_dialect(miio::Dialect dialect) {
  const std::string model_name = model_.model;
  use_model(dialect == miio::Dialect::miot ? miio::generic_miot_plug(model_name) : miio::generic_legacy_plug(model_name));
  dialect_known_ = true;
  spdlog::info("{}: {} answers {}: bridging its on/off with {}", id(), model_name,
               dialect == miio::Dialect::miot ? "get_properties" : "get_prop",
               dialect == miio::Dialect::miot ? "MIoT set_properties" : "legacy set_power");
  description_changed();
}

void MiioPlug::poll_miot_batch(std::size_t index, miio::PlugReading reading) {
  if (index >= miot_get_batches_.size()) {
    on_reading(reading);
    return;
  }
  session_->call("get_properties", miot_get_batches_[index], miot_reader_,
                 guarded([this, index, reading](const miio::CallResult& result) {
                   if (!result.ok()) {
                     on_poll_failed(result, "get_properties");
                     return;
                   }
                   auto merged = result.read ? miio::merge_miot_values(model_, miot_reader_->values(), reading)
                                             : miio::decode_miot_properties(model_, result.result, reading);
                   if (!merged) {
                     on_poll_failed({miio::CallFailure::malformed, {}, std::nullopt, merged.error().what},
                                    "get_properties");
                     return;
                   }
                   poll_miot_batch(index + 1, *merged);
                 }));
}

void MiioPlug::on_reading(const miio::PlugReading& reading) {
  if (last_failure_ != miio::CallFailure::none || !online())
    spdlog::info("{}: online ({} at {})", id(), model_.model, config_.host);
  last_failure_ = miio::CallFailure::none;
  note_answer();
  if (commands_sent_ != commands_sent_at_poll_start_) {
    // A command went out while this reading was being taken: it may show the state from before the
    // command, and published after the command's own update it would switch the entity back.
    spdlog::debug("{}: reading begun before a command dropped; reading again", id());
    poll_loop_.refresh();
    poll_finished();
    return;
  }

  nlohmann::json state = nlohmann::json::object();
  for (const PlugEntity& entity : kPlugEntities) {
    if (entity.quantity == Quantity::energy) continue;  // below: the bridge's own counter
    if (entity.digits < 0) {
      if (const auto on = reading.flag(entity.quantity)) state[std::string(entity.key)] = on_off(*on);
    } else if (const auto value = reading.number(entity.quantity)) {
      state[std::string(entity.key)] = round_digits(*value, entity.digits);
    }
  }

  if (reading.energy) {
    const auto previous = energy_.last_device_counter_kwh();
    if (energy_.on_device_counter(*reading.energy) == EnergyCounter::CounterStep::rebased)
      spdlog::warn("{}: the plug's energy counter went back from {} to {} kWh: not a restart at 0, so nothing "
                   "is added; counting on from the new value",
                   id(), previous.value_or(0.0), *reading.energy);
  } else if (reading.power) {
    // No counter on the device: integrate its load, but never across a gap of missed polls.
    const auto max_gap = std::chrono::duration_cast<std::chrono::seconds>(config_.poll_interval * 3) +
                         std::chrono::seconds(5);
    energy_.on_power(*reading.power, Clock::now(), max_gap);
  }

  if (session_ && session_->device_id() && did_ != session_->device_id()) {
    did_ = session_->device_id();
    remember(Write::now);
    description_changed();
  } else {
    remember(Write::if_due);
  }
  // What the state file holds, never more: after a crash the counter starts from there again.
  if (energy_written_) state["energy"] = round_digits(*energy_written_, 4);
  publish_state(state);
  poll_finished();
}

void MiioPlug::on_poll_failed(const miio::CallResult& result, std::string_view step) {
  if (result.failure != last_failure_) {
    if (result.failure == miio::CallFailure::wrong_token) {
      spdlog::error("{}: authentication failed: {} answers, but not with our token: check `token` ({})", id(),
                    config_.host, step);
    } else {
      spdlog::warn("{}: {} failed: {}: {}", id(), step, miio::call_failure_name(result.failure), result.detail);
    }
  }
  last_failure_ = result.failure;
  // A device that answers with an error is reachable: only silence and wrong tokens count against it.
  if (result.failure == miio::CallFailure::device_error)
    note_answer();
  else
    note_silence(result);
  poll_finished();
}

void MiioPlug::note_answer() {
  if (auto changed = availability_.on_answer(Clock::now())) set_online(*changed);
}

void MiioPlug::note_silence(const miio::CallResult& result) {
  // A call refused or dropped before anything was sent says nothing about the plug.
  if (result.failure == miio::CallFailure::overloaded || result.failure == miio::CallFailure::stopped) return;
  if (result.failure == miio::CallFailure::expired && result.attempts == 0) return;
  const auto now = Clock::now();
  if (auto changed = availability_.on_silence(now, result.attempts)) {
    if (!*changed)
      spdlog::warn("{}: offline: no answer for {:.0f} s", id(),
                   std::chrono::duration<double>(availability_.silent_for(now)).count());
    set_online(*changed);
  }
}

void MiioPlug::poll_finished() { poll_loop_.finished(); }

model::CommandError MiioPlug::command(const nlohmann::json& changes) {
  if (auto error = model::check_command_shape(changes)) return error;
  if (!model_known_) return "the plug has not been reached yet; its model is unknown";
  if (!dialect_known_) return "the plug has not answered a read yet; its command set (legacy or MIoT) is unknown";
  // Check everything first against what entities() declares: a command with one bad attribute
  // changes nothing.
  if (auto error = model::check_command(entities(), changes)) return error;
  std::vector<std::pair<std::string, bool>> switches;
  for (const auto& [key, value] : changes.items()) {
    const auto quantity = switch_quantity(key);
    // Declared switches of the model table always have a call (a unit test checks every model).
    if (!quantity || !miio::switch_call(model_, *quantity, true)) return "attribute '" + key + "' cannot be switched";
    const auto value_said = model::parse_switch_value(value);
    // TOGGLE from what it is about to become, when a command for it is already on its way; a state
    // not known yet counts as OFF.
    bool current = false;
    if (auto pending = pending_switches_.find(key); pending != pending_switches_.end()) {
      current = pending->second.on;
    } else if (switch_in_flight_ && switch_in_flight_->first == key) {
      current = switch_in_flight_->second;
    } else {
      const auto known = state().find(key);
      current = known != state().end() && known->is_string() && *known == "ON";
    }
    switches.emplace_back(key, *model::resolve_switch(*value_said, current));
  }
  // The newest command per attribute wins: a burst of /set never becomes a burst of device calls,
  // and polls never wait behind more than the one switch call in flight.
  const auto now = Clock::now();
  for (const auto& [key, on] : switches) pending_switches_[key] = PendingSwitch{*switch_quantity(key), on, now};
  if (!switch_in_flight_ && !switch_waiting_) {
    // Start on the loop, not inside the caller's handler.
    boost::asio::post(context_.io, [alive = std::weak_ptr<int>(alive_), this] {
      if (!alive.expired() && started_) start_next_switch();
    });
  }
  return std::nullopt;
}

void MiioPlug::start_next_switch() {
  if (!started_ || !session_ || switch_in_flight_ || switch_waiting_) return;
  const auto now = Clock::now();
  for (auto it = pending_switches_.begin(); it != pending_switches_.end();) {
    if (now - it->second.given_at < kCommandLifetime) {
      ++it;
      continue;
    }
    spdlog::warn("{}: set {} {} dropped: not sent within {} s of the command", id(), it->first,
                 on_off(it->second.on), kCommandLifetime.count());
    it = pending_switches_.erase(it);
    republish_state();
  }
  if (pending_switches_.empty()) return;
  if (last_switch_sent_ && now - *last_switch_sent_ < kSwitchSpacing) {
    switch_waiting_ = true;
    switch_timer_.expires_at(*last_switch_sent_ + kSwitchSpacing);
    switch_timer_.async_wait([alive = std::weak_ptr<int>(alive_), this](const boost::system::error_code& error) {
      if (error || alive.expired() || !started_) return;
      switch_waiting_ = false;
      start_next_switch();
    });
    return;
  }
  // The oldest first: every attribute gets its turn.
  auto next = std::min_element(pending_switches_.begin(), pending_switches_.end(),
                               [](const auto& a, const auto& b) { return a.second.given_at < b.second.given_at; });
  const std::string key = next->first;
  const PendingSwitch pending = next->second;
  pending_switches_.erase(next);
  send_switch(key, pending);
}

void MiioPlug::send_switch(const std::string& key, const PendingSwitch& pending) {
  const auto call = miio::switch_call(model_, pending.quantity, pending.on);
  if (!call) return;
  spdlog::info("{}: set {} {}", id(), key, on_off(pending.on));
  switch_in_flight_ = {key, pending.on};
  last_switch_sent_ = Clock::now();
  ++commands_sent_;
  const bool miot = model_.dialect == miio::Dialect::miot;
  session_->call(
      call->method, call->params,
      guarded([this, key, on = pending.on, miot](const miio::CallResult& result) { on_switch_done(key, on, miot, result); }),
      pending.given_at + kCommandLifetime);
}

void MiioPlug::on_switch_done(const std::string& key, bool on, bool miot, const miio::CallResult& result) {
  switch_in_flight_.reset();
  // Legacy setters answer ["ok"] (or 0 for v3 USB); MIoT answers per-property codes.
  const bool accepted = result.ok() && (miot ? miio::miot_set_succeeded(result.result) : miio::is_ok_result(result.result));
  if (accepted) {
    note_answer();
    publish_state({{key, on_off(on)}});
    refresh();  // read back power and the real switch state
  } else if (answered(result)) {
    spdlog::warn("{}: setting {} failed: {}", id(), key,
                 result.ok() ? "device answered " + result.result.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                             : std::string(miio::call_failure_name(result.failure)) + ": " + result.detail);
    note_answer();
    publish_state({});  // tell subscribers the real (unchanged) state again; the plug was heard
  } else {
    if (result.failure == miio::CallFailure::expired) {
      spdlog::warn("{}: set {} {} dropped: no answer within {} s of the command", id(), key, on_off(on),
                   kCommandLifetime.count());
    } else {
      spdlog::warn("{}: setting {} failed: {}: {}", id(), key, miio::call_failure_name(result.failure), result.detail);
    }
    note_silence(result);
    // The real (unchanged) state again, without claiming the plug was heard.
    republish_state();
  }
  start_next_switch();
}

// Keeps the message-id reservation on disk ahead of every id the session sends (see kIdReservation).
void MiioPlug::on_message_id(std::int64_t message_id) {
  if (reserved_id_) {
    const std::int64_t left = miio::message_ids_ahead(*reserved_id_, message_id);
    if (left >= kIdReserveRefill && left <= kIdReservation) return;
  }
  reserved_id_ = miio::wrap_message_id(message_id + kIdReservation);
  remember(Write::now);
}

nlohmann::json MiioPlug::state_json() const {
  nlohmann::json saved = nlohmann::json::object();
  if (did_) saved["did"] = *did_;
  if (model_known_) saved["model"] = model_.model;
  saved["energy"] = energy_.to_json();
  if (reserved_id_) saved["message_id"] = *reserved_id_;
  return saved;
}

void MiioPlug::remember(Write when) {
  const auto now = Clock::now();
  // The first energy of a run is written at once: until it is, none is published.
  const bool energy_unwritten = energy_.total_kwh() && !energy_written_;
  // Not due: nothing would be written either way, so the JSON is not even built (every poll comes here).
  if (when == Write::if_due && !energy_unwritten && next_write_ && now < *next_write_) return;
  nlohmann::json saved = state_json();
  // The next look falls on this plug's place in the interval (next_write_slot): plugs that came
  // online together do not all write, and fsync, on the same poll. Nothing new now: the next look
  // is at the next slot too, not at every poll until something changes.
  next_write_ = next_write_slot(now, state_file_.phase(), kStateWriteInterval);
  if (saved == written_) return;
  state_file_.save(saved, /*urgent=*/true);
  written_ = std::move(saved);
  energy_written_ = energy_.total_kwh();
}

}  // namespace cloudless
