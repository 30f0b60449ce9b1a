// Ed25519 signatures and signed JSON, for device keys, one-time keys, cross-signing keys, server
// keys and events.
//
// Appendices, "Signing JSON" (the signature covers the canonical JSON of the object without its
// `signatures` and `unsigned` members) and "Cryptographic key representation" (keys and
// signatures as unpadded base64); Server-Server API, "Signing events". OpenSSL 3's EVP Ed25519.
// Stateless functions; thread-safe.
#ifndef CONCLAVE_SERVICE_PROTOCOL_SIGNING_H_
#define CONCLAVE_SERVICE_PROTOCOL_SIGNING_H_

#include <boost/json/object.hpp>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "conclave/service/protocol/room_versions.h"

namespace conclave::service {

// An Ed25519 key pair: the 32-byte seed (private key) and the 32-byte public key, both raw.
struct Ed25519KeyPair {
  std::string seed;
  std::string public_key;
};

// A server's signing key (Server-Server API, "Retrieving server keys"): its key id
// "ed25519:<version>" and its key pair. A value type; thread-compatible.
struct ServerSigningKey {
  std::string key_id;
  Ed25519KeyPair pair;
};

// Returns the key pair of a 32-byte `seed` (kInvalidArgument for another length).
absl::StatusOr<Ed25519KeyPair> Ed25519FromSeed(std::string_view seed);

// Returns the 64-byte Ed25519 signature of `message` by `seed`. kInvalidArgument for a seed
// that is not 32 bytes.
absl::StatusOr<std::string> Ed25519Sign(std::string_view seed, std::string_view message);

// True when `signature` (64 raw bytes) is `public_key`'s (32 raw bytes) signature of `message`;
// false for a wrong signature and for malformed keys or signatures.
bool Ed25519Verify(std::string_view public_key, std::string_view signature,
                   std::string_view message);

// The bytes a JSON signature covers: the canonical JSON of `json` without `signatures` and
// `unsigned`. kInvalidArgument when the object cannot be canonical JSON (canonical_json.h).
absl::StatusOr<std::string> SignedBytes(const boost::json::object& json);

// Adds `signatures[signer][key_id]` (unpadded base64) by `seed` to `json`, keeping other
// signatures. kInvalidArgument as SignedBytes and Ed25519Sign.
absl::Status SignJson(boost::json::object& json, std::string_view signer, std::string_view key_id,
                      std::string_view seed);

// M_INVALID_SIGNATURE [400] with `message`.
absl::Status InvalidSignature(std::string_view message);

// Checks `json.signatures[signer][key_id]` against `public_key_base64` (an unpadded base64
// Ed25519 key, as in device_keys.keys). Matrix errors: M_INVALID_SIGNATURE (400) when the
// signature is absent, malformed or wrong, or the key is not base64 of 32 bytes; M_BAD_JSON when
// the object is not canonical JSON.
absl::Status VerifyJsonSignature(const boost::json::object& json, std::string_view signer,
                                 std::string_view key_id, std::string_view public_key_base64);

// Signs `pdu`, an event as sent over federation (with its `hashes`; in room versions 3 and later
// without `event_id`; a v12 m.room.create without `room_id`), as Server-Server API "Signing
// events" says: the event redacted under `version`'s rules (redaction.h) is signed and the
// signature is added to `pdu` as `signatures[server_name][key.key_id]`, other signatures kept.
// Sign after the content hash is added and before the event id is. kInvalidArgument as
// SignJson.
absl::Status SignEvent(boost::json::object& pdu, const RoomVersion& version,
                       std::string_view server_name, const ServerSigningKey& key);

// Checks `signatures[server_name][key_id]` of `pdu` (as sent: see SignEvent) over its redacted
// form. VerifyJsonSignature's errors.
absl::Status VerifyEventSignature(const boost::json::object& pdu, const RoomVersion& version,
                                  std::string_view server_name, std::string_view key_id,
                                  std::string_view public_key_base64);

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_PROTOCOL_SIGNING_H_
