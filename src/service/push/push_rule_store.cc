#include "conclave/service/push/push_rule_store.h"

#include "conclave/core/status_macros.h"
#include "conclave/service/protocol/push_rule_set.h"

namespace conclave::service {

using boost::json::object;

absl::StatusOr<std::shared_ptr<const object>> PushRuleStore::Rules(std::string_view user_id) {
  uint64_t generation = 0;
  {
    std::lock_guard lock(mu_);
    if (auto it = cache_.find(user_id); it != cache_.end()) return it->second;
    generation = generation_;
  }
  CONCLAVE_ASSIGN_OR_RETURN(auto stored, accounts_.GetAccountData(user_id, "", kPushRulesType));
  auto rules =
      std::make_shared<const object>(UserPushRuleSet(user_id, stored ? &*stored : nullptr));
  std::lock_guard lock(mu_);
  // An edit since the read may have written newer rules: then the next call reads again.
  if (generation == generation_) cache_.emplace(std::string(user_id), rules);
  return rules;
}

absl::Status PushRuleStore::Edit(
    std::string_view user_id,
    absl::FunctionRef<absl::Status(object& stored, const object& defaults)> edit) {
  const object defaults = UserPushRuleSet(user_id, nullptr);
  absl::Status status = accounts_.UpdateAccountData(
      user_id, "", kPushRulesType, [&](object& stored) { return edit(stored, defaults); });
  std::lock_guard lock(mu_);
  cache_.erase(std::string(user_id));
  ++generation_;
  return status;
}

absl::Status PushRuleStore::Put(std::string_view user_id, std::string_view kind,
                                std::string_view rule_id, const object& body,
                                std::optional<std::string_view> before,
                                std::optional<std::string_view> after) {
  return Edit(user_id, [&](object& stored, const object&) {
    return PutPushRule(stored, kind, rule_id, body, before, after);
  });
}

absl::Status PushRuleStore::Delete(std::string_view user_id, std::string_view kind,
                                   std::string_view rule_id) {
  return Edit(user_id, [&](object& stored, const object& defaults) {
    return DeletePushRule(stored, defaults, kind, rule_id);
  });
}

absl::Status PushRuleStore::SetEnabled(std::string_view user_id, std::string_view kind,
                                       std::string_view rule_id, bool enabled) {
  return Edit(user_id, [&](object& stored, const object& defaults) {
    return SetPushRuleEnabled(stored, defaults, kind, rule_id, enabled);
  });
}

absl::Status PushRuleStore::SetActions(std::string_view user_id, std::string_view kind,
                                       std::string_view rule_id,
                                       const boost::json::array& actions) {
  return Edit(user_id, [&](object& stored, const object& defaults) {
    return SetPushRuleActions(stored, defaults, kind, rule_id, actions);
  });
}

}  // namespace conclave::service
