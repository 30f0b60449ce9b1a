// Rooms: typing notifications, receipts and read markers (Client-Server API "Typing
// Notifications", "Receipts", "Fully read markers").
#include <boost/json/serialize.hpp>

#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/database/key.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/push/notifications.h"
#include "conclave/service/rooms/rooms.h"
#include "conclave/service/rooms/typing.h"
#include "conclave/service/storage/stored_json.h"
#include "rooms_internal.h"

namespace conclave::service {

using namespace rooms_internal;  // NOLINT: private helpers of this subsystem

absl::Status Rooms::SetTyping(const Session& session, std::string_view room_id, bool typing,
                              absl::Duration timeout) {
  CONCLAVE_ASSIGN_OR_RETURN(auto room, Load(room_id));
  std::vector<std::string> members;
  {
    std::lock_guard lock(room->mu);
    if (MembershipOf(room->state, session.user_id) != "join") {
      return Forbidden("You are not joined to this room");
    }
  }
  if (deps_.typing.Set(room_id, session.user_id, typing, timeout)) {
    CONCLAVE_ASSIGN_OR_RETURN(members, JoinedUserIds(room_id));
    deps_.notifier.Notify(members);
  }
  return absl::OkStatus();
}

absl::Status Rooms::SetReceipt(const Session& session, std::string_view room_id,
                               std::string_view receipt_type, std::string_view event_id,
                               std::optional<std::string_view> thread_id) {
  if (receipt_type != "m.read" && receipt_type != "m.read.private") {
    return InvalidParam(core::StrCat("Unknown receipt type '", receipt_type, "'"));
  }
  if (thread_id && thread_id->empty()) {
    return InvalidParam("thread_id field must be a non-empty string");
  }
  CONCLAVE_ASSIGN_OR_RETURN(StoredEvent event, Event(session, room_id, event_id));
  Store& store = deps_.store;
  if (thread_id) {
    // Client-Server API "Threaded read receipts": the event must be in the named thread.
    CONCLAVE_ASSIGN_OR_RETURN(std::string thread, ThreadOf(store, event.pdu));
    if (thread.empty()) thread = "main";
    if (thread != *thread_id) {
      return InvalidParam(
          core::StrCat("Event ", event_id, " is not in thread ", *thread_id, " but in ", thread));
    }
  }
  const std::string key =
      thread_id ? schema::ThreadedReceiptKey(room_id, receipt_type, session.user_id, *thread_id)
                : schema::ReceiptKey(room_id, receipt_type, session.user_id);
  database::WriteBatch batch;
  CONCLAVE_RETURN_IF_ERROR(
      deps_.stream
          .Commit(batch,
                  [&](uint64_t pos, database::WriteBatch& b) {
                    boost::json::object record{
                        {"event_id", boost::json::string_view(event_id.data(), event_id.size())},
                        {"ts", NowMs()},
                        {"pos", pos},
                        {"event_pos", event.position}};
                    if (thread_id) {
                      record["thread_id"] =
                          boost::json::string_view(thread_id->data(), thread_id->size());
                    }
                    b.Put(*store.receipts, key, boost::json::serialize(record));
                  })
          .status());
  if (receipt_type == "m.read.private") {
    deps_.notifier.Notify(session.user_id);
  } else {
    CONCLAVE_ASSIGN_OR_RETURN(auto members, JoinedUserIds(room_id));
    deps_.notifier.Notify(members);
  }
  return absl::OkStatus();
}

absl::Status Rooms::SetReadMarkers(const Session& session, std::string_view room_id,
                                   std::optional<std::string> fully_read,
                                   std::optional<std::string> read,
                                   std::optional<std::string> read_private) {
  if (fully_read) {
    CONCLAVE_RETURN_IF_ERROR(Event(session, room_id, *fully_read).status());
    CONCLAVE_RETURN_IF_ERROR(deps_.accounts.SetAccountData(
        session.user_id, room_id, "m.fully_read", boost::json::object{{"event_id", *fully_read}}));
  }
  if (read) CONCLAVE_RETURN_IF_ERROR(SetReceipt(session, room_id, "m.read", *read));
  if (read_private) {
    CONCLAVE_RETURN_IF_ERROR(SetReceipt(session, room_id, "m.read.private", *read_private));
  }
  return absl::OkStatus();
}

absl::StatusOr<boost::json::object> Rooms::ReceiptsSince(std::string_view room_id, uint64_t since,
                                                         std::string_view for_user) {
  Store& store = deps_.store;
  boost::json::object content;
  CONCLAVE_RETURN_IF_ERROR(
      ForEachRecord(*store.db, *store.receipts, RoomPrefix(room_id), 3, "receipt",
                    [&](std::vector<std::string>& key, boost::json::object& record) {
                      const std::string& type = key[1];
                      const std::string& user = key[2];
                      if (PositionField(record) <= since) return true;
                      if (type == "m.read.private" && user != for_user) return true;
                      std::string event_id(StringField(record, "event_id"));
                      auto& by_event = content[event_id];
                      if (!by_event.is_object()) by_event = boost::json::object();
                      auto& by_type = by_event.as_object()[type];
                      if (!by_type.is_object()) by_type = boost::json::object();
                      boost::json::object receipt;
                      if (const auto* ts = record.if_contains("ts")) receipt["ts"] = *ts;
                      if (const auto* thread = record.if_contains("thread_id")) {
                        receipt["thread_id"] = *thread;
                      }
                      by_type.as_object()[user] = std::move(receipt);
                      return true;
                    }));
  return content;
}

}  // namespace conclave::service
