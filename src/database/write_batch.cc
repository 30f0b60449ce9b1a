#include "conclave/database/write_batch.h"

#include "absl/strings/str_cat.h"
#include "rocksdb/write_batch.h"
#include "status.h"

namespace conclave::database {
namespace {

rocksdb::Slice ToSlice(std::string_view view) { return {view.data(), view.size()}; }

}  // namespace

WriteBatch::WriteBatch() : batch_(std::make_unique<rocksdb::WriteBatch>()) {}

WriteBatch::~WriteBatch() = default;

WriteBatch::WriteBatch(WriteBatch&&) noexcept = default;

WriteBatch& WriteBatch::operator=(WriteBatch&&) noexcept = default;

void WriteBatch::Remember(const Map& map) {
  if (engine_ == nullptr) {
    engine_ = map.engine_;
  } else if (engine_ != map.engine_ && status_.ok()) {
    status_ = absl::InvalidArgumentError(
        absl::StrCat("write batch mixes maps of two databases (map ", map.name(), ")"));
  }
}

void WriteBatch::Put(const Map& map, std::string_view key, std::string_view value) {
  Remember(map);
  rocksdb::Status status = batch_->Put(map.handle_, ToSlice(key), ToSlice(value));
  if (!status.ok() && status_.ok()) {
    status_ = internal::FromRocksdb(status, absl::StrCat("cannot add a put to map ", map.name()));
  }
}

void WriteBatch::Delete(const Map& map, std::string_view key) {
  Remember(map);
  rocksdb::Status status = batch_->Delete(map.handle_, ToSlice(key));
  if (!status.ok() && status_.ok()) {
    status_ =
        internal::FromRocksdb(status, absl::StrCat("cannot add a delete to map ", map.name()));
  }
}

void WriteBatch::Clear() {
  batch_->Clear();
  engine_ = nullptr;
  status_ = absl::OkStatus();
}

size_t WriteBatch::Count() const { return static_cast<size_t>(batch_->Count()); }

}  // namespace conclave::database
