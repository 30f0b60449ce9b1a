// KeyBackup: backup versions and backed-up room keys (Client-Server API "Server-side key
// backups", key_backup.yaml). Storage: schema.h kBackupVersionsMap and kBackupKeysMap.
#include "conclave/service/e2ee/backup.h"

#include <boost/json/serialize.hpp>
#include <charconv>

#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/database/key.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/storage/schema.h"
#include "conclave/service/storage/stored_json.h"

namespace conclave::service {
namespace {

using boost::json::object;

constexpr char kUnknownVersion[] = "Unknown backup version";

// A decoded e2ee_backup_versions record.
struct Version {
  uint64_t number = 0;
  bool deleted = false;  // a tombstone: only `number` is meaningful
  std::string algorithm;
  object auth_data;
  uint64_t etag = 0;
  uint64_t count = 0;
};

// The number a version string names: decimal without a leading zero, at least 1; nullopt for
// anything else (such a string names no version this server gave out).
std::optional<uint64_t> ParseVersionNumber(std::string_view text) {
  if (text.empty() || text[0] == '0') return std::nullopt;
  uint64_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return number;
}

uint64_t UnsignedField(const object& record, std::string_view key) {
  std::optional<int64_t> value = IntField(record, key);
  return value && *value > 0 ? static_cast<uint64_t>(*value) : 0;
}

absl::StatusOr<Version> DecodeVersion(uint64_t number, std::string_view text) {
  CONCLAVE_ASSIGN_OR_RETURN(object record, ParseStored(text, "backup version"));
  Version version{.number = number};
  if (const auto* deleted = record.if_contains("deleted"); deleted && deleted->is_bool()) {
    version.deleted = deleted->get_bool();
  }
  version.algorithm = std::string(StringField(record, "algorithm"));
  if (const auto* auth = record.if_contains("auth_data"); auth && auth->is_object()) {
    version.auth_data = auth->get_object();
  }
  version.etag = UnsignedField(record, "etag");
  version.count = UnsignedField(record, "count");
  return version;
}

std::string EncodeVersion(const Version& version) {
  if (version.deleted) return boost::json::serialize(object{{"deleted", true}});
  return boost::json::serialize(object{{"algorithm", version.algorithm},
                                       {"auth_data", version.auth_data},
                                       {"etag", version.etag},
                                       {"count", version.count}});
}

BackupVersion Public(const Version& version) {
  return BackupVersion{.version = std::to_string(version.number),
                       .algorithm = version.algorithm,
                       .auth_data = version.auth_data,
                       .count = version.count,
                       .etag = std::to_string(version.etag)};
}

absl::StatusOr<BackedUpKey> DecodeKey(std::string_view text) {
  CONCLAVE_ASSIGN_OR_RETURN(object record, ParseStored(text, "backed-up room key"));
  BackedUpKey key;
  key.first_message_index = IntField(record, "first_message_index").value_or(0);
  key.forwarded_count = IntField(record, "forwarded_count").value_or(0);
  if (const auto* verified = record.if_contains("is_verified"); verified && verified->is_bool()) {
    key.is_verified = verified->get_bool();
  }
  if (const auto* data = record.if_contains("session_data"); data && data->is_object()) {
    key.session_data = data->get_object();
  }
  return key;
}

std::string EncodeKey(const BackedUpKey& key) {
  return boost::json::serialize(object{{"first_message_index", key.first_message_index},
                                       {"forwarded_count", key.forwarded_count},
                                       {"is_verified", key.is_verified},
                                       {"session_data", key.session_data}});
}

// Every version row of `user_id`, tombstones included, in version order.
absl::StatusOr<std::vector<Version>> ReadVersions(const Store& store, const database::Map& map,
                                                  std::string_view user_id) {
  std::vector<Version> versions;
  absl::Status decode_error;
  CONCLAVE_RETURN_IF_ERROR(store.db->ForEachWithPrefix(
      map, schema::UserPrefix(user_id), [&](std::string_view key, std::string_view value) {
        database::KeyReader reader(key);
        auto user = reader.ReadString();
        auto number = reader.ReadU64();
        if (!user.ok() || !number.ok() || !reader.AtEnd()) {
          decode_error = absl::DataLossError("corrupt backup version key");
          return false;
        }
        auto version = DecodeVersion(*number, value);
        if (!version.ok()) {
          decode_error = version.status();
          return false;
        }
        versions.push_back(*std::move(version));
        return true;
      }));
  CONCLAVE_RETURN_IF_ERROR(decode_error);
  return versions;
}

// The live version `text` of `user_id`; M_NOT_FOUND "Unknown backup version" if none.
absl::StatusOr<Version> ReadLiveVersion(const Store& store, const database::Map& map,
                                        std::string_view user_id, std::string_view text) {
  std::optional<uint64_t> number = ParseVersionNumber(text);
  if (!number) return NotFound(kUnknownVersion);
  CONCLAVE_ASSIGN_OR_RETURN(auto row, store.Find(map, schema::BackupVersionKey(user_id, *number)));
  if (!row) return NotFound(kUnknownVersion);
  CONCLAVE_ASSIGN_OR_RETURN(Version version, DecodeVersion(*number, *row));
  if (version.deleted) return NotFound(kUnknownVersion);
  return version;
}

// The current version: the highest live one; nullopt when the user has none.
std::optional<Version> Current(std::vector<Version>& versions) {
  for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
    if (!it->deleted) return std::move(*it);
  }
  return std::nullopt;
}

absl::Status CheckVersionRequest(const BackupVersionRequest& request) {
  if (request.algorithm.empty()) return MissingParam("'algorithm' is required");
  if (boost::json::serialize(request.auth_data).size() > kMaxBackupAuthDataBytes) {
    return TooLarge(core::StrCat("auth_data is larger than ", kMaxBackupAuthDataBytes, " bytes"));
  }
  return absl::OkStatus();
}

absl::Status CheckKeys(const BackedUpKeys& keys) {
  for (const auto& [room_id, sessions] : keys) {
    if (room_id.empty() || room_id[0] != '!' || room_id.size() > kMaxBackupIdBytes) {
      return InvalidParam(core::StrCat("'", room_id, "' is not a room id"));
    }
    for (const auto& [session_id, key] : sessions) {
      if (session_id.empty() || session_id.size() > kMaxBackupIdBytes) {
        return InvalidParam(core::StrCat("'", session_id, "' is not a session id"));
      }
      if (boost::json::serialize(key.session_data).size() > kMaxBackupSessionDataBytes) {
        return TooLarge(core::StrCat("session_data of ", session_id, " is larger than ",
                                     kMaxBackupSessionDataBytes, " bytes"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

bool ReplacesBackedUpKey(const BackedUpKey& stored, const BackedUpKey& incoming) {
  if (stored.is_verified != incoming.is_verified) return incoming.is_verified;
  if (stored.first_message_index != incoming.first_message_index) {
    return incoming.first_message_index < stored.first_message_index;
  }
  return incoming.forwarded_count < stored.forwarded_count;
}

absl::StatusOr<std::unique_ptr<KeyBackup>> KeyBackup::Open(Store& store) {
  CONCLAVE_ASSIGN_OR_RETURN(database::Map * versions,
                            store.db->OpenMap(schema::kBackupVersionsMap));
  CONCLAVE_ASSIGN_OR_RETURN(database::Map * keys, store.db->OpenMap(schema::kBackupKeysMap));
  return std::unique_ptr<KeyBackup>(new KeyBackup(store, versions, keys));
}

absl::Status KeyBackup::CheckNotRemoved(std::string_view user_id) const {
  if (removed_users_.contains(std::string(user_id))) {
    return MatrixStatus(Errcode::kUserDeactivated, "This account has been deactivated");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> KeyBackup::CreateVersion(std::string_view user_id,
                                                     const BackupVersionRequest& request) {
  CONCLAVE_RETURN_IF_ERROR(CheckVersionRequest(request));
  std::lock_guard lock(mu_);
  CONCLAVE_RETURN_IF_ERROR(CheckNotRemoved(user_id));
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<Version> versions,
                            ReadVersions(store_, *versions_, user_id));
  Version version{.number = versions.empty() ? 1 : versions.back().number + 1,
                  .algorithm = request.algorithm,
                  .auth_data = request.auth_data};
  CONCLAVE_RETURN_IF_ERROR(store_.db->Put(
      *versions_, schema::BackupVersionKey(user_id, version.number), EncodeVersion(version)));
  return std::to_string(version.number);
}

absl::StatusOr<BackupVersion> KeyBackup::GetVersion(std::string_view user_id,
                                                    std::optional<std::string_view> version) const {
  if (version) {
    CONCLAVE_ASSIGN_OR_RETURN(Version live, ReadLiveVersion(store_, *versions_, user_id, *version));
    return Public(live);
  }
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<Version> versions,
                            ReadVersions(store_, *versions_, user_id));
  std::optional<Version> current = Current(versions);
  if (!current) return NotFound("No current backup version");
  return Public(*current);
}

absl::Status KeyBackup::UpdateVersion(std::string_view user_id, std::string_view version,
                                      const BackupVersionRequest& request) {
  CONCLAVE_RETURN_IF_ERROR(CheckVersionRequest(request));
  std::lock_guard lock(mu_);
  CONCLAVE_RETURN_IF_ERROR(CheckNotRemoved(user_id));
  CONCLAVE_ASSIGN_OR_RETURN(Version live, ReadLiveVersion(store_, *versions_, user_id, version));
  if (request.version && *request.version != version) {
    return InvalidParam("The version in the body does not match the version in the path");
  }
  if (request.algorithm != live.algorithm) return InvalidParam("Algorithm does not match");
  live.auth_data = request.auth_data;
  return store_.db->Put(*versions_, schema::BackupVersionKey(user_id, live.number),
                        EncodeVersion(live));
}

absl::Status KeyBackup::DeleteVersion(std::string_view user_id, std::string_view version) {
  std::optional<uint64_t> number = ParseVersionNumber(version);
  if (!number) return NotFound(kUnknownVersion);
  std::lock_guard lock(mu_);
  CONCLAVE_RETURN_IF_ERROR(CheckNotRemoved(user_id));
  const std::string version_key = schema::BackupVersionKey(user_id, *number);
  CONCLAVE_ASSIGN_OR_RETURN(auto row, store_.Find(*versions_, version_key));
  if (!row) return NotFound(kUnknownVersion);
  CONCLAVE_ASSIGN_OR_RETURN(Version stored, DecodeVersion(*number, *row));
  if (stored.deleted) return absl::OkStatus();  // key_backup.yaml: deleting twice succeeds
  database::WriteBatch batch;
  batch.Put(*versions_, version_key, EncodeVersion(Version{.number = *number, .deleted = true}));
  CONCLAVE_RETURN_IF_ERROR(
      store_.db->ForEachWithPrefix(*keys_, schema::BackupKeyPrefix(user_id, *number),
                                   [&](std::string_view key, std::string_view) {
                                     batch.Delete(*keys_, key);
                                     return true;
                                   }));
  return store_.db->Write(batch);
}

absl::StatusOr<std::vector<BackupVersion>> KeyBackup::ListVersions(std::string_view user_id) const {
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<Version> versions,
                            ReadVersions(store_, *versions_, user_id));
  std::vector<BackupVersion> live;
  for (const Version& version : versions) {
    if (!version.deleted) live.push_back(Public(version));
  }
  return live;
}

absl::StatusOr<BackupKeysUpdate> KeyBackup::PutKeys(std::string_view user_id,
                                                    std::string_view version,
                                                    const BackedUpKeys& keys) {
  CONCLAVE_RETURN_IF_ERROR(CheckKeys(keys));
  std::lock_guard lock(mu_);
  CONCLAVE_RETURN_IF_ERROR(CheckNotRemoved(user_id));
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<Version> versions,
                            ReadVersions(store_, *versions_, user_id));
  std::optional<Version> current = Current(versions);
  if (!current) return NotFound(kUnknownVersion);
  if (version != std::to_string(current->number)) {
    return WrongRoomKeysVersion("Wrong backup version.", std::to_string(current->number));
  }
  database::WriteBatch batch;
  bool changed = false;
  for (const auto& [room_id, sessions] : keys) {
    for (const auto& [session_id, key] : sessions) {
      const std::string row = schema::BackupKeyKey(user_id, current->number, room_id, session_id);
      CONCLAVE_ASSIGN_OR_RETURN(auto stored_text, store_.Find(*keys_, row));
      if (stored_text) {
        CONCLAVE_ASSIGN_OR_RETURN(BackedUpKey stored, DecodeKey(*stored_text));
        if (!ReplacesBackedUpKey(stored, key)) continue;
      } else {
        ++current->count;
      }
      batch.Put(*keys_, row, EncodeKey(key));
      changed = true;
    }
  }
  if (changed) {
    ++current->etag;
    batch.Put(*versions_, schema::BackupVersionKey(user_id, current->number),
              EncodeVersion(*current));
    CONCLAVE_RETURN_IF_ERROR(store_.db->Write(batch));
  }
  return BackupKeysUpdate{.etag = std::to_string(current->etag), .count = current->count};
}

absl::StatusOr<BackedUpKeys> KeyBackup::GetKeys(std::string_view user_id, std::string_view version,
                                                const BackupKeyScope& scope) const {
  CONCLAVE_ASSIGN_OR_RETURN(Version live, ReadLiveVersion(store_, *versions_, user_id, version));
  BackedUpKeys keys;
  if (scope.room_id && scope.session_id) {
    CONCLAVE_ASSIGN_OR_RETURN(
        auto text, store_.Find(*keys_, schema::BackupKeyKey(user_id, live.number, *scope.room_id,
                                                            *scope.session_id)));
    if (!text) return NotFound("Key not found");
    CONCLAVE_ASSIGN_OR_RETURN(keys[*scope.room_id][*scope.session_id], DecodeKey(*text));
    return keys;
  }
  absl::Status decode_error;
  CONCLAVE_RETURN_IF_ERROR(store_.db->ForEachWithPrefix(
      *keys_, schema::BackupKeyPrefix(user_id, live.number, scope.room_id),
      [&](std::string_view raw, std::string_view value) {
        database::KeyReader reader(raw);
        (void)reader.ReadString();
        (void)reader.ReadU64();
        auto room_id = reader.ReadString();
        auto session_id = reader.ReadString();
        auto key = DecodeKey(value);
        if (!room_id.ok() || !session_id.ok() || !reader.AtEnd() || !key.ok()) {
          decode_error =
              key.ok() ? absl::DataLossError("corrupt backed-up room key key") : key.status();
          return false;
        }
        keys[*room_id][*session_id] = *std::move(key);
        return true;
      }));
  CONCLAVE_RETURN_IF_ERROR(decode_error);
  return keys;
}

absl::StatusOr<BackupKeysUpdate> KeyBackup::DeleteKeys(std::string_view user_id,
                                                       std::string_view version,
                                                       const BackupKeyScope& scope) {
  std::lock_guard lock(mu_);
  CONCLAVE_RETURN_IF_ERROR(CheckNotRemoved(user_id));
  CONCLAVE_ASSIGN_OR_RETURN(Version live, ReadLiveVersion(store_, *versions_, user_id, version));
  database::WriteBatch batch;
  uint64_t deleted = 0;
  auto drop = [&](std::string_view key, std::string_view) {
    batch.Delete(*keys_, key);
    ++deleted;
    return true;
  };
  if (scope.room_id && scope.session_id) {
    const std::string row =
        schema::BackupKeyKey(user_id, live.number, *scope.room_id, *scope.session_id);
    CONCLAVE_ASSIGN_OR_RETURN(auto text, store_.Find(*keys_, row));
    if (text) drop(row, *text);
  } else {
    CONCLAVE_RETURN_IF_ERROR(store_.db->ForEachWithPrefix(
        *keys_, schema::BackupKeyPrefix(user_id, live.number, scope.room_id), drop));
  }
  if (deleted > 0) {
    live.count = live.count > deleted ? live.count - deleted : 0;
    ++live.etag;
    batch.Put(*versions_, schema::BackupVersionKey(user_id, live.number), EncodeVersion(live));
    CONCLAVE_RETURN_IF_ERROR(store_.db->Write(batch));
  }
  return BackupKeysUpdate{.etag = std::to_string(live.etag), .count = live.count};
}

absl::Status KeyBackup::AddUserRemoval(std::string_view user_id, database::WriteBatch& batch) {
  std::lock_guard lock(mu_);
  auto drop_all = [&](const database::Map& map) {
    return store_.db->ForEachWithPrefix(map, schema::UserPrefix(user_id),
                                        [&](std::string_view key, std::string_view) {
                                          batch.Delete(map, key);
                                          return true;
                                        });
  };
  CONCLAVE_RETURN_IF_ERROR(drop_all(*versions_));
  CONCLAVE_RETURN_IF_ERROR(drop_all(*keys_));
  removed_users_.insert(std::string(user_id));
  return absl::OkStatus();
}

}  // namespace conclave::service
