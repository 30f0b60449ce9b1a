// POST /_matrix/client/unstable/org.matrix.simplified_msc3575/sync: simplified sliding sync
// (MSC4186), long-polling like /sync (api/sync.cc): a response with nothing new returns a Wait and
// is dispatched again when the user's notifier key moves, the timeout passes, or a reload begins.
// `pos`, `timeout` and `set_presence` come from the query (what clients send) or the body (the
// MSC's later text); the query wins.
#include "conclave/service/sync/sliding_sync.h"

#include "absl/time/clock.h"
#include "client_event.h"
#include "conclave/core/status_macros.h"
#include "conclave/service/protocol/errors.h"
#include "routes.h"
#include "sliding_sync_request.h"

namespace conclave::api {
namespace {

using boost::json::array;
using boost::json::object;

// Longest long-poll honoured, as for /sync.
constexpr absl::Duration kMaxTimeout = absl::Minutes(5);

boost::json::value OptionalString(const std::optional<std::string>& s) {
  return s ? boost::json::value(*s) : boost::json::value(nullptr);
}

array HeroesJson(const std::vector<service::SlidingHero>& heroes) {
  array out;
  for (const auto& h : heroes) {
    object hero{{"user_id", h.user_id}};
    if (h.displayname) hero["displayname"] = *h.displayname;
    if (h.avatar_url) hero["avatar_url"] = *h.avatar_url;
    out.push_back(std::move(hero));
  }
  return out;
}

object RoomJson(const service::SlidingRoom& room, const service::Session& viewer) {
  object out{{"membership", room.membership}};
  if (!room.lists.empty()) out["lists"] = array(room.lists.begin(), room.lists.end());
  if (room.initial) out["initial"] = true;
  if (room.name) out["name"] = OptionalString(*room.name);
  if (room.avatar) out["avatar"] = OptionalString(*room.avatar);
  if (room.heroes) out["heroes"] = HeroesJson(*room.heroes);
  if (room.is_dm) out["is_dm"] = *room.is_dm;
  if (room.expanded_timeline) {
    out["expanded_timeline"] = true;
    out["unstable_expanded_timeline"] = true;  // the name clients read before the rename
  }
  // The MSC's changelog renamed both to `stripped_state`; clients written before read the old
  // names, so an invite or knock carries both (stripped state is a few small events).
  if (room.invite_state) {
    out["invite_state"] = *room.invite_state;
    out["stripped_state"] = *room.invite_state;
    return out;
  }
  if (room.knock_state) {
    out["knock_state"] = *room.knock_state;
    out["stripped_state"] = *room.knock_state;
    return out;
  }
  out["required_state"] = ClientEvents(room.required_state, &viewer, false);
  out["timeline"] = ClientEvents(room.timeline, &viewer, false);
  if (room.prev_batch) out["prev_batch"] = *room.prev_batch;
  if (room.limited) out["limited"] = true;
  if (room.num_live) out["num_live"] = *room.num_live;
  if (room.bump_stamp) out["bump_stamp"] = *room.bump_stamp;
  if (room.joined_count) out["joined_count"] = *room.joined_count;
  if (room.invited_count) out["invited_count"] = *room.invited_count;
  if (room.notification_count) out["notification_count"] = *room.notification_count;
  if (room.highlight_count) out["highlight_count"] = *room.highlight_count;
  return out;
}

array AccountDataArray(const std::vector<service::AccountDataEvent>& events) {
  array out;
  for (const auto& e : events) out.push_back(object{{"type", e.type}, {"content", e.content}});
  return out;
}

object ExtensionsJson(const service::SlidingSyncResponse& r) {
  object out;
  if (r.to_device) {
    array events;
    for (const auto& e : r.to_device->events) {
      events.push_back(object{{"sender", e.sender}, {"type", e.type}, {"content", e.content}});
    }
    out["to_device"] = object{{"next_batch", r.to_device->next_batch}, {"events", events}};
  }
  if (r.e2ee) {
    object e2ee;
    if (r.e2ee->device_lists) {
      const auto& d = *r.e2ee->device_lists;
      e2ee["device_lists"] = object{{"changed", array(d.changed.begin(), d.changed.end())},
                                    {"left", array(d.left.begin(), d.left.end())}};
    }
    object counts;
    for (const auto& [algorithm, count] : r.e2ee->one_time_key_counts) counts[algorithm] = count;
    e2ee["device_one_time_keys_count"] = std::move(counts);
    const auto& fallback = r.e2ee->unused_fallback_key_types;
    e2ee["device_unused_fallback_key_types"] = array(fallback.begin(), fallback.end());
    out["e2ee"] = std::move(e2ee);
  }
  if (r.account_data) {
    object rooms;
    for (const auto& [room_id, events] : r.account_data->rooms) {
      rooms[room_id] = AccountDataArray(events);
    }
    out["account_data"] =
        object{{"global", AccountDataArray(r.account_data->global)}, {"rooms", std::move(rooms)}};
  }
  if (r.receipts) {
    object rooms;
    for (const auto& [room_id, content] : *r.receipts) {
      rooms[room_id] = object{{"type", "m.receipt"}, {"content", content}};
    }
    out["receipts"] = object{{"rooms", std::move(rooms)}};
  }
  if (r.typing) {
    object rooms;
    for (const auto& [room_id, users] : *r.typing) {
      rooms[room_id] = object{{"type", "m.typing"},
                              {"content", object{{"user_ids", array(users.begin(), users.end())}}}};
    }
    out["typing"] = object{{"rooms", std::move(rooms)}};
  }
  return out;
}

object ResponseJson(const service::SlidingSyncResponse& r, const service::Session& viewer,
                    const std::optional<std::string>& txn_id) {
  object lists;
  for (const auto& [name, count] : r.list_counts) lists[name] = object{{"count", count}};
  object rooms;
  for (const auto& room : r.rooms) rooms[room.room_id] = RoomJson(room, viewer);
  object out{{"pos", r.pos},
             {"lists", std::move(lists)},
             {"rooms", std::move(rooms)},
             {"extensions", ExtensionsJson(r)}};
  if (txn_id) out["txn_id"] = *txn_id;
  return out;
}

absl::StatusOr<core::Response> SlidingSyncHandler(Call& call) {
  core::Request& request = call.request;
  CONCLAVE_ASSIGN_OR_RETURN(auto body, call.JsonBody());
  CONCLAVE_ASSIGN_OR_RETURN(ParsedSlidingSync parsed, ParseSlidingSync(body));
  service::SlidingSyncRequest& sliding = parsed.request;
  if (auto pos = request.QueryParam("pos"); pos && !pos->empty()) sliding.pos = *pos;
  if (auto presence = request.QueryParam("set_presence")) sliding.set_presence = *presence;
  CONCLAVE_ASSIGN_OR_RETURN(auto query_timeout, QueryInt(request, "timeout"));
  if (query_timeout) parsed.timeout_ms = query_timeout;
  if (parsed.timeout_ms && *parsed.timeout_ms < 0) {
    return service::InvalidParam("'timeout' must be >= 0");
  }
  if (sliding.pos && sliding.pos->empty()) sliding.pos.reset();

  const absl::Time now = absl::Now();
  absl::Time deadline = request.wait_deadline;
  if (request.wake_reason == core::WakeReason::kNone) {
    deadline = now + std::min(absl::Milliseconds(parsed.timeout_ms.value_or(0)), kMaxTimeout);
  }
  // "Ignored when no pos is set": a new connection answers at once.
  sliding.may_wait = sliding.pos.has_value() && deadline > now &&
                     request.wake_reason != core::WakeReason::kTimeout &&
                     request.wake_reason != core::WakeReason::kInterrupted;
  CONCLAVE_ASSIGN_OR_RETURN(service::SlidingSyncResult result,
                            call.hs.sliding_sync().Run(call.session, sliding));
  if (!result.response) {
    core::Response wait;
    absl::Time wake = result.wake_by ? std::min(deadline, *result.wake_by) : deadline;
    wait.wait = core::Wait{result.wait_key, result.wait_version, wake};
    return wait;
  }
  return JsonResponse(ResponseJson(*result.response, call.session, parsed.txn_id));
}

}  // namespace

absl::Status RegisterSlidingSyncRoutes(Routes& routes) {
  return routes.AddRaw("POST", "/unstable/org.matrix.simplified_msc3575/sync", Auth::kRequired,
                       &SlidingSyncHandler);
}

}  // namespace conclave::api
