// The extensions of simplified sliding sync: to_device (MSC3885), e2ee (MSC3884), account_data
// (MSC3959), receipts (MSC3960), typing (MSC3961). Each is limited to the rooms of its `lists`
// and `rooms` scope; a room sent with `initial` gets what it has, the others what changed since
// the connection's previous response.
#include <algorithm>
#include <charconv>

#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/e2ee/e2ee.h"
#include "conclave/service/protocol/push_rule_set.h"
#include "conclave/service/push/push_rule_store.h"
#include "conclave/service/rooms/rooms.h"
#include "conclave/service/rooms/typing.h"
#include "conclave/service/storage/stored_json.h"
#include "sliding_internal.h"

namespace conclave::service::sync_internal {
namespace {

bool Contains(const std::vector<std::string>& values, std::string_view value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

// The window's rooms an extension covers: those in one of its `lists` (every list when unset)
// or among its `rooms` subscriptions (every subscription when unset); `*` stands for all.
std::vector<std::string> ScopeRooms(const SlidingExtensionScope& scope,
                                    const std::map<std::string, WindowRoom>& window) {
  std::vector<std::string> out;
  for (const auto& [room_id, w] : window) {
    bool in = false;
    if (!scope.lists || Contains(*scope.lists, "*")) {
      in = !w.lists.empty();
    } else {
      in = std::any_of(w.lists.begin(), w.lists.end(),
                       [&](const std::string& list) { return Contains(*scope.lists, list); });
    }
    if (!in && w.subscribed) {
      in = !scope.rooms || Contains(*scope.rooms, "*") || Contains(*scope.rooms, room_id);
    }
    if (in) out.push_back(room_id);
  }
  return out;
}

std::optional<uint64_t> ParseSince(const std::optional<std::string>& since) {
  if (!since || since->empty()) return std::nullopt;
  uint64_t value = 0;
  auto r = std::from_chars(since->data(), since->data() + since->size(), value);
  if (r.ec != std::errc() || r.ptr != since->data() + since->size()) return std::nullopt;
  return value;
}

absl::Status AddToDevice(const Sync::Deps& deps, const SlidingPass& pass,
                         SlidingSyncResponse& response) {
  const Session& session = pass.session;
  // The extension's own token: the stream position its last response covered; messages up to it
  // were received and are deleted now (as /sync's `since` does).
  CONCLAVE_ASSIGN_OR_RETURN(
      auto messages,
      deps.e2ee.ToDeviceForSync(session.user_id, session.device_id,
                                ParseSince(pass.request.to_device_since), pass.upto));
  SlidingSyncResponse::ToDevice out;
  uint64_t covered = pass.upto;
  for (ToDeviceMessage& m : messages) {
    if (out.events.size() == pass.request.to_device_limit) {
      // The rest come next time: the token stops before the first one left out.
      covered = m.position - 1;
      break;
    }
    out.events.push_back({.sender = std::move(m.sender),
                          .type = std::move(m.type),
                          .content = std::move(m.content)});
  }
  out.next_batch = core::StrCat(covered);
  response.to_device = std::move(out);
  return absl::OkStatus();
}

absl::Status AddE2ee(const Sync::Deps& deps, const SlidingPass& pass,
                     const std::vector<UserRoom>& memberships, SlidingSyncResponse& response) {
  const Session& session = pass.session;
  SlidingSyncResponse::E2ee out;
  if (pass.previous != nullptr) {
    CONCLAVE_ASSIGN_OR_RETURN(
        out.device_lists,
        deps.e2ee.Changes(session.user_id, pass.previous->upto, pass.upto, memberships));
  }
  CONCLAVE_ASSIGN_OR_RETURN(out.one_time_key_counts,
                            deps.e2ee.OneTimeKeyCounts(session.user_id, session.device_id));
  CONCLAVE_ASSIGN_OR_RETURN(out.unused_fallback_key_types,
                            deps.e2ee.UnusedFallbackKeyTypes(session.user_id, session.device_id));
  response.e2ee = std::move(out);
  return absl::OkStatus();
}

absl::Status AddAccountData(const Sync::Deps& deps, const SlidingPass& pass,
                            const std::vector<std::string>& scope,
                            const std::set<std::string>& initial_rooms,
                            SlidingSyncResponse& response) {
  const std::string& user = pass.session.user_id;
  const uint64_t after = pass.previous != nullptr ? pass.previous->upto : 0;
  CONCLAVE_ASSIGN_OR_RETURN(auto entries, deps.accounts.AccountDataSince(user, 0));
  SlidingSyncResponse::AccountData out;
  bool has_push_rules = false;
  const std::set<std::string> in_scope(scope.begin(), scope.end());
  for (AccountDataEntry& entry : entries) {
    if (entry.position > pass.upto) continue;
    if (entry.room_id.empty()) {
      if (entry.position <= after) continue;
      if (entry.type == kPushRulesType) {
        // Stored as the user's changes (push_rule_set.h); clients get the whole ruleset.
        has_push_rules = true;
        out.global.push_back({entry.type, UserPushRuleSet(user, &entry.content)});
        continue;
      }
      out.global.push_back({std::move(entry.type), std::move(entry.content)});
      continue;
    }
    if (!in_scope.contains(entry.room_id)) continue;
    if (entry.position <= after && !initial_rooms.contains(entry.room_id)) continue;
    out.rooms[entry.room_id].push_back({std::move(entry.type), std::move(entry.content)});
  }
  // As on an initial /sync, a new connection always has the push rules.
  if (pass.previous == nullptr && !has_push_rules) {
    out.global.push_back({std::string(kPushRulesType), UserPushRuleSet(user, nullptr)});
  }
  response.account_data = std::move(out);
  return absl::OkStatus();
}

// A room sent with `initial` gets the receipts on its timeline's events and the user's own; the
// others the receipts that changed since the previous response.
absl::Status AddReceipts(const Sync::Deps& deps, const SlidingPass& pass,
                         const std::vector<std::string>& scope,
                         const std::set<std::string>& initial_rooms,
                         SlidingSyncResponse& response) {
  const std::string& user = pass.session.user_id;
  std::map<std::string, boost::json::object> out;
  for (const std::string& room_id : scope) {
    const bool initial = pass.previous == nullptr || initial_rooms.contains(room_id);
    const uint64_t after = initial ? 0 : pass.previous->upto;
    CONCLAVE_ASSIGN_OR_RETURN(auto content, deps.rooms.ReceiptsSince(room_id, after, user));
    if (initial && !content.empty()) {
      std::set<std::string> timeline_ids;
      for (const SlidingRoom& room : response.rooms) {
        if (room.room_id != room_id) continue;
        for (const StoredEvent& e : room.timeline) {
          timeline_ids.emplace(StringField(e.pdu, "event_id"));
        }
      }
      boost::json::object kept;
      for (auto& [event_id, by_type] : content) {
        // {event_id: {receipt type: {user_id: receipt}}}
        bool own = false;
        if (by_type.is_object()) {
          for (const auto& [type, by_user] : by_type.get_object()) {
            own = own || (by_user.is_object() && by_user.get_object().contains(user));
          }
        }
        if (timeline_ids.contains(std::string(event_id)) || own) kept[event_id] = by_type;
      }
      content = std::move(kept);
    }
    if (!content.empty()) out[room_id] = std::move(content);
  }
  response.receipts = std::move(out);
  return absl::OkStatus();
}

absl::Status AddTyping(const Sync::Deps& deps, const SlidingPass& pass,
                       const std::vector<std::string>& scope,
                       const std::set<std::string>& initial_rooms, SlidingSyncResponse& response) {
  std::map<std::string, std::vector<std::string>> out;
  for (const std::string& room_id : scope) {
    const bool initial = pass.previous == nullptr || initial_rooms.contains(room_id);
    if (!initial && deps.typing.RoomSerial(room_id) <= pass.previous->typing) continue;
    auto users = deps.typing.Users(room_id);
    // An initial room with no one typing has nothing to say; a change to nobody typing has.
    if (initial && users.empty()) continue;
    out[room_id] = std::move(users);
  }
  response.typing = std::move(out);
  return absl::OkStatus();
}

}  // namespace

absl::Status AddExtensions(const Sync::Deps& deps, const SlidingPass& pass,
                           const std::vector<UserRoom>& memberships,
                           const std::map<std::string, WindowRoom>& window,
                           const std::set<std::string>& initial_rooms,
                           SlidingSyncResponse& response) {
  const SlidingSyncRequest& request = pass.request;
  if (request.to_device) CONCLAVE_RETURN_IF_ERROR(AddToDevice(deps, pass, response));
  if (request.e2ee) CONCLAVE_RETURN_IF_ERROR(AddE2ee(deps, pass, memberships, response));
  if (request.account_data.enabled) {
    CONCLAVE_RETURN_IF_ERROR(AddAccountData(deps, pass, ScopeRooms(request.account_data, window),
                                            initial_rooms, response));
  }
  if (request.receipts.enabled) {
    CONCLAVE_RETURN_IF_ERROR(
        AddReceipts(deps, pass, ScopeRooms(request.receipts, window), initial_rooms, response));
  }
  if (request.typing.enabled) {
    CONCLAVE_RETURN_IF_ERROR(
        AddTyping(deps, pass, ScopeRooms(request.typing, window), initial_rooms, response));
  }
  return absl::OkStatus();
}

bool ExtensionsHaveNews(const SlidingSyncResponse& r) {
  if (r.to_device && !r.to_device->events.empty()) return true;
  if (r.e2ee && r.e2ee->device_lists &&
      (!r.e2ee->device_lists->changed.empty() || !r.e2ee->device_lists->left.empty())) {
    return true;
  }
  if (r.account_data && (!r.account_data->global.empty() || !r.account_data->rooms.empty())) {
    return true;
  }
  if (r.receipts && !r.receipts->empty()) return true;
  return r.typing && !r.typing->empty();
}

}  // namespace conclave::service::sync_internal
