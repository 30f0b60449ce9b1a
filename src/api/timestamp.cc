// GET /v1/rooms/{roomId}/timestamp_to_event (Client-Server API, room_event_by_timestamp.yaml):
// the event closest to `ts` in direction `dir` — for `b` the newest event sent at or before
// `ts`, for `f` the oldest sent at or after it — among the events the caller may see (history
// visibility, Rooms::KeepVisible). conclave has the room's whole history, so it never asks
// another server.
//
// The room's timeline is walked from its newest event back, a page at a time, so a lookup costs
// the events sent after `ts`. Events of one server are in `origin_server_ts` order but for clock
// steps; the walk for `f` stops at the first event older than `ts` once it has a candidate.
#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <vector>

#include "conclave/core/status_macros.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/filter.h"
#include "conclave/service/rooms/rooms.h"
#include "routes.h"

namespace conclave::api {
namespace {

using boost::json::object;

constexpr size_t kPage = 200;

int64_t TimestampOf(const service::StoredEvent& event) {
  const auto* ts = event.pdu.if_contains("origin_server_ts");
  return ts != nullptr && ts->is_int64() ? ts->as_int64() : 0;
}

absl::StatusOr<boost::json::value> TimestampToEvent(Call& call) {
  const std::string room_id = call.Param("roomId");
  CONCLAVE_ASSIGN_OR_RETURN(std::optional<int64_t> ts, QueryInt(call.request, "ts"));
  if (!ts) return service::MissingParam("'ts' is required");
  const std::optional<std::string> dir = call.request.QueryParam("dir");
  if (!dir) return service::MissingParam("'dir' is required");
  if (*dir != "f" && *dir != "b") return service::InvalidParam("'dir' must be 'f' or 'b'");
  const bool forward = *dir == "f";

  service::Rooms& rooms = call.hs.rooms();
  CONCLAVE_RETURN_IF_ERROR(rooms.RoomSummary(room_id).status());  // M_NOT_FOUND if unknown
  const service::RoomEventFilter all;
  std::optional<service::StoredEvent> found;
  uint64_t upto = rooms.LatestPosition(room_id);
  while (upto > 0) {
    bool limited = false;
    CONCLAVE_ASSIGN_OR_RETURN(std::vector<service::StoredEvent> page,
                              rooms.Timeline(room_id, 0, upto, kPage, all, &limited));
    if (page.empty()) break;
    upto = page.front().position - 1;
    CONCLAVE_RETURN_IF_ERROR(rooms.KeepVisible(call.session.user_id, room_id, page));
    bool done = false;
    for (auto it = page.rbegin(); it != page.rend() && !done; ++it) {  // newest first
      const int64_t event_ts = TimestampOf(*it);
      if (forward) {
        if (event_ts >= *ts) {
          found = *it;
        } else if (found) {
          done = true;
        }
      } else if (event_ts <= *ts) {
        found = *it;
        done = true;
      }
    }
    if (done || !limited) break;
  }
  if (!found) return service::NotFound("No event found in that direction from that timestamp");
  return object{{"event_id", found->pdu.at("event_id")}, {"origin_server_ts", TimestampOf(*found)}};
}

}  // namespace

absl::Status RegisterTimestampRoutes(Routes& routes) {
  return routes.Add("GET", "/v1/rooms/{roomId}/timestamp_to_event", Auth::kRequired,
                    &TimestampToEvent);
}

}  // namespace conclave::api
