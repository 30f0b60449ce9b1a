#include "conclave/service/spaces/hierarchy.h"

#include <algorithm>
#include <deque>
#include <map>
#include <set>
#include <utility>

#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/storage/stored_json.h"
#include "conclave/service/storage/stream.h"

namespace conclave::service {
namespace {

using boost::json::array;
using boost::json::object;

// One room's current state by (type, state_key).
using State = std::map<std::pair<std::string, std::string>, const boost::json::object*>;

const object* ContentOf(const object& pdu) {
  const auto* c = pdu.if_contains("content");
  return c != nullptr && c->is_object() ? &c->get_object() : nullptr;
}

std::string_view Field(const State& state, const char* type, const char* field) {
  auto it = state.find({type, ""});
  if (it == state.end()) return {};
  const object* content = ContentOf(*it->second);
  return content != nullptr ? StringField(*content, field) : std::string_view();
}

struct Child {
  std::string room_id;
  std::string order;  // empty: none (sorts after those with one)
  int64_t ts = 0;
  const object* event = nullptr;
};

// The m.space.child events with a non-empty `via` (Client-Server API, "Spaces": others do not
// count), in the spec's order.
std::vector<Child> ChildrenOf(const State& state, bool suggested_only) {
  std::vector<Child> out;
  for (auto it = state.lower_bound({"m.space.child", ""});
       it != state.end() && it->first.first == "m.space.child"; ++it) {
    const object* content = ContentOf(*it->second);
    if (content == nullptr) continue;
    const auto* via = content->if_contains("via");
    if (via == nullptr || !via->is_array() || via->get_array().empty()) continue;
    if (suggested_only) {
      const auto* suggested = content->if_contains("suggested");
      if (suggested == nullptr || !suggested->is_bool() || !suggested->get_bool()) continue;
    }
    Child child{.room_id = it->first.second, .event = it->second};
    // `order`: at most 50 printable ASCII characters, else ignored.
    const std::string_view order = StringField(*content, "order");
    if (order.size() <= 50 &&
        std::all_of(order.begin(), order.end(), [](char c) { return c >= 0x20 && c <= 0x7e; })) {
      child.order = std::string(order);
    }
    child.ts = IntField(*it->second, "origin_server_ts").value_or(0);
    out.push_back(std::move(child));
  }
  std::sort(out.begin(), out.end(), [](const Child& a, const Child& b) {
    if (a.order.empty() != b.order.empty()) return !a.order.empty();
    if (a.order != b.order) return a.order < b.order;
    if (a.ts != b.ts) return a.ts < b.ts;
    return a.room_id < b.room_id;
  });
  return out;
}

object Stripped(const object& pdu) {
  object out{{"type", StringField(pdu, "type")},
             {"state_key", StringField(pdu, "state_key")},
             {"sender", StringField(pdu, "sender")},
             {"origin_server_ts", IntField(pdu, "origin_server_ts").value_or(0)}};
  if (const object* content = ContentOf(pdu)) out["content"] = *content;
  return out;
}

// `from`: "h" and the offset of the page's first room in the walk.
constexpr char kTokenPrefix = 'h';

}  // namespace

absl::StatusOr<HierarchyPage> SpaceHierarchy::Walk(std::string_view user_id,
                                                   const HierarchyRequest& request) {
  size_t offset = 0;
  if (!request.from.empty()) {
    CONCLAVE_ASSIGN_OR_RETURN(offset, ParseOffsetToken(request.from, kTokenPrefix, "from"));
  }
  // The memberships of the user, for "joined" and for restricted rooms' allow lists.
  std::set<std::string> joined;
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<std::string> joined_rooms, rooms_.JoinedRooms(user_id));
  joined.insert(joined_rooms.begin(), joined_rooms.end());

  std::vector<object> walked;
  std::set<std::string> seen{request.room_id};
  std::deque<std::pair<std::string, size_t>> queue{{request.room_id, 0}};
  while (!queue.empty()) {
    auto [room_id, depth] = queue.front();
    queue.pop_front();
    absl::StatusOr<std::vector<StoredEvent>> events = rooms_.CurrentState(room_id);
    const bool root = walked.empty() && room_id == request.room_id;
    if (!events.ok()) {
      if (root) return events.status();
      continue;  // a room of another server, or one that does not exist
    }
    State state;
    for (const StoredEvent& e : *events) {
      state[{std::string(StringField(e.pdu, "type")),
             std::string(StringField(e.pdu, "state_key"))}] = &e.pdu;
    }
    const std::string join_rule(Field(state, "m.room.join_rules", "join_rule"));
    const bool world_readable =
        Field(state, "m.room.history_visibility", "history_visibility") == "world_readable";
    bool visible = joined.count(room_id) > 0 || world_readable || join_rule == "public";
    if (!visible && (join_rule == "restricted" || join_rule == "knock_restricted")) {
      auto it = state.find({"m.room.join_rules", ""});
      const object* content = it != state.end() ? ContentOf(*it->second) : nullptr;
      const auto* allow = content != nullptr ? content->if_contains("allow") : nullptr;
      if (allow != nullptr && allow->is_array()) {
        for (const auto& entry : allow->get_array()) {
          if (!entry.is_object()) continue;
          if (StringField(entry.get_object(), "type") == "m.room_membership" &&
              joined.count(std::string(StringField(entry.get_object(), "room_id"))) > 0) {
            visible = true;
          }
        }
      }
    }
    if (!visible) {
      if (root) return Forbidden("You may not see this room's hierarchy");
      continue;
    }
    CONCLAVE_ASSIGN_OR_RETURN(std::vector<std::string> members, rooms_.JoinedUserIds(room_id));
    object chunk{
        {"room_id", room_id},
        {"num_joined_members", members.size()},
        {"world_readable", world_readable},
        {"guest_can_join", Field(state, "m.room.guest_access", "guest_access") == "can_join"}};
    auto copy = [&](const char* type, const char* field, const char* key) {
      if (auto v = Field(state, type, field); !v.empty()) chunk[key] = v;
    };
    copy("m.room.name", "name", "name");
    copy("m.room.topic", "topic", "topic");
    copy("m.room.canonical_alias", "alias", "canonical_alias");
    copy("m.room.avatar", "url", "avatar_url");
    copy("m.room.join_rules", "join_rule", "join_rule");
    copy("m.room.create", "type", "room_type");
    array children_state;
    for (const Child& child : ChildrenOf(state, request.suggested_only)) {
      children_state.push_back(Stripped(*child.event));
      if (request.max_depth && depth >= *request.max_depth) continue;
      if (seen.insert(child.room_id).second) queue.emplace_back(child.room_id, depth + 1);
    }
    chunk["children_state"] = std::move(children_state);
    walked.push_back(std::move(chunk));
  }
  if (offset > 0 && offset >= walked.size()) return InvalidParam("Unknown 'from' token");
  HierarchyPage page;
  const size_t last = std::min(walked.size(), offset + std::max<size_t>(request.limit, 1));
  for (size_t i = offset; i < last; ++i) page.rooms.push_back(std::move(walked[i]));
  if (last < walked.size()) page.next_batch = OffsetToken(kTokenPrefix, last);
  return page;
}

}  // namespace conclave::service
