// State resolution: the state of a room where branches of its event graph meet, computed from
// the states of the branches. The algorithms of room version 1, of versions 2-11 ("v2") and of
// version 12 ("v2.1": the iterative auth checks start from an empty state map, and the full
// conflicted set takes in the conflicted state subgraph), with their building blocks (auth
// chains, the auth difference, the orderings, the iterative auth checks) exposed for tests and
// for the federation code that calls them.
//
// Server-Server API, "Room State Resolution"; Room Versions, "State resolution" of v1, v2
// (content/rooms/fragments/v2-state-res.md) and v12. The authorization rules come from
// auth_rules.h (CheckEventAuth).
//
// Pure functions: no storage. Events come from the caller through an EventSource; nothing is
// kept after a call. Thread-safe as long as the EventSource is for const use.
//
// What the spec leaves open, and what is done here (each has a test in
// tests/service/protocol/state_res_*_test.cc):
//   - Events are referred to by id; an id the EventSource does not know is left out of auth
//     chains, mainlines and the auth state of an event (its events cannot be walked or read).
//     Events of the state sets themselves that are conflicted must be known (kNotFound).
//   - Room version 12 selects no m.room.create into auth_events, its room id standing for it
//     ("!" + the create's id without "$"): AuthEventIds adds the create's id to every other
//     event's auth events, so auth chains, sender power levels and the iterative auth checks
//     see it, as they do the create of earlier versions.
//   - Auth rule 4.3.1 ("the only previous event is an m.room.create") reads the event's
//     prev_events, not the state.
//   - The reverse topological power ordering orders a set X by the auth event graph restricted
//     to X: y comes before x when y is in x's auth chain, whether the path between them passes
//     through events outside X or not (Synapse orders by the direct edges within X). A cycle in the
//     auth events (impossible with hashed event ids, possible with v1-v2's opaque ones) is
//     kInvalidArgument.
//   - An event rejected on receipt that reaches the resolution (through an auth chain) is
//     checked again like any other ("Rejected events"); only as an auth event standing in for
//     a missing key is it refused. Synapse never admits a previously rejected event.
//   - v1: when no event of a conflicted key outside power levels, join rules and members passes
//     the auth checks, the last one tried (lowest depth) is kept, as Synapse does; the spec does
//     not say.
#ifndef CONCLAVE_SERVICE_PROTOCOL_STATE_RES_H_
#define CONCLAVE_SERVICE_PROTOCOL_STATE_RES_H_

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "conclave/service/protocol/room_versions.h"
#include "conclave/service/protocol/state_map.h"

namespace conclave::service {

// A room state as state resolution sees it: (type, state_key) → event_id ("Room State
// Resolution": "The state of a room is a map of (event_type, state_key) to event_id").
using StateIds = std::map<StateKey, std::string>;

// Where state resolution reads events. Implementations: EventMap below (events in memory), and
// the federation code's view of the event store. Must stay alive and unchanged for the call it
// is passed to.
class EventSource {
 public:
  virtual ~EventSource() = default;

  // Returns the event `event_id` in PDU shape (type, sender, room_id, content, state_key,
  // auth_events, prev_events, origin_server_ts, depth), or null when it is not known. The
  // pointer must stay valid for the rest of the call.
  virtual const boost::json::object* FindEvent(std::string_view event_id) const = 0;

  // Returns whether `event_id` was rejected on receipt (Server-Server API, "Rejection"): a
  // rejected event is never used as an auth event in the iterative auth checks ("Rejected
  // events"). Events rejected against the state before them still take part as usual.
  virtual bool IsRejected(std::string_view event_id) const = 0;
};

// An EventSource over events held in memory (events of a /state or /send_join response, tests).
// A value type: thread-compatible.
class EventMap final : public EventSource {
 public:
  // Stores `event` under `event_id`, replacing what was there, marked `rejected` or not.
  void Add(std::string event_id, boost::json::object event, bool rejected = false);

  const boost::json::object* FindEvent(std::string_view event_id) const override;
  bool IsRejected(std::string_view event_id) const override;
  size_t size() const { return events_.size(); }

 private:
  struct Entry {
    boost::json::object event;
    bool rejected = false;
  };
  std::map<std::string, Entry, std::less<>> events_;
};

// Returns the ids of `event`'s auth_events, in their order and without duplicates: strings in
// v3+, the first element of [event_id, hashes] pairs in v1-v2 (both are read in every version).
// For a `version` with room_id_from_create_event (v12), every event but m.room.create also gets
// the create event's id, "$" + its room_id after the "!", at the end.
std::vector<std::string> AuthEventIds(const boost::json::object& event, const RoomVersion& version);

// Returns the auth chain of `event_id`: every event reachable through auth_events links, not
// the event itself ("Auth chain"). Unknown ids are left out (see the header comment).
std::set<std::string> AuthChain(std::string_view event_id, const RoomVersion& version,
                                const EventSource& events);

// Returns the auth difference of `state_sets`: the union of their full auth chains (the union of
// the auth chains of each set's events) less their intersection ("Auth difference").
std::set<std::string> AuthDifference(std::span<const StateIds> state_sets,
                                     const RoomVersion& version, const EventSource& events);

// The unconflicted state map and the conflicted state set of some states ("Unconflicted state
// map and conflicted state set"; v1's "conflicting events").
struct StateConflicts {
  StateIds unconflicted;
  std::map<StateKey, std::set<std::string>> conflicted;  // key → the differing event ids
};

// Splits `state_sets` as v2 does: a key is unconflicted when every set has it, with the same
// event; otherwise each of its events is conflicted (a set lacking the key conflicts too).
StateConflicts SplitStateSets(std::span<const StateIds> state_sets);

// Returns the conflicted state subgraph of `conflicted` (event ids), room version 12's
// definition: every event on an auth_events path from one conflicted event to another,
// endpoints included.
std::set<std::string> ConflictedStateSubgraph(const std::set<std::string>& conflicted,
                                              const RoomVersion& version,
                                              const EventSource& events);

// Returns whether `event` is a power event ("Power events"): a state event of type
// m.room.power_levels or m.room.join_rules, or an m.room.member leave or ban whose sender is not
// its state_key (a kick, a ban).
bool IsPowerEvent(const boost::json::object& event);

// Returns the power level of `event_id`'s sender as its auth events say (their m.room.power_levels
// and m.room.create, under `version`'s rules: the creator has 100 without power levels, v12's
// creators kInfinitePowerLevel). 0 when the event is unknown or its power levels do not parse.
int64_t SenderPowerLevel(std::string_view event_id, const RoomVersion& version,
                         const EventSource& events);

// Returns `event_ids` in reverse topological power ordering: Kahn's algorithm over their auth
// events, choosing at each step the candidate whose sender has the greatest power level, then the
// smallest origin_server_ts, then the smallest event_id. kNotFound for an unknown event,
// kInvalidArgument when their auth events form a cycle.
absl::StatusOr<std::vector<std::string>> ReverseTopologicalPowerOrder(
    const std::set<std::string>& event_ids, const RoomVersion& version, const EventSource& events);

// Returns `event_ids` in the mainline ordering based on the power levels event
// `power_levels_id` ("" for none: every position is then infinite): the greatest mainline
// position first, then the smallest origin_server_ts, then the smallest event_id. kNotFound for
// an unknown event.
absl::StatusOr<std::vector<std::string>> MainlineOrder(std::span<const std::string> event_ids,
                                                       std::string_view power_levels_id,
                                                       const RoomVersion& version,
                                                       const EventSource& events);

// Applies the iterative auth checks ("Iterative auth checks") to `ordered` (event ids) starting
// from `state`: each state event that the authorization rules allow against the state so far
// replaces its key; for a key the rules read that the state lacks, the event's own (not
// rejected) auth event of that key stands in. Unknown ids and non-state events are skipped.
StateIds IterativeAuthChecks(StateIds state, std::span<const std::string> ordered,
                             const RoomVersion& version, const EventSource& events);

// Resolves `state_sets` (the states after each prev_event of an event) with `version`'s
// algorithm (RoomVersion::state_resolution): v1, v2 or v2.1. One set, or sets without
// conflicts, resolve to their union. Errors: kNotFound naming a conflicted event the source does
// not know; kInvalidArgument for a cycle in the auth events.
absl::StatusOr<StateIds> ResolveState(const RoomVersion& version,
                                      std::span<const StateIds> state_sets,
                                      const EventSource& events);

// The same for the room version `room_version` ("1" … "12"); kInvalidArgument when unknown.
absl::StatusOr<StateIds> ResolveState(std::string_view room_version,
                                      std::span<const StateIds> state_sets,
                                      const EventSource& events);

// Returns the full events of `state` from `events` as a StateMap (what CheckEventAuth takes);
// kNotFound for an id `events` does not know.
absl::StatusOr<StateMap> LoadState(const StateIds& state, const EventSource& events);

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_PROTOCOL_STATE_RES_H_
