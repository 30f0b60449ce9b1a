#include "command_line.h"

#include <CLI/CLI.hpp>
#include <iostream>

namespace conclave {

std::variant<CommandLine, int> ParseCommandLine(int argc, char** argv) {
  CLI::App cli{"conclave: a modular Matrix homeserver.", "conclave"};
  CommandLine c;
  cli.add_option("-c,--config", c.config_path,
                 "TOML config file (default: ./conclave.toml if present)");
  cli.add_option("--execute", c.execute,
                 "Run an admin command after start-up and print its output (repeatable; not run "
                 "again after an exec restart), e.g. --execute \"server uptime\"")
      ->allow_extra_args(false);
  cli.add_flag("-V,--version", c.version, "Print version, commit and build type, then exit");
  cli.add_flag("--check-config", c.check_config,
               "Load and validate the config (file and CONCLAVE_* environment), print the result "
               "and exit: 0 when valid, 2 when not. Nothing is bound or opened. A restart in "
               "place runs the new binary this way first and stays up if it fails");
  cli.add_flag("--print-admin-commands", c.print_admin_commands,
               "Print the reference of the admin commands (Markdown, docs/admin-commands.md) and "
               "exit; the modules start over a temporary database, not the configured one");
  cli.add_flag(
      "--watch", c.watch,
      "Dev builds: watch the module directory, libconclave_core.so and the executable, "
      "and when a build has finished writing them do what Ctrl+C does (reload the "
      "changed modules, or restart in place when core or main changed); a failed build "
      "reloads nothing. Ctrl+C keeps working. The config key `watch = true` does the same (a "
      "release build ignores the key with a warning)");
  cli.footer(
      "Signals: SIGTERM/SIGQUIT (Ctrl+\\) shut down; in dev builds SIGINT (Ctrl+C) and SIGUSR1 "
      "hot-reload changed modules (in release SIGINT shuts down); SIGUSR2 restarts in place "
      "(exec of the binary on disk, keeping the listening sockets); SIGHUP re-reads the config "
      "file and applies the settings that can change at runtime.\n"
      "Every config key can be overridden by the environment variable CONCLAVE_<KEY>.");
  try {
    cli.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << cli.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    std::cerr << "conclave: " << e.what() << "\nRun 'conclave --help' for usage.\n";
    return 2;
  }
  return c;
}

}  // namespace conclave
