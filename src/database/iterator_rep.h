// Iterator::Rep: what an Iterator holds (private to the database subsystem).
#ifndef CONCLAVE_DATABASE_ITERATOR_REP_H_
#define CONCLAVE_DATABASE_ITERATOR_REP_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "conclave/database/iterator.h"
#include "rocksdb/iterator.h"
#include "rocksdb/slice.h"

namespace conclave::database {

// Members are declared in destruction-safe order: RocksDB's iterator reads the bound slices and
// the snapshot until it is destroyed, so it is declared last and destroyed first.
struct Iterator::Rep {
  std::shared_ptr<const Snapshot> snapshot;
  std::string lower_bound;
  std::string upper_bound;
  rocksdb::Slice lower_bound_slice;
  rocksdb::Slice upper_bound_slice;
  std::unique_ptr<rocksdb::Iterator> iterator;
};

namespace internal {

// Returns the smallest key greater than every key starting with `prefix`, or nullopt if there
// is none (`prefix` empty or all 0xff bytes), in which case no upper bound is needed.
std::optional<std::string> PrefixSuccessor(std::string_view prefix);

}  // namespace internal
}  // namespace conclave::database

#endif  // CONCLAVE_DATABASE_ITERATOR_REP_H_
