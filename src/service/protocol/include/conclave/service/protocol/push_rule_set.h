// A user's push ruleset as two layers: the server-default rules (push_rules.h) and what the
// user changed, the "stored layer", kept as the content of the user's m.push_rules account data.
//
// The stored layer has the ruleset's shape, {"global": {"<kind>": [rule, ...]}}, and holds the
// user-defined rules in priority order (complete rules with "default": false) plus, for each
// server-default rule the user changed, a partial entry {"rule_id": ".m.rule...", "default":
// true, "enabled"?, "actions"?}. Merging puts the user's rules before the server defaults of
// their kind, except .m.rule.master, which stays first (Client-Server API, "Predefined Rules":
// server-default rules "operate at a lower priority than user-defined rules, except for the
// .m.rule.master rule"), so a server upgrade that changes the defaults reaches every user.
//
// Edits follow pushrules.yaml (PUT/DELETE /pushrules/global/{kind}/{ruleId}, /enabled,
// /actions). Pure functions over JSON; thread-safe; nothing is kept after a call.
#ifndef CONCLAVE_SERVICE_PROTOCOL_PUSH_RULE_SET_H_
#define CONCLAVE_SERVICE_PROTOCOL_PUSH_RULE_SET_H_

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace conclave::service {

// The five kinds, in evaluation order.
inline constexpr std::string_view kPushRuleKinds[] = {"override", "content", "room", "sender",
                                                      "underride"};

// OK for one of kPushRuleKinds, else M_INVALID_PARAM.
absl::Status CheckPushRuleKind(std::string_view kind);

// Returns the ruleset a client sees: `defaults` (DefaultPushRules) merged with `stored` (null or
// the stored layer; malformed parts of it are ignored).
boost::json::object MergePushRules(const boost::json::object& defaults,
                                   const boost::json::object* stored);

// Returns the ruleset of `user_id` (a valid user id; "@alice:example.org"): its server-default
// rules (DefaultPushRules, with the localpart as the user-name pattern) merged with `stored`.
boost::json::object UserPushRuleSet(std::string_view user_id, const boost::json::object* stored);

// Returns the rule `rule_id` of `kind` in the merged ruleset `rules`. M_INVALID_PARAM for an
// unknown kind, M_NOT_FOUND for an unknown rule.
absl::StatusOr<boost::json::object> FindPushRule(const boost::json::object& rules,
                                                 std::string_view kind, std::string_view rule_id);

// Checks an `actions` array (strings, or objects with a string `set_tweak`). M_INVALID_PARAM
// when it is not one, M_MISSING_PARAM when `actions` is null.
absl::Status CheckPushActions(const boost::json::value* actions);

// Creates or updates the user-defined rule `rule_id` of `kind` in `stored` from `body`
// ({actions, conditions?, pattern?}). A new rule is enabled and goes first among the user's rules
// of its kind, an updated one keeps its place and enabled state, unless `before` or `after` (the
// id of another user-defined rule of the kind) says where. Errors, leaving `stored` unchanged:
// M_INVALID_PARAM for an unknown kind, a `rule_id` that is empty, starts with '.' or contains '/'
// or '\\', bad actions or conditions, a `before`/`after` naming a server-default rule;
// M_MISSING_PARAM for missing actions or (content rules) pattern; M_UNKNOWN (kInvalidArgument: 400)
// when `before`/`after` names no rule, as the spec's example says.
absl::Status PutPushRule(boost::json::object& stored, std::string_view kind,
                         std::string_view rule_id, const boost::json::object& body,
                         std::optional<std::string_view> before,
                         std::optional<std::string_view> after);

// Deletes the user-defined rule. M_INVALID_PARAM for an unknown kind or a server-default rule of
// `defaults`, M_NOT_FOUND for an unknown rule.
absl::Status DeletePushRule(boost::json::object& stored, const boost::json::object& defaults,
                            std::string_view kind, std::string_view rule_id);

// Sets `enabled` or `actions` of any rule, server-default ones included. M_INVALID_PARAM for an
// unknown kind or bad actions, M_NOT_FOUND when neither `stored` nor `defaults` has the rule.
absl::Status SetPushRuleEnabled(boost::json::object& stored, const boost::json::object& defaults,
                                std::string_view kind, std::string_view rule_id, bool enabled);
absl::Status SetPushRuleActions(boost::json::object& stored, const boost::json::object& defaults,
                                std::string_view kind, std::string_view rule_id,
                                const boost::json::array& actions);

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_PROTOCOL_PUSH_RULE_SET_H_
