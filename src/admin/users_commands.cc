// `users`: local accounts — create, list, reset passwords, deactivate, make admin, and their
// room memberships.

#include <algorithm>
#include <set>

#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/admin_room/admin_room.h"
#include "conclave/service/e2ee/backup.h"
#include "conclave/service/e2ee/e2ee.h"
#include "conclave/service/homeserver.h"
#include "conclave/service/protocol/crypto.h"
#include "conclave/service/protocol/identifiers.h"
#include "conclave/service/rooms/rooms.h"
#include "format.h"
#include "tree.h"

namespace conclave::admin {
namespace {

// Length of generated passwords: 24 of [A-Za-z0-9], about 143 bits.
constexpr size_t kGeneratedPasswordLength = 24;
// Devices the server-wide to-device backlog lists (those with the most pending): enough to see
// who is behind, short enough for one admin-room notice.
constexpr size_t kMaxBacklogRows = 50;

struct UserArgs {
  std::string username;
  std::string password;  // empty: generate one
  std::string room;
};

// The localpart a new account gets from USERNAME (a localpart or a full id of this server).
absl::StatusOr<std::string> NewLocalpart(const service::Homeserver& hs, std::string_view username) {
  if (username.empty() || username[0] != '@') return std::string(username);
  auto id = service::ParseUserId(username);
  if (!id.ok())
    return absl::InvalidArgumentError(core::StrCat("'", username, "' is not a user id"));
  if (id->server_name != hs.server_name()) {
    return absl::InvalidArgumentError(
        core::StrCat(username, " is not a user of this server (", hs.server_name(), ")"));
  }
  return id->localpart;
}

// "!abc:x (#alias:x, Name)" for listings and answers.
std::string DescribeRoom(service::Rooms& rooms, const std::string& room_id) {
  auto summary = rooms.RoomSummary(room_id);
  if (!summary.ok()) return room_id;
  std::vector<std::string> what;
  if (!summary->canonical_alias.empty()) what.push_back(summary->canonical_alias);
  if (!summary->name.empty()) what.push_back(core::StrCat("\"", summary->name, "\""));
  if (what.empty()) return room_id;
  return core::StrCat(room_id, " (", absl::StrJoin(what, ", "), ")");
}

absl::StatusOr<Reply> CreateUser(Context& context, const UserArgs& args) {
  CONCLAVE_ASSIGN_OR_RETURN(service::Homeserver * hs, context.homeserver());
  CONCLAVE_ASSIGN_OR_RETURN(std::string localpart, NewLocalpart(*hs, args.username));
  const bool generated = args.password.empty();
  const std::string password =
      generated ? service::RandomAlnum(kGeneratedPasswordLength) : args.password;
  CONCLAVE_ASSIGN_OR_RETURN(std::string user_id,
                            hs->accounts().CreateUser(localpart, password, /*admin=*/false));
  Reply reply(core::StrCat("created ", user_id, " ", context.By()));
  if (generated) reply.Text(core::StrCat("password: ", password));
  return reply;
}

absl::StatusOr<Reply> ListUsers(Context& context) {
  CONCLAVE_ASSIGN_OR_RETURN(service::Homeserver * hs, context.homeserver());
  service::Accounts& accounts = hs->accounts();
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<std::string> users, accounts.ListUsers());
  std::vector<std::vector<std::string>> rows;
  for (const std::string& user_id : users) {
    auto profile = accounts.GetProfile(user_id);
    std::string name = profile.ok() ? profile->displayname.value_or("") : "";
    rows.push_back({user_id, name, accounts.IsAdmin(user_id) ? "admin" : "",
                    accounts.IsDeactivated(user_id) ? "deactivated" : ""});
  }
  Reply reply(Plural(users.size(), "user", "users"));
  reply.Table({"user", "display name", "admin", "status"}, std::move(rows));
  return reply;
}

absl::StatusOr<Reply> ResetPassword(Context& context, const UserArgs& args) {
  CONCLAVE_ASSIGN_OR_RETURN(service::Homeserver * hs, context.homeserver());
  CONCLAVE_ASSIGN_OR_RETURN(std::string user_id, context.ResolveUser(args.username));
  if (hs->accounts().IsDeactivated(user_id)) {
    return absl::FailedPreconditionError(core::StrCat(user_id, " is deactivated"));
  }
  const bool generated = args.password.empty();
  const std::string password =
      generated ? service::RandomAlnum(kGeneratedPasswordLength) : args.password;
  CONCLAVE_RETURN_IF_ERROR(hs->accounts().ChangePassword(user_id, password,
                                                         /*logout_devices=*/true, ""));
  Reply reply(core::StrCat("reset the password of ", user_id, " ", context.By(),
                           "; every device of theirs is logged out"));
  if (generated) reply.Text(core::StrCat("new password: ", password));
  return reply;
}

absl::StatusOr<Reply> Deactivate(Context& context, const UserArgs& args) {
  CONCLAVE_ASSIGN_OR_RETURN(service::Homeserver * hs, context.homeserver());
  CONCLAVE_ASSIGN_OR_RETURN(std::string user_id, context.ResolveUser(args.username));
  if (user_id == hs->admin_room().bot_user_id()) {
    return absl::FailedPreconditionError(
        core::StrCat(user_id, " is the server's admin bot; it cannot be deactivated"));
  }
  if (hs->accounts().IsDeactivated(user_id)) {
    return absl::FailedPreconditionError(core::StrCat(user_id, " is deactivated already"));
  }
  std::vector<std::string> left;
  if (auto rooms = hs->rooms().UserRooms(user_id); rooms.ok()) {
    for (const service::UserRoom& room : *rooms) {
      if (room.membership == "join" || room.membership == "invite" || room.membership == "knock") {
        left.push_back(room.room_id);
      }
    }
  }
  CONCLAVE_RETURN_IF_ERROR(hs->accounts().Deactivate(user_id));
  CONCLAVE_RETURN_IF_ERROR(hs->rooms().LeaveAll(user_id));
  Reply reply(core::StrCat("deactivated ", user_id, " ", context.By(),
                           ": every device logged out, profile cleared, left ",
                           Plural(left.size(), "room", "rooms"), left.empty() ? "" : ":"));
  for (const std::string& room_id : left) reply.Text(core::StrCat("  ", room_id));
  return reply;
}

absl::StatusOr<Reply> MakeAdmin(Context& context, const UserArgs& args) {
  CONCLAVE_ASSIGN_OR_RETURN(service::Homeserver * hs, context.homeserver());
  CONCLAVE_ASSIGN_OR_RETURN(std::string user_id, context.ResolveUser(args.username));
  if (hs->accounts().IsDeactivated(user_id)) {
    return absl::FailedPreconditionError(core::StrCat(user_id, " is deactivated"));
  }
  const bool was_admin = hs->accounts().IsAdmin(user_id);
  CONCLAVE_RETURN_IF_ERROR(hs->accounts().SetAdmin(user_id, true));
  absl::Status invited = hs->admin_room().OnAdminGranted(user_id);
  Reply reply(was_admin ? core::StrCat(user_id, " is an admin already")
                        : core::StrCat("made ", user_id, " a server admin ", context.By()));
  if (invited.ok()) {
    reply.Text(core::StrCat("invited to the admin room ", hs->admin_room().room_id(),
                            " (unless already there)"));
  } else {
    reply.Text(core::StrCat("but the invitation to the admin room failed: ", invited.message()));
  }
  return reply;
}

absl::StatusOr<Reply> ListJoinedRooms(Context& context, const UserArgs& args) {
  CONCLAVE_ASSIGN_OR_RETURN(service::Homeserver * hs, context.homeserver());
  CONCLAVE_ASSIGN_OR_RETURN(std::string user_id, context.ResolveUser(args.username));
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<std::string> room_ids, hs->rooms().JoinedRooms(user_id));
  std::vector<std::vector<std::string>> rows;
  for (const std::string& room_id : room_ids) {
    auto summary = hs->rooms().RoomSummary(room_id);
    if (!summary.ok()) {
      rows.push_back({room_id, "", "", ""});
      continue;
    }
    rows.push_back(
        {room_id, summary->canonical_alias, summary->name, core::StrCat(summary->joined_members)});
  }
  Reply reply(core::StrCat(user_id, " is joined to ", Plural(rows.size(), "room", "rooms")));
  reply.Table({"room", "alias", "name", "members"}, std::move(rows));
  return reply;
}

absl::StatusOr<Reply> ForceJoin(Context& context, const UserArgs& args) {
  CONCLAVE_ASSIGN_OR_RETURN(service::Homeserver * hs, context.homeserver());
  CONCLAVE_ASSIGN_OR_RETURN(std::string user_id, context.ResolveUser(args.username));
  CONCLAVE_ASSIGN_OR_RETURN(std::string room_id, context.ResolveRoom(args.room));
  // The user joins on their own behalf, so the room's join rules apply (an invite-only room
  // needs an invitation first).
  CONCLAVE_RETURN_IF_ERROR(
      hs->rooms().Join(service::Session{user_id, ""}, room_id, std::nullopt).status());
  return Reply(
      core::StrCat(user_id, " joined ", DescribeRoom(hs->rooms(), room_id), ", ", context.By()));
}

absl::StatusOr<Reply> ForceLeave(Context& context, const UserArgs& args) {
  CONCLAVE_ASSIGN_OR_RETURN(service::Homeserver * hs, context.homeserver());
  CONCLAVE_ASSIGN_OR_RETURN(std::string user_id, context.ResolveUser(args.username));
  CONCLAVE_ASSIGN_OR_RETURN(std::string room_id, context.ResolveRoom(args.room));
  CONCLAVE_RETURN_IF_ERROR(hs->rooms().Leave(service::Session{user_id, ""}, room_id, std::nullopt));
  return Reply(
      core::StrCat(user_id, " left ", DescribeRoom(hs->rooms(), room_id), ", ", context.By()));
}

// The account's devices with what end-to-end encryption keeps for each: whether it uploaded
// device keys (and its ed25519 key), one-time keys left, unused fallback keys, and to-device
// messages waiting for its next sync.
absl::StatusOr<Reply> ListDeviceKeys(Context& context, const UserArgs& args) {
  CONCLAVE_ASSIGN_OR_RETURN(service::Homeserver * hs, context.homeserver());
  CONCLAVE_ASSIGN_OR_RETURN(std::string user_id, context.ResolveUser(args.username));
  service::E2ee& e2ee = hs->e2ee();
  CONCLAVE_ASSIGN_OR_RETURN(auto devices, hs->accounts().ListDevices(user_id));
  CONCLAVE_ASSIGN_OR_RETURN(
      service::KeysQueryResult query,
      e2ee.Query(service::Session{user_id, ""}, service::KeysQueryRequest{{user_id, {}}}));
  const std::map<std::string, boost::json::object>& keys = query.device_keys[user_id];
  std::vector<std::vector<std::string>> rows;
  size_t backlog = 0;
  for (const service::Device& device : devices) {
    std::string ed25519 = "-";
    if (auto dk = keys.find(device.device_id); dk != keys.end()) {
      const auto* key =
          dk->second.at("keys").as_object().if_contains(core::StrCat("ed25519:", device.device_id));
      ed25519 = key != nullptr && key->is_string() ? std::string(key->get_string()) : "?";
    }
    CONCLAVE_ASSIGN_OR_RETURN(service::KeyCounts counts,
                              e2ee.OneTimeKeyCounts(user_id, device.device_id));
    std::vector<std::string> count_text;
    for (const auto& [algorithm, count] : counts) {
      count_text.push_back(core::StrCat(algorithm, " ", count));
    }
    CONCLAVE_ASSIGN_OR_RETURN(auto fallback,
                              e2ee.UnusedFallbackKeyTypes(user_id, device.device_id));
    CONCLAVE_ASSIGN_OR_RETURN(size_t pending, e2ee.PendingToDevice(user_id, device.device_id));
    backlog += pending;
    rows.push_back({device.device_id, ed25519, absl::StrJoin(count_text, ", "),
                    fallback.empty() ? "-" : absl::StrJoin(fallback, ", "), core::StrCat(pending)});
  }
  Reply reply(core::StrCat(user_id, " has ", Plural(rows.size(), "device", "devices"), ", ",
                           Plural(keys.size(), "with device keys", "with device keys"), "; ",
                           Plural(backlog, "to-device message", "to-device messages"), " pending"));
  reply.Table({"device", "ed25519", "one-time keys", "unused fallback", "to-device pending"},
              std::move(rows));
  return reply;
}

absl::StatusOr<Reply> ListKeyBackups(Context& context, const UserArgs& args) {
  CONCLAVE_ASSIGN_OR_RETURN(service::Homeserver * hs, context.homeserver());
  CONCLAVE_ASSIGN_OR_RETURN(std::string user_id, context.ResolveUser(args.username));
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<service::BackupVersion> versions,
                            hs->key_backup().ListVersions(user_id));
  std::vector<std::vector<std::string>> rows;
  uint64_t keys = 0;
  for (const service::BackupVersion& version : versions) {
    keys += version.count;
    // The current version is the last one (ListVersions: oldest first).
    const bool current = &version == &versions.back();
    rows.push_back({version.version, version.algorithm, core::StrCat(version.count), version.etag,
                    current ? "yes" : "-"});
  }
  Reply reply(core::StrCat(user_id, " has ", Plural(rows.size(), "key backup", "key backups"),
                           " holding ", Plural(keys, "room key", "room keys")));
  reply.Table({"version", "algorithm", "keys", "etag", "current"}, std::move(rows));
  return reply;
}

// "<1m", "42m", "2h5m", "3d" (absl::FormatDuration in whole minutes); "?" when unknown.
std::string Age(int64_t since_ms, absl::Time now) {
  if (since_ms == 0) return "?";
  absl::Duration age = now - absl::FromUnixMillis(since_ms);
  if (age < absl::Minutes(1)) return "<1m";
  if (age >= absl::Hours(48)) return core::StrCat(absl::ToInt64Hours(age) / 24, "d");
  return absl::FormatDuration(absl::Trunc(age, absl::Minutes(1)));
}

// To-device messages waiting for a sync, per device with the age of the oldest: of USERNAME's
// devices, or server-wide (the kMaxBacklogRows devices with the most pending).
absl::StatusOr<Reply> ToDeviceBacklog(Context& context, const UserArgs& args) {
  CONCLAVE_ASSIGN_OR_RETURN(service::Homeserver * hs, context.homeserver());
  std::string user_id;
  if (!args.username.empty()) {
    CONCLAVE_ASSIGN_OR_RETURN(user_id, context.ResolveUser(args.username));
  }
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<service::ToDeviceBacklog> devices,
                            hs->e2ee().ToDeviceBacklogs(user_id));
  size_t pending = 0;
  int64_t oldest = 0;
  std::set<std::string> users;
  for (const service::ToDeviceBacklog& d : devices) {
    pending += d.pending;
    if (d.oldest_ms != 0 && (oldest == 0 || d.oldest_ms < oldest)) oldest = d.oldest_ms;
    users.insert(d.user_id);
  }
  const absl::Time now = absl::Now();
  std::string summary = core::StrCat(Plural(pending, "to-device message", "to-device messages"),
                                     " pending for ", Plural(devices.size(), "device", "devices"),
                                     " of ", Plural(users.size(), "user", "users"));
  if (oldest != 0) summary = core::StrCat(summary, "; the oldest is ", Age(oldest, now), " old");
  Reply reply(user_id.empty() ? summary : core::StrCat(user_id, ": ", summary));
  if (user_id.empty()) {
    std::stable_sort(devices.begin(), devices.end(),
                     [](const auto& a, const auto& b) { return a.pending > b.pending; });
  }
  const size_t shown = user_id.empty() ? std::min(devices.size(), kMaxBacklogRows) : devices.size();
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < shown; ++i) {
    const service::ToDeviceBacklog& d = devices[i];
    rows.push_back({d.user_id, d.device_id, core::StrCat(d.pending), FormatUtcMs(d.oldest_ms),
                    Age(d.oldest_ms, now)});
  }
  reply.Table({"user", "device", "pending", "oldest", "age"}, std::move(rows));
  if (shown < devices.size()) {
    reply.Text(core::StrCat("(", devices.size() - shown, " more devices with fewer pending)"));
  }
  return reply;
}

// Adds a command taking USERNAME, and ROOM when `with_room`, to `group`.
void UserCommand(CommandTree& tree, Group group, const std::string& name,
                 const std::string& description,
                 absl::StatusOr<Reply> (*run)(Context&, const UserArgs&), bool with_room = false) {
  auto* args = tree.Make<UserArgs>();
  Command command = tree.AddCommand(group, name, description,
                                    [args, run](Context& context) { return run(context, *args); });
  command.Arg("USERNAME", &args->username, "Localpart or full user id").Required();
  if (with_room) command.Arg("ROOM", &args->room, "Room id or alias").Required();
}

}  // namespace

void AddUsersCommands(CommandTree& tree) {
  Group group = tree.AddGroup("users", "Local accounts");
  {
    auto* args = tree.Make<UserArgs>();
    Command command = tree.AddCommand(
        group, "create-user",
        "Create a local account; without PASSWORD a random one is generated and printed",
        [args](Context& context) { return CreateUser(context, *args); });
    command.Arg("USERNAME", &args->username, "Localpart (or full user id) of the account")
        .Required();
    command.Arg("PASSWORD", &args->password, "Its password");
  }
  tree.AddCommand(group, "list-users",
                  "Every local account with its display name, admin flag and status", ListUsers);
  {
    auto* args = tree.Make<UserArgs>();
    Command command = tree.AddCommand(
        group, "reset-password",
        "Set a new password and log out every device; without PASSWORD a random one is "
        "generated and printed",
        [args](Context& context) { return ResetPassword(context, *args); });
    command.Arg("USERNAME", &args->username, "Localpart or full user id").Required();
    command.Arg("PASSWORD", &args->password, "The new password");
  }
  UserCommand(tree, group, "deactivate",
              "Deactivate an account: log out every device, clear the profile, leave every room",
              Deactivate);
  UserCommand(tree, group, "make-user-admin",
              "Make an account a server admin and invite it to the admin room", MakeAdmin);
  UserCommand(tree, group, "list-joined-rooms", "The rooms an account is joined to",
              ListJoinedRooms);
  UserCommand(tree, group, "list-device-keys",
              "An account's devices with their end-to-end encryption keys: device keys, one-time "
              "keys left, unused fallback keys, and to-device messages waiting for a sync",
              ListDeviceKeys);
  UserCommand(tree, group, "list-key-backups",
              "An account's server-side key backups: each version's algorithm, number of room "
              "keys and etag, and which one is current (the one clients upload to)",
              ListKeyBackups);
  {
    auto* args = tree.Make<UserArgs>();
    Command command = tree.AddCommand(
        group, "to-device-backlog",
        "To-device messages waiting for a sync, per device, with the age of the oldest: of "
        "USERNAME's devices, or without it server-wide (the 50 devices with the most pending)",
        [args](Context& context) { return ToDeviceBacklog(context, *args); });
    command.Arg("USERNAME", &args->username, "Localpart or full user id");
  }
  UserCommand(tree, group, "force-join-room",
              "Join an account to ROOM on its behalf (the room's join rules apply)", ForceJoin,
              /*with_room=*/true);
  UserCommand(tree, group, "force-leave-room", "Make an account leave ROOM", ForceLeave,
              /*with_room=*/true);
}

}  // namespace conclave::admin
