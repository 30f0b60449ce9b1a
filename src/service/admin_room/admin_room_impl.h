// Private to the service module: the admin room (AdminRoom, admin_room.h) and the queue of
// `!admin` commands typed in it, with the worker thread that runs them.
//
// Rooms::Send hands every committed m.room.message to OnMessage() through the rooms' event
// observers (outside the room's lock).
// A command from an admin is queued; the worker thread runs the queue one command at a time
// through core's CommandSlot and posts each answer as an m.notice in reply to the command.
#ifndef CONCLAVE_SERVICE_ADMIN_ROOM_ADMIN_ROOM_IMPL_H_
#define CONCLAVE_SERVICE_ADMIN_ROOM_ADMIN_ROOM_IMPL_H_

#include <boost/json/object.hpp>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "conclave/core/server.h"
#include "conclave/service/admin_room/admin_room.h"
#include "conclave/service/rooms/event_observers.h"

namespace conclave::service {

class Accounts;
class RateLimiter;
class Rooms;

// A command as typed in the admin room, once its prefix is stripped.
struct ParsedAdminCommand {
  std::string command_line;  // the rest of the first line, trimmed
  std::string body;          // the first fenced code block after it, without the fences
};

// Recognises an admin command in a message: `body` (the plain text) starts with `!admin`, with
// `bot_user_id`, or with `bot_display_name` followed by ':' (how clients write a mention: the
// display name, a colon, then the text), or `formatted_body` opens with a link to the bot (a
// "pill") whose text starts the plain body. Returns nullopt when the message is not a command.
std::optional<ParsedAdminCommand> ParseAdminCommand(std::string_view body,
                                                    std::string_view formatted_body,
                                                    std::string_view bot_user_id,
                                                    std::string_view bot_display_name);

// Cuts `plain` and `html` so that their JSON fits `limit` bytes together (see kMaxNoticeBytes),
// at a line boundary where one is near, and appends a note of how many bytes of the plain text
// were cut; the HTML is then the cut plain text as a preformatted block. Unchanged when they fit.
void TruncateNotice(std::string& plain, std::string& html, size_t limit);

// Thread-safe. Created by Homeserver::Open, destroyed with the Homeserver (which stops the
// worker first); must not outlive the service module.
class AdminRoomImpl final : public AdminRoom {
 public:
  // What the admin room works with; every reference must outlive it.
  struct Deps {
    std::string server_name;
    core::Server& server;  // its CommandSlot runs the commands
    Accounts& accounts;
    Rooms& rooms;
    RateLimiter& limiter;  // bounds the refusals sent to non-admins
  };
  // Registers the command intake as an observer of `deps.rooms`.
  explicit AdminRoomImpl(Deps deps);
  ~AdminRoomImpl() override;  // stops and joins the worker

  // Makes sure, idempotently, that the bot account exists (admin, random password, display
  // name "conclave"), that `#admins:<server_name>` resolves to a room (else the bot creates it:
  // private_chat preset, name, topic, the bot at power level 100), and that every admin who is
  // neither joined nor invited is invited. Called by Homeserver::Open before any request can
  // reach the homeserver. Errors from Accounts and Rooms, with context.
  absl::Status SetUp();

  const std::string& room_id() const override { return room_id_; }
  const std::string& bot_user_id() const override { return bot_user_id_; }
  absl::Status Notice(std::string_view plain, std::string_view html,
                      std::optional<std::string> in_reply_to) override;
  absl::Status OnAdminGranted(std::string_view user_id) override;

  // Joins `user_id` to the admin room (the bot invites, the user joins): the first user to
  // register. OK when already joined.
  absl::Status JoinFirstAdmin(std::string_view user_id);

  // Command intake, called by Rooms::Send after an m.room.message was committed, without any
  // room lock held. Queues the message when it is a command in the admin room from an admin;
  // answers a command from anybody else with a refusal notice (at most one a minute per user).
  // Ignores everything else, and the bot's own messages.
  void OnMessage(std::string_view room_id, std::string_view sender, std::string_view event_id,
                 const boost::json::object& content);

  // Starts the worker thread (Homeserver::Start, at the service module's load). No-op when
  // running. kResourceExhausted when the thread cannot be created.
  absl::Status Start();
  // Stops the worker and joins it. A command that is running when Stop() is called finishes
  // (its reply is posted) before Stop() returns; the commands behind it stay queued. No-op when
  // not running.
  void Stop();

  // The queued commands as JSON (an array), for the next load's RestoreQueue(). Call after
  // Stop(): the command a running worker is busy with is still in the queue and would run again.
  std::string SaveQueue() const;
  // Appends the commands of `saved` (SaveQueue's format; anything else is ignored) to the queue.
  void RestoreQueue(std::string_view saved);
  // Commands queued or running.
  size_t pending() const;

  // Sync points for tests (instead of sleeping and hoping): how many times the worker found no
  // command processor (the admin module away) and went back to waiting, and whether Stop() has
  // asked the worker to stop. Thread-safe.
  uint64_t retries_without_processor() const;
  bool stop_requested() const;

 private:
  struct QueuedCommand {
    std::string command_line;
    std::string body;
    std::string invoker;
    std::string event_id;
  };

  void Enqueue(QueuedCommand command);
  void RunWorker();
  // Posts the answer to `command`: its output, or its error.
  void Reply(const QueuedCommand& command, const absl::Status& status, std::string plain,
             std::string html);
  // The membership of `user_id` in the admin room ("" when none).
  absl::StatusOr<std::string> RoomMembership(std::string_view user_id);

  Deps deps_;
  const std::string bot_user_id_;
  std::string room_id_;  // set by SetUp, before any other thread can see this object

  mutable std::mutex mu_;
  std::condition_variable cv_;
  // Front first. The worker leaves a command at the front while it runs and removes it after
  // its reply was posted.
  std::deque<QueuedCommand> queue_;         // guarded by mu_
  bool stop_ = false;                       // guarded by mu_
  uint64_t retries_without_processor_ = 0;  // guarded by mu_
  std::thread worker_;                      // started and joined by the thread calling Start/Stop
  // Last: unregistered first, so no OnMessage runs while the rest is destroyed.
  EventObservers::Handle intake_;  // OnMessage for every m.room.message sent
};

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_ADMIN_ROOM_ADMIN_ROOM_IMPL_H_
