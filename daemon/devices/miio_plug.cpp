#include "daemon/devices/miio_plug.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include <spdlog/spdlog.h>

namespace cloudless {

namespace {

using miio::Quantity;

// Rounded for the state payload: the devices' resolution, without float noise.
double rounded(double value, int digits) {
  const double factor = std::pow(10.0, digits);
  return std::round(value * factor) / factor;
}

std::string to_upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::toupper(c); });
  return text;
}

// The state key of a switchable quantity, and back.
std::optional<Quantity> switch_quantity(const std::string& key) {
  if (key == "state") return Quantity::on;
  if (key == "usb") return Quantity::usb;
  if (key == "led") return Quantity::led;
  return std::nullopt;
}

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

MiioPlug::MiioPlug(std::string id, config::MiioDeviceConfig config, DeviceContext context)
    : model::Device(std::move(id), context.listener),
      config_(std::move(config)),
      context_(context),
      poll_timer_(context.io),
      state_file_(context.state_dir, "miio_" + this->id()) {
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
  if (const miio::PlugModel* known = miio::find_plug_model(model_name)) {
    model_ = *known;
  } else if (config_.miot) {
    model_ = miio::generic_miot_plug(model_name);
    model_.name = "MIoT plug (mapped in config)";
  } else {
    model_ = miio::generic_legacy_plug(model_name);
    spdlog::warn("{}: model {} is not in the plug table; bridging on/off only (add a `miot:` mapping for readings)",
                 id(), model_name);
  }
  if (config_.miot) model_ = with_mapping(std::move(model_), *config_.miot);
  model_.model = model_name;
  model_known_ = true;
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
  namespace presets = model::presets;
  std::vector<model::Entity> out{presets::power_switch("state")};
  if (!model_known_) return out;
  if (model_.has(Quantity::usb)) out.push_back(presets::switch_("usb", "USB"));
  if (model_.has(Quantity::led)) out.push_back(presets::switch_("led", "LED"));
  if (model_.has(Quantity::power)) out.push_back(presets::power());
  if (model_.has(Quantity::power) || model_.has(Quantity::energy)) out.push_back(presets::energy());
  if (model_.has(Quantity::voltage)) out.push_back(presets::voltage());
  if (model_.has(Quantity::current)) out.push_back(presets::current());
  if (model_.has(Quantity::temperature)) out.push_back(presets::temperature().diagnostic());
  return out;
}

void MiioPlug::start() {
  if (started_) return;
  started_ = true;
  const auto token = miio::parse_token(config_.token_hex);
  miio::SessionOptions options;
  options.host = config_.host;
  options.port = config_.port;
  options.token = token.value_or(miio::Token{});
  options.timeout = config_.timeout;
  options.retries = config_.retries;
  session_ = miio::Session::create(context_.io, options);

  // What we learned in an earlier run: the did (so discovery is published while the plug is
  // unreachable), the model and the energy counter.
  const nlohmann::json saved = state_file_.load();
  if (auto it = saved.find("did"); it != saved.end() && it->is_number_unsigned()) did_ = it->get<std::uint32_t>();
  if (auto it = saved.find("model"); it != saved.end() && it->is_string() && !model_known_)
    adopt_model(it->get<std::string>());
  if (auto it = saved.find("energy"); it != saved.end()) energy_.restore(*it);
  if (did_) description_changed();
  schedule_poll(std::chrono::milliseconds(0));
}

void MiioPlug::stop() {
  if (!started_) return;
  started_ = false;
  poll_timer_.cancel();
  if (session_) session_->stop();
  session_.reset();
  remember(false);
  state_file_.flush();
}

void MiioPlug::refresh() {
  if (!started_) return;
  if (polling_) {
    poll_again_ = true;
    return;
  }
  schedule_poll(std::chrono::milliseconds(0));
}

void MiioPlug::schedule_poll(std::chrono::milliseconds delay) {
  poll_timer_.expires_after(delay);
  poll_timer_.async_wait([alive = std::weak_ptr<int>(alive_), this](const boost::system::error_code& error) {
    if (error || alive.expired() || !started_) return;
    poll();
  });
}

void MiioPlug::poll() {
  if (polling_) return;
  polling_ = true;
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
      spdlog::warn("{}: miIO.info names no model; set `model:` in the config. Trying MIoT on/off.", id());
      model_ = miio::generic_miot_plug("unknown");
      if (config_.miot) model_ = with_mapping(std::move(model_), *config_.miot);
      model_known_ = true;
      tried_generic_miot_ = true;
    } else {
      adopt_model(model_name);
    }
    spdlog::info("{}: {} ({}), firmware {}", id(), model_.model, model_.name, firmware_.empty() ? "?" : firmware_);
    if (session_->device_id()) did_ = session_->device_id();
    remember(true);
    description_changed();
    poll_state();
  }));
}

void MiioPlug::poll_state() {
  if (model_.dialect == miio::Dialect::miot) {
    poll_miot_batch(0, {});
    return;
  }
  session_->call("get_prop", miio::legacy_get_prop_params(model_), guarded([this](const miio::CallResult& result) {
    if (!result.ok()) {
      // A MIoT-only plug answers legacy get_prop with -9999 (python-miio#1265, #1865): if we only
      // guessed the legacy dialect, switch to MIoT once.
      if (result.failure == miio::CallFailure::device_error && !tried_generic_miot_ &&
          !miio::find_plug_model(model_.model)) {
        tried_generic_miot_ = true;
        spdlog::info("{}: {} rejects get_prop; switching to MIoT get_properties", id(), model_.model);
        model_ = miio::generic_miot_plug(model_.model);
        description_changed();
        poll_miot_batch(0, {});
        return;
      }
      on_poll_failed(result, "get_prop");
      return;
    }
    auto reading = miio::decode_legacy_props(model_, result.result);
    if (!reading) {
      on_poll_failed({miio::CallFailure::malformed, {}, std::nullopt, reading.error().what}, "get_prop");
      return;
    }
    if (!model_.get_power) {
      on_reading(*reading);
      return;
    }
    session_->call("get_power", nlohmann::json::array(),
                   guarded([this, reading = *reading](const miio::CallResult& power_result) mutable {
                     if (power_result.ok()) {
                       if (auto watts = miio::decode_get_power(power_result.result)) reading.power = *watts;
                     }
                     on_reading(reading);  // on/off and temperature still count without the load
                   }));
  }));
}

void MiioPlug::poll_miot_batch(std::size_t index, miio::PlugReading reading) {
  const auto batches = miio::miot_get_batches(model_);
  if (index >= batches.size()) {
    on_reading(reading);
    return;
  }
  session_->call("get_properties", batches[index],
                 guarded([this, index, reading](const miio::CallResult& result) {
                   if (!result.ok()) {
                     on_poll_failed(result, "get_properties");
                     return;
                   }
                   auto merged = miio::decode_miot_properties(model_, result.result, reading);
                   if (!merged) {
                     on_poll_failed({miio::CallFailure::malformed, {}, std::nullopt, merged.error().what},
                                    "get_properties");
                     return;
                   }
                   poll_miot_batch(index + 1, *merged);
                 }));
}

void MiioPlug::on_reading(const miio::PlugReading& reading) {
  nlohmann::json state = nlohmann::json::object();
  if (reading.on) state["state"] = *reading.on ? "ON" : "OFF";
  if (reading.usb) state["usb"] = *reading.usb ? "ON" : "OFF";
  if (reading.led) state["led"] = *reading.led ? "ON" : "OFF";
  if (reading.power) state["power"] = rounded(*reading.power, 2);
  if (reading.voltage) state["voltage"] = rounded(*reading.voltage, 1);
  if (reading.current) state["current"] = rounded(*reading.current, 3);
  if (reading.temperature) state["temperature"] = rounded(*reading.temperature, 1);

  if (reading.energy) {
    energy_.on_device_counter(*reading.energy);
  } else if (reading.power) {
    // No counter on the device: integrate its load, but never across a gap of missed polls.
    const auto max_gap = std::chrono::duration_cast<std::chrono::seconds>(config_.poll_interval * 3) +
                         std::chrono::seconds(5);
    energy_.on_power(*reading.power, std::chrono::steady_clock::now(), max_gap);
  }
  if (auto total = energy_.total_kwh()) state["energy"] = rounded(*total, 4);

  if (session_ && session_->device_id() && did_ != session_->device_id()) {
    did_ = session_->device_id();
    remember(true);
    description_changed();
  } else {
    remember(false);
  }
  if (last_failure_ != miio::CallFailure::none || !online())
    spdlog::info("{}: online ({} at {})", id(), model_.model, config_.host);
  last_failure_ = miio::CallFailure::none;
  if (auto changed = availability_.on_success()) set_online(*changed);
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
  // A device that answers with an error is reachable: only silence and wrong tokens count as missed polls.
  if (result.failure == miio::CallFailure::device_error) {
    if (auto changed = availability_.on_success()) set_online(*changed);
    poll_finished();
    return;
  }
  if (auto changed = availability_.on_failure()) {
    if (!*changed) spdlog::warn("{}: offline after {} failed polls", id(), availability_.consecutive_failures());
    set_online(*changed);
  }
  poll_finished();
}

void MiioPlug::poll_finished() {
  polling_ = false;
  if (!started_) return;
  if (poll_again_) {
    poll_again_ = false;
    schedule_poll(std::chrono::milliseconds(0));
    return;
  }
  schedule_poll(config_.poll_interval);
}

model::CommandError MiioPlug::command(const nlohmann::json& changes) {
  if (!changes.is_object() || changes.empty()) return "expected a JSON object with attributes to set";
  if (!model_known_) return "the plug has not been reached yet; its model is unknown";
  // Check everything first: a command with one bad attribute changes nothing.
  std::vector<std::pair<std::string, bool>> switches;
  for (const auto& [key, value] : changes.items()) {
    const auto quantity = switch_quantity(key);
    if (!quantity || !model_.has(*quantity) || !miio::switch_call(model_, *quantity, true)) {
      std::string settable = "state";
      if (model_.has(Quantity::usb)) settable += ", usb";
      if (model_.has(Quantity::led)) settable += ", led";
      return "unknown attribute '" + key + "' (settable: " + settable + ")";
    }
    std::optional<bool> on;
    if (value.is_boolean()) on = value.get<bool>();
    if (value.is_string()) {
      const std::string text = to_upper(value.get<std::string>());
      if (text == "ON") on = true;
      if (text == "OFF") on = false;
      if (text == "TOGGLE") {
        const auto current = state().find(key);
        on = !(current != state().end() && current->is_string() && *current == "ON");
      }
    }
    if (!on) return "attribute '" + key + "' takes ON, OFF or TOGGLE";
    switches.emplace_back(key, *on);
  }
  for (const auto& [key, on] : switches) send_switch(*switch_quantity(key), on, key);
  return std::nullopt;
}

void MiioPlug::send_switch(Quantity quantity, bool on, std::string key) {
  if (!started_ || !session_) return;
  const auto call = miio::switch_call(model_, quantity, on);
  if (!call) return;
  spdlog::info("{}: set {} {}", id(), key, on ? "ON" : "OFF");
  const bool miot = model_.dialect == miio::Dialect::miot;
  session_->call(call->method, call->params, guarded([this, key, on, miot](const miio::CallResult& result) {
    // Legacy setters answer ["ok"] (or 0 for v3 USB); MIoT answers per-property codes.
    const bool accepted = result.ok() && (miot ? miio::miot_set_succeeded(result.result) : miio::is_ok_result(result.result));
    if (!accepted) {
      spdlog::warn("{}: setting {} failed: {}", id(), key,
                   result.ok() ? "device answered " + result.result.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                               : std::string(miio::call_failure_name(result.failure)) + ": " + result.detail);
      publish_state({});  // tell subscribers the real (unchanged) state again
      return;
    }
    publish_state({{key, on ? "ON" : "OFF"}});
    refresh();  // read back power and the real switch state
  }));
}

void MiioPlug::remember(bool urgent) {
  nlohmann::json saved = nlohmann::json::object();
  if (did_) saved["did"] = *did_;
  if (model_known_) saved["model"] = model_.model;
  saved["energy"] = energy_.to_json();
  state_file_.save(std::move(saved), urgent);
}

}  // namespace cloudless
