// `cloudless keys …` hands over to cloudless-keys. The key commands need HTTPS, libarchive (with
// libxml2 and ICU), SQLite and libqrencode; linked into `cloudless` they were loaded by the daemon
// too, +2.4 MB resident for code it never runs (docs/build.md §9). In their own program they cost the
// daemon nothing, and `cloudless keys` still works as one command.
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "daemon/cli/commands.h"

namespace cloudless::cli {

namespace {

constexpr const char* kKeysProgram = "cloudless-keys";

// The folder of the running executable, from /proc/self/exe (argv[0] may be a bare name on PATH).
std::string own_directory() {
  char path[PATH_MAX];
  const ssize_t length = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (length <= 0) return {};
  const std::string self(path, static_cast<std::size_t>(length));
  const std::size_t slash = self.rfind('/');
  return slash == std::string::npos ? std::string{} : self.substr(0, slash);
}

}  // namespace

int run_keys_program(const std::string& installed_dir, const std::vector<std::string>& arguments) {
  std::vector<std::string> candidates;
  if (const std::string here = own_directory(); !here.empty()) candidates.push_back(here + "/" + kKeysProgram);
  candidates.push_back(installed_dir + "/" + kKeysProgram);

  for (const std::string& program : candidates) {
    if (::access(program.c_str(), X_OK) != 0) continue;
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(program.c_str()));
    for (const std::string& argument : arguments) argv.push_back(const_cast<char*>(argument.c_str()));
    argv.push_back(nullptr);
    std::fflush(nullptr);
    ::execv(program.c_str(), argv.data());
    std::fprintf(stderr, "cloudless: keys: cannot start %s: %s\n", program.c_str(), std::strerror(errno));
    return kExitFailure;
  }
  std::string looked;
  for (const std::string& program : candidates) looked += (looked.empty() ? "" : ", ") + program;
  std::fprintf(stderr, "cloudless: keys: cannot find the key commands' program (looked for %s)\n", looked.c_str());
  return kExitFailure;
}

}  // namespace cloudless::cli
