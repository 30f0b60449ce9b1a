// Snapshot: a consistent, read-only point-in-time view of the whole database.
#ifndef CONCLAVE_DATABASE_SNAPSHOT_H_
#define CONCLAVE_DATABASE_SNAPSHOT_H_

namespace rocksdb {
class DB;
class Snapshot;
}  // namespace rocksdb

namespace conclave::database {

class Database;
namespace internal {
struct Engine;
}  // namespace internal

// Returned by Database::GetSnapshot() and passed to Get(), NewIterator() and
// ForEachWithPrefix(): reads through it see every map as it was when it was taken, across all
// maps. Immutable and thread-safe. Releases the RocksDB snapshot when the last reference goes;
// must not outlive the Database it came from (it pins old versions of data until released, so
// keep it short-lived).
class Snapshot {
 public:
  ~Snapshot();
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

 private:
  friend class Database;

  Snapshot(const internal::Engine* engine, rocksdb::DB* db, const rocksdb::Snapshot* snapshot)
      : engine_(engine), db_(db), snapshot_(snapshot) {}

  const internal::Engine* engine_;
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snapshot_;
};

}  // namespace conclave::database

#endif  // CONCLAVE_DATABASE_SNAPSHOT_H_
