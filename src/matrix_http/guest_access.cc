#include "conclave/matrix_http/guest_access.h"

#include <string>

#include "conclave/service/protocol/errors.h"

namespace conclave::matrix_http {
namespace {

struct Entry {
  std::string_view method;
  std::string_view path;  // after "/_matrix/client", with "/r0/" read as "/v3/"
};

// Client-Server API, "Guest access", "Client behaviour": the endpoints listed there. The profile
// fields are kDisplayNameOnly, below.
constexpr Entry kAllowed[] = {
    // Retrieving events and associated media.
    {"GET", "/v3/rooms/{roomId}/state"},
    {"GET", "/v3/rooms/{roomId}/context/{eventId}"},
    {"GET", "/v3/rooms/{roomId}/event/{eventId}"},
    // GET /rooms/{roomId}/state/{eventType}/{stateKey}, also with the empty state key omitted.
    {"GET", "/v3/rooms/{roomId}/state/{eventType}"},
    {"GET", "/v3/rooms/{roomId}/state/{eventType}/{stateKey}"},
    {"GET", "/v3/rooms/{roomId}/messages"},
    {"GET", "/v3/rooms/{roomId}/members"},
    {"GET", "/v3/rooms/{roomId}/initialSync"},
    {"GET", "/v3/sync"},
    {"GET", "/v3/events"},
    {"GET", "/v1/media/download/{serverName}/{mediaId}"},
    {"GET", "/v1/media/download/{serverName}/{mediaId}/{fileName}"},
    {"GET", "/v1/media/thumbnail/{serverName}/{mediaId}"},
    // Sending events.
    {"POST", "/v3/rooms/{roomId}/join"},
    {"POST", "/v3/rooms/{roomId}/leave"},
    {"PUT", "/v3/rooms/{roomId}/send/{eventType}/{txnId}"},
    {"PUT", "/v3/rooms/{roomId}/state/{eventType}"},
    {"PUT", "/v3/rooms/{roomId}/state/{eventType}/{stateKey}"},
    {"PUT", "/v3/sendToDevice/{eventType}/{txnId}"},
    // Account maintenance.
    {"GET", "/v3/devices"},
    {"GET", "/v3/devices/{deviceId}"},
    {"PUT", "/v3/devices/{deviceId}"},
    {"GET", "/v3/account/whoami"},
    // End-to-end encryption.
    {"POST", "/v3/keys/upload"},
    {"POST", "/v3/keys/query"},
    {"POST", "/v3/keys/claim"},
};

constexpr std::string_view kClientPrefix = "/_matrix/client";

}  // namespace

GuestAccess GuestAccessOf(std::string_view method, std::string_view route) {
  if (route.substr(0, kClientPrefix.size()) != kClientPrefix) return GuestAccess::kNo;
  std::string path(route.substr(kClientPrefix.size()));
  if (path.substr(0, 4) == "/r0/") path.replace(0, 4, "/v3/");
  for (const Entry& e : kAllowed) {
    if (e.method == method && e.path == path) return GuestAccess::kYes;
  }
  // "Guest users may only modify their display name; other profile fields may not be changed",
  // and (v1.16) may delete it but no other field.
  if ((method == "PUT" || method == "DELETE") && path == "/v3/profile/{userId}/{keyName}") {
    return GuestAccess::kDisplayNameOnly;
  }
  return GuestAccess::kNo;
}

absl::Status CheckGuestAccess(const service::Session& session, GuestAccess access,
                              const core::Request& request) {
  if (!session.is_guest || access == GuestAccess::kYes) return absl::OkStatus();
  if (access == GuestAccess::kDisplayNameOnly) {
    auto key = request.path_params.find("keyName");
    if (key != request.path_params.end() && key->second == "displayname") {
      return absl::OkStatus();
    }
  }
  return service::MatrixStatus(service::Errcode::kGuestAccessForbidden,
                               "Guest accounts may not use this endpoint");
}

}  // namespace conclave::matrix_http
