#include "daemon/devices/xiaomi_ble_sensor.h"

#include "daemon/devices/ble_key_store.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include <spdlog/spdlog.h>

#include "daemon/devices/round_digits.h"
#include "protocols/xiaomi_ble/codec/mibeacon_objects.h"

namespace cloudless {

namespace {

namespace ble = xiaomi_ble;
using ble::Quantity;
using nlohmann::json;

// expire_after per quantity (docs/bridges.md §5.3). Chatty devices (thermometers, plant sensors)
// send each measurement every few minutes; 1 h is about 3 cycles of the slowest (LYWSD03MMC stock
// firmware rotates temperature, humidity and battery objects over ~10 min) plus room for adverts lost
// to a Pi's shared WiFi/BT radio. Battery, and everything a sleepy device sends only when something
// happens, get 25 h, echoing zigbee2mqtt's 1500-minute passive timeout: a shorter expiry is the
// "battery entity unavailable" complaint (HA core #90055).
constexpr int kMeasurementExpiry = 3600;
constexpr int kLongExpiry = 25 * 3600;

bool is_event(Quantity quantity) { return ble::quantity_info(quantity).kind == ble::ValueKind::event; }

std::optional<int> expiry(Quantity quantity, bool sleepy) {
  if (is_event(quantity) || quantity == Quantity::kettle_state) return std::nullopt;  // no "stale" for an event
  if (quantity == Quantity::battery || quantity == Quantity::low_battery || sleepy) return kLongExpiry;
  // Binary states of chatty devices (the repellent's switch) change rarely but are re-sent with
  // every advert cycle, like measurements.
  return kMeasurementExpiry;
}

model::Entity plain_sensor(std::string key, std::string name, std::string unit = "") {
  model::Entity e;
  e.key = std::move(key);
  e.component = model::Component::sensor;
  e.state_class = "measurement";
  e.unit = std::move(unit);
  e.name = std::move(name);
  return e;
}

// A sensor whose state is text (a lock's method, who opened it): no unit, no state class.
model::Entity text_sensor(std::string key, std::string name, std::string icon) {
  model::Entity e;
  e.key = std::move(key);
  e.component = model::Component::sensor;
  e.name = std::move(name);
  e.icon = std::move(icon);
  return e;
}

model::Entity action_entity() {
  model::Entity e;
  e.key = "action";
  e.component = model::Component::sensor;
  e.name = "Action";
  e.icon = "mdi:gesture-tap-button";
  return e;
}

// Every quantity's entity, declared once: its state key, component, classes, unit and name. The state
// key comes from here too. Several quantities share one key: motion and presence sensors both say
// "occupancy" (zigbee2mqtt's name, docs/contract.md), "contact" is the inverted opening (true =
// closed), "power_state" because "power" is watts on plugs, and every event lands in "action".
model::Entity declared_entity(Quantity quantity) {
  namespace presets = model::presets;
  switch (quantity) {
    case Quantity::temperature: return presets::temperature();
    case Quantity::humidity: return presets::humidity();
    case Quantity::battery: return presets::battery();
    case Quantity::illuminance: return presets::illuminance();
    case Quantity::moisture: return presets::moisture();
    case Quantity::conductivity: return presets::conductivity();
    case Quantity::formaldehyde: return presets::formaldehyde();
    case Quantity::consumable: return plain_sensor("consumable", "Consumable", "%").with_icon("mdi:gauge");
    case Quantity::no_motion_time: return presets::duration("no_motion_time", "No motion time");
    case Quantity::pressure_present_time: return presets::duration("pressure_present_time", "Pressure present time");
    case Quantity::pressure_absent_time: return presets::duration("pressure_absent_time", "Pressure absent time");
    case Quantity::toothbrush_counter: return plain_sensor("toothbrush_counter", "Brushing counter");
    case Quantity::toothbrush_score: return plain_sensor("toothbrush_score", "Brushing score");
    case Quantity::weight: {
      model::Entity weight = plain_sensor("weight", "Weight", "kg");
      weight.device_class = "weight";
      return weight;
    }
    case Quantity::impedance_low: return plain_sensor("impedance_low", "Impedance (50 kHz)", "Ω").with_icon("mdi:omega");
    case Quantity::impedance_high: return plain_sensor("impedance_high", "Impedance (250 kHz)", "Ω").with_icon("mdi:omega");
    case Quantity::heart_rate: return plain_sensor("heart_rate", "Heart rate", "bpm").with_icon("mdi:heart-pulse");
    case Quantity::profile_id: return text_sensor("profile_id", "Profile", "mdi:account");
    case Quantity::lock_method: return text_sensor("lock_method", "Lock method", "mdi:key-chain-variant");
    case Quantity::key_id: return text_sensor("key_id", "Key", "mdi:key");
    case Quantity::opening: return presets::binary("contact", "door", /*inverted=*/true);
    case Quantity::door_left_open: return presets::binary("door_left_open", "problem").named("Left open");
    case Quantity::motion: return presets::binary("occupancy", "motion");
    case Quantity::occupancy: return presets::binary("occupancy", "occupancy");
    case Quantity::light: return presets::binary("light", "light");
    case Quantity::water_leak: return presets::binary("water_leak", "moisture");
    case Quantity::smoke: return presets::binary("smoke", "smoke");
    case Quantity::power: return presets::binary("power_state", "power");
    case Quantity::low_battery: return presets::binary("battery_low", "battery").named("Battery low").diagnostic();
    case Quantity::tamper: return presets::binary("tamper", "tamper");
    case Quantity::toothbrush: return presets::binary("brushing", "running").named("Brushing");
    case Quantity::top_splash: return presets::binary("top_splash", "moisture").named("Top splash");
    case Quantity::occupancy_close_range:
      return presets::binary("occupancy_close_range", "occupancy").named("Occupancy close range");
    case Quantity::stabilized: return presets::binary("stabilized", "").named("Stabilized").with_icon("mdi:scale-bathroom");
    // HA's lock class reads "on" as unlocked: inverted, like contact.
    case Quantity::locked: return presets::binary("locked", "lock", /*inverted=*/true);
    case Quantity::armed: return presets::binary("armed", "").named("Armed").with_icon("mdi:shield-lock");
    case Quantity::fingerprint: return presets::binary("fingerprint", "").named("Fingerprint").with_icon("mdi:fingerprint");
    case Quantity::door_pried: return presets::binary("door_pried", "tamper").named("Door pried");
    case Quantity::door_stuck: return presets::binary("door_stuck", "problem").named("Door stuck");
    case Quantity::kettle_state: return action_entity().with_icon("mdi:kettle");
    case Quantity::motion_event:
    case Quantity::button:
    case Quantity::lock_event: return action_entity();
  }
  return action_entity();
}

// The declarations, built once (a state key is looked up for every advert).
const model::Entity& quantity_entity(Quantity quantity) {
  static const std::vector<model::Entity> table = [] {
    std::vector<model::Entity> entities;
    for (std::size_t i = 0; i < ble::kQuantityCount; ++i) entities.push_back(declared_entity(static_cast<Quantity>(i)));
    return entities;
  }();
  return table[static_cast<std::size_t>(quantity)];
}

const std::string& state_key(Quantity quantity) { return quantity_entity(quantity).key; }

model::Entity entity_for(Quantity quantity, bool sleepy) {
  model::Entity e = quantity_entity(quantity);
  if (const auto seconds = expiry(quantity, sleepy)) e.expires_after(*seconds);
  return e;
}

// Rounded to the device's resolution without float noise; whole values as JSON integers
// ("battery":87, not 87.0).
json tidy(double value, int digits) {
  const double rounded = round_digits(value, digits);
  if (std::floor(rounded) == rounded && std::fabs(rounded) < 1e15) return static_cast<std::int64_t>(rounded);
  return rounded;
}

int digits(Quantity quantity) {
  switch (quantity) {
    case Quantity::humidity:
    case Quantity::illuminance:
    case Quantity::impedance_low:
    case Quantity::impedance_high: return 1;
    case Quantity::formaldehyde: return 3;
    default: return 2;  // temperatures: 0.1 °C sensors, 0.01 °C body thermometers
  }
}

// docs/ble.md §1.5 object 0x1005: 0 idle, 1 heating, 2 boiling then keeping warm, 3 heating
// then keeping warm, 4 error. docs/contract.md's kettle `action` vocabulary: idle, heating, keeping_warm.
std::optional<std::string> kettle_action(double state) {
  switch (static_cast<int>(state)) {
    case 0: return "idle";
    case 1: return "heating";
    case 2:
    case 3: return "keeping_warm";
    default: return std::nullopt;  // error: no action to report
  }
}

// "single", "double", "long" for the first (or only) button; "button_<n>_<press>" for an indexed one
// (their meaning per model: mibeacon_objects.h ButtonEvent); rotations carry their direction.
std::string action_name(const ble::ButtonEvent& event) {
  std::string press(ble::press_kind_name(event.press));
  if (event.press == ble::PressKind::rotate || event.press == ble::PressKind::rotate_while_pressed) {
    press += event.value < 0 ? "_left" : "_right";
  }
  if (event.button == 0) return press;
  return "button_" + std::to_string(event.button) + "_" + press;
}

std::optional<Quantity> quantity_by_name(std::string_view name) {
  for (std::size_t i = 0; i < ble::kQuantityCount; ++i) {
    const auto quantity = static_cast<Quantity>(i);
    if (ble::quantity_name(quantity) == name) return quantity;
  }
  return std::nullopt;
}

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

}  // namespace

XiaomiBleSensor::XiaomiBleSensor(std::string id, config::BleDeviceConfig config, DeviceContext context,
                                 Options options)
    : model::Device(std::move(id), context.listener),
      config_(std::move(config)),
      context_(context),
      options_(options),
      mac_(ble::parse_mac(config_.mac)),
      silence_timer_(context.io),
      report_timer_(context.io),
      state_file_(context.state_dir, "xiaomi_ble_" + this->id()) {
  if (!config_.bindkey_hex.empty()) key_ = ble::parse_bind_key(config_.bindkey_hex).value_or(Bytes{});
  // No configured key: the one `cloudless ble register` stored, if any.
  if (key_.empty()) adopt_stored_key(Clock::now());
  // The config's product_id (needed by the Mi auth) also tells which entities to declare before the
  // first advert.
  if (config_.product_id) {
    if (const ble::Product* product = ble::find_product(static_cast<std::uint16_t>(*config_.product_id))) {
      adopt_product(*product);
    }
  }
}

XiaomiBleSensor::~XiaomiBleSensor() { stop(); }

model::DeviceInfo XiaomiBleSensor::info() const {
  model::DeviceInfo info;
  info.protocol = "xiaomi_ble";
  info.stable_id = "ble_" + lower_hex_mac(config_.mac);  // from the hardware: renaming changes no entity
  info.manufacturer = "Xiaomi";
  info.model_name = product_ ? std::string(product_->name) : "Xiaomi BLE device";
  info.model_id = product_ ? std::string(product_->model) : "";
  info.address = config_.mac;
  return info;
}

bool XiaomiBleSensor::sleepy() const {
  // Unknown yet: assume sleepy, so nothing is declared with an expiry shorter than the device's habits.
  return product_ == nullptr || product_->sleepy;
}

std::vector<model::Entity> XiaomiBleSensor::entities() const {
  std::vector<model::Entity> out;
  for (const Quantity quantity : declared_) out.push_back(entity_for(quantity, sleepy()));
  model::Entity rssi = model::presets::signal_strength("rssi");
  rssi.expires_after(sleepy() ? kLongExpiry : kMeasurementExpiry);
  out.push_back(rssi);
  out.push_back(model::presets::timestamp("last_seen", "Last seen").diagnostic().disabled_by_default());
  return out;
}

std::chrono::milliseconds XiaomiBleSensor::offline_after() const {
  if (options_.offline_after) return *options_.offline_after;
  int longest = kLongExpiry;
  for (const model::Entity& entity : entities()) {
    if (entity.expire_after_s) longest = std::max(longest, *entity.expire_after_s);
  }
  return std::chrono::seconds(longest);
}

void XiaomiBleSensor::start() {
  if (started_) return;
  started_ = true;
  if (!mac_) {
    // The config loader validates MACs; this only guards against a future caller that does not.
    spdlog::error("{}: invalid MAC '{}'; the device is not bridged", id(), config_.mac);
    return;
  }
  restore();
  if (context_.ble_hub != nullptr) {
    subscription_ = context_.ble_hub->subscribe(config_.mac, [this](const BleAdvert& advert) { on_advert(advert); });
  }
}

void XiaomiBleSensor::stop() {
  if (!started_) return;
  started_ = false;
  subscription_.reset();
  silence_timer_.cancel();
  report_timer_.cancel();
  flush_reports();
  remember(false);
  state_file_.flush();
}

void XiaomiBleSensor::refresh() {
  // A MiBeacon sensor only advertises; there is nothing to ask. The bridge republishes the last
  // state on reconnect and HA birth by itself.
}

model::CommandError XiaomiBleSensor::command(const nlohmann::json&) {
  return "a Xiaomi BLE sensor has nothing to set";
}

// ---- learned state ---------------------------------------------------------------------------------

// state_dir/xiaomi_ble_<id>.json: {"product_id":1371,"quantities":["temperature",...],"last_seen":<unix s>}
// so that discovery is complete and availability right straight after a daemon restart, even for a
// sleepy sensor that advertises only when its door opens.
void XiaomiBleSensor::restore() {
  const json saved = state_file_.load();
  if (!saved.is_object()) return;
  if (auto it = saved.find("product_id"); it != saved.end() && it->is_number_unsigned() && !product_) {
    if (const ble::Product* product = ble::find_product(static_cast<std::uint16_t>(it->get<unsigned>()))) {
      adopt_product(*product);
    }
  }
  if (auto it = saved.find("quantities"); it != saved.end() && it->is_array()) {
    for (const json& name : *it) {
      if (!name.is_string()) continue;
      if (const auto quantity = quantity_by_name(name.get<std::string>())) declare(*quantity);
    }
  }
  if (auto it = saved.find("last_seen"); it != saved.end() && it->is_number_integer()) {
    const auto wall = std::chrono::system_clock::time_point(std::chrono::seconds(it->get<std::int64_t>()));
    const auto age = std::chrono::system_clock::now() - wall;
    if (age >= std::chrono::seconds(0) && age < offline_after()) {
      last_accepted_wall_ = wall;
      last_accepted_ = Clock::now() - std::chrono::duration_cast<Clock::duration>(age);
      set_online(true);
      arm_silence_timer();
    }
  }
  if (product_ || !declared_.empty()) description_changed();
}

void XiaomiBleSensor::remember(bool urgent) {
  json saved = json::object();
  if (product_) saved["product_id"] = product_->product_id;
  json quantities = json::array();
  for (const Quantity quantity : declared_) quantities.push_back(std::string(ble::quantity_name(quantity)));
  saved["quantities"] = std::move(quantities);
  if (last_accepted_wall_) {
    saved["last_seen"] =
        std::chrono::duration_cast<std::chrono::seconds>(last_accepted_wall_->time_since_epoch()).count();
  }
  state_file_.save(std::move(saved), urgent);
}

void XiaomiBleSensor::adopt_product(const ble::Product& product) {
  product_ = &product;
  for (const Quantity quantity : product.quantities) declare(quantity);
}

// Adds the quantity's entity unless its state key is declared already. True when something changed.
bool XiaomiBleSensor::declare(Quantity quantity) {
  const std::string key = state_key(quantity);
  for (const Quantity known : declared_) {
    if (state_key(known) == key) return false;
  }
  declared_.push_back(quantity);
  return true;
}

// ---- adverts ---------------------------------------------------------------------------------------

bool XiaomiBleSensor::adopt_stored_key(Clock::time_point now) {
  if (stored_key_checked_ && now - *stored_key_checked_ < std::chrono::seconds(3)) return false;
  stored_key_checked_ = now;
  const LoadedBleKeys loaded = load_ble_keys(context_.state_dir, config_.mac);
  if (!loaded.error.empty()) {
    if (loaded.error != stored_key_error_) spdlog::warn("{}: {}", id(), loaded.error);
    stored_key_error_ = loaded.error;
    return false;
  }
  if (!loaded.keys || !loaded.keys->bindkey || *loaded.keys->bindkey == key_) return false;
  key_ = *loaded.keys->bindkey;
  spdlog::info("{}: using the bind key `cloudless ble register` stored in {}", id(),
               ble_key_file(context_.state_dir, config_.mac));
  return true;
}

void XiaomiBleSensor::on_advert(const BleAdvert& advert) {
  if (!started_ || !mac_) return;
  ++counters_.adverts;
  if (advert.rssi) last_rssi_ = advert.rssi;
  if (advert.cached) {
    // BlueZ' value from before we started may be hours old: publishing it as new would be wrong.
    ++counters_.cached;
    return;
  }
  if (!advert.mibeacon) return;  // an RSSI-only update: remembered for the next published state
  const auto now = Clock::now();
  const Bytes& frame = *advert.mibeacon;
  // Every event is repeated 8-10 times, and BlueZ (DuplicateData) reports each copy: byte for byte
  // the frame accepted last is a duplicate without parsing or decrypting it again.
  if (!last_frame_.empty() && frame == last_frame_) {
    ++counters_.duplicates;
    return;
  }

  Result<ble::DecodedAdvert> decoded = ble::decode_advert(frame, *mac_, key_);
  // A key `cloudless ble register` stored while we run (or that replaced the configured one on the
  // device): looked up when decryption fails, at most every few seconds, then the advert again.
  if (!decoded && decoded.error().kind == ErrorKind::authentication && adopt_stored_key(now))
    decoded = ble::decode_advert(frame, *mac_, key_);
  if (!decoded) {
    const ParseError& error = decoded.error();
    if (error.kind == ErrorKind::authentication && key_.empty()) {
      ++counters_.no_key;
      if (!warned_no_key_) {
        warned_no_key_ = true;
        spdlog::warn("{}: {} sends encrypted MiBeacon adverts, but no bindkey is configured: add `bindkey:` to "
                     "devices.{} or run `cloudless ble register {}` (the README says how to get one); until then "
                     "nothing is published for it ({})",
                     id(), config_.mac, id(), config_.mac, error.what);
      }
      return;
    }
    if (error.kind == ErrorKind::authentication) {
      report(Problem::decryption, now, error.describe());
    } else {
      report(Problem::malformed, now, error.describe() + ", frame " + to_hex(frame));
    }
    return;
  }
  const ble::DecodedAdvert& result = *decoded;
  if (!result.product) {
    report(Problem::unknown_product, now,
           "product_id: " + hex_literal(result.beacon.product_id, 4) + ", frame " + to_hex(frame));
    return;
  }
  if (!result.beacon.has_objects()) {
    // "I exist" beacons carry no reading and, for a device with a key, nothing authenticated.
    ++counters_.objectless;
    return;
  }
  if (!key_.empty() && !result.decrypted) {
    report(Problem::unencrypted, now, "frame " + to_hex(frame));
    return;
  }
  // Only after the MIC passed (docs/ble.md §2.1: an unauthenticated counter must not move state).
  const ble::CounterVerdict verdict = counter_filter_.check(result.beacon, now);
  if (verdict == ble::CounterVerdict::duplicate) {
    ++counters_.duplicates;
    return;
  }
  if (!ble::is_accepted(verdict)) {
    const auto last = counter_filter_.last_counter();
    report(Problem::stale, now,
           "frame counter " + std::to_string(result.beacon.has_full_counter() ? result.beacon.full_counter()
                                                                               : result.beacon.frame_counter) +
               (last ? ", last accepted " + std::to_string(*last) : std::string()));
    return;
  }
  last_frame_ = frame;
  accept(result, now);
}

void XiaomiBleSensor::accept(const ble::DecodedAdvert& advert, Clock::time_point now) {
  bool described = false;
  if (product_ != advert.product) {
    if (config_.product_id && *config_.product_id != advert.product->product_id && !warned_product_mismatch_) {
      warned_product_mismatch_ = true;
      spdlog::warn("{}: the config says product_id {}, but {} advertises {} ({}); using the advertised one", id(),
                   *config_.product_id, config_.mac, advert.product->product_id, advert.product->model);
    }
    if (!product_) spdlog::info("{}: {} is a {} ({})", id(), config_.mac, advert.product->model, advert.product->name);
    adopt_product(*advert.product);
    described = true;
  }
  for (const ble::RejectedObject& rejected : advert.objects.rejected) report(Problem::rejected_object, now, rejected.reason);

  json state = json::object();
  // Events in frame order, each published as a state of its own: a K9B switch pressed on two
  // buttons at once, or a lock's action followed by its alarm, are two automations' triggers.
  std::vector<json> events;
  for (const ble::Reading& reading : advert.objects.readings) {
    if (declare(reading.quantity)) described = true;
    const Quantity quantity = reading.quantity;
    switch (ble::quantity_info(quantity).kind) {
      case ble::ValueKind::number:
        if (quantity == Quantity::kettle_state) {
          if (const auto action = kettle_action(reading.value)) state["action"] = *action;
        } else if (quantity == Quantity::lock_method) {
          state["lock_method"] = std::string(ble::lock_method_name(static_cast<int>(reading.value)));
        } else if (quantity == Quantity::key_id) {
          state["key_id"] = ble::key_id_text(static_cast<std::uint32_t>(reading.value));
        } else {
          state[state_key(quantity)] = tidy(reading.value, digits(quantity));
        }
        break;
      case ble::ValueKind::binary: {
        const bool on = reading.value != 0;
        state[state_key(quantity)] = quantity == Quantity::opening ? !on : on;
        break;
      }
      case ble::ValueKind::event:
        if (quantity == Quantity::button) {
          json event = {{"action", action_name(reading.button)}};
          if (reading.button.value != 0) event["action_value"] = reading.button.value;
          events.push_back(std::move(event));
        } else if (quantity == Quantity::motion_event) {
          events.push_back({{"action", "motion"}});
        } else if (quantity == Quantity::lock_event) {
          events.push_back({{"action", std::string(reading.event)}});
        }
        break;
    }
  }
  if (last_rssi_) state["rssi"] = *last_rssi_;

  ++counters_.accepted;
  mark_alive(now);
  if (described) {
    remember(true);
    description_changed();
  }
  if (events.empty()) {
    publish_state(state);
    return;
  }
  // The first event goes out with the frame's readings, each further one as the whole state with
  // only the action (and its value) changed.
  state.update(events.front());
  publish_state(state);
  for (std::size_t i = 1; i < events.size(); ++i) {
    json next = this->state();
    next.erase("action_value");
    next.update(events[i]);
    replace_state(std::move(next));
  }
  // Clear the event so the next identical press is a state change too (zigbee2mqtt's action
  // sensor); its value (dimmer steps) belongs to this event only and leaves the state.
  json cleared = this->state();
  cleared["action"] = "";
  cleared.erase("action_value");
  replace_state(std::move(cleared));
}

// ---- availability ----------------------------------------------------------------------------------

void XiaomiBleSensor::mark_alive(Clock::time_point now) {
  const bool first = !last_accepted_;
  last_accepted_ = now;
  last_accepted_wall_ = std::chrono::system_clock::now();
  // StateFile writes at most once per few minutes: until a write is due, the JSON is not even built
  // (every accepted advert comes here). stop() records the last state whatever is due.
  if (state_file_.due()) remember(false);
  if (!online()) {
    spdlog::info("{}: online ({} {})", id(), config_.mac, product_ ? product_->model : "");
    set_online(true);
  }
  if (first) arm_silence_timer();  // afterwards the timer re-arms itself from last_accepted_
}

void XiaomiBleSensor::arm_silence_timer() {
  if (!last_accepted_) return;
  silence_timer_.expires_at(*last_accepted_ + offline_after());
  silence_timer_.async_wait([this, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& error) {
    if (error || alive.expired() || !started_) return;
    on_silence();
  });
}

void XiaomiBleSensor::on_silence() {
  if (!last_accepted_) return;
  const auto silent = Clock::now() - *last_accepted_;
  if (silent < offline_after()) {  // adverts came meanwhile: sleep until the new deadline
    arm_silence_timer();
    return;
  }
  if (!online()) return;
  spdlog::warn("{}: offline: no valid advert from {} for {} min", id(), config_.mac, whole_seconds(silent) / 60);
  set_online(false);
  // Not re-armed: the next accepted advert brings the device back (mark_alive arms the timer again).
  last_accepted_.reset();
}

// ---- rate-limited problem reports ------------------------------------------------------------------

void XiaomiBleSensor::report(Problem problem, Clock::time_point now, const std::string& detail) {
  const auto index = static_cast<std::size_t>(problem);
  ++counters_.problems[index];
  last_detail_[index] = detail;
  const ProblemLog::Decision decision = problem_logs_[index].record(now);
  if (decision.action == ProblemLog::Action::none) {
    spdlog::debug("{}: advert dropped: {}", id(), detail);
    schedule_report_flush();
    return;
  }
  if (decision.action == ProblemLog::Action::log_summary) {
    spdlog::warn("{}", summary_line(problem, decision.count, whole_seconds(decision.span)));
    return;
  }
  switch (problem) {
    case Problem::decryption:
      spdlog::warn("{}: an advert from {} failed decryption ({}): check the bindkey; such adverts are never "
                   "published (more are summarised once a minute)",
                   id(), config_.mac, detail);
      return;
    case Problem::malformed:
      spdlog::warn("{}: malformed advert from {} dropped: {}", id(), config_.mac, detail);
      return;
    case Problem::unknown_product:
      spdlog::warn("{}: {} advertises an unknown {}; its readings are not published. Please report the model "
                   "so it can be added to the product table",
                   id(), config_.mac, detail);
      return;
    case Problem::unencrypted:
      spdlog::warn("{}: unencrypted advert with readings from {} dropped ({}): a bindkey is configured, so only "
                   "encrypted adverts are trusted (anyone can send plain ones under its address); remove the "
                   "bindkey if the device runs firmware that does not encrypt",
                   id(), config_.mac, detail);
      return;
    case Problem::stale:
      spdlog::warn("{}: advert from {} with an old frame counter dropped ({}): replayed or out of order", id(),
                   config_.mac, detail);
      return;
    case Problem::rejected_object:
      spdlog::warn("{}: reading from {} dropped: {}", id(), config_.mac, detail);
      return;
  }
}

std::string XiaomiBleSensor::summary_line(Problem problem, std::uint64_t count, long long seconds) const {
  const std::string prefix = id() + ": " + std::to_string(count) + " ";
  const std::string window = " in the last " + std::to_string(seconds) + " s";
  const std::string& last = last_detail_[static_cast<std::size_t>(problem)];
  switch (problem) {
    case Problem::decryption: return prefix + "adverts failed decryption" + window + ": check the bindkey";
    case Problem::malformed:
      return prefix + "malformed adverts dropped" + window + " (last: " + last + ")";
    case Problem::unknown_product:
      return prefix + "adverts of an unknown product dropped" + window + " (" + last + ")";
    case Problem::unencrypted:
      return prefix + "unencrypted adverts dropped" + window + " (a bindkey is configured)";
    case Problem::stale:
      return prefix + "adverts with old frame counters dropped" + window + " (replayed or out of order)";
    case Problem::rejected_object:
      return prefix + "readings dropped" + window + " (last: " + last + ")";
  }
  return prefix + "adverts dropped" + window;
}

void XiaomiBleSensor::schedule_report_flush() {
  std::optional<Clock::time_point> due;
  for (const ProblemLog& log : problem_logs_) {
    const auto when = log.due();
    if (when && (!due || *when < *due)) due = when;
  }
  if (!due) return;
  report_timer_.expires_at(*due);
  report_timer_.async_wait([this, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& error) {
    if (error || alive.expired() || !started_) return;
    flush_reports();
    schedule_report_flush();
  });
}

void XiaomiBleSensor::flush_reports() {
  const auto now = Clock::now();
  for (std::size_t i = 0; i < kProblemCount; ++i) {
    const ProblemLog::Decision decision = problem_logs_[i].flush(now);
    if (decision.action == ProblemLog::Action::log_summary) {
      spdlog::warn("{}", summary_line(static_cast<Problem>(i), decision.count, whole_seconds(decision.span)));
    }
  }
}

}  // namespace cloudless
