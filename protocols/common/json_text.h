// JSON text written by hand where a DOM per message would cost more than the message: a string value
// appended as JSON writes it.
#pragma once

#include <string>
#include <string_view>

namespace cloudless {

// Appends `text` as a JSON string, quotes included, exactly as nlohmann's dump writes it (invalid
// UTF-8 replaced by U+FFFD). Printable ASCII without a quote or a backslash, what method names and
// timestamps are, is copied as it is; anything else goes through nlohmann's escaping.
void append_json_string(std::string& out, std::string_view text);

}  // namespace cloudless
