#include "handler.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>

#include "conclave/core/str_cat.h"
#include "conclave/matrix_http/guest_access.h"
#include "conclave/service/protocol/errors.h"

namespace conclave::api {
namespace {

constexpr std::string_view kPrefix = "/_matrix/client";

std::string Key(std::string_view key) { return std::string(key); }

// Runs the authentication the route asks for, then the handler; any error becomes Matrix JSON.
// A guest session reaches only the routes of the "Guest access" module's list (`guests`).
core::Response Run(core::Request& request, Auth auth, matrix_http::GuestAccess guests,
                   const RawHandler& handler) {
  service::Homeserver* hs = service::Instance();
  if (hs == nullptr) {
    return ErrorResponse(503, service::Errcode::kUnknown, "The homeserver is not loaded");
  }
  auto session = matrix_http::Authenticate(*hs, request, auth);
  if (!session.ok()) return ErrorResponse(session.status());
  if (absl::Status allowed = matrix_http::CheckGuestAccess(*session, guests, request);
      !allowed.ok()) {
    return ErrorResponse(allowed);
  }
  Call call{request, *hs, *std::move(session)};
  absl::StatusOr<core::Response> response = handler(call);
  if (!response.ok()) return ErrorResponse(response.status());
  return *std::move(response);
}

}  // namespace

std::string Call::Param(std::string_view name) const {
  auto it = request.path_params.find(name);
  return it == request.path_params.end() ? std::string() : it->second;
}

absl::StatusOr<boost::json::object> Call::JsonBody() const {
  if (request.body.find_first_not_of(" \t\r\n") == std::string::npos) {
    return boost::json::object();
  }
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(request.body, ec);
  if (ec) return service::NotJson(core::StrCat("Content not JSON: ", ec.message()));
  if (!value.is_object()) return service::BadJson("The request body must be a JSON object");
  return std::move(value.get_object());
}

absl::Status Routes::Add(std::string_view method, std::string_view path, Auth auth,
                         JsonHandler handler, core::RouteOptions options) {
  return AddRaw(
      method, path, auth,
      [handler = std::move(handler)](Call& call) -> absl::StatusOr<core::Response> {
        auto body = handler(call);
        if (!body.ok()) return body.status();
        return JsonResponse(*body);
      },
      options);
}

absl::Status Routes::AddRaw(std::string_view method, std::string_view path, Auth auth,
                            RawHandler handler, core::RouteOptions options) {
  auto shared = std::make_shared<RawHandler>(std::move(handler));
  std::vector<std::string> full_paths = {core::StrCat(kPrefix, path)};
  if (path.substr(0, 4) == "/v3/") {
    full_paths.push_back(core::StrCat(kPrefix, "/r0/", path.substr(4)));
  }
  for (const std::string& full : full_paths) {
    const matrix_http::GuestAccess guests = matrix_http::GuestAccessOf(method, full);
    auto handle = router_.Add(
        module_, method, full,
        [shared, auth, guests](core::Request& request) {
          return Run(request, auth, guests, *shared);
        },
        options);
    if (!handle.ok()) return handle.status();
    handles_.push_back(*std::move(handle));
  }
  return absl::OkStatus();
}

std::optional<std::string> AccessToken(const core::Request& request) {
  return core::AccessTokenOf(request);
}

core::Response JsonResponse(const boost::json::value& body, int status) {
  core::Response response;
  response.status = status;
  response.body = boost::json::serialize(body);
  return response;
}

absl::StatusOr<std::string> RequiredString(const boost::json::object& body, std::string_view key) {
  const boost::json::value* v = body.if_contains(Key(key));
  if (v == nullptr || v->is_null()) {
    return service::MissingParam(core::StrCat("Missing '", key, "'"));
  }
  if (!v->is_string()) return service::BadJson(core::StrCat("'", key, "' must be a string"));
  return std::string(v->get_string());
}

absl::StatusOr<std::optional<std::string>> OptionalString(const boost::json::object& body,
                                                          std::string_view key) {
  const boost::json::value* v = body.if_contains(Key(key));
  if (v == nullptr || v->is_null()) return std::optional<std::string>();
  if (!v->is_string()) return service::BadJson(core::StrCat("'", key, "' must be a string"));
  return std::optional<std::string>(std::string(v->get_string()));
}

absl::StatusOr<std::optional<bool>> OptionalBool(const boost::json::object& body,
                                                 std::string_view key) {
  const boost::json::value* v = body.if_contains(Key(key));
  if (v == nullptr || v->is_null()) return std::optional<bool>();
  if (!v->is_bool()) return service::BadJson(core::StrCat("'", key, "' must be a boolean"));
  return std::optional<bool>(v->get_bool());
}

absl::StatusOr<std::optional<int64_t>> OptionalInt(const boost::json::object& body,
                                                   std::string_view key) {
  const boost::json::value* v = body.if_contains(Key(key));
  if (v == nullptr || v->is_null()) return std::optional<int64_t>();
  if (v->is_int64()) return std::optional<int64_t>(v->get_int64());
  if (v->is_uint64() && v->get_uint64() <= INT64_MAX) {
    return std::optional<int64_t>(static_cast<int64_t>(v->get_uint64()));
  }
  return service::BadJson(core::StrCat("'", key, "' must be an integer"));
}

absl::StatusOr<const boost::json::object*> OptionalObject(const boost::json::object& body,
                                                          std::string_view key) {
  const boost::json::value* v = body.if_contains(Key(key));
  if (v == nullptr || v->is_null()) return static_cast<const boost::json::object*>(nullptr);
  if (!v->is_object()) return service::BadJson(core::StrCat("'", key, "' must be an object"));
  return &v->get_object();
}

absl::StatusOr<std::optional<int64_t>> QueryInt(const core::Request& request,
                                                std::string_view name) {
  std::optional<std::string> text = request.QueryParam(name);
  if (!text) return std::optional<int64_t>();
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || ptr != text->data() + text->size()) {
    return service::InvalidParam(core::StrCat("Query parameter '", name, "' must be an integer"));
  }
  return std::optional<int64_t>(value);
}

absl::StatusOr<std::optional<bool>> QueryBool(const core::Request& request, std::string_view name) {
  std::optional<std::string> text = request.QueryParam(name);
  if (!text) return std::optional<bool>();
  if (*text == "true") return std::optional<bool>(true);
  if (*text == "false") return std::optional<bool>(false);
  return service::InvalidParam(core::StrCat("Query parameter '", name, "' must be true or false"));
}

}  // namespace conclave::api
