// Room version 1's state resolution (content/rooms/v1.md, "State resolution"), which the spec
// warns can reset a room's state to older versions; v2 replaced it. Kept exact for v1 rooms.
#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "conclave/service/protocol/crypto.h"
#include "conclave/service/protocol/state_res.h"
#include "state_res_internal.h"

namespace conclave::service {
namespace {

using internal::Resolution;

struct Candidate {
  std::string id;
  const boost::json::object* event;
  int64_t depth;
  std::string sha1;  // sha1(event_id), raw bytes: they order as the hex digits do
};

// The events of one conflicted key, by ascending depth then descending sha1(event_id): the
// order of the power levels, join rules and member passes.
absl::StatusOr<std::vector<Candidate>> Candidates(const std::set<std::string>& ids, Resolution& r) {
  std::vector<Candidate> candidates;
  for (const std::string& id : ids) {
    absl::StatusOr<const boost::json::object*> event = r.Require(id, "conflicted event");
    if (!event.ok()) return event.status();
    candidates.push_back({id, *event, internal::IntegerOf(**event, "depth"), Sha1(id)});
  }
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& x, const Candidate& y) {
    if (x.depth != y.depth) return x.depth < y.depth;
    return x.sha1 > y.sha1;
  });
  return candidates;
}

// "Add the first event in the list to R. For each subsequent event in the list, check that the
// event would be allowed by the authorisation rules for a room in state R. If the event would be
// allowed, then update R with the event and continue with the next event in the list. If it
// would not be allowed, stop."
absl::Status ResolveAuthKey(const StateKey& key, const std::set<std::string>& ids,
                            StateIds& resolved, Resolution& r) {
  absl::StatusOr<std::vector<Candidate>> candidates = Candidates(ids, r);
  if (!candidates.ok()) return candidates.status();
  resolved[key] = candidates->front().id;
  for (size_t i = 1; i < candidates->size(); ++i) {
    const Candidate& next = (*candidates)[i];
    if (!r.Authorise(next.id, *next.event, resolved, /*use_auth_events=*/false).ok()) break;
    resolved[key] = next.id;
  }
  return absl::OkStatus();
}

// "For all other conflicts, just pick the event with the highest depth and lowest
// sha1(event_id) that passes authentication in R and add it to R." When none passes, the last
// one tried (the lowest depth) is kept, as Synapse does.
absl::Status ResolveOtherKey(const StateKey& key, const std::set<std::string>& ids,
                             StateIds& resolved, Resolution& r) {
  absl::StatusOr<std::vector<Candidate>> candidates = Candidates(ids, r);
  if (!candidates.ok()) return candidates.status();
  std::reverse(candidates->begin(), candidates->end());
  for (const Candidate& candidate : *candidates) {
    if (r.Authorise(candidate.id, *candidate.event, resolved, /*use_auth_events=*/false).ok()) {
      resolved[key] = candidate.id;
      return absl::OkStatus();
    }
  }
  resolved[key] = candidates->back().id;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<StateIds> ResolveStateV1(std::span<const StateIds> state_sets, Resolution& r) {
  // "A conflict occurs between states where those states have different event_ids for the same
  // (event_type, state_key)": a key that some states lack does not conflict.
  std::map<StateKey, std::set<std::string>> ids_of;
  for (const StateIds& state : state_sets) {
    for (const auto& [key, id] : state) ids_of[key].insert(id);
  }
  // "Start by setting R to the union of the states to be resolved, excluding any conflicting
  // events."
  StateIds resolved;
  std::map<StateKey, std::set<std::string>> conflicts;
  for (auto& [key, ids] : ids_of) {
    if (ids.size() == 1) {
      resolved.emplace(key, *ids.begin());
    } else {
      conflicts.emplace(key, std::move(ids));
    }
  }
  // Power levels, then join rules, then members, then everything else.
  auto pass = [&](auto belongs, auto resolve) -> absl::Status {
    for (const auto& [key, ids] : conflicts) {
      if (!belongs(key) || resolved.contains(key)) continue;
      absl::Status status = resolve(key, ids, resolved, r);
      if (!status.ok()) return status;
    }
    return absl::OkStatus();
  };
  auto is_power_levels = [](const StateKey& key) {
    return key == StateKey("m.room.power_levels", "");
  };
  auto is_join_rules = [](const StateKey& key) { return key.first == "m.room.join_rules"; };
  auto is_member = [](const StateKey& key) { return key.first == "m.room.member"; };
  auto is_other = [](const StateKey&) { return true; };
  absl::Status status = pass(is_power_levels, ResolveAuthKey);
  if (status.ok()) status = pass(is_join_rules, ResolveAuthKey);
  if (status.ok()) status = pass(is_member, ResolveAuthKey);
  if (status.ok()) status = pass(is_other, ResolveOtherKey);
  if (!status.ok()) return status;
  return resolved;
}

}  // namespace conclave::service
