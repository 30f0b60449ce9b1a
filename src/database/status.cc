#include "status.h"

#include <fmt/format.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace conclave::database::internal {

absl::StatusCode ToStatusCode(const rocksdb::Status& status) {
  using Code = rocksdb::Status::Code;
  using SubCode = rocksdb::Status::SubCode;
  switch (status.code()) {
    case Code::kOk:
      return absl::StatusCode::kOk;
    case Code::kNotFound:
      return absl::StatusCode::kNotFound;
    case Code::kCorruption:
      return absl::StatusCode::kDataLoss;
    case Code::kNotSupported:
      return absl::StatusCode::kUnimplemented;
    case Code::kInvalidArgument:
      return absl::StatusCode::kInvalidArgument;
    case Code::kIOError:
      switch (status.subcode()) {
        case SubCode::kNoSpace:
        case SubCode::kSpaceLimit:
        case SubCode::kMemoryLimit:
          return absl::StatusCode::kResourceExhausted;
        case SubCode::kPathNotFound:
          return absl::StatusCode::kNotFound;
        default:
          // A failing disk or file system is not transient: retrying will not help.
          return absl::StatusCode::kInternal;
      }
    case Code::kMergeInProgress:
    case Code::kAborted:
      return absl::StatusCode::kAborted;
    case Code::kIncomplete:
    case Code::kShutdownInProgress:
    case Code::kBusy:
    case Code::kTryAgain:
      return absl::StatusCode::kUnavailable;
    case Code::kTimedOut:
    case Code::kExpired:
      return absl::StatusCode::kDeadlineExceeded;
    case Code::kCompactionTooLarge:
      return absl::StatusCode::kResourceExhausted;
    case Code::kColumnFamilyDropped:
      return absl::StatusCode::kFailedPrecondition;
    default:
      return absl::StatusCode::kUnknown;
  }
}

absl::Status FromRocksdb(const rocksdb::Status& status, std::string_view context) {
  if (status.ok()) return absl::OkStatus();
  std::string message = status.ToString();
  if (!context.empty()) message = fmt::format("{}: {}", context, message);
  return absl::Status(ToStatusCode(status), message);
}

}  // namespace conclave::database::internal
