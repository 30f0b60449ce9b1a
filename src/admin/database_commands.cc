// `database`: RocksDB statistics, compaction, backups (checkpoints) into `database_backup_path`,
// and the consistency check of the homeserver's maps.
#include "database_commands.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_join.h"
#include "conclave/core/server.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/database/database.h"
#include "conclave/service/homeserver.h"
#include "conclave/service/media/media_store.h"
#include "conclave/service/storage/verify.h"
#include "format.h"
#include "tree.h"

namespace conclave::admin {
namespace {

namespace fs = std::filesystem;

// "L0:2 L6:1": the SST files per LSM level, levels without files left out.
std::string Levels(const std::vector<uint64_t>& files_per_level) {
  std::vector<std::string> parts;
  for (size_t level = 0; level < files_per_level.size(); ++level) {
    if (files_per_level[level] > 0) {
      parts.push_back(core::StrCat("L", level, ":", files_per_level[level]));
    }
  }
  return parts.empty() ? std::string("-") : absl::StrJoin(parts, " ");
}

absl::StatusOr<Reply> Stats(Context& context) {
  CONCLAVE_ASSIGN_OR_RETURN(database::Database * db, context.database());
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<database::MapStats> stats, db->Stats());
  std::vector<std::vector<std::string>> rows;
  database::MapStats total;
  for (const database::MapStats& map : stats) {
    rows.push_back({map.name, core::StrCat(map.estimated_keys), FormatBytes(map.live_sst_bytes),
                    core::StrCat(map.sst_files), FormatBytes(map.memtable_bytes),
                    Levels(map.files_per_level)});
    total.estimated_keys += map.estimated_keys;
    total.live_sst_bytes += map.live_sst_bytes;
    total.sst_files += map.sst_files;
    total.memtable_bytes += map.memtable_bytes;
  }
  rows.push_back({"(total)", core::StrCat(total.estimated_keys), FormatBytes(total.live_sst_bytes),
                  core::StrCat(total.sst_files), FormatBytes(total.memtable_bytes), ""});
  Reply reply(core::StrCat("RocksDB at ", db->path(), ": ",
                           Plural(stats.size(), "map (column family)", "maps (column families)"),
                           "; keys are estimates"));
  reply.Table({"map", "keys", "SST size", "SST files", "memtables", "files per level"},
              std::move(rows));
  return reply;
}

absl::StatusOr<Reply> Compact(Context& context, const std::string& name) {
  CONCLAVE_ASSIGN_OR_RETURN(database::Database * db, context.database());
  database::Map* map = nullptr;
  if (!name.empty()) {
    std::vector<std::string> names = db->MapNames();
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      std::string nearest = Nearest(name, names);
      return absl::NotFoundError(
          core::StrCat("no map '", name, "'",
                       nearest.empty() ? "" : core::StrCat("; did you mean '", nearest, "'?"),
                       " (database stats lists them)"));
    }
    CONCLAVE_ASSIGN_OR_RETURN(map, db->OpenMap(name));  // exists: opens, never creates
  }
  auto size = [&]() -> uint64_t {
    uint64_t bytes = 0;
    if (auto stats = db->Stats(); stats.ok()) {
      for (const auto& m : *stats) {
        if (name.empty() || m.name == name) bytes += m.live_sst_bytes;
      }
    }
    return bytes;
  };
  const uint64_t before = size();
  const absl::Time start = absl::Now();
  CONCLAVE_RETURN_IF_ERROR(db->Compact(map));
  return Reply(core::StrCat("compacted ", name.empty() ? std::string("every map") : name, " in ",
                            absl::ToInt64Milliseconds(absl::Now() - start), " ms: SST files ",
                            FormatBytes(before), " → ", FormatBytes(size()), ", ", context.By()));
}

absl::StatusOr<Reply> Backup(Context& context) {
  CONCLAVE_ASSIGN_OR_RETURN(database::Database * db, context.database());
  const core::Config& config = context.server().config();
  const int keep = config.database_backups_to_keep;
  const absl::Time start = absl::Now();
  CONCLAVE_ASSIGN_OR_RETURN(BackupResult result,
                            WriteBackup(*db, config.database_backup_path, keep, start));
  Reply reply(core::StrCat("backup written to ", result.path, " in ",
                           absl::ToInt64Milliseconds(absl::Now() - start), " ms (",
                           Plural(result.files, "file", "files"), ", ", FormatBytes(result.bytes),
                           "), ", context.By()));
  if (!result.removed.empty()) {
    reply.Text(core::StrCat("removed the oldest, keeping ", keep, ": ",
                            absl::StrJoin(result.removed, ", ")));
  }
  return reply;
}

absl::StatusOr<Reply> ListBackups(Context& context) {
  const core::Config& config = context.server().config();
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<BackupInfo> backups,
                            FindBackups(config.database_backup_path));
  std::vector<std::vector<std::string>> rows;
  for (const BackupInfo& b : backups) {
    rows.push_back(
        {b.name, FormatUtc(b.created), Plural(b.files, "file", "files"), FormatBytes(b.bytes)});
  }
  Reply reply(core::StrCat(Plural(rows.size(), "backup", "backups"), " in ",
                           config.database_backup_path, " (keeping ",
                           config.database_backups_to_keep, ")"));
  reply.Table({"backup", "created", "files", "size"}, std::move(rows));
  return reply;
}

// Counts per map and "OK", or the problems as an error (kDataLoss) whose message is the whole
// report, so that `--execute` prints it to stderr and the admin room shows it as an error.
absl::StatusOr<Reply> Verify(Context& context, size_t max_problems) {
  if (max_problems == 0) return absl::InvalidArgumentError("--max-problems must be at least 1");
  CONCLAVE_ASSIGN_OR_RETURN(service::Homeserver * hs, context.homeserver());
  const absl::Time start = absl::Now();
  CONCLAVE_ASSIGN_OR_RETURN(
      service::VerifyReport report,
      service::VerifyDatabase(hs->store(),
                              {.max_problems = max_problems, .server_name = hs->server_name()}));
  CONCLAVE_ASSIGN_OR_RETURN(database::Database * db, context.database());
  CONCLAVE_RETURN_IF_ERROR(
      service::VerifyMedia(*db,
                           service::MediaDirectoryOf(*context.server().sections().raw(),
                                                     context.server().config().database_path),
                           max_problems, report));
  std::vector<std::vector<std::string>> rows;
  uint64_t total = 0;
  for (const auto& [map, records] : report.records) {
    rows.push_back({map, core::StrCat(records)});
    total += records;
  }
  Reply reply(core::StrCat("checked ", Plural(total, "record", "records"), " in ",
                           Plural(report.records.size(), "map", "maps"), " at stream position ",
                           report.stream_position, " in ",
                           absl::ToInt64Milliseconds(absl::Now() - start), " ms"));
  reply.Table({"map", "records"}, std::move(rows));
  if (report.ok()) {
    reply.Text("OK: no inconsistencies");
    return reply;
  }
  std::vector<std::vector<std::string>> problems;
  for (const service::VerifyProblem& p : report.problems) {
    problems.push_back({p.map, p.key, p.problem});
  }
  reply.Text(
      core::StrCat("FAILED: ", Plural(report.problem_count, "inconsistency", "inconsistencies"),
                   report.problems.size() < report.problem_count
                       ? core::StrCat(", the first ", report.problems.size(), " listed")
                       : std::string()));
  reply.Table({"map", "key", "problem"}, std::move(problems));
  return absl::DataLossError(reply.Render().plain);
}

// Files and bytes under `dir` (hard-linked SST files count in full).
void Measure(const fs::path& dir, uint64_t* files, uint64_t* bytes) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) {
      ++*files;
      *bytes += it->file_size(ec);
    }
  }
}

}  // namespace

absl::StatusOr<std::vector<BackupInfo>> FindBackups(const std::string& backup_path) {
  if (backup_path.empty()) {
    return absl::FailedPreconditionError(
        "no backup directory: set database_backup_path in the config");
  }
  std::vector<BackupInfo> out;
  std::error_code ec;
  if (!fs::exists(backup_path, ec)) return out;
  for (auto it = fs::directory_iterator(backup_path, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!it->is_directory() || !name.starts_with(kBackupPrefix)) continue;
    BackupInfo info;
    info.name = name;
    info.path = it->path().string();
    std::string error;
    if (!absl::ParseTime(kBackupTimeParseFormat,
                         name.substr(std::string_view(kBackupPrefix).size()), absl::UTCTimeZone(),
                         &info.created, &error)) {
      continue;  // not one of ours
    }
    Measure(it->path(), &info.files, &info.bytes);
    out.push_back(std::move(info));
  }
  if (ec) {
    return absl::InternalError(core::StrCat("cannot list ", backup_path, ": ", ec.message()));
  }
  std::sort(out.begin(), out.end(),
            [](const BackupInfo& a, const BackupInfo& b) { return a.created < b.created; });
  return out;
}

absl::StatusOr<BackupResult> WriteBackup(database::Database& db, const std::string& backup_path,
                                         int keep, absl::Time now) {
  if (backup_path.empty()) {
    return absl::FailedPreconditionError(
        "no backup directory: set database_backup_path in the config");
  }
  std::error_code ec;
  fs::create_directories(backup_path, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        core::StrCat("cannot create ", backup_path, ": ", ec.message()));
  }
  BackupResult result;
  result.path =
      (fs::path(backup_path) /
       core::StrCat(kBackupPrefix, absl::FormatTime(kBackupTimeFormat, now, absl::UTCTimeZone())))
          .string();
  CONCLAVE_RETURN_IF_ERROR(db.CreateCheckpoint(result.path));
  Measure(result.path, &result.files, &result.bytes);
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<BackupInfo> backups, FindBackups(backup_path));
  for (size_t i = 0; keep > 0 && i + static_cast<size_t>(keep) < backups.size(); ++i) {
    fs::remove_all(backups[i].path, ec);
    if (ec) {
      return absl::InternalError(core::StrCat("backup written to ", result.path,
                                              ", but removing the old backup ", backups[i].path,
                                              " failed: ", ec.message()));
    }
    result.removed.push_back(backups[i].name);
  }
  return result;
}

void AddDatabaseCommands(CommandTree& tree) {
  Group group = tree.AddGroup("database", "The RocksDB database");
  tree.AddCommand(group, "stats",
                  "Per map (column family): estimated keys, SST size and files, memtables, files "
                  "per LSM level",
                  Stats);
  auto* map = tree.Make<std::string>();
  Command compact = tree.AddCommand(
      group, "compact",
      "Compact MAP, or every map, down to the last level (reclaims the space of deletes); "
      "blocks until done",
      [map](Context& context) { return Compact(context, *map); });
  compact.Arg("MAP", map, "A map (column family) name, as `database stats` lists them");
  tree.AddCommand(group, "backup",
                  "Write a consistent copy (a RocksDB checkpoint) into database_backup_path, "
                  "keeping the newest database_backups_to_keep",
                  Backup);
  tree.AddCommand(group, "list-backups", "The backups in database_backup_path", ListBackups);
  auto* max_problems = tree.Make<size_t>();
  *max_problems = 100;
  Command verify = tree.AddCommand(
      group, "verify",
      "Check that every index of the homeserver agrees with its records (events, timeline, "
      "room state, memberships, aliases, transaction ids, receipts, devices and tokens, media "
      "ids, their content counts and files), "
      "through one snapshot; fails listing the inconsistencies",
      [max_problems](Context& context) { return Verify(context, *max_problems); });
  verify.Arg("--max-problems", max_problems, "How many problems to list (default 100)")
      .Placeholder("N");
}

}  // namespace conclave::admin
