// Server-Server API, "Retrieving server keys": "Publishing Keys" (keys_server.yaml: the 7-day
// cap on valid_until_ts, old_verify_keys with expired_ts) and "Querying Keys Through Another
// Server" (keys_query.yaml: the notary signs what it serves).
#include "conclave/service/federation/remote_keys.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <utility>

#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/database/key.h"
#include "conclave/service/protocol/clock.h"
#include "conclave/service/protocol/crypto.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/storage/schema.h"

namespace conclave::service {
namespace {

using core::StrCat;

constexpr int64_t kMinFetchIntervalMs = 60'000;

absl::Status Unauthorized(std::string_view message) {
  return MatrixStatus(absl::StatusCode::kUnauthenticated, Errcode::kUnauthorized, message);
}

std::optional<int64_t> IntOf(const boost::json::value* v) {
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64() && v->as_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    return static_cast<int64_t>(v->as_uint64());
  }
  return std::nullopt;
}

// The `key` string of `entry` ({key: base64}), checked to be base64 of 32 bytes.
absl::StatusOr<std::string> KeyOf(const boost::json::value& entry, std::string_view where) {
  const boost::json::value* key =
      entry.is_object() ? entry.get_object().if_contains("key") : nullptr;
  if (key == nullptr || !key->is_string()) {
    return absl::InvalidArgumentError(StrCat(where, ": no key string"));
  }
  absl::StatusOr<std::string> raw = DecodeUnpaddedBase64(key->get_string());
  if (!raw.ok() || raw->size() != 32) {
    return absl::InvalidArgumentError(StrCat(where, ": the key is not base64 of 32 bytes"));
  }
  return std::string(key->get_string());
}

std::string EncodeRecord(const ServerKeyRecord& r) {
  boost::json::object row{
      {"key", r.key}, {"valid_until_ts", r.valid_until_ts}, {"fetched_ts", r.fetched_ts}};
  if (r.expired_ts.has_value()) row["expired_ts"] = *r.expired_ts;
  return boost::json::serialize(row);
}

absl::StatusOr<ServerKeyRecord> DecodeRecord(std::string_view server_name, std::string_view key_id,
                                             std::string_view value) {
  boost::system::error_code ec;
  boost::json::value json = boost::json::parse(value, ec);
  if (ec || !json.is_object()) {
    return absl::DataLossError(StrCat("federation_server_keys: bad row for ", server_name));
  }
  const boost::json::object& o = json.get_object();
  ServerKeyRecord r;
  r.server_name = std::string(server_name);
  r.key_id = std::string(key_id);
  if (const auto* key = o.if_contains("key"); key && key->is_string()) {
    r.key = std::string(key->get_string());
  }
  r.valid_until_ts = IntOf(o.if_contains("valid_until_ts")).value_or(0);
  r.fetched_ts = IntOf(o.if_contains("fetched_ts")).value_or(0);
  r.expired_ts = IntOf(o.if_contains("expired_ts"));
  return r;
}

bool ValidAt(const ServerKeyRecord& r, int64_t ts, bool current_only) {
  if (r.expired_ts.has_value()) return !current_only && ts < *r.expired_ts;
  return ts <= r.valid_until_ts;
}

}  // namespace

absl::Status CheckServerKeysResponse(const boost::json::object& response,
                                     std::string_view server_name) {
  const boost::json::value* name = response.if_contains("server_name");
  if (name == nullptr || !name->is_string() || name->get_string() != server_name) {
    return absl::InvalidArgumentError(
        StrCat("the keys of ", server_name, " name another server_name"));
  }
  if (!IntOf(response.if_contains("valid_until_ts")).has_value()) {
    return absl::InvalidArgumentError(StrCat("the keys of ", server_name, ": no valid_until_ts"));
  }
  const boost::json::value* verify_keys = response.if_contains("verify_keys");
  if (verify_keys == nullptr || !verify_keys->is_object()) {
    return absl::InvalidArgumentError(StrCat("the keys of ", server_name, ": no verify_keys"));
  }
  if (const boost::json::value* old = response.if_contains("old_verify_keys")) {
    if (!old->is_object()) {
      return absl::InvalidArgumentError(
          StrCat("the keys of ", server_name, ": old_verify_keys is not an object"));
    }
    for (const auto& [key_id, entry] : old->get_object()) {
      CONCLAVE_RETURN_IF_ERROR(KeyOf(entry, StrCat("old_verify_keys.", key_id)).status());
      if (!IntOf(entry.get_object().if_contains("expired_ts")).has_value()) {
        return absl::InvalidArgumentError(
            StrCat("the keys of ", server_name, ": old_verify_keys.", key_id, ": no expired_ts"));
      }
    }
  }
  const boost::json::value* signatures = response.if_contains("signatures");
  const boost::json::value* ours = signatures != nullptr && signatures->is_object()
                                       ? signatures->get_object().if_contains(server_name)
                                       : nullptr;
  if (ours == nullptr || !ours->is_object()) {
    return absl::InvalidArgumentError(StrCat("the keys of ", server_name, " are not signed by it"));
  }
  int verified = 0;
  for (const auto& [key_id, entry] : verify_keys->get_object()) {
    CONCLAVE_ASSIGN_OR_RETURN(std::string key, KeyOf(entry, StrCat("verify_keys.", key_id)));
    if (!ours->get_object().contains(key_id)) continue;
    if (absl::Status status = VerifyJsonSignature(response, server_name, key_id, key);
        !status.ok()) {
      return absl::InvalidArgumentError(
          StrCat("the keys of ", server_name, ": the signature by ", key_id, " does not verify"));
    }
    ++verified;
  }
  if (verified == 0) {
    return absl::InvalidArgumentError(
        StrCat("the keys of ", server_name, " are not signed by any of its verify_keys"));
  }
  return absl::OkStatus();
}

RemoteKeys::RemoteKeys(Deps deps) : deps_(std::move(deps)) {}

absl::StatusOr<std::unique_ptr<RemoteKeys>> RemoteKeys::Open(Deps deps) {
  std::unique_ptr<RemoteKeys> keys(new RemoteKeys(std::move(deps)));
  CONCLAVE_ASSIGN_OR_RETURN(keys->keys_, keys->deps_.db.OpenMap(schema::kServerKeysMap));
  CONCLAVE_ASSIGN_OR_RETURN(keys->responses_,
                            keys->deps_.db.OpenMap(schema::kServerKeyResponsesMap));
  return keys;
}

int64_t RemoteKeys::Now() const { return deps_.now_ms ? deps_.now_ms() : NowMs(); }

bool RemoteKeys::MayFetch(std::string_view server_name) {
  const int64_t now = Now();
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = last_fetch_.try_emplace(std::string(server_name), now);
  if (inserted) return true;
  if (now - it->second < kMinFetchIntervalMs) return false;
  it->second = now;
  return true;
}

absl::StatusOr<boost::json::object> RemoteKeys::Fetch(std::string_view server_name) {
  if (server_name == deps_.server_name) {
    return absl::InvalidArgumentError(StrCat(server_name, " is this server"));
  }
  if (deps_.client == nullptr) {
    return absl::FailedPreconditionError("federation: no client to fetch keys with");
  }
  const int64_t fetched_ts = Now();
  CONCLAVE_ASSIGN_OR_RETURN(
      boost::json::object response,
      deps_.client->SendJson(server_name, "GET", "/_matrix/key/v2/server", nullptr, false));
  CONCLAVE_RETURN_IF_ERROR(CheckServerKeysResponse(response, server_name));
  CONCLAVE_RETURN_IF_ERROR(Store(server_name, response, fetched_ts));
  return response;
}

absl::Status RemoteKeys::Store(std::string_view server_name, const boost::json::object& response,
                               int64_t fetched_ts) {
  const int64_t valid_until = std::min(IntOf(response.if_contains("valid_until_ts")).value_or(0),
                                       fetched_ts + kMaxKeyValidityMs);
  database::WriteBatch batch;
  auto put = [&](std::string_view key_id, const boost::json::value& entry,
                 std::optional<int64_t> expired_ts) -> absl::Status {
    CONCLAVE_ASSIGN_OR_RETURN(std::string key, KeyOf(entry, key_id));
    ServerKeyRecord r{.server_name = std::string(server_name),
                      .key_id = std::string(key_id),
                      .key = std::move(key),
                      .valid_until_ts = valid_until,
                      .expired_ts = expired_ts,
                      .fetched_ts = fetched_ts};
    batch.Put(*keys_, schema::PairKey(server_name, key_id), EncodeRecord(r));
    return absl::OkStatus();
  };
  if (const auto* old = response.if_contains("old_verify_keys"); old && old->is_object()) {
    for (const auto& [key_id, entry] : old->get_object()) {
      CONCLAVE_RETURN_IF_ERROR(
          put(key_id, entry, IntOf(entry.get_object().if_contains("expired_ts"))));
    }
  }
  if (const auto* current = response.if_contains("verify_keys"); current && current->is_object()) {
    for (const auto& [key_id, entry] : current->get_object()) {
      CONCLAVE_RETURN_IF_ERROR(put(key_id, entry, std::nullopt));
    }
  }
  batch.Put(*responses_, server_name, boost::json::serialize(response));
  return deps_.db.Write(batch);
}

absl::StatusOr<std::optional<ServerKeyRecord>> RemoteKeys::Row(std::string_view server_name,
                                                               std::string_view key_id) const {
  absl::StatusOr<std::string> value = deps_.db.Get(*keys_, schema::PairKey(server_name, key_id));
  if (absl::IsNotFound(value.status())) return std::nullopt;
  if (!value.ok()) return value.status();
  CONCLAVE_ASSIGN_OR_RETURN(ServerKeyRecord r, DecodeRecord(server_name, key_id, *value));
  return r;
}

absl::StatusOr<std::string> RemoteKeys::KeyAt(std::string_view server_name, std::string_view key_id,
                                              int64_t ts, bool current_only) {
  if (server_name == deps_.server_name) {
    if (key_id == deps_.signing_key.key_id) {
      return UnpaddedBase64(deps_.signing_key.pair.public_key);
    }
    return Unauthorized(StrCat("this server has no key ", key_id));
  }
  CONCLAVE_ASSIGN_OR_RETURN(std::optional<ServerKeyRecord> row, Row(server_name, key_id));
  if (row.has_value() && ValidAt(*row, ts, current_only)) return row->key;
  std::string why;
  if (deps_.client != nullptr && MayFetch(server_name)) {
    absl::StatusOr<boost::json::object> fetched = Fetch(server_name);
    if (fetched.ok()) {
      CONCLAVE_ASSIGN_OR_RETURN(row, Row(server_name, key_id));
      if (row.has_value() && ValidAt(*row, ts, current_only)) return row->key;
    } else {
      why = StrCat(" (fetching its keys failed: ", fetched.status().message(), ")");
    }
  }
  return Unauthorized(StrCat(row.has_value() ? "no longer valid: " : "unknown key: ", server_name,
                             " ", key_id, why));
}

ServerKeyLookup RemoteKeys::RequestKeyLookup() {
  return [this](std::string_view server_name, std::string_view key_id) {
    return KeyAt(server_name, key_id, Now(), /*current_only=*/true);
  };
}

absl::StatusOr<std::optional<boost::json::object>> RemoteKeys::CachedResponse(
    std::string_view server_name) const {
  absl::StatusOr<std::string> value = deps_.db.Get(*responses_, server_name);
  if (absl::IsNotFound(value.status())) return std::nullopt;
  if (!value.ok()) return value.status();
  boost::system::error_code ec;
  boost::json::value json = boost::json::parse(*value, ec);
  if (ec || !json.is_object()) {
    return absl::DataLossError(StrCat("federation_key_responses: bad row for ", server_name));
  }
  return std::move(json.get_object());
}

absl::StatusOr<std::optional<boost::json::object>> RemoteKeys::NotaryAnswer(
    std::string_view server_name, int64_t minimum_valid_until_ts) {
  CONCLAVE_ASSIGN_OR_RETURN(std::optional<boost::json::object> answer, CachedResponse(server_name));
  const bool fresh =
      answer.has_value() &&
      IntOf(answer->if_contains("valid_until_ts")).value_or(0) >= minimum_valid_until_ts;
  if (!fresh && deps_.client != nullptr && server_name != deps_.server_name) {
    absl::StatusOr<boost::json::object> fetched = Fetch(server_name);
    // An unreachable server: the cached answer, however old ("Notary servers can return keys
    // for servers that are offline ... by using cached responses").
    if (fetched.ok()) answer = *std::move(fetched);
  }
  if (!answer.has_value()) return std::nullopt;
  CONCLAVE_RETURN_IF_ERROR(
      SignJson(*answer, deps_.server_name, deps_.signing_key.key_id, deps_.signing_key.pair.seed));
  return answer;
}

absl::StatusOr<std::vector<ServerKeyRecord>> RemoteKeys::Cached(
    std::string_view server_name) const {
  std::vector<ServerKeyRecord> records;
  absl::Status decode_status;
  const std::string prefix = schema::UserPrefix(server_name);  // the first string of a PairKey
  CONCLAVE_RETURN_IF_ERROR(
      deps_.db.ForEachWithPrefix(*keys_, prefix, [&](std::string_view key, std::string_view value) {
        database::KeyReader reader(key);
        absl::StatusOr<std::string> server = reader.ReadString();
        absl::StatusOr<std::string> key_id = reader.ReadString();
        if (!server.ok() || !key_id.ok()) return true;
        absl::StatusOr<ServerKeyRecord> r = DecodeRecord(*server, *key_id, value);
        if (!r.ok()) {
          decode_status = r.status();
          return false;
        }
        records.push_back(*std::move(r));
        return true;
      }));
  CONCLAVE_RETURN_IF_ERROR(decode_status);
  return records;
}

}  // namespace conclave::service
