// `media`: what the media repository holds (service/media/media_store.h): totals, the media of
// one user or room; and deletions: one item, a user's, a room's, the old ones.
#include "absl/time/time.h"
#include "conclave/core/server.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/database/database.h"
#include "conclave/service/homeserver.h"
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

// A MediaStore over the media directory the config names (the media module's
// `media_directory`, else beside the database). Its deletions lock the content files as the
// media module's uploads do, so both can run at once.
absl::StatusOr<std::unique_ptr<service::MediaStore>> OpenStore(Context& context) {
  CONCLAVE_ASSIGN_OR_RETURN(database::Database * db, context.database());
  service::MediaStoreOptions options;
  options.directory = service::MediaDirectoryOf(*context.server().sections().raw(),
                                                context.server().config().database_path);
  return service::MediaStore::Open(*db, std::move(options));
}

std::string Deleted(const service::DeletedMedia& deleted, std::string_view what) {
  return core::StrCat("deleted ", Plural(deleted.items, "media item", "media items"), " ", what,
                      "; ", Plural(deleted.files, "content file", "content files"), " removed, ",
                      FormatBytes(deleted.bytes), " freed");
}

// MEDIA is a media id or its mxc:// URI (of this server).
absl::StatusOr<std::string> MediaIdOf(Context& context, std::string_view media) {
  if (media.substr(0, 6) != "mxc://") return std::string(media);
  CONCLAVE_ASSIGN_OR_RETURN(service::Homeserver * hs, context.homeserver());
  const std::string prefix = core::StrCat("mxc://", hs->server_name(), "/");
  if (media.substr(0, prefix.size()) != prefix) {
    return absl::InvalidArgumentError(core::StrCat(media, " is not media of this server"));
  }
  return std::string(media.substr(prefix.size()));
}

absl::StatusOr<Reply> Delete(Context& context, const std::string& media) {
  CONCLAVE_ASSIGN_OR_RETURN(std::string media_id, MediaIdOf(context, media));
  CONCLAVE_ASSIGN_OR_RETURN(auto store, OpenStore(context));
  CONCLAVE_ASSIGN_OR_RETURN(service::DeletedMedia deleted, store->Delete(media_id));
  return Reply(Deleted(deleted, core::StrCat("(", media_id, ") ", context.By())));
}

absl::StatusOr<Reply> DeleteUser(Context& context, const std::string& user_id) {
  CONCLAVE_ASSIGN_OR_RETURN(auto store, OpenStore(context));
  CONCLAVE_ASSIGN_OR_RETURN(service::DeletedMedia deleted, store->DeleteOfUser(user_id));
  return Reply(Deleted(deleted, core::StrCat("of ", user_id, " ", context.By())));
}

absl::StatusOr<Reply> Purge(Context& context, size_t days) {
  if (days == 0) return absl::InvalidArgumentError("DAYS must be at least 1");
  CONCLAVE_ASSIGN_OR_RETURN(auto store, OpenStore(context));
  const absl::Time before = absl::Now() - absl::Hours(24) * static_cast<int64_t>(days);
  CONCLAVE_ASSIGN_OR_RETURN(service::DeletedMedia deleted,
                            store->DeleteCreatedBefore(absl::ToUnixMillis(before)));
  return Reply(
      Deleted(deleted, core::StrCat("created more than ", days, " days ago ", context.By())));
}

absl::StatusOr<std::vector<std::string>> IdsOfRoom(Context& context, const std::string& room,
                                                   std::string* room_id) {
  CONCLAVE_ASSIGN_OR_RETURN(*room_id, context.ResolveRoom(room));
  CONCLAVE_ASSIGN_OR_RETURN(service::Homeserver * hs, context.homeserver());
  CONCLAVE_ASSIGN_OR_RETURN(database::Database * db, context.database());
  return service::MediaOfRoom(*db, *room_id, hs->server_name());
}

absl::StatusOr<Reply> ListRoom(Context& context, const std::string& room) {
  std::string room_id;
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<std::string> ids, IdsOfRoom(context, room, &room_id));
  Reply reply(core::StrCat(room_id, ": its events refer to ",
                           Plural(ids.size(), "media id", "media ids"), " of this server"));
  if (!ids.empty()) {
    std::vector<std::vector<std::string>> rows;
    for (std::string& id : ids) rows.push_back({std::move(id)});
    reply.Table({"media id"}, std::move(rows));
  }
  return reply;
}

absl::StatusOr<Reply> DeleteRoom(Context& context, const std::string& room) {
  std::string room_id;
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<std::string> ids, IdsOfRoom(context, room, &room_id));
  CONCLAVE_ASSIGN_OR_RETURN(auto store, OpenStore(context));
  CONCLAVE_ASSIGN_OR_RETURN(service::DeletedMedia deleted, store->DeleteMany(ids));
  return Reply(Deleted(deleted, core::StrCat("referred to in ", room_id, " ", context.By())));
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
  auto* room = tree.Make<std::string>();
  tree.AddCommand(group, "list-room",
                  "The media of this server that the events of ROOM refer to (a scan of its "
                  "timeline for mxc:// URIs)",
                  [room](Context& context) { return ListRoom(context, *room); })
      .Arg("ROOM", room, "A room id or alias")
      .Required();

  auto* media = tree.Make<std::string>();
  tree.AddCommand(group, "delete",
                  "Delete one media item; its content file goes with the last id naming it",
                  [media](Context& context) { return Delete(context, *media); })
      .Arg("MEDIA", media, "A media id, or its mxc://<server_name>/<media id> URI")
      .Required();
  auto* delete_user = tree.Make<std::string>();
  tree.AddCommand(group, "delete-user", "Delete every media item USER uploaded or created",
                  [delete_user](Context& context) { return DeleteUser(context, *delete_user); })
      .Arg("USER", delete_user, "A full user id, e.g. @alice:example.org")
      .Required();
  auto* delete_room = tree.Make<std::string>();
  tree.AddCommand(group, "delete-room",
                  "Delete the media of this server that the events of ROOM refer to (as "
                  "list-room finds them); the events keep their now dangling URIs",
                  [delete_room](Context& context) { return DeleteRoom(context, *delete_room); })
      .Arg("ROOM", delete_room, "A room id or alias")
      .Required();
  auto* days = tree.Make<size_t>();
  tree.AddCommand(group, "purge",
                  "Delete every media item created more than DAYS days ago (by its created_ts)",
                  [days](Context& context) { return Purge(context, *days); })
      .Arg("DAYS", days, "Whole days, at least 1")
      .Required();
}

}  // namespace conclave::admin
