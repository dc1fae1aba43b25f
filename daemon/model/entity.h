// The device model: what a device kind exposes, declared as data (zigbee-herdsman-converters'
// "exposes" idea). daemon/ turns these declarations into MQTT topics and Home Assistant discovery;
// device kinds fill the state JSON under each entity's key. Nothing here knows a packet byte or a topic.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cloudless::model {

enum class Component { switch_, sensor, binary_sensor, climate, button, select, number };

std::string_view component_name(Component component);  // Home Assistant platform name

// Climate entities (air conditioners) read and write several state keys at once: these, named once
// for the device kinds that fill them, the discovery that points Home Assistant at them and the /set
// check that takes them.
namespace climate_key {
inline constexpr std::string_view power = "state";  // ON / OFF
inline constexpr std::string_view mode = "mode";
inline constexpr std::string_view target_temperature = "target_temperature";
inline constexpr std::string_view current_temperature = "indoor_temperature";
inline constexpr std::string_view current_humidity = "indoor_humidity";
inline constexpr std::string_view fan_mode = "fan_mode";
inline constexpr std::string_view swing_mode = "swing_mode";
inline constexpr std::string_view preset = "preset";
inline constexpr std::string_view action = "action";
}  // namespace climate_key

struct ClimateTraits {
  std::vector<std::string> modes;         // HA HVAC modes: off, auto, cool, heat, dry, fan_only
  std::vector<std::string> fan_modes;     // empty: no fan control
  std::vector<std::string> swing_modes;   // empty: no swing control
  std::vector<std::string> preset_modes;  // never "none": HA adds it itself
  double min_temp = 16;
  double max_temp = 30;
  double temp_step = 0.5;
  bool has_current_humidity = false;      // state key climate_key::current_humidity
  bool has_action = false;                // state key climate_key::action
};

struct Entity {
  std::string key;  // JSON state key, /set/<key> attribute, HA component key
  Component component = Component::sensor;
  std::optional<std::string> name;  // nullopt: the device's main entity (HA shows the device name)
  std::string device_class;
  std::string state_class;
  std::string unit;
  std::string entity_category;  // "", "diagnostic" or "config"
  std::string icon;
  std::optional<int> display_precision;
  std::optional<int> expire_after_s;  // sensors that go stale without an update (BLE)
  bool enabled_by_default = true;
  bool settable = false;  // accepts /set
  bool inverted = false;  // binary_sensor: HA "on" when the JSON value is false (door: contact=true is closed)
  // switch: the state JSON holds true/false (the kettle's turn_off_after_boil) instead of "ON"/"OFF";
  // discovery maps it for HA, commands stay ON/OFF.
  bool boolean_state = false;
  std::vector<std::string> options;        // select
  std::optional<double> min, max, step;    // number
  std::optional<ClimateTraits> climate;    // climate

  Entity& named(std::string text) { name = std::move(text); return *this; }
  Entity& diagnostic() { entity_category = "diagnostic"; return *this; }
  Entity& disabled_by_default() { enabled_by_default = false; return *this; }
  Entity& precision(int digits) { display_precision = digits; return *this; }
  Entity& expires_after(int seconds) { expire_after_s = seconds; return *this; }
  Entity& with_icon(std::string text) { icon = std::move(text); return *this; }
  Entity& with_boolean_state() { boolean_state = true; return *this; }
};

// One preset per quantity, so that each unit is written exactly once in the code base.
namespace presets {
Entity power_switch(std::string key = "state");                   // switch, device_class outlet
Entity switch_(std::string key, std::string name);                // a secondary switch (USB, LED)
Entity boolean_switch(std::string key, std::string name);         // switch_ whose state is a JSON bool
Entity power(std::string key = "power");                          // W
Entity energy(std::string key = "energy");                        // kWh, total_increasing
Entity voltage(std::string key = "voltage");                      // V
Entity current(std::string key = "current");                      // A
Entity temperature(std::string key = "temperature");              // °C
Entity humidity(std::string key = "humidity");                    // %
Entity battery(std::string key = "battery");                      // %, diagnostic
Entity illuminance(std::string key = "illuminance");              // lx
Entity signal_strength(std::string key = "rssi");                 // dBm, diagnostic, disabled
Entity moisture(std::string key = "moisture");                    // % (soil)
Entity conductivity(std::string key = "conductivity");            // µS/cm (soil)
Entity formaldehyde(std::string key = "formaldehyde");            // mg/m³ (HA has no device class for it)
Entity duration(std::string key, std::string name);               // s
Entity timestamp(std::string key, std::string name);              // ISO 8601 text, e.g. last_seen
Entity binary(std::string key, std::string device_class, bool inverted = false);
Entity climate(ClimateTraits traits, std::string key = "climate");
}  // namespace presets

// Checks the invariants of one device's declaration (unique keys, settable only where HA can set,
// a diagnostic entity is never settable, climate has traits). Returns the first violation.
std::optional<std::string> validate_entities(const std::vector<Entity>& entities);

}  // namespace cloudless::model
