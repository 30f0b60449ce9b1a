// Matrix filters: what a client uploads with POST /user/{userId}/filter (or passes inline to
// /sync and /messages), parsed and matched against events.
//
// Client-Server API, "Filtering": filter.yaml and definitions/event_filter.yaml,
// room_event_filter.yaml, sync_filter.yaml. Stateless functions; the structs are value types
// (thread-compatible).
//
// Every list is optional: absent means "no restriction", present-but-empty restricts to nothing
// (`types: []` matches no event). `not_*` lists win over their positive lists.
#ifndef CONCLAVE_SERVICE_PROTOCOL_FILTER_H_
#define CONCLAVE_SERVICE_PROTOCOL_FILTER_H_

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace conclave::service {

using FilterList = std::optional<std::vector<std::string>>;

// Filters events by type and sender (EventFilter). `types` and `not_types` entries may contain
// `*`, matching any sequence of characters ("m.room.*").
struct EventFilter {
  std::optional<int64_t> limit;  // > 0 when set; see EffectiveLimit
  FilterList types;
  FilterList not_types;
  FilterList senders;
  FilterList not_senders;
};

// An EventFilter for room events (RoomEventFilter): adds room lists and `url` presence, and the
// lazy-loading switches, which matching ignores (the sync code reads them). An unset optional
// bool means false.
struct RoomEventFilter : EventFilter {
  FilterList rooms;
  FilterList not_rooms;
  std::optional<bool> contains_url;
  std::optional<bool> lazy_load_members;
  std::optional<bool> include_redundant_members;
  std::optional<bool> unread_thread_notifications;
  // Only events that have a child of one of these rel_types / from one of these senders. Not in
  // the spec's RoomEventFilter: MSC3440's fields, which Synapse serves and thread-aware clients
  // send. Matches ignores them: they need the relation index (Rooms applies them).
  FilterList related_by_rel_types;
  FilterList related_by_senders;
};

// The `room` part of a filter (RoomFilter). `rooms`/`not_rooms` apply before the sub-filters.
struct RoomFilter {
  FilterList rooms;
  FilterList not_rooms;
  std::optional<bool> include_leave;
  RoomEventFilter timeline;
  RoomEventFilter state;
  RoomEventFilter ephemeral;
  RoomEventFilter account_data;
};

// A whole filter (Filter in sync_filter.yaml).
struct Filter {
  FilterList event_fields;                  // dot-separated paths to keep; absent keeps all
  std::optional<std::string> event_format;  // "client" (default) or "federation"
  EventFilter presence;
  EventFilter account_data;
  RoomFilter room;
};

// Parses a filter definition. Unknown keys are ignored. Nothing is kept after the call.
//
// Errors: M_BAD_JSON (kInvalidArgument) naming the field by its path ("room.timeline.limit")
// when `filter` is not an object, a field has the wrong JSON type, `limit` is not an integer
// greater than 0, `event_format` is neither "client" nor "federation", a `senders` entry does not
// start with '@' or a `rooms` entry does not start with '!'.
absl::StatusOr<Filter> ParseFilter(const boost::json::value& filter);

// Returns the filter as JSON for GET /user/{userId}/filter/{filterId}: every field that was set,
// nothing else. A sub-filter with no field set is left out, which means the same as `{}`.
boost::json::object ToJson(const Filter& filter);

// Returns whether `event` passes `filter`'s sender and type lists. The sender is `sender`, else
// `content.user_id` (old presence events); an event without either fails a `senders` list.
bool Matches(const EventFilter& filter, const boost::json::object& event);

// Returns whether `event` passes `filter`: the EventFilter lists, the room lists against the
// event's `room_id` (skipped when the event has none, e.g. ephemeral events: use MatchesRoom)
// and `contains_url` against the presence of `content.url`.
bool Matches(const RoomEventFilter& filter, const boost::json::object& event);

// Returns whether `room_id` passes `rooms`/`not_rooms` of a room event filter.
bool MatchesRoom(const RoomEventFilter& filter, std::string_view room_id);

// Returns whether `room_id` passes the top-level `room.rooms`/`room.not_rooms`.
bool MatchesRoom(const RoomFilter& filter, std::string_view room_id);

// Returns whether `type` matches `pattern`, where `*` matches any sequence of characters.
bool MatchesWildcard(std::string_view pattern, std::string_view type);

// Returns `filter.limit` if set, else `default_limit`, capped at `max_limit`.
int64_t EffectiveLimit(const EventFilter& filter, int64_t default_limit, int64_t max_limit);

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_PROTOCOL_FILTER_H_
