// Push rule evaluation: which rule of a user's ruleset matches an event, and what its actions
// mean for notification counts and pushers.
//
// Client-Server API, "Push Rules" ("Actions", "Conditions", the kinds and their order) and the
// appendices "Glob-style matching" and "Dot-separated property paths". Pure functions over JSON;
// thread-safe; nothing is kept after a call.
#ifndef CONCLAVE_SERVICE_PROTOCOL_PUSH_EVAL_H_
#define CONCLAVE_SERVICE_PROTOCOL_PUSH_EVAL_H_

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "conclave/service/protocol/power_levels.h"

namespace conclave::service {

// What the conditions see of the room and of the user whose rules are evaluated. Views and
// pointers into the caller's data, valid for the call.
struct PushContext {
  std::string_view user_id{};                 // whose rules these are
  std::string_view display_name{};            // the user's m.room.member displayname; "" when none
  int64_t member_count = 0;                   // joined members of the room (room_member_count)
  const PowerLevels* power_levels = nullptr;  // null: sender_notification_permission fails
};

// The outcome of the matching rule.
struct PushDecision {
  std::string rule_id;
  std::string kind;            // override, content, room, sender or underride
  boost::json::array actions;  // as in the rule, historical actions (dont_notify, coalesce) removed
  bool notify = false;         // actions contain "notify"
  bool highlight = false;      // the highlight tweak: true when given without a value
};

// Returns the segments of a dot-separated property path: "content.m\.relates_to" gives
// {"content", "m.relates_to"}; "\\" is a backslash, any other escape is kept as written.
std::vector<std::string> SplitPropertyPath(std::string_view key);

// Returns the property of `event` at `key` (a dot-separated path), or null when a segment is
// absent or a non-final one is not an object. The pointer is into `event`.
const boost::json::value* FindProperty(const boost::json::object& event, std::string_view key);

// Whether `pattern` (glob: `*` any run, `?` one character; ASCII case-insensitive; characters are
// UTF-8 code points) matches all of `value`, or with `word_boundary` any substring of it that
// starts and ends at a word boundary (start or end of the value, or next to a character outside
// [A-Za-z0-9_]). `literal` matches `*` and `?` as themselves. Linear in |value|·|pattern|.
bool GlobMatches(std::string_view pattern, std::string_view value, bool word_boundary,
                 bool literal = false);

// Whether one condition object holds for `event`. Unknown kinds and malformed conditions never
// match (the spec's "Unrecognised conditions MUST NOT match any events").
bool ConditionMatches(const boost::json::object& condition, const boost::json::object& event,
                      const PushContext& context);

// Evaluates `rules` (a ruleset {"global": {"override": [...], ...}} as GET /pushrules/ returns)
// for `event` (a client-format or PDU event with type, sender, room_id, content, maybe state_key)
// in the order override, content, room, sender, underride; disabled rules never match. Returns
// the first matching rule's decision, or nullopt when none matches. The caller excludes events
// the user sent (the spec: never notify for those).
std::optional<PushDecision> EvaluatePushRules(const boost::json::object& rules,
                                              const boost::json::object& event,
                                              const PushContext& context);

// Returns the decision `actions` make (notify, highlight, the cleaned list), for a rule whose
// actions were already chosen.
PushDecision DecideActions(const boost::json::array& actions);

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_PROTOCOL_PUSH_EVAL_H_
