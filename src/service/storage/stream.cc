#include "conclave/service/storage/stream.h"

#include <charconv>

#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/storage/schema.h"

namespace conclave::service {
namespace {

using schema::kStreamPositionKey;

}  // namespace

absl::StatusOr<std::unique_ptr<Stream>> Stream::Open(Store& store) {
  CONCLAVE_ASSIGN_OR_RETURN(auto value, store.Find(*store.stream, kStreamPositionKey));
  uint64_t last = 0;
  if (value) {
    CONCLAVE_ASSIGN_OR_RETURN(last, schema::DecodePosition(*value));
  }
  return std::unique_ptr<Stream>(new Stream(store, last));
}

absl::StatusOr<uint64_t> Stream::Commit(
    database::WriteBatch& batch, absl::FunctionRef<void(uint64_t, database::WriteBatch&)> fill,
    absl::FunctionRef<void(uint64_t)> published) {
  std::lock_guard lock(commit_mu_);
  const uint64_t position = current_.load(std::memory_order_relaxed) + 1;
  fill(position, batch);
  batch.Put(*store_.stream, kStreamPositionKey, schema::EncodePosition(position));
  CONCLAVE_RETURN_IF_ERROR(store_.db->Write(batch));
  published(position);
  current_.store(position, std::memory_order_release);
  return position;
}

absl::StatusOr<uint64_t> Stream::Commit(
    database::WriteBatch& batch, absl::FunctionRef<void(uint64_t, database::WriteBatch&)> fill) {
  return Commit(batch, fill, [](uint64_t) {});
}

absl::StatusOr<uint64_t> ParsePositionToken(std::string_view token) {
  if (token.size() < 2 || (token[0] != 't' && token[0] != 's')) {
    return InvalidParam(core::StrCat("Unknown pagination token '", token, "'"));
  }
  std::string_view digits = token.substr(
      1, token.find('_') == std::string_view::npos ? std::string_view::npos : token.find('_') - 1);
  uint64_t position = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), position);
  if (ec != std::errc() || ptr != digits.data() + digits.size()) {
    return InvalidParam(core::StrCat("Unknown pagination token '", token, "'"));
  }
  return position;
}

std::string PositionToken(uint64_t position) { return core::StrCat("t", position); }

std::string OffsetToken(char prefix, size_t offset) {
  return core::StrCat(std::string_view(&prefix, 1), offset);
}

absl::StatusOr<size_t> ParseOffsetToken(std::string_view token, char prefix,
                                        std::string_view param) {
  size_t offset = 0;
  const char* end = token.data() + token.size();
  if (token.size() >= 2 && token.front() == prefix) {
    auto [ptr, ec] = std::from_chars(token.data() + 1, end, offset);
    if (ec == std::errc() && ptr == end) return offset;
  }
  return InvalidParam(core::StrCat("Unknown '", param, "' token"));
}

}  // namespace conclave::service
