// Typing: who is typing in which room (m.typing, Client-Server API "Typing Notifications").
//
// In memory only (the spec makes typing ephemeral), kept across reloads of the service module
// through Save()/Restore(). Every change bumps a serial that /sync tokens carry; the serial
// starts at the wall clock in microseconds, so tokens handed out before a restart stay ordered
// before the new process's changes. Thread-safe.
#ifndef CONCLAVE_SERVICE_ROOMS_TYPING_H_
#define CONCLAVE_SERVICE_ROOMS_TYPING_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace conclave::service {

class Typing {
 public:
  Typing();

  // Sets or clears `user_id` typing in `room_id`; typing stops by itself after `timeout`.
  // Returns true if the set of typing users changed.
  bool Set(std::string_view room_id, std::string_view user_id, bool typing, absl::Duration timeout,
           absl::Time now = absl::Now());

  // Users typing in `room_id` now, sorted.
  std::vector<std::string> Users(std::string_view room_id, absl::Time now = absl::Now());

  // Serial of the last change in `room_id` (0 if none), and of any room.
  uint64_t RoomSerial(std::string_view room_id) const;
  uint64_t serial() const;

  // The earliest time a typing notice in one of `room_ids` runs out, if any: a waiting /sync
  // wakes then to report it.
  std::optional<absl::Time> NextExpiry(const std::vector<std::string>& room_ids) const;

  // Drops expired entries; returns the rooms whose typing set changed (for waking /sync).
  std::vector<std::string> Expire(absl::Time now = absl::Now());

  std::string Save() const;
  void Restore(std::string_view saved);

 private:
  struct Room {
    std::map<std::string, absl::Time> users;  // user → expiry
    uint64_t serial = 0;
  };
  bool ExpireLocked(Room& room, absl::Time now);
  mutable std::mutex mu_;
  std::map<std::string, Room, std::less<>> rooms_;
  uint64_t serial_;
};

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_ROOMS_TYPING_H_
