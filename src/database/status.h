// The one adapter from rocksdb::Status to absl::Status (private to the database subsystem).
#ifndef CONCLAVE_DATABASE_STATUS_H_
#define CONCLAVE_DATABASE_STATUS_H_

#include <string_view>

#include "absl/status/status.h"
#include "rocksdb/status.h"

namespace conclave::database::internal {

// Returns the absl::StatusCode that best describes `status`: NotFound and PathNotFound ->
// kNotFound, Corruption -> kDataLoss, InvalidArgument -> kInvalidArgument, NotSupported ->
// kUnimplemented, NoSpace/SpaceLimit/MemoryLimit/CompactionTooLarge -> kResourceExhausted,
// other IOError -> kInternal, Busy/TryAgain/Incomplete/ShutdownInProgress -> kUnavailable,
// TimedOut/Expired -> kDeadlineExceeded, Aborted/MergeInProgress -> kAborted,
// ColumnFamilyDropped -> kFailedPrecondition.
absl::StatusCode ToStatusCode(const rocksdb::Status& status);

// Returns OK for OK, else an absl::Status with ToStatusCode() and the message
// "<context>: <RocksDB's description>" (just RocksDB's when `context` is empty).
absl::Status FromRocksdb(const rocksdb::Status& status, std::string_view context = {});

}  // namespace conclave::database::internal

#endif  // CONCLAVE_DATABASE_STATUS_H_
