#include "conclave/service/protocol/signing.h"

#include <openssl/evp.h>

#include <memory>

#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/canonical_json.h"
#include "conclave/service/protocol/crypto.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/redaction.h"

namespace conclave::service {
namespace {

constexpr size_t kKeySize = 32;
constexpr size_t kSignatureSize = 64;

struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

absl::StatusOr<Pkey> PrivateKey(std::string_view seed) {
  if (seed.size() != kKeySize) return absl::InvalidArgumentError("Ed25519 seed must be 32 bytes");
  Pkey key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, Bytes(seed), seed.size()));
  if (key == nullptr) return absl::InternalError("EVP_PKEY_new_raw_private_key failed");
  return key;
}

}  // namespace

absl::Status InvalidSignature(std::string_view message) {
  return MatrixStatus(Errcode::kInvalidSignature, message);
}

absl::StatusOr<Ed25519KeyPair> Ed25519FromSeed(std::string_view seed) {
  CONCLAVE_ASSIGN_OR_RETURN(Pkey key, PrivateKey(seed));
  std::string public_key(kKeySize, '\0');
  size_t size = public_key.size();
  if (EVP_PKEY_get_raw_public_key(key.get(), reinterpret_cast<unsigned char*>(public_key.data()),
                                  &size) != 1 ||
      size != kKeySize) {
    return absl::InternalError("EVP_PKEY_get_raw_public_key failed");
  }
  return Ed25519KeyPair{std::string(seed), std::move(public_key)};
}

absl::StatusOr<std::string> Ed25519Sign(std::string_view seed, std::string_view message) {
  CONCLAVE_ASSIGN_OR_RETURN(Pkey key, PrivateKey(seed));
  MdCtx ctx(EVP_MD_CTX_new());
  std::string signature(kSignatureSize, '\0');
  size_t size = signature.size();
  if (ctx == nullptr || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                     Bytes(message), message.size()) != 1 ||
      size != kSignatureSize) {
    return absl::InternalError("Ed25519 signing failed");
  }
  return signature;
}

bool Ed25519Verify(std::string_view public_key, std::string_view signature,
                   std::string_view message) {
  if (public_key.size() != kKeySize || signature.size() != kSignatureSize) return false;
  Pkey key(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, Bytes(public_key), public_key.size()));
  MdCtx ctx(EVP_MD_CTX_new());
  if (key == nullptr || ctx == nullptr ||
      EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), Bytes(signature), signature.size(), Bytes(message),
                          message.size()) == 1;
}

absl::StatusOr<std::string> SignedBytes(const boost::json::object& json) {
  boost::json::object copy = json;
  copy.erase("signatures");
  copy.erase("unsigned");
  return CanonicalJson(copy);
}

absl::Status SignJson(boost::json::object& json, std::string_view signer, std::string_view key_id,
                      std::string_view seed) {
  CONCLAVE_ASSIGN_OR_RETURN(std::string bytes, SignedBytes(json));
  CONCLAVE_ASSIGN_OR_RETURN(std::string signature, Ed25519Sign(seed, bytes));
  boost::json::value& signatures = json["signatures"];
  if (!signatures.is_object()) signatures = boost::json::object();
  boost::json::value& by_signer = signatures.get_object()[signer];
  if (!by_signer.is_object()) by_signer = boost::json::object();
  by_signer.get_object()[key_id] = UnpaddedBase64(signature);
  return absl::OkStatus();
}

absl::Status VerifyJsonSignature(const boost::json::object& json, std::string_view signer,
                                 std::string_view key_id, std::string_view public_key_base64) {
  const boost::json::value* signatures = json.if_contains("signatures");
  const boost::json::value* by_signer = signatures != nullptr && signatures->is_object()
                                            ? signatures->get_object().if_contains(signer)
                                            : nullptr;
  const boost::json::value* signature = by_signer != nullptr && by_signer->is_object()
                                            ? by_signer->get_object().if_contains(key_id)
                                            : nullptr;
  if (signature == nullptr || !signature->is_string()) {
    return InvalidSignature(core::StrCat("No signature by ", signer, " with ", key_id));
  }
  auto raw_signature = DecodeUnpaddedBase64(signature->get_string());
  auto raw_key = DecodeUnpaddedBase64(public_key_base64);
  if (!raw_key.ok() || raw_key->size() != kKeySize) {
    return InvalidSignature(core::StrCat("Key ", key_id, " is not an Ed25519 key"));
  }
  auto bytes = SignedBytes(json);
  if (!bytes.ok()) return BadJson(std::string(bytes.status().message()));
  if (!raw_signature.ok() || !Ed25519Verify(*raw_key, *raw_signature, *bytes)) {
    return InvalidSignature(core::StrCat("Invalid signature by ", signer, " with ", key_id));
  }
  return absl::OkStatus();
}

absl::Status SignEvent(boost::json::object& pdu, const RoomVersion& version,
                       std::string_view server_name, const ServerSigningKey& key) {
  boost::json::object redacted = RedactEvent(pdu, version);
  CONCLAVE_RETURN_IF_ERROR(SignJson(redacted, server_name, key.key_id, key.pair.seed));
  // The redacted copy kept every signature `pdu` had, and now has ours too.
  pdu["signatures"] = std::move(redacted["signatures"]);
  return absl::OkStatus();
}

absl::Status VerifyEventSignature(const boost::json::object& pdu, const RoomVersion& version,
                                  std::string_view server_name, std::string_view key_id,
                                  std::string_view public_key_base64) {
  return VerifyJsonSignature(RedactEvent(pdu, version), server_name, key_id, public_key_base64);
}

}  // namespace conclave::service
