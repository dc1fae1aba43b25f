#include "daemon/model/entity.h"

#include <set>

namespace cloudless::model {

std::string_view component_name(Component component) {
  switch (component) {
    case Component::switch_: return "switch";
    case Component::sensor: return "sensor";
    case Component::binary_sensor: return "binary_sensor";
    case Component::climate: return "climate";
    case Component::button: return "button";
    case Component::select: return "select";
    case Component::number: return "number";
  }
  return "sensor";
}

namespace presets {

namespace {
Entity measurement(std::string key, std::string device_class, std::string unit) {
  Entity e;
  e.key = std::move(key);
  e.component = Component::sensor;
  e.device_class = std::move(device_class);
  e.state_class = "measurement";
  e.unit = std::move(unit);
  return e;
}
}  // namespace

Entity power_switch(std::string key) {
  Entity e;
  e.key = std::move(key);
  e.component = Component::switch_;
  e.device_class = "outlet";
  e.settable = true;
  return e;
}

Entity switch_(std::string key, std::string name) {
  Entity e;
  e.key = std::move(key);
  e.component = Component::switch_;
  e.device_class = "switch";
  e.name = std::move(name);
  e.entity_category = "config";
  e.settable = true;
  return e;
}

Entity boolean_switch(std::string key, std::string name) {
  return switch_(std::move(key), std::move(name)).with_boolean_state();
}

Entity power(std::string key) { return measurement(std::move(key), "power", "W").precision(1); }

Entity energy(std::string key) {
  Entity e = measurement(std::move(key), "energy", "kWh");
  e.state_class = "total_increasing";  // HA treats any decrease as a meter reset: we keep it monotonic
  return e.precision(3);
}

Entity voltage(std::string key) { return measurement(std::move(key), "voltage", "V").precision(1); }
Entity current(std::string key) { return measurement(std::move(key), "current", "A").precision(3); }
Entity temperature(std::string key) { return measurement(std::move(key), "temperature", "°C").precision(1); }
Entity humidity(std::string key) { return measurement(std::move(key), "humidity", "%").precision(1); }
Entity battery(std::string key) { return measurement(std::move(key), "battery", "%").diagnostic(); }
Entity illuminance(std::string key) { return measurement(std::move(key), "illuminance", "lx"); }

Entity signal_strength(std::string key) {
  return measurement(std::move(key), "signal_strength", "dBm").diagnostic().disabled_by_default();
}

Entity moisture(std::string key) { return measurement(std::move(key), "moisture", "%"); }
// HA has the conductivity device class since 2024.11 (docs/contract.md requires 2024.12).
Entity conductivity(std::string key) { return measurement(std::move(key), "conductivity", "µS/cm"); }

Entity formaldehyde(std::string key) {
  return measurement(std::move(key), "", "mg/m³").named("Formaldehyde").with_icon("mdi:molecule").precision(2);
}

Entity duration(std::string key, std::string name) {
  return measurement(std::move(key), "duration", "s").named(std::move(name));
}

Entity timestamp(std::string key, std::string name) {
  Entity e;
  e.key = std::move(key);
  e.component = Component::sensor;
  e.device_class = "timestamp";
  e.name = std::move(name);
  return e;
}

Entity binary(std::string key, std::string device_class, bool inverted) {
  Entity e;
  e.key = std::move(key);
  e.component = Component::binary_sensor;
  e.device_class = std::move(device_class);
  e.inverted = inverted;
  return e;
}

Entity climate(ClimateTraits traits, std::string key) {
  Entity e;
  e.key = std::move(key);
  e.component = Component::climate;
  e.settable = true;
  e.climate = std::move(traits);
  return e;
}

}  // namespace presets

std::optional<std::string> validate_entities(const std::vector<Entity>& entities) {
  std::set<std::string> keys;
  for (const Entity& e : entities) {
    if (e.key.empty()) return "an entity has an empty key";
    if (!keys.insert(e.key).second) return "entity key '" + e.key + "' is declared twice";
    const bool can_set = e.component == Component::switch_ || e.component == Component::climate ||
                         e.component == Component::button || e.component == Component::select ||
                         e.component == Component::number;
    if (e.settable && !can_set) return "entity '" + e.key + "' is settable but its component cannot be set";
    if (can_set && !e.settable) return "entity '" + e.key + "' is a control but not settable";
    if (e.entity_category == "diagnostic" && e.settable) return "diagnostic entity '" + e.key + "' is settable";
    if (e.component == Component::climate && !e.climate) return "climate entity '" + e.key + "' has no traits";
    if (e.component == Component::select && e.options.empty()) return "select '" + e.key + "' has no options";
  }
  return std::nullopt;
}

}  // namespace cloudless::model
