// E2ee's cross-signing keys: POST /keys/device_signing/upload (Client-Server API "Cross-signing",
// cross_signing.yaml; the key shape is definitions/cross_signing_key.yaml).
#include <boost/json/serialize.hpp>

#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/e2ee/e2ee.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/signing.h"
#include "conclave/service/storage/schema.h"
#include "conclave/service/storage/stored_json.h"

namespace conclave::service {
namespace {

using boost::json::object;
using boost::json::value;

// The request field and stored usage of each kind of cross-signing key.
constexpr std::pair<const char*, const char*> kKinds[] = {
    {"master_key", "master"},
    {"self_signing_key", "self_signing"},
    {"user_signing_key", "user_signing"},
};

// The one "ed25519:<public key>" key id of `key` and its public key, after checking the shape:
// `user_id` is the uploader, `usage` holds `usage`, `keys` has exactly one ed25519 key whose id
// names it.
absl::StatusOr<std::pair<std::string, std::string>> CheckKey(const Session& session,
                                                             const object& key,
                                                             std::string_view usage) {
  if (StringField(key, "user_id") != session.user_id) {
    return InvalidParam("A cross-signing key's user_id must be the uploader's");
  }
  const value* usages = key.if_contains("usage");
  if (usages == nullptr || !usages->is_array()) return BadJson("'usage' must be an array");
  bool has_usage = false;
  for (const value& u : usages->get_array()) {
    if (!u.is_string()) return BadJson("'usage' must hold strings");
    has_usage = has_usage || u.get_string() == usage;
  }
  if (!has_usage) return InvalidParam(core::StrCat("The key's usage must include ", usage));
  const value* keys = key.if_contains("keys");
  if (keys == nullptr || !keys->is_object() || keys->get_object().size() != 1) {
    return InvalidParam("A cross-signing key must have exactly one key in 'keys'");
  }
  const auto& [id, public_key] = *keys->get_object().begin();
  if (!public_key.is_string() || id != core::StrCat("ed25519:", public_key.get_string())) {
    return InvalidParam("A cross-signing key must be 'ed25519:<public key>': <public key>");
  }
  return std::make_pair(std::string(id), std::string(public_key.get_string()));
}

}  // namespace

absl::StatusOr<std::optional<object>> E2ee::StoredCrossSigningKey(std::string_view user_id,
                                                                  std::string_view usage) const {
  CONCLAVE_ASSIGN_OR_RETURN(
      auto text, deps_.store.Find(*maps_.cross_signing, schema::PairKey(user_id, usage)));
  if (!text) return std::optional<object>();
  CONCLAVE_ASSIGN_OR_RETURN(object key, ParseStored(*text, "cross-signing key"));
  return std::optional<object>(std::move(key));
}

absl::StatusOr<bool> E2ee::CrossSigningNeedsAuth(const Session& session, const object& body) const {
  CONCLAVE_ASSIGN_OR_RETURN(auto master, StoredCrossSigningKey(session.user_id, "master"));
  if (!master) return false;
  for (const auto& [field, usage] : kKinds) {
    const value* given = body.if_contains(field);
    if (given == nullptr || given->is_null()) continue;
    CONCLAVE_ASSIGN_OR_RETURN(auto stored, StoredCrossSigningKey(session.user_id, usage));
    if (!stored || !given->is_object() || *stored != given->get_object()) return true;
  }
  return false;
}

absl::Status E2ee::UploadCrossSigning(const Session& session, const object& body) {
  const std::string& user = session.user_id;
  database::WriteBatch batch;
  std::lock_guard lock(mu_);
  // The master key the other two must be signed by: the uploaded one, else the stored one.
  std::optional<std::pair<std::string, std::string>> master;
  bool changed = false;
  for (const auto& [field, usage] : kKinds) {
    const value* given = body.if_contains(field);
    if (given == nullptr || given->is_null()) continue;
    if (!given->is_object()) return BadJson(core::StrCat("'", field, "' must be an object"));
    const object& key = given->get_object();
    if (boost::json::serialize(key).size() > kMaxDeviceKeysBytes) {
      return TooLarge(core::StrCat("'", field, "' is too large"));
    }
    CONCLAVE_ASSIGN_OR_RETURN(auto id, CheckKey(session, key, usage));
    if (std::string_view(usage) == "master") {
      master = id;
    } else {
      if (!master) {
        CONCLAVE_ASSIGN_OR_RETURN(auto stored, StoredCrossSigningKey(user, "master"));
        if (!stored) return MissingParam("There is no master key to sign this key with");
        CONCLAVE_ASSIGN_OR_RETURN(master, CheckKey(session, *stored, "master"));
      }
      CONCLAVE_RETURN_IF_ERROR(VerifyJsonSignature(key, user, master->first, master->second));
    }
    CONCLAVE_ASSIGN_OR_RETURN(auto stored, StoredCrossSigningKey(user, usage));
    if (stored && *stored == key) continue;
    batch.Put(*maps_.cross_signing, schema::PairKey(user, usage), boost::json::serialize(key));
    changed = true;
  }
  if (!changed) return absl::OkStatus();
  CONCLAVE_RETURN_IF_ERROR(
      deps_.stream
          .Commit(batch, [&](uint64_t position,
                             database::WriteBatch& b) { AddKeyChange(user, position, b); })
          .status());
  NotifyDeviceChange(user);
  return absl::OkStatus();
}

}  // namespace conclave::service
