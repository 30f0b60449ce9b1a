// Server-Server API, "Server implementation" (GET /version) and "Retrieving server keys":
// "Publishing Keys" (GET /_matrix/key/v2/server) and "Querying Keys Through Another Server" (the
// notary endpoints: this server's own keys, and other servers' from RemoteKeys, fetched when the
// cache has none valid until minimum_valid_until_ts, countersigned; an unreachable server with
// no cached keys is left out).
#include "keys.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "conclave/core/build_info.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/matrix_http/error_response.h"
#include "conclave/service/federation/remote_keys.h"
#include "conclave/service/federation/server_key.h"
#include "conclave/service/homeserver.h"
#include "conclave/service/protocol/clock.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/identifiers.h"

namespace conclave::federation {
namespace {

using Handler =
    std::function<absl::StatusOr<boost::json::value>(core::Request&, service::Homeserver&)>;

core::Response Json(const boost::json::value& body) {
  return core::Response{200, "application/json", boost::json::serialize(body), {}, {}, {}};
}

// Runs `handler` with the loaded homeserver; its error becomes the Matrix error response.
core::Response Run(core::Request& request, const Handler& handler) {
  service::Homeserver* hs = service::Instance();
  if (hs == nullptr) {
    return matrix_http::ErrorResponse(503, service::Errcode::kUnknown,
                                      "The homeserver is not loaded");
  }
  absl::StatusOr<boost::json::value> body = handler(request, *hs);
  if (!body.ok()) return matrix_http::ErrorResponse(body.status());
  return Json(*body);
}

absl::StatusOr<boost::json::object> OwnKeys(const service::Homeserver& hs,
                                            const FederationSettings& settings) {
  const int64_t valid_until =
      service::NowMs() + absl::ToInt64Milliseconds(settings.Get().key_valid_for);
  return service::SignedServerKeys(hs.server_name(), hs.signing_key(), valid_until);
}

// One server asked for, with the minimum_valid_until_ts its criteria ask (the largest).
struct Asked {
  std::string server_name;
  int64_t minimum_valid_until_ts = 0;
};

// keys_query_response.yaml: `server_keys`, the keys of the servers asked for that we have.
absl::StatusOr<boost::json::value> QueryAnswer(const std::vector<Asked>& asked,
                                               service::Homeserver& hs,
                                               const FederationSettings& settings) {
  boost::json::array server_keys;
  for (const Asked& server : asked) {
    if (server.server_name == hs.server_name()) {
      CONCLAVE_ASSIGN_OR_RETURN(boost::json::object keys, OwnKeys(hs, settings));
      server_keys.emplace_back(std::move(keys));
      continue;
    }
    if (!service::IsValidServerName(server.server_name)) continue;
    CONCLAVE_ASSIGN_OR_RETURN(
        std::optional<boost::json::object> keys,
        hs.remote_keys().NotaryAnswer(server.server_name, server.minimum_valid_until_ts));
    if (keys.has_value()) server_keys.emplace_back(*std::move(keys));
  }
  return boost::json::object{{"server_keys", std::move(server_keys)}};
}

// A `minimum_valid_until_ts`, when given, is an integer (keys_query.yaml); absent: now.
absl::StatusOr<int64_t> MinimumValidUntil(const boost::json::value* value, std::string_view where) {
  if (value == nullptr) return service::NowMs();
  if (value->is_int64()) return value->as_int64();
  if (value->is_uint64())
    return static_cast<int64_t>(std::min<uint64_t>(value->as_uint64(), INT64_MAX));
  return service::BadJson(core::StrCat(where, ".minimum_valid_until_ts must be an integer"));
}

// POST /_matrix/key/v2/query: {"server_keys": {server_name: {key_id: {criteria}}}}.
absl::StatusOr<boost::json::value> PostQuery(core::Request& request, service::Homeserver& hs,
                                             const FederationSettings& settings) {
  boost::system::error_code ec;
  boost::json::value body = boost::json::parse(request.body, ec);
  if (ec) return service::NotJson("The request body is not JSON");
  if (!body.is_object()) return service::BadJson("The request body must be a JSON object");
  const boost::json::value* servers = body.get_object().if_contains("server_keys");
  if (servers == nullptr) return service::MissingParam("server_keys is required");
  if (!servers->is_object()) return service::BadJson("server_keys must be an object");
  std::vector<Asked> asked;
  for (const auto& [server_name, key_ids] : servers->get_object()) {
    if (!key_ids.is_object()) {
      return service::BadJson(core::StrCat("server_keys.", server_name, " must be an object"));
    }
    Asked server{.server_name = std::string(server_name), .minimum_valid_until_ts = 0};
    // "If no key IDs are given to be queried, the notary server should query for all keys":
    // and "may return multiple keys regardless of the Key IDs given": all of them either way.
    server.minimum_valid_until_ts = service::NowMs();
    for (const auto& [key_id, criteria] : key_ids.get_object()) {
      const std::string where = core::StrCat("server_keys.", server_name, ".", key_id);
      if (!criteria.is_object()) return service::BadJson(core::StrCat(where, " must be an object"));
      CONCLAVE_ASSIGN_OR_RETURN(
          int64_t minimum,
          MinimumValidUntil(criteria.get_object().if_contains("minimum_valid_until_ts"), where));
      server.minimum_valid_until_ts = std::max(server.minimum_valid_until_ts, minimum);
    }
    asked.push_back(std::move(server));
  }
  return QueryAnswer(asked, hs, settings);
}

// GET /_matrix/key/v2/query/{serverName}?minimum_valid_until_ts=.
absl::StatusOr<boost::json::value> GetQuery(core::Request& request, service::Homeserver& hs,
                                            const FederationSettings& settings) {
  int64_t minimum = service::NowMs();
  if (std::optional<std::string> text = request.QueryParam("minimum_valid_until_ts")) {
    if (!absl::SimpleAtoi(*text, &minimum)) {
      return service::InvalidParam("minimum_valid_until_ts must be an integer");
    }
  }
  auto it = request.path_params.find("serverName");
  if (it == request.path_params.end()) return QueryAnswer({}, hs, settings);
  return QueryAnswer({Asked{.server_name = it->second, .minimum_valid_until_ts = minimum}}, hs,
                     settings);
}

}  // namespace

absl::Status RegisterKeyRoutes(core::Router& router, std::string_view module,
                               const FederationSettings& settings,
                               std::vector<core::RouteHandle>& handles) {
  auto add = [&](std::string_view method, std::string_view path, Handler handler,
                 core::RouteOptions options = {}) {
    CONCLAVE_ASSIGN_OR_RETURN(core::RouteHandle handle,
                              router.Add(
                                  module, method, path,
                                  [handler = std::move(handler)](core::Request& request) {
                                    return Run(request, handler);
                                  },
                                  options));
    handles.push_back(std::move(handle));
    return absl::OkStatus();
  };
  CONCLAVE_RETURN_IF_ERROR(add(
      "GET", "/_matrix/federation/v1/version",
      [](core::Request&, service::Homeserver&) -> absl::StatusOr<boost::json::value> {
        return boost::json::object{
            {"server",
             boost::json::object{{"name", "conclave"}, {"version", std::string(core::Version())}}}};
      }));
  CONCLAVE_RETURN_IF_ERROR(add(
      "GET", "/_matrix/key/v2/server",
      [&settings](core::Request&, service::Homeserver& hs) -> absl::StatusOr<boost::json::value> {
        CONCLAVE_ASSIGN_OR_RETURN(boost::json::object keys, OwnKeys(hs, settings));
        return keys;
      }));
  // The notary fetches other servers' keys: blocking routes.
  const core::RouteOptions blocking{.blocking = true};
  CONCLAVE_RETURN_IF_ERROR(add(
      "GET", "/_matrix/key/v2/query/{serverName}",
      [&settings](core::Request& request, service::Homeserver& hs) {
        return GetQuery(request, hs, settings);
      },
      blocking));
  return add(
      "POST", "/_matrix/key/v2/query",
      [&settings](core::Request& request, service::Homeserver& hs) {
        return PostQuery(request, hs, settings);
      },
      blocking);
}

}  // namespace conclave::federation
