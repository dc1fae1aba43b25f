// What each miIO plug model answers locally, as data (docs/miio.md §5): which get_prop names or
// MIoT siid/piid carry which quantity, with the scale to the entity's unit, and which methods switch
// it. Plus the pure decoders from a device reply to a PlugReading. No I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "protocols/common/result.h"
#include "protocols/miio/rpc.h"

namespace cloudless::miio {

// What a value means once decoded; units fixed by docs/contract.md (W, kWh, V, A, °C).
enum class Quantity { on, usb, led, power, energy, voltage, current, temperature };

std::string_view quantity_name(Quantity quantity);  // "on", "usb", "led", "power", ...

// Legacy get_prop values come as "on"/"off" strings, bools or numbers depending on the model.
enum class LegacyValue { on_off_string, boolean, number };

struct LegacyProperty {
  std::string name;  // name in get_prop
  Quantity quantity;
  LegacyValue value = LegacyValue::number;
  double scale = 1.0;
};

struct MiotProperty {
  Quantity quantity;
  int siid = 0;
  int piid = 0;
  double scale = 1.0;  // raw × scale = value in the quantity's unit
  bool writable = false;
};

enum class Dialect { legacy, miot };

// How a legacy model switches mains power: set_power ["on"] or set_on / set_off with no params.
enum class LegacySwitch { set_power, set_on_off };

struct PlugModel {
  std::string model;  // "chuangmi.plug.v3"
  std::string name;   // "Mi Smart Plug (WiFi)"
  Dialect dialect = Dialect::legacy;
  // legacy
  std::vector<LegacyProperty> legacy;
  LegacySwitch legacy_switch = LegacySwitch::set_power;
  bool get_power = false;  // chuangmi.plug.v3: method get_power → [load in 0.01 W]
  // miot
  std::vector<MiotProperty> miot;
  int max_properties_per_request = 15;

  bool has(Quantity quantity) const;
};

// The built-in table; nullptr for a model we do not know.
const PlugModel* find_plug_model(std::string_view model);
const std::vector<PlugModel>& plug_models();

// A model that is not in the table: on/off through MIoT 2/1, the layout every MIoT plug shares.
PlugModel generic_miot_plug(std::string model);
// A legacy model that is not in the table: get_prop ["power"] and set_power.
PlugModel generic_legacy_plug(std::string model);

struct PlugReading {
  std::optional<bool> on, usb, led;
  std::optional<double> power, energy, voltage, current, temperature;

  std::optional<double> number(Quantity quantity) const;
  std::optional<bool> flag(Quantity quantity) const;
  bool operator==(const PlugReading&) const = default;
};

// ---- requests ----
nlohmann::json legacy_get_prop_params(const PlugModel& model);
// get_properties parameter lists, at most max_properties_per_request entries each. "did" carries the
// quantity name, which devices echo back.
std::vector<nlohmann::json> miot_get_batches(const PlugModel& model);

struct MethodCall {
  std::string method;
  nlohmann::json params;
};
// The call that switches `quantity` (on, usb or led); nullopt when the model cannot.
std::optional<MethodCall> switch_call(const PlugModel& model, Quantity quantity, bool on);

// ---- replies ----
// get_prop result: a list in request order; missing or null entries are skipped (HA #31653: a v3 answered
// three values to four names).
Result<PlugReading> decode_legacy_props(const PlugModel& model, const nlohmann::json& result);
// The same from the list's items already read (ScalarListReader).
PlugReading decode_legacy_values(const PlugModel& model, const nlohmann::json::array_t& values);
// get_power result: [int] in 0.01 W.
Result<double> decode_get_power(const nlohmann::json& result);
// The same from the list's items already read (ScalarListReader).
Result<double> decode_get_power_values(const nlohmann::json::array_t& values);
// get_properties result: [{"did","siid","piid","code","value"}...]; entries with code != 0 are skipped.
// Merges into `reading`.
Result<PlugReading> decode_miot_properties(const PlugModel& model, const nlohmann::json& result,
                                           PlugReading reading = {});

// A get_properties entry that carries a value: integer siid and piid, code absent or 0.
struct MiotValue {
  long long siid = 0;
  long long piid = 0;
  nlohmann::json value;  // a scalar; a list or an object stands as an empty list (nothing reads them)
};
// The same merge as decode_miot_properties, from entries already read (MiotPropertiesReader).
PlugReading merge_miot_values(const PlugModel& model, const std::vector<MiotValue>& values, PlugReading reading);

// Reads a get_properties result list into MiotValues without a DOM (read_reply): the entries
// decode_miot_properties would use, in order, and nothing else. It refuses a result that is not a
// list, so that reply goes the general way and fails there as it always did.
class MiotPropertiesReader final : public ResultReader {
 public:
  const std::vector<MiotValue>& values() const { return values_; }

  void reset() override;
  bool null() override { return scalar(nullptr); }
  bool boolean(bool value) override { return scalar(value); }
  bool number_integer(number_integer_t value) override { return scalar(value); }
  bool number_unsigned(number_unsigned_t value) override { return scalar(value); }
  bool number_float(number_float_t value, const string_t&) override { return scalar(value); }
  // A string makes a heap copy as a JSON value: only for a member that is read ("did" is not).
  bool string(string_t& value) override { return depth_ == 2 && field_ == Field::other ? true : scalar(value); }
  bool start_object(std::size_t) override;
  bool key(string_t& name) override;
  bool end_object() override;
  bool start_array(std::size_t) override;
  bool end_array() override;

 private:
  enum class Field { other, siid, piid, code, value };
  bool scalar(nlohmann::json value);

  std::vector<MiotValue> values_;
  int depth_ = 0;  // 1: in the list, 2: in an entry, deeper: inside one of its members
  Field field_ = Field::other;
  bool entry_is_object_ = false;
  nlohmann::json siid_, piid_, code_, value_;  // the entry's members as read; discarded: absent
};
// Reads a result that is a flat list of scalars (get_prop's values, get_power's [load]) without a DOM
// (read_reply). It refuses anything else, a list or an object inside the list included, so that
// reply goes the general way and reads there as it always did.
class ScalarListReader final : public ResultReader {
 public:
  const nlohmann::json::array_t& values() const { return values_; }

  void reset() override;
  bool null() override { return item(nullptr); }
  bool boolean(bool value) override { return item(value); }
  bool number_integer(number_integer_t value) override { return item(value); }
  bool number_unsigned(number_unsigned_t value) override { return item(value); }
  bool number_float(number_float_t value, const string_t&) override { return item(value); }
  bool string(string_t& value) override { return item(std::move(value)); }  // nlohmann lets a handler take it
  bool start_object(std::size_t) override { return false; }
  bool key(string_t&) override { return false; }
  bool end_object() override { return false; }
  bool start_array(std::size_t) override;
  bool end_array() override;

 private:
  bool item(nlohmann::json value);

  nlohmann::json::array_t values_;
  bool in_list_ = false;
};

// set_properties result: every entry must have code 0.
bool miot_set_succeeded(const nlohmann::json& result);

}  // namespace cloudless::miio
