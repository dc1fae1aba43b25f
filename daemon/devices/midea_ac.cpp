#include "daemon/devices/midea_ac.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "daemon/devices/round_digits.h"
#include "daemon/model/command_check.h"
#include "daemon/model/json_excerpt.h"
#include "daemon/model/switch_value.h"
#include "protocols/midea/ac_commands.h"
#include "protocols/midea/ac_frame.h"
#include "protocols/midea/ac_group_data.h"
#include "protocols/midea/ac_vocabulary.h"

namespace cloudless {

namespace {

using midea::RequestFailure;
using midea::RequestResult;
using nlohmann::json;
namespace climate_key = model::climate_key;

constexpr int kMissesToOffline = 3;
constexpr std::chrono::minutes kRejectReportInterval{1};
std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

std::vector<std::string> strings(const std::vector<std::string_view>& names) {
  return {names.begin(), names.end()};
}

// ON / OFF / TOGGLE (any case) or a JSON bool (daemon/model/switch_value.h), checked already by
// model::check_command. TOGGLE inverts `current`.
std::optional<bool> read_switch(const json& value, bool current) {
  const auto parsed = model::parse_switch_value(value);
  if (!parsed) return std::nullopt;
  return model::resolve_switch(*parsed, current);
}

std::string failure_text(const RequestResult& result) {
  std::string text(midea::request_failure_name(result.failure));
  if (!result.detail.empty()) text += ": " + result.detail;
  return text;
}

}  // namespace

MideaAc::MideaAc(std::string id, config::MideaDeviceConfig config, DeviceContext context)
    : model::Device(std::move(id), context.listener),
      config_(std::move(config)),
      context_(context),
      client_(
          [this](Bytes frame, std::uint8_t reply_body_type, midea::LanSession::Callback done) {
            if (session_) session_->request(std::move(frame), reply_body_type, std::move(done));
          },
          config_.energy_format, client_events()),
      poll_loop_(context.io, config_.poll_interval, [this] { poll(); }),
      availability_(kMissesToOffline),
      state_file_(context.state_dir, "midea_" + this->id()) {}

MideaAc::~MideaAc() { stop(); }

// Every event arrives from a session callback, which never runs after stop().
midea::AcClientEvents MideaAc::client_events() {
  midea::AcClientEvents events;
  events.state = [this](const midea::AcState&, midea::AcStateSource source) { on_state(source); };
  events.capabilities = [this](const midea::AcCapabilities& merged, bool changed) { on_capabilities(merged, changed); };
  events.capabilities_unanswered = [this](const std::string& why) {
    if (client_.capabilities_known()) {
      spdlog::warn("{}: the capabilities query went unanswered ({}); keeping the capabilities saved earlier", id(),
                   why);
      return;
    }
    spdlog::warn("{}: the capabilities query went unanswered ({}); assuming: {}", id(), why,
                 midea_ac_features_summary(client_.features()));
  };
  events.group_data = [this](const midea::AcGroupData& data, bool meter_found) { on_group_data(data, meter_found); };
  events.meter_absent = [this](const std::string& why) { spdlog::info("{}: {}; not asking again", id(), why); };
  events.reject = [this](const std::string& what) { note_reject(what); };
  events.change_failed = [this](const RequestResult& result, const std::string& step) {
    on_change_failed(result, step);
  };
  return events;
}

model::DeviceInfo MideaAc::info() const {
  model::DeviceInfo info;
  info.protocol = "midea";
  info.stable_id = "midea_" + std::to_string(config_.appliance_id);
  info.manufacturer = "Midea";
  info.model_name = "Air conditioner";
  info.model_id = config_.token_hex.empty() ? "LAN V2" : "LAN V3";
  info.address = config_.host;
  return info;
}

std::vector<model::Entity> MideaAc::entities() const {
  namespace presets = model::presets;
  const midea::AcFeatures& features = client_.features();
  model::ClimateTraits traits;
  traits.modes = strings(midea::hvac_mode_names(features));
  traits.fan_modes = strings(midea::fan_mode_names(features));
  // A list with only "off" (swing) or only "none" (presets) is no control at all.
  if (const auto swing = midea::swing_mode_names(features); swing.size() > 1) traits.swing_modes = strings(swing);
  for (const std::string_view preset : midea::preset_names(features)) {
    if (preset != "none") traits.preset_modes.emplace_back(preset);  // HA adds "none" itself
  }
  traits.min_temp = features.min_temperature;
  traits.max_temp = features.max_temperature;
  traits.temp_step = config_.temp_step;
  traits.has_current_humidity = features.humidity;

  std::vector<model::Entity> out{presets::climate(std::move(traits))};
  out.push_back(presets::temperature(std::string(climate_key::current_temperature)).named("Indoor temperature"));
  out.push_back(presets::temperature(std::string(kOutdoorTemperature)).named("Outdoor temperature"));
  if (features.humidity)
    out.push_back(presets::humidity(std::string(climate_key::current_humidity)).named("Indoor humidity"));
  if (client_.meter()) {
    out.push_back(presets::power(std::string(kPower)));
    out.push_back(presets::energy(std::string(kEnergy)));
  }
  model::Entity error_code;
  error_code.key = kErrorCode;
  error_code.component = model::Component::sensor;
  error_code.name = "Error code";
  out.push_back(error_code.diagnostic().with_icon("mdi:alert-circle-outline"));
  if (features.filter_reminder)
    out.push_back(presets::binary(std::string(kFilterAlert), "problem").named("Filter").diagnostic());
  if (features.display_control) out.push_back(presets::switch_(std::string(kDisplay), "Display"));
  out.push_back(presets::switch_(std::string(kBeep), "Beep"));
  return out;
}

void MideaAc::start() {
  if (started_) return;
  started_ = true;

  midea::LanSessionOptions options;
  options.host = config_.host;
  options.port = config_.port;
  options.appliance_id = config_.appliance_id;
  options.timeout = config_.timeout;
  if (!config_.token_hex.empty() || !config_.key_hex.empty()) {
    // The config loader checked both (128 and 64 hex digits, both or neither).
    options.token = midea::parse_v3_token(config_.token_hex);
    options.key = midea::parse_v3_key(config_.key_hex);
  }
  session_ = midea::LanSession::create(context_.io, std::move(options));
  const std::weak_ptr<int> alive = alive_;
  session_->on_unsolicited([alive, this](const midea::AcFrame& frame) {
    if (!alive.expired() && started_) on_unsolicited(frame);
  });
  session_->on_link([alive, this](midea::LinkEvent event, const std::string& detail) {
    if (!alive.expired() && started_) on_link(event, detail);
  });
  session_->on_reject([alive, this](const std::string& what) {
    if (!alive.expired() && started_) note_reject(what);
  });

  // What an earlier run learned: the beep setting, the capability pages, whether there is a
  // meter, and the energy counter.
  const json saved = state_file_.load();
  if (auto it = saved.find("beep"); it != saved.end() && it->is_boolean()) beep_ = it->get<bool>();
  client_.set_beep(beep_);
  if (auto it = saved.find("meter"); it != saved.end() && it->is_boolean()) client_.restore_meter(it->get<bool>());
  if (auto it = saved.find("energy"); it != saved.end()) energy_.restore(*it);
  if (auto it = saved.find("capabilities"); it != saved.end() && it->is_array()) {
    std::vector<Bytes> pages;
    for (const json& page : *it) {
      if (!page.is_string()) continue;
      if (auto body = from_hex(page.get<std::string>())) pages.push_back(std::move(*body));
    }
    client_.restore_capabilities(pages);
  }
  description_changed();
  poll_loop_.start();
}

void MideaAc::stop() {
  if (!started_) return;
  started_ = false;
  poll_loop_.stop();
  if (session_) session_->stop();
  session_.reset();
  report_rejects(true);
  remember(true);  // what a remember(false) that was not due left unwritten
  state_file_.flush();
}

void MideaAc::refresh() {
  if (started_) poll_loop_.refresh();
}

// Started by poll_loop_, which runs one poll at a time; every path ends in poll_finished().
void MideaAc::poll() {
  client_.poll([this](const midea::AcPollOutcome& outcome) { on_poll_done(outcome); });
}

void MideaAc::on_poll_done(const midea::AcPollOutcome& outcome) {
  if (!outcome.failure) {
    poll_finished();
    return;
  }
  if (!outcome.state_read) {
    on_poll_failed(*outcome.failure, outcome.step);
    return;
  }
  // The state came; a later query failed. Only a refused handshake says something about the unit.
  if (outcome.failure->failure == RequestFailure::authentication) on_authentication_failed();
  poll_finished();
}

// ---- what the client learns --------------------------------------------------------------------

void MideaAc::on_state(midea::AcStateSource source) {
  publish_full_state();
  if (source == midea::AcStateSource::poll) poll_succeeded();
}

void MideaAc::on_capabilities(const midea::AcCapabilities& merged, bool features_changed) {
  if (!merged.other_ids.empty()) {
    std::string ids;
    for (const std::uint16_t id : merged.other_ids)
      ids += (ids.empty() ? "" : " ") + hex_literal(id, 4, HexCase::upper);
    spdlog::debug("{}: capabilities without a reader: {}", id(), ids);
  }
  if (!features_changed) return;
  spdlog::info("{}: capabilities: {}", id(), midea_ac_features_summary(client_.features()));
  remember(true);
  description_changed();
  publish_full_state();  // display / filter_alert depend on the features
}

void MideaAc::on_group_data(const midea::AcGroupData& data, bool meter_found) {
  if (data.group == 5) {
    if (data.indoor_humidity && data.indoor_humidity != indoor_humidity_) {
      indoor_humidity_ = data.indoor_humidity;
      publish_state({{climate_key::current_humidity, *indoor_humidity_}});
    }
    return;
  }
  json changes = json::object();
  if (data.power) {
    power_ = data.power;
    changes[kPower] = round_digits(*data.power, 1);
  }
  if (data.total_energy) {
    energy_.on_device_counter(*data.total_energy);
    if (const auto total = energy_.total_kwh()) changes[kEnergy] = round_digits(*total, 3);
  }
  if (meter_found) {
    spdlog::info("{}: the unit reports power/energy ({} format)", id(),
                 midea::energy_format_name(config_.energy_format));
    remember(true);
    description_changed();
  }
  bool differs = false;
  for (const auto& [key, value] : changes.items()) {
    const auto current = state().find(key);
    differs = differs || current == state().end() || *current != value;
  }
  if (differs) publish_state(changes);
}

void MideaAc::poll_succeeded() {
  if (last_failure_ != RequestFailure::none || !online())
    spdlog::info("{}: online ({} at {}:{})", id(), config_.token_hex.empty() ? "V2" : "V3", config_.host,
                 config_.port);
  last_failure_ = RequestFailure::none;
  authentication_reported_ = false;
  if (auto changed = availability_.on_success()) set_online(*changed);
}

void MideaAc::on_poll_failed(const RequestResult& result, std::string_view step) {
  if (result.failure == RequestFailure::stopped) return;
  if (result.failure == RequestFailure::authentication) {
    on_authentication_failed();
    poll_finished();
    return;
  }
  if (result.failure != last_failure_)
    spdlog::warn("{}: {} failed: {}", id(), step, failure_text(result));
  last_failure_ = result.failure;
  if (auto changed = availability_.on_failure()) {
    if (!*changed) spdlog::warn("{}: offline after {} failed polls", id(), availability_.consecutive_failures());
    set_online(*changed);
  }
  poll_finished();
}

void MideaAc::poll_finished() {
  if (started_) {
    report_rejects(false);
    remember(false);
  }
  poll_loop_.finished();
}

// ---- what the session reports besides answers --------------------------------------------------

void MideaAc::on_unsolicited(const midea::AcFrame& frame) {
  if (client_.take_unsolicited(frame)) return;  // a C0 pushed after someone used the remote
  // Nothing else is published: the B5 notification (frame type 0x05) holds properties such as the
  // swing angles, which no entity shows; the 0xA0/0xA1 status notifications carry values the next
  // poll's C0 and group data bring anyway. Debug only: nothing is wrong when they come.
  spdlog::debug("{}: ignored an unsolicited frame: body type 0x{:02x} ({}), frame type 0x{:02x}", id(),
                frame.body_type(), midea::ac_body_kind_name(midea::classify_ac_frame(frame)), frame.frame_type);
}

void MideaAc::on_link(midea::LinkEvent event, const std::string& detail) {
  switch (event) {
    case midea::LinkEvent::connected:
      spdlog::debug("{}: connected to {}:{}", id(), config_.host, config_.port);
      return;
    case midea::LinkEvent::disconnected:
      // Units drop the connection every few minutes; the session reconnects on the next request.
      spdlog::debug("{}: connection closed ({}); reconnecting on the next request", id(), detail);
      return;
    case midea::LinkEvent::authentication_failed:
      on_authentication_failed();
      return;
  }
}

void MideaAc::on_authentication_failed() {
  if (!authentication_reported_) {
    spdlog::error("{}: authentication failed: check token/key", id());
    authentication_reported_ = true;
  }
  last_failure_ = RequestFailure::authentication;
  // Offline at once, without waiting for three misses: the unit answers, but not to us.
  availability_ = model::AvailabilityTracker(kMissesToOffline);
  (void)availability_.on_failure();
  set_online(false);
}

void MideaAc::note_reject(const std::string& what) {
  ++rejects_total_;
  ++rejects_pending_;
  last_reject_ = what;
  report_rejects(false);
}

// At most one line per minute per device, carrying the count since the previous line: a unit (or
// something else on the LAN) sending garbage must not flood the journal.
void MideaAc::report_rejects(bool force) {
  if (rejects_pending_ == 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && last_reject_report_ && now - *last_reject_report_ < kRejectReportInterval) return;
  if (!last_reject_report_) {
    spdlog::warn("{}: rejected {} bad packet(s) or frame(s): {}", id(), rejects_pending_, last_reject_);
  } else {
    const auto minutes = std::chrono::duration_cast<std::chrono::minutes>(now - *last_reject_report_).count();
    spdlog::warn("{}: rejected {} bad packet(s) or frame(s) in the last {} min; last: {}", id(), rejects_pending_,
                 std::max<long long>(minutes, 1), last_reject_);
  }
  rejects_pending_ = 0;
  last_reject_report_ = now;
}

// ---- commands ----------------------------------------------------------------------------------

model::CommandError MideaAc::command(const json& changes) {
  if (auto error = model::check_command_shape(changes)) return error;
  if (!started_ || !session_) return "the device is not running";
  // Validate everything first, against the entities this unit declares (its modes, fan speeds,
  // range, display control): a command with one bad attribute changes nothing.
  if (auto error = model::check_command(entities(), changes)) return error;

  // The state every change starts from (queued, else being sent, else the unit's). Never defaults:
  // a set carries every setting.
  const std::optional<midea::AcState> base = client_.command_base();
  std::optional<bool> power, display, beep;
  std::optional<std::string> mode, fan, swing, preset;
  std::optional<double> target;
  for (const auto& [key, value] : changes.items()) {
    if (key == kBeep) {
      beep = read_switch(value, beep_);
    } else if (key == climate_key::power) {
      power = read_switch(value, base && base->power);
    } else if (key == climate_key::mode) {
      mode = lower(value.get<std::string>());
    } else if (key == climate_key::fan_mode) {
      fan = lower(value.get<std::string>());
    } else if (key == climate_key::swing_mode) {
      swing = lower(value.get<std::string>());
    } else if (key == climate_key::preset) {
      preset = lower(value.get<std::string>());
    } else if (key == climate_key::target_temperature) {
      target = model::climate_target(value, config_.temp_step);  // 0.5 or 1 (the config loader allows no other)
    } else if (key == kDisplay) {
      display = read_switch(value, client_.display_for_toggle());
    }
  }
  const bool needs_unit = power || mode || fan || swing || preset || target || display;
  if (needs_unit && !base) return "state not known yet: the unit has not answered a state query";

  if (beep) {
    // A bridge-side setting: it decides the beep bit of every later command; nothing is sent now.
    beep_ = *beep;
    client_.set_beep(beep_);
    remember(true);
    boost::asio::post(context_.io, [alive = std::weak_ptr<int>(alive_), this, on = *beep] {
      if (!alive.expired() && started_) publish_state({{kBeep, on ? "ON" : "OFF"}});
    });
  }
  if (!needs_unit) return std::nullopt;

  std::optional<midea::AcState> next_state;
  if (power || mode || fan || swing || preset || target) {
    midea::AcState next = *base;
    // The mode first, then the power: {"mode":"cool","state":"OFF"} stores cool and stays off.
    if (mode) midea::apply_hvac_mode(next, *mode);
    if (power) next.power = *power;
    if (target) next.target_temperature = *target;
    if (fan) midea::apply_fan_mode(next, *fan);
    if (swing) midea::apply_swing_mode(next, *swing);
    if (preset) midea::apply_preset(next, *preset);
    next_state = next;
  }
  const bool starts_now = !client_.change_running();
  client_.queue_change(next_state, display);
  spdlog::info("{}: set {}", id(), model::json_excerpt(changes));
  if (starts_now) {
    // Start on the loop, not inside the caller's handler.
    boost::asio::post(context_.io, [alive = std::weak_ptr<int>(alive_), this] {
      if (!alive.expired() && started_) client_.send_queued();
    });
  }
  return std::nullopt;
}

void MideaAc::on_change_failed(const RequestResult& result, const std::string& step) {
  if (result.failure == RequestFailure::invalid) {
    spdlog::error("{}: {}", id(), result.detail);  // validated first: never expected
    return;
  }
  if (result.failure == RequestFailure::authentication) {
    on_authentication_failed();
  } else {
    spdlog::warn("{}: {} failed: {}", id(), step, failure_text(result));
  }
  publish_state({});  // tell subscribers the real (unchanged) state again
}

// ---- state payload and saved state -------------------------------------------------------------

MideaAcReadings MideaAc::readings() const {
  MideaAcReadings out;
  out.indoor_humidity = indoor_humidity_;
  out.power = power_;
  out.energy = energy_.total_kwh();
  out.beep = beep_;
  return out;
}

void MideaAc::publish_full_state() {
  if (!client_.last_state()) return;
  const midea::AcState& state = *client_.last_state();
  const MideaAcReadings now = readings();
  // A partial publish since (humidity, power, beep) changed the revision: built anew then.
  if (published_ && published_->revision == state_revision() && published_->state == state &&
      published_->features == client_.features() && published_->readings == now) {
    publish_state({});  // the same state, seen again
    return;
  }
  replace_state(midea_ac_state_json(state, client_.features(), now));
  published_ = StateInputs{state, client_.features(), now, state_revision()};
}

void MideaAc::remember(bool urgent) {
  // Every poll ends here; the file is written at most every few minutes, so until it is due the
  // JSON is not even built (stop() writes the last one with urgent).
  if (!urgent && !state_file_.due()) return;
  json saved = json::object();
  saved["beep"] = beep_;
  if (client_.meter()) saved["meter"] = true;
  if (!client_.capability_pages().empty()) {
    json pages = json::array();
    for (const Bytes& page : client_.capability_pages()) pages.push_back(to_hex(page));
    saved["capabilities"] = std::move(pages);
  }
  saved["energy"] = energy_.to_json();
  state_file_.save(std::move(saved), urgent);
}

}  // namespace cloudless
