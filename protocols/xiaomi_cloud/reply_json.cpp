#include "protocols/xiaomi_cloud/reply_json.h"

#include <cstdint>

namespace cloudless::xiaomi_cloud {

std::optional<std::string> text_member(const nlohmann::json& object, std::string_view name) {
  if (!object.is_object()) return std::nullopt;
  const auto it = object.find(name);
  if (it == object.end()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_unsigned()) return std::to_string(it->get<std::uint64_t>());
  if (it->is_number_integer()) return std::to_string(it->get<std::int64_t>());
  return std::nullopt;
}

std::optional<std::string> id_member(const nlohmann::json& object, std::string_view name) {
  std::optional<std::string> text = text_member(object, name);
  if (!text || text->empty() || text->size() > 20) return std::nullopt;
  for (const char c : *text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  return text;
}

std::string failure_text(const nlohmann::json& object) {
  for (const char* name : {"message", "desc", "description"}) {
    std::optional<std::string> text = text_member(object, name);
    if (text && !text->empty()) return *text;
  }
  return {};
}

std::string describe_code(const nlohmann::json& object) {
  std::string code = text_member(object, "code").value_or("?");
  std::string words = failure_text(object);
  if (words.size() > 200) words.resize(200);
  return " (code " + code + (words.empty() ? "" : ": " + words) + ")";
}

}  // namespace cloudless::xiaomi_cloud
