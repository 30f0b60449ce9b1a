#include "conclave/service/protocol/push_eval.h"

#include <charconv>
#include <vector>

namespace conclave::service {
namespace {

using boost::json::array;
using boost::json::object;
using boost::json::value;

// Decodes UTF-8 into code points, lower-casing ASCII; a malformed byte stands for itself.
std::u32string Fold(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
    if (i + extra >= s.size()) extra = 0;
    for (size_t k = 1; k <= extra; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) extra = 0;
    }
    char32_t cp = extra == 0 ? c : (c & (0x3F >> extra));
    for (size_t k = 1; k <= extra; ++k)
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    if (cp >= 'A' && cp <= 'Z') cp += 'a' - 'A';
    out.push_back(cp);
    i += 1 + extra;
  }
  return out;
}

bool IsWordChar(char32_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// The scalar kinds event_property_is and _contains compare; doubles are not canonical JSON.
bool IsComparableScalar(const value& v) {
  return v.is_string() || v.is_bool() || v.is_null() || v.is_int64() || v.is_uint64();
}

bool SameScalar(const value& a, const value& b) {
  if (!IsComparableScalar(a) || !IsComparableScalar(b)) return false;
  if (a.is_string() || b.is_string()) return a.is_string() && b.is_string() && a == b;
  if (a.is_bool() || b.is_bool()) return a.is_bool() && b.is_bool() && a == b;
  if (a.is_null() || b.is_null()) return a.is_null() && b.is_null();
  // Both integers, maybe of different signedness.
  if (a.is_uint64() && a.get_uint64() > static_cast<uint64_t>(INT64_MAX)) return a == b;
  if (b.is_uint64() && b.get_uint64() > static_cast<uint64_t>(INT64_MAX)) return a == b;
  const int64_t x = a.is_int64() ? a.get_int64() : static_cast<int64_t>(a.get_uint64());
  const int64_t y = b.is_int64() ? b.get_int64() : static_cast<int64_t>(b.get_uint64());
  return x == y;
}

std::string_view StringOf(const object& o, std::string_view key) {
  const value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

bool EventMatch(const object& condition, const object& event) {
  const value* key = condition.if_contains("key");
  const value* pattern = condition.if_contains("pattern");
  if (key == nullptr || !key->is_string() || pattern == nullptr || !pattern->is_string()) {
    return false;
  }
  const value* property = FindProperty(event, key->get_string());
  if (property == nullptr || !property->is_string()) return false;
  return GlobMatches(pattern->get_string(), property->get_string(),
                     /*word_boundary=*/key->get_string() == "content.body");
}

bool PropertyIs(const object& condition, const object& event) {
  const value* key = condition.if_contains("key");
  const value* expected = condition.if_contains("value");
  if (key == nullptr || !key->is_string() || expected == nullptr) return false;
  const value* property = FindProperty(event, key->get_string());
  return property != nullptr && SameScalar(*property, *expected);
}

bool PropertyContains(const object& condition, const object& event) {
  const value* key = condition.if_contains("key");
  const value* expected = condition.if_contains("value");
  if (key == nullptr || !key->is_string() || expected == nullptr) return false;
  const value* property = FindProperty(event, key->get_string());
  if (property == nullptr || !property->is_array()) return false;
  for (const value& element : property->get_array()) {
    if (SameScalar(element, *expected)) return true;
  }
  return false;
}

bool ContainsDisplayName(const object& event, const PushContext& context) {
  if (context.display_name.empty()) return false;
  const value* body = FindProperty(event, "content.body");
  if (body == nullptr || !body->is_string()) return false;
  return GlobMatches(context.display_name, body->get_string(), /*word_boundary=*/true,
                     /*literal=*/true);
}

// `is`: a decimal integer, optionally after ==, <, >, <= or >= (== when absent).
bool MemberCountMatches(const object& condition, int64_t count) {
  std::string_view is = StringOf(condition, "is");
  std::string_view op = "==";
  for (std::string_view prefix : {"==", "<=", ">=", "<", ">"}) {
    if (is.substr(0, prefix.size()) == prefix) {
      op = prefix;
      is.remove_prefix(prefix.size());
      break;
    }
  }
  int64_t n = 0;
  if (is.empty()) return false;
  auto [end, ec] = std::from_chars(is.data(), is.data() + is.size(), n);
  if (ec != std::errc() || end != is.data() + is.size()) return false;
  if (op == "==") return count == n;
  if (op == "<") return count < n;
  if (op == ">") return count > n;
  if (op == "<=") return count <= n;
  return count >= n;
}

bool SenderMayNotify(const object& condition, const object& event, const PushContext& context) {
  const value* key = condition.if_contains("key");
  if (key == nullptr || !key->is_string() || context.power_levels == nullptr) return false;
  const PowerLevels& levels = *context.power_levels;
  return levels.UserLevel(StringOf(event, "sender")) >= levels.NotificationLevel(key->get_string());
}

bool RuleMatches(std::string_view kind, const object& rule, const object& event,
                 const PushContext& context) {
  if (kind == "content") {
    const value* pattern = rule.if_contains("pattern");
    const value* body = FindProperty(event, "content.body");
    return pattern != nullptr && pattern->is_string() && body != nullptr && body->is_string() &&
           GlobMatches(pattern->get_string(), body->get_string(), /*word_boundary=*/true);
  }
  if (kind == "room") return StringOf(event, "room_id") == StringOf(rule, "rule_id");
  if (kind == "sender") return StringOf(event, "sender") == StringOf(rule, "rule_id");
  const value* conditions = rule.if_contains("conditions");
  if (conditions == nullptr) return true;  // "A rule with no conditions always matches."
  if (!conditions->is_array()) return false;
  for (const value& condition : conditions->get_array()) {
    if (!condition.is_object() || !ConditionMatches(condition.get_object(), event, context)) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::vector<std::string> SplitPropertyPath(std::string_view key) {
  std::vector<std::string> segments(1);
  for (size_t i = 0; i < key.size(); ++i) {
    const char c = key[i];
    if (c == '\\' && i + 1 < key.size() && (key[i + 1] == '.' || key[i + 1] == '\\')) {
      segments.back().push_back(key[++i]);
    } else if (c == '.') {
      segments.emplace_back();
    } else {
      segments.back().push_back(c);
    }
  }
  return segments;
}

const value* FindProperty(const object& event, std::string_view key) {
  const object* current = &event;
  const value* found = nullptr;
  for (const std::string& segment : SplitPropertyPath(key)) {
    if (current == nullptr) return nullptr;
    found = current->if_contains(segment);
    if (found == nullptr) return nullptr;
    current = found->is_object() ? &found->get_object() : nullptr;
  }
  return found;
}

bool GlobMatches(std::string_view pattern_text, std::string_view value_text, bool word_boundary,
                 bool literal) {
  const std::u32string pattern = Fold(pattern_text);
  const std::u32string text = Fold(value_text);
  const size_t m = pattern.size();
  const size_t n = text.size();
  // An NFA over pattern positions, run once over the text; with word_boundary a match may start
  // at every boundary, so the pass stays linear instead of trying every substring.
  std::vector<char> active(m + 1, 0);
  std::vector<char> next(m + 1, 0);
  auto is_star = [&](size_t p) { return !literal && pattern[p] == U'*'; };
  auto close = [&](std::vector<char>& states) {
    for (size_t p = 0; p < m; ++p) {
      if (states[p] && is_star(p)) states[p + 1] = 1;
    }
  };
  for (size_t i = 0;; ++i) {
    const bool start_ok = word_boundary ? (i == 0 || !IsWordChar(text[i - 1])) : i == 0;
    if (start_ok) {
      active[0] = 1;
      close(active);
    }
    const bool end_ok = word_boundary ? (i == n || !IsWordChar(text[i])) : i == n;
    if (end_ok && active[m]) return true;
    if (i == n) return false;
    std::fill(next.begin(), next.end(), 0);
    bool any = false;
    for (size_t p = 0; p < m; ++p) {
      if (!active[p]) continue;
      if (is_star(p)) {
        next[p] = 1;
        any = true;
      } else if ((!literal && pattern[p] == U'?') || pattern[p] == text[i]) {
        next[p + 1] = 1;
        any = true;
      }
    }
    close(next);
    active.swap(next);
    if (!any && !word_boundary) return false;
  }
}

bool ConditionMatches(const object& condition, const object& event, const PushContext& context) {
  const std::string_view kind = StringOf(condition, "kind");
  if (kind == "event_match") return EventMatch(condition, event);
  if (kind == "event_property_is") return PropertyIs(condition, event);
  if (kind == "event_property_contains") return PropertyContains(condition, event);
  if (kind == "contains_display_name") return ContainsDisplayName(event, context);
  if (kind == "room_member_count") return MemberCountMatches(condition, context.member_count);
  if (kind == "sender_notification_permission") return SenderMayNotify(condition, event, context);
  return false;
}

PushDecision DecideActions(const array& actions) {
  PushDecision decision;
  for (const value& action : actions) {
    if (action.is_string()) {
      const std::string_view name = action.get_string();
      if (name == "dont_notify" || name == "coalesce") continue;  // "Historical Actions"
      if (name == "notify") decision.notify = true;
    } else if (action.is_object()) {
      const object& tweak = action.get_object();
      if (StringOf(tweak, "set_tweak") == "highlight") {
        const value* v = tweak.if_contains("value");
        decision.highlight = v == nullptr || (v->is_bool() && v->get_bool());
      }
    }
    decision.actions.push_back(action);
  }
  return decision;
}

std::optional<PushDecision> EvaluatePushRules(const object& rules, const object& event,
                                              const PushContext& context) {
  const value* global = rules.if_contains("global");
  if (global == nullptr || !global->is_object()) return std::nullopt;
  for (std::string_view kind : {"override", "content", "room", "sender", "underride"}) {
    const value* list = global->get_object().if_contains(kind);
    if (list == nullptr || !list->is_array()) continue;
    for (const value& rule_value : list->get_array()) {
      if (!rule_value.is_object()) continue;
      const object& rule = rule_value.get_object();
      const value* enabled = rule.if_contains("enabled");
      if (enabled != nullptr && !(enabled->is_bool() && enabled->get_bool())) continue;
      if (!RuleMatches(kind, rule, event, context)) continue;
      const value* actions = rule.if_contains("actions");
      PushDecision decision =
          DecideActions(actions != nullptr && actions->is_array() ? actions->get_array() : array());
      decision.rule_id = std::string(StringOf(rule, "rule_id"));
      decision.kind = std::string(kind);
      return decision;
    }
  }
  return std::nullopt;
}

}  // namespace conclave::service
