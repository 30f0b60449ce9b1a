#include "conclave/service/protocol/state_res.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <limits>
#include <tuple>
#include <unordered_set>
#include <utility>

#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/auth_rules.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/power_levels.h"
#include "state_res_internal.h"

namespace conclave::service {
namespace internal {

std::string_view StringOf(const boost::json::object& event, std::string_view key) {
  const boost::json::value* value = event.if_contains(key);
  if (value == nullptr || !value->is_string()) return {};
  return value->get_string();
}

int64_t IntegerOf(const boost::json::object& event, std::string_view key) {
  const boost::json::value* value = event.if_contains(key);
  if (value == nullptr) return 0;
  if (value->is_int64()) return value->get_int64();
  if (value->is_uint64() && value->get_uint64() <= uint64_t{INT64_MAX}) {
    return static_cast<int64_t>(value->get_uint64());
  }
  return 0;
}

bool StateKeyOf(const boost::json::object& event, StateKey& key) {
  const boost::json::value* type = event.if_contains("type");
  const boost::json::value* state_key = event.if_contains("state_key");
  if (type == nullptr || !type->is_string() || state_key == nullptr || !state_key->is_string()) {
    return false;
  }
  key = StateKey(type->get_string(), state_key->get_string());
  return true;
}

absl::StatusOr<const boost::json::object*> Resolution::Require(std::string_view id,
                                                               std::string_view what) const {
  const boost::json::object* event = Find(id);
  if (event == nullptr) {
    return NotFound(core::StrCat("state resolution: the ", what, " ", id, " is not known"));
  }
  return event;
}

const std::vector<std::string>& Resolution::AuthIds(const std::string& id) {
  auto it = auth_ids_.find(id);
  if (it != auth_ids_.end()) return it->second;
  const boost::json::object* event = Find(id);
  std::vector<std::string> ids;
  if (event != nullptr) ids = AuthEventIds(*event, version_);
  // Node-based: the reference stays valid as other entries are added.
  return auth_ids_.emplace(id, std::move(ids)).first->second;
}

namespace {

// The ids of a list of event references (auth_events, prev_events): strings (v3+) or
// [event_id, hashes] pairs (v1-v2). Duplicates are dropped.
std::vector<std::string> EventRefs(const boost::json::value* refs) {
  std::vector<std::string> ids;
  if (refs == nullptr || !refs->is_array()) return ids;
  for (const boost::json::value& ref : refs->get_array()) {
    const boost::json::value* id = &ref;
    if (ref.is_array() && !ref.get_array().empty()) id = &ref.get_array()[0];
    if (!id->is_string()) continue;
    std::string_view text = id->get_string();
    if (std::find(ids.begin(), ids.end(), text) == ids.end()) ids.emplace_back(text);
  }
  return ids;
}

// An entry of the room state that stands for an event which is not m.room.create: present
// whenever the auth state would otherwise hold m.room.create alone, so that rule 4.3.1 (which
// CheckEventAuth reads as "the state holds only m.room.create") judges by prev_events instead.
const StateKey kNotOnlyCreate("conclave.state_res.not_only_create", "");

}  // namespace

absl::Status Resolution::Authorise(const std::string& id, const boost::json::object& event,
                                   const StateIds& state, bool use_auth_events) {
  StateMap auth_state;
  if (StringOf(event, "type") == "m.room.create") return CheckEventAuth(event, auth_state);

  std::vector<StateKey> keys = AuthStateKeys(event, version_);
  const StateKey create_key("m.room.create", "");
  if (std::find(keys.begin(), keys.end(), create_key) == keys.end()) keys.push_back(create_key);
  std::map<StateKey, std::string> own;  // the event's own usable auth events, by key
  if (use_auth_events) {
    for (const std::string& auth_id : AuthIds(id)) {
      const boost::json::object* auth_event = Find(auth_id);
      StateKey key;
      if (auth_event != nullptr && !Rejected(auth_id) && StateKeyOf(*auth_event, key)) {
        own.emplace(std::move(key), auth_id);
      }
    }
  }
  std::string create_id;
  for (const StateKey& key : keys) {
    const std::string* chosen = nullptr;
    const boost::json::object* found = nullptr;
    if (auto in_state = state.find(key); in_state != state.end()) {
      chosen = &in_state->second;
      found = Find(*chosen);
    }
    if (found == nullptr) {
      if (auto in_auth = own.find(key); in_auth != own.end()) {
        chosen = &in_auth->second;
        found = Find(*chosen);
      }
    }
    if (found == nullptr) continue;
    boost::json::object copy = *found;
    copy["event_id"] = *chosen;  // v12 rule 2 compares the room id with the create's id
    if (key == create_key) create_id = *chosen;
    auth_state.emplace(key, std::move(copy));
  }

  // Rule 4.3.1: "If the only previous event is an m.room.create and the state_key is the
  // creator, allow."
  const boost::json::object* create = FindState(auth_state, "m.room.create", "");
  if (create != nullptr && StringOf(event, "type") == "m.room.member") {
    std::vector<std::string> prev = EventRefs(event.if_contains("prev_events"));
    std::vector<std::string> creators = RoomCreators(*create);
    bool first_join = prev.size() == 1 && prev[0] == create_id && !creators.empty() &&
                      StringOf(event, "state_key") == creators.front();
    if (first_join) {
      boost::json::object only_create = *create;
      auth_state.clear();
      auth_state.emplace(create_key, std::move(only_create));
    } else if (auth_state.size() == 1) {
      auth_state.emplace(kNotOnlyCreate, boost::json::object());
    }
  }
  return CheckEventAuth(event, auth_state);
}

}  // namespace internal

namespace {

using internal::IntegerOf;
using internal::Resolution;
using internal::StateKeyOf;
using internal::StringOf;

const StateKey kPowerLevelsKey("m.room.power_levels", "");

// Every known event reachable from `from`'s auth events (`from` themselves only when reachable).
std::unordered_set<std::string> Reachable(const std::vector<std::string>& from, Resolution& r) {
  std::unordered_set<std::string> seen;
  std::vector<const std::string*> stack;
  for (const std::string& id : from) {
    for (const std::string& auth_id : r.AuthIds(id)) stack.push_back(&auth_id);
  }
  while (!stack.empty()) {
    const std::string& id = *stack.back();
    stack.pop_back();
    if (seen.contains(id) || r.Find(id) == nullptr) continue;
    seen.insert(id);
    for (const std::string& auth_id : r.AuthIds(id)) stack.push_back(&auth_id);
  }
  return seen;
}

// Answers "does this event reach a member of `targets` through one or more auth_events links",
// remembering every answer. Iterative (auth chains can be thousands deep); a cycle counts as
// not reaching.
class ReachesTargets {
 public:
  ReachesTargets(const std::set<std::string>& targets, Resolution& r) : targets_(targets), r_(r) {}

  bool operator()(const std::string& start) {
    if (auto it = memo_.find(start); it != memo_.end()) return it->second == kYes;
    struct Frame {
      const std::string* id;
      size_t next = 0;
      bool found = false;
    };
    std::vector<Frame> stack;
    memo_[start] = kInProgress;
    stack.push_back({&start});
    bool result = false;
    while (!stack.empty()) {
      Frame& frame = stack.back();
      const std::vector<std::string>& auth = r_.AuthIds(*frame.id);
      if (frame.next < auth.size()) {
        const std::string& next = auth[frame.next++];
        if (targets_.contains(next)) {
          frame.found = true;
          continue;
        }
        auto it = memo_.find(next);
        if (it == memo_.end()) {
          if (r_.Find(next) == nullptr) continue;
          memo_[next] = kInProgress;
          stack.push_back({&next});  // `frame` is not used again in this turn
        } else if (it->second == kYes) {
          frame.found = true;
        }
        continue;
      }
      result = frame.found;
      memo_[*frame.id] = result ? kYes : kNo;
      stack.pop_back();
      if (result && !stack.empty()) stack.back().found = true;
    }
    return result;
  }

 private:
  enum Answer { kInProgress, kNo, kYes };
  const std::set<std::string>& targets_;
  Resolution& r_;
  std::unordered_map<std::string, Answer> memo_;
};

std::set<std::string> AuthDifferenceOf(std::span<const StateIds> state_sets, Resolution& r) {
  std::unordered_map<std::string, size_t> count;
  for (const StateIds& state : state_sets) {
    std::vector<std::string> ids;
    ids.reserve(state.size());
    for (const auto& [key, id] : state) ids.push_back(id);
    for (const std::string& id : Reachable(ids, r)) ++count[id];
  }
  std::set<std::string> difference;
  for (const auto& [id, n] : count) {
    if (n < state_sets.size()) difference.insert(id);
  }
  return difference;
}

std::set<std::string> SubgraphOf(const std::set<std::string>& conflicted, Resolution& r) {
  std::vector<std::string> starts(conflicted.begin(), conflicted.end());
  std::set<std::string> subgraph = conflicted;
  ReachesTargets reaches(conflicted, r);
  for (const std::string& id : Reachable(starts, r)) {
    if (reaches(id)) subgraph.insert(id);
  }
  return subgraph;
}

int64_t SenderLevel(const std::string& id, Resolution& r) {
  const boost::json::object* event = r.Find(id);
  if (event == nullptr) return 0;
  const boost::json::object* create = nullptr;
  const boost::json::object* levels = nullptr;
  StateKey key;
  if (StateKeyOf(*event, key) && key == StateKey("m.room.create", "")) create = event;
  for (const std::string& auth_id : r.AuthIds(id)) {
    const boost::json::object* auth_event = r.Find(auth_id);
    if (auth_event == nullptr || !StateKeyOf(*auth_event, key)) continue;
    if (key == StateKey("m.room.create", "")) create = auth_event;
    if (key == kPowerLevelsKey) levels = auth_event;
  }
  std::vector<std::string> creators;
  if (create != nullptr) creators = RoomCreators(*create);
  const boost::json::object* content = nullptr;
  if (levels != nullptr) {
    const boost::json::value* value = levels->if_contains("content");
    content = value == nullptr ? nullptr : value->if_object();
  }
  absl::StatusOr<PowerLevels> parsed = ParsePowerLevels(content, r.version(), creators);
  if (!parsed.ok()) return 0;
  return parsed->UserLevel(StringOf(*event, "sender"));
}

absl::StatusOr<std::vector<std::string>> PowerOrder(const std::set<std::string>& ids,
                                                    Resolution& r) {
  struct Node {
    const boost::json::object* event = nullptr;
    int64_t level = 0;
    size_t waiting = 0;                     // ancestors in `ids` not yet ordered
    std::vector<const std::string*> after;  // events of `ids` that have this one as ancestor
  };
  std::unordered_map<std::string, Node> nodes;
  for (const std::string& id : ids) {
    absl::StatusOr<const boost::json::object*> event = r.Require(id, "event to order");
    if (!event.ok()) return event.status();
    nodes[id].event = *event;
    nodes[id].level = SenderLevel(id, r);
  }
  // x waits for each y of `ids` in its auth chain that no other event of `ids` separates from
  // it; the walk only enters events that lead to `ids` at all.
  ReachesTargets leads_to_ids(ids, r);
  for (const std::string& id : ids) {
    std::unordered_set<std::string> seen;
    std::vector<const std::string*> stack;
    for (const std::string& auth_id : r.AuthIds(id)) stack.push_back(&auth_id);
    while (!stack.empty()) {
      const std::string& next = *stack.back();
      stack.pop_back();
      if (!seen.insert(next).second) continue;
      if (auto it = nodes.find(next); it != nodes.end()) {
        it->second.after.push_back(&id);
        ++nodes[id].waiting;
        continue;
      }
      if (r.Find(next) == nullptr || !leads_to_ids(next)) continue;
      for (const std::string& auth_id : r.AuthIds(next)) stack.push_back(&auth_id);
    }
  }
  // "x < y if x's sender has greater power level ..., then origin_server_ts, then event_id."
  using Rank = std::tuple<int64_t, int64_t, std::string_view>;  // (-level, ts, id)
  auto rank = [&nodes](const std::string& id) {
    const Node& node = nodes.at(id);
    int64_t level = node.level == std::numeric_limits<int64_t>::min()
                        ? std::numeric_limits<int64_t>::max()
                        : -node.level;
    return Rank(level, IntegerOf(*node.event, "origin_server_ts"), id);
  };
  std::set<Rank> ready;
  for (const std::string& id : ids) {
    if (nodes[id].waiting == 0) ready.insert(rank(id));
  }
  std::vector<std::string> order;
  order.reserve(ids.size());
  while (!ready.empty()) {
    std::string id(std::get<2>(*ready.begin()));
    ready.erase(ready.begin());
    for (const std::string* later : nodes[id].after) {
      if (--nodes[*later].waiting == 0) ready.insert(rank(*later));
    }
    order.push_back(std::move(id));
  }
  if (order.size() != ids.size()) {
    return absl::InvalidArgumentError(core::StrCat("state resolution: the auth events of ",
                                                   ids.size() - order.size(),
                                                   " events form a cycle"));
  }
  return order;
}

// The id of the m.room.power_levels event among `id`'s auth events, or "".
std::string PowerLevelsAuthOf(const std::string& id, Resolution& r) {
  for (const std::string& auth_id : r.AuthIds(id)) {
    const boost::json::object* event = r.Find(auth_id);
    StateKey key;
    if (event != nullptr && StateKeyOf(*event, key) && key == kPowerLevelsKey) return auth_id;
  }
  return {};
}

absl::StatusOr<std::vector<std::string>> MainlineOrderOf(std::span<const std::string> ids,
                                                         std::string_view power_levels_id,
                                                         Resolution& r) {
  constexpr size_t kInfinity = std::numeric_limits<size_t>::max();
  // The mainline of P0: P_i → i.
  std::unordered_map<std::string, size_t> position;
  std::string current(power_levels_id);
  for (size_t i = 0; !current.empty() && !position.contains(current) && r.Find(current); ++i) {
    position.emplace(current, i);
    current = PowerLevelsAuthOf(current, r);
  }
  // The mainline position of a power levels event e_j: that of the first event of the mainline
  // met following power levels auth events from e_j on, e_j included.
  std::unordered_map<std::string, size_t> memo;
  auto position_from = [&](std::string pl) {
    std::vector<std::string> path;
    std::unordered_set<std::string> on_path;
    size_t found = kInfinity;
    while (!pl.empty()) {
      if (auto it = position.find(pl); it != position.end()) {
        found = it->second;
        break;
      }
      if (auto it = memo.find(pl); it != memo.end()) {
        found = it->second;
        break;
      }
      if (!on_path.insert(pl).second || r.Find(pl) == nullptr) break;
      path.push_back(pl);
      pl = PowerLevelsAuthOf(pl, r);
    }
    for (const std::string& id : path) memo[id] = found;
    return found;
  };
  struct Sorted {
    size_t position;
    int64_t ts;
    const std::string* id;
  };
  std::vector<Sorted> sorted;
  sorted.reserve(ids.size());
  for (const std::string& id : ids) {
    absl::StatusOr<const boost::json::object*> event = r.Require(id, "event to order");
    if (!event.ok()) return event.status();
    // e_1 is the power levels event in e's auth events; e itself is not in its list.
    sorted.push_back(
        {position_from(PowerLevelsAuthOf(id, r)), IntegerOf(**event, "origin_server_ts"), &id});
  }
  std::sort(sorted.begin(), sorted.end(), [](const Sorted& x, const Sorted& y) {
    if (x.position != y.position) return x.position > y.position;
    if (x.ts != y.ts) return x.ts < y.ts;
    return *x.id < *y.id;
  });
  std::vector<std::string> order;
  order.reserve(sorted.size());
  for (const Sorted& entry : sorted) order.push_back(*entry.id);
  return order;
}

StateIds IterativeChecks(StateIds state, std::span<const std::string> ordered, Resolution& r) {
  for (const std::string& id : ordered) {
    const boost::json::object* event = r.Find(id);
    StateKey key;
    if (event == nullptr || !StateKeyOf(*event, key)) continue;
    if (r.Authorise(id, *event, state, /*use_auth_events=*/true).ok()) {
      state.insert_or_assign(std::move(key), id);
    }
  }
  return state;
}

// Room versions 2-12 ("Algorithm"), on sets with conflicts.
absl::StatusOr<StateIds> ResolveStateV2(const StateConflicts& split,
                                        std::span<const StateIds> state_sets, Resolution& r) {
  bool v21 = r.version().state_resolution == StateResolution::kV21;
  std::set<std::string> conflicted;
  for (const auto& [key, ids] : split.conflicted) conflicted.insert(ids.begin(), ids.end());
  for (const std::string& id : conflicted) {
    absl::StatusOr<const boost::json::object*> event = r.Require(id, "conflicted event");
    if (!event.ok()) return event.status();
  }
  // The full conflicted set.
  std::set<std::string> full = conflicted;
  full.merge(AuthDifferenceOf(state_sets, r));
  if (v21) full.merge(SubgraphOf(conflicted, r));

  // 1. The power events and the events of their auth chains in the full conflicted set.
  std::vector<std::string> power_events;
  for (const std::string& id : full) {
    if (IsPowerEvent(*r.Find(id))) power_events.push_back(id);
  }
  std::set<std::string> power_set(power_events.begin(), power_events.end());
  for (const std::string& id : Reachable(power_events, r)) {
    if (full.contains(id)) power_set.insert(id);
  }
  absl::StatusOr<std::vector<std::string>> power_order = PowerOrder(power_set, r);
  if (!power_order.ok()) return power_order.status();
  // 2. Iterative auth checks from the unconflicted state map (v2.1: from an empty one).
  StateIds partial = IterativeChecks(v21 ? StateIds() : split.unconflicted, *power_order, r);
  // 3. The rest in mainline order of the partially resolved power levels.
  std::vector<std::string> rest;
  for (const std::string& id : full) {
    if (!power_set.contains(id)) rest.push_back(id);
  }
  auto levels = partial.find(kPowerLevelsKey);
  absl::StatusOr<std::vector<std::string>> rest_order =
      MainlineOrderOf(rest, levels == partial.end() ? "" : levels->second, r);
  if (!rest_order.ok()) return rest_order.status();
  // 4. Iterative auth checks on the partially resolved state.
  StateIds resolved = IterativeChecks(std::move(partial), *rest_order, r);
  // 5. The unconflicted state map wins.
  for (const auto& [key, id] : split.unconflicted) resolved.insert_or_assign(key, id);
  return resolved;
}

}  // namespace

void EventMap::Add(std::string event_id, boost::json::object event, bool rejected) {
  events_.insert_or_assign(std::move(event_id), Entry{std::move(event), rejected});
}

const boost::json::object* EventMap::FindEvent(std::string_view event_id) const {
  auto it = events_.find(event_id);
  return it == events_.end() ? nullptr : &it->second.event;
}

bool EventMap::IsRejected(std::string_view event_id) const {
  auto it = events_.find(event_id);
  return it != events_.end() && it->second.rejected;
}

std::vector<std::string> AuthEventIds(const boost::json::object& event,
                                      const RoomVersion& version) {
  std::vector<std::string> ids = internal::EventRefs(event.if_contains("auth_events"));
  if (version.room_id_from_create_event && StringOf(event, "type") != "m.room.create") {
    std::string_view room_id = StringOf(event, "room_id");
    if (room_id.size() > 1 && room_id.front() == '!') {
      std::string create_id = core::StrCat("$", room_id.substr(1));
      if (std::find(ids.begin(), ids.end(), create_id) == ids.end()) {
        ids.push_back(std::move(create_id));
      }
    }
  }
  return ids;
}

std::set<std::string> AuthChain(std::string_view event_id, const RoomVersion& version,
                                const EventSource& events) {
  Resolution r(version, events);
  std::unordered_set<std::string> chain = Reachable({std::string(event_id)}, r);
  return std::set<std::string>(chain.begin(), chain.end());
}

std::set<std::string> AuthDifference(std::span<const StateIds> state_sets,
                                     const RoomVersion& version, const EventSource& events) {
  Resolution r(version, events);
  return AuthDifferenceOf(state_sets, r);
}

StateConflicts SplitStateSets(std::span<const StateIds> state_sets) {
  StateConflicts split;
  std::map<StateKey, std::pair<size_t, std::set<std::string>>> seen;  // key → (sets, ids)
  for (const StateIds& state : state_sets) {
    for (const auto& [key, id] : state) {
      auto& [sets, ids] = seen[key];
      ++sets;
      ids.insert(id);
    }
  }
  for (auto& [key, entry] : seen) {
    auto& [sets, ids] = entry;
    if (sets == state_sets.size() && ids.size() == 1) {
      split.unconflicted.emplace(key, *ids.begin());
    } else {
      split.conflicted.emplace(key, std::move(ids));
    }
  }
  return split;
}

std::set<std::string> ConflictedStateSubgraph(const std::set<std::string>& conflicted,
                                              const RoomVersion& version,
                                              const EventSource& events) {
  Resolution r(version, events);
  return SubgraphOf(conflicted, r);
}

bool IsPowerEvent(const boost::json::object& event) {
  StateKey key;
  if (!StateKeyOf(event, key)) return false;
  if (key.first == "m.room.power_levels" || key.first == "m.room.join_rules") return true;
  if (key.first != "m.room.member") return false;
  const boost::json::value* content = event.if_contains("content");
  if (content == nullptr || !content->is_object()) return false;
  std::string_view membership = StringOf(content->get_object(), "membership");
  return (membership == "leave" || membership == "ban") && StringOf(event, "sender") != key.second;
}

int64_t SenderPowerLevel(std::string_view event_id, const RoomVersion& version,
                         const EventSource& events) {
  Resolution r(version, events);
  return SenderLevel(std::string(event_id), r);
}

absl::StatusOr<std::vector<std::string>> ReverseTopologicalPowerOrder(
    const std::set<std::string>& event_ids, const RoomVersion& version, const EventSource& events) {
  Resolution r(version, events);
  return PowerOrder(event_ids, r);
}

absl::StatusOr<std::vector<std::string>> MainlineOrder(std::span<const std::string> event_ids,
                                                       std::string_view power_levels_id,
                                                       const RoomVersion& version,
                                                       const EventSource& events) {
  Resolution r(version, events);
  return MainlineOrderOf(event_ids, power_levels_id, r);
}

StateIds IterativeAuthChecks(StateIds state, std::span<const std::string> ordered,
                             const RoomVersion& version, const EventSource& events) {
  Resolution r(version, events);
  return IterativeChecks(std::move(state), ordered, r);
}

absl::StatusOr<StateIds> ResolveState(const RoomVersion& version,
                                      std::span<const StateIds> state_sets,
                                      const EventSource& events) {
  if (state_sets.empty()) return StateIds();
  if (state_sets.size() == 1) return state_sets.front();
  Resolution r(version, events);
  if (version.state_resolution == StateResolution::kV1) return ResolveStateV1(state_sets, r);
  StateConflicts split = SplitStateSets(state_sets);
  if (split.conflicted.empty()) return std::move(split.unconflicted);
  return ResolveStateV2(split, state_sets, r);
}

absl::StatusOr<StateIds> ResolveState(std::string_view room_version,
                                      std::span<const StateIds> state_sets,
                                      const EventSource& events) {
  const RoomVersion* version = FindRoomVersion(room_version);
  if (version == nullptr) {
    return MatrixStatus(
        Errcode::kUnsupportedRoomVersion,
        core::StrCat("state resolution: unknown room version '", room_version, "'"));
  }
  return ResolveState(*version, state_sets, events);
}

absl::StatusOr<StateMap> LoadState(const StateIds& state, const EventSource& events) {
  StateMap loaded;
  for (const auto& [key, id] : state) {
    const boost::json::object* event = events.FindEvent(id);
    if (event == nullptr) {
      return NotFound(core::StrCat("state resolution: the state event ", id, " is not known"));
    }
    boost::json::object copy = *event;
    if (!copy.contains("event_id")) copy["event_id"] = id;
    loaded.emplace(key, std::move(copy));
  }
  return loaded;
}

}  // namespace conclave::service
