// E2ee's key endpoints: /keys/upload, /keys/query, /keys/claim (Client-Server API, "End-to-End
// Encryption", keys.yaml), and the key counts /sync reports.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/database/key.h"
#include "conclave/service/e2ee/e2ee.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/identifiers.h"
#include "conclave/service/protocol/signing.h"
#include "conclave/service/storage/schema.h"
#include "conclave/service/storage/stored_json.h"

namespace conclave::service {
namespace {

using boost::json::array;
using boost::json::object;
using boost::json::value;
using schema::DeviceKey;

// "<algorithm>:<key_id>" split at the first colon; M_BAD_JSON when either part is empty.
absl::StatusOr<std::pair<std::string, std::string>> SplitKeyId(std::string_view id) {
  size_t colon = id.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == id.size()) {
    return BadJson(core::StrCat("Key id '", id, "' is not <algorithm>:<key_id>"));
  }
  return std::make_pair(std::string(id.substr(0, colon)), std::string(id.substr(colon + 1)));
}

// The ed25519 key of `device_keys` for `device_id` (keys["ed25519:<device_id>"]), or "".
std::string Ed25519Of(const object& device_keys, std::string_view device_id) {
  const value* keys = device_keys.if_contains("keys");
  if (keys == nullptr || !keys->is_object()) return "";
  return std::string(StringField(keys->get_object(), core::StrCat("ed25519:", device_id)));
}

// Checks the shape and the self-signature of uploaded `device_keys` (keys.yaml DeviceKeys).
absl::Status CheckDeviceKeys(const Session& session, const object& keys) {
  if (boost::json::serialize(keys).size() > kMaxDeviceKeysBytes) {
    return TooLarge(core::StrCat("device_keys is larger than ", kMaxDeviceKeysBytes, " bytes"));
  }
  if (StringField(keys, "user_id") != session.user_id) {
    return InvalidParam("device_keys.user_id is not the user of the access token");
  }
  if (StringField(keys, "device_id") != session.device_id) {
    return InvalidParam("device_keys.device_id is not the device of the access token");
  }
  const value* algorithms = keys.if_contains("algorithms");
  if (algorithms == nullptr || !algorithms->is_array()) {
    return BadJson("device_keys.algorithms must be an array");
  }
  for (const value& algorithm : algorithms->get_array()) {
    if (!algorithm.is_string()) return BadJson("device_keys.algorithms must hold strings");
  }
  const value* key_map = keys.if_contains("keys");
  if (key_map == nullptr || !key_map->is_object()) {
    return BadJson("device_keys.keys must be an object");
  }
  for (const auto& [id, key] : key_map->get_object()) {
    if (!key.is_string()) return BadJson("device_keys.keys must hold strings");
    CONCLAVE_ASSIGN_OR_RETURN(auto parts, SplitKeyId(id));
    if (parts.second != session.device_id) {
      return InvalidParam(core::StrCat("device_keys.keys: ", id, " is not a key of this device"));
    }
  }
  std::string ed25519 = Ed25519Of(keys, session.device_id);
  if (ed25519.empty()) {
    return InvalidParam(core::StrCat("device_keys.keys must hold ed25519:", session.device_id));
  }
  return VerifyJsonSignature(keys, session.user_id, core::StrCat("ed25519:", session.device_id),
                             ed25519);
}

// Checks one uploaded one-time or fallback key: its size, and the device's signature of a
// signed key when the device's ed25519 key is known (`ed25519` not empty).
absl::Status CheckOneTimeKey(const Session& session, std::string_view algorithm, const value& key,
                             std::string_view ed25519) {
  if (!key.is_string() && !key.is_object()) {
    return BadJson("A one-time key must be a string or an object");
  }
  if (boost::json::serialize(key).size() > kMaxOneTimeKeyBytes) {
    return TooLarge(core::StrCat("A one-time key is larger than ", kMaxOneTimeKeyBytes, " bytes"));
  }
  if (!key.is_object()) return absl::OkStatus();
  if (!key.get_object().contains("key") || !key.get_object().at("key").is_string()) {
    return BadJson("A signed one-time key must have a string 'key'");
  }
  if (algorithm.substr(0, 7) != "signed_" || ed25519.empty()) return absl::OkStatus();
  return VerifyJsonSignature(key.get_object(), session.user_id,
                             core::StrCat("ed25519:", session.device_id), ed25519);
}

}  // namespace

absl::StatusOr<KeyCounts> E2ee::Upload(const Session& session, const KeysUploadRequest& request) {
  const std::string& user = session.user_id;
  const std::string& device = session.device_id;
  const object* device_keys = request.device_keys ? &*request.device_keys : nullptr;
  const size_t count = request.one_time_keys.size() + request.fallback_keys.size();
  if (count > kMaxKeysPerUpload) {
    return TooLarge(core::StrCat("At most ", kMaxKeysPerUpload, " keys per upload"));
  }
  if (device_keys != nullptr) CONCLAVE_RETURN_IF_ERROR(CheckDeviceKeys(session, *device_keys));

  database::WriteBatch batch;
  bool keys_changed = false;
  {
    std::lock_guard lock(mu_);
    CONCLAVE_ASSIGN_OR_RETURN(bool exists, DeviceExists(user, device));
    if (!exists) return NotFound("Unknown device");
    CONCLAVE_ASSIGN_OR_RETURN(auto stored, StoredDeviceKeys(user, device));
    std::string ed25519 = stored ? Ed25519Of(*stored, device) : "";
    if (device_keys != nullptr) {
      if (stored && stored->if_contains("keys") != nullptr &&
          device_keys->at("keys") != stored->at("keys")) {
        return InvalidParam(
            "This device already has other keys; log in as a new device to use new keys");
      }
      if (!stored || *stored != *device_keys) {
        batch.Put(*maps_.device_keys, DeviceKey(user, device),
                  boost::json::serialize(*device_keys));
        keys_changed = true;
      }
      ed25519 = Ed25519Of(*device_keys, device);
    }
    for (const auto& [id, key] : request.one_time_keys) {
      CONCLAVE_ASSIGN_OR_RETURN(auto parts, SplitKeyId(id));
      CONCLAVE_RETURN_IF_ERROR(CheckOneTimeKey(session, parts.first, key, ed25519));
      const std::string row = schema::OneTimeKeyKey(user, device, parts.first, parts.second);
      const std::string text = boost::json::serialize(key);
      CONCLAVE_ASSIGN_OR_RETURN(auto existing, deps_.store.Find(*maps_.one_time_keys, row));
      if (existing && *existing != text) {
        return InvalidParam(
            core::StrCat("One-time key ", id, " already exists with other content"));
      }
      if (!existing) batch.Put(*maps_.one_time_keys, row, text);
    }
    for (const auto& [id, key] : request.fallback_keys) {
      CONCLAVE_ASSIGN_OR_RETURN(auto parts, SplitKeyId(id));
      CONCLAVE_RETURN_IF_ERROR(CheckOneTimeKey(session, parts.first, key, ed25519));
      const std::string row = schema::FallbackKeyKey(user, device, parts.first);
      CONCLAVE_ASSIGN_OR_RETURN(auto existing, deps_.store.Find(*maps_.fallback_keys, row));
      if (existing) {
        // The same key again keeps its `used` mark; a new one replaces it unused.
        auto record = ParseStored(*existing, "fallback key");
        if (record.ok() && StringField(*record, "key_id") == parts.second &&
            record->contains("key") && record->at("key") == key) {
          continue;
        }
      }
      batch.Put(
          *maps_.fallback_keys, row,
          boost::json::serialize(object{{"key_id", parts.second}, {"key", key}, {"used", false}}));
    }
    if (keys_changed) {
      CONCLAVE_RETURN_IF_ERROR(
          deps_.stream
              .Commit(batch, [&](uint64_t position,
                                 database::WriteBatch& b) { AddKeyChange(user, position, b); })
              .status());
    } else if (batch.Count() > 0) {
      CONCLAVE_RETURN_IF_ERROR(deps_.store.db->Write(batch));
    }
  }
  if (keys_changed) NotifyDeviceChange(user);
  return OneTimeKeyCounts(user, device);
}

absl::Status E2ee::QueryLocal(std::string_view viewer, const KeysQueryRequest& request,
                              KeysQueryResult& result) {
  for (const auto& [user, wanted] : request) {
    CONCLAVE_ASSIGN_OR_RETURN(UserId parsed, ParseUserId(user));
    if (parsed.server_name != deps_.server_name) continue;
    std::vector<std::string> device_ids = wanted;
    if (device_ids.empty()) {
      CONCLAVE_ASSIGN_OR_RETURN(auto all, deps_.accounts.ListDevices(user));
      for (const Device& d : all) device_ids.push_back(d.device_id);
    }
    for (auto [usage, out] : {std::pair{"master", &result.master_keys},
                              std::pair{"self_signing", &result.self_signing_keys},
                              std::pair{"user_signing", &result.user_signing_keys}}) {
      if (std::string_view(usage) == "user_signing" && user != viewer) continue;
      CONCLAVE_ASSIGN_OR_RETURN(auto key, StoredCrossSigningKey(user, usage));
      if (key && std::string_view(usage) == "master" && !viewer.empty() && user != viewer) {
        CONCLAVE_RETURN_IF_ERROR(AddViewerSignatures(viewer, user, *key));
      }
      if (key) (*out)[user] = *std::move(key);
    }
    auto& out = result.device_keys[user];
    for (const std::string& device_id : device_ids) {
      CONCLAVE_ASSIGN_OR_RETURN(auto keys, StoredDeviceKeys(user, device_id));
      if (!keys) continue;
      auto device = deps_.accounts.GetDevice(user, device_id);
      object unsigned_data;
      if (device.ok() && device->display_name) {
        unsigned_data["device_display_name"] = *device->display_name;
      }
      (*keys)["unsigned"] = std::move(unsigned_data);
      out[device_id] = *std::move(keys);
    }
  }
  return absl::OkStatus();
}

absl::Status E2ee::ClaimLocal(const KeysClaimRequest& request, KeysClaimResult& result) {
  size_t asked = 0;
  for (const auto& [user, devices] : request) {
    CONCLAVE_RETURN_IF_ERROR(ParseUserId(user).status());
    asked += devices.size();
  }
  if (asked > kMaxToDeviceMessages) {
    return TooLarge(core::StrCat("At most ", kMaxToDeviceMessages, " devices per claim"));
  }
  database::WriteBatch batch;
  std::lock_guard lock(mu_);
  for (const auto& [user, devices] : request) {
    CONCLAVE_ASSIGN_OR_RETURN(UserId parsed, ParseUserId(user));
    if (parsed.server_name != deps_.server_name) continue;
    for (const auto& [device, algorithm] : devices) {
      std::optional<std::pair<std::string, value>> key;
      absl::Status corrupt;
      CONCLAVE_RETURN_IF_ERROR(deps_.store.db->ForEachWithPrefix(
          *maps_.one_time_keys, schema::OneTimeKeyPrefix(user, device, algorithm),
          [&](std::string_view row, std::string_view text) {
            database::KeyReader reader(row);
            for (int i = 0; i < 3; ++i) (void)reader.ReadString();
            auto key_id = reader.ReadString();
            boost::system::error_code ec;
            value parsed_key = boost::json::parse(text, ec);
            if (!key_id.ok() || ec) {
              corrupt = absl::DataLossError("corrupt one-time key record");
              return false;
            }
            batch.Delete(*maps_.one_time_keys, row);
            key.emplace(*std::move(key_id), std::move(parsed_key));
            return false;
          }));
      CONCLAVE_RETURN_IF_ERROR(corrupt);
      if (!key) {
        const std::string row = schema::FallbackKeyKey(user, device, algorithm);
        CONCLAVE_ASSIGN_OR_RETURN(auto fallback, deps_.store.Find(*maps_.fallback_keys, row));
        if (fallback) {
          CONCLAVE_ASSIGN_OR_RETURN(object record, ParseStored(*fallback, "fallback key"));
          key.emplace(std::string(StringField(record, "key_id")), record["key"]);
          if (!record["used"].is_bool() || !record["used"].get_bool()) {
            record["used"] = true;
            batch.Put(*maps_.fallback_keys, row, boost::json::serialize(record));
          }
        }
      }
      if (key) {
        result.one_time_keys[user][device] =
            ClaimedKey{core::StrCat(algorithm, ":", key->first), std::move(key->second)};
      }
    }
  }
  if (batch.Count() > 0) CONCLAVE_RETURN_IF_ERROR(deps_.store.db->Write(batch));
  return absl::OkStatus();
}

absl::StatusOr<KeyCounts> E2ee::OneTimeKeyCounts(std::string_view user_id,
                                                 std::string_view device_id) const {
  KeyCounts counts{{kSignedCurve25519, 0}};
  CONCLAVE_RETURN_IF_ERROR(deps_.store.db->ForEachWithPrefix(
      *maps_.one_time_keys, DeviceKey(user_id, device_id),
      [&](std::string_view row, std::string_view) {
        database::KeyReader reader(row);
        (void)reader.ReadString();
        (void)reader.ReadString();
        if (auto algorithm = reader.ReadString(); algorithm.ok()) {
          ++counts[*algorithm];
        }
        return true;
      }));
  return counts;
}

absl::StatusOr<std::vector<std::string>> E2ee::UnusedFallbackKeyTypes(
    std::string_view user_id, std::string_view device_id) const {
  std::vector<std::string> types;
  CONCLAVE_RETURN_IF_ERROR(deps_.store.db->ForEachWithPrefix(
      *maps_.fallback_keys, DeviceKey(user_id, device_id),
      [&](std::string_view row, std::string_view text) {
        database::KeyReader reader(row);
        (void)reader.ReadString();
        (void)reader.ReadString();
        auto algorithm = reader.ReadString();
        auto record = ParseStored(text, "fallback key");
        if (algorithm.ok() && record.ok()) {
          const value* used = record->if_contains("used");
          if (used == nullptr || !used->is_bool() || !used->get_bool()) {
            types.push_back(*std::move(algorithm));
          }
        }
        return true;
      }));
  return types;
}

}  // namespace conclave::service
