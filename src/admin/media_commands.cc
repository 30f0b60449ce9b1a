// `media`: what the media repository holds (service/media/media_store.h): totals, and the media
// of one user.
#include "absl/time/time.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/database/database.h"
#include "conclave/service/media/media_store.h"
#include "format.h"
#include "tree.h"

namespace conclave::admin {
namespace {

absl::StatusOr<Reply> Stats(Context& context) {
  CONCLAVE_ASSIGN_OR_RETURN(database::Database * db, context.database());
  CONCLAVE_ASSIGN_OR_RETURN(service::MediaTotals totals, service::MediaStatistics(*db));
  Reply reply(core::StrCat(
      Plural(totals.media, "media item", "media items"), ", ", FormatBytes(totals.bytes),
      " in all; ", Plural(totals.distinct_contents, "content file", "content files"), ", ",
      FormatBytes(totals.distinct_bytes), " on disk; ",
      Plural(totals.pending, "created id", "created ids"), " waiting for an upload"));
  return reply;
}

absl::StatusOr<Reply> ListUser(Context& context, const std::string& user_id) {
  CONCLAVE_ASSIGN_OR_RETURN(database::Database * db, context.database());
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<service::MediaRecord> media,
                            service::MediaOfUser(*db, user_id));
  std::vector<std::vector<std::string>> rows;
  for (const service::MediaRecord& m : media) {
    rows.push_back({m.media_id, m.pending() ? "(pending)" : FormatBytes(m.size),
                    m.content_type.empty() ? "-" : m.content_type,
                    m.filename.empty() ? "-" : m.filename,
                    absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixMillis(m.created_ts),
                                     absl::UTCTimeZone())});
  }
  Reply reply(core::StrCat(user_id, ": ", Plural(media.size(), "media item", "media items")));
  if (!rows.empty()) {
    reply.Table({"media id", "size", "type", "file name", "created (UTC)"}, std::move(rows));
  }
  return reply;
}

}  // namespace

void AddMediaCommands(CommandTree& tree) {
  Group group = tree.AddGroup("media", "The media repository (uploads)");
  tree.AddCommand(group, "stats",
                  "Media items, their bytes, the content files on disk (identical uploads share "
                  "one), and created ids waiting for an upload",
                  Stats);
  auto* user = tree.Make<std::string>();
  Command list = tree.AddCommand(group, "list-user", "The media USER uploaded, oldest first",
                                 [user](Context& context) { return ListUser(context, *user); });
  list.Arg("USER", user, "A full user id, e.g. @alice:example.org").Required();
}

}  // namespace conclave::admin
