// Notifications: push rule evaluation at send time, the rows it leaves (schema.h "push"), and what
// is read from them: unread counts per room and per thread for /sync, and GET /notifications.
//
// Client-Server API, "Push Notifications": "Server behaviour" (rules run for each local user in
// the room but the sender, and the new count appears in the same /sync as the event), "Receiving
// notifications", "Marking notifications as read" (the newer of m.read and m.read.private, or the
// user's own newer event, marks everything up to it read), and the thread partition of counts
// ("Threaded read receipts"); notifications.yaml.
//
// Crash safety: Evaluate runs before the event is committed and Put adds the rows to the event's
// own WriteBatch, so an event and its counts are written together or not at all; nothing is
// counted twice, nothing is counted later. Reads are computed from the rows, never stored totals.
//
// Thread-safe (its maps are; PushRuleStore is). Owned by the Homeserver; must not outlive its
// Store and PushRuleStore.
#ifndef CONCLAVE_SERVICE_PUSH_NOTIFICATIONS_H_
#define CONCLAVE_SERVICE_PUSH_NOTIFICATIONS_H_

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "conclave/database/write_batch.h"
#include "conclave/service/protocol/state_map.h"
#include "conclave/service/push/push_rule_store.h"
#include "conclave/service/push/pushers.h"
#include "conclave/service/storage/store.h"

namespace conclave::service {

// One user's notification for an event about to be committed.
struct PendingNotification {
  std::string user_id;
  bool highlight = false;
  boost::json::array actions;  // the matching rule's, for /notifications and pushers
  // The user's HTTP pushers at evaluation: Put queues one Push Gateway request for each.
  std::vector<Pushers::Id> pushers;
  // What the Push Gateway request shows of the room as it was before the event: its
  // m.room.name, its canonical alias and the sender's display name ("" when unset).
  std::string room_name;
  std::string room_alias;
  std::string sender_display_name;
};

// Unread counts of one count partition: the main timeline or one thread.
struct UnreadCount {
  int64_t notification_count = 0;
  int64_t highlight_count = 0;
};

// A room's unread counts: everything, and split into the main timeline and threads (by root).
struct RoomUnreadCounts {
  UnreadCount total;
  UnreadCount main;
  std::map<std::string, UnreadCount> threads;
};

// Where a user has read one room up to, by count partition (Client-Server API "Threaded read
// receipts", "Marking notifications as read"): an unthreaded m.read or m.read.private receipt
// marks every partition; a threaded one (thread_id "main" or a thread root) and the user's own
// events mark only their own partition. Positions are stream positions, 0 for nothing.
struct ReadMarks {
  uint64_t unthreaded = 0;
  // By partition: "main" or the thread root's event id.
  std::map<std::string, uint64_t, std::less<>> threads;

  // The position up to which the partition `thread` is read: "" or "main" for the main
  // timeline, else a thread root's event id.
  uint64_t Of(std::string_view thread) const;
  // The oldest of the partitions' positions: nothing at or before it is unread.
  uint64_t Lowest() const { return unthreaded; }
};

// A GET /notifications entry.
struct NotificationEntry {
  std::string room_id;
  uint64_t position = 0;      // the event's stream position
  boost::json::object event;  // the event as stored (PDU with `unsigned`)
  boost::json::array actions;
  int64_t ts = 0;  // when it was notified, ms since the Unix epoch
  bool read = false;
};

struct NotificationsPage {
  std::vector<NotificationEntry> notifications;  // newest first
  std::optional<uint64_t> next_from;             // `from` of the next (older) page
};

class Notifications {
 public:
  // Opens the push maps. `store`, `rules` and `pushers` must outlive the result; `pushers` may
  // be null (then nothing is queued for Push Gateways). `server_name`: only users of this server
  // are evaluated. Database errors.
  static absl::StatusOr<std::unique_ptr<Notifications>> Open(std::string server_name, Store& store,
                                                             PushRuleStore& rules,
                                                             const Pushers* pushers = nullptr);

  // Evaluates `pdu`, about to be committed in a room whose state before it is `state`, for each
  // joined local member but the sender, and for the target of an invite. Returns who is notified
  // (rules whose actions include "notify"). Database errors from reading push rules.
  absl::StatusOr<std::vector<PendingNotification>> Evaluate(const StateMap& state,
                                                            const boost::json::object& pdu);

  // Adds the rows of `pending` for the event `pdu` committed at stream `position` in `thread`
  // (ThreadOf: "" for the main timeline) to `batch`,
  // the sender's implicit read marker, and one `push_queue` entry per pusher of each notified
  // user (schema.h), so that an event, its counts and its pushes commit together. Writes nothing
  // itself.
  void Put(const std::vector<PendingNotification>& pending, const boost::json::object& pdu,
           std::string_view thread, uint64_t position, database::WriteBatch& batch) const;

  // Tells the queue hook (SetQueuedHook) that `pending`, now committed, queued pushes; does
  // nothing when none of its users has a pusher. Call after the commit, never before.
  void Committed(const std::vector<PendingNotification>& pending) const;
  // Sets the function Committed calls (PushSender::Wake), or clears it with nullptr. It must be
  // cheap and must not call back into Notifications. Thread-safe.
  void SetQueuedHook(std::function<void()> hook);

  // Where `user_id` has read `room_id` (ReadMarks): its unthreaded and threaded m.read and
  // m.read.private receipts (the newer of the two in each partition) and its own newest event
  // in each partition. Database errors.
  absl::StatusOr<ReadMarks> ReadMarksOf(std::string_view user_id, std::string_view room_id) const;

  // Unread counts of `user_id` in `room_id`: the notifications after the read mark of their
  // partition (ReadMarksOf). Costs one row per notification after the unthreaded mark.
  // Database errors.
  absl::StatusOr<RoomUnreadCounts> Counts(std::string_view user_id, std::string_view room_id) const;

  // The Push Gateway's counts.unread for `user_id`: its unread notifications summed over every
  // room (Push Gateway API, "The number of unread messages a user has across all of the rooms
  // they are a member of"). Costs a seek per room with notifications plus a row per unread
  // one. Database errors.
  absl::StatusOr<int64_t> TotalUnread(std::string_view user_id) const;

  // GET /notifications: the user's notifications, newest first, before stream position `from`
  // (nullopt: from the newest), at most `limit`, only highlights when `only_highlight`.
  // Database errors.
  absl::StatusOr<NotificationsPage> List(std::string_view user_id, std::optional<uint64_t> from,
                                         size_t limit, bool only_highlight) const;

 private:
  Notifications(std::string server_name, Store& store, PushRuleStore& rules, const Pushers* pushers)
      : server_name_(std::move(server_name)), store_(store), rules_(rules), pushers_(pushers) {}

  std::string server_name_;
  Store& store_;
  PushRuleStore& rules_;
  const Pushers* pushers_;
  database::Map* queue_ = nullptr;
  mutable std::mutex hook_mu_;
  std::function<void()> queued_hook_;  // guarded by hook_mu_
  database::Map* counts_ = nullptr;
  database::Map* notifications_ = nullptr;
  database::Map* read_ = nullptr;
};

// The thread `pdu` is in (Client-Server API "Threaded read receipts", "Marking notifications
// as read"): the root of its m.thread relation, or of the first m.thread relation found through
// the parents of its other relations, at most kMaxThreadHops relations in all (the spec's
// recommended 3; an edit of a thread reply or a reaction to one is in that thread); "" for the
// main timeline, thread roots and events related to them otherwise included. Reads parents
// from `store`. Database errors.
inline constexpr int kMaxThreadHops = 3;
absl::StatusOr<std::string> ThreadOf(const Store& store, const boost::json::object& pdu);

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_PUSH_NOTIFICATIONS_H_
