// The backup functions behind `database backup` and `database list-backups`, for the commands and
// their tests. Private to the admin module. Thread-compatible: two backups at once in the same
// directory race over which old ones to remove (the admin room runs commands one at a time).
#ifndef CONCLAVE_ADMIN_DATABASE_COMMANDS_H_
#define CONCLAVE_ADMIN_DATABASE_COMMANDS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace conclave::database {
class Database;
}

namespace conclave::admin {

// A backup is the directory `<database_backup_path>/conclave-backup-<UTC time>`, e.g.
// conclave-backup-2024-05-01T120000.123Z: names sort by time.
inline constexpr char kBackupPrefix[] = "conclave-backup-";
inline constexpr char kBackupTimeFormat[] = "%Y-%m-%dT%H%M%E3SZ";
// The same for absl::ParseTime, which reads the fraction with %E*S.
inline constexpr char kBackupTimeParseFormat[] = "%Y-%m-%dT%H%M%E*SZ";

struct BackupInfo {
  std::string name;  // directory name
  std::string path;
  absl::Time created;
  uint64_t files = 0;
  uint64_t bytes = 0;  // hard-linked SST files count in full
};

struct BackupResult {
  std::string path;
  uint64_t files = 0;
  uint64_t bytes = 0;
  std::vector<std::string> removed;  // names of the old backups removed, oldest first
};

// The backups in `backup_path`, oldest first (none if the directory does not exist yet).
// kFailedPrecondition if `backup_path` is empty (backups not configured), kInternal if it cannot
// be listed.
absl::StatusOr<std::vector<BackupInfo>> FindBackups(const std::string& backup_path);

// Writes a checkpoint of `db` named for `now` into `backup_path` (created if missing), then
// removes the oldest backups beyond the newest `keep` (none removed when `keep` <= 0).
// kFailedPrecondition if `backup_path` is empty or cannot be created; the checkpoint's errors
// (kAlreadyExists for a second backup within the same millisecond); kInternal if removing an old
// backup fails (the new one is written).
absl::StatusOr<BackupResult> WriteBackup(database::Database& db, const std::string& backup_path,
                                         int keep, absl::Time now);

}  // namespace conclave::admin

#endif  // CONCLAVE_ADMIN_DATABASE_COMMANDS_H_
