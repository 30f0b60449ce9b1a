// Server-side key backups: /room_keys/version[/{version}] (POST, GET, PUT, DELETE) and
// /room_keys/keys[/{roomId}[/{sessionId}]] (GET, PUT, DELETE, with the `version` query
// parameter), Client-Server API "Server-side key backups", key_backup.yaml. This file owns the
// JSON shapes (KeyBackupData, RoomKeyBackup, RoomKeysUpdateResponse); service's KeyBackup owns
// the storage and the rules. Absent required fields are M_MISSING_PARAM, wrong types M_BAD_JSON.
#include <boost/json/object.hpp>

#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/e2ee/backup.h"
#include "conclave/service/protocol/errors.h"
#include "routes.h"

namespace conclave::api {
namespace {

using boost::json::object;
using boost::json::value;
using service::BackedUpKey;
using service::BackedUpKeys;
using service::BackupKeyScope;

// The required object member `key` of `body`.
absl::StatusOr<const object*> RequiredObject(const object& body, std::string_view key) {
  CONCLAVE_ASSIGN_OR_RETURN(const object* member, OptionalObject(body, key));
  if (member == nullptr) return service::MissingParam(core::StrCat("Missing '", key, "'"));
  return member;
}

// --- JSON → the service's types ------------------------------------------------------------

// POST and PUT /room_keys/version bodies.
absl::StatusOr<service::BackupVersionRequest> ParseVersionRequest(const object& body) {
  service::BackupVersionRequest request;
  CONCLAVE_ASSIGN_OR_RETURN(request.algorithm, RequiredString(body, "algorithm"));
  CONCLAVE_ASSIGN_OR_RETURN(const object* auth_data, RequiredObject(body, "auth_data"));
  request.auth_data = *auth_data;
  CONCLAVE_ASSIGN_OR_RETURN(request.version, OptionalString(body, "version"));
  return request;
}

// KeyBackupData (definitions/key_backup_data.yaml).
absl::StatusOr<BackedUpKey> ParseKeyData(const object& body) {
  BackedUpKey key;
  CONCLAVE_ASSIGN_OR_RETURN(auto first, OptionalInt(body, "first_message_index"));
  CONCLAVE_ASSIGN_OR_RETURN(auto forwarded, OptionalInt(body, "forwarded_count"));
  CONCLAVE_ASSIGN_OR_RETURN(auto verified, OptionalBool(body, "is_verified"));
  CONCLAVE_ASSIGN_OR_RETURN(const object* data, RequiredObject(body, "session_data"));
  if (!first) return service::MissingParam("Missing 'first_message_index'");
  if (!forwarded) return service::MissingParam("Missing 'forwarded_count'");
  if (!verified) return service::MissingParam("Missing 'is_verified'");
  key.first_message_index = *first;
  key.forwarded_count = *forwarded;
  key.is_verified = *verified;
  key.session_data = *data;
  return key;
}

// RoomKeyBackup (definitions/room_key_backup.yaml): {sessions: {session_id: KeyBackupData}}.
absl::Status ParseRoomKeys(const object& body, std::map<std::string, BackedUpKey>& out) {
  CONCLAVE_ASSIGN_OR_RETURN(const object* sessions, RequiredObject(body, "sessions"));
  for (const auto& [session_id, data] : *sessions) {
    if (!data.is_object()) return service::BadJson("Each session's key data must be an object");
    CONCLAVE_ASSIGN_OR_RETURN(out[std::string(session_id)], ParseKeyData(data.get_object()));
  }
  return absl::OkStatus();
}

// PUT /room_keys/keys: {rooms: {room_id: RoomKeyBackup}}.
absl::StatusOr<BackedUpKeys> ParseAllKeys(const object& body) {
  CONCLAVE_ASSIGN_OR_RETURN(const object* rooms, RequiredObject(body, "rooms"));
  BackedUpKeys keys;
  for (const auto& [room_id, room] : *rooms) {
    if (!room.is_object()) return service::BadJson("Each room's backup must be an object");
    CONCLAVE_RETURN_IF_ERROR(ParseRoomKeys(room.get_object(), keys[std::string(room_id)]));
  }
  return keys;
}

// --- the service's types → JSON ------------------------------------------------------------

object KeyDataJson(const BackedUpKey& key) {
  return object{{"first_message_index", key.first_message_index},
                {"forwarded_count", key.forwarded_count},
                {"is_verified", key.is_verified},
                {"session_data", key.session_data}};
}

object SessionsJson(const std::map<std::string, BackedUpKey>& sessions) {
  object out;
  for (const auto& [session_id, key] : sessions) out[session_id] = KeyDataJson(key);
  return object{{"sessions", std::move(out)}};
}

object UpdateJson(const service::BackupKeysUpdate& update) {
  return object{{"etag", update.etag}, {"count", update.count}};
}

// The `version` query parameter the /room_keys/keys endpoints require.
absl::StatusOr<std::string> VersionParam(const Call& call) {
  std::optional<std::string> version = call.request.QueryParam("version");
  if (!version) return service::MissingParam("The 'version' query parameter is required");
  return *version;
}

BackupKeyScope ScopeOf(const Call& call) {
  BackupKeyScope scope;
  if (std::string room_id = call.Param("roomId"); !room_id.empty()) {
    scope.room_id = std::move(room_id);
    if (std::string session_id = call.Param("sessionId"); !session_id.empty()) {
      scope.session_id = std::move(session_id);
    }
  }
  return scope;
}

// --- handlers -------------------------------------------------------------------------------

absl::StatusOr<value> CreateVersion(Call& call) {
  CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
  CONCLAVE_ASSIGN_OR_RETURN(service::BackupVersionRequest request, ParseVersionRequest(body));
  request.version.reset();  // not part of POST's body
  CONCLAVE_ASSIGN_OR_RETURN(std::string version,
                            call.hs.key_backup().CreateVersion(call.session.user_id, request));
  return object{{"version", version}};
}

absl::StatusOr<value> GetVersion(Call& call) {
  std::optional<std::string> wanted;
  if (std::string version = call.Param("version"); !version.empty()) wanted = version;
  CONCLAVE_ASSIGN_OR_RETURN(service::BackupVersion version,
                            call.hs.key_backup().GetVersion(call.session.user_id, wanted));
  return object{{"algorithm", version.algorithm},
                {"auth_data", version.auth_data},
                {"count", version.count},
                {"etag", version.etag},
                {"version", version.version}};
}

absl::StatusOr<value> UpdateVersion(Call& call) {
  CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
  CONCLAVE_ASSIGN_OR_RETURN(service::BackupVersionRequest request, ParseVersionRequest(body));
  CONCLAVE_RETURN_IF_ERROR(
      call.hs.key_backup().UpdateVersion(call.session.user_id, call.Param("version"), request));
  return object();
}

absl::StatusOr<value> DeleteVersion(Call& call) {
  CONCLAVE_RETURN_IF_ERROR(
      call.hs.key_backup().DeleteVersion(call.session.user_id, call.Param("version")));
  return object();
}

absl::StatusOr<value> PutKeys(Call& call) {
  CONCLAVE_ASSIGN_OR_RETURN(std::string version, VersionParam(call));
  CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
  const BackupKeyScope scope = ScopeOf(call);
  BackedUpKeys keys;
  if (scope.session_id) {
    CONCLAVE_ASSIGN_OR_RETURN(keys[*scope.room_id][*scope.session_id], ParseKeyData(body));
  } else if (scope.room_id) {
    CONCLAVE_RETURN_IF_ERROR(ParseRoomKeys(body, keys[*scope.room_id]));
  } else {
    CONCLAVE_ASSIGN_OR_RETURN(keys, ParseAllKeys(body));
  }
  CONCLAVE_ASSIGN_OR_RETURN(service::BackupKeysUpdate update,
                            call.hs.key_backup().PutKeys(call.session.user_id, version, keys));
  return UpdateJson(update);
}

absl::StatusOr<value> GetKeys(Call& call) {
  CONCLAVE_ASSIGN_OR_RETURN(std::string version, VersionParam(call));
  const BackupKeyScope scope = ScopeOf(call);
  CONCLAVE_ASSIGN_OR_RETURN(BackedUpKeys keys,
                            call.hs.key_backup().GetKeys(call.session.user_id, version, scope));
  if (scope.session_id) return KeyDataJson(keys.at(*scope.room_id).at(*scope.session_id));
  if (scope.room_id) {
    auto room = keys.find(*scope.room_id);
    return room == keys.end() ? object{{"sessions", object()}} : SessionsJson(room->second);
  }
  object rooms;
  for (const auto& [room_id, sessions] : keys) rooms[room_id] = SessionsJson(sessions);
  return object{{"rooms", std::move(rooms)}};
}

absl::StatusOr<value> DeleteKeys(Call& call) {
  CONCLAVE_ASSIGN_OR_RETURN(std::string version, VersionParam(call));
  CONCLAVE_ASSIGN_OR_RETURN(
      service::BackupKeysUpdate update,
      call.hs.key_backup().DeleteKeys(call.session.user_id, version, ScopeOf(call)));
  return UpdateJson(update);
}

}  // namespace

absl::Status RegisterRoomKeysRoutes(Routes& routes) {
  constexpr char kVersion[] = "/v3/room_keys/version";
  constexpr char kOneVersion[] = "/v3/room_keys/version/{version}";
  CONCLAVE_RETURN_IF_ERROR(routes.Add("POST", kVersion, Auth::kRequired, &CreateVersion));
  CONCLAVE_RETURN_IF_ERROR(routes.Add("GET", kVersion, Auth::kRequired, &GetVersion));
  CONCLAVE_RETURN_IF_ERROR(routes.Add("GET", kOneVersion, Auth::kRequired, &GetVersion));
  CONCLAVE_RETURN_IF_ERROR(routes.Add("PUT", kOneVersion, Auth::kRequired, &UpdateVersion));
  CONCLAVE_RETURN_IF_ERROR(routes.Add("DELETE", kOneVersion, Auth::kRequired, &DeleteVersion));
  for (const char* path : {"/v3/room_keys/keys", "/v3/room_keys/keys/{roomId}",
                           "/v3/room_keys/keys/{roomId}/{sessionId}"}) {
    CONCLAVE_RETURN_IF_ERROR(routes.Add("PUT", path, Auth::kRequired, &PutKeys));
    CONCLAVE_RETURN_IF_ERROR(routes.Add("GET", path, Auth::kRequired, &GetKeys));
    CONCLAVE_RETURN_IF_ERROR(routes.Add("DELETE", path, Auth::kRequired, &DeleteKeys));
  }
  return absl::OkStatus();
}

}  // namespace conclave::api
