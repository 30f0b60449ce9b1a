#include "conclave/service/storage/store.h"

#include <optional>

#include "conclave/core/status_macros.h"

namespace conclave::service {

absl::StatusOr<std::unique_ptr<Store>> Store::Open(database::Database& db) {
  auto store = std::make_unique<Store>();
  store->db = &db;
  struct Entry {
    const char* name;
    database::Map* Store::*field;
  };
  static constexpr Entry kMaps[] = {
      {"users", &Store::users},
      {"devices", &Store::devices},
      {"access_tokens", &Store::access_tokens},
      {"filters", &Store::filters},
      {"account_data", &Store::account_data},
      {"presence", &Store::presence},
      {"rooms", &Store::rooms},
      {"events", &Store::events},
      {"timeline", &Store::timeline},
      {"message_index", &Store::message_index},
      {"room_state", &Store::room_state},
      {"room_members", &Store::room_members},
      {"user_rooms", &Store::user_rooms},
      {"aliases", &Store::aliases},
      {"room_aliases", &Store::room_aliases},
      {"public_rooms", &Store::public_rooms},
      {"txn_ids", &Store::txn_ids},
      {"receipts", &Store::receipts},
      {"relations", &Store::relations},
      {"threads", &Store::threads},
      {"stream", &Store::stream},
      {"refresh_tokens", &Store::refresh_tokens},
      {"login_tokens", &Store::login_tokens},
      {"openid_tokens", &Store::openid_tokens},
  };
  for (const Entry& e : kMaps) {
    CONCLAVE_ASSIGN_OR_RETURN(store.get()->*e.field, db.OpenMap(e.name));
  }
  return store;
}

absl::StatusOr<std::optional<std::string>> Store::Find(const database::Map& map,
                                                       std::string_view key) const {
  auto value = db->Get(map, key);
  if (value.ok()) return std::optional<std::string>(*std::move(value));
  if (absl::IsNotFound(value.status())) return std::optional<std::string>();
  return value.status();
}

}  // namespace conclave::service
