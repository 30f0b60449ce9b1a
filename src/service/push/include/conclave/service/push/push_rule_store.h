// PushRuleStore: each user's push rules, kept as the m.push_rules account data (the stored layer
// of push_rule_set.h), so a change reaches /sync as the m.push_rules account data event and
// wakes the user's syncs like any account data write (Client-Server API, "Push Rules: API";
// pushrules.yaml).
//
// Thread-safe: edits are read-modify-writes under Accounts::UpdateAccountData's lock; the merged
// rulesets are cached per user for evaluation at send time and dropped on every edit. Owned by
// the Homeserver; must not outlive its Accounts.
#ifndef CONCLAVE_SERVICE_PUSH_PUSH_RULE_STORE_H_
#define CONCLAVE_SERVICE_PUSH_PUSH_RULE_STORE_H_

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "conclave/service/accounts/accounts.h"

namespace conclave::service {

// The account data type the rules live in.
inline constexpr std::string_view kPushRulesType = "m.push_rules";

class PushRuleStore {
 public:
  // `accounts` must outlive the store.
  explicit PushRuleStore(Accounts& accounts) : accounts_(accounts) {}

  // Returns the merged ruleset of `user_id` ({"global": {...}}, as GET /pushrules/ answers).
  // The pointer is shared and immutable: it stays valid after a later edit. Database errors.
  absl::StatusOr<std::shared_ptr<const boost::json::object>> Rules(std::string_view user_id);

  // The edits of push_rule_set.h, with their errors, on `user_id`'s stored layer. Nothing is
  // written when one fails.
  absl::Status Put(std::string_view user_id, std::string_view kind, std::string_view rule_id,
                   const boost::json::object& body, std::optional<std::string_view> before,
                   std::optional<std::string_view> after);
  absl::Status Delete(std::string_view user_id, std::string_view kind, std::string_view rule_id);
  absl::Status SetEnabled(std::string_view user_id, std::string_view kind, std::string_view rule_id,
                          bool enabled);
  absl::Status SetActions(std::string_view user_id, std::string_view kind, std::string_view rule_id,
                          const boost::json::array& actions);

 private:
  // Runs `edit` on the stored layer (with the user's server defaults) and drops the cache entry.
  absl::Status Edit(std::string_view user_id,
                    absl::FunctionRef<absl::Status(boost::json::object& stored,
                                                   const boost::json::object& defaults)>
                        edit);

  Accounts& accounts_;
  std::mutex mu_;            // guards cache_ and generation_
  uint64_t generation_ = 0;  // counts edits, so a read that raced one is not cached
  std::map<std::string, std::shared_ptr<const boost::json::object>, std::less<>> cache_;
};

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_PUSH_PUSH_RULE_STORE_H_
