// `search`: the full-text index behind POST /search (service/search/indexer.h): its size, and a
// rebuild from the rooms' timelines.
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/homeserver.h"
#include "conclave/service/search/indexer.h"
#include "conclave/service/storage/stream.h"
#include "format.h"
#include "tree.h"

namespace conclave::admin {
namespace {

absl::StatusOr<Reply> Stats(Context& context) {
  CONCLAVE_ASSIGN_OR_RETURN(service::Homeserver * hs, context.homeserver());
  service::XapianIndex& index = hs->search_indexer().index();
  CONCLAVE_ASSIGN_OR_RETURN(uint64_t documents, index.DocumentCount());
  CONCLAVE_ASSIGN_OR_RETURN(uint64_t last, index.LastPosition());
  return Reply(core::StrCat(Plural(documents, "event", "events"),
                            " in the search index, indexed up to stream position ", last,
                            " (the stream is at ", hs->stream().current(), ")"));
}

absl::StatusOr<Reply> Rebuild(Context& context) {
  CONCLAVE_ASSIGN_OR_RETURN(service::Homeserver * hs, context.homeserver());
  CONCLAVE_ASSIGN_OR_RETURN(size_t read, hs->search_indexer().Rebuild());
  CONCLAVE_ASSIGN_OR_RETURN(uint64_t documents, hs->search_indexer().index().DocumentCount());
  return Reply(core::StrCat("Rebuilt the search index: read ", Plural(read, "event", "events"),
                            ", indexed ", Plural(documents, "event", "events")));
}

}  // namespace

void AddSearchCommands(CommandTree& tree) {
  Group group = tree.AddGroup("search", "The full-text index behind /search");
  tree.AddCommand(group, "stats",
                  "Events in the search index and the stream position it has reached", Stats);
  tree.AddCommand(group, "rebuild",
                  "Empties the search index and indexes every room's timeline again (searches "
                  "wait for it)",
                  Rebuild);
}

}  // namespace conclave::admin
