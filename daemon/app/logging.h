// Logging: spdlog to stderr. Under journald (JOURNAL_STREAM set) lines carry sd-daemon "<N>" priority
// prefixes and no timestamp, so `journalctl -p warning` works and nothing is written twice.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cloudless {

void setup_logging(std::string_view level);
// "trace" … "error" (also "warn"); nullopt for anything else.
std::optional<int> parse_log_level(std::string_view level);
void set_log_level(std::string_view level);

}  // namespace cloudless
