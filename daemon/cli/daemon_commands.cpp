#include <cstdio>
#include <utility>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <spdlog/spdlog.h>

#include "daemon/app/app.h"
#include "daemon/cli/commands.h"
#include "daemon/app/logging.h"

namespace cloudless::cli {

namespace {
void print_errors(const config::LoadResult& loaded) {
  for (const auto& line : loaded.errors) std::fprintf(stderr, "%s\n", line.c_str());
}
}  // namespace

int check_config(const std::string& config_path) {
  const auto loaded = config::load_file(config_path);
  if (!loaded.config) {
    print_errors(loaded);
    std::fprintf(stderr, "%s: %zu problem(s)\n", config_path.c_str(), loaded.errors.size());
    return kExitConfig;
  }
  std::printf("%s: OK (%zu device(s))\n", config_path.c_str(), loaded.config->devices.size());
  return kExitOk;
}

int run_daemon(const std::string& config_path) {
#if defined(__GLIBC__)
  // All work runs on the io_context's thread; Paho's two threads only copy messages in and out.
  // glibc would give each of them a malloc arena of its own, 70-90 kB resident apiece for a few
  // small buffers. Set before Paho starts them.
  mallopt(M_ARENA_MAX, 1);
#endif
  auto loaded = config::load_file(config_path);
  if (!loaded.config) {
    // stderr, so that `systemctl status` shows why; 78 stops systemd's restart loop.
    print_errors(loaded);
    std::fprintf(stderr, "cloudless: not starting: %zu configuration problem(s)\n", loaded.errors.size());
    return kExitConfig;
  }
  setup_logging(loaded.config->log_level);
  try {
    Daemon daemon(std::move(*loaded.config));
    return daemon.run();
  } catch (const std::exception& error) {
    spdlog::critical("fatal: {}", error.what());
    return kExitFailure;
  }
}

}  // namespace cloudless::cli
