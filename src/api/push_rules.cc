// Push rules: GET /pushrules/, /pushrules/global/, and per rule GET/PUT/DELETE, /enabled,
// /actions (Client-Server API, "Push Rules: API"; pushrules.yaml). The rules live in
// service/push/push_rule_store.h; the JSON edits and their errors in protocol/push_rule_set.h.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <string>

#include "conclave/core/status_macros.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/push_rule_set.h"
#include "conclave/service/push/push_rule_store.h"
#include "routes.h"

namespace conclave::api {
namespace {

using boost::json::array;
using boost::json::object;
using boost::json::value;

// The path's scope: only "global" exists (pushrules.yaml).
absl::Status CheckScope(const Call& call) {
  if (call.Param("scope") != "global") {
    return service::InvalidParam("Unknown push rule scope; only 'global' exists");
  }
  return absl::OkStatus();
}

absl::StatusOr<object> Rules(Call& call) {
  CONCLAVE_ASSIGN_OR_RETURN(auto rules, call.hs.push_rules().Rules(call.session.user_id));
  return *rules;
}

// The rule `{kind}`/`{ruleId}` of the caller: M_INVALID_PARAM for an unknown kind, M_NOT_FOUND
// for an unknown rule.
absl::StatusOr<object> FindRule(Call& call) {
  CONCLAVE_RETURN_IF_ERROR(CheckScope(call));
  CONCLAVE_ASSIGN_OR_RETURN(object rules, Rules(call));
  return service::FindPushRule(rules, call.Param("kind"), call.Param("ruleId"));
}

absl::StatusOr<value> Empty(absl::Status status) {
  if (!status.ok()) return status;
  return object();
}

absl::StatusOr<value> PutRule(Call& call) {
  CONCLAVE_RETURN_IF_ERROR(CheckScope(call));
  CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
  const std::optional<std::string> before = call.request.QueryParam("before");
  const std::optional<std::string> after = call.request.QueryParam("after");
  return Empty(call.hs.push_rules().Put(call.session.user_id, call.Param("kind"),
                                        call.Param("ruleId"), body, before, after));
}

absl::StatusOr<value> DeleteRule(Call& call) {
  CONCLAVE_RETURN_IF_ERROR(CheckScope(call));
  return Empty(
      call.hs.push_rules().Delete(call.session.user_id, call.Param("kind"), call.Param("ruleId")));
}

absl::StatusOr<value> PutEnabled(Call& call) {
  CONCLAVE_RETURN_IF_ERROR(CheckScope(call));
  CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
  const value* enabled = body.if_contains("enabled");
  if (enabled == nullptr) return service::MissingParam("'enabled' is required");
  if (!enabled->is_bool()) return service::InvalidParam("'enabled' must be a boolean");
  return Empty(call.hs.push_rules().SetEnabled(call.session.user_id, call.Param("kind"),
                                               call.Param("ruleId"), enabled->get_bool()));
}

absl::StatusOr<value> PutActions(Call& call) {
  CONCLAVE_RETURN_IF_ERROR(CheckScope(call));
  CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
  CONCLAVE_RETURN_IF_ERROR(service::CheckPushActions(body.if_contains("actions")));
  return Empty(call.hs.push_rules().SetActions(call.session.user_id, call.Param("kind"),
                                               call.Param("ruleId"),
                                               body.at("actions").get_array()));
}

}  // namespace

absl::Status RegisterPushRuleRoutes(Routes& routes) {
  CONCLAVE_RETURN_IF_ERROR(
      routes.Add("GET", "/v3/pushrules/", Auth::kRequired, [](Call& call) -> absl::StatusOr<value> {
        CONCLAVE_ASSIGN_OR_RETURN(object rules, Rules(call));
        return rules;
      }));
  CONCLAVE_RETURN_IF_ERROR(routes.Add("GET", "/v3/pushrules/global/", Auth::kRequired,
                                      [](Call& call) -> absl::StatusOr<value> {
                                        CONCLAVE_ASSIGN_OR_RETURN(object rules, Rules(call));
                                        return rules["global"];
                                      }));
  constexpr char kRule[] = "/v3/pushrules/{scope}/{kind}/{ruleId}";
  CONCLAVE_RETURN_IF_ERROR(
      routes.Add("GET", kRule, Auth::kRequired,
                 [](Call& call) -> absl::StatusOr<value> { return FindRule(call); }));
  CONCLAVE_RETURN_IF_ERROR(routes.Add("PUT", kRule, Auth::kRequired, &PutRule));
  CONCLAVE_RETURN_IF_ERROR(routes.Add("DELETE", kRule, Auth::kRequired, &DeleteRule));
  constexpr char kEnabled[] = "/v3/pushrules/{scope}/{kind}/{ruleId}/enabled";
  CONCLAVE_RETURN_IF_ERROR(
      routes.Add("GET", kEnabled, Auth::kRequired, [](Call& call) -> absl::StatusOr<value> {
        CONCLAVE_ASSIGN_OR_RETURN(object rule, FindRule(call));
        const value* enabled = rule.if_contains("enabled");
        return object{{"enabled", enabled != nullptr && enabled->is_bool() && enabled->get_bool()}};
      }));
  CONCLAVE_RETURN_IF_ERROR(routes.Add("PUT", kEnabled, Auth::kRequired, &PutEnabled));
  constexpr char kActions[] = "/v3/pushrules/{scope}/{kind}/{ruleId}/actions";
  CONCLAVE_RETURN_IF_ERROR(
      routes.Add("GET", kActions, Auth::kRequired, [](Call& call) -> absl::StatusOr<value> {
        CONCLAVE_ASSIGN_OR_RETURN(object rule, FindRule(call));
        const value* actions = rule.if_contains("actions");
        return object{{"actions", actions != nullptr ? *actions : array()}};
      }));
  CONCLAVE_RETURN_IF_ERROR(routes.Add("PUT", kActions, Auth::kRequired, &PutActions));
  return absl::OkStatus();
}

}  // namespace conclave::api
