// Notifications: what is read from the push rows — read positions, unread counts, and the
// GET /notifications pages (notifications.h).
#include <boost/json/parse.hpp>
#include <map>

#include "conclave/core/status_macros.h"
#include "conclave/database/key.h"
#include "conclave/service/push/notifications.h"
#include "conclave/service/storage/schema.h"
#include "conclave/service/storage/stored_json.h"

namespace conclave::service {

using boost::json::object;

absl::StatusOr<uint64_t> Notifications::ReadPosition(std::string_view user_id,
                                                     std::string_view room_id) const {
  uint64_t read = 0;
  for (const char* type : {"m.read", "m.read.private"}) {
    CONCLAVE_ASSIGN_OR_RETURN(
        auto receipt, store_.Find(*store_.receipts, schema::ReceiptKey(room_id, type, user_id)));
    if (!receipt) continue;
    CONCLAVE_ASSIGN_OR_RETURN(object record, ParseStored(*receipt, "receipt"));
    read = std::max(read, PositionField(record, "event_pos"));
  }
  CONCLAVE_ASSIGN_OR_RETURN(auto own, store_.Find(*read_, schema::PairKey(user_id, room_id)));
  if (own) {
    CONCLAVE_ASSIGN_OR_RETURN(uint64_t position, schema::DecodePosition(*own));
    read = std::max(read, position);
  }
  return read;
}

absl::StatusOr<RoomUnreadCounts> Notifications::Counts(std::string_view user_id,
                                                       std::string_view room_id) const {
  CONCLAVE_ASSIGN_OR_RETURN(uint64_t read, ReadPosition(user_id, room_id));
  RoomUnreadCounts counts;
  database::IteratorOptions options;
  options.prefix = database::KeyBuilder().AppendString(user_id).AppendString(room_id).Build();
  auto it = store_.db->NewIterator(*counts_, options);
  for (it->Seek(schema::PushCountKey(user_id, room_id, read + 1)); it->Valid(); it->Next()) {
    CONCLAVE_ASSIGN_OR_RETURN(object row, ParseStored(it->value(), "push count"));
    const bool highlight = row.contains("h");
    const std::string_view thread = StringField(row, "t");
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
  // Room by room: the first row seen names the room, then a seek skips what its user has read.
  while (it->Valid()) {
    database::KeyReader key(it->key());
    CONCLAVE_RETURN_IF_ERROR(key.ReadString().status());
    CONCLAVE_ASSIGN_OR_RETURN(std::string room_id, key.ReadString());
    CONCLAVE_ASSIGN_OR_RETURN(uint64_t read, ReadPosition(user_id, room_id));
    const std::string room_prefix =
        database::KeyBuilder().AppendString(user_id).AppendString(room_id).Build();
    for (it->Seek(schema::PushCountKey(user_id, room_id, read + 1));
         it->Valid() && it->key().substr(0, room_prefix.size()) == room_prefix; it->Next()) {
      ++total;
    }
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
  std::map<std::string, uint64_t, std::less<>> read_by_room;
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
      CONCLAVE_ASSIGN_OR_RETURN(uint64_t position_read, ReadPosition(user_id, room_id));
      read = read_by_room.emplace(room_id, position_read).first;
    }
    CONCLAVE_ASSIGN_OR_RETURN(
        auto stored, store_.Find(*store_.timeline, schema::TimelineKey(room_id, position)));
    if (!stored) continue;  // not expected: the event and its row were written together
    CONCLAVE_ASSIGN_OR_RETURN(object event, ParseObject(*stored));
    NotificationEntry entry{.room_id = std::move(room_id),
                            .position = position,
                            .event = std::move(event),
                            .actions = {},
                            .ts = IntField(row, "ts").value_or(0),
                            .read = position <= read->second};
    if (const auto* actions = row.if_contains("actions"); actions && actions->is_array()) {
      entry.actions = actions->get_array();
    }
    page.notifications.push_back(std::move(entry));
  }
  CONCLAVE_RETURN_IF_ERROR(it->status());
  return page;
}

}  // namespace conclave::service
