// RemoteKeys: other servers' signing keys, fetched from the servers themselves (GET
// /_matrix/key/v2/server), checked (their `server_name` and self-signatures) and cached in
// RocksDB (schema.h: `federation_server_keys`, `federation_key_responses`), with their validity:
// `valid_until_ts` for current keys (at most 7 days after the fetch), `expired_ts` for
// `old_verify_keys`. Inbound request authentication asks for a key valid now; event checks ask
// for a key valid at the event's time (old keys honoured). The notary endpoints serve the cached
// answers.
//
// Server-Server API, "Retrieving server keys" (keys_server.yaml, keys_query.yaml). Owned by the
// Homeserver; thread-safe. Calls that may fetch block (FederationClient): blocking routes and
// the admin worker only.
#ifndef CONCLAVE_SERVICE_FEDERATION_REMOTE_KEYS_H_
#define CONCLAVE_SERVICE_FEDERATION_REMOTE_KEYS_H_

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "conclave/database/database.h"
#include "conclave/service/federation/federation_client.h"
#include "conclave/service/federation/request_auth.h"
#include "conclave/service/protocol/signing.h"

namespace conclave::service {

// One cached key of a server (a `federation_server_keys` row).
struct ServerKeyRecord {
  std::string server_name;
  std::string key_id;                 // "ed25519:..."
  std::string key;                    // unpadded base64
  int64_t valid_until_ts = 0;         // ms since the Unix epoch
  std::optional<int64_t> expired_ts;  // an old key: valid for what was signed before this (ms)
  int64_t fetched_ts = 0;             // ms
};

// The longest a fetched key is taken to be valid, whatever its `valid_until_ts` says.
inline constexpr int64_t kMaxKeyValidityMs = int64_t{7} * 24 * 3600 * 1000;

// Checks a GET /_matrix/key/v2/server answer of `server_name`: `server_name` matches,
// `verify_keys` is an object of {key: base64 string}, `valid_until_ts` an integer,
// `old_verify_keys` (optional) of {key, expired_ts}, and it is signed by `server_name` with at
// least one of its verify keys, every signature by a verify key being valid (as Synapse checks).
// M_UNAUTHORIZED-free: kInvalidArgument naming the problem.
absl::Status CheckServerKeysResponse(const boost::json::object& response,
                                     std::string_view server_name);

class RemoteKeys {
 public:
  struct Deps {
    std::string server_name;  // ours
    const ServerSigningKey& signing_key;
    database::Database& db;
    // Null: nothing is fetched (only the cache answers).
    FederationClient* client = nullptr;
    std::function<int64_t()> now_ms;  // ms since the Unix epoch; null: the wall clock
  };
  // Opens the maps. Database errors.
  static absl::StatusOr<std::unique_ptr<RemoteKeys>> Open(Deps deps);

  // Fetches `server_name`'s keys from the server itself, checks them
  // (CheckServerKeysResponse), stores them and returns the answer. kInvalidArgument for this
  // server's own name or an answer that fails the checks; the client's errors.
  absl::StatusOr<boost::json::object> Fetch(std::string_view server_name);

  // Stores a checked answer of `server_name` fetched at `fetched_ts`: its verify keys (valid
  // until the lesser of its valid_until_ts and fetched_ts + 7 days), its old keys, and the
  // answer itself. Database errors.
  absl::Status Store(std::string_view server_name, const boost::json::object& response,
                     int64_t fetched_ts);

  // The public key (unpadded base64) of `server_name`'s `key_id` valid at `ts` (ms): a current
  // key with valid_until_ts >= ts, or an old key with ts < expired_ts. This server's own key
  // for our name. When the cache has none, the keys are fetched (at most once a minute per
  // server) and looked up again. M_UNAUTHORIZED (401) naming the key when none is valid (the
  // fetch's failure in the message). `current_only`: old keys do not count (requests: "old
  // verify keys ... are only valid for signing events", keys_server.yaml).
  absl::StatusOr<std::string> KeyAt(std::string_view server_name, std::string_view key_id,
                                    int64_t ts, bool current_only = false);

  // For inbound request authentication (VerifyRequest): KeyAt(server, key id, now), current
  // keys only.
  ServerKeyLookup RequestKeyLookup();

  // The answer the notary gives for `server_name` (keys_query.yaml): the cached answer when its
  // valid_until_ts >= `minimum_valid_until_ts`, else a fresh fetch, else (the server is
  // unreachable) the cached answer anyway; nullopt when there is none. Signed by this server
  // (`signatures[our name]`) on top of the server's own signatures.
  absl::StatusOr<std::optional<boost::json::object>> NotaryAnswer(std::string_view server_name,
                                                                  int64_t minimum_valid_until_ts);

  // Every cached key of `server_name`, by key id. Database errors.
  absl::StatusOr<std::vector<ServerKeyRecord>> Cached(std::string_view server_name) const;

 private:
  explicit RemoteKeys(Deps deps);
  int64_t Now() const;
  absl::StatusOr<std::optional<ServerKeyRecord>> Row(std::string_view server_name,
                                                     std::string_view key_id) const;
  absl::StatusOr<std::optional<boost::json::object>> CachedResponse(
      std::string_view server_name) const;
  // Whether a fetch of `server_name` may start now (one a minute); records it.
  bool MayFetch(std::string_view server_name);

  Deps deps_;
  database::Map* keys_ = nullptr;
  database::Map* responses_ = nullptr;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, int64_t> last_fetch_ ABSL_GUARDED_BY(mu_);
};

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_FEDERATION_REMOTE_KEYS_H_
