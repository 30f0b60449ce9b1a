// Rooms::CreateRoom: POST /createRoom (Client-Server API "Creation"), as the spec orders the
// events: m.room.create, the creator's join, m.room.power_levels, m.room.canonical_alias, the
// preset's join_rules / history_visibility / guest_access, initial_state, name, topic, invites.
#include <boost/json/serialize.hpp>

#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/identifiers.h"
#include "conclave/service/protocol/power_levels.h"
#include "conclave/service/rooms/rooms.h"
#include "rooms_internal.h"

namespace conclave::service {

using namespace rooms_internal;  // NOLINT: private helpers of this subsystem

namespace {

struct Preset {
  const char* join_rule;
  const char* history_visibility;
  const char* guest_access;
  bool invitees_are_admins;
};

Preset PresetFor(const CreateRoomRequest& request) {
  using Name = CreateRoomRequest::Preset;
  switch (request.preset.value_or(request.published ? Name::kPublicChat : Name::kPrivateChat)) {
    case Name::kTrustedPrivateChat:
      return Preset{"invite", "shared", "can_join", true};
    case Name::kPublicChat:
      return Preset{"public", "shared", "forbidden", false};
    case Name::kPrivateChat:
    default:
      return Preset{"invite", "shared", "can_join", false};
  }
}

// What the request's syntax cannot tell: M_UNSUPPORTED_ROOM_VERSION, M_NOT_FOUND for an invitee
// who is not a local user.
absl::Status CheckCreateRoom(const CreateRoomRequest& request, std::string_view server_name,
                             const Accounts& accounts) {
  if (request.room_version && FindRoomVersion(*request.room_version) == nullptr) {
    return MatrixStatus(Errcode::kUnsupportedRoomVersion,
                        core::StrCat("Room version ", *request.room_version,
                                     " is not supported; this server knows versions 1 to ",
                                     AllRoomVersions().size()));
  }
  for (const std::string& user_id : request.invite) {
    auto target = ParseUserId(user_id);
    if (!target.ok()) return InvalidParam("'invite' must hold user ids");
    if (target->server_name != server_name || !accounts.UserExists(user_id)) {
      return NotFound(
          core::StrCat("Cannot invite unknown user ", user_id, " (this server does not federate)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string Rooms::DefaultRoomVersion() const {
  if (deps_.settings == nullptr) return std::string(kDefaultRoomVersion);
  return deps_.settings->Get().default_room_version;
}

absl::StatusOr<CreateRoomResult> Rooms::CreateRoom(const Session& session,
                                                   const CreateRoomRequest& request) {
  CONCLAVE_RETURN_IF_ERROR(CheckCreateRoom(request, deps_.server_name, deps_.accounts));
  const Preset preset = PresetFor(request);
  const std::optional<std::string>& alias_name = request.room_alias_name;
  const std::vector<std::string>& invites = request.invite;
  // The alias is claimed first so a taken alias leaves no half-made room behind.
  std::optional<std::string> alias;
  if (alias_name) {
    if (alias_name->empty() || alias_name->find(':') != std::string::npos ||
        !ParseRoomAlias(core::StrCat("#", *alias_name, ":", deps_.server_name)).ok()) {
      return InvalidParam(core::StrCat("'", *alias_name, "' is not a valid alias localpart"));
    }
    alias = core::StrCat("#", *alias_name, ":", deps_.server_name);
    auto existing = ResolveAlias(*alias);
    if (existing.ok()) {
      return MatrixStatus(Errcode::kRoomInUse, core::StrCat("The alias ", *alias, " is taken"));
    }
  }

  const RoomVersion& version =
      *FindRoomVersion(request.room_version.value_or(DefaultRoomVersion()));
  // Registered in rooms_ only once its create event is stored, under the id that event gives it
  // (v12 derives the room id from it); until then no one else knows the id.
  auto room = std::make_shared<RoomData>();
  room->room_version = std::string(version.id);
  if (!version.room_id_from_create_event) {
    for (int attempt = 0;; ++attempt) {
      room->room_id = NewRoomId(deps_.server_name);
      CONCLAVE_ASSIGN_OR_RETURN(auto taken, deps_.store.Find(*deps_.store.rooms, room->room_id));
      if (!taken) break;
      if (attempt > 5) return absl::InternalError("could not pick a free room id");
    }
  }
  std::lock_guard lock(room->mu);
  auto send = [&](std::string type, std::string state_key,
                  boost::json::object content) -> absl::Status {
    Draft draft{.type = std::move(type),
                .state_key = std::move(state_key),
                .sender = session.user_id,
                .content = std::move(content)};
    return Commit(*room, std::move(draft)).status();
  };

  boost::json::object create;
  if (request.creation_content) create = *request.creation_content;
  if (version.creator_in_content) create["creator"] = session.user_id;
  create["room_version"] = version.id;
  if (version.additional_creators && preset.invitees_are_admins && !invites.empty()) {
    // create_room.yaml: trusted_private_chat's invitees SHOULD join additional_creators.
    boost::json::value& more = create["additional_creators"];
    if (!more.is_array()) more = boost::json::array();
    for (const std::string& invitee : invites) {
      bool listed = false;
      for (const auto& user : more.get_array()) listed = listed || user == invitee.c_str();
      if (!listed) more.get_array().emplace_back(invitee);
    }
  }
  CONCLAVE_RETURN_IF_ERROR(send("m.room.create", "", std::move(create)));
  const std::string room_id = room->room_id;
  {
    std::lock_guard rooms_lock(rooms_mu_);
    rooms_[room_id] = room;
  }

  CONCLAVE_RETURN_IF_ERROR(send("m.room.member", session.user_id,
                                MemberContent(deps_.accounts, session.user_id, "join")));

  boost::json::object power = DefaultPowerLevelsContent(session.user_id, version);
  if (preset.invitees_are_admins && !version.additional_creators) {
    auto& users = power["users"].as_object();
    for (const auto& u : invites) users[u] = 100;
  }
  if (request.power_level_content_override) {
    for (const auto& [key, value] : *request.power_level_content_override) power[key] = value;
  }
  CONCLAVE_RETURN_IF_ERROR(send("m.room.power_levels", "", std::move(power)));

  if (alias) {
    CONCLAVE_RETURN_IF_ERROR(PutAlias(*alias, room_id, session.user_id));
    CONCLAVE_RETURN_IF_ERROR(
        send("m.room.canonical_alias", "", boost::json::object{{"alias", *alias}}));
  }
  CONCLAVE_RETURN_IF_ERROR(
      send("m.room.join_rules", "", boost::json::object{{"join_rule", preset.join_rule}}));
  CONCLAVE_RETURN_IF_ERROR(
      send("m.room.history_visibility", "",
           boost::json::object{{"history_visibility", preset.history_visibility}}));
  CONCLAVE_RETURN_IF_ERROR(
      send("m.room.guest_access", "", boost::json::object{{"guest_access", preset.guest_access}}));
  for (const CreateRoomRequest::StateEvent& e : request.initial_state) {
    CONCLAVE_RETURN_IF_ERROR(send(e.type, e.state_key, e.content));
  }
  if (request.name) {
    CONCLAVE_RETURN_IF_ERROR(send("m.room.name", "", boost::json::object{{"name", *request.name}}));
  }
  if (request.topic) {
    CONCLAVE_RETURN_IF_ERROR(
        send("m.room.topic", "", boost::json::object{{"topic", *request.topic}}));
  }
  for (const std::string& invitee : invites) {
    boost::json::object content{{"membership", "invite"}};
    if (request.is_direct) content["is_direct"] = true;
    if (auto profile = deps_.accounts.GetProfile(invitee); profile.ok() && profile->displayname) {
      content["displayname"] = *profile->displayname;
    }
    CONCLAVE_RETURN_IF_ERROR(send("m.room.member", invitee, std::move(content)));
  }
  if (request.published) {
    CONCLAVE_RETURN_IF_ERROR(deps_.store.db->Put(*deps_.store.public_rooms, room_id, ""));
  }
  return CreateRoomResult{room_id, alias};
}

}  // namespace conclave::service
