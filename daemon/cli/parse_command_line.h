// The command-line parse both programs (cloudless, cloudless-keys) end their setup with: --help and
// --version answered, a parse error printed as one line plus the usage (exit 2, docs/contract.md
// "The binary").
#pragma once

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

namespace cloudless::cli {

// nullopt: parsed, go on with the chosen command. A value: the exit code to end with (help or version
// shown, or the usage error printed as "<program>: <reason>").
std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv, const std::string& program);

}  // namespace cloudless::cli
