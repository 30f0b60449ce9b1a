#include "conclave/service/storage/globals.h"

#include <functional>

#include "conclave/core/log.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/database/instance.h"
#include "conclave/database/key.h"
#include "conclave/database/write_batch.h"
#include "conclave/service/storage/relation_rows.h"
#include "conclave/service/storage/schema.h"
#include "conclave/service/storage/stored_json.h"

namespace conclave::service {
namespace {

using schema::kGlobalsMap;
constexpr std::string_view kSchemaKey = "schema_version";
constexpr std::string_view kFirstStartKey = "first_start_us";

std::string EncodeU64(uint64_t v) {
  database::KeyBuilder b;
  b.AppendU64(v);
  return std::move(b).Build();
}

absl::StatusOr<uint64_t> DecodeU64(std::string_view bytes) {
  database::KeyReader r(bytes);
  return r.ReadU64();
}

absl::Status BuildRelationIndex(database::Database& db, database::WriteBatch& batch) {
  CONCLAVE_ASSIGN_OR_RETURN(database::Map * timeline, db.OpenMap("timeline"));
  CONCLAVE_ASSIGN_OR_RETURN(database::Map * relations, db.OpenMap("relations"));
  CONCLAVE_ASSIGN_OR_RETURN(database::Map * threads, db.OpenMap("threads"));
  RelationRowsBuilder rows;
  CONCLAVE_RETURN_IF_ERROR(
      db.ForEachWithPrefix(*timeline, "", [&](std::string_view key, std::string_view value) {
        database::KeyReader reader(key);
        auto room_id = reader.ReadString();
        auto position = reader.ReadU64();
        auto pdu = ParseObject(value);
        // An undecodable row is `database verify`'s to report; it has no relation to index.
        if (room_id.ok() && position.ok() && pdu.ok()) rows.Add(*room_id, *position, *pdu);
        return true;
      }));
  for (const auto& [key, value] : rows.relations()) batch.Put(*relations, key, value);
  for (const auto& [key, value] : rows.Threads()) batch.Put(*threads, key, value);
  CONCLAVE_LOG(kInfo, "service", "indexed {} relations of stored events", rows.relations().size());
  return absl::OkStatus();
}

// Migration N brings a database from schema N-1 to N, adding its writes to `batch`.
using Migration = std::function<absl::Status(database::Database&, database::WriteBatch&)>;

std::vector<Migration> Migrations(database::Map& globals) {
  return {
      // 1: a new database; record when it was first started.
      [&globals](database::Database&, database::WriteBatch& batch) {
        batch.Put(globals, kFirstStartKey, EncodeU64(absl::ToUnixMicros(absl::Now())));
        return absl::OkStatus();
      },
      // 2: index the relations of the rooms stored before the `relations` and `threads` maps
      // (relation_rows.h); from here on EventWriter keeps them with every event.
      [](database::Database& db, database::WriteBatch& batch) -> absl::Status {
        return BuildRelationIndex(db, batch);
      },
  };
}

}  // namespace

absl::StatusOr<std::unique_ptr<Globals>> Globals::Open(database::Database& db,
                                                       std::string server_name) {
  CONCLAVE_ASSIGN_OR_RETURN(database::Map * map, db.OpenMap(kGlobalsMap));
  uint64_t stored = 0;
  auto raw = db.Get(*map, kSchemaKey);
  if (raw.ok()) {
    CONCLAVE_ASSIGN_OR_RETURN(stored, DecodeU64(*raw));
  } else if (raw.status().code() != absl::StatusCode::kNotFound) {
    return raw.status();
  }
  if (stored > kSchemaVersion) {
    return absl::FailedPreconditionError(
        core::StrCat("the database at ", db.path(), " has schema version ", stored,
                     ", written by a newer conclave; this build supports up to ", kSchemaVersion,
                     ". Upgrade conclave, or restore a backup made by this version"));
  }
  auto migrations = Migrations(*map);
  for (uint64_t version = stored + 1; version <= kSchemaVersion; ++version) {
    database::WriteBatch batch;
    CONCLAVE_RETURN_IF_ERROR(migrations[version - 1](db, batch));
    batch.Put(*map, kSchemaKey, EncodeU64(version));
    CONCLAVE_RETURN_IF_ERROR(db.Write(batch));
    CONCLAVE_LOG(kInfo, "service", "database schema migrated to version {}", version);
  }
  auto globals = std::unique_ptr<Globals>(new Globals);
  globals->schema_version_ = kSchemaVersion;
  globals->server_name_ = std::move(server_name);
  CONCLAVE_ASSIGN_OR_RETURN(std::string first, db.Get(*map, kFirstStartKey));
  CONCLAVE_ASSIGN_OR_RETURN(uint64_t micros, DecodeU64(first));
  globals->first_start_ = absl::FromUnixMicros(static_cast<int64_t>(micros));
  return globals;
}

}  // namespace conclave::service
