// The executable's command line (CLI11 stays in command_line.cc).
#ifndef CONCLAVE_MAIN_COMMAND_LINE_H_
#define CONCLAVE_MAIN_COMMAND_LINE_H_

#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace conclave {

// What `conclave [options]` asked for. A value type.
struct CommandLine {
  std::optional<std::string> config_path;  // -c/--config
  std::vector<std::string> execute;        // --execute, in order
  bool version = false;                    // -V/--version
  bool check_config = false;               // --check-config
  bool print_admin_commands = false;       // --print-admin-commands
  bool watch = false;                      // --watch (dev builds)
};

// Parses argv. Returns the options, or the exit status when parsing ends the process: 0 after
// printing --help to stdout, 2 after printing a usage error to stderr.
std::variant<CommandLine, int> ParseCommandLine(int argc, char** argv);

}  // namespace conclave

#endif  // CONCLAVE_MAIN_COMMAND_LINE_H_
