#include "daemon/devices/state_store.h"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <filesystem>
#include <functional>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

#include <spdlog/spdlog.h>

namespace cloudless {

namespace {

constexpr mode_t kStateDirMode = 0750;

std::string errno_text() { return std::strerror(errno); }

// Closes a descriptor when it goes out of scope.
class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  ~Descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

std::string utc_stamp() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  const std::size_t n = std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &utc);
  return std::string(text, n);
}

}  // namespace

std::string ensure_state_dir(const std::string& directory) {
  const std::filesystem::path path(directory);
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  if (::mkdir(directory.c_str(), kStateDirMode) == 0) {
    // mkdir's mode passes through the umask: set it outright.
    if (::chmod(directory.c_str(), kStateDirMode) != 0) return "cannot set the mode of " + directory + ": " + errno_text();
    return {};
  }
  if (errno != EEXIST) return "cannot create " + directory + ": " + errno_text();
  struct stat info {};
  if (::stat(directory.c_str(), &info) != 0) return "cannot stat " + directory + ": " + errno_text();
  if (!S_ISDIR(info.st_mode)) return directory + " exists and is not a directory";
  if (info.st_uid == ::geteuid() && (info.st_mode & 0027) != 0) {
    if (::chmod(directory.c_str(), info.st_mode & ~static_cast<mode_t>(0027) & 07777) != 0)
      return "cannot tighten the mode of " + directory + ": " + errno_text();
    spdlog::info("state_dir: {} was open to others; it is now {:o}", directory, info.st_mode & 0750);
  }
  return {};
}

std::optional<std::string> set_state_file_aside(const std::string& path) {
  std::string target = path + ".corrupt-" + utc_stamp();
  // Two bad files within one second: do not replace the first one set aside.
  for (int n = 1; n < 100 && ::access(target.c_str(), F_OK) == 0; ++n)
    target = path + ".corrupt-" + utc_stamp() + "-" + std::to_string(n);
  if (::rename(path.c_str(), target.c_str()) != 0) return std::nullopt;
  return target;
}

StateFileText read_state_file(const std::string& path) {
  StateFileText result;
  const auto set_aside = [&](std::string problem) {
    result.problem = std::move(problem);
    if (auto moved = set_state_file_aside(path)) {
      result.status = StateFileText::Status::set_aside;
      result.moved_to = *moved;
    } else {
      result.status = StateFileText::Status::unreadable;
      result.problem += "; could not move it aside: " + errno_text();
    }
    return result;
  };

  // O_NOFOLLOW: a symlink planted in state_dir is not followed. O_NONBLOCK: opening a FIFO returns
  // at once instead of waiting for a writer that never comes.
  Descriptor fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return result;
    if (errno == ELOOP) return set_aside("it is a symbolic link");
    result.status = StateFileText::Status::unreadable;
    result.problem = "cannot open: " + errno_text();
    return result;
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) {
    result.status = StateFileText::Status::unreadable;
    result.problem = "cannot stat: " + errno_text();
    return result;
  }
  if (!S_ISREG(info.st_mode)) return set_aside("it is not a regular file");
  if (static_cast<std::uintmax_t>(info.st_size) > kMaxStateFileSize)
    return set_aside("it is " + std::to_string(info.st_size) + " bytes, more than a state file ever holds");

  std::string text;
  char buffer[16384];
  while (true) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      result.status = StateFileText::Status::unreadable;
      result.problem = "cannot read: " + errno_text();
      return result;
    }
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
    if (text.size() > kMaxStateFileSize) return set_aside("it grew beyond " + std::to_string(kMaxStateFileSize) + " bytes");
  }
  result.status = StateFileText::Status::ok;
  result.text = std::move(text);
  return result;
}

std::string write_file_atomically(const std::string& path, const std::string& text) {
  const std::string temp = path + ".tmp";
  // A temp file left by a crash, or a link planted in its place, goes first; O_EXCL|O_NOFOLLOW then
  // guarantees we write a new regular file of our own.
  if (::unlink(temp.c_str()) != 0 && errno != ENOENT) return "cannot remove " + temp + ": " + errno_text();
  Descriptor fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.get() < 0) return "cannot create " + temp + ": " + errno_text();
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd.get(), text.data() + written, text.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string error = errno_text();
      ::unlink(temp.c_str());
      return "cannot write " + temp + ": " + error;
    }
    written += static_cast<std::size_t>(n);
  }
  // fsync before rename: after a power cut we find either the old file or the new one, never a torn one.
  if (::fsync(fd.get()) != 0 || ::close(fd.release()) != 0) {
    const std::string error = errno_text();
    ::unlink(temp.c_str());
    return "cannot sync " + temp + ": " + error;
  }
  // rename replaces `path` itself, a link included: it never writes through one.
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string error = errno_text();
    ::unlink(temp.c_str());
    return "cannot rename " + temp + ": " + error;
  }
  return {};
}

std::chrono::milliseconds write_phase(std::string_view name, std::chrono::milliseconds interval) {
  if (interval.count() <= 0) return std::chrono::milliseconds(0);
  const auto spread = static_cast<std::size_t>(interval.count());
  return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(std::hash<std::string_view>{}(name) % spread));
}

std::chrono::steady_clock::time_point next_write_slot(std::chrono::steady_clock::time_point written,
                                                      std::chrono::milliseconds phase,
                                                      std::chrono::milliseconds interval) {
  const auto limit = written + interval;
  if (interval.count() <= 0) return limit;
  const auto since_epoch = std::chrono::duration_cast<std::chrono::milliseconds>(limit.time_since_epoch());
  const auto past_slot = ((since_epoch - phase) % interval + interval) % interval;
  return limit - past_slot;
}

StateFile::StateFile(std::string directory, std::string name, std::chrono::seconds min_interval)
    : directory_(std::move(directory)),
      path_(directory_ + "/" + name + ".json"),
      min_interval_(min_interval),
      phase_(write_phase(name, min_interval)) {}

nlohmann::json StateFile::load() {
  StateFileText file = read_state_file(path_);
  using Status = StateFileText::Status;
  if (file.status == Status::missing) return nlohmann::json::object();
  if (file.status == Status::set_aside) {
    spdlog::warn("state file {}: {}; moved it aside to {} and starting afresh", path_, file.problem, file.moved_to);
    return nlohmann::json::object();
  }
  if (file.status == Status::unreadable) {
    spdlog::error("state file {}: {}; leaving it as it is and keeping what is learned in memory only", path_,
                  file.problem);
    keep_off_ = true;
    return nlohmann::json::object();
  }
  nlohmann::json value = nlohmann::json::parse(file.text, nullptr, /*allow_exceptions=*/false);
  if (!value.is_discarded() && value.is_object()) return value;
  if (auto moved = set_state_file_aside(path_)) {
    spdlog::warn("state file {} is not a JSON object; moved it aside to {} and starting afresh", path_, *moved);
  } else {
    spdlog::error("state file {} is not a JSON object and cannot be moved aside ({}); it is left as it is", path_,
                  errno_text());
    keep_off_ = true;
  }
  return nlohmann::json::object();
}

bool StateFile::due() const { return !next_due_ || std::chrono::steady_clock::now() >= *next_due_; }

void StateFile::save(nlohmann::json value, bool urgent) {
  if (urgent || due()) {
    pending_.reset();
    write_now(value);
    return;
  }
  pending_ = std::move(value);
}

void StateFile::flush() {
  if (!pending_) return;
  write_now(*pending_);
  pending_.reset();
}

bool StateFile::write_now(const nlohmann::json& value) {
  next_due_ = next_write_slot(std::chrono::steady_clock::now(), phase_, min_interval_);
  if (keep_off_) return false;
  if (const std::string problem = ensure_state_dir(directory_); !problem.empty()) {
    spdlog::error("state_dir: {}", problem);
    return false;
  }
  const std::string error = write_file_atomically(path_, value.dump(2) + "\n");
  if (!error.empty()) {
    spdlog::error("state_dir: {}", error);
    return false;
  }
  return true;
}

}  // namespace cloudless
