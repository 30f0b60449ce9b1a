// GET /notifications (Client-Server API, "Listing Notifications"; notifications.yaml): the
// events push rules notified the caller of, newest first, from service/push/notifications.h.
#include "conclave/service/push/notifications.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <charconv>
#include <string>

#include "client_event.h"
#include "conclave/core/status_macros.h"
#include "conclave/service/protocol/errors.h"
#include "routes.h"

namespace conclave::api {
namespace {

using boost::json::array;
using boost::json::object;

// Without `limit`, as Synapse; larger limits are cut to the maximum.
constexpr int64_t kDefaultLimit = 50;
constexpr int64_t kMaxLimit = 1000;

// `from`: a next_token of an earlier page, the stream position to continue before.
absl::StatusOr<std::optional<uint64_t>> FromToken(const Call& call) {
  std::optional<std::string> from = call.request.QueryParam("from");
  if (!from || from->empty()) return std::optional<uint64_t>();
  uint64_t position = 0;
  auto [end, ec] = std::from_chars(from->data(), from->data() + from->size(), position);
  if (ec != std::errc() || end != from->data() + from->size()) {
    return service::InvalidParam("'from' is not a token this server gave out");
  }
  return std::optional<uint64_t>(position);
}

absl::StatusOr<boost::json::value> GetNotifications(Call& call) {
  CONCLAVE_ASSIGN_OR_RETURN(std::optional<uint64_t> from, FromToken(call));
  CONCLAVE_ASSIGN_OR_RETURN(std::optional<int64_t> limit, QueryInt(call.request, "limit"));
  if (limit && *limit < 0) return service::InvalidParam("'limit' must not be negative");
  const int64_t count = std::min(limit.value_or(kDefaultLimit), kMaxLimit);
  const bool only_highlight = call.request.QueryParam("only").value_or("") == "highlight";
  CONCLAVE_ASSIGN_OR_RETURN(
      service::NotificationsPage page,
      call.hs.notifications().List(call.session.user_id, from, static_cast<size_t>(count),
                                   only_highlight));
  array notifications;
  for (service::NotificationEntry& entry : page.notifications) {
    const service::StoredEvent event{std::move(entry.event), entry.position};
    notifications.push_back(object{{"actions", std::move(entry.actions)},
                                   {"event", ClientEvent(event, &call.session, true)},
                                   {"read", entry.read},
                                   {"room_id", entry.room_id},
                                   {"ts", entry.ts}});
  }
  object out{{"notifications", std::move(notifications)}};
  if (page.next_from) out["next_token"] = std::to_string(*page.next_from);
  return out;
}

}  // namespace

absl::Status RegisterNotificationRoutes(Routes& routes) {
  return routes.Add("GET", "/v3/notifications", Auth::kRequired, &GetNotifications);
}

}  // namespace conclave::api
