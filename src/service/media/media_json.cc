#include "media_json.h"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/database/key.h"

namespace conclave::service::internal {

std::string EncodeMediaRecord(const MediaRecord& r) {
  boost::json::object o;
  o["uploader"] = r.uploader;
  o["content_type"] = r.content_type;
  o["filename"] = r.filename;
  o["size"] = r.size;
  o["sha256"] = r.sha256;
  o["created_ts"] = r.created_ts;
  if (r.pending()) o["unused_expires_ts"] = r.unused_expires_ts;
  return boost::json::serialize(o);
}

absl::StatusOr<MediaRecord> DecodeMediaRecord(std::string_view media_id, std::string_view json) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(json, ec);
  if (ec || !v.is_object()) {
    return absl::DataLossError(core::StrCat("media ", media_id, ": stored metadata is not JSON"));
  }
  const boost::json::object& o = v.get_object();
  auto str = [&](const char* key) -> std::string {
    const boost::json::value* f = o.if_contains(key);
    return f != nullptr && f->is_string() ? std::string(f->get_string()) : std::string();
  };
  auto num = [&](const char* key) -> int64_t {
    const boost::json::value* f = o.if_contains(key);
    if (f == nullptr) return 0;
    if (f->is_int64()) return f->get_int64();
    if (f->is_uint64()) return static_cast<int64_t>(f->get_uint64());
    return 0;
  };
  MediaRecord r;
  r.media_id = std::string(media_id);
  r.uploader = str("uploader");
  r.content_type = str("content_type");
  r.filename = str("filename");
  r.size = static_cast<uint64_t>(num("size"));
  r.sha256 = str("sha256");
  r.created_ts = num("created_ts");
  r.unused_expires_ts = num("unused_expires_ts");
  return r;
}

std::string EncodeMediaUsage(const MediaUsage& usage) {
  return database::KeyBuilder().AppendU64(usage.bytes).AppendU64(usage.items).Build();
}

absl::StatusOr<MediaUsage> DecodeMediaUsage(std::string_view value) {
  database::KeyReader reader(value);
  auto bytes = reader.ReadU64();
  auto items = reader.ReadU64();
  if (!bytes.ok() || !items.ok() || value.size() != 16) {
    return absl::DataLossError("media_usage: a row is not two u64");
  }
  return MediaUsage{*bytes, *items};
}

absl::StatusOr<MediaUsage> ReadMediaUsage(const database::Database& db,
                                          const database::Map& usage_map,
                                          std::string_view user_id) {
  auto stored = db.Get(usage_map, user_id);
  if (absl::IsNotFound(stored.status())) return MediaUsage{};
  if (!stored.ok()) return stored.status();
  return DecodeMediaUsage(*stored);
}

absl::Status ForEachMediaRecord(const database::Database& db, const database::Map& media,
                                absl::FunctionRef<void(const MediaRecord&)> visit) {
  absl::Status decoded = absl::OkStatus();
  CONCLAVE_RETURN_IF_ERROR(
      db.ForEachWithPrefix(media, "", [&](std::string_view key, std::string_view value) {
        auto record = DecodeMediaRecord(key, value);
        if (!record.ok()) {
          decoded = record.status();
          return false;
        }
        visit(*record);
        return true;
      }));
  return decoded;
}

absl::StatusOr<std::vector<std::string>> MediaIdsOfUser(const database::Database& db,
                                                        const database::Map& by_user,
                                                        std::string_view user_id) {
  std::vector<std::string> ids;
  CONCLAVE_RETURN_IF_ERROR(
      db.ForEachWithPrefix(by_user, database::KeyBuilder().AppendString(user_id).Build(),
                           [&](std::string_view key, std::string_view) {
                             database::KeyReader reader(key);
                             (void)reader.ReadString();
                             (void)reader.ReadU64();
                             if (auto id = reader.ReadString(); id.ok()) {
                               ids.push_back(*std::move(id));
                             }
                             return true;
                           }));
  return ids;
}

}  // namespace conclave::service::internal
