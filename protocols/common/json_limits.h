// Parsing JSON that comes from outside (MQTT payloads, device replies) with a bound on nesting.
// nlohmann's parser keeps its own stack, but dump(), comparisons and every walker of ours recurse:
// a payload nested 60,000 deep (120 KB of brackets) parses fine and then overflows the stack in the
// first dump() of a log line. No message we accept nests anywhere near kMaxJsonDepth.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "protocols/common/result.h"

namespace cloudless {

inline constexpr int kMaxJsonDepth = 32;

// The value, or why not: "malformed JSON (…)" or "JSON nested deeper than 32 levels". Containers
// beyond `max_depth` are never built, so memory stays bounded by the text's size.
Result<nlohmann::json> parse_untrusted_json(std::string_view text, int max_depth = kMaxJsonDepth);

}  // namespace cloudless
