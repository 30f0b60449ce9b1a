#include "conclave/service/stream.h"

#include "conclave/core/status_macros.h"
#include "conclave/database/key.h"

namespace conclave::service {
namespace {

constexpr char kPositionKey[] = "position";

}  // namespace

absl::StatusOr<std::unique_ptr<Stream>> Stream::Open(Store& store) {
  CONCLAVE_ASSIGN_OR_RETURN(auto value, store.Find(*store.stream, kPositionKey));
  uint64_t last = 0;
  if (value) {
    database::KeyReader reader(*value);
    CONCLAVE_ASSIGN_OR_RETURN(last, reader.ReadU64());
  }
  return std::unique_ptr<Stream>(new Stream(store, last));
}

absl::StatusOr<uint64_t> Stream::Commit(
    database::WriteBatch& batch, absl::FunctionRef<void(uint64_t, database::WriteBatch&)> fill,
    absl::FunctionRef<void(uint64_t)> published) {
  std::lock_guard lock(commit_mu_);
  const uint64_t position = current_.load(std::memory_order_relaxed) + 1;
  fill(position, batch);
  batch.Put(*store_.stream, kPositionKey, database::KeyBuilder().AppendU64(position).Build());
  CONCLAVE_RETURN_IF_ERROR(store_.db->Write(batch));
  published(position);
  current_.store(position, std::memory_order_release);
  return position;
}

absl::StatusOr<uint64_t> Stream::Commit(
    database::WriteBatch& batch, absl::FunctionRef<void(uint64_t, database::WriteBatch&)> fill) {
  return Commit(batch, fill, [](uint64_t) {});
}

}  // namespace conclave::service
