#include "conclave/service/rooms/typing.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace conclave::service {

Typing::Typing() : serial_(static_cast<uint64_t>(absl::ToUnixMicros(absl::Now()))) {}

bool Typing::ExpireLocked(Room& room, absl::Time now) {
  bool changed = false;
  for (auto it = room.users.begin(); it != room.users.end();) {
    if (it->second <= now) {
      it = room.users.erase(it);
      changed = true;
    } else {
      ++it;
    }
  }
  if (changed) room.serial = ++serial_;
  return changed;
}

bool Typing::Set(std::string_view room_id, std::string_view user_id, bool typing,
                 absl::Duration timeout, absl::Time now) {
  std::lock_guard lock(mu_);
  Room& room = rooms_[std::string(room_id)];
  ExpireLocked(room, now);
  bool changed;
  if (typing) {
    auto [it, inserted] = room.users.insert_or_assign(std::string(user_id), now + timeout);
    changed = inserted;
  } else {
    changed = room.users.erase(std::string(user_id)) > 0;
  }
  if (changed) room.serial = ++serial_;
  return changed;
}

std::vector<std::string> Typing::Users(std::string_view room_id, absl::Time now) {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  auto it = rooms_.find(room_id);
  if (it == rooms_.end()) return out;
  ExpireLocked(it->second, now);
  for (const auto& [user, expiry] : it->second.users) out.push_back(user);
  return out;
}

uint64_t Typing::RoomSerial(std::string_view room_id) const {
  std::lock_guard lock(mu_);
  auto it = rooms_.find(room_id);
  return it == rooms_.end() ? 0 : it->second.serial;
}

uint64_t Typing::serial() const {
  std::lock_guard lock(mu_);
  return serial_;
}

std::optional<absl::Time> Typing::NextExpiry(const std::vector<std::string>& room_ids) const {
  std::lock_guard lock(mu_);
  std::optional<absl::Time> earliest;
  for (const std::string& room_id : room_ids) {
    auto it = rooms_.find(room_id);
    if (it == rooms_.end()) continue;
    for (const auto& [user, expiry] : it->second.users) {
      if (!earliest || expiry < *earliest) earliest = expiry;
    }
  }
  return earliest;
}

std::vector<std::string> Typing::Expire(absl::Time now) {
  std::lock_guard lock(mu_);
  std::vector<std::string> changed;
  for (auto& [room_id, room] : rooms_) {
    if (ExpireLocked(room, now)) changed.push_back(room_id);
  }
  return changed;
}

std::string Typing::Save() const {
  std::lock_guard lock(mu_);
  boost::json::object rooms;
  for (const auto& [room_id, room] : rooms_) {
    if (room.users.empty()) continue;
    boost::json::object users;
    for (const auto& [user, expiry] : room.users) users[user] = absl::ToUnixMicros(expiry);
    rooms[room_id] = boost::json::object{{"users", std::move(users)}, {"serial", room.serial}};
  }
  return boost::json::serialize(boost::json::object{{"serial", serial_}, {"rooms", rooms}});
}

void Typing::Restore(std::string_view saved) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(saved, ec);
  if (ec || !value.is_object()) return;
  std::lock_guard lock(mu_);
  const auto& state = value.get_object();
  if (const auto* s = state.if_contains("serial"); s && s->is_uint64()) {
    serial_ = std::max(serial_, s->get_uint64());
  } else if (s && s->is_int64() && s->get_int64() > 0) {
    serial_ = std::max<uint64_t>(serial_, s->get_int64());
  }
  const auto* rooms = state.if_contains("rooms");
  if (rooms == nullptr || !rooms->is_object()) return;
  for (const auto& [room_id, entry] : rooms->get_object()) {
    const auto* obj = entry.if_object();
    if (obj == nullptr) continue;
    Room& room = rooms_[std::string(room_id)];
    if (const auto* users = obj->if_contains("users"); users && users->is_object()) {
      for (const auto& [user, expiry] : users->get_object()) {
        if (const auto* micros = expiry.if_int64()) {
          room.users[std::string(user)] = absl::FromUnixMicros(*micros);
        }
      }
    }
    if (const auto* s = obj->if_contains("serial"); s && s->is_int64()) {
      room.serial = static_cast<uint64_t>(s->get_int64());
    } else if (s && s->is_uint64()) {
      room.serial = s->get_uint64();
    }
  }
}

}  // namespace conclave::service
