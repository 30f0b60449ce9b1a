// GET /_matrix/client/v3/sync (Client-Server API "Syncing", sync.yaml), long-polling through the
// HTTP engine's parked requests (core/notifier.h): a sync with nothing new returns a Wait, and is
// dispatched again when the user's notifier key moves, the timeout passes, or a reload begins.
#include "conclave/service/sync/sync.h"

#include <boost/json/parse.hpp>

#include "absl/time/clock.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/filter.h"
#include "routes.h"
#include "sync_json.h"

namespace conclave::api {
namespace {

// Longest long-poll honoured; a client asking for more waits this long.
constexpr absl::Duration kMaxTimeout = absl::Minutes(5);

absl::StatusOr<service::Filter> SyncFilter(Call& call) {
  std::optional<std::string> text = call.request.QueryParam("filter");
  if (!text || text->empty()) return service::Filter();
  if ((*text)[0] == '{') {
    boost::system::error_code ec;
    boost::json::value value = boost::json::parse(*text, ec);
    if (ec) return service::InvalidParam("'filter' is neither a filter id nor JSON");
    return service::ParseFilter(value);
  }
  auto stored = call.hs.accounts().GetFilter(call.session.user_id, *text);
  if (!stored.ok()) {
    if (absl::IsNotFound(stored.status())) {
      return service::InvalidParam(core::StrCat("Unknown filter id '", *text, "'"));
    }
    return stored.status();
  }
  return service::ParseFilter(boost::json::value(*std::move(stored)));
}

absl::StatusOr<core::Response> SyncHandler(Call& call) {
  core::Request& request = call.request;
  service::SyncRequest sync;
  sync.since = request.QueryParam("since").value_or("");
  CONCLAVE_ASSIGN_OR_RETURN(sync.filter, SyncFilter(call));
  CONCLAVE_ASSIGN_OR_RETURN(auto full_state, QueryBool(request, "full_state"));
  sync.full_state = full_state.value_or(false);
  sync.set_presence = request.QueryParam("set_presence");
  CONCLAVE_ASSIGN_OR_RETURN(auto timeout_ms, QueryInt(request, "timeout"));
  if (timeout_ms && *timeout_ms < 0) return service::InvalidParam("'timeout' must be >= 0");

  const absl::Time now = absl::Now();
  absl::Time deadline = request.wait_deadline;
  if (request.wake_reason == core::WakeReason::kNone) {
    deadline = now + std::min(absl::Milliseconds(timeout_ms.value_or(0)), kMaxTimeout);
  }
  sync.may_wait = deadline > now && request.wake_reason != core::WakeReason::kTimeout &&
                  request.wake_reason != core::WakeReason::kInterrupted;
  CONCLAVE_ASSIGN_OR_RETURN(service::SyncResult result, call.hs.sync().Run(call.session, sync));
  if (!result.response) {
    core::Response wait;
    // Woken early for a typing notice that runs out, the sync reports it and ends the poll.
    absl::Time wake = result.wake_by ? std::min(deadline, *result.wake_by) : deadline;
    wait.wait = core::Wait{result.wait_key, result.wait_version, wake};
    return wait;
  }
  return JsonResponse(SyncJson(*result.response, call.session));
}

}  // namespace

absl::Status RegisterSyncRoutes(Routes& routes) {
  return routes.AddRaw("GET", "/v3/sync", Auth::kRequired, &SyncHandler);
}

}  // namespace conclave::api
