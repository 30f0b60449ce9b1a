// `rooms`: the rooms of this server — listing and inspecting them, their aliases, the public room
// directory, and banning rooms.
#include <algorithm>

#include "absl/strings/str_join.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/admin_room/admin_room.h"
#include "conclave/service/homeserver.h"
#include "conclave/service/rooms/rooms.h"
#include "format.h"
#include "tree.h"

namespace conclave::admin {
namespace {

using Summary = service::Rooms::Summary;

struct RoomArgs {
  std::string room;
  std::string alias;
  std::string reason;
};

// ALIAS as typed: `#name:server`, or `name` for `#name:<this server>`.
std::string FullAlias(const service::Homeserver& hs, std::string_view alias) {
  if (!alias.empty() && alias[0] == '#') return std::string(alias);
  if (alias.find(':') != std::string_view::npos) return core::StrCat("#", alias);
  return core::StrCat("#", alias, ":", hs.server_name());
}

std::string Label(const Summary& s) {
  std::vector<std::string> what;
  if (!s.canonical_alias.empty()) what.push_back(s.canonical_alias);
  if (!s.name.empty()) what.push_back(core::StrCat("\"", s.name, "\""));
  return what.empty() ? s.room_id : core::StrCat(s.room_id, " (", absl::StrJoin(what, ", "), ")");
}

absl::StatusOr<Reply> ListRooms(Context& context) {
  CONCLAVE_ASSIGN_OR_RETURN(service::Homeserver * hs, context.homeserver());
  service::Rooms& rooms = hs->rooms();
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<std::string> room_ids, rooms.AllRoomIds());
  std::vector<Summary> summaries;
  for (const std::string& room_id : room_ids) {
    CONCLAVE_ASSIGN_OR_RETURN(Summary summary, rooms.RoomSummary(room_id));
    summaries.push_back(std::move(summary));
  }
  // Busiest first, like a room directory.
  std::stable_sort(summaries.begin(), summaries.end(), [](const Summary& a, const Summary& b) {
    return a.joined_members > b.joined_members;
  });
  std::vector<std::vector<std::string>> rows;
  for (const Summary& s : summaries) {
    std::string notes = s.banned ? "banned" : (s.published ? "published" : "");
    rows.push_back({s.room_id, s.canonical_alias, s.name, core::StrCat(s.joined_members),
                    core::StrCat(s.events), notes});
  }
  Reply reply(Plural(rows.size(), "room", "rooms"));
  reply.Table({"room", "alias", "name", "members", "events", "notes"}, std::move(rows));
  return reply;
}

absl::StatusOr<Reply> Info(Context& context, const RoomArgs& args) {
  CONCLAVE_ASSIGN_OR_RETURN(service::Homeserver * hs, context.homeserver());
  CONCLAVE_ASSIGN_OR_RETURN(std::string room_id, context.ResolveRoom(args.room));
  service::Rooms& rooms = hs->rooms();
  CONCLAVE_ASSIGN_OR_RETURN(Summary s, rooms.RoomSummary(room_id));
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<std::string> aliases, rooms.RoomAliases(room_id));
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<std::string> members, rooms.JoinedUserIds(room_id));
  Reply reply;
  reply.Table({}, {{"room id", s.room_id},
                   {"name", s.name},
                   {"topic", s.topic},
                   {"canonical alias", s.canonical_alias},
                   {"aliases", absl::StrJoin(aliases, ", ")},
                   {"creator", s.creator},
                   {"created", FormatUtcMs(s.created_ts)},
                   {"room version", s.room_version},
                   {"joined members", core::StrCat(s.joined_members)},
                   {"invited", core::StrCat(s.invited_members)},
                   {"events", core::StrCat(s.events)},
                   {"state events", core::StrCat(s.state_events)},
                   {"stream position", core::StrCat(s.latest_position)},
                   {"in the directory", s.published ? "yes" : "no"},
                   {"banned on this server", s.banned ? "yes" : "no"}});
  if (!members.empty()) reply.Text(core::StrCat("members: ", absl::StrJoin(members, ", ")));
  return reply;
}

absl::StatusOr<Reply> AliasSet(Context& context, const RoomArgs& args) {
  CONCLAVE_ASSIGN_OR_RETURN(service::Homeserver * hs, context.homeserver());
  CONCLAVE_ASSIGN_OR_RETURN(std::string room_id, context.ResolveRoom(args.room));
  const std::string alias = FullAlias(*hs, args.alias);
  const std::string creator = context.request().invoker.empty() ? hs->admin_room().bot_user_id()
                                                                : context.request().invoker;
  CONCLAVE_RETURN_IF_ERROR(hs->rooms().AdminSetAlias(alias, room_id, creator));
  return Reply(core::StrCat(alias, " now points to ", room_id, ", ", context.By()));
}

absl::StatusOr<Reply> AliasRemove(Context& context, const RoomArgs& args) {
  CONCLAVE_ASSIGN_OR_RETURN(service::Homeserver * hs, context.homeserver());
  const std::string alias = FullAlias(*hs, args.alias);
  CONCLAVE_ASSIGN_OR_RETURN(std::string room_id, hs->rooms().AdminDeleteAlias(alias));
  return Reply(core::StrCat("removed ", alias, " (it pointed to ", room_id, "), ", context.By()));
}

absl::StatusOr<Reply> AliasWhich(Context& context, const RoomArgs& args) {
  CONCLAVE_ASSIGN_OR_RETURN(service::Homeserver * hs, context.homeserver());
  const std::string alias = FullAlias(*hs, args.alias);
  CONCLAVE_ASSIGN_OR_RETURN(std::string room_id, hs->rooms().ResolveAlias(alias));
  auto summary = hs->rooms().RoomSummary(room_id);
  return Reply(core::StrCat(alias, " → ", summary.ok() ? Label(*summary) : room_id));
}

absl::StatusOr<Reply> AliasList(Context& context, const RoomArgs& args) {
  CONCLAVE_ASSIGN_OR_RETURN(service::Homeserver * hs, context.homeserver());
  if (!args.room.empty()) {
    CONCLAVE_ASSIGN_OR_RETURN(std::string room_id, context.ResolveRoom(args.room));
    CONCLAVE_ASSIGN_OR_RETURN(std::vector<std::string> aliases, hs->rooms().RoomAliases(room_id));
    std::vector<std::vector<std::string>> rows;
    for (std::string& alias : aliases) rows.push_back({std::move(alias)});
    Reply reply(core::StrCat("aliases of ", room_id, ":"));
    reply.Table({"alias"}, std::move(rows));
    return reply;
  }
  CONCLAVE_ASSIGN_OR_RETURN(auto aliases, hs->rooms().AllAliases());
  std::vector<std::vector<std::string>> rows;
  for (auto& [alias, room_id] : aliases) rows.push_back({alias, room_id});
  Reply reply(Plural(rows.size(), "alias", "aliases"));
  reply.Table({"alias", "room"}, std::move(rows));
  return reply;
}

absl::StatusOr<Reply> Publish(Context& context, const RoomArgs& args, bool published) {
  CONCLAVE_ASSIGN_OR_RETURN(service::Homeserver * hs, context.homeserver());
  CONCLAVE_ASSIGN_OR_RETURN(std::string room_id, context.ResolveRoom(args.room));
  CONCLAVE_RETURN_IF_ERROR(hs->rooms().SetPublished(room_id, published));
  return Reply(core::StrCat(published ? "published " : "removed ", room_id,
                            published ? " in" : " from", " the public room directory, ",
                            context.By()));
}

absl::StatusOr<Reply> DirectoryList(Context& context) {
  CONCLAVE_ASSIGN_OR_RETURN(service::Homeserver * hs, context.homeserver());
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<std::string> room_ids, hs->rooms().PublishedRooms());
  std::vector<std::vector<std::string>> rows;
  for (const std::string& room_id : room_ids) {
    auto s = hs->rooms().RoomSummary(room_id);
    if (!s.ok()) {
      rows.push_back({room_id, "", "", ""});
      continue;
    }
    rows.push_back({room_id, s->canonical_alias, s->name, core::StrCat(s->joined_members)});
  }
  Reply reply(core::StrCat(Plural(rows.size(), "room", "rooms"), " in the public directory"));
  reply.Table({"room", "alias", "name", "members"}, std::move(rows));
  return reply;
}

absl::StatusOr<Reply> BanRoom(Context& context, const RoomArgs& args) {
  CONCLAVE_ASSIGN_OR_RETURN(service::Homeserver * hs, context.homeserver());
  CONCLAVE_ASSIGN_OR_RETURN(std::string room_id, context.ResolveRoom(args.room));
  if (room_id == hs->admin_room().room_id()) {
    return absl::FailedPreconditionError("the admin room cannot be banned");
  }
  service::Rooms& rooms = hs->rooms();
  CONCLAVE_ASSIGN_OR_RETURN(Summary before, rooms.RoomSummary(room_id));
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<std::string> evicted,
                            rooms.BanRoom(room_id, context.request().invoker, args.reason));
  Reply reply(core::StrCat("banned ", Label(before), " on this server ", context.By(),
                           args.reason.empty() ? "" : core::StrCat(" (reason: ", args.reason, ")"),
                           "; local users can no longer join it"));
  if (before.published) {
    CONCLAVE_RETURN_IF_ERROR(rooms.SetPublished(room_id, false));
    reply.Text("removed it from the public room directory");
  }
  reply.Text(core::StrCat("made ", Plural(evicted.size(), "local user", "local users"), " leave",
                          evicted.empty() ? "" : ": ", absl::StrJoin(evicted, ", ")));
  return reply;
}

absl::StatusOr<Reply> UnbanRoom(Context& context, const RoomArgs& args) {
  CONCLAVE_ASSIGN_OR_RETURN(service::Homeserver * hs, context.homeserver());
  CONCLAVE_ASSIGN_OR_RETURN(std::string room_id, context.ResolveRoom(args.room));
  CONCLAVE_RETURN_IF_ERROR(hs->rooms().UnbanRoom(room_id));
  return Reply(core::StrCat("lifted the ban of ", room_id, ", ", context.By(),
                            "; local users may join it again"));
}

absl::StatusOr<Reply> ListBannedRooms(Context& context) {
  CONCLAVE_ASSIGN_OR_RETURN(service::Homeserver * hs, context.homeserver());
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<service::Rooms::RoomBan> bans, hs->rooms().BannedRooms());
  std::vector<std::vector<std::string>> rows;
  for (const auto& ban : bans) {
    rows.push_back({ban.room_id, ban.banned_by.empty() ? "(command line)" : ban.banned_by,
                    FormatUtcMs(ban.banned_ts), ban.reason});
  }
  Reply reply(Plural(rows.size(), "banned room", "banned rooms"));
  reply.Table({"room", "banned by", "when", "reason"}, std::move(rows));
  return reply;
}

using RoomHandler = absl::StatusOr<Reply> (*)(Context&, const RoomArgs&);

// Adds a command to `group` whose handler gets the parsed RoomArgs; returns them for options.
std::pair<Command, RoomArgs*> RoomCommand(CommandTree& tree, Group group, const std::string& name,
                                          const std::string& description, RoomHandler run) {
  auto* args = tree.Make<RoomArgs>();
  Command command = tree.AddCommand(group, name, description,
                                    [args, run](Context& context) { return run(context, *args); });
  return {command, args};
}

}  // namespace

void AddRoomsCommands(CommandTree& tree) {
  Group group = tree.AddGroup("rooms", "The rooms of this server");
  tree.AddCommand(group, "list-rooms",
                  "Every room: id, alias, name, joined members and events, busiest first",
                  ListRooms);
  {
    auto [command, args] = RoomCommand(tree, group, "info",
                                       "Everything about one room: state, aliases, members", Info);
    command.Arg("ROOM", &args->room, "Room id or alias").Required();
  }

  Group alias = tree.AddGroup("alias", "Room aliases of this server", group);
  {
    auto [command, args] =
        RoomCommand(tree, alias, "set", "Point ALIAS at ROOM (whoever is in the room)", AliasSet);
    command.Arg("ALIAS", &args->alias, "`#name:server`, or `name`").Required();
    command.Arg("ROOM", &args->room, "Room id or alias").Required();
  }
  {
    auto [command, args] =
        RoomCommand(tree, alias, "remove", "Delete ALIAS, whoever created it", AliasRemove);
    command.Arg("ALIAS", &args->alias, "`#name:server`, or `name`").Required();
  }
  {
    auto [command, args] =
        RoomCommand(tree, alias, "which", "The room ALIAS points to", AliasWhich);
    command.Arg("ALIAS", &args->alias, "`#name:server`, or `name`").Required();
  }
  {
    auto [command, args] = RoomCommand(
        tree, alias, "list", "Every alias of this server, or the aliases of ROOM", AliasList);
    command.Arg("ROOM", &args->room, "Room id or alias");
  }

  Group directory = tree.AddGroup("directory", "The public room directory", group);
  {
    auto [command, args] =
        RoomCommand(tree, directory, "publish", "List ROOM in the public room directory",
                    [](Context& context, const RoomArgs& a) { return Publish(context, a, true); });
    command.Arg("ROOM", &args->room, "Room id or alias").Required();
  }
  {
    auto [command, args] =
        RoomCommand(tree, directory, "unpublish", "Remove ROOM from the public room directory",
                    [](Context& context, const RoomArgs& a) { return Publish(context, a, false); });
    command.Arg("ROOM", &args->room, "Room id or alias").Required();
  }
  tree.AddCommand(directory, "list", "The rooms in the public room directory", DirectoryList);

  Group moderation = tree.AddGroup("moderation", "Rooms banned on this server", group);
  {
    auto [command, args] = RoomCommand(
        tree, moderation, "ban-room",
        "Ban ROOM on this server: local users cannot join it, and its local members leave",
        BanRoom);
    command.Arg("ROOM", &args->room, "Room id or alias").Required();
    command.Arg("-r,--reason", &args->reason, "Why (shown in the members' leave events)");
  }
  {
    auto [command, args] =
        RoomCommand(tree, moderation, "unban-room", "Lift the ban of ROOM", UnbanRoom);
    command.Arg("ROOM", &args->room, "Room id or alias").Required();
  }
  tree.AddCommand(moderation, "list-banned-rooms",
                  "The banned rooms: who banned them, when and why", ListBannedRooms);
}

}  // namespace conclave::admin
