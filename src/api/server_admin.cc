// GET /v3/admin/whois/{userId} (Client-Server API "Server Administration", admin.yaml): a
// user's devices and where they were last seen, for server admins and for the user themself
// (the spec allows that restriction). The server keeps one connection per device, the last one
// (Accounts records `last_seen_ip` and `last_seen_ts` as requests arrive), and no user agent.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "conclave/core/status_macros.h"
#include "conclave/service/accounts/accounts.h"
#include "conclave/service/protocol/errors.h"
#include "routes.h"

namespace conclave::api {
namespace {

using boost::json::array;
using boost::json::object;

absl::StatusOr<boost::json::value> Whois(Call& call) {
  const std::string user_id = call.Param("userId");
  service::Accounts& accounts = call.hs.accounts();
  if (user_id != call.session.user_id && !accounts.IsAdmin(call.session.user_id)) {
    return service::Forbidden("Only server admins may look up other users");
  }
  if (!accounts.UserExists(user_id)) return service::NotFound("Unknown user");
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<service::Device> devices, accounts.ListDevices(user_id));
  object by_device;
  for (const service::Device& device : devices) {
    array connections;
    if (device.last_seen_ip || device.last_seen_ts) {
      object connection;
      if (device.last_seen_ip) connection["ip"] = *device.last_seen_ip;
      if (device.last_seen_ts) connection["last_seen"] = *device.last_seen_ts;
      connections.push_back(std::move(connection));
    }
    by_device[device.device_id] =
        object{{"sessions", array{object{{"connections", std::move(connections)}}}}};
  }
  return object{{"user_id", user_id}, {"devices", std::move(by_device)}};
}

}  // namespace

absl::Status RegisterServerAdminRoutes(Routes& routes) {
  return routes.Add("GET", "/v3/admin/whois/{userId}", Auth::kRequired, &Whois);
}

}  // namespace conclave::api
