// PUT /sendToDevice/{eventType}/{txnId} (Client-Server API "Send-to-Device messaging",
// to_device.yaml). Delivery is /sync's (service/sync/e2ee_sections.cc).
#include <boost/json/object.hpp>

#include "conclave/core/status_macros.h"
#include "conclave/service/e2ee/e2ee.h"
#include "conclave/service/protocol/errors.h"
#include "routes.h"

namespace conclave::api {
namespace {

absl::StatusOr<boost::json::value> Send(Call& call) {
  CONCLAVE_ASSIGN_OR_RETURN(boost::json::object body, call.JsonBody());
  CONCLAVE_ASSIGN_OR_RETURN(const boost::json::object* messages, OptionalObject(body, "messages"));
  if (messages == nullptr) return service::MissingParam("'messages' is required");
  CONCLAVE_RETURN_IF_ERROR(call.hs.e2ee().SendToDevice(call.session, call.Param("eventType"),
                                                       call.Param("txnId"), *messages));
  return boost::json::object();
}

}  // namespace

absl::Status RegisterToDeviceRoutes(Routes& routes) {
  return routes.Add("PUT", "/v3/sendToDevice/{eventType}/{txnId}", Auth::kRequired, &Send);
}

}  // namespace conclave::api
