// The server-default push rules a new account starts with.
//
// Client-Server API, "Push Rules" → "Predefined Rules" (override, content and underride rules,
// v1.9 set including .m.rule.suppress_edits). Stateless, thread-safe.
#ifndef CONCLAVE_SERVICE_PROTOCOL_PUSH_RULES_H_
#define CONCLAVE_SERVICE_PROTOCOL_PUSH_RULES_H_

#include <boost/json/object.hpp>
#include <string_view>

namespace conclave::service {

// Returns the predefined push rules of `user_id` (e.g. "@alice:example.org") in the shape of
// GET /pushrules/: {"global": {"override": [...], "content": [...], "room": [], "sender": [],
// "underride": [...]}}. Each rule has rule_id (starting with '.'), default: true, enabled,
// actions, and conditions (override/underride) or pattern (content), in the spec's priority
// order. `user_id` fills .m.rule.invite_for_me and .m.rule.is_user_mention; `display_localpart`,
// the localpart of `user_id` ("alice"), is the pattern of .m.rule.contains_user_name.
// .m.rule.master is the one rule disabled by default.
boost::json::object DefaultPushRules(std::string_view user_id, std::string_view display_localpart);

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_PROTOCOL_PUSH_RULES_H_
