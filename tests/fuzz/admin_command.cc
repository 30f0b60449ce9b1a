// Fuzz target: admin commands as typed in the admin room — the intake (ParseAdminCommand:
// `!admin` and mention prefixes, fenced bodies), the command tree (CLI11 parsing, help,
// "did you mean" suggestions, argument checks) and the rendering and truncation of the answer.
//
// The commands run for real, through admin::Execute, against an Environment with a core::Server
// and nothing else: no Homeserver, no Database, no module host, no restart or shutdown hook, and
// an executable path that does not exist. Every command line is parsed and dispatched as in
// production, and a command's handler runs up to the point where it needs a module, which
// answers kUnavailable or kFailedPrecondition. So nothing can change state or touch the disk
// (no accounts, no rooms, no backups, no restart), inputs are independent of each other and
// each run takes microseconds. What needs a database is covered by tests/admin.
//
// Input: the message's `body`, then optionally a NUL byte and its `formatted_body` (HTML). A
// message that is not a command runs as a command line (`--execute`): first line the command,
// the rest its body. Checks: the intake's output is trimmed, one line; the command answers OK
// or a documented error code (never kInternal/kUnknown); the HTML answer escapes everything the
// user typed (only the renderer's own tags remain); TruncateNotice keeps the JSON of a notice
// within its limit, never splitting a UTF-8 sequence.
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "admin_room_impl.h"
#include "conclave/admin/commands.h"
#include "conclave/core/command_slot.h"
#include "conclave/core/config.h"
#include "conclave/core/log.h"
#include "conclave/core/server.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/admin_room/admin_room.h"
#include "conclave/service/protocol/canonical_json.h"
#include "fuzz_check.h"

namespace conclave::fuzz {
namespace {

constexpr char kBot[] = "@conclave:example.org";

// jemalloc's mallctl as `server memory-usage` sees it: not available.
int NoMallctl(const char*, void*, size_t*, void*, size_t) { return 2; /* ENOENT */ }

core::Server& TheServer() {
  // Built once, never destroyed (a fuzz target runs until the process exits).
  static core::Server* server = [] {
    core::Config config;
    config.server_name = "example.org";
    config.database_path = "/nonexistent/conclave-fuzz/db";
    config.database_backup_path = "/nonexistent/conclave-fuzz/backups";
    config.admin_execute = {"server uptime"};
    return new core::Server(config, "release");
  }();
  return *server;
}

// The HTML of an answer with the renderer's own tags taken out: what is left came from text and
// must have been escaped (no '<' or '>' left).
bool OnlyRendererTags(std::string_view html) {
  static constexpr std::string_view kTags[] = {
      "<p>",     "</p>",     "<br>",    "<pre>",    "<code>",  "</code>",  "</pre>",
      "<table>", "</table>", "<thead>", "</thead>", "<tbody>", "</tbody>", "<tr>",
      "</tr>",   "<th>",     "</th>",   "<td>",     "</td>",   "<em>",     "</em>"};
  std::string text;
  for (size_t i = 0; i < html.size();) {
    bool tag = false;
    for (std::string_view t : kTags) {
      if (html.substr(i, t.size()) == t) {
        i += t.size();
        tag = true;
        break;
      }
    }
    if (!tag) text.push_back(html[i++]);
  }
  return text.find_first_of("<>") == std::string::npos;
}

size_t JsonStringSize(const std::string& s) {
  return boost::json::serialize(boost::json::string(s)).size() - 2;  // without the quotes
}

void CheckTruncate(std::string plain, std::string html, size_t limit) {
  const bool was_utf8 = service::IsValidUtf8(plain);
  service::TruncateNotice(plain, html, limit);
  FUZZ_CHECK(JsonStringSize(plain) + JsonStringSize(html) <= limit,
             core::StrCat("limit ", limit, ": ", Printable(plain)));
  if (was_utf8) FUZZ_CHECK(service::IsValidUtf8(plain), Printable(plain));
}

void Run(const core::CommandRequest& request, size_t truncate_limit) {
  admin::Environment environment;
  environment.server = &TheServer();
  environment.executable_path = "/nonexistent/conclave-fuzz/conclave";
  environment.mallctl = NoMallctl;
  absl::StatusOr<core::CommandOutput> output = admin::Execute(environment, request);
  // `debug change-log-level` really changes it: back to quiet for the next input.
  (void)core::SetLogLevel("off");
  if (!output.ok()) {
    const absl::StatusCode code = output.status().code();
    FUZZ_CHECK(
        code == absl::StatusCode::kInvalidArgument || code == absl::StatusCode::kUnavailable ||
            code == absl::StatusCode::kFailedPrecondition || code == absl::StatusCode::kNotFound,
        core::StrCat(Printable(request.command_line), ": ", output.status().ToString()));
    return;
  }
  FUZZ_CHECK(!output->plain.empty(), Printable(request.command_line));
  FUZZ_CHECK(OnlyRendererTags(output->html),
             core::StrCat(Printable(request.command_line), " answered ", Printable(output->html)));
  CheckTruncate(output->plain, output->html, service::kMaxNoticeBytes);
  CheckTruncate(output->plain, output->html, truncate_limit);
}

}  // namespace
}  // namespace conclave::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)conclave::core::SetLogLevel("off");
  conclave::fuzz::TheServer();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace conclave;  // NOLINT: a fuzz target's entry point
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string_view body = input.substr(0, nul);
  const std::string_view formatted =
      nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);
  // A small limit makes TruncateNotice cut most answers; 200 bytes hold its note.
  const size_t truncate_limit = 200 + size % 2000;

  std::optional<service::ParsedAdminCommand> command =
      service::ParseAdminCommand(body, formatted, fuzz::kBot, service::kAdminBotDisplayName);
  core::CommandRequest request;
  request.invoker = "@root:example.org";
  if (command) {
    const std::string& line = command->command_line;
    FUZZ_CHECK(line.find('\n') == std::string::npos, fuzz::Printable(line));
    FUZZ_CHECK(line.empty() || (line.front() != ' ' && line.back() != ' '), fuzz::Printable(line));
    request.command_line = command->command_line;
    request.body = command->body;
  } else {
    // Not a command in the room: the same text as `--execute` would run it.
    const size_t nl = body.find('\n');
    request.command_line = std::string(body.substr(0, nl));
    if (nl != std::string_view::npos) request.body = std::string(body.substr(nl + 1));
  }
  fuzz::Run(request, truncate_limit);
  return 0;
}
