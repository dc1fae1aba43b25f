// Helpers for the device-kind unit tests: a listener that records what a device reports, a private
// state_dir, and a capture of what the device logs.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <initializer_list>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "daemon/model/device.h"

namespace cloudless::test {

// Every state (as published), availability change and description change, in order.
struct RecordingListener : model::DeviceListener {
  std::vector<nlohmann::json> states;
  std::vector<bool> availability;
  int descriptions = 0;
  void on_state(model::Device& device) override { states.push_back(device.state()); }
  void on_availability(model::Device& device) override { availability.push_back(device.online()); }
  void on_description_changed(model::Device&) override { ++descriptions; }
};

// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "cloudless-test") {
    std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Routes spdlog's default logger into a ring buffer for the life of this object ("<level> <text>").
struct LogCapture {
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(512);
  std::shared_ptr<spdlog::logger> previous = spdlog::default_logger();

  LogCapture() {
    auto logger = std::make_shared<spdlog::logger>("test", sink);
    logger->set_level(spdlog::level::debug);
    logger->set_pattern("%l %v");
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  // Lines (any level) containing `part`.
  int count(const std::string& part) const { return matching({part}, false); }
  // Lines at warning level or above containing every part.
  int warnings(std::initializer_list<std::string> parts) const { return matching(parts, true); }
  int warnings(const std::string& part) const { return matching({part}, true); }
  std::string text() const {
    std::string out;
    for (const std::string& line : sink->last_formatted()) out += line + "\n";
    return out;
  }

 private:
  int matching(std::initializer_list<std::string> parts, bool warnings_only) const {
    int n = 0;
    for (const std::string& line : sink->last_formatted()) {
      if (warnings_only && line.rfind("warning ", 0) != 0 && line.rfind("error ", 0) != 0) continue;
      bool all = true;
      for (const std::string& part : parts) all = all && line.find(part) != std::string::npos;
      if (all) ++n;
    }
    return n;
  }
};

}  // namespace cloudless::test
