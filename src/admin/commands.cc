// The entry points of the admin command tree: builds the tree for one command line from the
// groups' files and runs it.
#include "conclave/admin/commands.h"

#include "conclave/database/instance.h"
#include "conclave/service/homeserver.h"
#include "conclave/service/storage/globals.h"
#include "tree.h"

namespace conclave::admin {
namespace {

std::unique_ptr<CommandTree> BuildTree() {
  auto tree = std::make_unique<CommandTree>();
  AddServerCommands(*tree);
  AddModulesCommands(*tree);
  AddUsersCommands(*tree);
  AddRoomsCommands(*tree);
  AddDatabaseCommands(*tree);
  AddMediaCommands(*tree);
  AddSearchCommands(*tree);
  AddFederationCommands(*tree);
  AddDebugCommands(*tree);
  return tree;
}

}  // namespace

absl::StatusOr<core::CommandOutput> Execute(core::Server& server,
                                            const core::CommandRequest& request) {
  Environment environment;
  environment.server = &server;
  environment.homeserver = service::Instance();
  environment.database = database::Instance();
  environment.globals = service::GlobalsInstance();
  return Execute(environment, request);
}

absl::StatusOr<core::CommandOutput> Execute(const Environment& environment,
                                            const core::CommandRequest& request) {
  if (environment.server == nullptr) return absl::InvalidArgumentError("no server");
  std::unique_ptr<CommandTree> tree = BuildTree();
  Context context(environment, request);
  absl::StatusOr<Reply> reply = tree->Run(context, request.command_line);
  if (!reply.ok()) return reply.status();
  return reply->Render();
}

std::string CommandReference() { return BuildTree()->Markdown(); }

}  // namespace conclave::admin
