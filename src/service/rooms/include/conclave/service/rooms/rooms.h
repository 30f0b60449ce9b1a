// Rooms: creating rooms, membership, sending and reading events, room state, aliases, the public
// room directory, receipts and typing.
//
// Client-Server API sections "Rooms", "Room membership", "Sending events", "Getting events for a
// room", "Room aliases", "Listing rooms", "Receipts", "Typing notifications", "Redactions".
// Events are built here in the room's version (room_versions.h: prev_events and auth_events
// shape, `origin`, event id format, v12's room id), checked against that version's
// authorization rules (auth_rules.h) with the room's current state, and written with all their
// indexes in one WriteBatch on the Stream. Members of the room are woken through the Notifier (key:
// user id).
//
// Thread-safe: events of one room are serialized by a per-room lock. Owned by the Homeserver;
// must not outlive the service module.
#ifndef CONCLAVE_SERVICE_ROOMS_ROOMS_H_
#define CONCLAVE_SERVICE_ROOMS_ROOMS_H_

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "conclave/core/notifier.h"
#include "conclave/service/accounts/accounts.h"
#include "conclave/service/options/options.h"
#include "conclave/service/protocol/filter.h"
#include "conclave/service/protocol/pdu_checks.h"
#include "conclave/service/protocol/redaction.h"
#include "conclave/service/protocol/signing.h"
#include "conclave/service/protocol/state_map.h"
#include "conclave/service/rooms/event_observers.h"
#include "conclave/service/rooms/room_types.h"
#include "conclave/service/storage/store.h"
#include "conclave/service/storage/stream.h"

namespace conclave::service {

class Notifications;
class Typing;
struct EventRows;

// The largest event accepted, in bytes of its JSON (Client-Server API, "Size limits").
inline constexpr size_t kMaxEventBytes = 65536;
// The longest type, state_key, sender, room_id and event_id of an event, in bytes (the same
// section).
inline constexpr size_t kMaxEventFieldBytes = 255;

class Rooms {
 public:
  // What Rooms works with; every reference must outlive it.
  struct Deps {
    std::string server_name;
    // Signs every event built (Server-Server API, "Signing events"); must outlive the Rooms.
    const ServerSigningKey& signing_key;
    Store& store;
    Stream& stream;
    core::Notifier& notifier;  // woken with the user ids an event concerns
    Accounts& accounts;        // profiles for member events, whether an invitee exists
    Typing& typing;
    // default_room_version; null: kDefaultRoomVersion. Read at each createRoom (SIGHUP applies).
    const ServiceSettings* settings = nullptr;
    // Evaluates push rules for every event committed, its rows in the event's WriteBatch
    // (notifications.h); null: no notifications (tests of rooms alone).
    Notifications* notifications = nullptr;
  };
  explicit Rooms(Deps deps);
  ~Rooms();

  // Observers of the events local clients send (Send); the admin room's intake is one.
  EventObservers& observers() { return observers_; }

  // --- rooms and membership -------------------------------------------------------------------
  // The version createRoom uses when the request names none (the default_room_version option).
  std::string DefaultRoomVersion() const;
  // Creates a room as the spec orders its events, in `request.room_version` (default:
  // DefaultRoomVersion()) and that version's event format (v12: the room id is derived from the
  // create event). M_UNSUPPORTED_ROOM_VERSION for a version not in room_versions.h, M_NOT_FOUND for
  // an invitee who is not a local user, M_INVALID_PARAM for an alias localpart that makes no valid
  // alias, M_ROOM_IN_USE for a taken alias; M_FORBIDDEN or M_BAD_JSON from the auth rules for
  // `initial_state` or the override.
  absl::StatusOr<CreateRoomResult> CreateRoom(const Session& session,
                                              const CreateRoomRequest& request);
  // Joins `room_id_or_alias`; returns the room id. A `restricted` / `knock_restricted` room
  // admits a user who is joined to one of its `allow` rooms, naming a joined local member with
  // the invite level in `join_authorised_via_users_server`; M_FORBIDDEN otherwise.
  absl::StatusOr<std::string> Join(const Session& session, std::string_view room_id_or_alias,
                                   std::optional<std::string> reason);
  // Knocks on `room_id_or_alias` (Client-Server API "Knocking on rooms", knocking.yaml):
  // membership knock with `reason`; returns the room id. M_FORBIDDEN from the auth rules (the
  // join rule is not knock or knock_restricted, the version predates knocking, or the user is
  // joined, invited or banned) or for a room banned on this server; M_NOT_FOUND for an unknown
  // room or alias. Thread-safe.
  absl::StatusOr<std::string> Knock(const Session& session, std::string_view room_id_or_alias,
                                    std::optional<std::string> reason);
  // Upgrades `room_id` to `new_version` (Client-Server API "Room upgrades", room_upgrades.yaml)
  // and returns the replacement room's id: a new room whose create has `predecessor` (and, in
  // versions with additional creators, `additional_creators`, which are user ids), the old
  // room's transferable state and power levels (raised for the upgrader while copying), its
  // local aliases, canonical alias and directory listing; then the old room gets an
  // m.room.tombstone and, if the upgrader may, power levels of max(50, users_default + 1) for
  // events_default and invite. M_UNSUPPORTED_ROOM_VERSION for an unknown version,
  // M_INVALID_PARAM for an additional creator that is no user id, M_FORBIDDEN unless the caller
  // is joined with the level to send m.room.tombstone (and the room not already upgraded),
  // M_NOT_FOUND for an unknown room.
  absl::StatusOr<std::string> UpgradeRoom(const Session& session, std::string_view room_id,
                                          std::string_view new_version,
                                          const std::vector<std::string>& additional_creators);
  absl::Status Invite(const Session& session, std::string_view room_id, std::string_view target,
                      std::optional<std::string> reason);
  absl::Status Leave(const Session& session, std::string_view room_id,
                     std::optional<std::string> reason);
  absl::Status Forget(const Session& session, std::string_view room_id);
  absl::Status Kick(const Session& session, std::string_view room_id, std::string_view target,
                    std::optional<std::string> reason);
  absl::Status Ban(const Session& session, std::string_view room_id, std::string_view target,
                   std::optional<std::string> reason);
  absl::Status Unban(const Session& session, std::string_view room_id, std::string_view target,
                     std::optional<std::string> reason);
  // Leaves every joined or invited room (account deactivation).
  absl::Status LeaveAll(std::string_view user_id);
  // Sends a new m.room.member join event with the user's current profile into every joined room.
  absl::Status ReflectProfile(std::string_view user_id);

  absl::StatusOr<std::vector<std::string>> JoinedRooms(std::string_view user_id) const;
  // Every room the user has a membership in (joined, invited, left, banned; not forgotten).
  absl::StatusOr<std::vector<UserRoom>> UserRooms(std::string_view user_id) const;
  // The joined members, by user id; M_FORBIDDEN unless the caller is joined.
  absl::StatusOr<std::vector<JoinedMember>> JoinedMembers(const Session& session,
                                                          std::string_view room_id);
  // The indices into `candidates` (user ids, in order) of the users a user-directory search by
  // `searcher` may show: joined to a room `searcher` is joined to, or to a room whose join rule
  // is `public` or history visibility `world_readable` (users.yaml). At most `max` indices.
  // Cost: one membership read per candidate examined and one state lookup per distinct room.
  absl::StatusOr<std::vector<size_t>> DirectoryVisible(std::string_view searcher,
                                                       const std::vector<std::string>& candidates,
                                                       size_t max);
  // m.room.member events of the state the caller may see (rooms.yaml, GET /members): at stream
  // position `at` when given (a `prev_batch`/`next_batch` token's position), but never later
  // than the caller's leave. `membership` and `not_membership` (empty: no filter) combine as
  // the spec says: with both, an event is listed when its membership equals `membership` or
  // differs from `not_membership`. M_FORBIDDEN for a caller never in the room.
  absl::StatusOr<std::vector<StoredEvent>> Members(const Session& session, std::string_view room_id,
                                                   std::string_view membership,
                                                   std::string_view not_membership,
                                                   std::optional<uint64_t> at = std::nullopt);

  // --- events ----------------------------------------------------------------------------------
  // Sends a message event; the same (device, txn_id) returns the first event id again.
  absl::StatusOr<std::string> Send(const Session& session, std::string_view room_id,
                                   std::string_view type, std::string_view txn_id,
                                   const boost::json::object& content);
  absl::StatusOr<std::string> SendState(const Session& session, std::string_view room_id,
                                        std::string_view type, std::string_view state_key,
                                        const boost::json::object& content);
  absl::StatusOr<std::string> Redact(const Session& session, std::string_view room_id,
                                     std::string_view event_id, std::string_view txn_id,
                                     std::optional<std::string> reason);
  // Content of a current state event; M_NOT_FOUND if absent. Caller must be (or have been) a
  // member.
  absl::StatusOr<boost::json::object> StateContent(const Session& session, std::string_view room_id,
                                                   std::string_view type,
                                                   std::string_view state_key);
  absl::StatusOr<std::vector<StoredEvent>> State(const Session& session, std::string_view room_id);
  absl::StatusOr<StoredEvent> Event(const Session& session, std::string_view room_id,
                                    std::string_view event_id);
  // `from`/`to` are pagination tokens (empty `from`: the end for dir b, the start for dir f).
  absl::StatusOr<MessagesPage> Messages(const Session& session, std::string_view room_id,
                                        std::string_view from, std::string_view to, char dir,
                                        size_t limit, const RoomEventFilter& filter);
  // /context: the event, `limit` events around it split before/after, state at the event.
  absl::StatusOr<EventContext> Context(const Session& session, std::string_view room_id,
                                       std::string_view event_id, size_t limit,
                                       const RoomEventFilter& filter);

  // --- relations, threads and bundled aggregations (room_relations.cc, room_bundles.cc) ------
  // Client-Server API "Forming relationships between events", relations.yaml: the children of
  // `request.event_id`, newest first for dir b, stream order for dir f, through `recurse` up
  // to kMaxRelationDepth levels (only through children that match the rel_type and event
  // type), history visibility applied, each with its bundled aggregations. M_NOT_FOUND when the
  // parent is unknown or not visible to the caller; M_INVALID_PARAM for a bad token or `dir`.
  absl::StatusOr<RelationsPage> Relations(const Session& session, std::string_view room_id,
                                          const RelationsRequest& request);
  // threads_list.yaml: the room's thread roots, the most recently active first, from `from` (a
  // next_batch token; "" for the newest), at most `limit` (clamped to [1, 100]);
  // `participated_only`: threads the caller started or replied to. M_FORBIDDEN/M_NOT_FOUND as
  // Messages; M_INVALID_PARAM for a bad token.
  absl::StatusOr<ThreadsPage> Threads(const Session& session, std::string_view room_id,
                                      bool participated_only, std::string_view from, size_t limit);
  // Adds the bundled aggregations `user_id` may see ("Aggregations of child events":
  // m.replace, m.thread, m.reference) to `unsigned.m.relations` of each of `events` (of
  // `room_id`) that has children; state events get none. One iterator seek per event over the
  // `relations` map, plus a read of each latest edit and latest thread reply. Database errors.
  absl::Status Bundle(std::string_view user_id, std::string_view room_id,
                      std::vector<StoredEvent>& events);
  static constexpr int kMaxRelationDepth = 3;

  // --- aliases and directory -------------------------------------------------------------------
  absl::Status SetAlias(const Session& session, std::string_view alias, std::string_view room_id);
  absl::StatusOr<std::string> ResolveAlias(std::string_view alias) const;
  absl::Status DeleteAlias(const Session& session, std::string_view alias);
  absl::StatusOr<std::vector<std::string>> Aliases(const Session& session,
                                                   std::string_view room_id);
  absl::Status SetVisibility(const Session& session, std::string_view room_id, bool published);
  absl::StatusOr<bool> IsPublished(std::string_view room_id) const;
  // publicRooms: published rooms matching `term` (name, topic, alias), from offset `since` (a
  // token of an earlier page; M_INVALID_PARAM if malformed), at most `limit` (0: all).
  absl::StatusOr<PublicRoomsPage> PublicRooms(size_t limit, std::string_view since,
                                              std::string_view term);

  // --- ephemeral -------------------------------------------------------------------------------
  absl::Status SetTyping(const Session& session, std::string_view room_id, bool typing,
                         absl::Duration timeout);
  // receipt_type: m.read, m.read.private (m.fully_read goes to account data via ReadMarkers).
  // `thread_id` (receipts.md "Threaded read receipts"): unset for an unthreaded receipt, "main"
  // or a thread root's event id for a threaded one; M_INVALID_PARAM when empty or when the
  // event is not in that thread.
  absl::Status SetReceipt(const Session& session, std::string_view room_id,
                          std::string_view receipt_type, std::string_view event_id,
                          std::optional<std::string_view> thread_id = std::nullopt);
  absl::Status SetReadMarkers(const Session& session, std::string_view room_id,
                              std::optional<std::string> fully_read,
                              std::optional<std::string> read,
                              std::optional<std::string> read_private);

  // --- for /sync -------------------------------------------------------------------------------
  // Current state of the room (type, state_key → event).
  absl::StatusOr<std::vector<StoredEvent>> CurrentState(std::string_view room_id);
  // The state of the room right after the event at stream position `position` (for each type and
  // state_key, the newest state event at or before it), in (type, state_key) order. Walks the
  // room's events after `position` (room_state_at.cc), so it costs what they are many. No access
  // check: callers check visibility. M_NOT_FOUND for an unknown room; database errors.
  absl::StatusOr<std::vector<StoredEvent>> StateAt(std::string_view room_id, uint64_t position);
  // Drops from `events` (any order) those `user_id` may not see by the room's history visibility
  // (room_visibility.cc). Free for current members of rooms that were always shared or
  // world_readable; otherwise a StateAt and a walk over the events' span. Database errors.
  //
  // Also drops the events that users `user_id` ignores sent (m.ignored_user_list, Client-Server
  // API "Ignoring Users"), except state events. Database errors.
  absl::Status KeepVisible(std::string_view user_id, std::string_view room_id,
                           std::vector<StoredEvent>& events);
  // Whether `user_id` is invited to `room_id` by a user they ignore (m.ignored_user_list):
  // "Servers must not send room invites from ignored users to clients" ("Ignoring Users").
  // False when `user_id` is not invited. M_NOT_FOUND for an unknown room; database errors.
  absl::StatusOr<bool> InvitedByIgnored(std::string_view user_id, std::string_view room_id);
  // Stripped state for an invite (Client-Server API "Stripped state").
  absl::StatusOr<boost::json::array> StrippedState(std::string_view room_id);
  // Timeline events with position in (after, upto], newest last, at most `limit` (the newest
  // ones; `*limited` set when older ones were left out). Events failing `filter` are skipped.
  absl::StatusOr<std::vector<StoredEvent>> Timeline(std::string_view room_id, uint64_t after,
                                                    uint64_t upto, size_t limit,
                                                    const RoomEventFilter& filter, bool* limited);
  // The stream position of the newest event in the room (0 if none).
  uint64_t LatestPosition(std::string_view room_id);
  // The stream position of the room's newest event of a type that moves it up a room list
  // (MSC4186 `bump_stamp`: m.room.create, m.room.message, m.room.encrypted, m.sticker,
  // m.call.invite, m.poll.start, m.beacon_info, and their unstable poll/beacon names); 0 for an
  // unknown room. Kept in the room's cache entry: no database read once the room is loaded.
  uint64_t BumpPosition(std::string_view room_id);
  // The current state event (`type`, `state_key`), nullopt when the room has none. No access
  // check. M_NOT_FOUND for an unknown room.
  absl::StatusOr<std::optional<StoredEvent>> CurrentStateEvent(std::string_view room_id,
                                                               std::string_view type,
                                                               std::string_view state_key);
  // The current state events `keep(type, state_key, position)` accepts, in (type, state_key)
  // order; copies only those, so a room of many members costs what the caller keeps. `keep` runs
  // under the room's lock and must not call Rooms. No access check. M_NOT_FOUND for an unknown
  // room.
  absl::StatusOr<std::vector<StoredEvent>> CurrentStateWhere(
      std::string_view room_id,
      absl::FunctionRef<bool(std::string_view type, std::string_view state_key, uint64_t position)>
          keep);
  // The same, except that of the m.room.member events only those of the users in `members` are
  // offered to `keep` (looked up, not walked): with lazy-loaded members a room of many members
  // costs the members asked for. Same order, lock rule and errors.
  absl::StatusOr<std::vector<StoredEvent>> CurrentStateWhere(
      std::string_view room_id,
      absl::FunctionRef<bool(std::string_view type, std::string_view state_key, uint64_t position)>
          keep,
      const std::set<std::string, std::less<>>& members);
  // Members whose membership is join, in user id order.
  absl::StatusOr<std::vector<std::string>> JoinedUserIds(std::string_view room_id);
  // Calls `visit` with each member whose membership is join, in user id order, without copying
  // the list; `visit` runs under the room's lock and must not call Rooms. M_NOT_FOUND for an
  // unknown room.
  absl::Status ForEachJoined(std::string_view room_id,
                             absl::FunctionRef<void(const std::string& user_id)> visit);
  // A room's member counts and heroes, as the `/sync` summary and sliding sync give them.
  struct MemberSummary {
    size_t joined_count = 0;   // members with membership join
    size_t invited_count = 0;  // ... invite
    // Up to `max_heroes` members but `except`: joined ones in user id order, then invited ones
    // (sync.yaml, `m.heroes`).
    std::vector<std::string> heroes;
  };
  // The summary of `room_id` for the user `except`; reads the member lists the room keeps, not
  // its member events. No access check. M_NOT_FOUND for an unknown room.
  absl::StatusOr<MemberSummary> Members(std::string_view room_id, std::string_view except,
                                        size_t max_heroes);
  // Users whose current m.room.member has `membership` ("join", "invite", ...), in user id order.
  // M_NOT_FOUND for an unknown room.
  absl::StatusOr<std::vector<std::string>> UserIdsWithMembership(std::string_view room_id,
                                                                 std::string_view membership);
  // m.receipt content of the receipts with position > since (empty object if none).
  absl::StatusOr<boost::json::object> ReceiptsSince(std::string_view room_id, uint64_t since,
                                                    std::string_view for_user);

  // --- federation: membership events other servers build (room_federation.cc) -------------
  // Server-Server API "Joining Rooms", "Leaving Rooms", "Inviting to a room": this server is
  // the resident server of the room, or (remote invites) the invitee's server.

  // The template of a make_join / make_leave (joins-v1.yaml, leaving-v1.yaml).
  struct MembershipTemplate {
    std::string room_version;
    // An m.room.member event of `user_id` with `membership`: room_id, sender, state_key,
    // content (v8+ restricted joins: with join_authorised_via_users_server), origin (versions
    // with a top-level origin: the user's server), origin_server_ts, depth, prev_events (the
    // room's forward extremity), auth_events (the "Auth events selection" from the current
    // state); v1/v2: an `event_id` on the user's server. No hashes, no signatures.
    boost::json::object event;
  };
  // Builds the template for `user_id` (a user of another server; the caller checks it is the
  // requesting server's) to take `membership` ("join" or "leave") in `room_id`, checked against
  // the authorization rules over the current state. M_NOT_FOUND for an unknown room;
  // M_FORBIDDEN when the rules refuse it (not invited, banned, not in the room for a leave, a
  // restricted room none of whose allow rooms the user is joined to) or the room is banned on
  // this server. Thread-safe.
  absl::StatusOr<MembershipTemplate> MakeMembership(std::string_view room_id,
                                                    std::string_view user_id,
                                                    std::string_view membership);
  // What CommitRemoteMembership stored.
  struct RemoteMembershipResult {
    StoredEvent event;  // as stored: with `event_id` and `unsigned`
    // The room's current state just before the event (type, state_key order), as stored.
    std::vector<boost::json::object> state_before;
  };
  // Checks `pdu`, an m.room.member event of `membership` built by `origin` from a template
  // (send_join / send_leave v2, the PDU as received), and commits it into `room_id` as any other
  // event: a v8+ restricted join naming a local user in join_authorised_via_users_server is
  // signed by this server first (auth rule 4.2); then CheckReceivedPdu (pdu_checks.h) with
  // `keys`, the room's stored events as auth events, and the current state as both the state
  // before it and the current state (the room has a single forward extremity: prev_events
  // behind it are accepted when they are known events of the room and the event passes the
  // current state). M_NOT_FOUND for an unknown room; M_BAD_JSON when `pdu` is not such an
  // event (type, membership, state_key = sender on `origin`, the room), or names unknown
  // prev_events; M_INVALID_PARAM when its id is not `event_id`; M_FORBIDDEN naming the failed
  // check (signatures, auth events, auth rules) otherwise. Thread-safe.
  absl::StatusOr<RemoteMembershipResult> CommitRemoteMembership(
      std::string_view room_id, std::string_view event_id, std::string_view origin,
      std::string_view membership, const boost::json::object& pdu, const EventKeyLookup& keys);

  // An invite of a local user to a room of another server (invites-v2.yaml), kept in the
  // `remote_invites` map (schema.h) so that the user sees it in /sync.
  struct RemoteInvite {
    std::string room_id;
    uint64_t position = 0;            // stream position at which it was stored
    boost::json::object event;        // the invite as this server signed it, with `event_id`
    boost::json::array invite_state;  // the request's invite_room_state and the invite, stripped
  };
  // Stores `invite` (an m.room.member invite of the local `user_id`, signed by this server)
  // with `invite_room_state` at a new stream position and wakes the user. Database errors.
  absl::Status StoreRemoteInvite(std::string_view user_id, std::string_view room_id,
                                 const boost::json::object& invite,
                                 const boost::json::array& invite_room_state);
  // The remote invites of `user_id`, by room id. Database errors; kDataLoss for a bad row.
  absl::StatusOr<std::vector<RemoteInvite>> RemoteInvites(std::string_view user_id) const;

  // --- server administration (admin commands; room_admin.cc) ----------------------------------
  // For the server's operators: no membership or power-level checks, the caller (an admin
  // command) has checked that its invoker is a server admin. Errors carry Matrix errcodes like
  // the methods above.

  // What `rooms list-rooms` and `rooms info` show of one room.
  struct Summary {
    std::string room_id;
    std::string name;             // m.room.name, empty if none
    std::string canonical_alias;  // m.room.canonical_alias `alias`, empty if none
    std::string topic;
    std::string creator;
    std::string room_version;
    int64_t created_ts = 0;  // ms since the Unix epoch
    size_t joined_members = 0;
    size_t invited_members = 0;
    // Events in the room: the depth of its newest event, since every event of a room on this
    // server (no federation) extends one chain.
    int64_t events = 0;
    size_t state_events = 0;
    uint64_t latest_position = 0;
    bool published = false;  // in the public room directory
    bool banned = false;     // banned on this server (BanRoom)
  };
  // A room banned on this server.
  struct RoomBan {
    std::string room_id;
    std::string banned_by;  // user id of the admin, or "" from the command line
    std::string reason;
    int64_t banned_ts = 0;  // ms since the Unix epoch
  };

  // Every room of this server, sorted by id.
  absl::StatusOr<std::vector<std::string>> AllRoomIds() const;
  // M_NOT_FOUND for an unknown room.
  absl::StatusOr<Summary> RoomSummary(std::string_view room_id);
  // Resolves a room id or alias to the id of an existing room. M_NOT_FOUND for an unknown room or
  // alias, M_INVALID_PARAM for something that is neither.
  absl::StatusOr<std::string> ResolveRoom(std::string_view room_id_or_alias);
  // Any stored event, by id. M_NOT_FOUND if unknown.
  absl::StatusOr<StoredEvent> EventById(std::string_view event_id) const;
  // Points `alias` (of this server) at the existing room `room_id`, recording `creator` as the
  // alias's creator. M_UNKNOWN (kAlreadyExists) if the alias is taken.
  absl::Status AdminSetAlias(std::string_view alias, std::string_view room_id,
                             std::string_view creator);
  // Deletes `alias` whoever created it; returns the room it pointed to. M_NOT_FOUND if unknown.
  absl::StatusOr<std::string> AdminDeleteAlias(std::string_view alias);
  // Every alias of this server with its room id, sorted by alias.
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> AllAliases() const;
  // The aliases pointing at `room_id`, sorted.
  absl::StatusOr<std::vector<std::string>> RoomAliases(std::string_view room_id) const;
  // Publishes `room_id` in the public room directory, or removes it. M_NOT_FOUND if unknown.
  absl::Status SetPublished(std::string_view room_id, bool published);
  // The published rooms, sorted by id.
  absl::StatusOr<std::vector<std::string>> PublishedRooms() const;
  // Bans `room_id` on this server: from now on local users cannot join it (Join answers
  // M_FORBIDDEN), and every local member who is joined, invited or knocking leaves it (with
  // `reason`). Returns the users who were made to leave. M_NOT_FOUND for an unknown room,
  // kAlreadyExists if it is banned already.
  absl::StatusOr<std::vector<std::string>> BanRoom(std::string_view room_id,
                                                   std::string_view banned_by,
                                                   std::string_view reason);
  // Lifts the ban; M_NOT_FOUND if `room_id` is not banned.
  absl::Status UnbanRoom(std::string_view room_id);
  // The banned rooms, sorted by id.
  absl::StatusOr<std::vector<RoomBan>> BannedRooms() const;
  // OK unless `room_id` is banned on this server (then M_FORBIDDEN).
  absl::Status CheckRoomNotBanned(std::string_view room_id) const;

 private:
  struct RoomData;
  struct Draft;
  // Drops from `events` the non-state events of the users `user_id` ignores (KeepVisible).
  absl::Status DropIgnored(std::string_view user_id, std::vector<StoredEvent>& events) const;
  // The room's cache entry, loading it from the database on first use. M_NOT_FOUND if the room
  // does not exist.
  absl::StatusOr<std::shared_ptr<RoomData>> Load(std::string_view room_id);
  // The state `user_id` may see: the current state for members and in world_readable rooms,
  // the state at their leave for former members. M_FORBIDDEN for others.
  absl::StatusOr<std::vector<StoredEvent>> VisibleState(std::string_view user_id,
                                                        std::string_view room_id);
  // The aliases of an m.room.canonical_alias `content`: valid (M_INVALID_PARAM otherwise) and
  // pointing at `room_id` (M_BAD_ALIAS otherwise).
  absl::Status CheckCanonicalAlias(std::string_view room_id,
                                   const boost::json::object& content) const;
  // Builds, authorizes and commits one event in a room whose lock the caller holds (its rows
  // through EventWriter, in one WriteBatch on the Stream); wakes the members. Returns the stored
  // event.
  absl::StatusOr<StoredEvent> Commit(RoomData& room, Draft draft);
  // Commits `pdu`, built (BuildEvent) or received and checked (CommitRemoteMembership), with
  // `event_id` and `unsigned` set, as Commit does; `draft` says its type, state_key, sender,
  // redaction target and transaction. The room's depth becomes the larger of its own and the
  // event's.
  absl::StatusOr<StoredEvent> CommitPdu(RoomData& room, const Draft& draft,
                                        boost::json::object pdu);
  // The PDU of `draft` in `room`: prev_events, depth, auth_events, checked against the auth
  // rules (and the redaction rules for a redaction), content hash, event id, `unsigned`. Moves
  // `draft.content` into it. M_BAD_JSON for floats or non-canonical content; M_FORBIDDEN from
  // the auth rules.
  absl::StatusOr<boost::json::object> BuildEvent(RoomData& room, Draft& draft);
  // Moves `alias` from `from_room` to `to_room`, keeping its creator; nothing if it no longer
  // points at `from_room`. Database errors.
  absl::Status MoveAlias(std::string_view alias, std::string_view from_room,
                         std::string_view to_room);
  // Whether `user_id`'s membership row in `room_id` says join (no room lock taken).
  absl::StatusOr<bool> IsJoinedTo(std::string_view room_id, std::string_view user_id) const;
  // For a join of `user_id` to `room` (whose lock the caller holds): nullopt unless the room's
  // join rule is restricted (or knock_restricted) in its version and the user is neither joined
  // nor invited; then the local member to name in join_authorised_via_users_server (joined,
  // with the invite level), or M_FORBIDDEN when the user is in none of the `allow` rooms or no
  // member may invite.
  absl::StatusOr<std::optional<std::string>> RestrictedJoinAuthoriser(
      const RoomData& room, std::string_view user_id) const;
  absl::Status ChangeMembership(const Session& session, std::string_view room_id,
                                std::string_view target, std::string_view membership,
                                std::optional<std::string> reason, bool is_direct = false);
  // Guest access ("Guest access", "Server behaviour"): whether `state` has an
  // m.room.guest_access event with guest_access `can_join`.
  static bool GuestsCanJoin(const StateMap& state);
  // The joined members in `state` whose accounts are guests (Accounts::IsGuest), sorted.
  std::vector<std::string> JoinedGuests(const StateMap& state) const;
  // Makes each of `guests` leave `room_id` (its own leave event), after m.room.guest_access
  // stopped being can_join. Takes the room's lock per leave: call it without. Failures are
  // logged, not returned (the state event that caused them is already committed).
  void EvictGuests(std::string_view room_id, const std::vector<std::string>& guests);
  // The highest position `user_id` may read in the room: everything while joined, up to the
  // leave for a former member; M_FORBIDDEN otherwise (world_readable rooms excepted).
  absl::StatusOr<uint64_t> VisibleUpTo(std::string_view user_id, RoomData& room);
  // The room `room_id`, when `user_id` may read it (VisibleUpTo); M_NOT_FOUND or M_FORBIDDEN.
  absl::StatusOr<std::shared_ptr<RoomData>> LoadReadable(std::string_view user_id,
                                                         std::string_view room_id);
  absl::StatusOr<StoredEvent> ReadEvent(std::string_view event_id) const;
  // Event() without the bundled aggregations.
  absl::StatusOr<StoredEvent> VisibleEvent(std::string_view user_id, std::string_view room_id,
                                           std::string_view event_id);
  // The `relations`, `threads` fields of `rows` for `pdu` (built from `draft`), read under the
  // room's lock; M_UNKNOWN (400) for an m.thread off an event that has a relation itself
  // (threading.md, "Validation of m.thread relationships"). Views into `pdu` and `draft`.
  absl::Status PrepareRelationRows(RoomData& room, const boost::json::object& pdu,
                                   const Draft& draft, EventRows& rows);
  // Writes alias → room (no permission checks; the caller made them). M_UNKNOWN (kAlreadyExists) if
  // taken.
  absl::Status PutAlias(std::string_view alias, std::string_view room_id, std::string_view creator);
  Deps deps_;
  EventObservers observers_;
  std::mutex alias_mu_;  // makes check-and-put of an alias atomic
  std::mutex rooms_mu_;  // guards rooms_ (the map, not the entries)
  std::map<std::string, std::shared_ptr<RoomData>, std::less<>> rooms_;
};

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_ROOMS_ROOMS_H_
