#include "protocols/common/json_limits.h"

namespace cloudless {

Result<nlohmann::json> parse_untrusted_json(std::string_view text, int max_depth) {
  using json = nlohmann::json;
  bool too_deep = false;
  // `depth` counts the containers around the one starting: 0 for the outermost. Returning false
  // makes the parser skip the container (it still reads it, but keeps nothing of it).
  const json::parser_callback_t limit_depth = [&too_deep, max_depth](int depth, json::parse_event_t event, json&) {
    const bool opens = event == json::parse_event_t::object_start || event == json::parse_event_t::array_start;
    if (!opens || depth < max_depth) return true;
    too_deep = true;
    return false;
  };
  json value;
  try {
    value = json::parse(text.begin(), text.end(), limit_depth, /*allow_exceptions=*/true);
  } catch (const json::parse_error& e) {
    return parse_error("malformed JSON", e.byte > 0 ? e.byte - 1 : 0);
  } catch (const json::exception&) {
    // Valid syntax the library still refuses, e.g. a number beyond double's range (1e999 throws
    // out_of_range.406): from a hostile peer it must be an error, not an exception through the loop.
    return parse_error("JSON number out of range");
  }
  if (too_deep) return parse_error("JSON nested deeper than " + std::to_string(max_depth) + " levels");
  return value;
}

}  // namespace cloudless
