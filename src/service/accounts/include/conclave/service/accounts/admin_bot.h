// The names of the admin room and its bot (DESIGN.md section 9): accounts reserves the bot's
// localpart, the admin room creates both. Pure constants and functions; thread-safe.
#ifndef CONCLAVE_SERVICE_ACCOUNTS_ADMIN_BOT_H_
#define CONCLAVE_SERVICE_ACCOUNTS_ADMIN_BOT_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "conclave/core/str_cat.h"

namespace conclave::service {

inline constexpr char kAdminBotLocalpart[] = "conclave";
inline constexpr char kAdminBotDisplayName[] = "conclave";
inline constexpr char kAdminRoomAliasLocalpart[] = "admins";
inline constexpr char kAdminCommandPrefix[] = "!admin";
// The most a notice carries: `body` and `formatted_body` together, in bytes of their JSON
// (escapes included), so that the whole event stays under kMaxEventBytes (65,536).
inline constexpr size_t kMaxNoticeBytes = 60000;

// "@conclave:<server_name>".
inline std::string BotUserId(std::string_view server_name) {
  return core::StrCat("@", kAdminBotLocalpart, ":", server_name);
}
// "#admins:<server_name>".
inline std::string AdminRoomAlias(std::string_view server_name) {
  return core::StrCat("#", kAdminRoomAliasLocalpart, ":", server_name);
}

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_ACCOUNTS_ADMIN_BOT_H_
