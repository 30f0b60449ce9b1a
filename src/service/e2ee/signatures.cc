// E2ee's cross-signing signatures: POST /keys/signatures/upload (Client-Server API
// "Cross-signing", cross_signing.yaml), and the signatures only their signer sees.
#include <boost/json/serialize.hpp>
#include <set>

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

// The one public key of a stored cross-signing key ({"ed25519:<pub>": "<pub>"}), or "".
std::string PublicKeyOf(const std::optional<object>& key) {
  if (!key) return "";
  const value* keys = key->if_contains("keys");
  if (keys == nullptr || !keys->is_object() || keys->get_object().empty()) return "";
  const value& pub = keys->get_object().begin()->value();
  return pub.is_string() ? std::string(pub.get_string()) : "";
}

// `signatures[signer]` of `json`, or null.
const object* SignaturesBy(const object& json, std::string_view signer) {
  const value* all = json.if_contains("signatures");
  if (all == nullptr || !all->is_object()) return nullptr;
  const value* by = all->get_object().if_contains(signer);
  return by != nullptr && by->is_object() ? &by->get_object() : nullptr;
}

// Whether `a` and `b` are the same key apart from signatures and unsigned data.
bool SameKey(const object& a, const object& b) {
  auto x = SignedBytes(a);
  auto y = SignedBytes(b);
  return x.ok() && y.ok() && *x == *y;
}

// Adds `signatures[signer][key_id] = signature` to `json`.
void AddSignature(object& json, std::string_view signer, std::string_view key_id,
                  const value& signature) {
  value& all = json["signatures"];
  if (!all.is_object()) all = object();
  value& by = all.get_object()[signer];
  if (!by.is_object()) by = object();
  by.get_object()[key_id] = signature;
}

}  // namespace

absl::Status E2ee::AddViewerSignatures(std::string_view viewer, std::string_view user_id,
                                       object& key) const {
  const std::string pub = PublicKeyOf(key);
  if (pub.empty()) return absl::OkStatus();
  CONCLAVE_ASSIGN_OR_RETURN(
      auto text,
      deps_.store.Find(*maps_.key_signatures, schema::KeySignatureKey(user_id, pub, viewer)));
  if (!text) return absl::OkStatus();
  CONCLAVE_ASSIGN_OR_RETURN(object signatures, ParseStored(*text, "key signatures"));
  for (const auto& [key_id, signature] : signatures) AddSignature(key, viewer, key_id, signature);
  return absl::OkStatus();
}

absl::StatusOr<SignatureFailures> E2ee::UploadSignatures(const Session& session,
                                                         const SignaturesUploadRequest& request) {
  const std::string& me = session.user_id;
  database::WriteBatch batch;
  std::set<std::string> changed;
  SignatureFailures failures;
  std::lock_guard lock(mu_);
  CONCLAVE_ASSIGN_OR_RETURN(auto self_signing, StoredCrossSigningKey(me, "self_signing"));
  CONCLAVE_ASSIGN_OR_RETURN(auto user_signing, StoredCrossSigningKey(me, "user_signing"));
  const std::string self_signing_pub = PublicKeyOf(self_signing);
  const std::string user_signing_pub = PublicKeyOf(user_signing);
  for (const auto& [user_key, keys] : request) {
    // Copies, not structured bindings: clang 14 (the fuzz preset) cannot capture one in the
    // lambda.
    const std::string user(user_key);
    for (const auto& entry : keys) {
      const std::string key_id(entry.first);
      const boost::json::value& signed_value = entry.second;
      // Checks one signed object; a failure is reported for it and the others go on.
      auto check = [&]() -> absl::Status {
        if (!signed_value.is_object()) return BadJson("The signed key must be an object");
        const object& signed_key = signed_value.get_object();
        const object* mine = SignaturesBy(signed_key, me);
        if (mine == nullptr || mine->empty()) return InvalidSignature("No signature by you");
        CONCLAVE_ASSIGN_OR_RETURN(auto master, StoredCrossSigningKey(user, "master"));
        const bool is_master = PublicKeyOf(master) == key_id;
        std::optional<object> device;
        if (!is_master && user == me) {
          CONCLAVE_ASSIGN_OR_RETURN(device, StoredDeviceKeys(user, key_id));
        }
        if (!is_master && !device) return NotFound(core::StrCat("Unknown key ", key_id));
        object& target = is_master ? *master : *device;
        if (!SameKey(signed_key, target)) {
          return InvalidParam("The signed object is not the key stored for this id");
        }
        object kept;  // the signer's signatures that verified: key id → signature
        for (const auto& [signing_key_id, signature] : *mine) {
          std::string pub;
          if (user != me) {
            if (signing_key_id == core::StrCat("ed25519:", user_signing_pub))
              pub = user_signing_pub;
          } else if (!is_master) {
            if (signing_key_id == core::StrCat("ed25519:", self_signing_pub))
              pub = self_signing_pub;
          } else if (std::string_view(signing_key_id).substr(0, 8) == "ed25519:") {
            // The user's own master key, signed by one of their devices.
            CONCLAVE_ASSIGN_OR_RETURN(
                auto signer_device,
                StoredDeviceKeys(me, std::string_view(signing_key_id).substr(8)));
            if (signer_device) {
              const value* dk = signer_device->if_contains("keys");
              if (dk != nullptr && dk->is_object()) {
                pub = std::string(StringField(dk->get_object(), signing_key_id));
              }
            }
          }
          if (pub.empty()) continue;  // a signature of a key this endpoint does not take
          CONCLAVE_RETURN_IF_ERROR(VerifyJsonSignature(signed_key, me, signing_key_id, pub));
          kept[signing_key_id] = signature;
        }
        if (kept.empty()) return InvalidSignature("No signature by a key that may sign this key");
        if (user != me) {
          const std::string row = schema::KeySignatureKey(user, key_id, me);
          CONCLAVE_ASSIGN_OR_RETURN(auto stored, deps_.store.Find(*maps_.key_signatures, row));
          object merged;
          if (stored) {
            CONCLAVE_ASSIGN_OR_RETURN(merged, ParseStored(*stored, "key signatures"));
          }
          for (const auto& [k, v] : kept) merged[k] = v;
          batch.Put(*maps_.key_signatures, row, boost::json::serialize(merged));
          changed.insert(me);
          return absl::OkStatus();
        }
        for (const auto& [k, v] : kept) AddSignature(target, me, k, v);
        if (is_master) {
          batch.Put(*maps_.cross_signing, schema::PairKey(me, "master"),
                    boost::json::serialize(target));
        } else {
          batch.Put(*maps_.device_keys, schema::DeviceKey(me, key_id),
                    boost::json::serialize(target));
        }
        changed.insert(me);
        return absl::OkStatus();
      };
      if (absl::Status status = check(); !status.ok()) {
        if (status.code() != absl::StatusCode::kInvalidArgument &&
            status.code() != absl::StatusCode::kNotFound) {
          return status;  // a database error fails the request
        }
        failures[user][key_id] = std::move(status);
      }
    }
  }
  if (!changed.empty()) {
    CONCLAVE_RETURN_IF_ERROR(deps_.stream
                                 .Commit(batch,
                                         [&](uint64_t position, database::WriteBatch& b) {
                                           for (const std::string& u : changed) {
                                             AddKeyChange(u, position, b);
                                           }
                                         })
                                 .status());
    for (const std::string& u : changed) NotifyDeviceChange(u);
  }
  return failures;
}

}  // namespace conclave::service
