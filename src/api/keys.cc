// Device keys, one-time keys, cross-signing keys and device-list changes: POST /keys/upload,
// /keys/query, /keys/claim, /keys/device_signing/upload, /keys/signatures/upload and GET
// /keys/changes (Client-Server API
// "End-to-End Encryption", keys.yaml, cross_signing.yaml). The checks and storage are service's
// E2ee.
#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <map>
#include <string>
#include <vector>

#include "conclave/core/status_macros.h"
#include "conclave/service/e2ee/e2ee.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/rooms/rooms.h"
#include "conclave/service/storage/stream.h"
#include "routes.h"
#include "uia.h"

namespace conclave::api {
namespace {

using boost::json::array;
using boost::json::object;

// The object member `key` of `body` as a map (empty when absent); M_BAD_JSON if not an object.
absl::StatusOr<std::map<std::string, boost::json::value>> ValueMap(const object& body,
                                                                   std::string_view key) {
  CONCLAVE_ASSIGN_OR_RETURN(const object* member, OptionalObject(body, key));
  std::map<std::string, boost::json::value> out;
  if (member != nullptr) {
    for (const auto& [k, v] : *member) out.emplace(std::string(k), v);
  }
  return out;
}

absl::StatusOr<boost::json::value> Upload(Call& call) {
  CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
  service::KeysUploadRequest request;
  CONCLAVE_ASSIGN_OR_RETURN(const object* device_keys, OptionalObject(body, "device_keys"));
  if (device_keys != nullptr) request.device_keys = *device_keys;
  CONCLAVE_ASSIGN_OR_RETURN(request.one_time_keys, ValueMap(body, "one_time_keys"));
  CONCLAVE_ASSIGN_OR_RETURN(request.fallback_keys, ValueMap(body, "fallback_keys"));
  CONCLAVE_ASSIGN_OR_RETURN(service::KeyCounts counts,
                            call.hs.e2ee().Upload(call.session, request));
  object json;
  for (const auto& [algorithm, count] : counts) json[algorithm] = count;
  return object{{"one_time_key_counts", std::move(json)}};
}

// keys.yaml `failures`: server name → {status, message}.
object FailuresJson(const std::map<std::string, service::ServerFailure>& failures) {
  object out;
  for (const auto& [server, failure] : failures) {
    out[server] = object{{"status", failure.status}, {"message", failure.message}};
  }
  return out;
}

// {user_id: JSON} of one kind of cross-signing key.
object ByUserJson(const std::map<std::string, object>& keys) {
  return object(keys.begin(), keys.end());
}

// keys.yaml's `timeout` of /keys/query and /keys/claim: milliseconds, a non-negative integer when
// present (M_BAD_JSON otherwise), 10 s when absent (the spec's recommended default). It bounds
// the fan-out to the other servers' /user/keys/query and /user/keys/claim (E2ee::Query, Claim);
// at most a minute, so a client cannot hold a blocking-pool thread longer.
absl::StatusOr<absl::Duration> RemoteTimeout(const object& body) {
  const boost::json::value* timeout = body.if_contains("timeout");
  if (timeout == nullptr || timeout->is_null()) return absl::Seconds(10);
  int64_t ms = -1;
  if (timeout->is_uint64()) {
    ms = static_cast<int64_t>(std::min<uint64_t>(timeout->get_uint64(), 60'000));
  } else if (timeout->is_int64()) {
    ms = timeout->get_int64();
  }
  if (ms < 0) return service::BadJson("'timeout' must be a non-negative integer (milliseconds)");
  return absl::Milliseconds(std::min<int64_t>(ms, 60'000));
}

absl::StatusOr<boost::json::value> Query(Call& call) {
  CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
  CONCLAVE_ASSIGN_OR_RETURN(const object* wanted, OptionalObject(body, "device_keys"));
  if (wanted == nullptr) return service::MissingParam("'device_keys' is required");
  CONCLAVE_ASSIGN_OR_RETURN(absl::Duration timeout, RemoteTimeout(body));
  service::KeysQueryRequest request;
  for (const auto& [user, devices] : *wanted) {
    if (!devices.is_array()) {
      return service::BadJson("device_keys values must be arrays of device ids");
    }
    std::vector<std::string>& ids = request[std::string(user)];
    for (const boost::json::value& id : devices.get_array()) {
      if (!id.is_string()) return service::BadJson("device ids must be strings");
      ids.emplace_back(id.get_string());
    }
  }
  CONCLAVE_ASSIGN_OR_RETURN(service::KeysQueryResult result,
                            call.hs.e2ee().Query(call.session, request, timeout));
  object device_keys;
  for (const auto& [user, devices] : result.device_keys) {
    device_keys[user] = ByUserJson(devices);
  }
  return object{{"device_keys", std::move(device_keys)},
                {"failures", FailuresJson(result.failures)},
                {"master_keys", ByUserJson(result.master_keys)},
                {"self_signing_keys", ByUserJson(result.self_signing_keys)},
                {"user_signing_keys", ByUserJson(result.user_signing_keys)}};
}

absl::StatusOr<boost::json::value> Claim(Call& call) {
  CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
  CONCLAVE_ASSIGN_OR_RETURN(const object* wanted, OptionalObject(body, "one_time_keys"));
  if (wanted == nullptr) return service::MissingParam("'one_time_keys' is required");
  CONCLAVE_ASSIGN_OR_RETURN(absl::Duration timeout, RemoteTimeout(body));
  service::KeysClaimRequest request;
  for (const auto& [user, devices] : *wanted) {
    if (!devices.is_object()) return service::BadJson("one_time_keys values must be objects");
    std::map<std::string, std::string>& algorithms = request[std::string(user)];
    for (const auto& [device, algorithm] : devices.get_object()) {
      if (!algorithm.is_string()) return service::BadJson("Algorithms must be strings");
      algorithms[std::string(device)] = std::string(algorithm.get_string());
    }
  }
  CONCLAVE_ASSIGN_OR_RETURN(service::KeysClaimResult result,
                            call.hs.e2ee().Claim(request, timeout));
  object claimed;
  for (const auto& [user, devices] : result.one_time_keys) {
    object by_device;
    for (const auto& [device, key] : devices) by_device[device] = object{{key.key_id, key.key}};
    claimed[user] = std::move(by_device);
  }
  return object{{"one_time_keys", std::move(claimed)}, {"failures", FailuresJson(result.failures)}};
}

// POST /keys/device_signing/upload (cross_signing.yaml): user-interactive auth (m.login.password)
// only when it would replace keys the user already has.
absl::StatusOr<core::Response> UploadCrossSigning(Call& call) {
  CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
  CONCLAVE_ASSIGN_OR_RETURN(bool needs_auth,
                            call.hs.e2ee().CrossSigningNeedsAuth(call.session, body));
  if (needs_auth) {
    CONCLAVE_ASSIGN_OR_RETURN(UiaOutcome uia, PasswordStage(call, body));
    if (uia.reply) return *std::move(uia.reply);
  }
  CONCLAVE_RETURN_IF_ERROR(call.hs.e2ee().UploadCrossSigning(call.session, body));
  return JsonResponse(object());
}

absl::StatusOr<boost::json::value> UploadSignatures(Call& call) {
  CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
  service::SignaturesUploadRequest request;
  for (const auto& [user, keys] : body) {
    if (!keys.is_object()) return service::BadJson("Each user's value must be an object of keys");
    for (const auto& [key_id, key] : keys.get_object()) {
      request[std::string(user)].emplace(std::string(key_id), key);
    }
  }
  CONCLAVE_ASSIGN_OR_RETURN(service::SignatureFailures failures,
                            call.hs.e2ee().UploadSignatures(call.session, request));
  object json;
  for (const auto& [user, by_key] : failures) {
    object out;
    for (const auto& [key_id, status] : by_key) {
      out[key_id] = object{{"errcode", service::ErrcodeName(service::ErrcodeOf(status))},
                           {"error", std::string(status.message())}};
    }
    json[user] = std::move(out);
  }
  return object{{"failures", std::move(json)}};
}

// GET /keys/changes?from=&to=: tokens of /sync (or /messages) bound the window.
absl::StatusOr<boost::json::value> Changes(Call& call) {
  std::optional<std::string> from = call.request.QueryParam("from");
  std::optional<std::string> to = call.request.QueryParam("to");
  if (!from || !to) return service::MissingParam("'from' and 'to' are required");
  CONCLAVE_ASSIGN_OR_RETURN(uint64_t after, service::ParsePositionToken(*from));
  CONCLAVE_ASSIGN_OR_RETURN(uint64_t upto, service::ParsePositionToken(*to));
  CONCLAVE_ASSIGN_OR_RETURN(auto memberships, call.hs.rooms().UserRooms(call.session.user_id));
  CONCLAVE_ASSIGN_OR_RETURN(service::DeviceListChanges changes,
                            call.hs.e2ee().Changes(call.session.user_id, after, upto, memberships));
  array changed(changes.changed.begin(), changes.changed.end());
  array left(changes.left.begin(), changes.left.end());
  return object{{"changed", std::move(changed)}, {"left", std::move(left)}};
}

}  // namespace

absl::Status RegisterKeyRoutes(Routes& routes) {
  CONCLAVE_RETURN_IF_ERROR(routes.Add("POST", "/v3/keys/upload", Auth::kRequired, &Upload));
  // Blocking: users of other servers are asked of their servers (FederationClient).
  CONCLAVE_RETURN_IF_ERROR(routes.Add("POST", "/v3/keys/query", Auth::kRequired, &Query,
                                      core::RouteOptions{.blocking = true}));
  CONCLAVE_RETURN_IF_ERROR(routes.Add("POST", "/v3/keys/claim", Auth::kRequired, &Claim,
                                      core::RouteOptions{.blocking = true}));
  // Blocking: the password stage hashes with argon2 (core::RouteOptions).
  CONCLAVE_RETURN_IF_ERROR(routes.AddRaw("POST", "/v3/keys/device_signing/upload", Auth::kRequired,
                                         &UploadCrossSigning,
                                         core::RouteOptions{.blocking = true}));
  CONCLAVE_RETURN_IF_ERROR(
      routes.Add("POST", "/v3/keys/signatures/upload", Auth::kRequired, &UploadSignatures));
  return routes.Add("GET", "/v3/keys/changes", Auth::kRequired, &Changes);
}

}  // namespace conclave::api
