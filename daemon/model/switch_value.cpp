#include "daemon/model/switch_value.h"

#include <algorithm>
#include <cctype>
#include <string>

namespace cloudless::model {

std::optional<SwitchValue> parse_switch_value(const nlohmann::json& value) {
  if (value.is_boolean()) return value.get<bool>() ? SwitchValue::on : SwitchValue::off;
  if (!value.is_string()) return std::nullopt;
  std::string text = value.get<std::string>();
  if (text.size() > 6) return std::nullopt;
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::toupper(c); });
  if (text == "ON") return SwitchValue::on;
  if (text == "OFF") return SwitchValue::off;
  if (text == "TOGGLE") return SwitchValue::toggle;
  return std::nullopt;
}

std::optional<bool> resolve_switch(SwitchValue value, std::optional<bool> current) {
  switch (value) {
    case SwitchValue::on: return true;
    case SwitchValue::off: return false;
    case SwitchValue::toggle: return current ? std::optional<bool>(!*current) : std::nullopt;
  }
  return std::nullopt;
}

}  // namespace cloudless::model
