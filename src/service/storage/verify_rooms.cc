// `database verify`: rooms and the indexes that point at them or at their events (events,
// user_rooms, aliases, room_aliases, public_rooms, banned_rooms, txn_ids, receipts).
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/strings/str_join.h"
#include "conclave/core/str_cat.h"
#include "conclave/database/key.h"
#include "conclave/service/protocol/crypto.h"
#include "conclave/service/storage/schema.h"
#include "conclave/service/storage/stored_json.h"
#include "verify_checker.h"

namespace conclave::service::verify_internal {
namespace {

using schema::kBannedRoomsMap;
using schema::PairKey;

class RoomsChecker : public Checker {
 public:
  explicit RoomsChecker(VerifyRun& run) : Checker(run) {}

  void CheckRooms() {
    Walk(*store_.rooms, "rooms", [&](std::string_view key, std::string_view value) {
      if (!ParseStored(value, "room").ok()) {
        Problem("rooms", Printable(key), "record is not a JSON object");
      }
      rooms_.emplace(key);
    });
  }

  void CheckEvents() {
    Walk(*store_.events, "events", [&](std::string_view event_id, std::string_view where) {
      // The timeline walk confirmed these (their timeline entry points back here).
      if (std::binary_search(indexed_events_.begin(), indexed_events_.end(),
                             Fingerprint(event_id))) {
        return;
      }
      auto json = Find(*store_.timeline, where);
      if (!json) {
        Problem("events", Printable(event_id),
                core::StrCat("points to timeline entry ", RawKeyText(where, 1, true),
                             ", which does not exist"));
        return;
      }
      auto pdu = ParseStored(*json, "event");
      std::string_view held = pdu.ok() ? StringField(*pdu, "event_id") : std::string_view();
      if (held != event_id) {
        Problem("events", Printable(event_id),
                core::StrCat("points to timeline entry ", RawKeyText(where, 1, true),
                             ", which holds ", held.empty() ? "another event" : held));
      }
    });
    indexed_events_ = {};
  }

  void CheckUserRooms() {
    Walk(*store_.user_rooms, "user_rooms", [&](std::string_view raw_key, std::string_view value) {
      auto key = DecodeKey(raw_key, 2, false);
      if (!key) {
        Problem("user_rooms", RawKeyText(raw_key, 2, false), "key is not (user, room)");
        return;
      }
      const std::string key_text = KeyText(*key, false);
      auto record = ParseMemberRecord(value);
      if (!record) {
        Problem("user_rooms", key_text, "record is not {membership, pos}");
        return;
      }
      CheckPosition("user_rooms", key_text, record->position);
      auto member = Find(*store_.room_members, PairKey(key->parts[1], key->parts[0]));
      if (!member) {
        Problem("user_rooms", key_text,
                core::StrCat(record->membership,
                             ", but room_members has no entry (the room's member list misses "
                             "the user)"));
        return;
      }
      auto other = ParseMemberRecord(*member);
      if (other &&
          (other->membership != record->membership || other->position != record->position)) {
        Problem("user_rooms", key_text,
                core::StrCat(record->membership, " at position ", record->position,
                             ", but room_members says ", other->membership, " at position ",
                             other->position));
      }
    });
  }

  void CheckAliases() {
    Walk(*store_.aliases, "aliases", [&](std::string_view alias, std::string_view value) {
      auto json = ParseStored(value, "alias");
      if (!json.ok()) {
        Problem("aliases", Printable(alias), "record is not a JSON object");
        return;
      }
      std::string room_id(StringField(*json, "room_id"));
      if (!rooms_.contains(room_id)) {
        Problem("aliases", Printable(alias), core::StrCat("points to unknown room ", room_id));
      }
      if (!Find(*store_.room_aliases, PairKey(room_id, alias))) {
        Problem("aliases", Printable(alias),
                core::StrCat("points to ", room_id, ", which has no room_aliases entry for it"));
      }
    });
  }

  void CheckRoomAliases() {
    Walk(*store_.room_aliases, "room_aliases", [&](std::string_view raw_key, std::string_view) {
      auto key = DecodeKey(raw_key, 2, false);
      if (!key) {
        Problem("room_aliases", RawKeyText(raw_key, 2, false), "key is not (room, alias)");
        return;
      }
      auto alias = Find(*store_.aliases, key->parts[1]);
      auto json = alias ? ParseStored(*alias, "alias") : absl::StatusOr<object>(object());
      if (!alias || !json.ok() || StringField(*json, "room_id") != key->parts[0]) {
        Problem("room_aliases", KeyText(*key, false),
                alias ? "the alias points to another room" : "the alias does not exist");
      }
    });
  }

  void CheckPublicRooms() {
    Walk(*store_.public_rooms, "public_rooms", [&](std::string_view room_id, std::string_view) {
      if (!rooms_.contains(std::string(room_id))) {
        Problem("public_rooms", Printable(room_id), "publishes an unknown room");
      }
    });
  }

  void CheckBannedRooms() {
    if (!error_.ok()) return;
    std::vector<std::string> names = db_.MapNames();
    if (std::find(names.begin(), names.end(), kBannedRoomsMap) == names.end()) return;
    auto map = db_.OpenMap(kBannedRoomsMap);  // exists: opens, never creates
    if (!map.ok()) return Fail(map.status());
    Walk(**map, kBannedRoomsMap, [&](std::string_view room_id, std::string_view value) {
      if (!ParseStored(value, "room ban").ok()) {
        Problem(kBannedRoomsMap, Printable(room_id), "record is not a JSON object");
      }
      if (!rooms_.contains(std::string(room_id))) {
        Problem(kBannedRoomsMap, Printable(room_id), "bans an unknown room");
      }
    });
  }

  void CheckTxnIds() {
    Walk(*store_.txn_ids, "txn_ids", [&](std::string_view raw_key, std::string_view event_id) {
      auto key = DecodeKey(raw_key, 3, false);
      if (!key) {
        Problem("txn_ids", RawKeyText(raw_key, 3, false), "key is not (user, device, txn_id)");
        return;
      }
      const std::string key_text = KeyText(*key, false);
      uint64_t position = 0;
      std::string why;
      auto pdu = LookupEvent(event_id, &position, &why);
      if (!pdu) {
        Problem("txn_ids", key_text,
                core::StrCat(why, " (a retry would answer an event that does not exist)"));
        return;
      }
      if (StringField(*pdu, "sender") != key->parts[0]) {
        Problem("txn_ids", key_text,
                core::StrCat("names ", event_id, ", sent by ", StringField(*pdu, "sender")));
        return;
      }
      // A redaction replaced the event's `unsigned` (the marker with it).
      const auto* unsigned_data = pdu->if_contains("unsigned");
      if (unsigned_data == nullptr || !unsigned_data->is_object() ||
          unsigned_data->get_object().contains("redacted_because")) {
        return;
      }
      const auto* txn = unsigned_data->get_object().if_contains("io.conclave.txn");
      if (txn == nullptr || !txn->is_object() ||
          StringField(txn->get_object(), "device_id") != key->parts[1] ||
          StringField(txn->get_object(), "txn_id") != key->parts[2]) {
        Problem("txn_ids", key_text,
                core::StrCat("names ", event_id, ", which was not sent with this transaction"));
      }
    });
  }

  void CheckReceipts() {
    Walk(*store_.receipts, "receipts", [&](std::string_view raw_key, std::string_view value) {
      // A threaded receipt's key has the thread id last (schema::ThreadedReceiptKey).
      auto key = DecodeKey(raw_key, 3, false);
      if (!key) key = DecodeKey(raw_key, 4, false);
      if (!key) {
        Problem("receipts", RawKeyText(raw_key, 3, false),
                "key is not (room, type, user[, thread])");
        return;
      }
      const std::string key_text = KeyText(*key, false);
      auto json = ParseStored(value, "receipt");
      if (!json.ok()) {
        Problem("receipts", key_text, "record is not a JSON object");
        return;
      }
      CheckPosition("receipts", key_text, PositionField(*json));
      std::string event_id(StringField(*json, "event_id"));
      uint64_t position = 0;
      std::string why;
      auto pdu = LookupEvent(event_id, &position, &why);
      if (!pdu) {
        Problem("receipts", key_text, why);
        return;
      }
      if (StringField(*pdu, "room_id") != key->parts[0]) {
        Problem("receipts", key_text,
                core::StrCat(event_id, " is in room ", StringField(*pdu, "room_id")));
      }
      if (json->contains("event_pos") && PositionField(*json, "event_pos") != position) {
        Problem("receipts", key_text,
                core::StrCat("records ", event_id, " at position ",
                             PositionField(*json, "event_pos"), ", but it is at ", position));
      }
    });
  }
};

}  // namespace

void CollectRooms(VerifyRun& run) { RoomsChecker(run).CheckRooms(); }

void CheckRoomIndexes(VerifyRun& run) {
  RoomsChecker checker(run);
  checker.CheckEvents();
  checker.CheckUserRooms();
  checker.CheckAliases();
  checker.CheckRoomAliases();
  checker.CheckPublicRooms();
  checker.CheckBannedRooms();
  checker.CheckTxnIds();
  checker.CheckReceipts();
}

}  // namespace conclave::service::verify_internal
