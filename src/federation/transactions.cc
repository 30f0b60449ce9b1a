// Server-Server API "Transactions" (PUT /send/{txnId}) and "End-to-End Encryption" (user/keys/
// query, user/keys/claim, user/devices/{userId}): the HTTP side; the work is service's
// (InboundTransactions, E2ee).
#include "transactions.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <string>
#include <utility>

#include "auth.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/e2ee/e2ee.h"
#include "conclave/service/federation/inbound_transactions.h"
#include "conclave/service/homeserver.h"
#include "conclave/service/protocol/errors.h"

namespace conclave::federation {
namespace {

using boost::json::array;
using boost::json::object;
using boost::json::value;

// The request's body as a JSON object: M_NOT_JSON when it is not JSON, M_BAD_JSON when not an
// object.
absl::StatusOr<object> BodyObject(const core::Request& request) {
  boost::system::error_code ec;
  value body = boost::json::parse(request.body, ec);
  if (ec) return service::NotJson("The body is not JSON");
  if (!body.is_object()) return service::BadJson("The body must be a JSON object");
  return std::move(body.get_object());
}

// The object at `body[key]`: M_MISSING_PARAM when absent, M_BAD_JSON when not an object.
absl::StatusOr<const object*> RequiredObject(const object& body, std::string_view key) {
  const value* v = body.if_contains(key);
  if (v == nullptr) return service::MissingParam(core::StrCat("'", key, "' is required"));
  if (!v->is_object()) return service::BadJson(core::StrCat("'", key, "' must be an object"));
  return &v->get_object();
}

// PUT /send/{txnId}: InboundTransactions::Receive for the authenticated origin.
absl::StatusOr<object> Send(core::Request& request, service::Homeserver& hs,
                            std::string_view origin) {
  CONCLAVE_ASSIGN_OR_RETURN(object body, BodyObject(request));
  return hs.inbound_transactions().Receive(origin, request.path_params.at("txnId"), body);
}

// {user_id: JSON} of one kind of key.
object ByUser(const std::map<std::string, object>& keys) {
  return object(keys.begin(), keys.end());
}

// POST /user/keys/query: {"device_keys": {user_id: [device_id]}} of local users.
absl::StatusOr<object> KeysQuery(core::Request& request, service::Homeserver& hs,
                                 std::string_view) {
  CONCLAVE_ASSIGN_OR_RETURN(object body, BodyObject(request));
  CONCLAVE_ASSIGN_OR_RETURN(const object* wanted, RequiredObject(body, "device_keys"));
  service::KeysQueryRequest query;
  for (const auto& [user, devices] : *wanted) {
    if (!devices.is_array()) return service::BadJson("device_keys values must be arrays");
    std::vector<std::string>& ids = query[std::string(user)];
    for (const value& id : devices.get_array()) {
      if (!id.is_string()) return service::BadJson("device ids must be strings");
      ids.emplace_back(id.get_string());
    }
  }
  CONCLAVE_ASSIGN_OR_RETURN(service::KeysQueryResult result, hs.e2ee().QueryForServer(query));
  object device_keys;
  for (const auto& [user, devices] : result.device_keys) device_keys[user] = ByUser(devices);
  return object{{"device_keys", std::move(device_keys)},
                {"master_keys", ByUser(result.master_keys)},
                {"self_signing_keys", ByUser(result.self_signing_keys)}};
}

// POST /user/keys/claim: {"one_time_keys": {user_id: {device_id: algorithm}}} of local users.
absl::StatusOr<object> KeysClaim(core::Request& request, service::Homeserver& hs,
                                 std::string_view) {
  CONCLAVE_ASSIGN_OR_RETURN(object body, BodyObject(request));
  CONCLAVE_ASSIGN_OR_RETURN(const object* wanted, RequiredObject(body, "one_time_keys"));
  service::KeysClaimRequest claim;
  for (const auto& [user, devices] : *wanted) {
    if (!devices.is_object()) return service::BadJson("one_time_keys values must be objects");
    auto& algorithms = claim[std::string(user)];
    for (const auto& [device, algorithm] : devices.get_object()) {
      if (!algorithm.is_string()) return service::BadJson("Algorithms must be strings");
      algorithms[std::string(device)] = std::string(algorithm.get_string());
    }
  }
  CONCLAVE_ASSIGN_OR_RETURN(service::KeysClaimResult result, hs.e2ee().ClaimForServer(claim));
  object claimed;
  for (const auto& [user, devices] : result.one_time_keys) {
    object by_device;
    for (const auto& [device, key] : devices) by_device[device] = object{{key.key_id, key.key}};
    claimed[user] = std::move(by_device);
  }
  return object{{"one_time_keys", std::move(claimed)}};
}

// GET /user/devices/{userId} (user_devices.yaml).
absl::StatusOr<object> UserDevices(core::Request& request, service::Homeserver& hs,
                                   std::string_view) {
  const std::string& user_id = request.path_params.at("userId");
  CONCLAVE_ASSIGN_OR_RETURN(service::E2ee::UserDevicesResult result,
                            hs.e2ee().UserDevices(user_id));
  array devices;
  for (service::E2ee::UserDevice& d : result.devices) {
    object device{{"device_id", d.device_id}, {"keys", std::move(d.keys)}};
    if (d.display_name) device["device_display_name"] = *d.display_name;
    devices.push_back(std::move(device));
  }
  object body{
      {"user_id", user_id}, {"stream_id", result.stream_id}, {"devices", std::move(devices)}};
  if (result.master_key) body["master_key"] = *std::move(result.master_key);
  if (result.self_signing_key) body["self_signing_key"] = *std::move(result.self_signing_key);
  return body;
}

}  // namespace

absl::Status RegisterTransactionRoutes(core::Router& router, std::string_view module,
                                       std::vector<core::RouteHandle>& handles) {
  const core::RouteOptions blocking{.blocking = true};
  struct Route {
    const char* method;
    const char* path;
    AuthenticatedHandler handler;
  };
  for (const Route& route :
       {Route{"PUT", "/_matrix/federation/v1/send/{txnId}", &Send},
        Route{"POST", "/_matrix/federation/v1/user/keys/query", &KeysQuery},
        Route{"POST", "/_matrix/federation/v1/user/keys/claim", &KeysClaim},
        Route{"GET", "/_matrix/federation/v1/user/devices/{userId}", &UserDevices}}) {
    CONCLAVE_ASSIGN_OR_RETURN(core::RouteHandle handle,
                              router.Add(
                                  module, route.method, route.path,
                                  [handler = route.handler](core::Request& request) {
                                    return RunAuthenticated(request, handler);
                                  },
                                  blocking));
    handles.push_back(std::move(handle));
  }
  return absl::OkStatus();
}

}  // namespace conclave::federation
