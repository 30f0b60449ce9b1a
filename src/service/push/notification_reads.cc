// Notifications: what is read from the push rows — read positions, unread counts, and the
// GET /notifications pages (notifications.h).
#include <algorithm>
#include <boost/json/parse.hpp>
#include <limits>
#include <map>
#include <utility>

#include "conclave/core/status_macros.h"
#include "conclave/database/key.h"
#include "conclave/service/push/notifications.h"
#include "conclave/service/storage/schema.h"
#include "conclave/service/storage/stored_json.h"

namespace conclave::service {

using boost::json::object;

namespace {

constexpr std::string_view kMainThread = "main";

// Raises `mark` to `position`.
void Raise(uint64_t& mark, uint64_t position) { mark = std::max(mark, position); }

}  // namespace

uint64_t ReadMarks::Of(std::string_view thread) const {
  auto it = threads.find(thread.empty() ? kMainThread : thread);
  return it == threads.end() ? unthreaded : std::max(unthreaded, it->second);
}

absl::StatusOr<ReadMarks> Notifications::ReadMarksOf(std::string_view user_id,
                                                     std::string_view room_id) const {
  ReadMarks marks;
  // Receipts: ReceiptKey(room, type, user) unthreaded, ThreadedReceiptKey(…, thread) below it.
  for (std::string_view type : {"m.read", "m.read.private"}) {
    const std::string prefix = schema::ReceiptKey(room_id, type, user_id);
    absl::Status bad;
    CONCLAVE_RETURN_IF_ERROR(store_.db->ForEachWithPrefix(
        *store_.receipts, prefix, [&](std::string_view key, std::string_view text) {
          absl::StatusOr<object> record = ParseStored(text, "receipt");
          if (!record.ok()) {
            bad = record.status();
            return false;
          }
          const uint64_t position = PositionField(*record, "event_pos");
          if (key.size() == prefix.size()) {
            Raise(marks.unthreaded, position);
            return true;
          }
          database::KeyReader rest(key.substr(prefix.size()));
          absl::StatusOr<std::string> thread = rest.ReadString();
          if (!thread.ok() || !rest.AtEnd()) {
            bad = absl::DataLossError("receipts key is not (room, type, user[, thread])");
            return false;
          }
          Raise(marks.threads[*thread], position);
          return true;
        }));
    CONCLAVE_RETURN_IF_ERROR(bad);
  }
  // The user's own events: PushReadKey(user, room, thread); PairKey(user, room) from before
  // threads were told apart marks every partition.
  const std::string prefix = schema::PairKey(user_id, room_id);
  absl::Status bad;
  CONCLAVE_RETURN_IF_ERROR(store_.db->ForEachWithPrefix(
      *read_, prefix, [&](std::string_view key, std::string_view text) {
        absl::StatusOr<uint64_t> position = schema::DecodePosition(text);
        database::KeyReader rest(key.substr(prefix.size()));
        absl::StatusOr<std::string> thread =
            key.size() == prefix.size() ? std::string() : rest.ReadString();
        if (!position.ok() || !thread.ok() || !rest.AtEnd()) {
          bad = absl::DataLossError("corrupt push_read row");
          return false;
        }
        Raise(thread->empty() ? marks.unthreaded : marks.threads[*thread], *position);
        return true;
      }));
  CONCLAVE_RETURN_IF_ERROR(bad);
  return marks;
}

absl::StatusOr<RoomUnreadCounts> Notifications::Counts(std::string_view user_id,
                                                       std::string_view room_id) const {
  CONCLAVE_ASSIGN_OR_RETURN(ReadMarks marks, ReadMarksOf(user_id, room_id));
  RoomUnreadCounts counts;
  database::IteratorOptions options;
  options.prefix = database::KeyBuilder().AppendString(user_id).AppendString(room_id).Build();
  auto it = store_.db->NewIterator(*counts_, options);
  for (it->Seek(schema::PushCountKey(user_id, room_id, marks.Lowest() + 1)); it->Valid();
       it->Next()) {
    database::KeyReader key(it->key().substr(options.prefix.size()));
    CONCLAVE_ASSIGN_OR_RETURN(uint64_t position, key.ReadU64());
    CONCLAVE_ASSIGN_OR_RETURN(object row, ParseStored(it->value(), "push count"));
    const std::string_view thread = StringField(row, "t");
    if (position <= marks.Of(thread)) continue;  // read by a threaded receipt
    const bool highlight = row.contains("h");
    UnreadCount& part = thread.empty() ? counts.main : counts.threads[std::string(thread)];
    for (UnreadCount* c : {&counts.total, &part}) {
      ++c->notification_count;
      if (highlight) ++c->highlight_count;
    }
  }
  CONCLAVE_RETURN_IF_ERROR(it->status());
  return counts;
}

absl::StatusOr<int64_t> Notifications::TotalUnread(std::string_view user_id) const {
  int64_t total = 0;
  database::IteratorOptions options;
  options.prefix = schema::UserPrefix(user_id);
  auto it = store_.db->NewIterator(*counts_, options);
  it->Seek(options.prefix);
  // Room by room: the first row seen names the room, Counts reads it, a seek skips past it.
  while (it->Valid()) {
    database::KeyReader key(it->key());
    CONCLAVE_RETURN_IF_ERROR(key.ReadString().status());
    CONCLAVE_ASSIGN_OR_RETURN(std::string room_id, key.ReadString());
    CONCLAVE_ASSIGN_OR_RETURN(RoomUnreadCounts counts, Counts(user_id, room_id));
    total += counts.total.notification_count;
    const std::string last =
        schema::PushCountKey(user_id, room_id, std::numeric_limits<uint64_t>::max());
    it->Seek(last);
    if (it->Valid() && it->key() == last) it->Next();
  }
  CONCLAVE_RETURN_IF_ERROR(it->status());
  return total;
}

absl::StatusOr<NotificationsPage> Notifications::List(std::string_view user_id,
                                                      std::optional<uint64_t> from, size_t limit,
                                                      bool only_highlight) const {
  NotificationsPage page;
  if (from && *from == 0) return page;
  database::IteratorOptions options;
  options.prefix = schema::UserPrefix(user_id);
  auto it = store_.db->NewIterator(*notifications_, options);
  if (from) {
    it->SeekForPrev(schema::NotificationKey(user_id, *from - 1));
  } else {
    it->SeekToLast();
  }
  std::map<std::string, ReadMarks, std::less<>> read_by_room;
  for (; it->Valid(); it->Prev()) {
    if (page.notifications.size() == limit) {
      // One more exists: the next page starts at the last one returned.
      page.next_from = page.notifications.back().position;
      break;
    }
    database::KeyReader key(it->key());
    CONCLAVE_RETURN_IF_ERROR(key.ReadString().status());
    CONCLAVE_ASSIGN_OR_RETURN(uint64_t position, key.ReadU64());
    CONCLAVE_ASSIGN_OR_RETURN(object row, ParseStored(it->value(), "notification"));
    if (only_highlight && !(row.contains("highlight") && row.at("highlight") == true)) continue;
    std::string room_id(StringField(row, "room_id"));
    auto read = read_by_room.find(room_id);
    if (read == read_by_room.end()) {
      CONCLAVE_ASSIGN_OR_RETURN(ReadMarks marks, ReadMarksOf(user_id, room_id));
      read = read_by_room.emplace(room_id, std::move(marks)).first;
    }
    CONCLAVE_ASSIGN_OR_RETURN(
        auto stored, store_.Find(*store_.timeline, schema::TimelineKey(room_id, position)));
    if (!stored) continue;  // not expected: the event and its row were written together
    CONCLAVE_ASSIGN_OR_RETURN(object event, ParseObject(*stored));
    CONCLAVE_ASSIGN_OR_RETURN(std::string thread, ThreadOf(store_, event));
    const bool is_read = position <= read->second.Of(thread);
    NotificationEntry entry{.room_id = std::move(room_id),
                            .position = position,
                            .event = std::move(event),
                            .actions = {},
                            .ts = IntField(row, "ts").value_or(0),
                            .read = is_read};
    if (const auto* actions = row.if_contains("actions"); actions && actions->is_array()) {
      entry.actions = actions->get_array();
    }
    page.notifications.push_back(std::move(entry));
  }
  CONCLAVE_RETURN_IF_ERROR(it->status());
  return page;
}

}  // namespace conclave::service
