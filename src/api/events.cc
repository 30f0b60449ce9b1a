// Event routes: send, state, event, messages, context, redact, typing, receipts, read markers.
// Client-Server API: room_send.yaml, room_state.yaml, rooms.yaml, message_pagination.yaml,
// event_context.yaml, redaction.yaml, typing.yaml, receipts.yaml, read_markers.yaml.
#include <boost/json/parse.hpp>

#include "client_event.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/filter.h"
#include "conclave/service/rooms/rooms.h"
#include "routes.h"

namespace conclave::api {
namespace {

using boost::json::object;
using service::Rooms;

// An event body over the spec's size limit is refused before it is parsed.
absl::StatusOr<object> EventContent(Call& call) {
  if (call.request.body.size() > service::kMaxEventBytes) {
    return service::TooLarge(core::StrCat("Event content is ", call.request.body.size(),
                                          " bytes; the limit is ", service::kMaxEventBytes));
  }
  return call.JsonBody();
}

absl::Status TakeMessageToken(Call& call) {
  return call.hs.limiter().Take(core::StrCat("message/", call.session.user_id),
                                call.hs.message_limit());
}

absl::StatusOr<boost::json::value> PutState(Call& call, const std::string& state_key) {
  CONCLAVE_RETURN_IF_ERROR(TakeMessageToken(call));
  CONCLAVE_ASSIGN_OR_RETURN(object content, EventContent(call));
  CONCLAVE_ASSIGN_OR_RETURN(std::string event_id,
                            call.hs.rooms().SendState(call.session, call.Param("roomId"),
                                                      call.Param("eventType"), state_key, content));
  return object{{"event_id", event_id}};
}

absl::StatusOr<boost::json::value> GetState(Call& call, const std::string& state_key) {
  CONCLAVE_ASSIGN_OR_RETURN(object content,
                            call.hs.rooms().StateContent(call.session, call.Param("roomId"),
                                                         call.Param("eventType"), state_key));
  return content;
}

// The `filter` query parameter: a RoomEventFilter as JSON.
absl::StatusOr<service::RoomEventFilter> QueryFilter(const core::Request& request) {
  std::optional<std::string> text = request.QueryParam("filter");
  if (!text || text->empty()) return service::RoomEventFilter();
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(*text, ec);
  if (ec || !value.is_object()) return service::InvalidParam("'filter' must be a JSON object");
  // A RoomEventFilter parses as the room.timeline part of a whole filter.
  CONCLAVE_ASSIGN_OR_RETURN(service::Filter filter,
                            service::ParseFilter(object{{"room", object{{"timeline", value}}}}));
  return filter.room.timeline;
}

}  // namespace

absl::Status RegisterEventRoutes(Routes& routes) {
  CONCLAVE_RETURN_IF_ERROR(
      routes.Add("PUT", "/v3/rooms/{roomId}/send/{eventType}/{txnId}", Auth::kRequired,
                 [](Call& call) -> absl::StatusOr<boost::json::value> {
                   CONCLAVE_RETURN_IF_ERROR(TakeMessageToken(call));
                   CONCLAVE_ASSIGN_OR_RETURN(object content, EventContent(call));
                   CONCLAVE_ASSIGN_OR_RETURN(
                       std::string event_id,
                       call.hs.rooms().Send(call.session, call.Param("roomId"),
                                            call.Param("eventType"), call.Param("txnId"), content));
                   return object{{"event_id", event_id}};
                 }));
  CONCLAVE_RETURN_IF_ERROR(routes.Add("PUT", "/v3/rooms/{roomId}/state/{eventType}",
                                      Auth::kRequired,
                                      [](Call& call) { return PutState(call, ""); }));
  CONCLAVE_RETURN_IF_ERROR(
      routes.Add("PUT", "/v3/rooms/{roomId}/state/{eventType}/{stateKey}", Auth::kRequired,
                 [](Call& call) { return PutState(call, call.Param("stateKey")); }));
  CONCLAVE_RETURN_IF_ERROR(routes.Add("GET", "/v3/rooms/{roomId}/state/{eventType}",
                                      Auth::kRequired,
                                      [](Call& call) { return GetState(call, ""); }));
  CONCLAVE_RETURN_IF_ERROR(
      routes.Add("GET", "/v3/rooms/{roomId}/state/{eventType}/{stateKey}", Auth::kRequired,
                 [](Call& call) { return GetState(call, call.Param("stateKey")); }));
  CONCLAVE_RETURN_IF_ERROR(
      routes.Add("GET", "/v3/rooms/{roomId}/state", Auth::kRequired,
                 [](Call& call) -> absl::StatusOr<boost::json::value> {
                   CONCLAVE_ASSIGN_OR_RETURN(
                       auto events, call.hs.rooms().State(call.session, call.Param("roomId")));
                   return ClientEvents(events, &call.session, true);
                 }));
  CONCLAVE_RETURN_IF_ERROR(routes.Add(
      "GET", "/v3/rooms/{roomId}/event/{eventId}", Auth::kRequired,
      [](Call& call) -> absl::StatusOr<boost::json::value> {
        CONCLAVE_ASSIGN_OR_RETURN(
            auto event,
            call.hs.rooms().Event(call.session, call.Param("roomId"), call.Param("eventId")));
        return ClientEvent(event, &call.session, true);
      }));
  CONCLAVE_RETURN_IF_ERROR(routes.Add(
      "GET", "/v3/rooms/{roomId}/messages", Auth::kRequired,
      [](Call& call) -> absl::StatusOr<boost::json::value> {
        std::string dir = call.request.QueryParam("dir").value_or("b");
        if (dir != "b" && dir != "f") return service::InvalidParam("'dir' must be b or f");
        CONCLAVE_ASSIGN_OR_RETURN(auto limit, QueryInt(call.request, "limit"));
        if (limit && *limit < 0) return service::InvalidParam("'limit' must not be negative");
        CONCLAVE_ASSIGN_OR_RETURN(service::RoomEventFilter filter, QueryFilter(call.request));
        size_t n = limit          ? static_cast<size_t>(*limit)
                   : filter.limit ? static_cast<size_t>(*filter.limit)
                                  : 10;
        CONCLAVE_ASSIGN_OR_RETURN(
            service::MessagesPage page,
            call.hs.rooms().Messages(
                call.session, call.Param("roomId"), call.request.QueryParam("from").value_or(""),
                call.request.QueryParam("to").value_or(""), dir[0], n, filter));
        object out{{"start", page.start}, {"chunk", ClientEvents(page.chunk, &call.session, true)}};
        if (page.end) out["end"] = *page.end;
        if (!page.state.empty()) out["state"] = ClientEvents(page.state, &call.session, true);
        return out;
      }));
  CONCLAVE_RETURN_IF_ERROR(routes.Add(
      "GET", "/v3/rooms/{roomId}/context/{eventId}", Auth::kRequired,
      [](Call& call) -> absl::StatusOr<boost::json::value> {
        CONCLAVE_ASSIGN_OR_RETURN(auto limit, QueryInt(call.request, "limit"));
        if (limit && *limit < 0) return service::InvalidParam("'limit' must not be negative");
        CONCLAVE_ASSIGN_OR_RETURN(service::RoomEventFilter filter, QueryFilter(call.request));
        CONCLAVE_ASSIGN_OR_RETURN(
            service::EventContext context,
            call.hs.rooms().Context(call.session, call.Param("roomId"), call.Param("eventId"),
                                    limit ? static_cast<size_t>(*limit) : 10, filter));
        const service::Session* viewer = &call.session;
        return object{{"event", ClientEvent(context.event, viewer, true)},
                      {"events_before", ClientEvents(context.events_before, viewer, true)},
                      {"events_after", ClientEvents(context.events_after, viewer, true)},
                      {"start", context.start},
                      {"end", context.end},
                      {"state", ClientEvents(context.state, viewer, true)}};
      }));
  CONCLAVE_RETURN_IF_ERROR(
      routes.Add("PUT", "/v3/rooms/{roomId}/redact/{eventId}/{txnId}", Auth::kRequired,
                 [](Call& call) -> absl::StatusOr<boost::json::value> {
                   CONCLAVE_RETURN_IF_ERROR(TakeMessageToken(call));
                   CONCLAVE_ASSIGN_OR_RETURN(object body, EventContent(call));
                   CONCLAVE_ASSIGN_OR_RETURN(auto reason, OptionalString(body, "reason"));
                   CONCLAVE_ASSIGN_OR_RETURN(
                       std::string event_id,
                       call.hs.rooms().Redact(call.session, call.Param("roomId"),
                                              call.Param("eventId"), call.Param("txnId"), reason));
                   return object{{"event_id", event_id}};
                 }));
  CONCLAVE_RETURN_IF_ERROR(routes.Add(
      "PUT", "/v3/rooms/{roomId}/typing/{userId}", Auth::kRequired,
      [](Call& call) -> absl::StatusOr<boost::json::value> {
        if (call.Param("userId") != call.session.user_id) {
          return service::Forbidden("You can only set your own typing state");
        }
        CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
        const auto* typing = body.if_contains("typing");
        if (typing == nullptr) return service::MissingParam("Missing 'typing'");
        if (!typing->is_bool()) return service::BadJson("'typing' must be a boolean");
        CONCLAVE_ASSIGN_OR_RETURN(auto timeout, OptionalInt(body, "timeout"));
        // Clients ask for up to 30 s; longer requests are capped so a crashed client's typing
        // notice does not linger.
        int64_t ms = std::clamp<int64_t>(timeout.value_or(30000), 0, 120000);
        CONCLAVE_RETURN_IF_ERROR(call.hs.rooms().SetTyping(
            call.session, call.Param("roomId"), typing->get_bool(), absl::Milliseconds(ms)));
        return object();
      }));
  CONCLAVE_RETURN_IF_ERROR(
      routes.Add("POST", "/v3/rooms/{roomId}/receipt/{receiptType}/{eventId}", Auth::kRequired,
                 [](Call& call) -> absl::StatusOr<boost::json::value> {
                   CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
                   const std::string type = call.Param("receiptType");
                   // receipts.yaml: `thread_id` must be a non-empty string, and is for m.read
                   // and m.read.private only (400 M_INVALID_PARAM).
                   std::optional<std::string> thread_id;
                   if (const auto* t = body.if_contains("thread_id")) {
                     if (!t->is_string() || t->get_string().empty()) {
                       return service::InvalidParam("thread_id field must be a non-empty string");
                     }
                     if (type == "m.fully_read") {
                       return service::InvalidParam("m.fully_read takes no thread_id");
                     }
                     thread_id = std::string(t->get_string());
                   }
                   if (type == "m.fully_read") {
                     CONCLAVE_RETURN_IF_ERROR(call.hs.rooms().SetReadMarkers(
                         call.session, call.Param("roomId"), call.Param("eventId"), std::nullopt,
                         std::nullopt));
                   } else {
                     std::optional<std::string_view> thread;
                     if (thread_id) thread = *thread_id;
                     CONCLAVE_RETURN_IF_ERROR(call.hs.rooms().SetReceipt(
                         call.session, call.Param("roomId"), type, call.Param("eventId"), thread));
                   }
                   return object();
                 }));
  CONCLAVE_RETURN_IF_ERROR(routes.Add(
      "POST", "/v3/rooms/{roomId}/read_markers", Auth::kRequired,
      [](Call& call) -> absl::StatusOr<boost::json::value> {
        CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
        CONCLAVE_ASSIGN_OR_RETURN(auto fully_read, OptionalString(body, "m.fully_read"));
        CONCLAVE_ASSIGN_OR_RETURN(auto read, OptionalString(body, "m.read"));
        CONCLAVE_ASSIGN_OR_RETURN(auto read_private, OptionalString(body, "m.read.private"));
        CONCLAVE_RETURN_IF_ERROR(call.hs.rooms().SetReadMarkers(call.session, call.Param("roomId"),
                                                                fully_read, read, read_private));
        return object();
      }));
  return absl::OkStatus();
}

}  // namespace conclave::api
