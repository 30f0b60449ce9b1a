// Rooms: membership events built by other servers, and their invites of local users.
//
// Server-Server API "Joining Rooms" (make_join / send_join), "Leaving Rooms" (make_leave /
// send_leave) and "Inviting to a room" (invite v2). This server is the resident server of the
// room for joins and leaves: it offers a template, then checks the signed event the other server
// built from it (CheckReceivedPdu, pdu_checks.h) and commits it as any other event (CommitPdu),
// so local clients see it in /sync. For invites the room lives on the other server: the invite
// is kept in the `remote_invites` map (schema.h) beside the invite_room_state it came with.
#include <boost/json/serialize.hpp>
#include <string>
#include <utility>
#include <vector>

#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/database/key.h"
#include "conclave/service/protocol/auth_rules.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/event_hash.h"
#include "conclave/service/protocol/identifiers.h"
#include "conclave/service/protocol/signing.h"
#include "rooms_internal.h"

namespace conclave::service {

using namespace rooms_internal;  // NOLINT: private helpers of this subsystem

namespace {

using boost::json::array;
using boost::json::object;

// The `remote_invites` map (created on first use; OpenMap returns the same map every time).
absl::StatusOr<database::Map*> RemoteInvitesMap(Store& store) {
  return store.db->OpenMap(schema::kRemoteInvitesMap);
}

// The stripped form of `event` (Client-Server API "Stripped state"): type, state_key, sender,
// content.
object Stripped(const object& event) {
  object out;
  for (const char* key : {"type", "state_key", "sender", "content"}) {
    if (const auto* value = event.if_contains(key)) out[key] = *value;
  }
  return out;
}

}  // namespace

absl::StatusOr<Rooms::MembershipTemplate> Rooms::MakeMembership(std::string_view room_id,
                                                                std::string_view user_id,
                                                                std::string_view membership) {
  CONCLAVE_ASSIGN_OR_RETURN(UserId user, ParseUserId(user_id));
  CONCLAVE_ASSIGN_OR_RETURN(auto room, Load(room_id));
  std::lock_guard lock(room->mu);
  const RoomVersion& version = RoomVersionOrDefault(room->room_version);
  object content{{"membership", membership}};
  if (membership == "join") {
    CONCLAVE_RETURN_IF_ERROR(CheckRoomNotBanned(room_id));
    // "Restricted rooms": the resident server names one of its members who may invite.
    CONCLAVE_ASSIGN_OR_RETURN(auto authoriser, RestrictedJoinAuthoriser(*room, user_id));
    if (authoriser) content["join_authorised_via_users_server"] = *authoriser;
  }
  object event;
  event["type"] = "m.room.member";
  event["room_id"] = room->room_id;
  event["sender"] = user_id;
  event["state_key"] = user_id;
  event["content"] = std::move(content);
  if (version.top_level_origin) event["origin"] = user.server_name;
  event["origin_server_ts"] = NowMs();
  event["depth"] = room->depth + 1;
  array prev;
  if (!room->last_event_id.empty()) {
    prev.emplace_back(EventRef(version, room->last_event_id, room->last_event_hash));
  }
  event["prev_events"] = std::move(prev);
  array auth_events;
  for (const StateKey& key : AuthStateKeys(event, version)) {
    if (const auto* e = FindState(room->state, key.first, key.second)) {
      CONCLAVE_ASSIGN_OR_RETURN(std::string hash, EventReferenceHash(*e, version));
      auth_events.emplace_back(EventRef(version, StringField(*e, "event_id"), hash));
    }
  }
  event["auth_events"] = std::move(auth_events);
  // v1-v2: the id travels in the event and is chosen by its sender's server; offered here on the
  // user's server, which may choose another.
  if (version.event_id_format == EventIdFormat::kOpaque) {
    event["event_id"] = NewOpaqueEventId(user.server_name);
  }
  CONCLAVE_RETURN_IF_ERROR(CheckEventAuth(event, room->state));
  return MembershipTemplate{room->room_version, std::move(event)};
}

absl::StatusOr<Rooms::RemoteMembershipResult> Rooms::CommitRemoteMembership(
    std::string_view room_id, std::string_view event_id, std::string_view origin,
    std::string_view membership, const boost::json::object& pdu, const EventKeyLookup& keys) {
  CONCLAVE_ASSIGN_OR_RETURN(auto room, Load(room_id));
  std::lock_guard lock(room->mu);
  const RoomVersion& version = RoomVersionOrDefault(room->room_version);
  if (StringField(pdu, "type") != "m.room.member") {
    return BadJson(
        core::StrCat("The event must be an m.room.member, not '", StringField(pdu, "type"), "'"));
  }
  const std::string sender(StringField(pdu, "sender"));
  const auto* state_key = pdu.if_contains("state_key");
  if (state_key == nullptr || !state_key->is_string() || state_key->get_string() != sender) {
    return BadJson("The event's state_key must be its sender");
  }
  absl::StatusOr<UserId> user = ParseUserId(sender);
  if (!user.ok() || user->server_name != origin) {
    return Forbidden(core::StrCat("The event's sender ", sender, " is not a user of ", origin));
  }
  const auto* content = pdu.if_contains("content");
  if (content == nullptr || !content->is_object() ||
      StringField(content->get_object(), "membership") != membership) {
    return BadJson(core::StrCat("The event's membership must be '", membership, "'"));
  }
  if (StringField(pdu, "room_id") != room->room_id) {
    return BadJson(core::StrCat("The event is not of room ", room->room_id));
  }
  if (membership == "join") CONCLAVE_RETURN_IF_ERROR(CheckRoomNotBanned(room_id));
  // prev_events: events of this room (the room keeps one forward extremity; an event built on an
  // older one is accepted when it passes the current state, below).
  const auto* prev = pdu.if_contains("prev_events");
  if (prev == nullptr || !prev->is_array() || prev->get_array().empty()) {
    return BadJson("The event has no prev_events");
  }
  for (const boost::json::value& ref : prev->get_array()) {
    absl::StatusOr<StoredEvent> prev_event = ReadEvent(EventRefId(ref));
    if (!prev_event.ok() || StringField(prev_event->pdu, "room_id") != room->room_id) {
      return BadJson(core::StrCat("Unknown prev_event ", EventRefId(ref), " in ", room->room_id));
    }
  }

  object received = pdu;
  received.erase("unsigned");
  // Auth rule 4.2 (v8+): a restricted join needs the signature of the authorising user's
  // server; the resident server named one of its own users in the template.
  if (membership == "join" && version.restricted_join) {
    std::string_view authoriser =
        StringField(content->get_object(), "join_authorised_via_users_server");
    if (absl::StatusOr<UserId> id = ParseUserId(authoriser);
        id.ok() && id->server_name == deps_.server_name) {
      CONCLAVE_RETURN_IF_ERROR(SignEvent(received, version, deps_.server_name, deps_.signing_key));
    }
  }

  PduCheckInputs inputs;
  inputs.version = &version;
  inputs.room_id = room->room_id;
  inputs.expected_event_id = event_id;
  inputs.keys = keys;
  const std::string this_room = room->room_id;
  inputs.auth_events = [this, &this_room](std::string_view id) -> std::optional<object> {
    absl::StatusOr<StoredEvent> event = ReadEvent(id);
    if (!event.ok() || StringField(event->pdu, "room_id") != this_room) return std::nullopt;
    return std::move(event->pdu);
  };
  inputs.state_before = &room->state;
  inputs.current_state = &room->state;
  PduCheckResult checked = CheckReceivedPdu(received, inputs);
  if (!checked.event_id.empty() && checked.event_id != event_id) {
    return InvalidParam(core::StrCat("The event's id is ", checked.event_id, ", not ", event_id));
  }
  if (checked.verdict != PduVerdict::kAccepted) {
    return Forbidden(
        core::StrCat("The event was ", PduVerdictName(checked.verdict), ": ", checked.reason));
  }
  if (ReadEvent(checked.event_id).ok()) {
    return MatrixStatus(absl::StatusCode::kAlreadyExists, Errcode::kInvalidParam,
                        core::StrCat("Event ", checked.event_id, " is already in the room"));
  }

  object stored = std::move(checked.pdu);
  stored["event_id"] = checked.event_id;
  object unsigned_data;
  if (const auto* prev_state = FindState(room->state, "m.room.member", sender)) {
    if (const auto* c = prev_state->if_contains("content")) unsigned_data["prev_content"] = *c;
    unsigned_data["prev_sender"] = StringField(*prev_state, "sender");
    unsigned_data["replaces_state"] = StringField(*prev_state, "event_id");
  }
  if (!unsigned_data.empty()) stored["unsigned"] = std::move(unsigned_data);

  RemoteMembershipResult result;
  result.state_before.reserve(room->state.size());
  for (const auto& [key, event] : room->state) result.state_before.push_back(event);
  Draft draft{.type = "m.room.member", .state_key = sender, .sender = sender};
  if (const auto* c = stored.if_contains("content"); c != nullptr && c->is_object()) {
    draft.content = c->get_object();
  }
  CONCLAVE_ASSIGN_OR_RETURN(result.event, CommitPdu(*room, draft, std::move(stored)));
  return result;
}

absl::Status Rooms::StoreRemoteInvite(std::string_view user_id, std::string_view room_id,
                                      const boost::json::object& invite,
                                      const boost::json::array& invite_room_state) {
  Store& store = deps_.store;
  CONCLAVE_ASSIGN_OR_RETURN(database::Map * map, RemoteInvitesMap(store));
  array state;
  for (const boost::json::value& entry : invite_room_state) {
    if (entry.is_object()) state.push_back(entry);
  }
  // The invite itself belongs to the invite_state clients see (sync.yaml, InviteState).
  state.emplace_back(Stripped(invite));
  database::WriteBatch batch;
  CONCLAVE_RETURN_IF_ERROR(deps_.stream
                               .Commit(batch,
                                       [&](uint64_t pos, database::WriteBatch& b) {
                                         object record{{"room_id", room_id},
                                                       {"pos", pos},
                                                       {"event", invite},
                                                       {"invite_state", state}};
                                         b.Put(*map, PairKey(user_id, room_id),
                                               boost::json::serialize(record));
                                       })
                               .status());
  deps_.notifier.Notify(user_id);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Rooms::RemoteInvite>> Rooms::RemoteInvites(
    std::string_view user_id) const {
  Store& store = deps_.store;
  CONCLAVE_ASSIGN_OR_RETURN(database::Map * map, RemoteInvitesMap(store));
  std::vector<RemoteInvite> out;
  absl::Status bad = absl::OkStatus();
  CONCLAVE_RETURN_IF_ERROR(store.db->ForEachWithPrefix(
      *map, RoomPrefix(user_id), [&](std::string_view, std::string_view value) {
        absl::StatusOr<object> record = ParseObject(value);
        const boost::json::value* pos = record.ok() ? record->if_contains("pos") : nullptr;
        const boost::json::value* event = record.ok() ? record->if_contains("event") : nullptr;
        const boost::json::value* state =
            record.ok() ? record->if_contains("invite_state") : nullptr;
        if (pos == nullptr || !pos->is_uint64() && !pos->is_int64() || event == nullptr ||
            !event->is_object() || state == nullptr || !state->is_array()) {
          bad = absl::DataLossError(core::StrCat("remote_invites row of ", user_id, " is bad"));
          return false;
        }
        out.push_back(RemoteInvite{.room_id = std::string(StringField(*record, "room_id")),
                                   .position = pos->is_uint64()
                                                   ? pos->get_uint64()
                                                   : static_cast<uint64_t>(pos->get_int64()),
                                   .event = event->get_object(),
                                   .invite_state = state->get_array()});
        return true;
      }));
  CONCLAVE_RETURN_IF_ERROR(bad);
  return out;
}

}  // namespace conclave::service
