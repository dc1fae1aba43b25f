#include "daemon/model/timestamp.h"

#include <ctime>

namespace cloudless {

std::string format_utc_iso8601(std::chrono::system_clock::time_point time) {
  // Every state message carries one, and those of the same second the same text: formatted once a
  // second (strftime and the calendar arithmetic were 1% of a plug poll's instructions).
  thread_local std::time_t formatted_second = 0;
  thread_local std::string formatted;
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  if (seconds == formatted_second && !formatted.empty()) return formatted;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  formatted_second = seconds;
  formatted.assign(text, n);
  return formatted;
}

}  // namespace cloudless
