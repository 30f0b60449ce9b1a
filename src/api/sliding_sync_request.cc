#include "sliding_sync_request.h"

#include <algorithm>

#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/errors.h"
#include "handler.h"

namespace conclave::api {
namespace {

using service::RequiredState;
using service::RequiredStateElement;
using service::SlidingExtensionScope;
using service::SlidingRoomConfig;
using service::SlidingRoomFilter;

absl::Status Bad(std::string_view where, std::string_view what) {
  return service::BadJson(core::StrCat("'", where, "' ", what));
}

absl::StatusOr<const boost::json::array*> OptionalArray(const boost::json::object& body,
                                                        std::string_view key,
                                                        std::string_view where) {
  const boost::json::value* v = body.if_contains(key);
  if (v == nullptr || v->is_null()) return nullptr;
  if (!v->is_array()) return Bad(where, "must be an array");
  return &v->get_array();
}

absl::StatusOr<std::optional<std::vector<std::string>>> OptionalStrings(
    const boost::json::object& body, std::string_view key, std::string_view where) {
  CONCLAVE_ASSIGN_OR_RETURN(const boost::json::array* array, OptionalArray(body, key, where));
  if (array == nullptr) return std::optional<std::vector<std::string>>();
  std::vector<std::string> out;
  for (const auto& v : *array) {
    if (!v.is_string()) return Bad(where, "must be an array of strings");
    out.emplace_back(v.get_string());
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

// room_types / not_room_types: strings, and null for rooms without a type.
absl::StatusOr<std::optional<std::vector<std::optional<std::string>>>> OptionalRoomTypes(
    const boost::json::object& body, std::string_view key, std::string_view where) {
  CONCLAVE_ASSIGN_OR_RETURN(const boost::json::array* array, OptionalArray(body, key, where));
  if (array == nullptr) return std::optional<std::vector<std::optional<std::string>>>();
  std::vector<std::optional<std::string>> out;
  for (const auto& v : *array) {
    if (v.is_null()) {
      out.emplace_back();
    } else if (v.is_string()) {
      out.emplace_back(std::string(v.get_string()));
    } else {
      return Bad(where, "must be an array of strings and nulls");
    }
  }
  return std::optional<std::vector<std::optional<std::string>>>(std::move(out));
}

// MSC3575's [type, state_key] pairs: `*` for any, `$LAZY` (m.room.member) for lazy loading.
absl::StatusOr<RequiredState> PairRequiredState(const boost::json::array& pairs,
                                                std::string_view where) {
  RequiredState out;
  for (const auto& pair : pairs) {
    if (!pair.is_array() || pair.get_array().size() != 2 || !pair.get_array()[0].is_string() ||
        !pair.get_array()[1].is_string()) {
      return Bad(where, "must hold [type, state_key] pairs of strings");
    }
    std::string type(pair.get_array()[0].get_string());
    std::string key(pair.get_array()[1].get_string());
    if (key == "$LAZY") {
      if (type != "m.room.member") {
        return service::InvalidParam(core::StrCat("'", where, "': $LAZY is for m.room.member"));
      }
      out.lazy_members = true;
      continue;
    }
    RequiredStateElement e;
    if (type != "*") e.type = std::move(type);
    if (key != "*") e.state_key = std::move(key);
    out.include.push_back(std::move(e));
  }
  return out;
}

absl::StatusOr<std::vector<RequiredStateElement>> Elements(const boost::json::object& body,
                                                           std::string_view key,
                                                           std::string_view where) {
  CONCLAVE_ASSIGN_OR_RETURN(const boost::json::array* array, OptionalArray(body, key, where));
  std::vector<RequiredStateElement> out;
  if (array == nullptr) return out;
  for (const auto& v : *array) {
    if (!v.is_object()) return Bad(where, "must hold objects");
    RequiredStateElement e;
    CONCLAVE_ASSIGN_OR_RETURN(e.type, OptionalString(v.get_object(), "type"));
    CONCLAVE_ASSIGN_OR_RETURN(e.state_key, OptionalString(v.get_object(), "state_key"));
    out.push_back(std::move(e));
  }
  return out;
}

absl::StatusOr<RequiredState> ParseRequiredState(const boost::json::object& config,
                                                 std::string_view where) {
  const boost::json::value* v = config.if_contains("required_state");
  if (v == nullptr || v->is_null()) return RequiredState{};
  if (v->is_array()) return PairRequiredState(v->get_array(), where);
  if (!v->is_object()) return Bad(where, "must be an array of pairs or an object");
  // MSC4186's later RequiredStateRequest.
  const boost::json::object& o = v->get_object();
  RequiredState out;
  CONCLAVE_ASSIGN_OR_RETURN(out.include, Elements(o, "include", where));
  CONCLAVE_ASSIGN_OR_RETURN(out.exclude, Elements(o, "exclude", where));
  CONCLAVE_ASSIGN_OR_RETURN(auto lazy, OptionalBool(o, "lazy_members"));
  out.lazy_members = lazy.value_or(false);
  return out;
}

absl::StatusOr<SlidingRoomConfig> ParseRoomConfig(const boost::json::object& config,
                                                  std::string_view where) {
  SlidingRoomConfig out;
  CONCLAVE_ASSIGN_OR_RETURN(auto limit, OptionalInt(config, "timeline_limit"));
  if (limit && *limit < 0) {
    return service::InvalidParam(core::StrCat("'", where, ".timeline_limit' must be >= 0"));
  }
  // "The server may cap this number."
  out.timeline_limit =
      std::min<size_t>(static_cast<size_t>(limit.value_or(0)), service::kMaxSlidingTimelineLimit);
  CONCLAVE_ASSIGN_OR_RETURN(out.required_state,
                            ParseRequiredState(config, core::StrCat(where, ".required_state")));
  return out;
}

absl::StatusOr<std::pair<uint64_t, uint64_t>> ParseRange(const boost::json::value& v,
                                                         std::string_view where) {
  if (!v.is_array() || v.get_array().size() != 2) return Bad(where, "must be [start, end]");
  int64_t bounds[2];
  for (int i = 0; i < 2; ++i) {
    const auto& b = v.get_array()[i];
    if (b.is_int64()) {
      bounds[i] = b.get_int64();
    } else if (b.is_uint64()) {
      bounds[i] = static_cast<int64_t>(std::min<uint64_t>(b.get_uint64(), INT64_MAX));
    } else {
      return Bad(where, "must be [start, end] integers");
    }
  }
  if (bounds[0] < 0 || bounds[1] < bounds[0]) {
    return service::InvalidParam(core::StrCat("'", where, "' must have 0 <= start <= end"));
  }
  return std::pair<uint64_t, uint64_t>(bounds[0], bounds[1]);
}

absl::StatusOr<SlidingRoomFilter> ParseFilters(const boost::json::object& list,
                                               const std::string& where) {
  SlidingRoomFilter f;
  CONCLAVE_ASSIGN_OR_RETURN(const boost::json::object* o, OptionalObject(list, "filters"));
  if (o == nullptr) return f;
  CONCLAVE_ASSIGN_OR_RETURN(f.is_dm, OptionalBool(*o, "is_dm"));
  CONCLAVE_ASSIGN_OR_RETURN(f.is_encrypted, OptionalBool(*o, "is_encrypted"));
  CONCLAVE_ASSIGN_OR_RETURN(f.is_invite, OptionalBool(*o, "is_invite"));
  CONCLAVE_ASSIGN_OR_RETURN(auto is_invited, OptionalBool(*o, "is_invited"));  // the later name
  if (is_invited) f.is_invite = is_invited;
  const std::string at = core::StrCat(where, ".filters");
  CONCLAVE_ASSIGN_OR_RETURN(f.spaces, OptionalStrings(*o, "spaces", at + ".spaces"));
  CONCLAVE_ASSIGN_OR_RETURN(f.tags, OptionalStrings(*o, "tags", at + ".tags"));
  CONCLAVE_ASSIGN_OR_RETURN(f.not_tags, OptionalStrings(*o, "not_tags", at + ".not_tags"));
  CONCLAVE_ASSIGN_OR_RETURN(f.room_types, OptionalRoomTypes(*o, "room_types", at + ".room_types"));
  CONCLAVE_ASSIGN_OR_RETURN(f.not_room_types,
                            OptionalRoomTypes(*o, "not_room_types", at + ".not_room_types"));
  return f;
}

absl::StatusOr<service::SlidingList> ParseList(const std::string& name,
                                               const boost::json::value& v) {
  const std::string where = core::StrCat("lists.", name);
  if (!v.is_object()) return Bad(where, "must be an object");
  const boost::json::object& list = v.get_object();
  service::SlidingList out{.name = name};
  CONCLAVE_ASSIGN_OR_RETURN(out.config, ParseRoomConfig(list, where));
  if (const auto* ranges = list.if_contains("ranges"); ranges != nullptr && !ranges->is_null()) {
    if (!ranges->is_array()) return Bad(where + ".ranges", "must be an array of ranges");
    for (const auto& r : ranges->get_array()) {
      CONCLAVE_ASSIGN_OR_RETURN(auto range, ParseRange(r, where + ".ranges"));
      out.ranges.push_back(range);
    }
  } else if (const auto* range = list.if_contains("range"); range != nullptr && !range->is_null()) {
    CONCLAVE_ASSIGN_OR_RETURN(auto one, ParseRange(*range, where + ".range"));
    out.ranges.push_back(one);
  } else {
    // "If this field is missing, the room list is not limited by range".
    out.all_rooms = true;
  }
  CONCLAVE_ASSIGN_OR_RETURN(out.filters, ParseFilters(list, where));
  return out;
}

absl::StatusOr<SlidingExtensionScope> ParseScope(const boost::json::object& extensions,
                                                 std::string_view name) {
  SlidingExtensionScope scope;
  CONCLAVE_ASSIGN_OR_RETURN(const boost::json::object* o, OptionalObject(extensions, name));
  if (o == nullptr) return scope;
  CONCLAVE_ASSIGN_OR_RETURN(auto enabled, OptionalBool(*o, "enabled"));
  scope.enabled = enabled.value_or(false);
  const std::string where = core::StrCat("extensions.", name);
  CONCLAVE_ASSIGN_OR_RETURN(scope.lists, OptionalStrings(*o, "lists", where + ".lists"));
  CONCLAVE_ASSIGN_OR_RETURN(scope.rooms, OptionalStrings(*o, "rooms", where + ".rooms"));
  return scope;
}

absl::Status ParseExtensions(const boost::json::object& body, service::SlidingSyncRequest& out) {
  CONCLAVE_ASSIGN_OR_RETURN(const boost::json::object* ext, OptionalObject(body, "extensions"));
  if (ext == nullptr) return absl::OkStatus();
  CONCLAVE_ASSIGN_OR_RETURN(const boost::json::object* to_device,
                            OptionalObject(*ext, "to_device"));
  if (to_device != nullptr) {
    CONCLAVE_ASSIGN_OR_RETURN(auto enabled, OptionalBool(*to_device, "enabled"));
    out.to_device = enabled.value_or(false);
    CONCLAVE_ASSIGN_OR_RETURN(out.to_device_since, OptionalString(*to_device, "since"));
    CONCLAVE_ASSIGN_OR_RETURN(auto limit, OptionalInt(*to_device, "limit"));
    if (limit && *limit < 1) {
      return service::InvalidParam("'extensions.to_device.limit' must be >= 1");
    }
    if (limit) out.to_device_limit = std::min<int64_t>(*limit, 1000);
  }
  CONCLAVE_ASSIGN_OR_RETURN(const boost::json::object* e2ee, OptionalObject(*ext, "e2ee"));
  if (e2ee != nullptr) {
    CONCLAVE_ASSIGN_OR_RETURN(auto enabled, OptionalBool(*e2ee, "enabled"));
    out.e2ee = enabled.value_or(false);
  }
  CONCLAVE_ASSIGN_OR_RETURN(out.account_data, ParseScope(*ext, "account_data"));
  CONCLAVE_ASSIGN_OR_RETURN(out.receipts, ParseScope(*ext, "receipts"));
  CONCLAVE_ASSIGN_OR_RETURN(out.typing, ParseScope(*ext, "typing"));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ParsedSlidingSync> ParseSlidingSync(const boost::json::object& body) {
  ParsedSlidingSync parsed;
  service::SlidingSyncRequest& out = parsed.request;
  CONCLAVE_ASSIGN_OR_RETURN(auto conn_id, OptionalString(body, "conn_id"));
  out.conn_id = conn_id.value_or("");
  CONCLAVE_ASSIGN_OR_RETURN(out.pos, OptionalString(body, "pos"));
  CONCLAVE_ASSIGN_OR_RETURN(parsed.timeout_ms, OptionalInt(body, "timeout"));
  CONCLAVE_ASSIGN_OR_RETURN(out.set_presence, OptionalString(body, "set_presence"));
  CONCLAVE_ASSIGN_OR_RETURN(parsed.txn_id, OptionalString(body, "txn_id"));
  CONCLAVE_ASSIGN_OR_RETURN(const boost::json::object* lists, OptionalObject(body, "lists"));
  if (lists != nullptr) {
    if (lists->size() > service::kMaxSlidingLists) {
      return service::InvalidParam(
          core::StrCat("At most ", service::kMaxSlidingLists, " lists per request"));
    }
    for (const auto& [name, list] : *lists) {
      CONCLAVE_ASSIGN_OR_RETURN(auto parsed_list, ParseList(std::string(name), list));
      out.lists.push_back(std::move(parsed_list));
    }
  }
  CONCLAVE_ASSIGN_OR_RETURN(const boost::json::object* subscriptions,
                            OptionalObject(body, "room_subscriptions"));
  if (subscriptions != nullptr) {
    for (const auto& [room_id, config] : *subscriptions) {
      const std::string where = core::StrCat("room_subscriptions.", std::string_view(room_id));
      if (room_id.empty() || room_id[0] != '!') {
        return service::InvalidParam(core::StrCat("'", where, "': not a room id"));
      }
      if (!config.is_object()) return Bad(where, "must be an object");
      CONCLAVE_ASSIGN_OR_RETURN(auto room_config, ParseRoomConfig(config.get_object(), where));
      out.room_subscriptions.emplace(std::string(room_id), std::move(room_config));
    }
  }
  CONCLAVE_RETURN_IF_ERROR(ParseExtensions(body, out));
  return parsed;
}

}  // namespace conclave::api
