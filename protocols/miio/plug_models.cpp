#include "protocols/miio/plug_models.h"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace cloudless::miio {

namespace {

using Q = Quantity;
using V = LegacyValue;

// Legacy plugs answering get_prop power,temperature and set_power (python-miio ChuangmiPlug, HA MODELS_SWITCH).
PlugModel basic_legacy(std::string model, std::string name) {
  PlugModel m;
  m.model = std::move(model);
  m.name = std::move(name);
  m.legacy = {{"power", Q::on, V::on_off_string}, {"temperature", Q::temperature, V::number}};
  return m;
}

std::vector<PlugModel> build_table() {
  std::vector<PlugModel> table;
  table.push_back(basic_legacy("chuangmi.plug.m1", "Mi Smart Plug (WiFi)"));
  table.push_back(basic_legacy("chuangmi.plug.m3", "Mi Smart Plug (WiFi)"));
  table.push_back(basic_legacy("chuangmi.plug.v2", "Mi Smart Plug (WiFi)"));
  table.push_back(basic_legacy("chuangmi.plug.hmi205", "Mi Smart Plug (WiFi)"));
  // hmi206: ESP8266 fw 1.3.9_0005 in the hmi206 field report (docs/miio.md §S1).
  table.push_back(basic_legacy("chuangmi.plug.hmi206", "Mi Smart Plug (WiFi)"));

  PlugModel hmi208 = basic_legacy("chuangmi.plug.hmi208", "Mi Smart Plug with USB");
  hmi208.legacy = {{"power", Q::on, V::on_off_string},
                   {"usb_on", Q::usb, V::boolean},
                   {"temperature", Q::temperature, V::number}};
  table.push_back(hmi208);

  // v1: bools and set_on/set_off without params.
  PlugModel v1 = basic_legacy("chuangmi.plug.v1", "Mi Smart Plug with USB");
  v1.legacy = {{"on", Q::on, V::boolean}, {"usb_on", Q::usb, V::boolean}, {"temperature", Q::temperature, V::number}};
  v1.legacy_switch = LegacySwitch::set_on_off;
  table.push_back(v1);

  // v3: load power only through get_power, in 0.01 W (python-miio PR #338 fixed the unit).
  PlugModel v3 = basic_legacy("chuangmi.plug.v3", "Mi Smart Plug with USB (v3)");
  v3.legacy = {{"on", Q::on, V::boolean},
               {"usb_on", Q::usb, V::boolean},
               {"temperature", Q::temperature, V::number},
               {"wifi_led", Q::led, V::on_off_string}};
  v3.get_power = true;
  table.push_back(v3);

  // Power strips: power_consume_rate is the load in W, current in A (python-miio PowerStrip).
  PlugModel qmi = basic_legacy("qmi.powerstrip.v1", "Mi Power Strip");
  qmi.legacy = {{"power", Q::on, V::on_off_string},        {"temperature", Q::temperature, V::number},
                {"current", Q::current, V::number},        {"power_consume_rate", Q::power, V::number},
                {"voltage", Q::voltage, V::number}};
  table.push_back(qmi);
  PlugModel zimi = basic_legacy("zimi.powerstrip.v2", "Mi Power Strip 2");
  zimi.legacy = {{"power", Q::on, V::on_off_string},        {"temperature", Q::temperature, V::number},
                 {"current", Q::current, V::number},        {"power_consume_rate", Q::power, V::number},
                 {"wifi_led", Q::led, V::on_off_string}};
  table.push_back(zimi);

  // chuangmi.plug.212a01 (Mi Smart Power Plug 2): spec outlet:0000A002:chuangmi-212a01. 5/6 electric-power
  // ×0.01 → W (mi-home test: raw 1500 = 15.0 W); 5/1 power-consumption in Wh (al-one ×0.001 → kWh);
  // 5/3 voltage in V (mi-home tests: 220); 5/2 current: unit not stated by any source, mA assumed
  // [unverified] — a user can override it with a `miot:` mapping. At most 7 properties per request (al-one).
  PlugModel m212;
  m212.model = "chuangmi.plug.212a01";
  m212.name = "Mi Smart Power Plug 2";
  m212.dialect = Dialect::miot;
  m212.miot = {{Q::on, 2, 1, 1.0, true},         {Q::temperature, 2, 6, 1.0}, {Q::led, 3, 1, 1.0, true},
               {Q::energy, 5, 1, 0.001},         {Q::current, 5, 2, 0.001},   {Q::voltage, 5, 3, 1.0},
               {Q::power, 5, 6, 0.01}};
  m212.max_properties_per_request = 7;
  table.push_back(m212);

  // cuco.plug.v3 (Mi Smart Plug 3): the cuco.plug.v2eur layout, 2/1 switch, 11/1 power-consumption,
  // 11/2 electric-power W, 13/1 indicator light [inference from v2eur and generic cuco mappings].
  // The unit of 11/1 is not stated; kWh assumed [unverified].
  PlugModel cuco_v3;
  cuco_v3.model = "cuco.plug.v3";
  cuco_v3.name = "Mi Smart Plug 3";
  cuco_v3.dialect = Dialect::miot;
  cuco_v3.miot = {{Q::on, 2, 1, 1.0, true}, {Q::energy, 11, 1, 1.0}, {Q::power, 11, 2, 1.0}, {Q::led, 13, 1, 1.0, true}};
  table.push_back(cuco_v3);

  // cuco.plug.cp1m: 2/1 on, 2/3 voltage, 2/4 current, 4/1 power "watt"; one property per request (al-one).
  // Scales disagree between sources (al-one ×0.1 for power and voltage, current in mA) [unverified].
  PlugModel cp1m;
  cp1m.model = "cuco.plug.cp1m";
  cp1m.name = "Gosund Smart Plug CP1M";
  cp1m.dialect = Dialect::miot;
  cp1m.miot = {{Q::on, 2, 1, 1.0, true}, {Q::voltage, 2, 3, 0.1}, {Q::current, 2, 4, 0.001}, {Q::power, 4, 1, 0.1}};
  cp1m.max_properties_per_request = 1;
  table.push_back(cp1m);
  return table;
}

std::optional<double> json_number(const nlohmann::json& value) {
  if (value.is_number()) {
    const double d = value.get<double>();
    if (std::isfinite(d)) return d;
    return std::nullopt;
  }
  return std::nullopt;
}

// "on"/"off" (any case), true/false, 1/0.
std::optional<bool> json_flag(const nlohmann::json& value) {
  if (value.is_boolean()) return value.get<bool>();
  if (value.is_number_integer()) return value.get<long long>() != 0;
  if (value.is_string()) {
    std::string text = value.get<std::string>();
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
    if (text == "on" || text == "true") return true;
    if (text == "off" || text == "false") return false;
  }
  return std::nullopt;
}

void store(PlugReading& reading, Quantity quantity, const nlohmann::json& raw, double scale) {
  switch (quantity) {
    case Q::on: reading.on = json_flag(raw); return;
    case Q::usb: reading.usb = json_flag(raw); return;
    case Q::led: reading.led = json_flag(raw); return;
    default: break;
  }
  const auto number = json_number(raw);
  if (!number) return;
  const double value = *number * scale;
  switch (quantity) {
    case Q::power: reading.power = value; return;
    case Q::energy: reading.energy = value; return;
    case Q::voltage: reading.voltage = value; return;
    case Q::current: reading.current = value; return;
    case Q::temperature: reading.temperature = value; return;
    default: return;
  }
}

}  // namespace

std::string_view quantity_name(Quantity quantity) {
  switch (quantity) {
    case Q::on: return "on";
    case Q::usb: return "usb";
    case Q::led: return "led";
    case Q::power: return "power";
    case Q::energy: return "energy";
    case Q::voltage: return "voltage";
    case Q::current: return "current";
    case Q::temperature: return "temperature";
  }
  return "unknown";
}

bool PlugModel::has(Quantity quantity) const {
  if (dialect == Dialect::miot)
    return std::any_of(miot.begin(), miot.end(), [&](const MiotProperty& p) { return p.quantity == quantity; });
  if (quantity == Q::power && get_power) return true;
  return std::any_of(legacy.begin(), legacy.end(), [&](const LegacyProperty& p) { return p.quantity == quantity; });
}

const std::vector<PlugModel>& plug_models() {
  static const std::vector<PlugModel> table = build_table();
  return table;
}

const PlugModel* find_plug_model(std::string_view model) {
  for (const PlugModel& m : plug_models())
    if (m.model == model) return &m;
  return nullptr;
}

PlugModel generic_miot_plug(std::string model) {
  PlugModel m;
  m.model = std::move(model);
  m.name = "MIoT plug";
  m.dialect = Dialect::miot;
  m.miot = {{Q::on, 2, 1, 1.0, true}};
  return m;
}

PlugModel generic_legacy_plug(std::string model) {
  PlugModel m;
  m.model = std::move(model);
  m.name = "miIO plug";
  m.legacy = {{"power", Q::on, V::on_off_string}};
  return m;
}

std::optional<double> PlugReading::number(Quantity quantity) const {
  switch (quantity) {
    case Q::power: return power;
    case Q::energy: return energy;
    case Q::voltage: return voltage;
    case Q::current: return current;
    case Q::temperature: return temperature;
    default: return std::nullopt;
  }
}

std::optional<bool> PlugReading::flag(Quantity quantity) const {
  switch (quantity) {
    case Q::on: return on;
    case Q::usb: return usb;
    case Q::led: return led;
    default: return std::nullopt;
  }
}

nlohmann::json legacy_get_prop_params(const PlugModel& model) {
  nlohmann::json names = nlohmann::json::array();
  for (const LegacyProperty& p : model.legacy) names.push_back(p.name);
  return names;
}

std::vector<nlohmann::json> miot_get_batches(const PlugModel& model) {
  std::vector<nlohmann::json> batches;
  const std::size_t per_request = static_cast<std::size_t>(std::max(1, model.max_properties_per_request));
  for (std::size_t i = 0; i < model.miot.size(); ++i) {
    if (i % per_request == 0) batches.push_back(nlohmann::json::array());
    const MiotProperty& p = model.miot[i];
    batches.back().push_back({{"did", std::string(quantity_name(p.quantity))}, {"siid", p.siid}, {"piid", p.piid}});
  }
  return batches;
}

std::optional<MethodCall> switch_call(const PlugModel& model, Quantity quantity, bool on) {
  if (model.dialect == Dialect::miot) {
    for (const MiotProperty& p : model.miot) {
      if (p.quantity != quantity || !p.writable) continue;
      nlohmann::json params = nlohmann::json::array();
      params.push_back({{"did", std::string(quantity_name(quantity))}, {"siid", p.siid}, {"piid", p.piid}, {"value", on}});
      return MethodCall{"set_properties", params};
    }
    return std::nullopt;
  }
  if (!model.has(quantity)) return std::nullopt;
  const char* on_off = on ? "on" : "off";
  switch (quantity) {
    case Q::on:
      if (model.legacy_switch == LegacySwitch::set_on_off)
        return MethodCall{on ? "set_on" : "set_off", nlohmann::json::array()};
      return MethodCall{"set_power", nlohmann::json::array({on_off})};
    case Q::usb: return MethodCall{on ? "set_usb_on" : "set_usb_off", nlohmann::json::array()};
    case Q::led: return MethodCall{"set_wifi_led", nlohmann::json::array({on_off})};
    default: return std::nullopt;
  }
}

Result<PlugReading> decode_legacy_props(const PlugModel& model, const nlohmann::json& result) {
  if (!result.is_array()) return parse_error("get_prop result is not a list");
  return decode_legacy_values(model, result.get_ref<const nlohmann::json::array_t&>());
}

PlugReading decode_legacy_values(const PlugModel& model, const nlohmann::json::array_t& values) {
  PlugReading reading;
  const std::size_t count = std::min(values.size(), model.legacy.size());
  for (std::size_t i = 0; i < count; ++i) {
    const LegacyProperty& p = model.legacy[i];
    if (values[i].is_null()) continue;
    store(reading, p.quantity, values[i], p.scale);
  }
  return reading;
}

namespace {

Result<double> get_power_watts(const nlohmann::json& raw) {
  const auto number = json_number(raw);
  if (!number) return parse_error("get_power result is not a number");
  return *number * 0.01;
}

}  // namespace

Result<double> decode_get_power(const nlohmann::json& result) {
  // [300] = 3.00 W; some firmware answers a bare number.
  if (result.is_array()) return decode_get_power_values(result.get_ref<const nlohmann::json::array_t&>());
  return get_power_watts(result);
}

Result<double> decode_get_power_values(const nlohmann::json::array_t& values) {
  if (values.empty()) return parse_error("get_power result is not a number");
  return get_power_watts(values.front());
}

namespace {

// What decode_miot_properties keeps of an entry, whichever way it was read. An absent member is a
// discarded value here.
std::optional<MiotValue> miot_value(const nlohmann::json& siid, const nlohmann::json& piid, const nlohmann::json& code,
                                    const nlohmann::json& value) {
  if (siid.is_discarded() || piid.is_discarded() || value.is_discarded()) return std::nullopt;
  if (!siid.is_number_integer() || !piid.is_number_integer()) return std::nullopt;
  if (!code.is_discarded() && (!code.is_number_integer() || code.get<long long>() != 0)) return std::nullopt;
  return MiotValue{siid.get<long long>(), piid.get<long long>(), value};
}

void merge_miot_value(const PlugModel& model, const MiotValue& entry, PlugReading& reading) {
  for (const MiotProperty& p : model.miot) {
    if (p.siid == entry.siid && p.piid == entry.piid) store(reading, p.quantity, entry.value, p.scale);
  }
}

const nlohmann::json kAbsent(nlohmann::json::value_t::discarded);

}  // namespace

Result<PlugReading> decode_miot_properties(const PlugModel& model, const nlohmann::json& result, PlugReading reading) {
  if (!result.is_array()) return parse_error("get_properties result is not a list");
  for (const nlohmann::json& entry : result) {
    if (!entry.is_object()) continue;
    auto member = [&](const char* name) -> const nlohmann::json& {
      const auto it = entry.find(name);
      return it == entry.end() ? kAbsent : *it;
    };
    if (const auto value = miot_value(member("siid"), member("piid"), member("code"), member("value")))
      merge_miot_value(model, *value, reading);
  }
  return reading;
}

PlugReading merge_miot_values(const PlugModel& model, const std::vector<MiotValue>& values, PlugReading reading) {
  for (const MiotValue& value : values) merge_miot_value(model, value, reading);
  return reading;
}

// Events of the result, by depth: 0 the result itself (must be a list), 1 the list's items (entries
// when objects), 2 an entry's members, deeper the inside of a member that is a list or an object.
void MiotPropertiesReader::reset() {
  values_.clear();  // keeps its capacity: the same plug reads the same size every poll
  depth_ = 0;
  field_ = Field::other;
}

bool MiotPropertiesReader::scalar(nlohmann::json value) {
  if (depth_ == 0) return false;  // not a list
  if (depth_ != 2) return true;   // an item that is not an entry, or inside a member
  switch (field_) {  // a repeated member: the last one counts, as in the DOM
    case Field::siid: siid_ = std::move(value); break;
    case Field::piid: piid_ = std::move(value); break;
    case Field::code: code_ = std::move(value); break;
    case Field::value: value_ = std::move(value); break;
    case Field::other: break;
  }
  return true;
}

bool MiotPropertiesReader::start_object(std::size_t) {
  if (depth_ == 0) return false;  // not a list
  if (depth_ == 1) {
    siid_ = piid_ = code_ = value_ = kAbsent;
    field_ = Field::other;
    entry_is_object_ = true;
  } else if (depth_ == 2) {
    scalar(nlohmann::json::array());  // a member that is an object: of no type an entry's member needs
  }
  ++depth_;
  return true;
}

bool MiotPropertiesReader::key(string_t& name) {
  if (depth_ != 2) return true;
  field_ = name == "siid"    ? Field::siid
           : name == "piid"  ? Field::piid
           : name == "code"  ? Field::code
           : name == "value" ? Field::value
                             : Field::other;
  return true;
}

bool MiotPropertiesReader::end_object() {
  --depth_;
  if (depth_ == 1 && entry_is_object_) {
    entry_is_object_ = false;
    if (auto value = miot_value(siid_, piid_, code_, value_)) values_.push_back(std::move(*value));
  }
  return true;
}

bool MiotPropertiesReader::start_array(std::size_t) {
  if (depth_ == 2) scalar(nlohmann::json::array());  // a member that is a list
  ++depth_;
  return true;
}

bool MiotPropertiesReader::end_array() {
  --depth_;
  return true;
}

// The result's own list opens at depth 0; a list inside it is refused (the DOM keeps it as an item).
void ScalarListReader::reset() {
  values_.clear();  // keeps its capacity: the same plug reads the same size every poll
  in_list_ = false;
}

bool ScalarListReader::item(nlohmann::json value) {
  if (!in_list_) return false;  // the result is a bare scalar, not a list
  values_.push_back(std::move(value));
  return true;
}

bool ScalarListReader::start_array(std::size_t) {
  if (in_list_) return false;
  in_list_ = true;
  return true;
}

bool ScalarListReader::end_array() {
  in_list_ = false;
  return true;
}

bool miot_set_succeeded(const nlohmann::json& result) {
  if (!result.is_array() || result.empty()) return false;
  for (const nlohmann::json& entry : result) {
    if (!entry.is_object()) return false;
    const auto code = entry.find("code");
    if (code == entry.end() || !code->is_number_integer() || code->get<long long>() != 0) return false;
  }
  return true;
}

}  // namespace cloudless::miio
