// POST /search (Client-Server API, "Server Side Search", search.yaml): the request's room_events
// criteria parsed into service::SearchRequest, the page shaped into the spec's response, with
// the groupings (room_id, sender) computed here from the page's results. Other categories are
// ignored, as the spec has only room_events. Runs on the blocking pool: a search reads the
// index and, for each hit, the event and its room's visibility.
#include "conclave/service/search/search.h"

#include <map>

#include "client_event.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/storage/stored_json.h"
#include "routes.h"

namespace conclave::api {
namespace {

using boost::json::array;
using boost::json::object;

absl::StatusOr<std::vector<service::SearchKey>> ParseKeys(const object& criteria) {
  std::vector<service::SearchKey> keys;
  const auto* value = criteria.if_contains("keys");
  if (value == nullptr) return keys;
  if (!value->is_array()) return service::BadJson("'keys' must be an array");
  for (const auto& key : value->get_array()) {
    if (!key.is_string()) return service::BadJson("'keys' entries must be strings");
    if (key.get_string() == "content.body") {
      keys.push_back(service::SearchKey::kBody);
    } else if (key.get_string() == "content.name") {
      keys.push_back(service::SearchKey::kName);
    } else if (key.get_string() == "content.topic") {
      keys.push_back(service::SearchKey::kTopic);
    } else {
      return service::InvalidParam(
          core::StrCat("Unknown search key '", std::string_view(key.get_string()), "'"));
    }
  }
  return keys;
}

absl::StatusOr<service::SearchRequest::ContextRequest> ParseContext(const object& context) {
  service::SearchRequest::ContextRequest out;
  CONCLAVE_ASSIGN_OR_RETURN(auto before, OptionalInt(context, "before_limit"));
  CONCLAVE_ASSIGN_OR_RETURN(auto after, OptionalInt(context, "after_limit"));
  CONCLAVE_ASSIGN_OR_RETURN(auto profile, OptionalBool(context, "include_profile"));
  if ((before && *before < 0) || (after && *after < 0)) {
    return service::InvalidParam("'before_limit' and 'after_limit' must not be negative");
  }
  // Capped like /context's limit.
  if (before) out.before_limit = static_cast<size_t>(std::min<int64_t>(*before, 100));
  if (after) out.after_limit = static_cast<size_t>(std::min<int64_t>(*after, 100));
  out.include_profile = profile.value_or(false);
  return out;
}

// The group_by keys asked for: "room_id" and/or "sender"; M_INVALID_PARAM for others.
absl::StatusOr<std::vector<std::string>> ParseGroupings(const object& criteria) {
  std::vector<std::string> out;
  CONCLAVE_ASSIGN_OR_RETURN(const object* groupings, OptionalObject(criteria, "groupings"));
  if (groupings == nullptr) return out;
  const auto* group_by = groupings->if_contains("group_by");
  if (group_by == nullptr) return out;
  if (!group_by->is_array()) return service::BadJson("'groupings.group_by' must be an array");
  for (const auto& group : group_by->get_array()) {
    if (!group.is_object()) return service::BadJson("'group_by' entries must be objects");
    CONCLAVE_ASSIGN_OR_RETURN(std::string key, RequiredString(group.get_object(), "key"));
    if (key != "room_id" && key != "sender") {
      return service::InvalidParam(core::StrCat("Unknown grouping key '", key, "'"));
    }
    out.push_back(std::move(key));
  }
  return out;
}

absl::StatusOr<service::SearchRequest> ParseCriteria(const object& criteria,
                                                     std::string next_batch) {
  service::SearchRequest request;
  CONCLAVE_ASSIGN_OR_RETURN(request.search_term, RequiredString(criteria, "search_term"));
  CONCLAVE_ASSIGN_OR_RETURN(request.keys, ParseKeys(criteria));
  if (const auto* filter = criteria.if_contains("filter")) {
    // A RoomEventFilter parses as the room.timeline part of a whole filter.
    CONCLAVE_ASSIGN_OR_RETURN(
        service::Filter parsed,
        service::ParseFilter(object{{"room", object{{"timeline", *filter}}}}));
    request.filter = std::move(parsed.room.timeline);
  }
  CONCLAVE_ASSIGN_OR_RETURN(auto order_by, OptionalString(criteria, "order_by"));
  if (order_by && *order_by != "rank" && *order_by != "recent") {
    return service::InvalidParam("'order_by' must be rank or recent");
  }
  request.order_by_recent = order_by == "recent";
  CONCLAVE_ASSIGN_OR_RETURN(const object* context, OptionalObject(criteria, "event_context"));
  if (context != nullptr) {
    CONCLAVE_ASSIGN_OR_RETURN(request.event_context, ParseContext(*context));
  }
  CONCLAVE_ASSIGN_OR_RETURN(auto include_state, OptionalBool(criteria, "include_state"));
  request.include_state = include_state.value_or(false);
  request.next_batch = std::move(next_batch);
  return request;
}

object ResultJson(const service::SearchResult& r, const service::Session& viewer,
                  bool with_context) {
  object out{{"rank", r.rank}, {"result", ClientEvent(r.event, &viewer, true)}};
  if (with_context) {
    object context{{"events_before", ClientEvents(r.events_before, &viewer, true)},
                   {"events_after", ClientEvents(r.events_after, &viewer, true)}};
    if (!r.start.empty()) context["start"] = r.start;
    if (!r.end.empty()) context["end"] = r.end;
    if (!r.profile_info.empty()) context["profile_info"] = r.profile_info;
    out["context"] = std::move(context);
  }
  return out;
}

// groups.<key>: for each distinct value, the result event ids in the page's order, and the
// group's `order` (rank of its first result in the page).
object Groups(const service::SearchPage& page, const std::vector<std::string>& keys) {
  object groups;
  for (const std::string& key : keys) {
    object by_value;
    int64_t order = 0;
    for (const service::SearchResult& r : page.results) {
      const std::string value(service::StringField(r.event.pdu, key));
      auto [it, added] = by_value.emplace(value, object{{"order", order}, {"results", array()}});
      if (added) ++order;
      it->value().as_object()["results"].as_array().emplace_back(
          service::StringField(r.event.pdu, "event_id"));
    }
    groups[key] = std::move(by_value);
  }
  return groups;
}

absl::StatusOr<boost::json::value> SearchHandler(Call& call) {
  CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
  CONCLAVE_ASSIGN_OR_RETURN(const object* categories, OptionalObject(body, "search_categories"));
  if (categories == nullptr) return service::MissingParam("'search_categories' is required");
  object out_categories;
  CONCLAVE_ASSIGN_OR_RETURN(const object* criteria, OptionalObject(*categories, "room_events"));
  if (criteria != nullptr) {
    CONCLAVE_ASSIGN_OR_RETURN(
        service::SearchRequest request,
        ParseCriteria(*criteria, call.request.QueryParam("next_batch").value_or("")));
    CONCLAVE_ASSIGN_OR_RETURN(std::vector<std::string> group_keys, ParseGroupings(*criteria));
    CONCLAVE_ASSIGN_OR_RETURN(service::SearchPage page,
                              call.hs.search().RoomEvents(call.session, request));
    array results;
    for (const service::SearchResult& r : page.results) {
      results.emplace_back(ResultJson(r, call.session, request.event_context.has_value()));
    }
    array highlights;
    for (const std::string& h : page.highlights) highlights.emplace_back(h);
    object room_events{{"count", page.count},
                       {"highlights", std::move(highlights)},
                       {"results", std::move(results)}};
    if (request.include_state) {
      object state;
      for (const auto& [room_id, events] : page.state) {
        state[room_id] = ClientEvents(events, &call.session, true);
      }
      room_events["state"] = std::move(state);
    }
    if (!group_keys.empty()) room_events["groups"] = Groups(page, group_keys);
    if (page.next_batch) room_events["next_batch"] = *page.next_batch;
    out_categories["room_events"] = std::move(room_events);
  }
  return object{{"search_categories", std::move(out_categories)}};
}

}  // namespace

absl::Status RegisterSearchRoutes(Routes& routes) {
  core::RouteOptions options;
  options.blocking = true;
  return routes.Add("POST", "/v3/search", Auth::kRequired, &SearchHandler, options);
}

}  // namespace conclave::api
