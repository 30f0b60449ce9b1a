// `database verify`: the server-side key backup maps (service/e2ee/backup.cc). Every version
// belongs to a known user and is a live record or a tombstone; every backed-up key belongs to a
// live version and has the KeyBackupData shape; each live version's `count` is the number of
// its keys (KeyBackup writes both in one batch).
#include <algorithm>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "conclave/core/str_cat.h"
#include "conclave/database/key.h"
#include "conclave/service/storage/schema.h"
#include "conclave/service/storage/stored_json.h"
#include "verify_checker.h"

namespace conclave::service::verify_internal {
namespace {

// A live version: the count its record claims and the keys found for it.
struct VersionCounts {
  uint64_t claimed = 0;
  uint64_t found = 0;
};

class BackupChecker : public Checker {
 public:
  explicit BackupChecker(VerifyRun& run) : Checker(run) {}

  void CheckAll() {
    CheckVersions();
    CheckKeys();
    for (const auto& [version, counts] : live_) {
      if (counts.claimed != counts.found) {
        Problem(schema::kBackupVersionsMap, core::StrCat(version.first, " | ", version.second),
                core::StrCat("count is ", counts.claimed, " but the version holds ", counts.found,
                             " keys"));
      }
    }
  }

 private:
  void CheckVersions() {
    database::Map* map = MapIfPresent(schema::kBackupVersionsMap);
    if (map == nullptr) return;
    Walk(*map, schema::kBackupVersionsMap, [&](std::string_view raw, std::string_view value) {
      database::KeyReader reader(raw);
      auto user = reader.ReadString();
      auto version = reader.ReadU64();
      if (!user.ok() || !version.ok() || !reader.AtEnd() || *version == 0) {
        Problem(schema::kBackupVersionsMap, Printable(raw), "key is not (user, version >= 1)");
        return;
      }
      const std::string key_text = core::StrCat(*user, " | ", *version);
      KnownUser(schema::kBackupVersionsMap, key_text, *user);
      auto record = ParseStored(value, "backup version");
      if (!record.ok()) {
        Problem(schema::kBackupVersionsMap, key_text, "record is not a JSON object");
        return;
      }
      if (const auto* deleted = record->if_contains("deleted"); deleted && deleted->is_bool()) {
        if (deleted->get_bool()) return;
      }
      const auto* auth_data = record->if_contains("auth_data");
      std::optional<int64_t> count = IntField(*record, "count");
      if (StringField(*record, "algorithm").empty() || auth_data == nullptr ||
          !auth_data->is_object() || !count || *count < 0 || !IntField(*record, "etag")) {
        Problem(schema::kBackupVersionsMap, key_text,
                "record lacks algorithm, auth_data, etag or count");
        return;
      }
      live_[{*user, *version}].claimed = static_cast<uint64_t>(*count);
    });
  }

  void CheckKeys() {
    database::Map* map = MapIfPresent(schema::kBackupKeysMap);
    if (map == nullptr) return;
    Walk(*map, schema::kBackupKeysMap, [&](std::string_view raw, std::string_view value) {
      database::KeyReader reader(raw);
      auto user = reader.ReadString();
      auto version = reader.ReadU64();
      auto room = reader.ReadString();
      auto session = reader.ReadString();
      if (!user.ok() || !version.ok() || !room.ok() || !session.ok() || !reader.AtEnd()) {
        Problem(schema::kBackupKeysMap, Printable(raw),
                "key is not (user, version, room, session)");
        return;
      }
      const std::string key_text =
          core::StrCat(*user, " | ", *version, " | ", *room, " | ", *session);
      auto live = live_.find({*user, *version});
      if (live == live_.end()) {
        Problem(schema::kBackupKeysMap, key_text, "belongs to a backup version that is not live");
      } else {
        ++live->second.found;
      }
      auto record = ParseStored(value, "backed-up room key");
      const boost::json::value* verified =
          record.ok() ? record->if_contains("is_verified") : nullptr;
      const boost::json::value* data = record.ok() ? record->if_contains("session_data") : nullptr;
      if (!record.ok() || !IntField(*record, "first_message_index") ||
          !IntField(*record, "forwarded_count") || verified == nullptr || !verified->is_bool() ||
          data == nullptr || !data->is_object()) {
        Problem(schema::kBackupKeysMap, key_text, "record is not KeyBackupData");
      }
    });
  }

  std::map<std::pair<std::string, uint64_t>, VersionCounts> live_;
};

}  // namespace

void CheckKeyBackups(VerifyRun& run) { BackupChecker(run).CheckAll(); }

}  // namespace conclave::service::verify_internal
