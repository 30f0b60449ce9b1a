// `database verify`: the timeline walk, room by room, with message_index, room_state and
// room_members merged beside it (one pass over each map).
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

class TimelineChecker : public Checker {
 public:
  explicit TimelineChecker(VerifyRun& run) : Checker(run) {}

  // --- the timeline, with message_index, room_state and room_members beside it ---------------

  void Run() {
    if (!error_.ok()) return;
    database::IteratorOptions options;
    options.snapshot = snapshot_;
    message_index_ = db_.NewIterator(*store_.message_index, options);
    room_state_ = db_.NewIterator(*store_.room_state, options);
    room_members_ = db_.NewIterator(*store_.room_members, options);
    message_index_->SeekToFirst();
    room_state_->SeekToFirst();
    room_members_->SeekToFirst();

    Walk(*store_.timeline, "timeline",
         [&](std::string_view key, std::string_view value) { TimelineEntry(key, value); });
    if (!error_.ok()) return;
    if (walking_) FinishRoom();
    // What is left of the indexes belongs to no room with events.
    MergeMessageIndex(std::nullopt, nullptr, "");
    MergeRoomState(nullptr);
    MergeRoomMembers(nullptr);
    for (auto* it : {message_index_.get(), room_state_.get(), room_members_.get()}) {
      if (!it->status().ok()) Fail(it->status());
    }
    Count("message_index", message_index_records_);
    Count("room_state", room_state_records_);
    Count("room_members", room_members_records_);

    std::sort(positions_.begin(), positions_.end());
    for (size_t i = 1; i < positions_.size(); ++i) {
      if (positions_[i] == positions_[i - 1] && (i == 1 || positions_[i - 2] != positions_[i])) {
        Problem("timeline", core::StrCat("position ", positions_[i]),
                "several events share this stream position");
      }
    }
    positions_ = {};
    std::sort(indexed_events_.begin(), indexed_events_.end());
    for (const std::string& room_id : rooms_) {
      if (!rooms_with_events_.contains(room_id)) {
        Problem("rooms", Printable(room_id), "has no events in the timeline");
      }
    }
  }

  void TimelineEntry(std::string_view raw_key, std::string_view value) {
    auto key = DecodeKey(raw_key, 1, true);
    if (!key) {
      Problem("timeline", RawKeyText(raw_key, 1, true), "key is not (room id, position)");
      return;
    }
    const std::string& room_id = key->parts[0];
    if (!walking_ || room_id != walk_.room_id) {
      if (walking_) FinishRoom();
      StartRoom(room_id);
    }
    const std::string key_text = KeyText(*key, true);
    auto pdu = ParseStored(value, "event");
    if (!pdu.ok()) {
      Problem("timeline", key_text, "event is not a JSON object");
      MergeMessageIndex(raw_key, nullptr, key_text, /*unknown=*/true);
      return;
    }
    const uint64_t position = key->position;
    positions_.push_back(position);
    relation_rows_.Add(room_id, position, *pdu);
    CheckPosition("timeline", key_text, position);
    const std::string event_id(StringField(*pdu, "event_id"));
    const std::string type(StringField(*pdu, "type"));
    const std::string sender(StringField(*pdu, "sender"));
    if (event_id.empty()) Problem("timeline", key_text, "event has no event_id");
    if (StringField(*pdu, "room_id") != room_id) {
      Problem("timeline", key_text,
              core::StrCat("event ", event_id, " names room ", StringField(*pdu, "room_id")));
    }

    if (!event_id.empty()) {
      auto where = Find(*store_.events, event_id);
      if (!where) {
        Problem("timeline", key_text,
                core::StrCat("event ", event_id, " has no events entry (it cannot be fetched)"));
      } else if (*where != raw_key) {
        Problem("timeline", key_text,
                core::StrCat("the events entry of ", event_id, " points to ",
                             RawKeyText(*where, 1, true)));
      } else {
        indexed_events_.push_back(Fingerprint(event_id));
      }
    }

    // The room's events form one chain: each names the one before it (Rooms::Commit), so a
    // lost event in the middle of a room shows here.
    std::vector<std::string> prev_events;
    if (const auto* prev = pdu->if_contains("prev_events"); prev && prev->is_array()) {
      for (const auto& p : prev->get_array()) {
        // v3+ an event id; v1-v2 an [event id, {hashes}] pair.
        const boost::json::value* id = &p;
        if (p.is_array() && !p.get_array().empty()) id = &p.get_array()[0];
        prev_events.emplace_back(id->is_string() ? std::string(id->get_string()) : "?");
      }
    }
    const int64_t depth = IntField(*pdu, "depth").value_or(-1);
    if (walk_.events == 0) {
      if (type != "m.room.create") {
        Problem("timeline", key_text,
                core::StrCat("the room's first event is ", type, ", not m.room.create"));
      }
      if (!prev_events.empty()) {
        Problem("timeline", key_text, "the room's first event has prev_events");
      }
    } else {
      if (prev_events != std::vector<std::string>{walk_.last_event_id}) {
        Problem("timeline", key_text,
                core::StrCat("prev_events of ", event_id, " is [", absl::StrJoin(prev_events, ", "),
                             "], but the room's previous event is ", walk_.last_event_id));
      }
      if (depth != walk_.last_depth + 1) {
        Problem("timeline", key_text,
                core::StrCat("depth ", depth, " follows depth ", walk_.last_depth));
      }
    }
    ++walk_.events;
    walk_.last_event_id = event_id;
    walk_.last_depth = depth;

    if (const auto* state_key = pdu->if_contains("state_key");
        state_key && state_key->is_string()) {
      StateEntry entry{position, event_id, ""};
      if (type == "m.room.member") {
        if (const auto* content = pdu->if_contains("content"); content && content->is_object()) {
          entry.membership = StringField(content->get_object(), "membership");
        }
      }
      walk_.state[{type, std::string(state_key->get_string())}] = std::move(entry);
    }

    MergeMessageIndex(raw_key, IsCountableMessage(type) ? &sender : nullptr, key_text);

    // A send with a transaction id records it in the same batch (Rooms::Send): without the
    // entry a retried request would store the event a second time.
    const auto* unsigned_data = pdu->if_contains("unsigned");
    const auto* txn = unsigned_data && unsigned_data->is_object()
                          ? unsigned_data->get_object().if_contains("io.conclave.txn")
                          : nullptr;
    if (txn && txn->is_object()) {
      std::string_view device_id = StringField(txn->get_object(), "device_id");
      std::string_view txn_id = StringField(txn->get_object(), "txn_id");
      const std::string txn_key = schema::TxnKey(sender, device_id, txn_id);
      auto recorded = Find(*store_.txn_ids, txn_key);
      if (!recorded) {
        Problem("timeline", key_text,
                core::StrCat(event_id, " was sent with transaction ", txn_id, " of ", sender, "'s ",
                             device_id, ", which has no txn_ids entry (a retry stores it again)"));
      } else if (*recorded != event_id) {
        Problem("timeline", key_text,
                core::StrCat(event_id, " was sent with transaction ", txn_id, " of ", sender, "'s ",
                             device_id, ", whose txn_ids entry names ", *recorded));
      }
    }
  }

  void StartRoom(const std::string& room_id) {
    walk_ = RoomWalk{};
    walk_.room_id = room_id;
    walking_ = true;
    rooms_with_events_.insert(room_id);
    if (!rooms_.contains(room_id)) {
      Problem("timeline", Printable(room_id), "a room with events but no rooms record");
    }
  }

  void FinishRoom() {
    MergeRoomState(&walk_.room_id);
    MergeRoomMembers(&walk_.room_id);
  }

  // Advances the message_index iterator to timeline key `raw_key` (nullopt: to the end), and
  // checks the entry there: present exactly when `sender` is set (the event is a countable
  // message), and naming that sender. `unknown`: the event does not decode (no verdict).
  void MergeMessageIndex(std::optional<std::string_view> raw_key, const std::string* sender,
                         const std::string& key_text, bool unknown = false) {
    auto& it = *message_index_;
    while (it.Valid() && (!raw_key || it.key() < *raw_key)) {
      ++message_index_records_;
      Problem("message_index", RawKeyText(it.key(), 1, true), "indexes no timeline event");
      it.Next();
    }
    if (!raw_key) return;
    if (it.Valid() && it.key() == *raw_key) {
      ++message_index_records_;
      if (unknown) {
        // Reported as a timeline problem already.
      } else if (sender == nullptr) {
        Problem("message_index", key_text, "indexes an event that is not a countable message");
      } else if (it.value() != *sender) {
        Problem(
            "message_index", key_text,
            core::StrCat("names sender ", Printable(it.value()), ", but the event's is ", *sender));
      }
      it.Next();
    } else if (sender != nullptr && !unknown) {
      Problem("timeline", key_text, "a message without its message_index entry");
    }
  }

  // Checks the room_state entries of `room_id` (null: every entry left) against the walked
  // room's latest state events; entries of rooms before it have no events.
  void MergeRoomState(const std::string* room_id) {
    auto& it = *room_state_;
    std::set<std::pair<std::string, std::string>> seen;
    for (; it.Valid(); it.Next()) {
      auto key = DecodeKey(it.key(), 3, false);
      if (!key) {
        ++room_state_records_;
        Problem("room_state", RawKeyText(it.key(), 3, false), "key is not (room, type, state_key)");
        continue;
      }
      if (room_id != nullptr && key->parts[0] > *room_id) break;
      ++room_state_records_;
      const std::string key_text = KeyText(*key, false);
      const std::string value(it.value());
      if (room_id == nullptr || key->parts[0] < *room_id) {
        Problem("room_state", key_text,
                core::StrCat("state of a room without events (points to ", Printable(value), ")"));
        continue;
      }
      auto entry = walk_.state.find({key->parts[1], key->parts[2]});
      if (entry == walk_.state.end()) {
        Problem("room_state", key_text,
                core::StrCat("points to ", Printable(value),
                             ", but the room's timeline has no state event of this type and key"));
        continue;
      }
      seen.insert(entry->first);
      if (entry->second.event_id != value) {
        Problem("room_state", key_text,
                core::StrCat("points to ", Printable(value),
                             ", but the latest state event of this type and key is ",
                             entry->second.event_id, " at position ", entry->second.position));
      }
    }
    if (room_id == nullptr) return;
    for (const auto& [state_key, entry] : walk_.state) {
      if (seen.contains(state_key)) continue;
      Problem("room_state", KeyText(Key{{*room_id, state_key.first, state_key.second}, 0}, false),
              core::StrCat("missing: the latest state event of this type and key is ",
                           entry.event_id, " at position ", entry.position));
    }
  }

  // The same for room_members, against the walked room's m.room.member state; also that a
  // member without a user_rooms entry has forgotten a room they left.
  void MergeRoomMembers(const std::string* room_id) {
    auto& it = *room_members_;
    std::set<std::string> seen;
    for (; it.Valid(); it.Next()) {
      auto key = DecodeKey(it.key(), 2, false);
      if (!key) {
        ++room_members_records_;
        Problem("room_members", RawKeyText(it.key(), 2, false), "key is not (room, user)");
        continue;
      }
      if (room_id != nullptr && key->parts[0] > *room_id) break;
      ++room_members_records_;
      const std::string key_text = KeyText(*key, false);
      const std::string& user_id = key->parts[1];
      auto record = ParseMemberRecord(it.value());
      if (!record) {
        Problem("room_members", key_text, "record is not {membership, pos}");
        continue;
      }
      if (room_id == nullptr || key->parts[0] < *room_id) {
        Problem("room_members", key_text, "membership in a room without events");
        continue;
      }
      CheckPosition("room_members", key_text, record->position);
      auto entry = walk_.state.find({"m.room.member", user_id});
      if (entry == walk_.state.end()) {
        Problem("room_members", key_text,
                core::StrCat(record->membership,
                             ", but the room has no m.room.member state for this user"));
      } else {
        seen.insert(user_id);
        if (entry->second.membership != record->membership ||
            entry->second.position != record->position) {
          Problem(
              "room_members", key_text,
              core::StrCat(record->membership, " at position ", record->position,
                           ", but the current m.room.member event ", entry->second.event_id, " is ",
                           entry->second.membership, " at position ", entry->second.position));
        }
      }
      // Rooms::Forget removes user_rooms only after a leave or ban; user_rooms entries that
      // exist are compared in CheckUserRooms.
      if (!Find(*store_.user_rooms, PairKey(user_id, *room_id)) && record->membership != "leave" &&
          record->membership != "ban") {
        Problem("room_members", key_text,
                core::StrCat(record->membership,
                             ", but user_rooms has no entry for it (the user's /sync misses the "
                             "room)"));
      }
    }
    if (room_id == nullptr) return;
    for (auto entry = walk_.state.lower_bound({"m.room.member", ""});
         entry != walk_.state.end() && entry->first.first == "m.room.member"; ++entry) {
      if (seen.contains(entry->first.second)) continue;
      Problem("room_members", KeyText(Key{{*room_id, entry->first.second}, 0}, false),
              core::StrCat("missing: the current m.room.member event ", entry->second.event_id,
                           " is ", entry->second.membership));
    }
  }

 private:
  // The latest state event of one (type, state_key) in the room being walked.
  struct StateEntry {
    uint64_t position = 0;
    std::string event_id;
    std::string membership;  // m.room.member only
  };
  // What the timeline walk remembers of the room it is in.
  struct RoomWalk {
    std::string room_id;
    uint64_t events = 0;
    std::string last_event_id;
    int64_t last_depth = 0;
    std::map<std::pair<std::string, std::string>, StateEntry> state;
  };

  bool walking_ = false;
  RoomWalk walk_;
  std::unique_ptr<database::Iterator> message_index_;
  std::unique_ptr<database::Iterator> room_state_;
  std::unique_ptr<database::Iterator> room_members_;
  uint64_t message_index_records_ = 0;
  uint64_t room_state_records_ = 0;
  uint64_t room_members_records_ = 0;
};

}  // namespace

void CheckTimeline(VerifyRun& run) { TimelineChecker(run).Run(); }

}  // namespace conclave::service::verify_internal
