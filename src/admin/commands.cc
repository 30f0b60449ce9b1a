#include "conclave/admin/commands.h"

#include <CLI/CLI.hpp>
#include <sstream>

#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "conclave/core/build_info.h"
#include "conclave/core/module_host.h"
#include "conclave/core/server.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/globals.h"

namespace conclave::admin {
namespace {

std::string FormatUtc(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", t, absl::UTCTimeZone());
}

std::string Uptime(core::Server& server) {
  absl::Duration up = absl::Trunc(absl::Now() - server.start_time(), absl::Seconds(1));
  std::string out = core::StrCat("up ", absl::FormatDuration(up), " (since ",
                                 FormatUtc(server.start_time()), ")");
  if (auto* globals = service::GlobalsInstance()) {
    core::StrAppend(&out, "; database first started ", FormatUtc(globals->first_start()));
  }
  return out;
}

std::string BuildInfo(core::Server& server) {
  std::string out =
      core::StrCat("conclave ", core::Version(), "\ncommit: ", core::Commit(),
                   "\nbuild: ", core::BuildType(), "\ncompiler: ", core::Compiler(), "\n");
  if (auto* host = server.modules()) {
    for (const auto& m : host->List()) {
      core::StrAppend(&out, "module ", m.name, ": build id ", m.build_id, "\n");
    }
  }
  return out;
}

std::string ModulesList(core::Server& server) {
  if (server.modules() == nullptr) return "no module host\n";
  std::string out = "name      gen  build id      loaded at                 depends on\n";
  for (const auto& m : server.modules()->List()) {
    std::string name = m.name;
    name.resize(std::max<size_t>(name.size(), 9), ' ');
    std::string gen = core::StrCat(m.generation);
    gen.resize(std::max<size_t>(gen.size(), 4), ' ');
    core::StrAppend(&out, name, " ", gen, " ", m.build_id.substr(0, 12), "  ",
                    FormatUtc(m.loaded_at), "  ",
                    m.dependencies.empty() ? "-" : absl::StrJoin(m.dependencies, ", "),
                    m.reloadable ? "" : " (not reloadable)", "\n");
  }
  return out;
}

// Plain text shown as preformatted HTML.
core::CommandOutput Preformatted(std::string text) {
  std::string html = "<pre><code>";
  for (char c : text) {
    switch (c) {
      case '<':
        html += "&lt;";
        break;
      case '>':
        html += "&gt;";
        break;
      case '&':
        html += "&amp;";
        break;
      default:
        html += c;
    }
  }
  html += "</code></pre>";
  return core::CommandOutput{std::move(text), std::move(html)};
}

absl::StatusOr<std::string> Run(core::Server& server, std::string_view command_line);

}  // namespace

absl::StatusOr<core::CommandOutput> Execute(core::Server& server,
                                            const core::CommandRequest& request) {
  auto text = Run(server, request.command_line);
  if (!text.ok()) return text.status();
  return Preformatted(*std::move(text));
}

namespace {

absl::StatusOr<std::string> Run(core::Server& server, std::string_view command_line) {
  std::string line(absl::StripAsciiWhitespace(std::string(command_line)));
  CLI::App app{"Administer the conclave server.", "!admin"};
  app.require_subcommand(1, 1);
  app.fallthrough(false);
  std::string result;

  auto* server_cmd = app.add_subcommand("server", "Server status and control");
  server_cmd->require_subcommand(1, 1);
  server_cmd->add_subcommand("uptime", "How long the server has been running")->callback([&] {
    result = Uptime(server);
  });
  server_cmd->add_subcommand("build-info", "Version, commit, build type, module build ids")
      ->callback([&] { result = BuildInfo(server); });
  server_cmd->add_subcommand("shutdown", "Shut the server down gracefully")->callback([&] {
    server.RequestShutdown();
    result = "shutting down";
  });

  auto* modules_cmd = app.add_subcommand("modules", "Loaded modules and hot reload");
  modules_cmd->require_subcommand(1, 1);
  modules_cmd->add_subcommand("list", "Name, generation, build id, load time, dependencies")
      ->callback([&] { result = ModulesList(server); });
  std::vector<std::string> reload_names;
  auto* reload = modules_cmd->add_subcommand(
      "reload", "Reload changed modules, or the NAMEs given, and their dependents (dev only)");
  reload->add_option("NAME", reload_names, "Modules to reload even if unchanged");
  absl::Status reload_status;
  reload->callback([&] {
    if (server.modules() == nullptr) {
      reload_status = absl::FailedPreconditionError("no module host");
      return;
    }
    reload_status = server.modules()->RequestReload(reload_names);
    result = reload_names.empty()
                 ? "reload of changed modules requested; the server log reports the outcome"
                 : core::StrCat("reload of ", absl::StrJoin(reload_names, ", "),
                                " requested; the server log reports the outcome");
  });

  try {
    app.parse(line, /*program_name_included=*/false);
  } catch (const CLI::CallForHelp&) {
    return app.help();
  } catch (const CLI::CallForAllHelp&) {
    return app.help("", CLI::AppFormatMode::All);
  } catch (const CLI::ParseError& e) {
    std::string usage = app.help();
    return absl::InvalidArgumentError(core::StrCat(e.what(), "\n\n", usage));
  }
  if (!reload_status.ok()) return reload_status;
  return result;
}

}  // namespace
}  // namespace conclave::admin
