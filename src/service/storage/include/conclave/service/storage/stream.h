// Stream: the homeserver's one monotonic position counter, shared by everything /sync reports
// (events, membership, account data, receipts, presence).
//
// Each commit takes the next position, adds its writes to one WriteBatch together with the new
// position, and writes the batch atomically; commits are serialized, so a reader that sees
// position P has seen every commit up to P. Positions survive restarts (they are stored in the
// `stream` map in the same batch). Thread-safe. Must not outlive its Store.
#ifndef CONCLAVE_SERVICE_STORAGE_STREAM_H_
#define CONCLAVE_SERVICE_STORAGE_STREAM_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "conclave/database/write_batch.h"
#include "conclave/service/storage/store.h"

namespace conclave::service {

class Stream {
 public:
  // Reads the last position from `store.stream` (0 on a new database).
  static absl::StatusOr<std::unique_ptr<Stream>> Open(Store& store);

  // The last committed position: everything up to it is in the database.
  uint64_t current() const { return current_.load(std::memory_order_acquire); }

  // Allocates position P = current() + 1, calls `fill(P, batch)` to add the writes that carry P,
  // writes `batch` (including what it held before) with P recorded, and then calls
  // `published(P)` before any later commit starts (to update caches in stream order). Returns P,
  // or the write error (then nothing was written and P is not used).
  absl::StatusOr<uint64_t> Commit(database::WriteBatch& batch,
                                  absl::FunctionRef<void(uint64_t, database::WriteBatch&)> fill,
                                  absl::FunctionRef<void(uint64_t)> published);
  absl::StatusOr<uint64_t> Commit(database::WriteBatch& batch,
                                  absl::FunctionRef<void(uint64_t, database::WriteBatch&)> fill);

 private:
  explicit Stream(Store& store, uint64_t last) : store_(store), current_(last) {}
  Store& store_;
  std::mutex commit_mu_;
  std::atomic<uint64_t> current_;
};

// Pagination tokens: "t<position>" from /messages and /context, "s<position>_<typing>" from
// /sync; both name the boundary after that position. M_INVALID_PARAM for anything else.
absl::StatusOr<uint64_t> ParsePositionToken(std::string_view token);
// "t<position>".
std::string PositionToken(uint64_t position);

// Offset tokens of paged results that are not stream ranges (search's `next_batch`, the space
// hierarchy's `from`): `prefix` and the decimal offset. ParseOffsetToken answers M_INVALID_PARAM
// naming `param` for a token without that prefix or digits.
std::string OffsetToken(char prefix, size_t offset);
absl::StatusOr<size_t> ParseOffsetToken(std::string_view token, char prefix,
                                        std::string_view param);

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_STORAGE_STREAM_H_
