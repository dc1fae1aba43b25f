#include "daemon/state_store.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include <spdlog/spdlog.h>

namespace cloudless {

std::string write_file_atomically(const std::string& path, const std::string& text) {
  const std::string temp = path + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return "cannot create " + temp + ": " + std::strerror(errno);
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string error = std::strerror(errno);
      ::close(fd);
      ::unlink(temp.c_str());
      return "cannot write " + temp + ": " + error;
    }
    written += static_cast<std::size_t>(n);
  }
  // fsync before rename: after a power cut we find either the old file or the new one, never a torn one.
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    ::unlink(temp.c_str());
    return "cannot sync " + temp + ": " + std::strerror(errno);
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string error = std::strerror(errno);
    ::unlink(temp.c_str());
    return "cannot rename " + temp + ": " + error;
  }
  return {};
}

StateFile::StateFile(std::string directory, std::string name, std::chrono::seconds min_interval)
    : directory_(std::move(directory)), path_(directory_ + "/" + name + ".json"), min_interval_(min_interval) {}

nlohmann::json StateFile::load() {
  std::ifstream in(path_);
  if (!in) return nlohmann::json::object();
  std::stringstream text;
  text << in.rdbuf();
  auto value = nlohmann::json::parse(text.str(), nullptr, false);
  if (value.is_discarded() || !value.is_object()) {
    spdlog::warn("state file {} is not a JSON object; starting afresh", path_);
    return nlohmann::json::object();
  }
  return value;
}

void StateFile::save(nlohmann::json value, bool urgent) {
  const auto now = std::chrono::steady_clock::now();
  const bool due = !last_write_ || now - *last_write_ >= min_interval_;
  if (urgent || due) {
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
  last_write_ = std::chrono::steady_clock::now();
  std::error_code ec;
  std::filesystem::create_directories(directory_, ec);
  const std::string error = write_file_atomically(path_, value.dump(2) + "\n");
  if (!error.empty()) {
    spdlog::error("state_dir: {}", error);
    return false;
  }
  return true;
}

}  // namespace cloudless
