#include "daemon/model/json_excerpt.h"

namespace cloudless::model {

std::string json_excerpt(const nlohmann::json& value, std::size_t max_chars) {
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() <= max_chars) return text;
  std::size_t cut = max_chars;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // not inside a character
  const std::size_t total = text.size();
  text.resize(cut);
  text += "… (" + std::to_string(total) + " bytes)";
  return text;
}

}  // namespace cloudless::model
