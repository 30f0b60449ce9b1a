// Iterator: ordered traversal of one map, optionally restricted to a key prefix and read through
// a snapshot.
#ifndef CONCLAVE_DATABASE_ITERATOR_H_
#define CONCLAVE_DATABASE_ITERATOR_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "conclave/database/snapshot.h"

namespace conclave::database {

struct IteratorOptions {
  // Read the map as of this snapshot; the iterator keeps it alive. Default: null, an implicit
  // snapshot taken when the iterator is created.
  std::shared_ptr<const Snapshot> snapshot{};
  // Only keys starting with `prefix` are visible: SeekToFirst() lands on the first of them,
  // SeekToLast() on the last, and iteration stops at either end. Default: empty, every key.
  std::string prefix{};
};

// Walks one map in ascending byte order of keys (see key.h), like rocksdb::Iterator, whose
// semantics it keeps: a fresh iterator is not positioned; key() and value() require Valid() and
// stay valid until the next move. An iterator sees a consistent view as of its creation (or its
// snapshot). Thread-compatible: use from one thread at a time. Must not outlive its Database.
class Iterator {
 public:
  ~Iterator();
  Iterator(const Iterator&) = delete;
  Iterator& operator=(const Iterator&) = delete;

  // False at either end, or after an error (then status() says which).
  bool Valid() const;
  void SeekToFirst();
  void SeekToLast();
  // Moves to the first key >= `target`.
  void Seek(std::string_view target);
  // Moves to the last key <= `target`.
  void SeekForPrev(std::string_view target);
  // Require Valid().
  void Next();
  void Prev();
  std::string_view key() const;
  std::string_view value() const;
  // OK unless reading failed: kDataLoss for corruption, kInternal for I/O errors, etc.
  absl::Status status() const;

 private:
  friend class Database;
  struct Rep;  // Defined in iterator_rep.h.
  explicit Iterator(std::unique_ptr<Rep> rep);

  std::unique_ptr<Rep> rep_;
};

}  // namespace conclave::database

#endif  // CONCLAVE_DATABASE_ITERATOR_H_
