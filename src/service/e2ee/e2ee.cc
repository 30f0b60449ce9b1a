// E2ee: opening the maps, key-change rows and wake-ups, and device removal (the rest is in
// keys.cc, device_lists.cc and to_device.cc).
#include "conclave/service/e2ee/e2ee.h"

#include <boost/json/serialize.hpp>

#include "conclave/core/log.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/identifiers.h"
#include "conclave/service/storage/schema.h"
#include "conclave/service/storage/stored_json.h"

namespace conclave::service {

using schema::DeviceKey;
using schema::UserPrefix;

absl::StatusOr<E2eeMaps> E2eeMaps::Open(database::Database& db) {
  E2eeMaps maps;
  CONCLAVE_ASSIGN_OR_RETURN(maps.device_keys, db.OpenMap(schema::kDeviceKeysMap));
  CONCLAVE_ASSIGN_OR_RETURN(maps.one_time_keys, db.OpenMap(schema::kOneTimeKeysMap));
  CONCLAVE_ASSIGN_OR_RETURN(maps.fallback_keys, db.OpenMap(schema::kFallbackKeysMap));
  CONCLAVE_ASSIGN_OR_RETURN(maps.key_changes, db.OpenMap(schema::kKeyChangesMap));
  CONCLAVE_ASSIGN_OR_RETURN(maps.to_device, db.OpenMap(schema::kToDeviceMap));
  CONCLAVE_ASSIGN_OR_RETURN(maps.to_device_txns, db.OpenMap(schema::kToDeviceTxnsMap));
  CONCLAVE_ASSIGN_OR_RETURN(maps.cross_signing, db.OpenMap(schema::kCrossSigningMap));
  CONCLAVE_ASSIGN_OR_RETURN(maps.key_signatures, db.OpenMap(schema::kKeySignaturesMap));
  return maps;
}

absl::StatusOr<std::unique_ptr<E2ee>> E2ee::Open(Deps deps) {
  CONCLAVE_ASSIGN_OR_RETURN(E2eeMaps maps, E2eeMaps::Open(*deps.store.db));
  return std::unique_ptr<E2ee>(new E2ee(deps, maps));
}

E2ee::E2ee(Deps deps, E2eeMaps maps) : deps_(deps), maps_(maps) {
  auto family = deps_.metrics.AddCounter(
      "conclave_to_device_dropped_total",
      "To-device messages dropped because the recipient device already had the most pending "
      "messages kept per device (kMaxPendingToDevice).");
  dropped_ = family.ok() ? &(*family)->Get() : &unexported_dropped_;
  if (!family.ok()) {
    CONCLAVE_LOG(kError, "e2ee", "cannot register conclave_to_device_dropped_total: {}",
                 family.status().message());
  }
}

void E2ee::AddKeyChange(std::string_view user_id, uint64_t position, database::WriteBatch& batch) {
  batch.Put(*maps_.key_changes, schema::KeyChangeKey(position, user_id), "");
}

void E2ee::NotifyDeviceChange(std::string_view user_id) {
  std::set<std::string> users{std::string(user_id)};
  if (auto rooms = deps_.rooms.JoinedRooms(user_id); rooms.ok()) {
    for (const std::string& room_id : *rooms) {
      if (auto members = deps_.rooms.JoinedUserIds(room_id); members.ok()) {
        users.insert(members->begin(), members->end());
      }
    }
  }
  deps_.notifier.Notify(std::vector<std::string>(users.begin(), users.end()));
}

absl::StatusOr<std::optional<boost::json::object>> E2ee::StoredDeviceKeys(
    std::string_view user_id, std::string_view device_id) const {
  CONCLAVE_ASSIGN_OR_RETURN(auto value,
                            deps_.store.Find(*maps_.device_keys, DeviceKey(user_id, device_id)));
  if (!value) return std::optional<boost::json::object>();
  CONCLAVE_ASSIGN_OR_RETURN(boost::json::object keys, ParseStored(*value, "device keys"));
  return std::optional<boost::json::object>(std::move(keys));
}

absl::StatusOr<bool> E2ee::DeviceExists(std::string_view user_id,
                                        std::string_view device_id) const {
  CONCLAVE_ASSIGN_OR_RETURN(auto value,
                            deps_.store.Find(*deps_.store.devices, DeviceKey(user_id, device_id)));
  return value.has_value();
}

absl::Status E2ee::CommitDeviceRemoval(std::string_view user_id,
                                       const std::vector<std::string>& device_ids,
                                       bool deactivating, database::WriteBatch& batch) {
  std::lock_guard lock(mu_);
  database::Database& db = *deps_.store.db;
  auto drop_all = [&](const database::Map& map, const std::string& prefix) {
    return db.ForEachWithPrefix(map, prefix, [&](std::string_view key, std::string_view) {
      batch.Delete(map, key);
      return true;
    });
  };
  for (const std::string& device_id : device_ids) {
    const std::string device_key = DeviceKey(user_id, device_id);
    batch.Delete(*maps_.device_keys, device_key);
    CONCLAVE_RETURN_IF_ERROR(drop_all(*maps_.one_time_keys, device_key));
    CONCLAVE_RETURN_IF_ERROR(drop_all(*maps_.fallback_keys, device_key));
    CONCLAVE_RETURN_IF_ERROR(drop_all(*maps_.to_device, device_key));
  }
  if (deactivating) {
    // A deactivated user has no identity left to verify: /keys/query stops returning its
    // master, self-signing and user-signing keys, and others' signatures of its master key go
    // with them. (Signatures it made of others' master keys were only ever shown to itself; they
    // stay, under the signed user's prefix.)
    CONCLAVE_RETURN_IF_ERROR(drop_all(*maps_.cross_signing, UserPrefix(user_id)));
    CONCLAVE_RETURN_IF_ERROR(drop_all(*maps_.key_signatures, UserPrefix(user_id)));
  }
  CONCLAVE_RETURN_IF_ERROR(
      deps_.stream
          .Commit(batch, [&](uint64_t position,
                             database::WriteBatch& b) { AddKeyChange(user_id, position, b); })
          .status());
  for (const std::string& device_id : device_ids) pending_.erase(DeviceKey(user_id, device_id));
  NotifyDeviceChange(user_id);
  return absl::OkStatus();
}

absl::Status E2ee::RecordRemoteKeyChange(std::string_view origin, std::string_view user_id) {
  CONCLAVE_ASSIGN_OR_RETURN(UserId parsed, ParseUserId(user_id));
  if (parsed.server_name != origin) {
    return Forbidden(core::StrCat(user_id, " is not a user of ", origin));
  }
  database::WriteBatch batch;
  CONCLAVE_RETURN_IF_ERROR(
      deps_.stream
          .Commit(batch, [&](uint64_t position,
                             database::WriteBatch& b) { AddKeyChange(user_id, position, b); })
          .status());
  NotifyDeviceChange(user_id);
  return absl::OkStatus();
}

}  // namespace conclave::service
