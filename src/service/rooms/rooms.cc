// Rooms: the per-room cache, building and committing events, membership and room creation.
// Reads are in room_reads.cc, aliases and the directory in room_directory.cc, typing and receipts
// in room_ephemeral.cc.
#include "conclave/service/rooms/rooms.h"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <vector>

#include "conclave/core/log.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/database/key.h"
#include "conclave/service/protocol/auth_rules.h"
#include "conclave/service/protocol/canonical_json.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/event_hash.h"
#include "conclave/service/protocol/identifiers.h"
#include "conclave/service/protocol/power_levels.h"
#include "conclave/service/protocol/signing.h"
#include "conclave/service/push/notifications.h"
#include "conclave/service/storage/event_writer.h"
#include "rooms_internal.h"

namespace conclave::service {

using namespace rooms_internal;  // NOLINT: private helpers of this subsystem

namespace {

// Member ids with membership join or invite, plus `extra` (a membership target).
std::vector<std::string> UsersToWake(const std::set<std::string, std::less<>>& joined,
                                     const std::set<std::string, std::less<>>& invited,
                                     const std::string* extra) {
  std::vector<std::string> users;
  users.reserve(joined.size() + invited.size() + 1);
  users.insert(users.end(), joined.begin(), joined.end());
  users.insert(users.end(), invited.begin(), invited.end());
  if (extra != nullptr && !joined.contains(*extra) && !invited.contains(*extra)) {
    users.push_back(*extra);
  }
  return users;
}

}  // namespace

Rooms::Rooms(Deps deps) : deps_(std::move(deps)) {}
Rooms::~Rooms() = default;

absl::StatusOr<std::shared_ptr<Rooms::RoomData>> Rooms::Load(std::string_view room_id) {
  {
    std::lock_guard lock(rooms_mu_);
    if (auto it = rooms_.find(room_id); it != rooms_.end()) return it->second;
  }
  Store& store = deps_.store;
  CONCLAVE_ASSIGN_OR_RETURN(auto info, store.Find(*store.rooms, room_id));
  if (!info) return NotFound(core::StrCat("Unknown room ", room_id));
  auto room = std::make_shared<RoomData>();
  room->room_id = std::string(room_id);
  CONCLAVE_ASSIGN_OR_RETURN(auto info_json, ParseObject(*info));
  if (auto v = StringField(info_json, "room_version"); !v.empty()) room->room_version = v;

  std::vector<std::string> state_ids;
  CONCLAVE_RETURN_IF_ERROR(store.db->ForEachWithPrefix(
      *store.room_state, RoomPrefix(room_id), [&](std::string_view, std::string_view value) {
        state_ids.emplace_back(value);
        return true;
      }));
  for (const std::string& event_id : state_ids) {
    CONCLAVE_ASSIGN_OR_RETURN(StoredEvent event, ReadEvent(event_id));
    StateKey key(std::string(StringField(event.pdu, "type")),
                 std::string(StringField(event.pdu, "state_key")));
    room->state_positions[key] = event.position;
    room->state[key] = std::move(event.pdu);
    room->NoteMember(key);
  }
  auto it = store.db->NewIterator(*store.timeline, RoomIteration(room_id));
  it->SeekToLast();
  if (it->Valid()) {
    CONCLAVE_ASSIGN_OR_RETURN(uint64_t position, PositionOfTimelineKey(it->key()));
    CONCLAVE_ASSIGN_OR_RETURN(auto last, ParseObject(it->value()));
    room->last_event_id = std::string(StringField(last, "event_id"));
    CONCLAVE_ASSIGN_OR_RETURN(room->last_event_hash,
                              EventReferenceHash(last, RoomVersionOrDefault(room->room_version)));
    if (const auto* depth = last.if_contains("depth"); depth && depth->is_int64()) {
      room->depth = depth->get_int64();
    }
    room->latest_position.store(position);
  }
  CONCLAVE_RETURN_IF_ERROR(it->status());

  std::lock_guard lock(rooms_mu_);
  auto [entry, inserted] = rooms_.try_emplace(std::string(room_id), room);
  return entry->second;
}

absl::StatusOr<StoredEvent> Rooms::ReadEvent(std::string_view event_id) const {
  Store& store = deps_.store;
  CONCLAVE_ASSIGN_OR_RETURN(auto where, store.Find(*store.events, event_id));
  if (!where) return NotFound(core::StrCat("Unknown event ", event_id));
  CONCLAVE_ASSIGN_OR_RETURN(auto json, store.Find(*store.timeline, *where));
  if (!json)
    return absl::DataLossError(core::StrCat("event ", event_id, " is indexed but missing"));
  CONCLAVE_ASSIGN_OR_RETURN(uint64_t position, PositionOfTimelineKey(*where));
  CONCLAVE_ASSIGN_OR_RETURN(auto pdu, ParseObject(*json));
  return StoredEvent{std::move(pdu), position};
}

absl::StatusOr<boost::json::object> Rooms::BuildEvent(RoomData& room, Draft& draft) {
  // Client-Server API, "Size limits": type, state_key, sender and room_id (and event_id, ours
  // and short) at most 255 bytes each; a federating server would refuse a longer one.
  const std::pair<std::string_view, std::string_view> fields[] = {
      {"type", draft.type},
      {"state_key", draft.state_key ? std::string_view(*draft.state_key) : std::string_view()},
      {"sender", draft.sender},
      {"room_id", room.room_id}};
  for (const auto& [name, value] : fields) {
    if (value.size() > kMaxEventFieldBytes) {
      return TooLarge(core::StrCat("The event's ", name, " is ", value.size(),
                                   " bytes; the limit is ", kMaxEventFieldBytes));
    }
  }
  if (HasFloat(draft.content)) {
    return BadJson("Event content must not contain floating-point numbers");
  }
  // Integers out of range, invalid UTF-8 or too deep nesting: the client's content, not ours.
  if (auto canonical = CanonicalJson(draft.content); !canonical.ok()) {
    return BadJson(
        core::StrCat("Event content is not canonical JSON: ", canonical.status().message()));
  }
  const RoomVersion& version = RoomVersionOrDefault(room.room_version);
  const bool v12_create = version.room_id_from_create_event && draft.type == "m.room.create";
  boost::json::object pdu;
  pdu["type"] = draft.type;
  if (!v12_create) pdu["room_id"] = room.room_id;  // v12: the create event's id is the room id
  pdu["sender"] = draft.sender;
  if (version.top_level_origin) pdu["origin"] = deps_.server_name;
  pdu["content"] = std::move(draft.content);
  pdu["origin_server_ts"] = NowMs();
  pdu["depth"] = room.depth + 1;
  boost::json::array prev;
  if (!room.last_event_id.empty())
    prev.emplace_back(EventRef(version, room.last_event_id, room.last_event_hash));
  pdu["prev_events"] = std::move(prev);
  if (draft.state_key) pdu["state_key"] = *draft.state_key;
  if (draft.redacts) pdu["redacts"] = *draft.redacts;
  boost::json::array auth_events;
  for (const StateKey& key : AuthStateKeys(pdu, version)) {
    if (const auto* e = FindState(room.state, key.first, key.second)) {
      CONCLAVE_ASSIGN_OR_RETURN(std::string hash, EventReferenceHash(*e, version));
      auth_events.emplace_back(EventRef(version, StringField(*e, "event_id"), hash));
    }
  }
  pdu["auth_events"] = std::move(auth_events);
  // v1-v2: the id is chosen here and travels in the event (rule 11 reads its domain).
  if (version.event_id_format == EventIdFormat::kOpaque) {
    pdu["event_id"] = NewOpaqueEventId(deps_.server_name);
  }
  CONCLAVE_RETURN_IF_ERROR(CheckEventAuth(pdu, room.state));
  if (draft.redact_target) {
    CONCLAVE_RETURN_IF_ERROR(CheckRedactionAuth(pdu, draft.redact_target->pdu, room.state));
  }
  CONCLAVE_RETURN_IF_ERROR(AddContentHash(pdu));
  // Signed as sent over federation: v3+ without its event id, a v12 create without a room id.
  CONCLAVE_RETURN_IF_ERROR(SignEvent(pdu, version, deps_.server_name, deps_.signing_key));
  CONCLAVE_ASSIGN_OR_RETURN(std::string event_id, EventId(pdu, version));
  if (v12_create) {
    // Stored with its room id, which ReferenceHash leaves out again (event_hash.h).
    CONCLAVE_ASSIGN_OR_RETURN(room.room_id, RoomIdFromCreateEvent(pdu, version));
    pdu["room_id"] = room.room_id;
  }
  pdu["event_id"] = event_id;

  boost::json::object unsigned_data;
  if (draft.state_key) {
    if (const auto* prev_state = FindState(room.state, draft.type, *draft.state_key)) {
      if (const auto* c = prev_state->if_contains("content")) unsigned_data["prev_content"] = *c;
      unsigned_data["prev_sender"] = StringField(*prev_state, "sender");
      unsigned_data["replaces_state"] = StringField(*prev_state, "event_id");
    }
  }
  if (!draft.txn_id.empty()) {
    unsigned_data["io.conclave.txn"] =
        boost::json::object{{"device_id", draft.device_id}, {"txn_id", draft.txn_id}};
  }
  if (!unsigned_data.empty()) pdu["unsigned"] = std::move(unsigned_data);

  return pdu;
}

absl::StatusOr<StoredEvent> Rooms::Commit(RoomData& room, Draft draft) {
  CONCLAVE_ASSIGN_OR_RETURN(boost::json::object pdu, BuildEvent(room, draft));
  return CommitPdu(room, draft, std::move(pdu));
}

absl::StatusOr<StoredEvent> Rooms::CommitPdu(RoomData& room, const Draft& draft,
                                             boost::json::object pdu) {
  const std::string event_id(StringField(pdu, "event_id"));
  std::optional<StateKey> state_key;
  if (draft.state_key) state_key.emplace(draft.type, *draft.state_key);
  const std::string json = boost::json::serialize(pdu);
  CONCLAVE_ASSIGN_OR_RETURN(std::string last_hash,
                            EventReferenceHash(pdu, RoomVersionOrDefault(room.room_version)));
  if (json.size() > kMaxEventBytes) {
    return TooLarge(
        core::StrCat("Event is ", json.size(), " bytes; the limit is ", kMaxEventBytes));
  }

  // The redacted target, rewritten in the same batch.
  std::string redacted_json;
  boost::json::object redacted_pdu;
  if (draft.redact_target) {
    redacted_pdu = RedactEvent(draft.redact_target->pdu, room.room_version);
    // The redaction as stored; the api shapes it for clients (Client-Server API "Redactions":
    // unsigned.redacted_because).
    boost::json::object target_unsigned;
    target_unsigned["redacted_because"] = pdu;
    // Kept so that StateAt (room_state_at.cc) can still undo a redacted state event.
    if (const auto* old_unsigned = draft.redact_target->pdu.if_contains("unsigned");
        old_unsigned != nullptr && old_unsigned->is_object()) {
      if (const auto* replaces = old_unsigned->get_object().if_contains("replaces_state")) {
        target_unsigned["replaces_state"] = *replaces;
      }
    }
    redacted_pdu["unsigned"] = std::move(target_unsigned);
    redacted_json = boost::json::serialize(redacted_pdu);
  }

  std::string_view membership;
  if (draft.type == "m.room.member" && draft.state_key) {
    membership = StringField(pdu["content"].get_object(), "membership");
  }

  EventRows rows{.room_id = room.room_id,
                 .event_id = event_id,
                 .type = draft.type,
                 .sender = draft.sender,
                 .state_key = std::nullopt,
                 .membership = membership,
                 .json = json,
                 .room_version = room.room_version,
                 .origin_server_ts = 0,
                 .device_id = draft.device_id,
                 .txn_id = draft.txn_id,
                 .redacted_position = std::nullopt,
                 .redacted_json = redacted_json};
  if (draft.state_key) rows.state_key = *draft.state_key;
  if (const auto* ts = pdu.if_contains("origin_server_ts"); ts && ts->is_int64()) {
    rows.origin_server_ts = ts->get_int64();
  }
  if (draft.redact_target) rows.redacted_position = draft.redact_target->position;
  CONCLAVE_RETURN_IF_ERROR(PrepareRelationRows(room, pdu, draft, rows));
  // Push rules see the state before the event, as the event's auth did.
  std::vector<PendingNotification> notified;
  std::string thread;
  if (deps_.notifications != nullptr) {
    CONCLAVE_ASSIGN_OR_RETURN(notified, deps_.notifications->Evaluate(room.state, pdu));
    CONCLAVE_ASSIGN_OR_RETURN(thread, ThreadOf(deps_.store, pdu));
  }
  int64_t depth = room.depth + 1;
  if (const auto* d = pdu.if_contains("depth"); d != nullptr && d->is_int64()) {
    depth = d->get_int64();
  }
  const EventWriter writer(deps_.store);
  database::WriteBatch batch;
  CONCLAVE_ASSIGN_OR_RETURN(uint64_t position,
                            deps_.stream.Commit(
                                batch,
                                [&](uint64_t pos, database::WriteBatch& b) {
                                  writer.Put(rows, pos, b);
                                  if (deps_.notifications != nullptr)
                                    deps_.notifications->Put(notified, pdu, thread, pos, b);
                                },
                                [&](uint64_t pos) {
                                  if (state_key) {
                                    room.state[*state_key] = pdu;
                                    room.state_positions[*state_key] = pos;
                                    room.NoteMember(*state_key);
                                  }
                                  if (draft.redact_target) {
                                    StateKey target_key(
                                        std::string(StringField(redacted_pdu, "type")),
                                        std::string(StringField(redacted_pdu, "state_key")));
                                    if (redacted_pdu.contains("state_key")) {
                                      auto it = room.state.find(target_key);
                                      if (it != room.state.end() &&
                                          StringField(it->second, "event_id") == *draft.redacts) {
                                        it->second = redacted_pdu;
                                        room.NoteMember(target_key);
                                      }
                                    }
                                  }
                                  room.last_event_id = event_id;
                                  room.last_event_hash = std::move(last_hash);
                                  room.depth = std::max(room.depth, depth);
                                  room.latest_position.store(pos);
                                  if (IsBumpType(draft.type)) room.bump_position.store(pos);
                                }));
  const std::string* target =
      draft.state_key && draft.type == "m.room.member" ? &*draft.state_key : nullptr;
  deps_.notifier.Notify(UsersToWake(room.joined, room.invited, target));
  if (deps_.notifications != nullptr) deps_.notifications->Committed(notified);
  return StoredEvent{std::move(pdu), position};
}

absl::StatusOr<std::string> Rooms::Send(const Session& session, std::string_view room_id,
                                        std::string_view type, std::string_view txn_id,
                                        const boost::json::object& content) {
  CONCLAVE_ASSIGN_OR_RETURN(auto room, Load(room_id));
  std::string event_id;
  {
    std::lock_guard lock(room->mu);
    Store& store = deps_.store;
    const std::string txn_key = TxnKey(session.user_id, session.device_id, txn_id);
    if (!txn_id.empty()) {
      CONCLAVE_ASSIGN_OR_RETURN(auto existing, store.Find(*store.txn_ids, txn_key));
      if (existing) return *existing;
    }
    Draft draft{.type = std::string(type),
                .sender = session.user_id,
                .content = content,
                .device_id = session.device_id,
                .txn_id = std::string(txn_id)};
    CONCLAVE_ASSIGN_OR_RETURN(StoredEvent event, Commit(*room, std::move(draft)));
    event_id = std::string(StringField(event.pdu, "event_id"));
  }
  // Outside the room's lock (the admin room's intake sends a refusal notice into the same room).
  // A retried transaction returned above: observers hear of an event once.
  observers_.Notify(SentEvent{room_id, session.user_id, event_id, type, content});
  return event_id;
}

// room_state.yaml, PUT m.room.canonical_alias: M_INVALID_PARAM when an alias in `alias` or
// `alt_aliases` has invalid syntax (or `alt_aliases` is not an array of strings), M_BAD_ALIAS
// when a valid one does not point at this room.
absl::Status Rooms::CheckCanonicalAlias(std::string_view room_id,
                                        const boost::json::object& content) const {
  std::vector<std::string_view> aliases;
  if (const auto* alias = content.if_contains("alias"); alias != nullptr && !alias->is_null()) {
    if (!alias->is_string()) return InvalidParam("'alias' must be a string");
    if (!alias->get_string().empty()) aliases.push_back(alias->get_string());
  }
  if (const auto* alt = content.if_contains("alt_aliases"); alt != nullptr) {
    if (!alt->is_array()) return InvalidParam("'alt_aliases' must be an array of aliases");
    for (const auto& entry : alt->get_array()) {
      if (!entry.is_string()) return InvalidParam("'alt_aliases' must be an array of aliases");
      aliases.push_back(entry.get_string());
    }
  }
  for (std::string_view alias : aliases) {
    if (absl::Status valid = ParseRoomAlias(alias).status(); !valid.ok()) {
      return InvalidParam(core::StrCat("The alias ", alias, " is not a valid room alias"));
    }
  }
  for (std::string_view alias : aliases) {
    auto target = ResolveAlias(alias);
    if (!target.ok() || *target != room_id) {
      return MatrixStatus(Errcode::kBadAlias,
                          core::StrCat("The alias ", alias, " does not point to this room"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Rooms::SendState(const Session& session, std::string_view room_id,
                                             std::string_view type, std::string_view state_key,
                                             const boost::json::object& content) {
  if (type == "m.room.create") return Forbidden("m.room.create cannot be sent to an existing room");
  CONCLAVE_ASSIGN_OR_RETURN(auto room, Load(room_id));
  std::string event_id;
  std::vector<std::string> guests_to_leave;
  {
    std::lock_guard lock(room->mu);
    Draft draft{.type = std::string(type),
                .state_key = std::string(state_key),
                .sender = session.user_id,
                .content = content};
    if (type == "m.room.canonical_alias")
      CONCLAVE_RETURN_IF_ERROR(CheckCanonicalAlias(room_id, content));
    CONCLAVE_ASSIGN_OR_RETURN(StoredEvent event, Commit(*room, std::move(draft)));
    event_id = std::string(StringField(event.pdu, "event_id"));
    if (type == "m.room.guest_access" && !GuestsCanJoin(room->state)) {
      guests_to_leave = JoinedGuests(room->state);
    }
  }
  // Outside the room's lock: each leave is an event of its own.
  EvictGuests(room_id, guests_to_leave);
  return event_id;
}

bool Rooms::GuestsCanJoin(const StateMap& state) {
  const boost::json::object* content = FindStateContent(state, "m.room.guest_access", "");
  return content != nullptr && StringField(*content, "guest_access") == "can_join";
}

std::vector<std::string> Rooms::JoinedGuests(const StateMap& state) const {
  std::vector<std::string> guests;
  for (auto it = state.lower_bound(StateKey("m.room.member", ""));
       it != state.end() && it->first.first == "m.room.member"; ++it) {
    const std::string& user_id = it->first.second;
    if (MembershipOf(state, user_id) == "join" && deps_.accounts.IsGuest(user_id)) {
      guests.push_back(user_id);
    }
  }
  return guests;
}

void Rooms::EvictGuests(std::string_view room_id, const std::vector<std::string>& guests) {
  // "Guest access", "Server behaviour": "If the m.room.guest_access event is changed to stop
  // this from being the case, the server MUST set those users' m.room.member state to leave."
  // Each guest leaves by itself (a leave of one's own is always authorised), as Synapse does.
  for (const std::string& guest : guests) {
    Session as_guest{guest, ""};
    if (absl::Status s = ChangeMembership(as_guest, room_id, guest, "leave", std::nullopt);
        !s.ok()) {
      CONCLAVE_LOG(kWarn, "rooms", "guest {} could not be made to leave {}: {}", guest, room_id,
                   s.message());
    }
  }
}

absl::StatusOr<std::string> Rooms::Redact(const Session& session, std::string_view room_id,
                                          std::string_view event_id, std::string_view txn_id,
                                          std::optional<std::string> reason) {
  CONCLAVE_ASSIGN_OR_RETURN(auto room, Load(room_id));
  std::string redaction_id;
  std::vector<std::string> guests_to_leave;
  {
    std::lock_guard lock(room->mu);
    Store& store = deps_.store;
    const std::string txn_key = TxnKey(session.user_id, session.device_id, txn_id);
    CONCLAVE_ASSIGN_OR_RETURN(auto existing, store.Find(*store.txn_ids, txn_key));
    if (existing) return *existing;
    auto target = ReadEvent(event_id);
    if (!target.ok() || StringField(target->pdu, "room_id") != room_id) {
      return NotFound(core::StrCat("Unknown event ", event_id, " in room ", room_id));
    }
    const bool guest_access_event = StringField(target->pdu, "type") == "m.room.guest_access";
    boost::json::object content;
    if (reason) content["reason"] = *reason;
    Draft draft{.type = "m.room.redaction",
                .sender = session.user_id,
                .content = std::move(content),
                .redacts = std::string(event_id),
                .redact_target = *std::move(target),
                .device_id = session.device_id,
                .txn_id = std::string(txn_id)};
    CONCLAVE_ASSIGN_OR_RETURN(StoredEvent event, Commit(*room, std::move(draft)));
    redaction_id = std::string(StringField(event.pdu, "event_id"));
    // Redacting the m.room.guest_access in force strips its guest_access: no longer can_join.
    if (guest_access_event && !GuestsCanJoin(room->state)) {
      guests_to_leave = JoinedGuests(room->state);
    }
  }
  EvictGuests(room_id, guests_to_leave);
  return redaction_id;
}

absl::Status Rooms::ChangeMembership(const Session& session, std::string_view room_id,
                                     std::string_view target, std::string_view membership,
                                     std::optional<std::string> reason, bool is_direct) {
  auto target_id = ParseUserId(target);
  if (!target_id.ok()) return InvalidParam(core::StrCat("'", target, "' is not a user id"));
  if (target_id->server_name != deps_.server_name) {
    return Forbidden("This server does not federate: only local users can be members");
  }
  if (!deps_.accounts.UserExists(target)) {
    return NotFound(core::StrCat("Unknown user ", target));
  }
  CONCLAVE_ASSIGN_OR_RETURN(auto room, Load(room_id));
  std::lock_guard lock(room->mu);
  // A room banned by the server's admins takes no new members (room_admin.cc). Checked under
  // the room's lock, which BanRoom holds while it records the ban, so no join slips past it.
  if (membership == "join" && MembershipOf(room->state, target) != "join") {
    CONCLAVE_RETURN_IF_ERROR(CheckRoomNotBanned(room_id));
  }
  // "Guest access", "Server behaviour": "Servers MUST only allow guest users to join rooms if
  // the m.room.guest_access state event is present on the room, and has the guest_access value
  // can_join".
  if (membership == "join" && session.is_guest && !GuestsCanJoin(room->state)) {
    return MatrixStatus(Errcode::kGuestAccessForbidden,
                        "Guests may join only rooms whose m.room.guest_access is can_join");
  }
  const bool with_profile = membership == "join" || membership == "invite" || membership == "knock";
  boost::json::object content = with_profile ? MemberContent(deps_.accounts, target, membership)
                                             : boost::json::object{{"membership", membership}};
  if (membership == "join") {
    CONCLAVE_ASSIGN_OR_RETURN(auto authoriser, RestrictedJoinAuthoriser(*room, target));
    if (authoriser) content["join_authorised_via_users_server"] = *authoriser;
  }
  if (reason) content["reason"] = *reason;
  if (is_direct) content["is_direct"] = true;
  Draft draft{.type = "m.room.member",
              .state_key = std::string(target),
              .sender = session.user_id,
              .content = std::move(content)};
  return Commit(*room, std::move(draft)).status();
}

absl::StatusOr<std::string> Rooms::Join(const Session& session, std::string_view room_id_or_alias,
                                        std::optional<std::string> reason) {
  std::string room_id(room_id_or_alias);
  if (!room_id_or_alias.empty() && room_id_or_alias[0] == '#') {
    CONCLAVE_ASSIGN_OR_RETURN(room_id, ResolveAlias(room_id_or_alias));
  } else if (!ParseRoomId(room_id_or_alias).ok()) {
    return InvalidParam(core::StrCat("'", room_id_or_alias, "' is not a room id or alias"));
  }
  CONCLAVE_RETURN_IF_ERROR(
      ChangeMembership(session, room_id, session.user_id, "join", std::move(reason)));
  return room_id;
}

absl::Status Rooms::Invite(const Session& session, std::string_view room_id,
                           std::string_view target, std::optional<std::string> reason) {
  return ChangeMembership(session, room_id, target, "invite", std::move(reason));
}

absl::Status Rooms::Leave(const Session& session, std::string_view room_id,
                          std::optional<std::string> reason) {
  return ChangeMembership(session, room_id, session.user_id, "leave", std::move(reason));
}

absl::Status Rooms::Kick(const Session& session, std::string_view room_id, std::string_view target,
                         std::optional<std::string> reason) {
  CONCLAVE_ASSIGN_OR_RETURN(auto room, Load(room_id));
  {
    std::lock_guard lock(room->mu);
    std::string_view current = MembershipOf(room->state, target);
    if (current != "join" && current != "invite" && current != "knock") {
      return Forbidden(core::StrCat(target, " is not in the room"));
    }
  }
  return ChangeMembership(session, room_id, target, "leave", std::move(reason));
}

absl::Status Rooms::Ban(const Session& session, std::string_view room_id, std::string_view target,
                        std::optional<std::string> reason) {
  return ChangeMembership(session, room_id, target, "ban", std::move(reason));
}

absl::Status Rooms::Unban(const Session& session, std::string_view room_id, std::string_view target,
                          std::optional<std::string> reason) {
  CONCLAVE_ASSIGN_OR_RETURN(auto room, Load(room_id));
  {
    std::lock_guard lock(room->mu);
    if (MembershipOf(room->state, target) != "ban") {
      return Forbidden(core::StrCat(target, " is not banned"));
    }
  }
  return ChangeMembership(session, room_id, target, "leave", std::move(reason));
}

absl::Status Rooms::Forget(const Session& session, std::string_view room_id) {
  CONCLAVE_ASSIGN_OR_RETURN(auto room, Load(room_id));
  std::lock_guard lock(room->mu);
  std::string_view membership = MembershipOf(room->state, session.user_id);
  if (membership == "join" || membership == "invite" || membership == "knock") {
    return MatrixStatus(absl::StatusCode::kFailedPrecondition, Errcode::kUnknown,
                        "Leave the room before forgetting it");
  }
  Store& store = deps_.store;
  return store.db->Delete(*store.user_rooms, PairKey(session.user_id, room_id));
}

absl::Status Rooms::LeaveAll(std::string_view user_id) {
  CONCLAVE_ASSIGN_OR_RETURN(auto rooms, UserRooms(user_id));
  Session session{std::string(user_id), ""};
  for (const UserRoom& room : rooms) {
    if (room.membership == "join" || room.membership == "invite" || room.membership == "knock") {
      if (auto s = Leave(session, room.room_id, std::nullopt); !s.ok()) {
        CONCLAVE_LOG(kWarn, "rooms", "{} could not leave {}: {}", user_id, room.room_id,
                     s.message());
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Rooms::ReflectProfile(std::string_view user_id) {
  CONCLAVE_ASSIGN_OR_RETURN(auto rooms, JoinedRooms(user_id));
  Session session{std::string(user_id), ""};
  for (const std::string& room_id : rooms) {
    CONCLAVE_RETURN_IF_ERROR(ChangeMembership(session, room_id, user_id, "join", std::nullopt));
  }
  return absl::OkStatus();
}

}  // namespace conclave::service
