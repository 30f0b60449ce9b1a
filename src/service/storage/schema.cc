#include "conclave/service/storage/schema.h"

#include <initializer_list>

#include "conclave/database/key.h"

namespace conclave::service::schema {
namespace {

// A key of strings only, in order.
std::string Strings(std::initializer_list<std::string_view> parts) {
  database::KeyBuilder key;
  for (std::string_view part : parts) key.AppendString(part);
  return key.Build();
}

}  // namespace

std::string EncodePosition(uint64_t position) {
  return database::KeyBuilder().AppendU64(position).Build();
}

absl::StatusOr<uint64_t> DecodePosition(std::string_view value) {
  database::KeyReader reader(value);
  return reader.ReadU64();
}

std::string UserPrefix(std::string_view user_id) { return Strings({user_id}); }

std::string RoomPrefix(std::string_view room_id) { return Strings({room_id}); }

database::IteratorOptions RoomIteration(std::string_view room_id) {
  database::IteratorOptions options;
  options.prefix = RoomPrefix(room_id);
  return options;
}

std::string DeviceKey(std::string_view user_id, std::string_view device_id) {
  return PairKey(user_id, device_id);
}

std::string FilterKey(std::string_view user_id, std::string_view filter_id) {
  return PairKey(user_id, filter_id);
}

std::string AccountDataKey(std::string_view user_id, std::string_view room_id,
                           std::string_view type) {
  return Strings({user_id, room_id, type});
}

std::string TimelineKey(std::string_view room_id, uint64_t position) {
  return database::KeyBuilder().AppendString(room_id).AppendU64(position).Build();
}

std::string RelationKey(std::string_view room_id, std::string_view parent_id,
                        std::string_view rel_type, uint64_t position) {
  return database::KeyBuilder()
      .AppendString(room_id)
      .AppendString(parent_id)
      .AppendString(rel_type)
      .AppendU64(position)
      .Build();
}

std::string RelationPrefix(std::string_view room_id, std::string_view parent_id,
                           std::optional<std::string_view> rel_type) {
  database::KeyBuilder key;
  key.AppendString(room_id).AppendString(parent_id);
  if (rel_type) key.AppendString(*rel_type);
  return std::move(key).Build();
}

std::string ThreadKey(std::string_view room_id, uint64_t position, std::string_view root_id) {
  return database::KeyBuilder()
      .AppendString(room_id)
      .AppendU64(position)
      .AppendString(root_id)
      .Build();
}

absl::StatusOr<uint64_t> PositionOfTimelineKey(std::string_view key) {
  database::KeyReader reader(key);
  auto room = reader.ReadString();
  if (!room.ok()) return room.status();
  return reader.ReadU64();
}

std::string StateKeyOf(std::string_view room_id, std::string_view type,
                       std::string_view state_key) {
  return Strings({room_id, type, state_key});
}

std::string PairKey(std::string_view a, std::string_view b) { return Strings({a, b}); }

std::string ReceiptKey(std::string_view room_id, std::string_view receipt_type,
                       std::string_view user_id) {
  return Strings({room_id, receipt_type, user_id});
}

std::string ThreadedReceiptKey(std::string_view room_id, std::string_view receipt_type,
                               std::string_view user_id, std::string_view thread_id) {
  return Strings({room_id, receipt_type, user_id, thread_id});
}

std::string TxnKey(std::string_view user_id, std::string_view device_id, std::string_view txn_id) {
  return Strings({user_id, device_id, txn_id});
}

std::string OneTimeKeyKey(std::string_view user_id, std::string_view device_id,
                          std::string_view algorithm, std::string_view key_id) {
  return Strings({user_id, device_id, algorithm, key_id});
}

std::string OneTimeKeyPrefix(std::string_view user_id, std::string_view device_id,
                             std::string_view algorithm) {
  return Strings({user_id, device_id, algorithm});
}

std::string FallbackKeyKey(std::string_view user_id, std::string_view device_id,
                           std::string_view algorithm) {
  return Strings({user_id, device_id, algorithm});
}

std::string KeySignatureKey(std::string_view user_id, std::string_view key_id,
                            std::string_view signer) {
  return Strings({user_id, key_id, signer});
}

std::string KeyChangeKey(uint64_t position, std::string_view user_id) {
  return database::KeyBuilder().AppendU64(position).AppendString(user_id).Build();
}

std::string ToDeviceKey(std::string_view user_id, std::string_view device_id, uint64_t position) {
  return database::KeyBuilder()
      .AppendString(user_id)
      .AppendString(device_id)
      .AppendU64(position)
      .Build();
}

std::string BackupVersionKey(std::string_view user_id, uint64_t version) {
  return database::KeyBuilder().AppendString(user_id).AppendU64(version).Build();
}

std::string BackupKeyKey(std::string_view user_id, uint64_t version, std::string_view room_id,
                         std::string_view session_id) {
  return database::KeyBuilder()
      .AppendString(user_id)
      .AppendU64(version)
      .AppendString(room_id)
      .AppendString(session_id)
      .Build();
}

std::string BackupKeyPrefix(std::string_view user_id, uint64_t version,
                            std::optional<std::string_view> room_id) {
  database::KeyBuilder key;
  key.AppendString(user_id).AppendU64(version);
  if (room_id) key.AppendString(*room_id);
  return std::move(key).Build();
}

std::string MediaByUserKey(std::string_view user_id, int64_t created_ts,
                           std::string_view media_id) {
  return database::KeyBuilder()
      .AppendString(user_id)
      .AppendU64(static_cast<uint64_t>(created_ts))
      .AppendString(media_id)
      .Build();
}

std::string PushCountKey(std::string_view user_id, std::string_view room_id, uint64_t position) {
  return database::KeyBuilder()
      .AppendString(user_id)
      .AppendString(room_id)
      .AppendU64(position)
      .Build();
}

std::string PushReadKey(std::string_view user_id, std::string_view room_id,
                        std::string_view thread) {
  return Strings({user_id, room_id, thread});
}

std::string NotificationKey(std::string_view user_id, uint64_t position) {
  return database::KeyBuilder().AppendString(user_id).AppendU64(position).Build();
}

std::string PusherKey(std::string_view user_id, std::string_view app_id, std::string_view pushkey) {
  return Strings({user_id, app_id, pushkey});
}

std::string PushQueueKey(std::string_view user_id, std::string_view app_id,
                         std::string_view pushkey, uint64_t position) {
  return database::KeyBuilder()
      .AppendString(user_id)
      .AppendString(app_id)
      .AppendString(pushkey)
      .AppendU64(position)
      .Build();
}

std::string OutboundKey(std::string_view destination, uint64_t seq) {
  return database::KeyBuilder().AppendString(destination).AppendU64(seq).Build();
}

}  // namespace conclave::service::schema
