#include "daemon/mqtt/discovery.h"

#include "daemon/mqtt/topics.h"

namespace cloudless::ha {

namespace {

using nlohmann::json;
using model::Component;

// The state's value under `key`, or 'None' while the state does not carry the key yet (a BLE
// sensor's battery advert came first, a plug has not answered): HA's sensor, number, select,
// switch and climate all read 'None' as "unknown", where a bare `value_json.key` would make HA log
// a template warning on every state message.
std::string value_template(std::string_view key_text) {
  const std::string key(key_text);
  return "{{ value_json." + key + " if value_json." + key + " is defined else 'None' }}";
}

// A JSON boolean under `key` rendered as HA's payload_on/off: `truthy` when true, the other when false,
// and 'None' (HA's "unknown") while the state does not carry the key yet, instead of a false "off".
std::string boolean_template(const std::string& key, const std::string& truthy, const std::string& falsy) {
  return "{{ ('" + truthy + "' if value_json." + key + " else '" + falsy + "') if value_json." + key +
         " is defined else 'None' }}";
}

json origin_block(const DiscoveryContext& context) {
  json origin = {{"name", kOriginName}, {"sw", context.version}};
  if (!context.url.empty()) origin["url"] = context.url;
  return origin;
}

// HA names an MQTT entity without a `name` key after its device class, but only on these platforms
// (its `_default_to_device_class_name`); everywhere else a missing name would become "MQTT Switch".
bool named_by_device_class(const model::Entity& entity) {
  if (entity.device_class.empty()) return false;
  return entity.component == Component::sensor || entity.component == Component::binary_sensor ||
         entity.component == Component::button || entity.component == Component::number;
}

namespace climate_key = model::climate_key;

void add_climate(json& cmp, const model::ClimateTraits& traits, const Topics& topics, const std::string& id) {
  const std::string state = topics.device_state(id);
  cmp["modes"] = traits.modes;
  cmp["mode_command_topic"] = topics.device_set_attribute(id, climate_key::mode);
  cmp["mode_state_topic"] = state;
  cmp["mode_state_template"] = value_template(climate_key::mode);
  cmp["temperature_command_topic"] = topics.device_set_attribute(id, climate_key::target_temperature);
  cmp["temperature_state_topic"] = state;
  cmp["temperature_state_template"] = value_template(climate_key::target_temperature);
  cmp["current_temperature_topic"] = state;
  cmp["current_temperature_template"] = value_template(climate_key::current_temperature);
  if (traits.has_current_humidity) {
    cmp["current_humidity_topic"] = state;
    cmp["current_humidity_template"] = value_template(climate_key::current_humidity);
  }
  if (!traits.fan_modes.empty()) {
    cmp["fan_modes"] = traits.fan_modes;
    cmp["fan_mode_command_topic"] = topics.device_set_attribute(id, climate_key::fan_mode);
    cmp["fan_mode_state_topic"] = state;
    cmp["fan_mode_state_template"] = value_template(climate_key::fan_mode);
  }
  if (!traits.swing_modes.empty()) {
    cmp["swing_modes"] = traits.swing_modes;
    cmp["swing_mode_command_topic"] = topics.device_set_attribute(id, climate_key::swing_mode);
    cmp["swing_mode_state_topic"] = state;
    cmp["swing_mode_state_template"] = value_template(climate_key::swing_mode);
  }
  std::vector<std::string> presets;
  for (const std::string& preset : traits.preset_modes) {
    if (preset != "none") presets.push_back(preset);  // HA rejects the config if "none" is listed
  }
  if (!presets.empty()) {
    cmp["preset_modes"] = presets;
    cmp["preset_mode_command_topic"] = topics.device_set_attribute(id, climate_key::preset);
    cmp["preset_mode_state_topic"] = state;
    cmp["preset_mode_value_template"] = value_template(climate_key::preset);
  }
  if (traits.has_action) {
    cmp["action_topic"] = state;
    cmp["action_template"] = value_template(climate_key::action);
  }
  cmp["power_command_topic"] = topics.device_set_attribute(id, climate_key::power);
  cmp["payload_on"] = "ON";
  cmp["payload_off"] = "OFF";
  cmp["min_temp"] = traits.min_temp;
  cmp["max_temp"] = traits.max_temp;
  cmp["temp_step"] = traits.temp_step;
  cmp["precision"] = traits.temp_step;
  cmp["temperature_unit"] = "C";
}

json component_config(const model::Entity& entity, const Topics& topics, const std::string& device_id,
                      const std::string& stable_id) {
  json cmp = json::object();
  cmp["p"] = std::string(model::component_name(entity.component));
  cmp["unique_id"] = "cloudless_" + stable_id + "_" + entity.key;
  if (entity.name) {
    cmp["name"] = *entity.name;
  } else if (!named_by_device_class(entity)) {
    cmp["name"] = nullptr;  // the device's main entity: HA shows the device name
  }
  if (!entity.device_class.empty()) cmp["device_class"] = entity.device_class;
  if (!entity.state_class.empty()) cmp["state_class"] = entity.state_class;
  if (!entity.unit.empty()) cmp["unit_of_measurement"] = entity.unit;
  if (!entity.entity_category.empty()) cmp["entity_category"] = entity.entity_category;
  if (!entity.icon.empty()) cmp["icon"] = entity.icon;
  if (entity.display_precision) cmp["suggested_display_precision"] = *entity.display_precision;
  if (entity.expire_after_s) cmp["expire_after"] = *entity.expire_after_s;
  if (!entity.enabled_by_default) cmp["enabled_by_default"] = false;

  const std::string command_topic = topics.device_set_attribute(device_id, entity.key);
  switch (entity.component) {
    case Component::sensor:
      cmp["value_template"] = value_template(entity.key);
      break;
    case Component::binary_sensor:
      // State JSON carries a bool; HA's binary_sensor compares against payload_on/off ("ON"/"OFF").
      // A state without the key yet (a door sensor's battery advert came first) renders "None", HA's
      // "unknown", instead of a false "open".
      cmp["value_template"] =
          entity.inverted ? boolean_template(entity.key, "OFF", "ON") : boolean_template(entity.key, "ON", "OFF");
      break;
    case Component::switch_:
      // Most switches carry "ON"/"OFF" in the state JSON; a boolean one (the kettle's
      // turn_off_after_boil) is mapped here, and commands stay "ON"/"OFF" either way.
      cmp["value_template"] =
          entity.boolean_state ? boolean_template(entity.key, "ON", "OFF") : value_template(entity.key);
      cmp["command_topic"] = command_topic;
      cmp["payload_on"] = "ON";
      cmp["payload_off"] = "OFF";
      break;
    case Component::select:
      cmp["value_template"] = value_template(entity.key);
      cmp["command_topic"] = command_topic;
      cmp["options"] = entity.options;
      break;
    case Component::number:
      cmp["value_template"] = value_template(entity.key);
      cmp["command_topic"] = command_topic;
      if (entity.min) cmp["min"] = *entity.min;
      if (entity.max) cmp["max"] = *entity.max;
      if (entity.step) cmp["step"] = *entity.step;
      break;
    case Component::button:
      cmp["command_topic"] = command_topic;
      cmp["payload_press"] = "PRESS";
      break;
    case Component::climate:
      if (entity.climate) add_climate(cmp, *entity.climate, topics, device_id);
      break;
  }
  return cmp;
}

}  // namespace

std::string bridge_identifier(const DiscoveryContext& context) {
  return "cloudless_bridge_" + discovery_node_id(context.base_topic);
}

std::string device_config_topic(const DiscoveryContext& context, const std::string& device_id) {
  return Topics{context.base_topic, context.discovery_prefix}.discovery_config(device_id);
}

std::optional<DiscoveryMessage> device_discovery(const DiscoveryContext& context, const std::string& device_id,
                                                 const model::DeviceInfo& info,
                                                 const std::vector<model::Entity>& entities) {
  if (context.discovery_prefix.empty() || info.stable_id.empty()) return std::nullopt;
  const Topics topics{context.base_topic, context.discovery_prefix};

  json dev = json::object();
  dev["ids"] = json::array({"cloudless_" + info.stable_id});
  dev["name"] = device_id;
  const auto add_if = [&dev](const char* key, const std::string& value) {
    if (!value.empty()) dev[key] = value;
  };
  add_if("mf", info.manufacturer);
  add_if("mdl", info.model_name);
  add_if("mdl_id", info.model_id);
  add_if("sw", info.sw_version);
  add_if("hw", info.hw_version);
  dev["via_device"] = bridge_identifier(context);

  json cmps = json::object();
  for (const model::Entity& entity : entities) {
    cmps[entity.key] = component_config(entity, topics, device_id, info.stable_id);
  }

  DiscoveryMessage message;
  message.topic = topics.discovery_config(device_id);
  message.payload = {
      {"dev", dev},
      {"o", origin_block(context)},
      {"state_topic", topics.device_state(device_id)},
      {"availability_mode", "all"},
      {"availability",
       json::array({{{"topic", topics.bridge_state()}}, {{"topic", topics.device_availability(device_id)}}})},
      {"qos", 1},
      {"cmps", cmps},
  };
  return message;
}

std::optional<DiscoveryMessage> bridge_discovery(const DiscoveryContext& context) {
  if (context.discovery_prefix.empty()) return std::nullopt;
  const Topics topics{context.base_topic, context.discovery_prefix};
  const std::string identifier = bridge_identifier(context);

  // No availability block: connection_state must read "off" (not "unavailable") when the bridge is down.
  json cmps = {
      {"connection_state",
       {{"p", "binary_sensor"},
        {"unique_id", identifier + "_connection_state"},
        {"name", "Connection state"},
        {"state_topic", topics.bridge_state()},
        {"payload_on", "online"},
        {"payload_off", "offline"},
        {"device_class", "connectivity"},
        {"entity_category", "diagnostic"}}},
      {"version",
       {{"p", "sensor"},
        {"unique_id", identifier + "_version"},
        {"name", "Version"},
        {"state_topic", topics.bridge_info()},
        {"value_template", "{{ value_json.version }}"},
        {"entity_category", "diagnostic"},
        {"icon", "mdi:information-outline"}}},
  };

  DiscoveryMessage message;
  message.topic = topics.discovery_config("bridge");
  message.payload = {
      {"dev", {{"ids", json::array({identifier})}, {"name", "cloudless bridge"}, {"mf", "cloudless"},
               {"sw", context.version}}},
      {"o", origin_block(context)},
      {"qos", 1},
      {"cmps", cmps},
  };
  return message;
}

}  // namespace cloudless::ha
