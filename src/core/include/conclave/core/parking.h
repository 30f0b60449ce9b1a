// Parking: where a module keeps long-lived state across its own reloads.
//
// A module's `startup` hook (once per process) may build objects whose code is permanent (core,
// third-party libraries such as RocksDB) and park them here under a key; every later `load` of
// any generation of the module finds them again; the `shutdown` hook of the last generation takes
// and destroys them. Parking never destroys what it holds: it stores untyped pointers without a
// deleter, because a deleter's code would live in a module that may be unloaded by then.
#ifndef CONCLAVE_CORE_PARKING_H_
#define CONCLAVE_CORE_PARKING_H_

#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace conclave::core {

// Thread-safe. Owned by the Server; outlives every module.
class Parking {
 public:
  Parking() = default;
  Parking(const Parking&) = delete;
  Parking& operator=(const Parking&) = delete;

  // Stores `ptr` under `key` with a `type_tag` (any stable string naming the type and its layout
  // version, e.g. "rocksdb-engine/v1"). Returns kAlreadyExists if `key` is taken. Ownership of
  // `*ptr` stays with the caller's module, which must Take() and destroy it in `shutdown`.
  absl::Status Park(std::string_view key, std::string_view type_tag, void* ptr);

  // Returns the pointer parked under `key`: kNotFound if none, kFailedPrecondition if it was
  // parked with another `type_tag` (a layout change needs a restart, not a reload).
  absl::StatusOr<void*> Find(std::string_view key, std::string_view type_tag) const;

  // Like Find(), and removes the entry.
  absl::StatusOr<void*> Take(std::string_view key, std::string_view type_tag);

  template <typename T>
  absl::StatusOr<T*> Find(std::string_view key, std::string_view type_tag) const {
    auto p = Find(key, type_tag);
    if (!p.ok()) return p.status();
    return static_cast<T*>(*p);
  }
  template <typename T>
  absl::StatusOr<T*> Take(std::string_view key, std::string_view type_tag) {
    auto p = Take(key, type_tag);
    if (!p.ok()) return p.status();
    return static_cast<T*>(*p);
  }

 private:
  struct Entry {
    std::string type_tag;
    void* ptr;
  };
  mutable std::mutex mu_;
  std::map<std::string, Entry, std::less<>> entries_;
};

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_PARKING_H_
