// Reporting content (Client-Server API "Reporting content", report_content.yaml): an event, a
// room or a user reported by a local user reaches the server's operators as an m.notice from the
// bot in the admin room (DESIGN.md section 9), which keeps the reports: nothing else stores them.
//
// The 404s the spec describes are given (an unknown room, event or user; an event in a room the
// reporter is not joined to): the spec lets a server hide existence behind 200s, but every id
// reported here is one the reporter can see or could find out through other endpoints.
#include <algorithm>
#include <boost/json/object.hpp>
#include <string>
#include <vector>

#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/admin_room/admin_room.h"
#include "conclave/service/admin_room/html.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/rooms/rooms.h"
#include "routes.h"

namespace conclave::api {
namespace {

using boost::json::object;

// The `reason` of a report body: a string when present; `required` per the endpoint (rooms and
// users require it, possibly empty; events do not).
absl::StatusOr<std::string> Reason(Call& call, bool required) {
  CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
  if (required) return RequiredString(body, "reason");
  CONCLAVE_ASSIGN_OR_RETURN(std::optional<std::string> reason, OptionalString(body, "reason"));
  return reason.value_or("");
}

// Posts the report; reports are rate limited like messages, since each one posts a message.
absl::Status Post(Call& call, std::string_view what, std::string_view reason) {
  CONCLAVE_RETURN_IF_ERROR(call.hs.limiter().Take(core::StrCat("report/", call.session.user_id),
                                                  call.hs.message_limit()));
  const std::string shown = reason.empty() ? "(no reason given)" : std::string(reason);
  const std::string plain =
      core::StrCat("Report from ", call.session.user_id, ": ", what, ". Reason: ", shown);
  const std::string html =
      core::StrCat("<b>Report</b> from ", service::EscapeHtml(call.session.user_id), ": ",
                   service::EscapeHtml(what), ".<br>Reason: ", service::EscapeHtml(shown));
  return call.hs.admin_room().Notice(plain, html, std::nullopt);
}

absl::StatusOr<bool> IsJoined(Call& call, const std::string& room_id) {
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<std::string> joined,
                            call.hs.rooms().JoinedRooms(call.session.user_id));
  return std::find(joined.begin(), joined.end(), room_id) != joined.end();
}

absl::StatusOr<boost::json::value> ReportEvent(Call& call) {
  const std::string room_id = call.Param("roomId");
  const std::string event_id = call.Param("eventId");
  CONCLAVE_ASSIGN_OR_RETURN(std::string reason, Reason(call, /*required=*/false));
  CONCLAVE_ASSIGN_OR_RETURN(bool joined, IsJoined(call, room_id));
  if (!joined) {
    return service::NotFound("The event was not found or you are not joined to the room.");
  }
  // Rooms::Event applies history visibility: an event the reporter cannot see is not found.
  auto event = call.hs.rooms().Event(call.session, room_id, event_id);
  if (!event.ok()) {
    if (absl::IsNotFound(event.status()) || absl::IsPermissionDenied(event.status())) {
      return service::NotFound("The event was not found or you are not joined to the room.");
    }
    return event.status();
  }
  const std::string sender(event->pdu.contains("sender") && event->pdu.at("sender").is_string()
                               ? std::string_view(event->pdu.at("sender").as_string())
                               : std::string_view("?"));
  CONCLAVE_RETURN_IF_ERROR(Post(
      call, core::StrCat("event ", event_id, " (sent by ", sender, ") in room ", room_id), reason));
  return object();
}

absl::StatusOr<boost::json::value> ReportRoom(Call& call) {
  const std::string room_id = call.Param("roomId");
  CONCLAVE_ASSIGN_OR_RETURN(std::string reason, Reason(call, /*required=*/true));
  auto summary = call.hs.rooms().RoomSummary(room_id);
  if (!summary.ok()) {
    if (absl::IsNotFound(summary.status())) return service::NotFound("The room was not found.");
    return summary.status();
  }
  CONCLAVE_RETURN_IF_ERROR(Post(call, core::StrCat("room ", room_id), reason));
  return object();
}

absl::StatusOr<boost::json::value> ReportUser(Call& call) {
  const std::string user_id = call.Param("userId");
  CONCLAVE_ASSIGN_OR_RETURN(std::string reason, Reason(call, /*required=*/true));
  if (!call.hs.accounts().UserExists(user_id)) return service::NotFound("The user was not found.");
  CONCLAVE_RETURN_IF_ERROR(Post(call, core::StrCat("user ", user_id), reason));
  return object();
}

}  // namespace

absl::Status RegisterReportingRoutes(Routes& routes) {
  CONCLAVE_RETURN_IF_ERROR(
      routes.Add("POST", "/v3/rooms/{roomId}/report/{eventId}", Auth::kRequired, &ReportEvent));
  CONCLAVE_RETURN_IF_ERROR(
      routes.Add("POST", "/v3/rooms/{roomId}/report", Auth::kRequired, &ReportRoom));
  return routes.Add("POST", "/v3/users/{userId}/report", Auth::kRequired, &ReportUser);
}

}  // namespace conclave::api
