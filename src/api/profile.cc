// Profile, presence and user directory routes. Client-Server API: profile.yaml, presence.yaml,
// users.yaml (user_directory/search).
//
// Profiles: only `displayname` and `avatar_url` are stored (the m.profile_fields capability says
// so); other valid keys read as absent and cannot be set. Profiles and presence of users of other
// servers are M_NOT_FOUND: there is no federation.
#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "conclave/core/log.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/identifiers.h"
#include "conclave/service/rooms/rooms.h"
#include "routes.h"

namespace conclave::api {
namespace {

using boost::json::array;
using boost::json::object;

// Bounds that keep a profile well under the spec's 64 KiB and the member events that carry it
// under the event size limit (Synapse uses the same two).
constexpr size_t kMaxDisplayNameBytes = 256;
constexpr size_t kMaxAvatarUrlBytes = 1000;

// profile.yaml types avatar_url as `format: uri`: RFC 3986 §3.1, a scheme (ALPHA *( ALPHA /
// DIGIT / "+" / "-" / "." )) and ":", then no whitespace or control characters. mxc:// is what
// clients set; other schemes (https:, bridged profiles) are URIs too.
bool HasUriScheme(std::string_view text) {
  const size_t colon = text.find(':');
  if (colon == 0 || colon == std::string_view::npos) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!alpha(text[0])) return false;
  for (char c : text.substr(1, colon - 1)) {
    if (!alpha(c) && !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.') return false;
  }
  for (char c : text) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  }
  return true;
}
// "The supplied profile key exceeds the maximum allowed key length of 255 bytes."
constexpr size_t kMaxProfileKeyBytes = 255;
// How recent the last activity must be for `currently_active` (presence.yaml).
constexpr absl::Duration kCurrentlyActive = absl::Minutes(5);
constexpr int64_t kMaxDirectoryLimit = 1000;

// `keyName` of profile.yaml: `avatar_url`, `displayname`, `m.tz`, or
// [a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+ (Common Namespaced Identifier Grammar).
bool IsValidProfileKey(std::string_view key) {
  if (key == "avatar_url" || key == "displayname" || key == "m.tz") return true;
  size_t parts = 0;
  size_t start = 0;
  while (true) {
    size_t end = key.find('.', start);
    std::string_view part = key.substr(start, end == std::string_view::npos ? end : end - start);
    if (part.empty() || part[0] < 'a' || part[0] > 'z') return false;
    for (char c : part) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    }
    ++parts;
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return parts >= 2;
}

absl::Status CheckProfileKey(std::string_view key) {
  if (key.size() > kMaxProfileKeyBytes) {
    return service::MatrixStatus(service::Errcode::kKeyTooLarge,
                                 "The profile key is longer than 255 bytes");
  }
  if (!IsValidProfileKey(key)) return service::InvalidParam("Invalid profile key");
  return absl::OkStatus();
}

// A user id of this server from the path, or why not: M_INVALID_PARAM when malformed,
// M_NOT_FOUND for another server's user.
absl::StatusOr<std::string> LocalUserParam(Call& call) {
  std::string user_id = call.Param("userId");
  CONCLAVE_ASSIGN_OR_RETURN(service::UserId parsed, service::ParseUserId(user_id));
  if (parsed.server_name != call.hs.server_name()) {
    return service::NotFound("User not found (no federation)");
  }
  return user_id;
}

absl::Status CheckSelf(const Call& call, std::string_view what) {
  if (call.Param("userId") != call.session.user_id) {
    return service::Forbidden(core::StrCat("Cannot ", what, " of other users"));
  }
  return absl::OkStatus();
}

std::optional<std::string> Field(const service::Profile& profile, std::string_view key) {
  if (key == "displayname") return profile.displayname;
  if (key == "avatar_url") return profile.avatar_url;
  return std::nullopt;
}

// Stores `value` (nullopt: removes) as profile field `key` of the caller and, if it changed,
// sends a new membership event with the profile into each joined room (Client-Server API,
// "Events on Change of Profile Information").
absl::Status SetProfileField(Call& call, std::string_view key, std::optional<std::string> value) {
  service::Accounts& accounts = call.hs.accounts();
  const std::string& user_id = call.session.user_id;
  CONCLAVE_ASSIGN_OR_RETURN(service::Profile before, accounts.GetProfile(user_id));
  if (Field(before, key) == value) return absl::OkStatus();
  if (key == "displayname") {
    CONCLAVE_RETURN_IF_ERROR(accounts.SetDisplayName(user_id, std::move(value)));
  } else {
    CONCLAVE_RETURN_IF_ERROR(accounts.SetAvatarUrl(user_id, std::move(value)));
  }
  // The profile is stored; a room that missed the update is not worth failing the request.
  if (absl::Status reflected = call.hs.rooms().ReflectProfile(user_id); !reflected.ok()) {
    CONCLAVE_LOG(kWarn, "api", "profile of {} not reflected into its rooms: {}", user_id,
                 reflected.ToString());
  }
  return absl::OkStatus();
}

// GET /v3/profile/{userId}.
absl::StatusOr<boost::json::value> GetProfile(Call& call) {
  CONCLAVE_ASSIGN_OR_RETURN(std::string user_id, LocalUserParam(call));
  CONCLAVE_ASSIGN_OR_RETURN(service::Profile profile, call.hs.accounts().GetProfile(user_id));
  object out;
  if (profile.avatar_url) out["avatar_url"] = *profile.avatar_url;
  if (profile.displayname) out["displayname"] = *profile.displayname;
  return out;
}

// GET /v3/profile/{userId}/{keyName}.
absl::StatusOr<boost::json::value> GetProfileField(Call& call) {
  const std::string key = call.Param("keyName");
  CONCLAVE_RETURN_IF_ERROR(CheckProfileKey(key));
  CONCLAVE_ASSIGN_OR_RETURN(std::string user_id, LocalUserParam(call));
  CONCLAVE_ASSIGN_OR_RETURN(service::Profile profile, call.hs.accounts().GetProfile(user_id));
  std::optional<std::string> value = Field(profile, key);
  if (!value) return service::NotFound(core::StrCat("The user has no '", key, "'"));
  return object{{key, *value}};
}

// PUT /v3/profile/{userId}/{keyName}. An empty string removes the field, as clients that predate
// the DELETE endpoint do; `null` is refused ("Servers MAY reject null values").
absl::StatusOr<boost::json::value> PutProfileField(Call& call) {
  const std::string key = call.Param("keyName");
  CONCLAVE_RETURN_IF_ERROR(CheckProfileKey(key));
  CONCLAVE_RETURN_IF_ERROR(CheckSelf(call, "change the profile"));
  if (key != "displayname" && key != "avatar_url") {
    return service::Forbidden(core::StrCat("The profile field '", key, "' cannot be set here"));
  }
  CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
  const boost::json::value* value = body.if_contains(key);
  if (value == nullptr) return service::MissingParam(core::StrCat("Missing '", key, "'"));
  if (!value->is_string()) return service::BadJson(core::StrCat("'", key, "' must be a string"));
  std::string text(value->get_string());
  if (key == "displayname" && text.size() > kMaxDisplayNameBytes) {
    return service::InvalidParam(
        core::StrCat("displayname may not be longer than ", kMaxDisplayNameBytes, " bytes"));
  }
  if (key == "avatar_url") {
    if (text.size() > kMaxAvatarUrlBytes) {
      return service::InvalidParam(
          core::StrCat("avatar_url may not be longer than ", kMaxAvatarUrlBytes, " bytes"));
    }
    if (!text.empty() && !HasUriScheme(text)) {
      return service::InvalidParam("avatar_url must be a URI (such as mxc://server/media_id)");
    }
  }
  std::optional<std::string> stored;
  if (!text.empty()) stored = std::move(text);
  CONCLAVE_RETURN_IF_ERROR(SetProfileField(call, key, std::move(stored)));
  return object();
}

// DELETE /v3/profile/{userId}/{keyName}: fields this server does not store "don't exist", which
// is a success.
absl::StatusOr<boost::json::value> DeleteProfileField(Call& call) {
  const std::string key = call.Param("keyName");
  CONCLAVE_RETURN_IF_ERROR(CheckProfileKey(key));
  CONCLAVE_RETURN_IF_ERROR(CheckSelf(call, "change the profile"));
  if (key == "displayname" || key == "avatar_url") {
    CONCLAVE_RETURN_IF_ERROR(SetProfileField(call, key, std::nullopt));
  }
  return object();
}

// GET /v3/presence/{userId}/status. Any signed-in user may read a local user's presence.
absl::StatusOr<boost::json::value> GetPresence(Call& call) {
  CONCLAVE_ASSIGN_OR_RETURN(std::string user_id, LocalUserParam(call));
  CONCLAVE_ASSIGN_OR_RETURN(service::PresenceState state, call.hs.accounts().GetPresence(user_id));
  object out{{"presence", state.presence}};
  if (state.last_active_ts > 0) {
    const int64_t ago =
        std::max<int64_t>(0, absl::ToUnixMillis(absl::Now()) - state.last_active_ts);
    out["last_active_ago"] = ago;
    out["currently_active"] =
        state.presence == "online" && ago < absl::ToInt64Milliseconds(kCurrentlyActive);
  }
  if (state.status_msg) out["status_msg"] = *state.status_msg;
  return out;
}

// PUT /v3/presence/{userId}/status: "You cannot set the presence state of another user."
absl::StatusOr<boost::json::value> PutPresence(Call& call) {
  CONCLAVE_RETURN_IF_ERROR(CheckSelf(call, "set the presence"));
  CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
  CONCLAVE_ASSIGN_OR_RETURN(std::string presence, RequiredString(body, "presence"));
  CONCLAVE_ASSIGN_OR_RETURN(auto status_msg, OptionalString(body, "status_msg"));
  CONCLAVE_RETURN_IF_ERROR(
      call.hs.accounts().SetPresence(call.session.user_id, presence, status_msg));
  return object();
}

// POST /v3/user_directory/search: local users who share a room with the searcher or are joined
// to a public or world-readable room (Rooms::DirectoryVisible, users.yaml's minimum set).
absl::StatusOr<boost::json::value> SearchDirectory(Call& call) {
  CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
  CONCLAVE_ASSIGN_OR_RETURN(std::string term, RequiredString(body, "search_term"));
  CONCLAVE_ASSIGN_OR_RETURN(auto limit, OptionalInt(body, "limit"));
  if (limit && *limit < 0) return service::InvalidParam("'limit' must not be negative");
  const size_t capped = static_cast<size_t>(std::min(limit.value_or(10), kMaxDirectoryLimit));
  // Every match, ranked; visibility then keeps the first `capped` (+1 to know `limited`).
  CONCLAVE_ASSIGN_OR_RETURN(auto matches, call.hs.accounts().SearchUsers(term, SIZE_MAX, nullptr));
  std::vector<std::string> ids;
  ids.reserve(matches.size());
  for (const service::DirectoryUser& user : matches) ids.push_back(user.user_id);
  CONCLAVE_ASSIGN_OR_RETURN(
      std::vector<size_t> visible,
      call.hs.rooms().DirectoryVisible(call.session.user_id, ids, capped + 1));
  const bool limited = visible.size() > capped;
  if (limited) visible.pop_back();
  array results;
  for (size_t i : visible) {
    const service::DirectoryUser& user = matches[i];
    object entry{{"user_id", user.user_id}};
    if (user.display_name) entry["display_name"] = *user.display_name;
    if (user.avatar_url) entry["avatar_url"] = *user.avatar_url;
    results.push_back(std::move(entry));
  }
  return object{{"results", std::move(results)}, {"limited", limited}};
}

}  // namespace

absl::Status RegisterProfileRoutes(Routes& routes) {
  CONCLAVE_RETURN_IF_ERROR(routes.Add("GET", "/v3/profile/{userId}", Auth::kNone, &GetProfile));
  CONCLAVE_RETURN_IF_ERROR(
      routes.Add("GET", "/v3/profile/{userId}/{keyName}", Auth::kNone, &GetProfileField));
  CONCLAVE_RETURN_IF_ERROR(
      routes.Add("PUT", "/v3/profile/{userId}/{keyName}", Auth::kRequired, &PutProfileField));
  CONCLAVE_RETURN_IF_ERROR(
      routes.Add("DELETE", "/v3/profile/{userId}/{keyName}", Auth::kRequired, &DeleteProfileField));
  CONCLAVE_RETURN_IF_ERROR(
      routes.Add("GET", "/v3/presence/{userId}/status", Auth::kRequired, &GetPresence));
  CONCLAVE_RETURN_IF_ERROR(
      routes.Add("PUT", "/v3/presence/{userId}/status", Auth::kRequired, &PutPresence));
  CONCLAVE_RETURN_IF_ERROR(
      routes.Add("POST", "/v3/user_directory/search", Auth::kRequired, &SearchDirectory));
  return absl::OkStatus();
}

}  // namespace conclave::api
