// The server's Ed25519 signing key and its file: generated at the first start, kept in
// `signing_key_path` (default `<database_path>-signing.key`) in Synapse's format so that
// operators can bring the key of a server they migrate from.
//
// Server-Server API, "Retrieving server keys" (key ids `ed25519:<version>`, the version of
// `[a-zA-Z0-9_]`); Appendices, "Cryptographic key representation". Loaded by the Homeserver at
// each load of service. Stateless functions; thread-safe (two processes creating the same file
// at once are not supported: the database lock keeps a second server out first).
#ifndef CONCLAVE_SERVICE_FEDERATION_SERVER_KEY_H_
#define CONCLAVE_SERVICE_FEDERATION_SERVER_KEY_H_

#include <boost/json/object.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "conclave/service/protocol/signing.h"

namespace conclave::service {

// The key file's path: `configured` (the `signing_key_path` option) when not empty, else
// `<database_path>-signing.key` beside the database (trailing slashes of `database_path`
// dropped), as the search index and the media directory are.
std::string SigningKeyPathFor(std::string_view configured, std::string_view database_path);

// Parses a key file in Synapse's format: one key per line, `ed25519 <version> <base64 seed>`
// (fields separated by spaces or tabs; the seed's 32 bytes in base64, padded or not); empty
// lines are skipped and the first key is the one returned (Synapse signs with the first too).
// kInvalidArgument naming the line for another algorithm, a version outside [a-zA-Z0-9_]
// (1 to 255 characters), a seed that is not base64 of 32 bytes, or a file with no key.
absl::StatusOr<ServerSigningKey> ParseSigningKeyFile(std::string_view text);

// The file's text for `key`: "ed25519 <version> <unpadded base64 seed>\n".
std::string FormatSigningKeyFile(const ServerSigningKey& key);

// A new key with a random version "a_" + 4 characters of [a-zA-Z0-9] (as Synapse's
// generate_signing_key) and a random seed.
ServerSigningKey GenerateSigningKey();

// Reads the key at `path`; when there is no file, generates one (GenerateSigningKey) and writes
// it durably: a temporary file of mode 0600 beside `path`, fsynced, renamed over `path`, the
// directory fsynced (missing parent directories are created). kInvalidArgument naming `path`
// for a malformed file (ParseSigningKeyFile), kPermissionDenied or kInternal naming `path` and
// the system error when it cannot be read or written. `created`, when not null, is set to
// whether the key was generated.
absl::StatusOr<ServerSigningKey> LoadOrCreateSigningKey(const std::string& path,
                                                        bool* created = nullptr);

// The server's keys as GET /_matrix/key/v2/server answers them (keys_server.yaml, Server-Server
// API "Publishing Keys"): `server_name`, `verify_keys` {key_id: {key}}, `old_verify_keys` (none
// yet: {}), `valid_until_ts` = `valid_until_ts` (ms since the Unix epoch), signed by `key`
// itself. kInvalidArgument only if `server_name` is not valid UTF-8.
absl::StatusOr<boost::json::object> SignedServerKeys(std::string_view server_name,
                                                     const ServerSigningKey& key,
                                                     int64_t valid_until_ts);

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_FEDERATION_SERVER_KEY_H_
