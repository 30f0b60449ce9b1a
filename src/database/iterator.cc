#include "conclave/database/iterator.h"

#include <utility>

#include "iterator_rep.h"
#include "status.h"

namespace conclave::database {

namespace internal {

std::optional<std::string> PrefixSuccessor(std::string_view prefix) {
  std::string successor(prefix);
  while (!successor.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(successor.back());
    if (last != 0xff) {
      ++last;
      return successor;
    }
    successor.pop_back();
  }
  return std::nullopt;
}

}  // namespace internal

namespace {

rocksdb::Slice ToSlice(std::string_view view) { return {view.data(), view.size()}; }

std::string_view ToView(const rocksdb::Slice& slice) { return {slice.data(), slice.size()}; }

}  // namespace

Iterator::Iterator(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}

Iterator::~Iterator() = default;

bool Iterator::Valid() const { return rep_->iterator->Valid(); }

void Iterator::SeekToFirst() { rep_->iterator->SeekToFirst(); }

void Iterator::SeekToLast() { rep_->iterator->SeekToLast(); }

void Iterator::Seek(std::string_view target) { rep_->iterator->Seek(ToSlice(target)); }

void Iterator::SeekForPrev(std::string_view target) {
  rep_->iterator->SeekForPrev(ToSlice(target));
}

void Iterator::Next() { rep_->iterator->Next(); }

void Iterator::Prev() { rep_->iterator->Prev(); }

std::string_view Iterator::key() const { return ToView(rep_->iterator->key()); }

std::string_view Iterator::value() const { return ToView(rep_->iterator->value()); }

absl::Status Iterator::status() const { return internal::FromRocksdb(rep_->iterator->status()); }

}  // namespace conclave::database
