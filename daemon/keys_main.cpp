// cloudless-keys: the one-shot key commands (docs/keys.md), run as `cloudless keys …` (the daemon's
// executable hands over to this one: daemon/cli/keys_program.cpp) or directly. Its own program so
// that the daemon never loads the libraries only these commands need.
#include <cstdio>

#include <CLI/CLI.hpp>

#include "daemon/cli/commands.h"
#include "daemon/cli/parse_command_line.h"
#include "daemon/cli/keys_commands.h"

int main(int argc, char** argv) {
  using namespace cloudless::cli;
  CLI::App app{"get keys without the vendor app: miIO tokens and BLE bind keys (Xiaomi QR login or an app "
               "backup), Midea V3 token/key (MSmartHome account); one-shot, the daemon never talks to a cloud",
               "cloudless keys"};
  app.require_subcommand(1);
  app.set_version_flag("--version", CLOUDLESS_VERSION);
  const KeysCommand commands[] = {add_keys_xiaomi_command(app), add_keys_backup_command(app),
                                  add_keys_midea_command(app)};
  if (const auto exit_code = parse_command_line(app, argc, argv, "cloudless keys")) return *exit_code;
  for (const KeysCommand& command : commands) {
    if (*command.command) return command.run();
  }
  std::fprintf(stderr, "cloudless keys: no command given\n\n%s", app.help().c_str());
  return kExitUsage;
}
