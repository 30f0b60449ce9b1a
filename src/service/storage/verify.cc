#include "conclave/service/verify.h"

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_join.h"
#include "conclave/core/str_cat.h"
#include "conclave/database/key.h"
#include "conclave/service/crypto.h"
#include "rooms_internal.h"
#include "stored_json.h"

namespace conclave::service {
namespace {

using boost::json::object;
using rooms_internal::PairKey;
using rooms_internal::StringField;

// stream.cc's key of the last position in the `stream` map.
constexpr std::string_view kStreamPositionKey = "position";
// The map room_admin.cc keeps banned rooms in (created on first use).
constexpr std::string_view kBannedRoomsMap = "banned_rooms";

bool IsCountableMessage(std::string_view type) {
  return type == "m.room.message" || type == "m.room.encrypted";
}

// `raw` as readable text: control bytes and 0x7f as \xNN, everything else as is.
std::string Printable(std::string_view raw) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : raw) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

// A decoded KeyBuilder key: strings, then an optional trailing position.
struct Key {
  std::vector<std::string> parts{};
  uint64_t position = 0;
};

// Decodes `raw` as `strings` strings followed, if `position`, by a U64, and nothing else.
std::optional<Key> DecodeKey(std::string_view raw, size_t strings, bool position) {
  database::KeyReader reader(raw);
  Key key;
  for (size_t i = 0; i < strings; ++i) {
    auto part = reader.ReadString();
    if (!part.ok()) return std::nullopt;
    key.parts.push_back(*std::move(part));
  }
  if (position) {
    auto value = reader.ReadU64();
    if (!value.ok()) return std::nullopt;
    key.position = *value;
  }
  if (!reader.AtEnd()) return std::nullopt;
  return key;
}

std::string KeyText(const Key& key, bool position) {
  std::vector<std::string> parts;
  for (const std::string& part : key.parts) {
    parts.push_back(part.empty() ? std::string("\"\"") : Printable(part));  // empty state_key
  }
  if (position) parts.push_back(core::StrCat(key.position));
  return absl::StrJoin(parts, " | ");
}

// The key for a report: decoded if it has the expected shape, else its raw bytes.
std::string RawKeyText(std::string_view raw, size_t strings, bool position) {
  if (auto key = DecodeKey(raw, strings, position)) return KeyText(*key, position);
  return core::StrCat("(undecodable) ", Printable(raw));
}

uint64_t Fingerprint(std::string_view event_id) { return std::hash<std::string_view>{}(event_id); }

// The membership a stored {membership, pos} record names, and its position.
struct MemberRecord {
  std::string membership;
  uint64_t position = 0;
};

std::optional<MemberRecord> ParseMemberRecord(std::string_view value) {
  auto json = ParseStored(value, "membership");
  if (!json.ok()) return std::nullopt;
  return MemberRecord{std::string(StringField(*json, "membership")), PositionField(*json)};
}

// One run of VerifyDatabase: the snapshot, what the walks remember, and the report. Used once,
// from one thread. A read error stops every later walk and is the result.
class Verifier {
 public:
  Verifier(const Store& store, const VerifyOptions& options)
      : store_(store), db_(*store.db), options_(options), snapshot_(db_.GetSnapshot()) {}

  absl::StatusOr<VerifyReport> Run() {
    CheckStream();
    CheckUsers();
    CheckRooms();
    CheckTimeline();
    CheckEvents();
    CheckUserRooms();
    CheckAliases();
    CheckRoomAliases();
    CheckPublicRooms();
    CheckBannedRooms();
    CheckTxnIds();
    CheckReceipts();
    CheckDevices();
    CheckAccessTokens();
    CheckFilters();
    CheckAccountData();
    CheckPresence();
    if (!error_.ok()) return error_;
    return std::move(report_);
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

  void Problem(std::string_view map, std::string key, std::string text) {
    ++report_.problem_count;
    if (report_.problems.size() < options_.max_problems) {
      report_.problems.push_back({std::string(map), std::move(key), std::move(text)});
    }
  }

  void Count(std::string_view map, uint64_t records) {
    for (auto& [name, count] : report_.records) {
      if (name == map) {
        count += records;
        return;
      }
    }
    report_.records.emplace_back(std::string(map), records);
  }

  void Fail(absl::Status status) {
    if (error_.ok()) error_ = std::move(status);
  }

  // Calls `visit` for each entry of `map` in key order and counts them. Stops at a read error
  // (kept in error_).
  void Walk(const database::Map& map, std::string_view name,
            absl::FunctionRef<void(std::string_view key, std::string_view value)> visit) {
    if (!error_.ok()) return;
    uint64_t records = 0;
    absl::Status read = db_.ForEachWithPrefix(
        map, "",
        [&](std::string_view key, std::string_view value) {
          ++records;
          visit(key, value);
          return error_.ok();
        },
        snapshot_.get());
    if (!read.ok()) Fail(read);
    Count(name, records);
  }

  std::optional<std::string> Find(const database::Map& map, std::string_view key) {
    auto value = db_.Get(map, key, snapshot_.get());
    if (value.ok()) return *std::move(value);
    if (!absl::IsNotFound(value.status())) Fail(value.status());
    return std::nullopt;
  }

  // The event `event_id` read through `events` and `timeline`, with its position; nullopt and
  // `why` if it cannot be.
  std::optional<object> LookupEvent(std::string_view event_id, uint64_t* position,
                                    std::string* why) {
    auto where = Find(*store_.events, event_id);
    if (!where) {
      *why = core::StrCat(event_id, " is not stored (no events entry)");
      return std::nullopt;
    }
    auto json = Find(*store_.timeline, *where);
    if (!json) {
      *why = core::StrCat(event_id, " is indexed but missing from the timeline");
      return std::nullopt;
    }
    auto pdu = ParseStored(*json, "event");
    auto key = DecodeKey(*where, 1, true);
    if (!pdu.ok() || !key || StringField(*pdu, "event_id") != event_id) {
      *why = core::StrCat(event_id, "'s events entry points to a timeline entry that is not it");
      return std::nullopt;
    }
    *position = key->position;
    return *std::move(pdu);
  }

  void CheckPosition(std::string_view map, const std::string& key, uint64_t position) {
    if (position > report_.stream_position) {
      Problem(map, key,
              core::StrCat("position ", position, " is beyond the stream position ",
                           report_.stream_position));
    }
  }

  bool KnownUser(std::string_view map, const std::string& key, const std::string& user_id) {
    if (users_.contains(user_id)) return true;
    Problem(map, key, core::StrCat("belongs to ", user_id, ", who has no users record"));
    return false;
  }

  // --- stream, users, rooms ------------------------------------------------------------------

  void CheckStream() {
    if (auto value = Find(*store_.stream, kStreamPositionKey)) {
      database::KeyReader reader(*value);
      auto position = reader.ReadU64();
      if (position.ok() && reader.AtEnd()) {
        report_.stream_position = *position;
      } else {
        Problem("stream", std::string(kStreamPositionKey), "does not decode as a position");
      }
    }
    Walk(*store_.stream, "stream", [&](std::string_view key, std::string_view) {
      if (key != kStreamPositionKey) Problem("stream", Printable(key), "unknown key");
    });
  }

  void CheckUsers() {
    Walk(*store_.users, "users", [&](std::string_view key, std::string_view value) {
      if (!ParseStored(value, "user").ok()) {
        Problem("users", Printable(key), "record is not a JSON object");
      }
      users_.emplace(key);
    });
  }

  void CheckRooms() {
    Walk(*store_.rooms, "rooms", [&](std::string_view key, std::string_view value) {
      if (!ParseStored(value, "room").ok()) {
        Problem("rooms", Printable(key), "record is not a JSON object");
      }
      rooms_.emplace(key);
    });
  }

  // --- the timeline, with message_index, room_state and room_members beside it ---------------

  void CheckTimeline() {
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
        prev_events.emplace_back(p.is_string() ? std::string(p.get_string()) : "?");
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
      const std::string txn_key = database::KeyBuilder()
                                      .AppendString(sender)
                                      .AppendString(device_id)
                                      .AppendString(txn_id)
                                      .Build();
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

  // --- the other indexes ---------------------------------------------------------------------

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
      auto key = DecodeKey(raw_key, 3, false);
      if (!key) {
        Problem("receipts", RawKeyText(raw_key, 3, false), "key is not (room, type, user)");
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

  void CheckDevices() {
    Walk(*store_.devices, "devices", [&](std::string_view raw_key, std::string_view value) {
      auto key = DecodeKey(raw_key, 2, false);
      if (!key) {
        Problem("devices", RawKeyText(raw_key, 2, false), "key is not (user, device)");
        return;
      }
      const std::string key_text = KeyText(*key, false);
      KnownUser("devices", key_text, key->parts[0]);
      auto json = ParseStored(value, "device");
      if (!json.ok()) {
        Problem("devices", key_text, "record is not a JSON object");
        return;
      }
      std::string_view encoded = StringField(*json, "token_digest");
      if (encoded.empty()) return;  // a device without a session
      auto digest = DecodeUnpaddedBase64(encoded);
      if (!digest.ok()) {
        Problem("devices", key_text, "token_digest is not base64");
        return;
      }
      auto token = Find(*store_.access_tokens, *digest);
      if (!token) {
        Problem("devices", key_text,
                core::StrCat("its access token (digest ", encoded,
                             ") has no access_tokens entry: it cannot authenticate"));
        return;
      }
      auto record = ParseStored(*token, "access token");
      if (record.ok() && (StringField(*record, "user_id") != key->parts[0] ||
                          StringField(*record, "device_id") != key->parts[1])) {
        Problem("devices", key_text,
                core::StrCat("its access token (digest ", encoded, ") belongs to ",
                             StringField(*record, "user_id"), "'s ",
                             StringField(*record, "device_id")));
      }
    });
  }

  void CheckAccessTokens() {
    Walk(*store_.access_tokens, "access_tokens",
         [&](std::string_view digest, std::string_view value) {
           const std::string key_text = UnpaddedBase64(digest);
           auto json = ParseStored(value, "access token");
           if (!json.ok()) {
             Problem("access_tokens", key_text, "record is not a JSON object");
             return;
           }
           std::string user_id(StringField(*json, "user_id"));
           std::string device_id(StringField(*json, "device_id"));
           if (!KnownUser("access_tokens", key_text, user_id)) return;
           auto device = Find(*store_.devices, PairKey(user_id, device_id));
           if (!device) {
             Problem("access_tokens", key_text,
                     core::StrCat("a token of ", user_id, "'s device ", device_id,
                                  ", which does not exist (it outlived its device)"));
             return;
           }
           auto record = ParseStored(*device, "device");
           if (record.ok() && StringField(*record, "token_digest") != key_text) {
             Problem("access_tokens", key_text,
                     core::StrCat("a token of ", user_id, "'s device ", device_id,
                                  ", whose current token is another (it outlived a new login)"));
           }
         });
  }

  void CheckFilters() {
    Walk(*store_.filters, "filters", [&](std::string_view raw_key, std::string_view) {
      auto key = DecodeKey(raw_key, 2, false);
      if (!key) {
        Problem("filters", RawKeyText(raw_key, 2, false), "key is not (user, filter id)");
        return;
      }
      KnownUser("filters", KeyText(*key, false), key->parts[0]);
    });
  }

  void CheckAccountData() {
    Walk(*store_.account_data, "account_data",
         [&](std::string_view raw_key, std::string_view value) {
           auto key = DecodeKey(raw_key, 3, false);
           if (!key) {
             Problem("account_data", RawKeyText(raw_key, 3, false),
                     "key is not (user, room, type)");
             return;
           }
           const std::string key_text = KeyText(*key, false);
           KnownUser("account_data", key_text, key->parts[0]);
           auto json = ParseStored(value, "account data");
           if (!json.ok()) {
             Problem("account_data", key_text, "record is not a JSON object");
             return;
           }
           CheckPosition("account_data", key_text, PositionField(*json));
         });
  }

  void CheckPresence() {
    Walk(*store_.presence, "presence", [&](std::string_view user_id, std::string_view value) {
      const std::string key_text = Printable(user_id);
      KnownUser("presence", key_text, std::string(user_id));
      auto json = ParseStored(value, "presence");
      if (!json.ok()) {
        Problem("presence", key_text, "record is not a JSON object");
        return;
      }
      CheckPosition("presence", key_text, PositionField(*json));
    });
  }

  const Store& store_;
  database::Database& db_;
  const VerifyOptions options_;
  const std::shared_ptr<const database::Snapshot> snapshot_;
  absl::Status error_;
  VerifyReport report_;

  std::set<std::string, std::less<>> users_;
  std::set<std::string, std::less<>> rooms_;
  std::set<std::string, std::less<>> rooms_with_events_;
  // Stream positions of the timeline's events; fingerprints of the events whose events entry
  // points back at them (sorted after the walk).
  std::vector<uint64_t> positions_;
  std::vector<uint64_t> indexed_events_;

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

absl::StatusOr<VerifyReport> VerifyDatabase(const Store& store, const VerifyOptions& options) {
  return Verifier(store, options).Run();
}

}  // namespace conclave::service
