// Learned state kept in state_dir (never in the user's config): one small JSON file per device,
// e.g. the miIO did and model, and the lifetime energy counter. Writes are atomic (temp file, fsync,
// rename) and rate-limited, because the daemon runs for months on an SD card.
//
// state_dir may hold secrets (BLE tokens and bind keys), and whoever else can write to it must not
// be able to make the daemon hang, read elsewhere or lose what it learned. So: the directory is made
// 0750 whatever the umask, files 0600; no symlink is ever followed; a file that is not a regular
// file (a FIFO would block a plain open for ever), larger than kMaxStateFileSize, or not a JSON
// object is moved aside as `<file>.corrupt-<UTC time>` with a warning, never silently overwritten.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace cloudless {

// No state file of ours comes near this; anything bigger is not ours to parse.
inline constexpr std::size_t kMaxStateFileSize = 1024 * 1024;

// Creates `directory` (and missing parents) and makes sure it is 0750: a new one whatever the
// umask, an existing one of ours that others could enter is tightened. An error text, empty on success.
std::string ensure_state_dir(const std::string& directory);

// One state file, read without following links, without blocking and without reading more than
// kMaxStateFileSize.
struct StateFileText {
  enum class Status {
    missing,     // no such file: a first run
    ok,          // `text` holds the content
    set_aside,   // not a regular file, or too large: moved to `moved_to`
    unreadable,  // could not be opened or read (permissions, I/O): left where it is
  };
  Status status = Status::missing;
  std::string text;
  std::string problem;   // set_aside/unreadable: what was wrong, for the log line
  std::string moved_to;  // set_aside: the new name
};
StateFileText read_state_file(const std::string& path);

// Moves a bad state file aside as `<path>.corrupt-<UTC time>`; the new name, or nullopt when even
// that failed (then the file stays, and nothing overwrites it silently either: see StateFile).
std::optional<std::string> set_state_file_aside(const std::string& path);

// Where in its interval a state file's periodic writes fall, from the file's name: below `interval`,
// the same for a name every time, and spread out over names. Devices that start together would
// otherwise write together for ever, each write an fsync on the event loop's thread: on an SD card
// tens of milliseconds each, back to back.
std::chrono::milliseconds write_phase(std::string_view name, std::chrono::milliseconds interval);

// When a periodic write is next due after one made at `written`: the last moment no later than
// `written + interval` that lies on the file's phase (a multiple of `interval` plus `phase` since the
// clock's epoch). Never later than a plain interval would make it; urgent writes in between do not
// move the file off its place.
std::chrono::steady_clock::time_point next_write_slot(std::chrono::steady_clock::time_point written,
                                                      std::chrono::milliseconds phase,
                                                      std::chrono::milliseconds interval);

class StateFile {
 public:
  StateFile(std::string directory, std::string name,
            std::chrono::seconds min_interval = std::chrono::minutes(5));

  // The stored object, or an empty object when the file is missing or bad (logged; a bad file is
  // moved aside first, so the next write does not destroy it).
  nlohmann::json load();
  // Records `value`; writes it now when `urgent` or when min_interval has passed since the last write,
  // otherwise keeps it for a later save() or flush(). "Passed" is counted to the file's next slot
  // (next_write_slot), so files written together are not due together.
  void save(nlohmann::json value, bool urgent = false);
  // Whether save(value, false) would write now: until then a caller that saves often may skip
  // building the value, as long as it saves (or saves urgently) before it stops.
  bool due() const;
  // Writes what is pending, if anything.
  void flush();
  const std::string& path() const { return path_; }
  // This file's place in its interval (write_phase of its name).
  std::chrono::milliseconds phase() const { return phase_; }

 private:
  bool write_now(const nlohmann::json& value);

  std::string directory_;
  std::string path_;
  std::chrono::seconds min_interval_;
  std::chrono::milliseconds phase_;
  std::optional<std::chrono::steady_clock::time_point> next_due_;  // unset: never written
  std::optional<nlohmann::json> pending_;
  // load() found a bad file it could not move aside: never write over it.
  bool keep_off_ = false;
};

// Writes `text` to `path` atomically (mode 0600, links not followed). Returns an error text, empty
// on success.
std::string write_file_atomically(const std::string& path, const std::string& text);

}  // namespace cloudless
