// Home Assistant discovery golden tests (zigbee2mqtt's homeassistant.test.ts idea): the exact topic,
// the full JSON payload, retain and QoS for each kind of device, plus structural checks across devices.
// Also the pure topic helpers the bridge routes with.
#include <catch2/catch.hpp>

#include <set>

#include "daemon/mqtt/discovery.h"
#include "daemon/model/timestamp.h"
#include "daemon/mqtt/topics.h"

using nlohmann::json;
using namespace cloudless;

namespace {

ha::DiscoveryContext context() { return ha::DiscoveryContext{"cloudless", "homeassistant", "1.2.3", ""}; }

model::DeviceInfo plug_info() {
  model::DeviceInfo info;
  info.protocol = "miio";
  info.stable_id = "112233445";  // miIO did
  info.manufacturer = "Xiaomi";
  info.model_name = "Mi Smart Power Plug";
  info.model_id = "chuangmi.plug.v3";
  info.sw_version = "2.0.4_0026";
  info.address = "192.168.1.50";
  return info;
}

std::vector<model::Entity> plug_entities() {
  namespace p = model::presets;
  return {p::power_switch(), p::power(), p::energy(), p::voltage(), p::temperature(), p::switch_("usb", "USB")};
}

model::ClimateTraits ac_traits() {
  model::ClimateTraits traits;
  traits.modes = {"off", "auto", "cool", "dry", "heat", "fan_only"};
  traits.fan_modes = {"silent", "low", "medium", "high", "full", "auto"};
  traits.swing_modes = {"off", "vertical", "horizontal", "both"};
  traits.preset_modes = {"none", "eco", "boost", "sleep"};  // "none" must not reach HA
  traits.min_temp = 17;
  traits.max_temp = 30;
  traits.temp_step = 0.5;
  traits.has_current_humidity = true;
  traits.has_action = true;
  return traits;
}

model::DeviceInfo ac_info() {
  model::DeviceInfo info;
  info.protocol = "midea";
  info.stable_id = "151732605161920";  // Midea appliance id
  info.manufacturer = "Midea";
  info.model_name = "Air conditioner";
  info.hw_version = "V3";
  info.address = "192.168.1.60";
  return info;
}

std::vector<model::Entity> ac_entities() {
  namespace p = model::presets;
  return {p::climate(ac_traits()), p::temperature("outdoor_temperature").named("Outdoor temperature")};
}

model::DeviceInfo door_info() {
  model::DeviceInfo info;
  info.protocol = "xiaomi_ble";
  info.stable_id = "A4C138112233";  // BLE MAC without colons
  info.manufacturer = "Xiaomi";
  info.model_name = "Door and window sensor";
  info.model_id = "MCCGQ02HL";
  info.address = "A4:C1:38:11:22:33";
  return info;
}

std::vector<model::Entity> door_entities() {
  namespace p = model::presets;
  return {p::binary("contact", "door", /*inverted=*/true).expires_after(90000), p::battery().expires_after(90000),
          p::signal_strength()};
}

json availability(const std::string& id) {
  return json::array({{{"topic", "cloudless/bridge/state"}}, {{"topic", "cloudless/" + id + "/availability"}}});
}

json origin() { return {{"name", "cloudless"}, {"sw", "1.2.3"}}; }

}  // namespace

TEST_CASE("discovery: a metering plug with a USB switch", "[discovery]") {
  const auto message = ha::device_discovery(context(), "desk_plug", plug_info(), plug_entities());
  REQUIRE(message);
  CHECK(message->topic == "homeassistant/device/cloudless/desk_plug/config");
  CHECK(message->retain);
  CHECK(message->qos == 1);

  const json expected = json::parse(R"({
    "dev": {"ids": ["cloudless_112233445"], "name": "desk_plug", "mf": "Xiaomi", "mdl": "Mi Smart Power Plug",
            "mdl_id": "chuangmi.plug.v3", "sw": "2.0.4_0026", "via_device": "cloudless_bridge_cloudless"},
    "state_topic": "cloudless/desk_plug",
    "availability_mode": "all",
    "qos": 1,
    "cmps": {
      "state": {"p": "switch", "unique_id": "cloudless_112233445_state", "name": null, "device_class": "outlet",
                "value_template": "{{ value_json.state if value_json.state is defined else 'None' }}", "command_topic": "cloudless/desk_plug/set/state",
                "payload_on": "ON", "payload_off": "OFF"},
      "power": {"p": "sensor", "unique_id": "cloudless_112233445_power", "device_class": "power",
                "state_class": "measurement", "unit_of_measurement": "W", "suggested_display_precision": 1,
                "value_template": "{{ value_json.power if value_json.power is defined else 'None' }}"},
      "energy": {"p": "sensor", "unique_id": "cloudless_112233445_energy", "device_class": "energy",
                 "state_class": "total_increasing", "unit_of_measurement": "kWh", "suggested_display_precision": 3,
                 "value_template": "{{ value_json.energy if value_json.energy is defined else 'None' }}"},
      "voltage": {"p": "sensor", "unique_id": "cloudless_112233445_voltage", "device_class": "voltage",
                  "state_class": "measurement", "unit_of_measurement": "V", "suggested_display_precision": 1,
                  "value_template": "{{ value_json.voltage if value_json.voltage is defined else 'None' }}"},
      "temperature": {"p": "sensor", "unique_id": "cloudless_112233445_temperature", "device_class": "temperature",
                      "state_class": "measurement", "unit_of_measurement": "°C", "suggested_display_precision": 1,
                      "value_template": "{{ value_json.temperature if value_json.temperature is defined else 'None' }}"},
      "usb": {"p": "switch", "unique_id": "cloudless_112233445_usb", "name": "USB", "device_class": "switch",
              "entity_category": "config", "value_template": "{{ value_json.usb if value_json.usb is defined else 'None' }}",
              "command_topic": "cloudless/desk_plug/set/usb", "payload_on": "ON", "payload_off": "OFF"}
    }
  })");
  json actual = message->payload;
  CHECK(actual["o"] == origin());
  CHECK(actual["availability"] == availability("desk_plug"));
  actual.erase("o");
  actual.erase("availability");
  CHECK(actual == expected);
  // The serialised payload stays valid UTF-8 JSON ("°C").
  CHECK(json::parse(dump_json(message->payload)) == message->payload);
}

TEST_CASE("discovery: a Midea air conditioner (climate with traits)", "[discovery]") {
  const auto message = ha::device_discovery(context(), "living_ac", ac_info(), ac_entities());
  REQUIRE(message);
  CHECK(message->topic == "homeassistant/device/cloudless/living_ac/config");
  CHECK(message->retain);
  CHECK(message->qos == 1);

  const json expected = json::parse(R"({
    "dev": {"ids": ["cloudless_151732605161920"], "name": "living_ac", "mf": "Midea", "mdl": "Air conditioner",
            "hw": "V3", "via_device": "cloudless_bridge_cloudless"},
    "o": {"name": "cloudless", "sw": "1.2.3"},
    "state_topic": "cloudless/living_ac",
    "availability_mode": "all",
    "availability": [{"topic": "cloudless/bridge/state"}, {"topic": "cloudless/living_ac/availability"}],
    "qos": 1,
    "cmps": {
      "climate": {
        "p": "climate", "unique_id": "cloudless_151732605161920_climate", "name": null,
        "modes": ["off", "auto", "cool", "dry", "heat", "fan_only"],
        "mode_command_topic": "cloudless/living_ac/set/mode",
        "mode_state_topic": "cloudless/living_ac",
        "mode_state_template": "{{ value_json.mode if value_json.mode is defined else 'None' }}",
        "temperature_command_topic": "cloudless/living_ac/set/target_temperature",
        "temperature_state_topic": "cloudless/living_ac",
        "temperature_state_template": "{{ value_json.target_temperature if value_json.target_temperature is defined else 'None' }}",
        "current_temperature_topic": "cloudless/living_ac",
        "current_temperature_template": "{{ value_json.indoor_temperature if value_json.indoor_temperature is defined else 'None' }}",
        "current_humidity_topic": "cloudless/living_ac",
        "current_humidity_template": "{{ value_json.indoor_humidity if value_json.indoor_humidity is defined else 'None' }}",
        "fan_modes": ["silent", "low", "medium", "high", "full", "auto"],
        "fan_mode_command_topic": "cloudless/living_ac/set/fan_mode",
        "fan_mode_state_topic": "cloudless/living_ac",
        "fan_mode_state_template": "{{ value_json.fan_mode if value_json.fan_mode is defined else 'None' }}",
        "swing_modes": ["off", "vertical", "horizontal", "both"],
        "swing_mode_command_topic": "cloudless/living_ac/set/swing_mode",
        "swing_mode_state_topic": "cloudless/living_ac",
        "swing_mode_state_template": "{{ value_json.swing_mode if value_json.swing_mode is defined else 'None' }}",
        "preset_modes": ["eco", "boost", "sleep"],
        "preset_mode_command_topic": "cloudless/living_ac/set/preset",
        "preset_mode_state_topic": "cloudless/living_ac",
        "preset_mode_value_template": "{{ value_json.preset if value_json.preset is defined else 'None' }}",
        "action_topic": "cloudless/living_ac",
        "action_template": "{{ value_json.action if value_json.action is defined else 'None' }}",
        "power_command_topic": "cloudless/living_ac/set/state",
        "payload_on": "ON",
        "payload_off": "OFF",
        "min_temp": 17.0,
        "max_temp": 30.0,
        "temp_step": 0.5,
        "precision": 0.5,
        "temperature_unit": "C"
      },
      "outdoor_temperature": {
        "p": "sensor", "unique_id": "cloudless_151732605161920_outdoor_temperature", "name": "Outdoor temperature",
        "device_class": "temperature", "state_class": "measurement", "unit_of_measurement": "°C",
        "suggested_display_precision": 1, "value_template": "{{ value_json.outdoor_temperature if value_json.outdoor_temperature is defined else 'None' }}"
      }
    }
  })");
  CHECK(message->payload == expected);
}

TEST_CASE("discovery: a climate without optional traits leaves their keys out", "[discovery]") {
  model::ClimateTraits traits;
  traits.modes = {"off", "cool"};
  const auto message = ha::device_discovery(context(), "ac", ac_info(), {model::presets::climate(traits)});
  REQUIRE(message);
  const json& climate = message->payload["cmps"]["climate"];
  for (const char* key : {"fan_modes", "fan_mode_command_topic", "swing_modes", "swing_mode_command_topic",
                          "preset_modes", "preset_mode_command_topic", "action_topic", "action_template",
                          "current_humidity_topic", "current_humidity_template"}) {
    CAPTURE(key);
    CHECK_FALSE(climate.contains(key));
  }
  CHECK(climate["temp_step"] == 0.5);
  CHECK(climate["min_temp"] == 16.0);
}

TEST_CASE("discovery: an inverted door contact (BLE) with staleness", "[discovery]") {
  const auto message = ha::device_discovery(context(), "front_door", door_info(), door_entities());
  REQUIRE(message);
  CHECK(message->topic == "homeassistant/device/cloudless/front_door/config");
  CHECK(message->retain);
  CHECK(message->qos == 1);

  const json expected_cmps = json::parse(R"({
    "contact": {"p": "binary_sensor", "unique_id": "cloudless_A4C138112233_contact", "device_class": "door",
                "expire_after": 90000, "value_template": "{{ ('OFF' if value_json.contact else 'ON') if value_json.contact is defined else 'None' }}"},
    "battery": {"p": "sensor", "unique_id": "cloudless_A4C138112233_battery", "device_class": "battery",
                "state_class": "measurement", "unit_of_measurement": "%", "entity_category": "diagnostic",
                "expire_after": 90000, "value_template": "{{ value_json.battery if value_json.battery is defined else 'None' }}"},
    "rssi": {"p": "sensor", "unique_id": "cloudless_A4C138112233_rssi", "device_class": "signal_strength",
             "state_class": "measurement", "unit_of_measurement": "dBm", "entity_category": "diagnostic",
             "enabled_by_default": false, "value_template": "{{ value_json.rssi if value_json.rssi is defined else 'None' }}"}
  })");
  CHECK(message->payload["cmps"] == expected_cmps);
  CHECK(message->payload["dev"] == json::parse(R"({"ids": ["cloudless_A4C138112233"], "name": "front_door",
      "mf": "Xiaomi", "mdl": "Door and window sensor", "mdl_id": "MCCGQ02HL",
      "via_device": "cloudless_bridge_cloudless"})"));
  CHECK(message->payload["availability"] == availability("front_door"));

  SECTION("not inverted: motion") {
    const auto motion = ha::device_discovery(context(), "hall", door_info(),
                                             {model::presets::binary("occupancy", "occupancy")});
    REQUIRE(motion);
    CHECK(motion->payload["cmps"]["occupancy"]["value_template"] == "{{ ('ON' if value_json.occupancy else 'OFF') if value_json.occupancy is defined else 'None' }}");
  }
}

TEST_CASE("discovery: select, number and button components", "[discovery]") {
  model::Entity behaviour;
  behaviour.key = "power_on_behavior";
  behaviour.component = model::Component::select;
  behaviour.name = "Power-on behaviour";
  behaviour.entity_category = "config";
  behaviour.settable = true;
  behaviour.options = {"on", "off", "previous"};
  model::Entity limit;
  limit.key = "keep_warm_temperature";
  limit.component = model::Component::number;
  limit.name = "Keep-warm temperature";
  limit.unit = "°C";
  limit.settable = true;
  limit.min = 40;
  limit.max = 90;
  limit.step = 1;
  model::Entity identify;
  identify.key = "identify";
  identify.component = model::Component::button;
  identify.device_class = "identify";
  identify.settable = true;

  const auto message = ha::device_discovery(context(), "kettle", plug_info(), {behaviour, limit, identify});
  REQUIRE(message);
  CHECK(message->payload["cmps"] == json::parse(R"({
    "power_on_behavior": {"p": "select", "unique_id": "cloudless_112233445_power_on_behavior",
        "name": "Power-on behaviour", "entity_category": "config", "value_template": "{{ value_json.power_on_behavior if value_json.power_on_behavior is defined else 'None' }}",
        "command_topic": "cloudless/kettle/set/power_on_behavior", "options": ["on", "off", "previous"]},
    "keep_warm_temperature": {"p": "number", "unique_id": "cloudless_112233445_keep_warm_temperature",
        "name": "Keep-warm temperature", "unit_of_measurement": "°C",
        "value_template": "{{ value_json.keep_warm_temperature if value_json.keep_warm_temperature is defined else 'None' }}",
        "command_topic": "cloudless/kettle/set/keep_warm_temperature", "min": 40.0, "max": 90.0, "step": 1.0},
    "identify": {"p": "button", "unique_id": "cloudless_112233445_identify", "device_class": "identify",
        "command_topic": "cloudless/kettle/set/identify", "payload_press": "PRESS"}
  })"));
}

TEST_CASE("discovery: a switch whose state is a JSON boolean (kettle turn_off_after_boil)", "[discovery]") {
  const model::Entity boil = model::presets::boolean_switch("turn_off_after_boil", "Turn off after boil");
  CHECK(boil.boolean_state);
  CHECK(boil.settable);
  const auto message = ha::device_discovery(context(), "kettle", plug_info(),
                                            {boil, model::presets::switch_("usb", "USB")});
  REQUIRE(message);
  // The state JSON carries true/false: the template maps it to HA's payload_on/off, and 'None'
  // (unknown) before the first state; commands stay "ON"/"OFF" on the /set/<attr> topic.
  CHECK(message->payload["cmps"]["turn_off_after_boil"] == json::parse(R"({
    "p": "switch", "unique_id": "cloudless_112233445_turn_off_after_boil", "name": "Turn off after boil",
    "device_class": "switch", "entity_category": "config",
    "value_template": "{{ ('ON' if value_json.turn_off_after_boil else 'OFF') if value_json.turn_off_after_boil is defined else 'None' }}",
    "command_topic": "cloudless/kettle/set/turn_off_after_boil", "payload_on": "ON", "payload_off": "OFF"
  })"));
  // An ordinary switch keeps passing its "ON"/"OFF" text through.
  CHECK(message->payload["cmps"]["usb"]["value_template"] == "{{ value_json.usb if value_json.usb is defined else 'None' }}");
  CHECK_FALSE(model::validate_entities({boil}));
}

TEST_CASE("discovery: no config before the device has a stable id, none without a prefix", "[discovery]") {
  model::DeviceInfo info = plug_info();
  info.stable_id.clear();
  CHECK_FALSE(ha::device_discovery(context(), "desk_plug", info, plug_entities()));

  ha::DiscoveryContext disabled = context();
  disabled.discovery_prefix.clear();
  CHECK_FALSE(ha::device_discovery(disabled, "desk_plug", plug_info(), plug_entities()));
  CHECK_FALSE(ha::bridge_discovery(disabled));
}

TEST_CASE("discovery: the bridge device", "[discovery]") {
  const auto message = ha::bridge_discovery(context());
  REQUIRE(message);
  CHECK(message->topic == "homeassistant/device/cloudless/bridge/config");
  CHECK(message->retain);
  CHECK(message->qos == 1);
  CHECK(message->payload == json::parse(R"({
    "dev": {"ids": ["cloudless_bridge_cloudless"], "name": "cloudless bridge", "mf": "cloudless", "sw": "1.2.3"},
    "o": {"name": "cloudless", "sw": "1.2.3"},
    "qos": 1,
    "cmps": {
      "connection_state": {"p": "binary_sensor", "unique_id": "cloudless_bridge_cloudless_connection_state",
          "name": "Connection state", "state_topic": "cloudless/bridge/state", "payload_on": "online",
          "payload_off": "offline", "device_class": "connectivity", "entity_category": "diagnostic"},
      "version": {"p": "sensor", "unique_id": "cloudless_bridge_cloudless_version", "name": "Version",
          "state_topic": "cloudless/bridge/info", "value_template": "{{ value_json.version }}",
          "entity_category": "diagnostic", "icon": "mdi:information-outline"}
    }
  })"));
  CHECK_FALSE(message->payload.contains("availability"));
}

TEST_CASE("discovery: the origin names a url only when the build sets one", "[discovery]") {
  CHECK_FALSE(ha::device_discovery(context(), "desk_plug", plug_info(), plug_entities())->payload["o"].contains("url"));
  ha::DiscoveryContext published = context();
  published.url = "https://example.org/cloudless";
  const auto message = ha::device_discovery(published, "desk_plug", plug_info(), plug_entities());
  REQUIRE(message);
  CHECK(message->payload["o"] == json{{"name", "cloudless"}, {"sw", "1.2.3"}, {"url", "https://example.org/cloudless"}});
  CHECK(ha::bridge_discovery(published)->payload["o"]["url"] == "https://example.org/cloudless");
}

TEST_CASE("discovery: a base topic with '/' gives a valid node id", "[discovery]") {
  const ha::DiscoveryContext nested{"home/cloudless", "homeassistant", "1.2.3", ""};
  const auto message = ha::device_discovery(nested, "desk_plug", plug_info(), plug_entities());
  REQUIRE(message);
  CHECK(message->topic == "homeassistant/device/home_cloudless/desk_plug/config");
  CHECK(message->payload["state_topic"] == "home/cloudless/desk_plug");
  CHECK(message->payload["dev"]["via_device"] == "cloudless_bridge_home_cloudless");
  CHECK(message->payload["cmps"]["state"]["command_topic"] == "home/cloudless/desk_plug/set/state");
}

TEST_CASE("discovery: structural invariants across devices", "[discovery]") {
  struct Case {
    std::string id;
    model::DeviceInfo info;
    std::vector<model::Entity> entities;
  };
  const std::vector<Case> cases = {
      {"desk_plug", plug_info(), plug_entities()},
      {"living_ac", ac_info(), ac_entities()},
      {"front_door", door_info(), door_entities()},
  };
  std::set<std::string> unique_ids;
  std::set<std::string> topics;
  for (const Case& c : cases) {
    CAPTURE(c.id);
    REQUIRE_FALSE(model::validate_entities(c.entities));
    const auto message = ha::device_discovery(context(), c.id, c.info, c.entities);
    REQUIRE(message);
    CHECK(topics.insert(message->topic).second);
    const json& cmps = message->payload["cmps"];
    CHECK(cmps.size() == c.entities.size());
    for (const model::Entity& entity : c.entities) {
      CAPTURE(entity.key);
      REQUIRE(cmps.contains(entity.key));
      const json& cmp = cmps[entity.key];
      CHECK(unique_ids.insert(cmp["unique_id"].get<std::string>()).second);
      CHECK(cmp["p"] == std::string(model::component_name(entity.component)));
      if (entity.settable) {
        const bool has_command = cmp.contains("command_topic") || cmp.contains("mode_command_topic");
        CHECK(has_command);
      }
      if (cmp.contains("preset_modes")) {
        for (const json& preset : cmp["preset_modes"]) CHECK(preset != "none");
      }
      // HA rejects an entity name that repeats the device name.
      if (cmp.contains("name") && cmp["name"].is_string()) {
        CHECK(cmp["name"].get<std::string>().rfind(c.id, 0) != 0);
      }
      // Every template reading the state guards its key: a key the device has not sent yet must
      // render HA's "unknown", not a template warning on every message.
      for (const auto& [option, value] : cmp.items()) {
        if (option.find("template") == std::string::npos) continue;
        CAPTURE(option);
        const std::string text = value.get<std::string>();
        const std::size_t read = text.find("value_json.");
        REQUIRE(read != std::string::npos);
        const std::string key = text.substr(read + 11, text.find_first_of(" )", read) - read - 11);
        CHECK(text.find("value_json." + key + " is defined") != std::string::npos);
      }
    }
  }
  // The bridge's own unique_ids do not collide with the devices' either.
  const auto bridge = ha::bridge_discovery(context());
  REQUIRE(bridge);
  for (const auto& [key, cmp] : bridge->payload["cmps"].items()) {
    CHECK(unique_ids.insert(cmp["unique_id"].get<std::string>()).second);
  }
}

// ---- topic helpers --------------------------------------------------------------------------------

TEST_CASE("topics: inbound topics are classified", "[topics]") {
  const Topics topics{"cloudless", "homeassistant"};
  using Kind = InboundTopic::Kind;

  auto t = classify_topic(topics, "cloudless/desk_plug/set");
  CHECK(t.kind == Kind::device_set);
  CHECK(t.device_id == "desk_plug");

  t = classify_topic(topics, "cloudless/living_ac/set/target_temperature");
  CHECK(t.kind == Kind::device_set_attribute);
  CHECK(t.device_id == "living_ac");
  CHECK(t.attribute == "target_temperature");

  t = classify_topic(topics, "cloudless/desk_plug/get");
  CHECK(t.kind == Kind::device_get);

  t = classify_topic(topics, "cloudless/bridge/request/health_check");
  CHECK(t.kind == Kind::bridge_request);
  CHECK(t.request == "health_check");
  t = classify_topic(topics, "cloudless/bridge/request/ha_discovery/clear");
  CHECK(t.kind == Kind::bridge_request);
  CHECK(t.request == "ha_discovery/clear");

  CHECK(classify_topic(topics, "homeassistant/status").kind == Kind::ha_status);
  t = classify_topic(topics, "homeassistant/device/cloudless/old_plug/config");
  CHECK(t.kind == Kind::discovery_config);
  CHECK(t.device_id == "old_plug");

  for (const char* other : {"cloudless", "cloudless/", "cloudless/desk_plug", "cloudless/desk_plug/set/a/b",
                            "cloudless//set", "cloudlessx/desk_plug/set", "cloudless/bridge/request/",
                            "homeassistant/device/other/x/config", "homeassistant/device/cloudless/x/y/config"}) {
    CAPTURE(other);
    CHECK(classify_topic(topics, other).kind == Kind::unknown);
  }

  const Topics no_discovery{"cloudless", ""};
  CHECK(classify_topic(no_discovery, "/status").kind == Kind::unknown);
}

TEST_CASE("topics: raw /set payloads become JSON values", "[topics]") {
  CHECK(raw_payload_to_json("24.5") == json(24.5));
  CHECK(raw_payload_to_json("24.5").is_number_float());
  CHECK(raw_payload_to_json("80") == json(80));
  CHECK(raw_payload_to_json("-3").is_number_integer());
  CHECK(raw_payload_to_json("true") == json(true));
  CHECK(raw_payload_to_json("false") == json(false));
  CHECK(raw_payload_to_json("ON") == json("ON"));
  CHECK(raw_payload_to_json("cool") == json("cool"));
  CHECK(raw_payload_to_json("") == json(""));
  CHECK(raw_payload_to_json("null") == json("null"));
  CHECK(raw_payload_to_json("{\"a\":1}") == json("{\"a\":1}"));
  CHECK(raw_payload_to_json("NaN") == json("NaN"));
}

TEST_CASE("topics: state values become raw attribute payloads", "[topics]") {
  CHECK(json_to_raw_payload("ON") == "ON");
  CHECK(json_to_raw_payload(12.4) == "12.4");
  CHECK(json_to_raw_payload(230.8) == "230.8");
  CHECK(json_to_raw_payload(38) == "38");
  CHECK(json_to_raw_payload(true) == "true");
  CHECK(json_to_raw_payload(json::array({1, 2})) == "[1,2]");
  CHECK(dump_json(json("\xff")) == "\"\xEF\xBF\xBD\"");  // invalid UTF-8 never throws
}

TEST_CASE("topics: the state payload is the device's state with last_seen as its last member", "[topics]") {
  const std::optional<std::string> seen = "2026-11-22T10:15:03Z";
  const json state = {{"state", "ON"}, {"power", 12.4}, {"temperature", 38}};
  CHECK(state_payload(state, seen) ==
        R"({"power":12.4,"state":"ON","temperature":38,"last_seen":"2026-11-22T10:15:03Z"})");
  CHECK(json::parse(state_payload(state, seen)) == json{{"state", "ON"}, {"power", 12.4}, {"temperature", 38},
                                                         {"last_seen", "2026-11-22T10:15:03Z"}});
  CHECK(state_payload(state, std::nullopt) == R"({"power":12.4,"state":"ON","temperature":38})");
  CHECK(state_payload(json::object(), seen) == R"({"last_seen":"2026-11-22T10:15:03Z"})");
  CHECK(state_payload(json::object(), std::nullopt) == "{}");
  CHECK(state_payload(nullptr, seen) == R"({"last_seen":"2026-11-22T10:15:03Z"})");  // not an object: as {}
  CHECK(state_payload(json::array({1}), std::nullopt) == "{}");
  // A device's own last_seen gives way to the bridge's: one member, the bridge's value.
  const std::string replaced = state_payload({{"last_seen", "yesterday"}, {"state", "OFF"}}, seen);
  CHECK(replaced == R"({"state":"OFF","last_seen":"2026-11-22T10:15:03Z"})");
  // Without a bridge value, the device's own stays.
  CHECK(state_payload({{"last_seen", "yesterday"}}, std::nullopt) == R"({"last_seen":"yesterday"})");
  // Invalid UTF-8 from a device is replaced, never thrown.
  CHECK(state_payload({{"name", "\xff"}}, seen) == "{\"name\":\"\xEF\xBF\xBD\",\"last_seen\":\"2026-11-22T10:15:03Z\"}");

  // In two steps (the bridge keeps the first one's text while the state is unchanged): the same text.
  CHECK(with_last_seen(state_text(state), *seen) == state_payload(state, seen));
  CHECK(state_text({{"last_seen", "yesterday"}, {"state", "OFF"}}) == R"({"state":"OFF"})");
  CHECK(with_last_seen(state_text({{"last_seen", "yesterday"}, {"state", "OFF"}}), *seen) == replaced);
  CHECK(with_last_seen(state_text(nullptr), *seen) == R"({"last_seen":"2026-11-22T10:15:03Z"})");
  CHECK(with_last_seen("{}", "a \"quoted\" time") == R"({"last_seen":"a \"quoted\" time"})");
}

TEST_CASE("topics: last_seen is ISO 8601 UTC with seconds and Z", "[topics]") {
  using namespace std::chrono;
  const sys_seconds t = sys_days{year{2026} / 11 / 22} + hours{10} + minutes{15} + seconds{3};
  CHECK(format_utc_iso8601(t) == "2026-11-22T10:15:03Z");
  CHECK(format_utc_iso8601(t + milliseconds{999}) == "2026-11-22T10:15:03Z");
  // The text of the last second is kept: the next second, and an earlier one, are formatted anew.
  CHECK(format_utc_iso8601(t + seconds{1}) == "2026-11-22T10:15:04Z");
  CHECK(format_utc_iso8601(t - days{365}) == "2025-11-22T10:15:03Z");
  CHECK(format_utc_iso8601(t) == "2026-11-22T10:15:03Z");
  CHECK(format_utc_iso8601(sys_seconds{}) == "1970-01-01T00:00:00Z");  // second 0, the initial key
}
