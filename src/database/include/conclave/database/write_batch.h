// WriteBatch: puts and deletes across any maps of one database, applied atomically.
#ifndef CONCLAVE_DATABASE_WRITE_BATCH_H_
#define CONCLAVE_DATABASE_WRITE_BATCH_H_

#include <cstddef>
#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "conclave/database/map.h"

namespace rocksdb {
class WriteBatch;
}  // namespace rocksdb

namespace conclave::database {

// Collects updates that Database::Write() applies all together or not at all, in the order they
// were added (a later update of the same key wins). Thread-compatible: build it on one thread.
// Copies keys and values. Any number of maps may be mixed, all from the same Database; a problem
// found while building (maps of two databases, an oversized key) is reported by Write(). A
// moved-from batch may only be destroyed or assigned to.
class WriteBatch {
 public:
  WriteBatch();
  ~WriteBatch();
  WriteBatch(WriteBatch&&) noexcept;
  WriteBatch& operator=(WriteBatch&&) noexcept;

  void Put(const Map& map, std::string_view key, std::string_view value);
  // Deleting an absent key is not an error.
  void Delete(const Map& map, std::string_view key);
  // Drops every update, and any recorded error; the batch can be reused.
  void Clear();

  // The number of Put and Delete calls so far.
  size_t Count() const;

 private:
  friend class Database;

  void Remember(const Map& map);

  std::unique_ptr<rocksdb::WriteBatch> batch_;
  // The database of the first map used; every later map must belong to it.
  const internal::Engine* engine_ = nullptr;
  absl::Status status_;
};

}  // namespace conclave::database

#endif  // CONCLAVE_DATABASE_WRITE_BATCH_H_
