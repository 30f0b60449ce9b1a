// SearchIndexer: keeps the XapianIndex in step with the rooms' timelines, off the send path.
//
// Sends do not index: the indexer's own thread (started by Start, joined by Stop; the service
// module's unload stops it before the index closes) wakes when an event observer tells it a
// local client sent something, and at the latest every `poll_interval` (state events and
// redactions do not pass the observers), and indexes every event committed after the index's
// last position. A search first calls CatchUp itself, so it always sees every committed event.
//
// Crashes: the index's last position is committed with the documents (one Xapian commit), so an
// index that lost its tail (kill -9) has an older position and the next CatchUp indexes the tail
// again (Put replaces, so indexing twice is harmless). An index that is *ahead* of the database
// (a restored backup) is rebuilt. Redactions: the stored target is already pruned when the
// redaction commits, and the redaction's own indexing removes the target's document.
//
// Thread-safe. Owned by the Homeserver; must not outlive the Store, the Rooms or the Stream.
#ifndef CONCLAVE_SERVICE_SEARCH_INDEXER_H_
#define CONCLAVE_SERVICE_SEARCH_INDEXER_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "conclave/core/worker_thread.h"
#include "conclave/service/rooms/rooms.h"
#include "conclave/service/search/xapian_index.h"
#include "conclave/service/storage/store.h"
#include "conclave/service/storage/stream.h"

namespace conclave::service {

// The document of `pdu` (a stored event): the text of the keys the spec searches
// (content.body of m.room.message, content.name of m.room.name, content.topic and m.topic's
// text/plain body of m.room.topic), empty text for other events. Pure.
IndexedEvent ToIndexedEvent(const boost::json::object& pdu, uint64_t position);

class SearchIndexer {
 public:
  struct Deps {
    Store& store;
    Stream& stream;
    Rooms& rooms;
  };
  // Opens the index in `directory` (XapianIndex::Open's errors). Does not start the thread.
  static absl::StatusOr<std::unique_ptr<SearchIndexer>> Open(Deps deps,
                                                             const std::string& directory);
  // Stops the thread (Stop), then closes the index.
  ~SearchIndexer();
  SearchIndexer(const SearchIndexer&) = delete;
  SearchIndexer& operator=(const SearchIndexer&) = delete;

  // Starts the indexing thread, which catches up at once and then every `poll_interval` or
  // Wake(). kResourceExhausted when the thread cannot be created. Call once, with Stop, from one
  // thread (the module hooks).
  absl::Status Start(absl::Duration poll_interval = absl::Seconds(1));
  // Joins the thread after its last pass, which indexes everything committed before the call.
  // Idempotent.
  void Stop();
  // Asks the thread for a pass soon. Cheap; callable from any thread.
  void Wake();

  // Indexes every event committed after the index's last position, up to the stream's current
  // position, and commits. Returns how many events were read. Serialized with other passes.
  // Database and index errors.
  absl::StatusOr<size_t> CatchUp();
  // Empties the index and indexes every room's timeline again (`search rebuild`). Returns how
  // many events were read.
  absl::StatusOr<size_t> Rebuild();

  XapianIndex& index() { return *index_; }

 private:
  SearchIndexer(Deps deps, std::unique_ptr<XapianIndex> index);
  void Run(absl::Duration poll_interval);
  // One room's events in (after, upto]; returns how many.
  absl::StatusOr<size_t> IndexRoom(const std::string& room_id, uint64_t after, uint64_t upto);

  Deps deps_;
  std::unique_ptr<XapianIndex> index_;
  std::mutex pass_mu_;         // one CatchUp or Rebuild at a time
  core::WorkerThread worker_;  // last: stopped before the rest goes
};

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_SEARCH_INDEXER_H_
