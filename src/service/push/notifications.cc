// Notifications: evaluation at send time and the rows it writes (notifications.h).
#include "conclave/service/push/notifications.h"

#include <boost/json/serialize.hpp>
#include <utility>

#include "conclave/core/status_macros.h"
#include "conclave/service/protocol/auth_rules.h"
#include "conclave/service/protocol/identifiers.h"
#include "conclave/service/protocol/power_levels.h"
#include "conclave/service/protocol/push_eval.h"
#include "conclave/service/storage/schema.h"
#include "conclave/service/storage/stored_json.h"

namespace conclave::service {
namespace {

using boost::json::object;
using boost::json::value;

std::string_view DisplayNameOf(const StateMap& state, std::string_view user_id) {
  const object* content = FindStateContent(state, "m.room.member", user_id);
  return content == nullptr ? std::string_view() : StringField(*content, "displayname");
}

bool IsLocal(std::string_view user_id, std::string_view server_name) {
  auto parsed = ParseUserId(user_id);
  return parsed.ok() && parsed->server_name == server_name;
}

}  // namespace

std::string ThreadRootOf(const object& pdu) {
  const value* relation = FindProperty(pdu, "content.m\\.relates_to");
  if (relation == nullptr || !relation->is_object()) return {};
  const object& r = relation->get_object();
  if (StringField(r, "rel_type") != "m.thread") return {};
  return std::string(StringField(r, "event_id"));
}

absl::StatusOr<std::unique_ptr<Notifications>> Notifications::Open(std::string server_name,
                                                                   Store& store,
                                                                   PushRuleStore& rules) {
  std::unique_ptr<Notifications> n(new Notifications(std::move(server_name), store, rules));
  CONCLAVE_ASSIGN_OR_RETURN(n->counts_, store.db->OpenMap(schema::kPushCountsMap));
  CONCLAVE_ASSIGN_OR_RETURN(n->notifications_, store.db->OpenMap(schema::kPushNotificationsMap));
  CONCLAVE_ASSIGN_OR_RETURN(n->read_, store.db->OpenMap(schema::kPushReadMap));
  return n;
}

absl::StatusOr<std::vector<PendingNotification>> Notifications::Evaluate(const StateMap& state,
                                                                         const object& pdu) {
  const std::string_view sender = StringField(pdu, "sender");
  std::vector<std::string_view> recipients;
  for (auto it = state.lower_bound(StateKey("m.room.member", ""));
       it != state.end() && it->first.first == "m.room.member"; ++it) {
    if (MembershipOf(state, it->first.second) == "join") recipients.push_back(it->first.second);
  }
  const int64_t member_count = static_cast<int64_t>(recipients.size());
  // The invitee is not a member yet, but .m.rule.invite_for_me is for them.
  if (StringField(pdu, "type") == "m.room.member") {
    const value* content = pdu.if_contains("content");
    if (content != nullptr && content->is_object() &&
        StringField(content->get_object(), "membership") == "invite") {
      recipients.push_back(StringField(pdu, "state_key"));
    }
  }
  // As the auth rules read them: the room's version decides the creators' power (v12: infinite).
  auto levels = CurrentPowerLevels(state);

  std::vector<PendingNotification> pending;
  for (std::string_view user : recipients) {
    if (user == sender || !IsLocal(user, server_name_)) continue;
    CONCLAVE_ASSIGN_OR_RETURN(auto rules, rules_.Rules(user));
    const PushContext context{.user_id = user,
                              .display_name = DisplayNameOf(state, user),
                              .member_count = member_count,
                              .power_levels = levels.ok() ? &*levels : nullptr};
    std::optional<PushDecision> decision = EvaluatePushRules(*rules, pdu, context);
    if (!decision || !decision->notify) continue;
    pending.push_back({.user_id = std::string(user),
                       .highlight = decision->highlight,
                       .actions = std::move(decision->actions)});
  }
  return pending;
}

void Notifications::Put(const std::vector<PendingNotification>& pending, const object& pdu,
                        uint64_t position, database::WriteBatch& batch) const {
  const std::string_view room_id = StringField(pdu, "room_id");
  const std::string_view event_id = StringField(pdu, "event_id");
  const value* ts = pdu.if_contains("origin_server_ts");
  const std::string thread = ThreadRootOf(pdu);
  for (const PendingNotification& p : pending) {
    object count;
    if (p.highlight) count["h"] = true;
    if (!thread.empty()) count["t"] = thread;
    batch.Put(*counts_, schema::PushCountKey(p.user_id, room_id, position),
              boost::json::serialize(count));
    batch.Put(*notifications_, schema::NotificationKey(p.user_id, position),
              boost::json::serialize(object{{"room_id", room_id},
                                            {"event_id", event_id},
                                            {"actions", p.actions},
                                            {"ts", ts != nullptr ? *ts : value(0)},
                                            {"highlight", p.highlight}}));
  }
  batch.Put(*read_, schema::PairKey(StringField(pdu, "sender"), room_id),
            schema::EncodePosition(position));
}

}  // namespace conclave::service
