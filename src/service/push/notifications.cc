// Notifications: evaluation at send time and the rows it writes (notifications.h).
#include "conclave/service/push/notifications.h"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <utility>

#include "conclave/core/status_macros.h"
#include "conclave/service/protocol/auth_rules.h"
#include "conclave/service/protocol/identifiers.h"
#include "conclave/service/protocol/power_levels.h"
#include "conclave/service/protocol/push_eval.h"
#include "conclave/service/storage/relation_rows.h"
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

// The tweaks of `actions` (push rules: {"set_tweak": name, "value": v}; a highlight tweak without
// a value means true).
object TweaksOf(const boost::json::array& actions) {
  object tweaks;
  for (const value& action : actions) {
    if (!action.is_object()) continue;
    const object& a = action.get_object();
    const std::string_view name = StringField(a, "set_tweak");
    if (name.empty()) continue;
    const value* v = a.if_contains("value");
    tweaks[name] = v != nullptr ? *v : (name == "highlight" ? value(true) : value(nullptr));
  }
  return tweaks;
}

// The push_queue value of `p` for `pdu` (schema.h).
object PushQueueEntry(const PendingNotification& p, const object& pdu) {
  object tweaks = TweaksOf(p.actions);
  // Synapse's rule for prio: encrypted events (whose rules cannot be evaluated here) and
  // notifications that highlight or make a sound are "high", the rest "low".
  const value* highlight = tweaks.if_contains("highlight");
  const bool high = StringField(pdu, "type") == "m.room.encrypted" ||
                    (highlight != nullptr && highlight->is_bool() && highlight->get_bool()) ||
                    tweaks.contains("sound");
  object entry{{"room_id", StringField(pdu, "room_id")},
               {"event_id", StringField(pdu, "event_id")},
               {"prio", high ? "high" : "low"},
               {"tweaks", std::move(tweaks)},
               {"attempts", 0},
               {"next_attempt_ts", 0}};
  if (!p.room_name.empty()) entry["room_name"] = p.room_name;
  if (!p.room_alias.empty()) entry["room_alias"] = p.room_alias;
  if (!p.sender_display_name.empty()) entry["sender_display_name"] = p.sender_display_name;
  return entry;
}

}  // namespace

void Notifications::Committed(const std::vector<PendingNotification>& pending) const {
  const bool queued = std::any_of(pending.begin(), pending.end(),
                                  [](const PendingNotification& p) { return !p.pushers.empty(); });
  if (!queued) return;
  std::lock_guard lock(hook_mu_);
  if (queued_hook_) queued_hook_();
}

void Notifications::SetQueuedHook(std::function<void()> hook) {
  std::lock_guard lock(hook_mu_);
  queued_hook_ = std::move(hook);
}

absl::StatusOr<std::string> ThreadOf(const Store& store, const object& pdu) {
  const object* current = &pdu;
  object parent;
  for (int hop = 0; hop < kMaxThreadHops; ++hop) {
    const std::optional<Relation> relation = RelationOf(*current);
    if (!relation) break;
    if (relation->rel_type == "m.thread") return std::string(relation->parent_id);
    CONCLAVE_ASSIGN_OR_RETURN(auto where, store.Find(*store.events, relation->parent_id));
    if (!where) break;  // a parent we do not have: the main timeline
    CONCLAVE_ASSIGN_OR_RETURN(auto json, store.Find(*store.timeline, *where));
    if (!json) break;
    CONCLAVE_ASSIGN_OR_RETURN(object next, ParseObject(*json));
    parent = std::move(next);  // `relation` viewed the old one: not used after this
    current = &parent;
  }
  return std::string();
}

absl::StatusOr<std::unique_ptr<Notifications>> Notifications::Open(std::string server_name,
                                                                   Store& store,
                                                                   PushRuleStore& rules,
                                                                   const Pushers* pushers) {
  std::unique_ptr<Notifications> n(
      new Notifications(std::move(server_name), store, rules, pushers));
  CONCLAVE_ASSIGN_OR_RETURN(n->queue_, store.db->OpenMap(schema::kPushQueueMap));
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

  // What a Push Gateway request shows of the room and the sender (push_notifier.yaml).
  std::string room_name, room_alias, sender_display_name;
  if (const object* name = FindStateContent(state, "m.room.name", ""); name != nullptr) {
    room_name = StringField(*name, "name");
  }
  if (const object* alias = FindStateContent(state, "m.room.canonical_alias", "");
      alias != nullptr) {
    room_alias = StringField(*alias, "alias");
  }
  sender_display_name = DisplayNameOf(state, sender);
  // A display name the sender's own member event sets is theirs from this event on.
  if (StringField(pdu, "type") == "m.room.member" && StringField(pdu, "state_key") == sender) {
    if (const value* content = pdu.if_contains("content");
        content != nullptr && content->is_object()) {
      sender_display_name = StringField(content->get_object(), "displayname");
    }
  }

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
    PendingNotification p;
    p.user_id = std::string(user);
    p.highlight = decision->highlight;
    p.actions = std::move(decision->actions);
    if (pushers_ != nullptr) {
      CONCLAVE_ASSIGN_OR_RETURN(p.pushers, pushers_->Ids(user));
      if (!p.pushers.empty()) {
        p.room_name = room_name;
        p.room_alias = room_alias;
        p.sender_display_name = sender_display_name;
      }
    }
    pending.push_back(std::move(p));
  }
  return pending;
}

void Notifications::Put(const std::vector<PendingNotification>& pending, const object& pdu,
                        std::string_view thread, uint64_t position,
                        database::WriteBatch& batch) const {
  const std::string_view room_id = StringField(pdu, "room_id");
  const std::string_view event_id = StringField(pdu, "event_id");
  const value* ts = pdu.if_contains("origin_server_ts");
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
    if (p.pushers.empty()) continue;
    const object entry = PushQueueEntry(p, pdu);
    const std::string text = boost::json::serialize(entry);
    for (const Pushers::Id& pusher : p.pushers) {
      batch.Put(*queue_, schema::PushQueueKey(p.user_id, pusher.app_id, pusher.pushkey, position),
                text);
    }
  }
  // The sender's own event marks its partition read ("Marking notifications as read",
  // "Threaded read receipts": a reply in a thread reads that thread, not the main timeline).
  batch.Put(*read_,
            schema::PushReadKey(StringField(pdu, "sender"), room_id,
                                thread.empty() ? std::string_view("main") : thread),
            schema::EncodePosition(position));
}

}  // namespace conclave::service
