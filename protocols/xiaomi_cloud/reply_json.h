// Small readers shared by the reply parsers: Xiaomi's JSON mixes numbers and digit strings for the
// same field (userId, home ids), and reports failures as {"code": n != 0, "message"/"desc": …}.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace cloudless::xiaomi_cloud {

// A string member, or a number member written in decimal; nullopt when absent or of another type.
std::optional<std::string> text_member(const nlohmann::json& object, std::string_view name);

// A non-empty decimal id ("12345" or 12345).
std::optional<std::string> id_member(const nlohmann::json& object, std::string_view name);

// The server's own words for a failure: "message", "desc" or "description", else "".
std::string failure_text(const nlohmann::json& object);

// " (code N: words)" for error sentences.
std::string describe_code(const nlohmann::json& object);

}  // namespace cloudless::xiaomi_cloud
