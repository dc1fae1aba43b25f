// How the model writes a moment for people and programs: a device's last_seen, when a key was stored.
#pragma once

#include <chrono>
#include <string>

namespace cloudless {

// "2026-11-22T10:15:03Z": ISO 8601, UTC, whole seconds.
std::string format_utc_iso8601(std::chrono::system_clock::time_point time);

}  // namespace cloudless
