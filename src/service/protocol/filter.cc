#include "conclave/service/protocol/filter.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <utility>

#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/errors.h"

namespace conclave::service {
namespace {

std::string PathOf(std::string_view prefix, std::string_view name) {
  return prefix.empty() ? std::string(name) : core::StrCat(prefix, ".", name);
}

// `required_prefix` is the sigil the spec's pattern demands of each entry ('@' for user IDs,
// '!' for room IDs), or 0 for none.
absl::Status ParseStringList(const boost::json::object& object, std::string_view name,
                             std::string_view prefix, char required_prefix, FilterList* out) {
  const boost::json::value* value = object.if_contains(name);
  if (value == nullptr) return absl::OkStatus();
  const boost::json::array* array = value->if_array();
  if (array == nullptr) {
    return BadJson(core::StrCat(PathOf(prefix, name), " must be an array of strings"));
  }
  std::vector<std::string> list;
  list.reserve(array->size());
  for (const boost::json::value& entry : *array) {
    const boost::json::string* text = entry.if_string();
    if (text == nullptr) {
      return BadJson(core::StrCat(PathOf(prefix, name), " must be an array of strings"));
    }
    std::string_view view = *text;
    if (required_prefix != 0 && (view.empty() || view.front() != required_prefix)) {
      return BadJson(core::StrCat(PathOf(prefix, name), " entry '", view, "' must start with '",
                                  std::string(1, required_prefix), "'"));
    }
    list.emplace_back(view);
  }
  *out = std::move(list);
  return absl::OkStatus();
}

absl::Status ParseBool(const boost::json::object& object, std::string_view name,
                       std::string_view prefix, std::optional<bool>* out) {
  const boost::json::value* value = object.if_contains(name);
  if (value == nullptr) return absl::OkStatus();
  if (!value->is_bool()) return BadJson(core::StrCat(PathOf(prefix, name), " must be a boolean"));
  *out = value->get_bool();
  return absl::OkStatus();
}

// The sub-object `name` of `object`: null when absent, M_BAD_JSON when not an object.
absl::StatusOr<const boost::json::object*> SubObject(const boost::json::object& object,
                                                     std::string_view name,
                                                     std::string_view prefix) {
  const boost::json::value* value = object.if_contains(name);
  if (value == nullptr) return nullptr;
  const boost::json::object* sub = value->if_object();
  if (sub == nullptr) return BadJson(core::StrCat(PathOf(prefix, name), " must be an object"));
  return sub;
}

absl::Status ParseEventFilterFields(const boost::json::object& object, std::string_view prefix,
                                    EventFilter* out) {
  if (const boost::json::value* limit = object.if_contains("limit")) {
    if (!limit->is_int64() || limit->get_int64() <= 0) {
      return BadJson(core::StrCat(PathOf(prefix, "limit"), " must be an integer greater than 0"));
    }
    out->limit = limit->get_int64();
  }
  CONCLAVE_RETURN_IF_ERROR(ParseStringList(object, "types", prefix, 0, &out->types));
  CONCLAVE_RETURN_IF_ERROR(ParseStringList(object, "not_types", prefix, 0, &out->not_types));
  CONCLAVE_RETURN_IF_ERROR(ParseStringList(object, "senders", prefix, '@', &out->senders));
  return ParseStringList(object, "not_senders", prefix, '@', &out->not_senders);
}

absl::Status ParseEventFilter(const boost::json::object& parent, std::string_view name,
                              std::string_view prefix, EventFilter* out) {
  CONCLAVE_ASSIGN_OR_RETURN(const boost::json::object* object, SubObject(parent, name, prefix));
  if (object == nullptr) return absl::OkStatus();
  return ParseEventFilterFields(*object, PathOf(prefix, name), out);
}

absl::Status ParseRoomEventFilter(const boost::json::object& parent, std::string_view name,
                                  std::string_view prefix, RoomEventFilter* out) {
  CONCLAVE_ASSIGN_OR_RETURN(const boost::json::object* object, SubObject(parent, name, prefix));
  if (object == nullptr) return absl::OkStatus();
  std::string path = PathOf(prefix, name);
  CONCLAVE_RETURN_IF_ERROR(ParseEventFilterFields(*object, path, out));
  CONCLAVE_RETURN_IF_ERROR(ParseStringList(*object, "rooms", path, '!', &out->rooms));
  CONCLAVE_RETURN_IF_ERROR(ParseStringList(*object, "not_rooms", path, '!', &out->not_rooms));
  CONCLAVE_RETURN_IF_ERROR(ParseBool(*object, "contains_url", path, &out->contains_url));
  CONCLAVE_RETURN_IF_ERROR(ParseBool(*object, "lazy_load_members", path, &out->lazy_load_members));
  CONCLAVE_RETURN_IF_ERROR(
      ParseBool(*object, "include_redundant_members", path, &out->include_redundant_members));
  CONCLAVE_RETURN_IF_ERROR(
      ParseStringList(*object, "related_by_rel_types", path, 0, &out->related_by_rel_types));
  CONCLAVE_RETURN_IF_ERROR(
      ParseStringList(*object, "related_by_senders", path, '@', &out->related_by_senders));
  return ParseBool(*object, "unread_thread_notifications", path, &out->unread_thread_notifications);
}

absl::Status ParseRoomFilter(const boost::json::object& parent, RoomFilter* out) {
  CONCLAVE_ASSIGN_OR_RETURN(const boost::json::object* object, SubObject(parent, "room", ""));
  if (object == nullptr) return absl::OkStatus();
  CONCLAVE_RETURN_IF_ERROR(ParseStringList(*object, "rooms", "room", '!', &out->rooms));
  CONCLAVE_RETURN_IF_ERROR(ParseStringList(*object, "not_rooms", "room", '!', &out->not_rooms));
  CONCLAVE_RETURN_IF_ERROR(ParseBool(*object, "include_leave", "room", &out->include_leave));
  CONCLAVE_RETURN_IF_ERROR(ParseRoomEventFilter(*object, "timeline", "room", &out->timeline));
  CONCLAVE_RETURN_IF_ERROR(ParseRoomEventFilter(*object, "state", "room", &out->state));
  CONCLAVE_RETURN_IF_ERROR(ParseRoomEventFilter(*object, "ephemeral", "room", &out->ephemeral));
  return ParseRoomEventFilter(*object, "account_data", "room", &out->account_data);
}

void PutList(boost::json::object& out, std::string_view name, const FilterList& list) {
  if (!list.has_value()) return;
  boost::json::array array;
  for (const std::string& entry : *list) array.emplace_back(entry);
  out[name] = std::move(array);
}

void PutBool(boost::json::object& out, std::string_view name, const std::optional<bool>& flag) {
  if (flag.has_value()) out[name] = *flag;
}

void PutEventFilterFields(boost::json::object& out, const EventFilter& filter) {
  if (filter.limit.has_value()) out["limit"] = *filter.limit;
  PutList(out, "types", filter.types);
  PutList(out, "not_types", filter.not_types);
  PutList(out, "senders", filter.senders);
  PutList(out, "not_senders", filter.not_senders);
}

boost::json::object EventFilterJson(const EventFilter& filter) {
  boost::json::object out;
  PutEventFilterFields(out, filter);
  return out;
}

boost::json::object RoomEventFilterJson(const RoomEventFilter& filter) {
  boost::json::object out;
  PutEventFilterFields(out, filter);
  PutList(out, "rooms", filter.rooms);
  PutList(out, "not_rooms", filter.not_rooms);
  PutBool(out, "contains_url", filter.contains_url);
  PutBool(out, "lazy_load_members", filter.lazy_load_members);
  PutBool(out, "include_redundant_members", filter.include_redundant_members);
  PutBool(out, "unread_thread_notifications", filter.unread_thread_notifications);
  PutList(out, "related_by_rel_types", filter.related_by_rel_types);
  PutList(out, "related_by_senders", filter.related_by_senders);
  return out;
}

void PutObject(boost::json::object& out, std::string_view name, boost::json::object object) {
  if (!object.empty()) out[name] = std::move(object);
}

bool Contains(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

bool AnyMatches(const std::vector<std::string>& patterns, std::string_view type) {
  return std::any_of(patterns.begin(), patterns.end(),
                     [type](const std::string& pattern) { return MatchesWildcard(pattern, type); });
}

std::string_view StringOr(const boost::json::object& object, std::string_view key) {
  const boost::json::value* value = object.if_contains(key);
  if (value == nullptr || !value->is_string()) return {};
  return value->get_string();
}

}  // namespace

absl::StatusOr<Filter> ParseFilter(const boost::json::value& value) {
  const boost::json::object* object = value.if_object();
  if (object == nullptr) return BadJson("the filter must be a JSON object");
  Filter filter;
  CONCLAVE_RETURN_IF_ERROR(ParseStringList(*object, "event_fields", "", 0, &filter.event_fields));
  if (const boost::json::value* format = object->if_contains("event_format")) {
    const boost::json::string* text = format->if_string();
    if (text == nullptr || (*text != "client" && *text != "federation")) {
      return BadJson("event_format must be \"client\" or \"federation\"");
    }
    filter.event_format = std::string(std::string_view(*text));
  }
  CONCLAVE_RETURN_IF_ERROR(ParseEventFilter(*object, "presence", "", &filter.presence));
  CONCLAVE_RETURN_IF_ERROR(ParseEventFilter(*object, "account_data", "", &filter.account_data));
  CONCLAVE_RETURN_IF_ERROR(ParseRoomFilter(*object, &filter.room));
  return filter;
}

boost::json::object ToJson(const Filter& filter) {
  boost::json::object out;
  PutList(out, "event_fields", filter.event_fields);
  if (filter.event_format.has_value()) out["event_format"] = *filter.event_format;
  PutObject(out, "presence", EventFilterJson(filter.presence));
  PutObject(out, "account_data", EventFilterJson(filter.account_data));

  boost::json::object room;
  PutList(room, "rooms", filter.room.rooms);
  PutList(room, "not_rooms", filter.room.not_rooms);
  PutBool(room, "include_leave", filter.room.include_leave);
  PutObject(room, "timeline", RoomEventFilterJson(filter.room.timeline));
  PutObject(room, "state", RoomEventFilterJson(filter.room.state));
  PutObject(room, "ephemeral", RoomEventFilterJson(filter.room.ephemeral));
  PutObject(room, "account_data", RoomEventFilterJson(filter.room.account_data));
  PutObject(out, "room", std::move(room));
  return out;
}

bool MatchesWildcard(std::string_view pattern, std::string_view type) {
  // Greedy glob with backtracking to the last '*': linear in practice, no recursion.
  size_t p = 0, t = 0;
  size_t star = std::string_view::npos, resume = 0;
  while (t < type.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && pattern[p] == type[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool Matches(const EventFilter& filter, const boost::json::object& event) {
  std::string_view sender = StringOr(event, "sender");
  if (sender.empty()) {
    if (const boost::json::value* content = event.if_contains("content")) {
      if (const boost::json::object* object = content->if_object()) {
        sender = StringOr(*object, "user_id");
      }
    }
  }
  if (filter.not_senders.has_value() && Contains(*filter.not_senders, sender)) return false;
  if (filter.senders.has_value() && !Contains(*filter.senders, sender)) return false;
  std::string_view type = StringOr(event, "type");
  if (filter.not_types.has_value() && AnyMatches(*filter.not_types, type)) return false;
  if (filter.types.has_value() && !AnyMatches(*filter.types, type)) return false;
  return true;
}

bool Matches(const RoomEventFilter& filter, const boost::json::object& event) {
  if (!Matches(static_cast<const EventFilter&>(filter), event)) return false;
  const boost::json::value* room_id = event.if_contains("room_id");
  if (room_id != nullptr && room_id->is_string() && !MatchesRoom(filter, room_id->get_string())) {
    return false;
  }
  if (filter.contains_url.has_value()) {
    const boost::json::value* content = event.if_contains("content");
    const boost::json::object* object = content == nullptr ? nullptr : content->if_object();
    bool has_url = object != nullptr && object->contains("url");
    if (has_url != *filter.contains_url) return false;
  }
  return true;
}

bool MatchesRoom(const RoomEventFilter& filter, std::string_view room_id) {
  if (filter.not_rooms.has_value() && Contains(*filter.not_rooms, room_id)) return false;
  return !filter.rooms.has_value() || Contains(*filter.rooms, room_id);
}

bool MatchesRoom(const RoomFilter& filter, std::string_view room_id) {
  if (filter.not_rooms.has_value() && Contains(*filter.not_rooms, room_id)) return false;
  return !filter.rooms.has_value() || Contains(*filter.rooms, room_id);
}

int64_t EffectiveLimit(const EventFilter& filter, int64_t default_limit, int64_t max_limit) {
  return std::min(filter.limit.value_or(default_limit), max_limit);
}

}  // namespace conclave::service
