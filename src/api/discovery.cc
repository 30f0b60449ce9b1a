#include "discovery.h"

#include <boost/json.hpp>

#include "conclave/api/api.h"
#include "conclave/core/build_info.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/storage/globals.h"

namespace conclave::api {
namespace {

core::Response Json(const boost::json::value& value) {
  return core::Response{200, "application/json", boost::json::serialize(value), {}, {}};
}

// The body of GET /_matrix/client/versions (Client-Server API, "GET /_matrix/client/versions").
// Constant: serialized once, when the route is registered (clients and load balancers poll it).
std::string VersionsBody() {
  return boost::json::serialize(boost::json::value{
      {"versions", boost::json::array{"v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6"}},
      // Simplified sliding sync (MSC4186, api/sliding_sync.cc).
      {"unstable_features", boost::json::object{{"org.matrix.simplified_msc3575", true}}}});
}

// GET /.well-known/matrix/client ("Server discovery"). The base URL is the server name over
// https unless the request came for a host we can echo.
core::Response WellKnown(core::Request& request) {
  service::Globals* globals = service::GlobalsInstance();
  std::string base = core::StrCat("https://", globals ? globals->server_name() : "localhost");
  if (auto host = request.Header("Host"); host && !host->empty()) {
    base = core::StrCat("http://", *host);
  }
  return Json({{"m.homeserver", {{"base_url", base}}}});
}

// GET /_conclave/server_version: this server's name and version.
core::Response ServerVersion(core::Request&) {
  boost::json::object body{{"name", "conclave"}, {"version", std::string(core::Version())}};
#ifdef CONCLAVE_API_VARIANT
  // Built only for the reload tests: a second build of api whose behaviour differs.
  body["variant"] = CONCLAVE_API_VARIANT;
#endif
  return Json(body);
}

}  // namespace

absl::StatusOr<std::vector<core::RouteHandle>> RegisterDiscovery(core::Router& router,
                                                                 std::string_view module) {
  std::vector<core::RouteHandle> handles;
  CONCLAVE_ASSIGN_OR_RETURN(
      auto versions,
      router.Add(module, "GET", kVersionsPath, [body = VersionsBody()](core::Request&) {
        return core::Response{200, "application/json", body, {}, {}};
      }));
  handles.push_back(std::move(versions));
  CONCLAVE_ASSIGN_OR_RETURN(auto well_known, router.Add(module, "GET", kWellKnownPath, &WellKnown));
  handles.push_back(std::move(well_known));
  CONCLAVE_ASSIGN_OR_RETURN(auto server_version,
                            router.Add(module, "GET", kServerVersionPath, &ServerVersion));
  handles.push_back(std::move(server_version));
  return handles;
}

}  // namespace conclave::api
