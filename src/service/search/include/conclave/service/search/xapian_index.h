// XapianIndex: the full-text index of room events on disk, a Xapian database in its own
// directory (by default `<database_path>-search`). The only file that includes Xapian's headers
// is xapian_index.cc; this header keeps them out of the rest of service.
//
// One document per indexed event: its searchable text under one prefix per key (content.body,
// content.name, content.topic), boolean terms for the event id, room id, sender and type, and the
// event's stream position as a sortable value (order_by=recent). The index's own metadata holds
// the last stream position it has seen, so that after a crash (Xapian commits are not in
// RocksDB's WriteBatch) the indexer catches up from the timeline (indexer.h).
//
// Thread-safe: one writer per directory (Xapian's lock; a second Open fails with
// kUnavailable), its methods serialized by a mutex. Closed (its changes committed) by the
// destructor, so a reload of service reopens it cleanly.
#ifndef CONCLAVE_SERVICE_SEARCH_XAPIAN_INDEX_H_
#define CONCLAVE_SERVICE_SEARCH_XAPIAN_INDEX_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace conclave::service {

// The searchable keys of room_events (Client-Server API, "Server Side Search").
enum class SearchKey { kBody, kName, kTopic };

// One event as the index holds it.
struct IndexedEvent {
  std::string event_id;
  std::string room_id;
  std::string sender;
  std::string type;
  uint64_t position = 0;
  std::string body;   // content.body of m.room.message
  std::string name;   // content.name of m.room.name
  std::string topic;  // content.topic (and m.topic's text/plain body) of m.room.topic
};

// A query: free text over `keys`, restricted to `room_ids` (never empty in practice: the
// rooms the searcher may read) and, when not empty, to `senders` and `types`; `not_*` exclude.
struct IndexQuery {
  std::string text;
  std::vector<SearchKey> keys;  // empty: all three
  std::vector<std::string> room_ids;
  std::vector<std::string> senders;
  std::vector<std::string> not_senders;
  std::vector<std::string> types;  // exact types (no wildcards; the caller post-filters those)
  bool by_recent = false;          // newest first; else by rank, then newest
  size_t max_results = 1000;
};

struct IndexHit {
  std::string event_id;
  std::string room_id;
  uint64_t position = 0;
  double rank = 0;  // Xapian's BM25 weight; higher is more relevant
};

struct IndexResult {
  std::vector<IndexHit> hits;
  // The words of the query as the searcher typed them (lower-cased), for `highlights`.
  std::vector<std::string> highlights;
};

class XapianIndex {
 public:
  // Opens (creating if needed) the index in `directory`. kUnavailable when another writer holds
  // it, kInternal on other Xapian errors (the message says which).
  static absl::StatusOr<std::unique_ptr<XapianIndex>> Open(const std::string& directory);
  // Commits and closes the database.
  ~XapianIndex();
  XapianIndex(const XapianIndex&) = delete;
  XapianIndex& operator=(const XapianIndex&) = delete;

  // Adds or replaces the document of `event.event_id`. An event with no text is removed instead.
  absl::Status Put(const IndexedEvent& event);
  // Removes the document of `event_id` (a redaction); absent is not an error.
  absl::Status Remove(std::string_view event_id);
  // Removes every document and resets the last position to 0 (`search rebuild`).
  absl::Status Clear();
  // The last stream position whose events are in the index (0 for a new index).
  absl::StatusOr<uint64_t> LastPosition();
  // Records `position` as indexed and commits everything added since the last commit.
  absl::Status Commit(uint64_t position);
  // Runs `query`. kInvalidArgument for text Xapian cannot parse. Sees committed documents only.
  absl::StatusOr<IndexResult> Search(const IndexQuery& query);
  // Documents in the index.
  absl::StatusOr<uint64_t> DocumentCount();

 private:
  struct Rep;
  explicit XapianIndex(std::unique_ptr<Rep> rep);
  std::mutex mu_;
  std::unique_ptr<Rep> rep_;  // guarded by mu_
};

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_SEARCH_XAPIAN_INDEX_H_
