// The framework of the admin command tree: groups and commands on a CLI11 parser, the context a
// command runs in, running one command line, help, "did you mean" suggestions and the Markdown
// reference. Private to the admin module.
//
// A command group lives in its own file (server_commands.cc, …) and adds its commands with
// AddGroup() and AddCommand(), and their arguments through Command; the values parsed go to
// storage made with Make<T>() and are read by the command's handler when it runs. Trees are
// built per call (no static state). The parser is CLI11, which only tree.cc includes: the
// command files compile without its ~10k-line header.
#ifndef CONCLAVE_ADMIN_TREE_H_
#define CONCLAVE_ADMIN_TREE_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "conclave/admin/commands.h"
#include "conclave/core/command_slot.h"
#include "reply.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace conclave::admin {

// What a running command may use: the environment and the request. Valid for one command.
class Context {
 public:
  Context(const Environment& environment, const core::CommandRequest& request)
      : environment_(environment), request_(request) {}

  const Environment& environment() const { return environment_; }
  core::Server& server() const { return *environment_.server; }
  const core::CommandRequest& request() const { return request_; }
  // "by @alice:example.org", or "from the command line" when nobody in the admin room asked
  // (`--execute`, `admin_execute`): for the answers of commands that change things.
  std::string By() const;

  // The Homeserver and the Database, or kUnavailable when the module is not loaded.
  absl::StatusOr<service::Homeserver*> homeserver() const;
  absl::StatusOr<database::Database*> database() const;

  // Resolves USERNAME (a localpart or a full user id of this server) to the id of an existing
  // account. kNotFound "no user …" if there is none, kInvalidArgument if it is neither.
  absl::StatusOr<std::string> ResolveUser(std::string_view username) const;
  // Resolves ROOM (a room id or an alias) to the id of an existing room. kNotFound if unknown,
  // kInvalidArgument if it is neither.
  absl::StatusOr<std::string> ResolveRoom(std::string_view room) const;

 private:
  const Environment& environment_;
  const core::CommandRequest& request_;
};

using Handler = std::function<absl::StatusOr<Reply>(Context&)>;

// A group of commands in a CommandTree (`users`, `rooms alias`). A handle: copyable, valid as
// long as its tree.
class Group {
 private:
  friend class CommandTree;
  explicit Group(CLI::App* app) : app_(app) {}
  CLI::App* app_;
};

// A command of a CommandTree, to declare its arguments. Each value parsed is written to the
// pointer given, which must live as long as the tree (CommandTree::Make). A handle: copyable,
// valid as long as its tree; thread-compatible like the tree.
class Command {
 public:
  // Adds a positional (`name` in capitals, e.g. "ROOM") or an option ("-r,--reason").
  Command& Arg(const std::string& name, std::string* value, const std::string& description);
  // The same for one or more words (a positional takes the rest of the line).
  Command& Arg(const std::string& name, std::vector<std::string>* value,
               const std::string& description);
  // The same for a number; a non-numeric value is a parse error naming `name`.
  Command& Arg(const std::string& name, size_t* value, const std::string& description);
  // Adds the flag `name` ("-f,--force"): `*value` becomes true when it is given.
  Command& Flag(const std::string& name, bool* value, const std::string& description);
  // Makes the argument added last required.
  Command& Required();
  // Refuses a value of the argument added last that is not one of `choices`.
  Command& OneOf(std::vector<std::string> choices);
  // Names the value of the option added last in the help ("--max-problems N").
  Command& Placeholder(const std::string& name);

 private:
  friend class CommandTree;
  explicit Command(CLI::App* app) : app_(app) {}
  CLI::App* app_;
  CLI::Option* last_ = nullptr;
};

// Thread-compatible; one per command line.
class CommandTree {
 public:
  CommandTree();
  ~CommandTree();
  CommandTree(const CommandTree&) = delete;
  CommandTree& operator=(const CommandTree&) = delete;

  // Adds the group `name` (kebab-case) at the top, or under the group `parent` (`rooms alias`).
  Group AddGroup(const std::string& name, const std::string& description);
  Group AddGroup(const std::string& name, const std::string& description, Group parent);
  // Adds the command `name` (kebab-case) to `group`; `handler` runs when a command line selects
  // it, after its arguments were parsed. Declare its arguments on the returned Command.
  Command AddCommand(Group group, const std::string& name, const std::string& description,
                     Handler handler);
  // Storage for parsed values that lives as long as the tree.
  template <typename T>
  T* Make() {
    auto value = std::make_shared<T>();
    storage_.push_back(value);
    return value.get();
  }

  // Parses `command_line` and runs the selected command. Errors as admin::Execute().
  absl::StatusOr<Reply> Run(Context& context, std::string_view command_line);
  // The reference of every command, as Markdown.
  std::string Markdown() const;

 private:
  // The help text of `app` (the root, a group or a command), with its usage line.
  std::string HelpOf(const CLI::App* app) const;
  // kInvalidArgument: `word` is not a command under `parent`; names the nearest one.
  absl::Status Unknown(const CLI::App* parent, std::string_view word) const;
  absl::StatusOr<Reply> Help(const std::vector<std::string>& path, bool markdown) const;

  std::unique_ptr<CLI::App> root_;
  std::vector<std::shared_ptr<void>> storage_;
  std::map<const CLI::App*, Handler> handlers_;
};

// The groups, each in its own file.
void AddServerCommands(CommandTree& tree);
void AddModulesCommands(CommandTree& tree);
void AddUsersCommands(CommandTree& tree);
void AddRoomsCommands(CommandTree& tree);
void AddDatabaseCommands(CommandTree& tree);
void AddMediaCommands(CommandTree& tree);
void AddSearchCommands(CommandTree& tree);
void AddFederationCommands(CommandTree& tree);
void AddDebugCommands(CommandTree& tree);

}  // namespace conclave::admin

#endif  // CONCLAVE_ADMIN_TREE_H_
