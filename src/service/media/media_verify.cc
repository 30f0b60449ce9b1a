// VerifyMedia (media_store.h): the media maps against each other and the content files.
#include <sys/stat.h>

#include "absl/container/flat_hash_map.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/database/key.h"
#include "conclave/service/media/media_store.h"
#include "conclave/service/storage/schema.h"
#include "content_files.h"
#include "media_json.h"

namespace conclave::service {
namespace {

class MediaChecker {
 public:
  MediaChecker(size_t max_problems, VerifyReport& report)
      : max_problems_(max_problems), report_(report) {}

  void Problem(std::string map, std::string key, std::string problem) {
    ++report_.problem_count;
    if (report_.problems.size() < max_problems_) {
      report_.problems.push_back({std::move(map), std::move(key), std::move(problem)});
    }
  }
  void Records(std::string map, uint64_t count) {
    report_.records.emplace_back(std::move(map), count);
  }

 private:
  const size_t max_problems_;
  VerifyReport& report_;
};

// Whether the file at `path` exists, and its size through `size`.
bool FileSize(const std::string& path, uint64_t* size) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  *size = static_cast<uint64_t>(st.st_size);
  return true;
}

}  // namespace

absl::Status VerifyMedia(database::Database& db, const std::string& directory, size_t max_problems,
                         VerifyReport& report) {
  MediaChecker check(max_problems, report);
  CONCLAVE_ASSIGN_OR_RETURN(database::Map * media, db.OpenMap(schema::kMediaMap));
  CONCLAVE_ASSIGN_OR_RETURN(database::Map * by_user, db.OpenMap(schema::kMediaByUserMap));
  CONCLAVE_ASSIGN_OR_RETURN(database::Map * content, db.OpenMap(schema::kMediaContentMap));
  CONCLAVE_ASSIGN_OR_RETURN(database::Map * usage, db.OpenMap(schema::kMediaUsageMap));
  const ContentFiles files(directory);

  // media: decodes (else ForEachMediaRecord stops with kDataLoss, reported as a problem).
  absl::flat_hash_map<std::string, MediaRecord> records;
  absl::flat_hash_map<std::string, uint64_t> names;  // sha256 -> media rows naming it
  absl::flat_hash_map<std::string, MediaUsage> usages;
  absl::Status decoded = internal::ForEachMediaRecord(db, *media, [&](const MediaRecord& r) {
    records[r.media_id] = r;
    if (r.pending()) return;
    ++names[r.sha256];
    usages[r.uploader].bytes += r.size;
    ++usages[r.uploader].items;
  });
  if (absl::IsDataLoss(decoded)) {
    check.Problem("media", "", std::string(decoded.message()));
  } else {
    CONCLAVE_RETURN_IF_ERROR(decoded);
  }
  check.Records("media", records.size());
  for (const auto& [id, r] : records) {
    auto row = db.Get(*by_user, schema::MediaByUserKey(r.uploader, r.created_ts, id));
    if (absl::IsNotFound(row.status())) {
      check.Problem("media", id, core::StrCat("no media_by_user row for ", r.uploader));
    } else if (!row.ok()) {
      return row.status();
    }
    if (r.pending()) continue;
    uint64_t size = 0;
    if (!FileSize(files.PathOf(r.sha256), &size)) {
      check.Problem("media", id, core::StrCat("content file ", r.sha256, " is missing"));
    } else if (size != r.size) {
      check.Problem("media", id,
                    core::StrCat("content file ", r.sha256, " has ", size, " bytes, not ", r.size));
    }
  }

  uint64_t by_user_rows = 0;
  CONCLAVE_RETURN_IF_ERROR(
      db.ForEachWithPrefix(*by_user, "", [&](std::string_view key, std::string_view) {
        ++by_user_rows;
        database::KeyReader reader(key);
        auto user = reader.ReadString();
        auto ts = reader.ReadU64();
        auto id = reader.ReadString();
        if (!user.ok() || !ts.ok() || !id.ok()) {
          check.Problem("media_by_user", "", "key is not (user id, created_ts, media id)");
          return true;
        }
        auto it = records.find(*id);
        if (it == records.end()) {
          check.Problem("media_by_user", *id, "names no media row");
        } else if (it->second.uploader != *user ||
                   static_cast<uint64_t>(it->second.created_ts) != *ts) {
          check.Problem("media_by_user", *id, "uploader or created_ts differ from the media row");
        }
        return true;
      }));
  check.Records("media_by_user", by_user_rows);

  uint64_t content_rows = 0;
  CONCLAVE_RETURN_IF_ERROR(
      db.ForEachWithPrefix(*content, "", [&](std::string_view key, std::string_view value) {
        ++content_rows;
        const std::string sha256(key);
        auto count = schema::DecodePosition(value);
        auto named = names.find(sha256);
        const uint64_t expected = named == names.end() ? 0 : named->second;
        if (!count.ok()) {
          check.Problem("media_content", sha256, "count is not a u64");
        } else if (*count != expected) {
          check.Problem("media_content", sha256,
                        core::StrCat("counts ", *count, " media ids, ", expected, " name it"));
        }
        if (named != names.end()) names.erase(named);
        return true;
      }));
  for (const auto& [sha256, count] : names) {
    check.Problem("media_content", sha256,
                  core::StrCat("no count row; ", count, " media ids name it"));
  }
  check.Records("media_content", content_rows);

  uint64_t usage_rows = 0;
  CONCLAVE_RETURN_IF_ERROR(
      db.ForEachWithPrefix(*usage, "", [&](std::string_view key, std::string_view value) {
        ++usage_rows;
        const std::string user_id(key);
        auto stored = internal::DecodeMediaUsage(value);
        auto it = usages.find(user_id);
        const MediaUsage expected = it == usages.end() ? MediaUsage{} : it->second;
        if (!stored.ok()) {
          check.Problem("media_usage", user_id, "value is not two u64");
        } else if (stored->bytes != expected.bytes || stored->items != expected.items) {
          check.Problem(
              "media_usage", user_id,
              core::StrCat("says ", stored->items, " items of ", stored->bytes,
                           " bytes; the media rows have ", expected.items, " of ", expected.bytes));
        }
        if (it != usages.end()) usages.erase(it);
        return true;
      }));
  for (const auto& [user_id, missing] : usages) {
    check.Problem("media_usage", user_id,
                  core::StrCat("no row; the media rows have ", missing.items, " items"));
  }
  check.Records("media_usage", usage_rows);

  uint64_t file_count = 0;
  absl::flat_hash_map<std::string, bool> named_content;
  for (const auto& [id, r] : records) {
    if (!r.pending()) named_content[r.sha256] = true;
  }
  for (const std::string& sha256 : files.ContentNames()) {
    ++file_count;
    if (!named_content.contains(sha256)) {
      check.Problem("media files", sha256,
                    "no media id names it (an orphan: removed at the next start)");
    }
  }
  check.Records("media files", file_count);
  return absl::OkStatus();
}

}  // namespace conclave::service
