// Relation routes: GET /v1/rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]]
// (relations.yaml) and GET /v1/rooms/{roomId}/threads (threads_list.yaml).
#include "client_event.h"
#include "conclave/core/status_macros.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/rooms/rooms.h"
#include "routes.h"

namespace conclave::api {
namespace {

using boost::json::object;

// relations.yaml: the default and the largest page (the server "should apply a maximum").
constexpr int64_t kDefaultRelationsLimit = 5;

absl::StatusOr<boost::json::value> GetRelations(Call& call, bool with_rel_type,
                                                bool with_event_type) {
  service::RelationsRequest request;
  request.event_id = call.Param("eventId");
  if (with_rel_type) request.rel_type = call.Param("relType");
  if (with_event_type) request.event_type = call.Param("eventType");
  const std::string dir = call.request.QueryParam("dir").value_or("b");
  if (dir != "b" && dir != "f") return service::InvalidParam("'dir' must be b or f");
  request.dir = dir[0];
  request.from = call.request.QueryParam("from").value_or("");
  request.to = call.request.QueryParam("to").value_or("");
  CONCLAVE_ASSIGN_OR_RETURN(auto limit, QueryInt(call.request, "limit"));
  if (limit && *limit < 0) return service::InvalidParam("'limit' must not be negative");
  request.limit = static_cast<size_t>(limit.value_or(kDefaultRelationsLimit));
  CONCLAVE_ASSIGN_OR_RETURN(request.recurse, QueryBool(call.request, "recurse"));
  CONCLAVE_ASSIGN_OR_RETURN(service::RelationsPage page,
                            call.hs.rooms().Relations(call.session, call.Param("roomId"), request));
  object out{{"chunk", ClientEvents(page.chunk, &call.session, true)}};
  if (page.next_batch) out["next_batch"] = *page.next_batch;
  if (page.prev_batch) out["prev_batch"] = *page.prev_batch;
  if (page.recursion_depth) out["recursion_depth"] = *page.recursion_depth;
  return out;
}

}  // namespace

absl::Status RegisterRelationRoutes(Routes& routes) {
  CONCLAVE_RETURN_IF_ERROR(routes.Add("GET", "/v1/rooms/{roomId}/relations/{eventId}",
                                      Auth::kRequired,
                                      [](Call& call) { return GetRelations(call, false, false); }));
  CONCLAVE_RETURN_IF_ERROR(routes.Add("GET", "/v1/rooms/{roomId}/relations/{eventId}/{relType}",
                                      Auth::kRequired,
                                      [](Call& call) { return GetRelations(call, true, false); }));
  CONCLAVE_RETURN_IF_ERROR(
      routes.Add("GET", "/v1/rooms/{roomId}/relations/{eventId}/{relType}/{eventType}",
                 Auth::kRequired, [](Call& call) { return GetRelations(call, true, true); }));
  CONCLAVE_RETURN_IF_ERROR(routes.Add(
      "GET", "/v1/rooms/{roomId}/threads", Auth::kRequired,
      [](Call& call) -> absl::StatusOr<boost::json::value> {
        const std::string include = call.request.QueryParam("include").value_or("all");
        if (include != "all" && include != "participated") {
          return service::InvalidParam("'include' must be all or participated");
        }
        CONCLAVE_ASSIGN_OR_RETURN(auto limit, QueryInt(call.request, "limit"));
        if (limit && *limit < 0) return service::InvalidParam("'limit' must not be negative");
        CONCLAVE_ASSIGN_OR_RETURN(
            service::ThreadsPage page,
            call.hs.rooms().Threads(call.session, call.Param("roomId"), include == "participated",
                                    call.request.QueryParam("from").value_or(""),
                                    static_cast<size_t>(limit.value_or(20))));
        object out{{"chunk", ClientEvents(page.chunk, &call.session, true)}};
        if (page.next_batch) out["next_batch"] = *page.next_batch;
        return out;
      }));
  return absl::OkStatus();
}

}  // namespace conclave::api
