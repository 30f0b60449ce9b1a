// Map: a named map of the database, i.e. one RocksDB column family.
#ifndef CONCLAVE_DATABASE_MAP_H_
#define CONCLAVE_DATABASE_MAP_H_

#include <string>
#include <utility>

namespace rocksdb {
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace conclave::database {

class Database;
class WriteBatch;
namespace internal {
struct Engine;
}  // namespace internal

// An opaque handle to one column family, obtained from Database::OpenMap(). Immutable and
// thread-safe. Owned by the Database that returned it and valid for that Database's lifetime;
// passing it to another Database is refused with kInvalidArgument.
class Map {
 public:
  Map(const Map&) = delete;
  Map& operator=(const Map&) = delete;

  const std::string& name() const { return name_; }

 private:
  friend class Database;
  friend class WriteBatch;

  Map(const internal::Engine* engine, std::string name, rocksdb::ColumnFamilyHandle* handle)
      : engine_(engine), name_(std::move(name)), handle_(handle) {}

  const internal::Engine* engine_;
  std::string name_;
  // Owned by the engine.
  rocksdb::ColumnFamilyHandle* handle_;
};

}  // namespace conclave::database

#endif  // CONCLAVE_DATABASE_MAP_H_
