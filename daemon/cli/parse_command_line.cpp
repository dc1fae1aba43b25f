#include "daemon/cli/parse_command_line.h"

#include <cstdio>

#include "daemon/cli/commands.h"

namespace cloudless::cli {

std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv, const std::string& program) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: %s\n\n%s", program.c_str(), e.what(), app.help().c_str());
    return kExitUsage;
  }
  return std::nullopt;
}

}  // namespace cloudless::cli
