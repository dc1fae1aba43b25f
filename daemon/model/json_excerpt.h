// A JSON value as a bounded piece of text for log lines and error answers. A /set payload may be
// up to the MQTT size limit (64 KiB): quoting it whole would turn one bad command into a 64 KiB
// journal line, and a flood of them into megabytes.
#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

namespace cloudless::model {

// Compact JSON text, cut to at most `max_chars` bytes (on a UTF-8 character boundary) with "…"
// and the full length appended when cut. Never throws: invalid UTF-8 is replaced.
std::string json_excerpt(const nlohmann::json& value, std::size_t max_chars = 200);

}  // namespace cloudless::model
