#include "conclave/service/protocol/push_rule_set.h"

#include <algorithm>
#include <iterator>
#include <string>

#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/identifiers.h"
#include "conclave/service/protocol/push_rules.h"

namespace conclave::service {
namespace {

using boost::json::array;
using boost::json::object;
using boost::json::value;

constexpr std::string_view kMaster = ".m.rule.master";

std::string_view IdOf(const value& rule) {
  if (!rule.is_object()) return {};
  const value* id = rule.get_object().if_contains("rule_id");
  return id != nullptr && id->is_string() ? std::string_view(id->get_string()) : std::string_view();
}

bool IsServerDefault(std::string_view rule_id) { return !rule_id.empty() && rule_id[0] == '.'; }

// The `kind` list of a ruleset, or null.
const array* ListOf(const object* rules, std::string_view kind) {
  if (rules == nullptr) return nullptr;
  const value* global = rules->if_contains("global");
  if (global == nullptr || !global->is_object()) return nullptr;
  const value* list = global->get_object().if_contains(kind);
  return list != nullptr && list->is_array() ? &list->get_array() : nullptr;
}

// The `kind` list of the stored layer, made an array if it is anything else.
array& MutableList(object& stored, std::string_view kind) {
  value& global = stored["global"];
  if (!global.is_object()) global.emplace_object();
  value& list = global.get_object()[kind];
  if (!list.is_array()) list.emplace_array();
  return list.get_array();
}

array::iterator FindIn(array& list, std::string_view rule_id) {
  return std::find_if(list.begin(), list.end(),
                      [&](const value& rule) { return IdOf(rule) == rule_id; });
}

bool Contains(const array* list, std::string_view rule_id) {
  return list != nullptr && std::any_of(list->begin(), list->end(),
                                        [&](const value& rule) { return IdOf(rule) == rule_id; });
}

// A server-default rule with the user's `enabled`/`actions` from its stored entry, if any.
value WithChanges(const value& rule, const array* stored) {
  value out = rule;
  if (stored == nullptr || !out.is_object()) return out;
  for (const value& entry : *stored) {
    if (IdOf(entry) != IdOf(rule)) continue;
    const object& changes = entry.get_object();
    if (const value* enabled = changes.if_contains("enabled"); enabled && enabled->is_bool()) {
      out.get_object()["enabled"] = *enabled;
    }
    if (const value* actions = changes.if_contains("actions"); actions && actions->is_array()) {
      out.get_object()["actions"] = *actions;
    }
  }
  return out;
}

absl::Status CheckRuleId(std::string_view rule_id) {
  if (rule_id.empty()) return InvalidParam("The rule id must not be empty");
  if (IsServerDefault(rule_id)) {
    return InvalidParam("Rule ids starting with '.' are reserved for server-default rules");
  }
  if (rule_id.find_first_of("/\\") != std::string_view::npos) {
    return InvalidParam("Rule ids must not contain '/' or '\\'");
  }
  return absl::OkStatus();
}

absl::Status CheckConditions(const value* conditions) {
  if (conditions == nullptr) return absl::OkStatus();
  if (!conditions->is_array()) return InvalidParam("'conditions' must be an array");
  for (const value& condition : conditions->get_array()) {
    const value* kind =
        condition.is_object() ? condition.get_object().if_contains("kind") : nullptr;
    if (kind == nullptr || !kind->is_string()) {
      return InvalidParam("Each condition must be an object with a string 'kind'");
    }
  }
  return absl::OkStatus();
}

// The index in `list` a rule goes to for `before`/`after` (ids of other user rules).
absl::StatusOr<size_t> PlaceOf(array& list, std::optional<std::string_view> before,
                               std::optional<std::string_view> after, size_t fallback) {
  std::optional<std::string_view> anchor = before ? before : after;
  if (!anchor) return fallback;
  if (IsServerDefault(*anchor)) {
    return InvalidParam("A rule cannot be placed relative to a server-default rule");
  }
  auto it = FindIn(list, *anchor);
  if (it == list.end()) {
    return MatrixStatus(absl::StatusCode::kInvalidArgument, Errcode::kUnknown,
                        core::StrCat("before/after rule not found: ", *anchor));
  }
  return static_cast<size_t>(std::distance(list.begin(), it)) + (before ? 0 : 1);
}

// The stored entry of `rule_id` (created for a server-default rule of `defaults`), or
// M_NOT_FOUND.
absl::StatusOr<object*> EntryFor(object& stored, const object& defaults, std::string_view kind,
                                 std::string_view rule_id) {
  CONCLAVE_RETURN_IF_ERROR(CheckPushRuleKind(kind));
  array& list = MutableList(stored, kind);
  auto it = FindIn(list, rule_id);
  if (it != list.end()) return &it->get_object();
  if (!IsServerDefault(rule_id) || !Contains(ListOf(&defaults, kind), rule_id)) {
    return NotFound("The push rule was not found");
  }
  list.push_back(object{{"rule_id", rule_id}, {"default", true}});
  return &list.back().get_object();
}

}  // namespace

absl::Status CheckPushRuleKind(std::string_view kind) {
  if (std::find(std::begin(kPushRuleKinds), std::end(kPushRuleKinds), kind) ==
      std::end(kPushRuleKinds)) {
    return InvalidParam(core::StrCat("Unknown push rule kind '", kind, "'"));
  }
  return absl::OkStatus();
}

object MergePushRules(const object& defaults, const object* stored) {
  object global;
  for (std::string_view kind : kPushRuleKinds) {
    const array* server = ListOf(&defaults, kind);
    const array* user = ListOf(stored, kind);
    array merged;
    auto add_defaults = [&](bool master) {
      if (server == nullptr) return;
      for (const value& rule : *server) {
        if ((IdOf(rule) == kMaster) == master) merged.push_back(WithChanges(rule, user));
      }
    };
    add_defaults(/*master=*/true);
    if (user != nullptr) {
      for (const value& rule : *user) {
        if (rule.is_object() && !IsServerDefault(IdOf(rule)) && !IdOf(rule).empty()) {
          merged.push_back(rule);
        }
      }
    }
    add_defaults(/*master=*/false);
    global[kind] = std::move(merged);
  }
  return object{{"global", std::move(global)}};
}

object UserPushRuleSet(std::string_view user_id, const object* stored) {
  auto parsed = ParseUserId(user_id);
  return MergePushRules(DefaultPushRules(user_id, parsed.ok() ? parsed->localpart : user_id),
                        stored);
}

absl::StatusOr<object> FindPushRule(const object& rules, std::string_view kind,
                                    std::string_view rule_id) {
  CONCLAVE_RETURN_IF_ERROR(CheckPushRuleKind(kind));
  if (const array* list = ListOf(&rules, kind)) {
    for (const value& rule : *list) {
      if (IdOf(rule) == rule_id) return rule.get_object();
    }
  }
  return NotFound("The push rule was not found");
}

absl::Status CheckPushActions(const value* actions) {
  if (actions == nullptr) return MissingParam("'actions' is required");
  if (!actions->is_array()) return InvalidParam("'actions' must be an array");
  for (const value& action : actions->get_array()) {
    if (action.is_string()) continue;
    const value* tweak =
        action.is_object() ? action.get_object().if_contains("set_tweak") : nullptr;
    if (tweak == nullptr || !tweak->is_string()) {
      return InvalidParam("Each action must be a string or an object with a string 'set_tweak'");
    }
  }
  return absl::OkStatus();
}

absl::Status PutPushRule(object& stored, std::string_view kind, std::string_view rule_id,
                         const object& body, std::optional<std::string_view> before,
                         std::optional<std::string_view> after) {
  CONCLAVE_RETURN_IF_ERROR(CheckPushRuleKind(kind));
  CONCLAVE_RETURN_IF_ERROR(CheckRuleId(rule_id));
  CONCLAVE_RETURN_IF_ERROR(CheckPushActions(body.if_contains("actions")));
  object rule{
      {"rule_id", rule_id}, {"default", false}, {"enabled", true}, {"actions", body.at("actions")}};
  if (kind == "content") {
    const value* pattern = body.if_contains("pattern");
    if (pattern == nullptr) return MissingParam("Content rules need a 'pattern'");
    if (!pattern->is_string()) return InvalidParam("'pattern' must be a string");
    rule["pattern"] = *pattern;
  } else if (kind == "override" || kind == "underride") {
    const value* conditions = body.if_contains("conditions");
    CONCLAVE_RETURN_IF_ERROR(CheckConditions(conditions));
    rule["conditions"] = conditions != nullptr ? *conditions : value(array());
  }
  array list = MutableList(stored, kind);  // a copy: `stored` changes only on success
  size_t place = 0;
  if (auto it = FindIn(list, rule_id); it != list.end()) {
    if (const value* enabled = it->get_object().if_contains("enabled")) rule["enabled"] = *enabled;
    place = static_cast<size_t>(std::distance(list.begin(), it));
    list.erase(it);
  }
  if (before && after) after.reset();  // both: the rule goes next to `before`
  CONCLAVE_ASSIGN_OR_RETURN(place, PlaceOf(list, before, after, place));
  list.insert(list.begin() + static_cast<std::ptrdiff_t>(place), std::move(rule));
  MutableList(stored, kind) = std::move(list);
  return absl::OkStatus();
}

absl::Status DeletePushRule(object& stored, const object& defaults, std::string_view kind,
                            std::string_view rule_id) {
  CONCLAVE_RETURN_IF_ERROR(CheckPushRuleKind(kind));
  if (IsServerDefault(rule_id) && Contains(ListOf(&defaults, kind), rule_id)) {
    return InvalidParam("Server-default rules cannot be deleted");
  }
  array& list = MutableList(stored, kind);
  auto it = FindIn(list, rule_id);
  if (it == list.end() || IsServerDefault(rule_id)) return NotFound("The push rule was not found");
  list.erase(it);
  return absl::OkStatus();
}

absl::Status SetPushRuleEnabled(object& stored, const object& defaults, std::string_view kind,
                                std::string_view rule_id, bool enabled) {
  CONCLAVE_ASSIGN_OR_RETURN(object * entry, EntryFor(stored, defaults, kind, rule_id));
  (*entry)["enabled"] = enabled;
  return absl::OkStatus();
}

absl::Status SetPushRuleActions(object& stored, const object& defaults, std::string_view kind,
                                std::string_view rule_id, const array& actions) {
  const value actions_value = actions;
  CONCLAVE_RETURN_IF_ERROR(CheckPushActions(&actions_value));
  CONCLAVE_ASSIGN_OR_RETURN(object * entry, EntryFor(stored, defaults, kind, rule_id));
  (*entry)["actions"] = actions;
  return absl::OkStatus();
}

}  // namespace conclave::service
