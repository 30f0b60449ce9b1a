#include "tree.h"

#include <CLI/CLI.hpp>
#include <algorithm>

#include "absl/strings/cord.h"
#include "absl/strings/str_join.h"
#include "conclave/core/server.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/homeserver.h"
#include "conclave/service/protocol/identifiers.h"
#include "conclave/service/rooms/rooms.h"
#include "format.h"

namespace conclave::admin {
namespace {

constexpr char kRootName[] = "!admin";
constexpr char kGroups[] = "Groups";
constexpr char kCommands[] = "Commands";

std::vector<const CLI::App*> Children(const CLI::App* app) {
  return app->get_subcommands([](const CLI::App*) { return true; });
}

const CLI::App* Child(const CLI::App* app, std::string_view name) {
  for (const CLI::App* child : Children(app)) {
    if (child->get_name() == name) return child;
  }
  return nullptr;
}

// Every command (leaf) below `app`, depth first, in the order they were added.
void AddLeaves(const CLI::App* app, std::vector<const CLI::App*>* out) {
  for (const CLI::App* child : Children(app)) {
    if (Children(child).empty()) {
      out->push_back(child);
    } else {
      AddLeaves(child, out);
    }
  }
}
std::vector<const CLI::App*> Leaves(const CLI::App* app) {
  std::vector<const CLI::App*> out;
  AddLeaves(app, &out);
  return out;
}

std::vector<std::string> ChildNames(const CLI::App* app) {
  std::vector<std::string> names;
  for (const CLI::App* child : Children(app)) names.push_back(child->get_name());
  return names;
}

// "users create-user", from below the root.
std::string PathOf(const CLI::App* app) {
  std::vector<std::string> names;
  for (; app != nullptr && app->get_parent() != nullptr; app = app->get_parent()) {
    names.push_back(app->get_name());
  }
  std::reverse(names.begin(), names.end());
  return absl::StrJoin(names, " ");
}

// The positionals and options of `app` a user types (not --help).
std::vector<const CLI::Option*> Arguments(const CLI::App* app) {
  return app->get_options([app](const CLI::Option* option) {
    return option != app->get_help_ptr() && option != app->get_help_all_ptr() &&
           !option->get_group().empty();
  });
}

std::string MarkdownCell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string Context::By() const {
  return request_.invoker.empty() ? std::string("from the command line")
                                  : core::StrCat("by ", request_.invoker);
}

absl::StatusOr<service::Homeserver*> Context::homeserver() const {
  if (environment_.homeserver == nullptr) {
    return absl::UnavailableError("the service module is not loaded");
  }
  return environment_.homeserver;
}

absl::StatusOr<database::Database*> Context::database() const {
  if (environment_.database == nullptr) {
    return absl::UnavailableError("the database module is not loaded");
  }
  return environment_.database;
}

absl::StatusOr<std::string> Context::ResolveUser(std::string_view username) const {
  auto hs = homeserver();
  if (!hs.ok()) return hs.status();
  const std::string& server_name = (*hs)->server_name();
  std::string user_id;
  if (!username.empty() && username[0] == '@') {
    auto parsed = service::ParseUserId(username);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(core::StrCat("'", username, "' is not a user id"));
    }
    if (parsed->server_name != server_name) {
      return absl::InvalidArgumentError(
          core::StrCat(username, " is not a user of this server (", server_name, ")"));
    }
    user_id = std::string(username);
  } else {
    if (username.empty() || username.find(':') != std::string_view::npos) {
      return absl::InvalidArgumentError(
          core::StrCat("'", username, "' is neither a localpart nor a user id"));
    }
    user_id = core::StrCat("@", username, ":", server_name);
  }
  if (!(*hs)->accounts().UserExists(user_id)) {
    return absl::NotFoundError(core::StrCat("no user ", user_id));
  }
  return user_id;
}

absl::StatusOr<std::string> Context::ResolveRoom(std::string_view room) const {
  auto hs = homeserver();
  if (!hs.ok()) return hs.status();
  return (*hs)->rooms().ResolveRoom(room);
}

CommandTree::CommandTree()
    : root_(std::make_unique<CLI::App>("Administer the conclave server.", kRootName)) {
  root_->set_help_flag("-h,--help", "Show this help");
  root_->fallthrough(false);
  root_->require_subcommand(1, 1);

  // help [PATH...]: the same text as `--help`, plus the hidden --markdown reference.
  struct HelpArgs {
    std::vector<std::string> path;
    bool markdown = false;
  };
  auto* args = Make<HelpArgs>();
  Command help = AddCommand(Group(root_.get()), "help",
                            "Show the groups, the commands of a group, or the help of a command",
                            [this, args](Context&) { return Help(args->path, args->markdown); });
  help.Arg("PATH", &args->path, "A group, or a group and a command: `users`, `users create-user`");
  // Hidden from the help (an empty group): the reference is generated, not typed.
  help.app_->add_flag("--markdown", args->markdown, "The reference of every command, as Markdown")
      ->group("");
}

CommandTree::~CommandTree() = default;

Group CommandTree::AddGroup(const std::string& name, const std::string& description) {
  return AddGroup(name, description, Group(root_.get()));
}

Group CommandTree::AddGroup(const std::string& name, const std::string& description, Group parent) {
  CLI::App* group = parent.app_->add_subcommand(name, description);
  group->group(kGroups);
  group->require_subcommand(1, 1);
  return Group(group);
}

Command CommandTree::AddCommand(Group group, const std::string& name,
                                const std::string& description, Handler handler) {
  CLI::App* command = group.app_->add_subcommand(name, description);
  command->group(kCommands);
  handlers_[command] = std::move(handler);
  return Command(command);
}

Command& Command::Arg(const std::string& name, std::string* value, const std::string& description) {
  last_ = app_->add_option(name, *value, description);
  return *this;
}

Command& Command::Arg(const std::string& name, std::vector<std::string>* value,
                      const std::string& description) {
  last_ = app_->add_option(name, *value, description);
  return *this;
}

Command& Command::Arg(const std::string& name, size_t* value, const std::string& description) {
  last_ = app_->add_option(name, *value, description);
  return *this;
}

Command& Command::Flag(const std::string& name, bool* value, const std::string& description) {
  last_ = app_->add_flag(name, *value, description);
  return *this;
}

Command& Command::Required() {
  last_->required();
  return *this;
}

Command& Command::OneOf(std::vector<std::string> choices) {
  last_->check(CLI::IsMember(std::move(choices)));
  return *this;
}

Command& Command::Placeholder(const std::string& name) {
  last_->type_name(name);
  return *this;
}

std::string CommandTree::HelpOf(const CLI::App* app) const {
  std::string prefix;
  for (const CLI::App* p = app->get_parent(); p != nullptr; p = p->get_parent()) {
    prefix = prefix.empty() ? p->get_name() : core::StrCat(p->get_name(), " ", prefix);
  }
  std::string text = app->get_formatter()->make_help(
      app, prefix.empty() ? app->get_name() : core::StrCat(prefix, " ", app->get_name()),
      CLI::AppFormatMode::Normal);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  if (app == root_.get()) {
    core::StrAppend(&text, "\n\n`help GROUP` or `GROUP --help` lists the commands of a group; ",
                    "`help GROUP COMMAND` or `GROUP COMMAND --help` explains one.");
  } else if (!Children(app).empty()) {
    core::StrAppend(&text, "\n\n`help ", PathOf(app), " COMMAND` or `", PathOf(app),
                    " COMMAND --help` explains one.");
  }
  return text + "\n";
}

absl::Status CommandTree::Unknown(const CLI::App* parent, std::string_view word) const {
  std::string suggestion = Nearest(word, ChildNames(parent));
  if (suggestion.empty() && parent == root_.get()) {
    // A command typed without its group: "create-user" → "users create-user".
    std::vector<std::string> commands;
    std::vector<std::string> paths;
    for (const CLI::App* command : Leaves(root_.get())) {
      commands.push_back(command->get_name());
      paths.push_back(PathOf(command));
    }
    std::string nearest = Nearest(word, commands);
    for (size_t i = 0; i < commands.size() && !nearest.empty(); ++i) {
      if (commands[i] == nearest) {
        suggestion = paths[i];
        break;
      }
    }
  } else if (!suggestion.empty() && parent != root_.get()) {
    suggestion = core::StrCat(PathOf(parent), " ", suggestion);
  }
  std::string where =
      parent == root_.get() ? std::string("command") : core::StrCat("command of ", PathOf(parent));
  std::string message = core::StrCat("unknown ", where, " '", word, "'");
  if (!suggestion.empty()) core::StrAppend(&message, "; did you mean '", suggestion, "'?");
  return absl::InvalidArgumentError(core::StrCat(message, "\n\n", HelpOf(parent)));
}

absl::StatusOr<Reply> CommandTree::Help(const std::vector<std::string>& path, bool markdown) const {
  if (markdown) return Reply().Pre(Markdown());
  const CLI::App* app = root_.get();
  for (const std::string& name : path) {
    const CLI::App* child = Child(app, name);
    if (child == nullptr) return Unknown(app, name);
    app = child;
  }
  return Reply().Pre(HelpOf(app));
}

absl::StatusOr<Reply> CommandTree::Run(Context& context, std::string_view command_line) {
  std::vector<std::string> words = CLI::detail::split_up(std::string(command_line));
  if (words.empty()) return Help({}, false);

  // Walk the words that name a group and a command ourselves: an unknown one gets a suggestion,
  // and a group without a command its help rather than an error.
  const CLI::App* app = root_.get();
  size_t named = 0;
  for (const std::string& word : words) {
    if (word.empty() || word[0] == '-' || Children(app).empty()) break;
    const CLI::App* child = Child(app, word);
    if (child == nullptr) return Unknown(app, word);
    app = child;
    ++named;
  }
  if (named == words.size() && !Children(app).empty()) return Reply().Pre(HelpOf(app));

  std::vector<std::string> args(words.rbegin(), words.rend());
  auto selected = [this] {
    const CLI::App* leaf = root_.get();
    for (auto sub = leaf->get_subcommands(); !sub.empty(); sub = leaf->get_subcommands()) {
      leaf = sub.front();
    }
    return leaf;
  };
  try {
    root_->parse(args);
  } catch (const CLI::CallForHelp&) {
    return Reply().Pre(HelpOf(selected()));
  } catch (const CLI::CallForAllHelp&) {
    return Reply().Pre(HelpOf(selected()));
  } catch (const CLI::ParseError& e) {
    return absl::InvalidArgumentError(core::StrCat(e.what(), "\n\n", HelpOf(selected())));
  }
  const CLI::App* leaf = selected();
  auto handler = handlers_.find(leaf);
  if (handler == handlers_.end()) return Reply().Pre(HelpOf(leaf));
  absl::StatusOr<Reply> reply = handler->second(context);
  if (!reply.ok() && reply.status().code() == absl::StatusCode::kInvalidArgument) {
    // The usage goes with the message; payloads (a Matrix errcode) stay.
    absl::Status with_usage(absl::StatusCode::kInvalidArgument,
                            core::StrCat(reply.status().message(), "\n\n", HelpOf(leaf)));
    reply.status().ForEachPayload([&](absl::string_view type_url, const absl::Cord& payload) {
      with_usage.SetPayload(type_url, payload);
    });
    return with_usage;
  }
  return reply;
}

std::string CommandTree::Markdown() const {
  std::string out =
      "# Admin commands\n\n"
      "<!-- Generated by `conclave --print-admin-commands` from the command tree in src/admin;\n"
      "     do not edit. The test admin.commands_doc fails when this file and the tree differ. -->"
      "\n\n"
      "Operators run these commands in the admin room `#admins:<server_name>`, as a message that\n"
      "starts with `!admin` (for example `!admin users list-users`), or from the command line\n"
      "with `conclave --execute \"users list-users\"` (repeatable) and the config key\n"
      "`admin_execute`. A fenced code block after the command line is its body.\n\n"
      "Help comes from the same tree: `help`, `help GROUP`, `help GROUP COMMAND`, `GROUP --help`,\n"
      "`GROUP COMMAND --help`. An unknown command gets the nearest one suggested; an error names\n"
      "the problem and prints the usage of the command. USERNAME is a localpart (`alice`) or a\n"
      "full user id (`@alice:example.org`); ROOM is a room id or an alias.\n\n";
  out += "| group | commands |\n|---|---|\n";
  for (const CLI::App* group : Children(root_.get())) {
    if (Children(group).empty()) continue;
    core::StrAppend(&out, "| [`", group->get_name(), "`](#", group->get_name(), ") | ");
    std::vector<std::string> names;
    for (const CLI::App* command : Leaves(group)) {
      names.push_back(core::StrCat("`", PathOf(command).substr(group->get_name().size() + 1), "`"));
    }
    core::StrAppend(&out, absl::StrJoin(names, ", "), " |\n");
  }
  for (const CLI::App* group : Children(root_.get())) {
    if (Children(group).empty()) continue;
    core::StrAppend(&out, "\n## ", group->get_name(), "\n\n", group->get_description(), ".\n");
    for (const CLI::App* command : Leaves(group)) {
      std::string usage =
          CLI::Formatter().make_usage(command, core::StrCat(kRootName, " ", PathOf(command)));
      if (usage.starts_with("Usage: ")) usage.erase(0, 7);
      while (!usage.empty() && usage.back() == '\n') usage.pop_back();
      std::vector<const CLI::Option*> arguments = Arguments(command);
      // Every command has -h,--help: without other options the badge says nothing.
      if (std::all_of(arguments.begin(), arguments.end(),
                      [](const CLI::Option* o) { return o->get_positional(); })) {
        if (auto at = usage.find(" [OPTIONS]"); at != std::string::npos) usage.erase(at, 10);
      }
      core::StrAppend(&out, "\n### ", PathOf(command), "\n\n", command->get_description(),
                      ".\n\n```\n", usage, "\n```\n");
      if (arguments.empty()) continue;
      out += "\n| argument | meaning |\n|---|---|\n";
      for (const CLI::Option* option : arguments) {
        std::string name =
            option->get_positional() ? option->get_name() : option->get_name(false, true);
        if (!option->get_positional() && !option->get_type_name().empty()) {
          core::StrAppend(&name, " ", option->get_type_name());
        }
        std::string meaning = option->get_description();
        if (option->get_required()) meaning += " (required)";
        if (option->get_expected_max() >= CLI::detail::expected_max_vector_size) {
          meaning += " (one or more)";
        }
        core::StrAppend(&out, "| `", MarkdownCell(name), "` | ", MarkdownCell(meaning), " |\n");
      }
    }
  }
  return out;
}

}  // namespace conclave::admin
