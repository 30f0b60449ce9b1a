// Accounts: the m.ignored_user_list account data (Client-Server API, "Ignoring Users"): its
// validation when a client sets it, and the set Rooms and Sync read to hide ignored users' events
// and invites (accounts.h).
#include <boost/json/object.hpp>
#include <set>
#include <string>

#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/accounts/accounts.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/identifiers.h"

namespace conclave::service {

absl::Status ValidateIgnoredUserList(const boost::json::object& content) {
  // m.ignored_user_list: `ignored_users` (required) is "The map of users to ignore. This is a
  // mapping of user ID to empty object."
  const boost::json::value* users = content.if_contains("ignored_users");
  if (users == nullptr || !users->is_object()) {
    return BadJson("m.ignored_user_list needs 'ignored_users', an object of user ids");
  }
  for (const auto& [user_id, value] : users->get_object()) {
    if (!ParseUserId(user_id).ok()) {
      return InvalidParam(
          core::StrCat("'", std::string_view(user_id), "' in 'ignored_users' is not a user id"));
    }
    if (!value.is_object()) {
      return BadJson(core::StrCat("'ignored_users' entry '", std::string_view(user_id),
                                  "' must be an object"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::set<std::string, std::less<>>> Accounts::IgnoredUsers(
    std::string_view user_id) const {
  std::set<std::string, std::less<>> ignored;
  CONCLAVE_ASSIGN_OR_RETURN(auto content, GetAccountData(user_id, "", kIgnoredUserListType));
  if (!content) return ignored;
  // Stored only after ValidateIgnoredUserList; entries that are not user ids are skipped anyway.
  const boost::json::value* users = content->if_contains("ignored_users");
  if (users == nullptr || !users->is_object()) return ignored;
  for (const auto& [ignored_id, value] : users->get_object()) {
    if (ParseUserId(ignored_id).ok()) ignored.emplace(std::string_view(ignored_id));
  }
  return ignored;
}

}  // namespace conclave::service
