// Learned state kept in state_dir (never in the user's config): one small JSON file per device,
// e.g. the miIO did and model, and the lifetime energy counter. Writes are atomic (temp file, fsync,
// rename) and rate-limited, because the daemon runs for months on an SD card.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace cloudless {

class StateFile {
 public:
  StateFile(std::string directory, std::string name,
            std::chrono::seconds min_interval = std::chrono::minutes(5));

  // The stored object, or an empty object when the file is missing or unreadable (logged).
  nlohmann::json load();
  // Records `value`; writes it now when `urgent` or when min_interval has passed since the last write,
  // otherwise keeps it for a later save() or flush().
  void save(nlohmann::json value, bool urgent = false);
  // Writes what is pending, if anything.
  void flush();
  const std::string& path() const { return path_; }

 private:
  bool write_now(const nlohmann::json& value);

  std::string directory_;
  std::string path_;
  std::chrono::seconds min_interval_;
  std::optional<std::chrono::steady_clock::time_point> last_write_;
  std::optional<nlohmann::json> pending_;
};

// Writes `text` to `path` atomically. Returns an error text, empty on success.
std::string write_file_atomically(const std::string& path, const std::string& text);

}  // namespace cloudless
