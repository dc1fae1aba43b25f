// `cloudless keys …`: one-shot commands that get the keys the daemon needs (miIO tokens, BLE bind keys,
// Midea V3 token/key) without the vendor app, Python tools or an HTTPS proxy (docs/keys.md). Never
// used at run time: the daemon itself talks to no cloud.
//
// Each subcommand declares its own options (CLI11) and returns how to run it, so main.cpp only lists
// them and each command lives in one file.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace cloudless::cli {

struct KeysCommand {
  CLI::App* command = nullptr;  // parsed: run it
  std::function<int()> run;     // the exit code (commands.h kExit*)
};

KeysCommand add_keys_xiaomi_command(CLI::App& keys);  // keys_xiaomi_command.cpp: QR login, devices, bind keys
KeysCommand add_keys_backup_command(CLI::App& keys);  // keys_backup_command.cpp: Mi Home app backups
KeysCommand add_keys_midea_command(CLI::App& keys);   // keys_midea_command.cpp: MSmartHome cloud token/key

}  // namespace cloudless::cli
