// E2ee across servers: /keys/query and /keys/claim for users of other servers (Client-Server
// API "End-to-End Encryption", keys.yaml, through Server-Server API "End-to-End Encryption",
// user_keys.yaml), and the local side of the federation endpoints (user/keys/query,
// user/keys/claim, user/devices/{userId}; user_devices.yaml).
#include <algorithm>
#include <boost/json/array.hpp>
#include <map>
#include <set>

#include "absl/time/clock.h"
#include "conclave/core/log.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/e2ee/e2ee.h"
#include "conclave/service/federation/federation_client.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/identifiers.h"
#include "conclave/service/storage/stored_json.h"

namespace conclave::service {
namespace {

using boost::json::array;
using boost::json::object;
using boost::json::value;

constexpr char kQueryUri[] = "/_matrix/federation/v1/user/keys/query";
constexpr char kClaimUri[] = "/_matrix/federation/v1/user/keys/claim";

ServerFailure FederationUnsupported() {
  return ServerFailure{.status = 503, .message = "Federation is not supported by this server"};
}

// The users of `request` by server, other than `self`. M_INVALID_PARAM for a bad user id.
template <typename Request>
absl::StatusOr<std::map<std::string, Request>> RemoteParts(const Request& request,
                                                           std::string_view self) {
  std::map<std::string, Request> parts;
  for (const auto& [user, wanted] : request) {
    CONCLAVE_ASSIGN_OR_RETURN(UserId parsed, ParseUserId(user));
    if (parsed.server_name != self) parts[parsed.server_name][user] = wanted;
  }
  return parts;
}

// Asks `server` `uri` with `body`, within what is left until `deadline`; the answer, or the
// failure to record.
absl::StatusOr<object> AskServer(FederationClient& client, const std::string& server,
                                 std::string_view uri, const object& body, absl::Time deadline,
                                 ServerFailure& failure) {
  const absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) {
    failure = ServerFailure{.status = 503, .message = "Timed out before asking " + server};
    return absl::DeadlineExceededError(failure.message);
  }
  const value request(body);
  absl::StatusOr<object> answer = client.SendJson(server, "POST", uri, &request, true, left);
  if (!answer.ok()) {
    CONCLAVE_LOG(kInfo, "e2ee", "{} of {} failed: {}", uri, server, answer.status().message());
    failure = ServerFailure{.status = 503, .message = std::string(answer.status().message())};
  }
  return answer;
}

// The object at `o[key]`, or null.
const object* ObjectAt(const object& o, std::string_view key) {
  const value* v = o.if_contains(key);
  return v != nullptr && v->is_object() ? &v->get_object() : nullptr;
}

}  // namespace

absl::StatusOr<KeysQueryResult> E2ee::Query(const Session& session, const KeysQueryRequest& request,
                                            absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  CONCLAVE_ASSIGN_OR_RETURN(auto remote, RemoteParts(request, deps_.server_name));
  KeysQueryResult result;
  CONCLAVE_RETURN_IF_ERROR(QueryLocal(session.user_id, request, result));
  for (const auto& [server, users] : remote) {
    if (deps_.federation_client == nullptr) {
      result.failures[server] = FederationUnsupported();
      continue;
    }
    object device_keys;
    for (const auto& [user, devices] : users) {
      array ids;
      for (const std::string& d : devices) ids.emplace_back(d);
      device_keys[user] = std::move(ids);
    }
    ServerFailure failure;
    absl::StatusOr<object> answer =
        AskServer(*deps_.federation_client, server, kQueryUri,
                  object{{"device_keys", std::move(device_keys)}}, deadline, failure);
    if (!answer.ok()) {
      result.failures[server] = std::move(failure);
      continue;
    }
    // Only what was asked, and only keys that say they are of the user (and device) they are
    // filed under: the other server speaks for its users, not for anyone else's.
    const object* got_devices = ObjectAt(*answer, "device_keys");
    for (const auto& [user, wanted] : users) {
      auto& out = result.device_keys[user];
      const object* by_device = got_devices ? ObjectAt(*got_devices, user) : nullptr;
      if (by_device == nullptr) continue;
      for (const auto& [device_id, keys] : *by_device) {
        if (!keys.is_object() || StringField(keys.get_object(), "user_id") != user ||
            StringField(keys.get_object(), "device_id") != device_id) {
          continue;
        }
        if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), device_id) == wanted.end()) {
          continue;
        }
        out[std::string(device_id)] = keys.get_object();
      }
      for (auto [field, into] : {std::pair{"master_keys", &result.master_keys},
                                 std::pair{"self_signing_keys", &result.self_signing_keys}}) {
        const object* keys = ObjectAt(*answer, field);
        const object* key = keys ? ObjectAt(*keys, user) : nullptr;
        if (key != nullptr && StringField(*key, "user_id") == user) (*into)[user] = *key;
      }
    }
  }
  return result;
}

absl::StatusOr<KeysClaimResult> E2ee::Claim(const KeysClaimRequest& request,
                                            absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  KeysClaimResult result;
  CONCLAVE_RETURN_IF_ERROR(ClaimLocal(request, result));
  CONCLAVE_ASSIGN_OR_RETURN(auto remote, RemoteParts(request, deps_.server_name));
  for (const auto& [server, users] : remote) {
    if (deps_.federation_client == nullptr) {
      result.failures[server] = FederationUnsupported();
      continue;
    }
    object one_time_keys;
    for (const auto& [user, devices] : users) {
      object by_device;
      for (const auto& [device, algorithm] : devices) by_device[device] = algorithm;
      one_time_keys[user] = std::move(by_device);
    }
    ServerFailure failure;
    absl::StatusOr<object> answer =
        AskServer(*deps_.federation_client, server, kClaimUri,
                  object{{"one_time_keys", std::move(one_time_keys)}}, deadline, failure);
    if (!answer.ok()) {
      result.failures[server] = std::move(failure);
      continue;
    }
    const object* claimed = ObjectAt(*answer, "one_time_keys");
    for (const auto& [user, devices] : users) {
      const object* by_device = claimed ? ObjectAt(*claimed, user) : nullptr;
      if (by_device == nullptr) continue;
      for (const auto& [device, algorithm] : devices) {
        const object* keys = ObjectAt(*by_device, device);
        if (keys == nullptr || keys->empty()) continue;
        // {"<algorithm>:<key_id>": key}: the first of the asked algorithm.
        for (const auto& [key_id, key] : *keys) {
          if (key_id.starts_with(algorithm + ":")) {
            result.one_time_keys[user][device] = ClaimedKey{std::string(key_id), key};
            break;
          }
        }
      }
    }
  }
  return result;
}

absl::StatusOr<KeysQueryResult> E2ee::QueryForServer(const KeysQueryRequest& request) {
  KeysQueryResult result;
  KeysQueryRequest local;
  for (const auto& [user, devices] : request) {
    absl::StatusOr<UserId> parsed = ParseUserId(user);
    if (parsed.ok() && parsed->server_name == deps_.server_name) local[user] = devices;
  }
  CONCLAVE_RETURN_IF_ERROR(QueryLocal("", local, result));
  return result;
}

absl::StatusOr<KeysClaimResult> E2ee::ClaimForServer(const KeysClaimRequest& request) {
  KeysClaimResult result;
  KeysClaimRequest local;
  for (const auto& [user, devices] : request) {
    absl::StatusOr<UserId> parsed = ParseUserId(user);
    if (parsed.ok() && parsed->server_name == deps_.server_name) local[user] = devices;
  }
  CONCLAVE_RETURN_IF_ERROR(ClaimLocal(local, result));
  return result;
}

absl::StatusOr<E2ee::UserDevicesResult> E2ee::UserDevices(std::string_view user_id) const {
  CONCLAVE_ASSIGN_OR_RETURN(UserId parsed, ParseUserId(user_id));
  if (parsed.server_name != deps_.server_name) {
    return NotFound(core::StrCat(user_id, " is not a user of ", deps_.server_name));
  }
  UserDevicesResult result;
  // Read first: the list returned is at least as new as this position.
  result.stream_id = deps_.stream.current();
  CONCLAVE_ASSIGN_OR_RETURN(auto devices, deps_.accounts.ListDevices(user_id));
  if (devices.empty()) {
    if (!deps_.accounts.UserExists(user_id)) {
      return NotFound(core::StrCat("Unknown user ", user_id));
    }
  }
  for (const Device& d : devices) {
    CONCLAVE_ASSIGN_OR_RETURN(auto keys, StoredDeviceKeys(user_id, d.device_id));
    if (!keys) continue;
    result.devices.push_back(UserDevice{
        .device_id = d.device_id, .keys = *std::move(keys), .display_name = d.display_name});
  }
  CONCLAVE_ASSIGN_OR_RETURN(result.master_key, StoredCrossSigningKey(user_id, "master"));
  CONCLAVE_ASSIGN_OR_RETURN(result.self_signing_key,
                            StoredCrossSigningKey(user_id, "self_signing"));
  return result;
}

}  // namespace conclave::service
