// AdminRoom: the `#admins:<server_name>` room, its bot `@conclave:<server_name>`, and the queue of
// `!admin` commands typed there (DESIGN.md section 9).
//
// Created on first start (idempotent later): the bot account, the room (alias, name, topic),
// and the first registered user as admin, joined. A message in the room from a joined admin that
// starts with `!admin` (or the bot's id or display name) is queued; a worker thread runs queued
// commands one at a time through core's CommandSlot (the admin module's processor) and posts
// each answer as an m.notice in reply to the command. Queued commands survive a reload of the
// admin module (they wait for the new processor) and of the service module (saved bytes).
//
// Thread-safe. Owned by the Homeserver; must not outlive the service module.
#ifndef CONCLAVE_SERVICE_ADMIN_ROOM_ADMIN_ROOM_H_
#define CONCLAVE_SERVICE_ADMIN_ROOM_ADMIN_ROOM_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "conclave/service/accounts/admin_bot.h"

namespace conclave::service {

class AdminRoom {
 public:
  virtual ~AdminRoom() = default;

  // "!…:server" once the room exists.
  virtual const std::string& room_id() const = 0;
  // "@conclave:<server_name>".
  virtual const std::string& bot_user_id() const = 0;

  // Posts an m.notice from the bot into the admin room: `plain` as `body`, `html` as
  // `formatted_body` (org.matrix.custom.html) when not empty, replying to `in_reply_to` (an event
  // id) when given. Output over kMaxNoticeBytes is truncated with a note of how much was cut.
  // kFailedPrecondition when the room could not be set up; otherwise Rooms::Send's errors.
  // Callable from any thread holding no room lock (admin commands call it from the queue's
  // worker thread).
  virtual absl::Status Notice(std::string_view plain, std::string_view html,
                              std::optional<std::string> in_reply_to) = 0;

  // Called when `user_id` was made admin (Accounts::SetAdmin): the bot invites them to the admin
  // room. OK when they are already joined or invited. (The first admin, made at registration,
  // is joined rather than invited; that happens inside the service module.) M_NOT_FOUND for an
  // unknown user; Rooms' errors otherwise.
  virtual absl::Status OnAdminGranted(std::string_view user_id) = 0;
};

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_ADMIN_ROOM_ADMIN_ROOM_H_
