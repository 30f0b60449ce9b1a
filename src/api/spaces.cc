// GET /v1/rooms/{roomId}/hierarchy (Client-Server API, "Spaces", space_hierarchy.yaml): the
// query parameters checked here, the walk in service/spaces/hierarchy.h.
#include "conclave/core/status_macros.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/spaces/hierarchy.h"
#include "routes.h"

namespace conclave::api {
namespace {

// The most rooms a page holds, whatever `limit` asks (Synapse caps at 50 too).
constexpr int64_t kMaxLimit = 50;

absl::StatusOr<boost::json::value> HierarchyHandler(Call& call) {
  service::HierarchyRequest request{.room_id = call.Param("roomId")};
  CONCLAVE_ASSIGN_OR_RETURN(auto suggested, QueryBool(call.request, "suggested_only"));
  request.suggested_only = suggested.value_or(false);
  CONCLAVE_ASSIGN_OR_RETURN(auto max_depth, QueryInt(call.request, "max_depth"));
  if (max_depth) {
    if (*max_depth < 0) return service::InvalidParam("'max_depth' must not be negative");
    request.max_depth = static_cast<size_t>(*max_depth);
  }
  CONCLAVE_ASSIGN_OR_RETURN(auto limit, QueryInt(call.request, "limit"));
  if (limit) {
    if (*limit < 1) return service::InvalidParam("'limit' must be positive");
    request.limit = static_cast<size_t>(std::min(*limit, kMaxLimit));
  }
  request.from = call.request.QueryParam("from").value_or("");
  CONCLAVE_ASSIGN_OR_RETURN(
      service::HierarchyPage page,
      service::SpaceHierarchy(call.hs.rooms()).Walk(call.session.user_id, request));
  boost::json::object out{{"rooms", std::move(page.rooms)}};
  if (page.next_batch) out["next_batch"] = *page.next_batch;
  return out;
}

}  // namespace

absl::Status RegisterSpaceRoutes(Routes& routes) {
  return routes.Add("GET", "/v1/rooms/{roomId}/hierarchy", Auth::kRequired, &HierarchyHandler);
}

}  // namespace conclave::api
