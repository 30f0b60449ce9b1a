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

absl::StatusOr<Preset> PresetFor(std::string_view preset) {
  if (preset == "private_chat") return Preset{"invite", "shared", "can_join", false};
  if (preset == "trusted_private_chat") return Preset{"invite", "shared", "can_join", true};
  if (preset == "public_chat") return Preset{"public", "shared", "forbidden", false};
  return InvalidParam(core::StrCat("Unknown preset '", preset,
                                   "': use private_chat, public_chat or trusted_private_chat"));
}

// A /createRoom body, parsed (Client-Server API POST /createRoom).
struct CreateRoomRequest {
  std::optional<std::string> name;
  std::optional<std::string> topic;
  std::optional<std::string> alias_name;
  bool published = false;  // visibility "public": listed in the room directory
  Preset preset{};
  bool is_direct = false;
  std::vector<std::string> invites;
  const boost::json::object* creation_content = nullptr;
  const boost::json::object* power_override = nullptr;
  const boost::json::array* initial_state = nullptr;
};

// The fields of a /createRoom body, checked: M_BAD_JSON for a wrong type, M_INVALID_PARAM for a
// bad value, M_UNSUPPORTED_ROOM_VERSION, M_NOT_FOUND for an invitee who is not a local user.
// The pointers point into `body`.
absl::StatusOr<CreateRoomRequest> ParseCreateRoom(const boost::json::object& body,
                                                  std::string_view server_name,
                                                  const Accounts& accounts) {
  auto string_field = [&](std::string_view key) -> absl::StatusOr<std::optional<std::string>> {
    const auto* v = body.if_contains(boost::json::string_view(key.data(), key.size()));
    if (v == nullptr || v->is_null()) return std::optional<std::string>();
    if (!v->is_string()) return BadJson(core::StrCat("'", key, "' must be a string"));
    return std::optional<std::string>(std::string(v->get_string()));
  };
  CreateRoomRequest req;
  CONCLAVE_ASSIGN_OR_RETURN(auto visibility, string_field("visibility"));
  CONCLAVE_ASSIGN_OR_RETURN(auto preset_name, string_field("preset"));
  CONCLAVE_ASSIGN_OR_RETURN(req.name, string_field("name"));
  CONCLAVE_ASSIGN_OR_RETURN(req.topic, string_field("topic"));
  CONCLAVE_ASSIGN_OR_RETURN(req.alias_name, string_field("room_alias_name"));
  CONCLAVE_ASSIGN_OR_RETURN(auto room_version, string_field("room_version"));
  if (visibility && *visibility != "public" && *visibility != "private") {
    return InvalidParam("'visibility' must be public or private");
  }
  req.published = visibility && *visibility == "public";
  if (!preset_name) preset_name = req.published ? "public_chat" : "private_chat";
  CONCLAVE_ASSIGN_OR_RETURN(req.preset, PresetFor(*preset_name));
  if (room_version && *room_version != kDefaultRoomVersion) {
    return MatrixStatus(
        Errcode::kUnsupportedRoomVersion,
        core::StrCat("Room version ", *room_version,
                     " is not supported; this server creates version ", kDefaultRoomVersion));
  }
  if (const auto* d = body.if_contains("is_direct"); d && !d->is_null()) {
    if (!d->is_bool()) return BadJson("'is_direct' must be a boolean");
    req.is_direct = d->get_bool();
  }
  if (const auto* v = body.if_contains("invite"); v && !v->is_null()) {
    if (!v->is_array()) return BadJson("'invite' must be an array of user ids");
    for (const auto& u : v->get_array()) {
      if (!u.is_string() || !ParseUserId(u.get_string()).ok()) {
        return InvalidParam("'invite' must hold user ids");
      }
      auto target = ParseUserId(u.get_string());
      if (target->server_name != server_name || !accounts.UserExists(u.get_string())) {
        return NotFound(core::StrCat("Cannot invite unknown user ", u.get_string(),
                                     " (this server does not federate)"));
      }
      req.invites.emplace_back(u.get_string());
    }
  }
  for (auto [key, out] : {std::pair{"creation_content", &req.creation_content},
                          std::pair{"power_level_content_override", &req.power_override}}) {
    if (const auto* v = body.if_contains(key); v && !v->is_null()) {
      if (!v->is_object()) return BadJson(core::StrCat("'", key, "' must be an object"));
      *out = &v->get_object();
    }
  }
  if (const auto* v = body.if_contains("initial_state"); v && !v->is_null()) {
    if (!v->is_array()) return BadJson("'initial_state' must be an array");
    req.initial_state = &v->get_array();
    for (const auto& e : *req.initial_state) {
      const auto* o = e.if_object();
      if (o == nullptr || StringField(*o, "type").empty() || !o->contains("content") ||
          !(*o).at("content").is_object()) {
        return BadJson("each 'initial_state' entry needs a type and a content object");
      }
    }
  }
  return req;
}

}  // namespace

absl::StatusOr<CreateRoomResult> Rooms::CreateRoom(const Session& session,
                                                   const boost::json::object& body) {
  CONCLAVE_ASSIGN_OR_RETURN(CreateRoomRequest req,
                            ParseCreateRoom(body, deps_.server_name, deps_.accounts));
  const auto& [name, topic, alias_name, published, preset, is_direct, invites, creation_content,
               power_override, initial_state] = req;
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

  std::string room_id;
  std::shared_ptr<RoomData> room;
  for (int attempt = 0;; ++attempt) {
    room_id = NewRoomId(deps_.server_name);
    CONCLAVE_ASSIGN_OR_RETURN(auto taken, deps_.store.Find(*deps_.store.rooms, room_id));
    if (!taken) break;
    if (attempt > 5) return absl::InternalError("could not pick a free room id");
  }
  room = NewRoom(room_id);
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
  if (creation_content) create = *creation_content;
  create["creator"] = session.user_id;
  create["room_version"] = kDefaultRoomVersion;
  if (auto s = send("m.room.create", "", std::move(create)); !s.ok()) {
    std::lock_guard rooms_lock(rooms_mu_);
    rooms_.erase(room_id);
    return s;
  }

  boost::json::object member{{"membership", "join"}};
  if (auto profile = deps_.accounts.GetProfile(session.user_id); profile.ok()) {
    if (profile->displayname) member["displayname"] = *profile->displayname;
    if (profile->avatar_url) member["avatar_url"] = *profile->avatar_url;
  }
  CONCLAVE_RETURN_IF_ERROR(send("m.room.member", session.user_id, std::move(member)));

  boost::json::object power = DefaultPowerLevelsContent(session.user_id);
  if (preset.invitees_are_admins) {
    auto& users = power["users"].as_object();
    for (const auto& u : invites) users[u] = 100;
  }
  if (power_override) {
    for (const auto& [key, value] : *power_override) power[key] = value;
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
  if (initial_state) {
    for (const auto& e : *initial_state) {
      const auto& o = e.get_object();
      CONCLAVE_RETURN_IF_ERROR(send(std::string(StringField(o, "type")),
                                    std::string(StringField(o, "state_key")),
                                    o.at("content").get_object()));
    }
  }
  if (name) CONCLAVE_RETURN_IF_ERROR(send("m.room.name", "", boost::json::object{{"name", *name}}));
  if (topic) {
    CONCLAVE_RETURN_IF_ERROR(send("m.room.topic", "", boost::json::object{{"topic", *topic}}));
  }
  for (const std::string& invitee : invites) {
    boost::json::object content{{"membership", "invite"}};
    if (is_direct) content["is_direct"] = true;
    if (auto profile = deps_.accounts.GetProfile(invitee); profile.ok() && profile->displayname) {
      content["displayname"] = *profile->displayname;
    }
    CONCLAVE_RETURN_IF_ERROR(send("m.room.member", invitee, std::move(content)));
  }
  if (published) {
    CONCLAVE_RETURN_IF_ERROR(deps_.store.db->Put(*deps_.store.public_rooms, room_id, ""));
  }
  return CreateRoomResult{room_id, alias};
}

}  // namespace conclave::service
