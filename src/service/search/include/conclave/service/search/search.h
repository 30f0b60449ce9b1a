// Search: the `room_events` category of POST /search (Client-Server API, "Server Side Search",
// search.yaml) over the XapianIndex, with the rooms' access rules applied.
//
// Which events a user finds: those of rooms the user is or was in (joined, left or banned; not
// only invited), and of those only the ones history visibility lets them see (Rooms::
// KeepVisible: nothing after a leave, nothing before a join under `joined`). Hidden events are
// dropped before anything is counted, so `count` never reveals them (the spec's "Security
// considerations": only results the user has permission to see). Encrypted rooms have no text
// to find (m.room.encrypted events have no body).
//
// Thread-safe. Owned by the Homeserver; must not outlive the Rooms and the SearchIndexer.
#ifndef CONCLAVE_SERVICE_SEARCH_SEARCH_H_
#define CONCLAVE_SERVICE_SEARCH_SEARCH_H_

#include <boost/json/object.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "conclave/service/accounts/accounts.h"
#include "conclave/service/protocol/filter.h"
#include "conclave/service/rooms/room_types.h"
#include "conclave/service/rooms/rooms.h"
#include "conclave/service/search/indexer.h"

namespace conclave::service {

// A room_events request as the api parsed it (search.yaml, Criteria).
struct SearchRequest {
  std::string search_term;
  std::vector<SearchKey> keys;  // empty: all three
  RoomEventFilter filter;       // rooms, not_rooms, senders, not_senders, types, not_types, limit
  bool order_by_recent = false;
  // event_context: unset means no context.
  struct ContextRequest {
    size_t before_limit = 5;
    size_t after_limit = 5;
    bool include_profile = false;
  };
  std::optional<ContextRequest> event_context;
  bool include_state = false;
  std::string next_batch;  // from an earlier page; empty for the first
};

struct SearchResult {
  StoredEvent event;
  double rank = 0;
  // With event_context only.
  std::vector<StoredEvent> events_before;  // newest first
  std::vector<StoredEvent> events_after;   // oldest first
  std::string start;
  std::string end;
  // With include_profile: user id → {displayname, avatar_url} as the room's state has them.
  boost::json::object profile_info;
};

struct SearchPage {
  size_t count = 0;  // every visible match (exact up to SearchRequest's candidate cap)
  std::vector<std::string> highlights;
  std::vector<SearchResult> results;  // in the requested order
  // With include_state: room id → its state as the searcher may see it, for the results' rooms.
  std::map<std::string, std::vector<StoredEvent>> state;
  std::optional<std::string> next_batch;
};

class Search {
 public:
  // The most index matches one search considers (before visibility); beyond it `count` is
  // a lower bound.
  static constexpr size_t kMaxCandidates = 1000;
  // Results per page unless filter.limit says otherwise, and the most it may ask for.
  static constexpr int64_t kDefaultLimit = 10;
  static constexpr int64_t kMaxLimit = 100;

  Search(Rooms& rooms, SearchIndexer& indexer) : rooms_(rooms), indexer_(indexer) {}

  // Runs `request` for `session`'s user. M_INVALID_PARAM for a `next_batch` this server did
  // not give out; index and database errors (kInternal).
  absl::StatusOr<SearchPage> RoomEvents(const Session& session, const SearchRequest& request);

 private:
  // The rooms `user_id` searches: joined, left or banned, passing the filter's room lists.
  absl::StatusOr<std::vector<std::string>> SearchableRooms(std::string_view user_id,
                                                           const RoomEventFilter& filter);
  // The index's hits loaded from the store, without those the user may not see or the filter
  // refuses, in the hits' order.
  absl::StatusOr<std::vector<SearchResult>> VisibleHits(const Session& session,
                                                        const SearchRequest& request,
                                                        const std::vector<IndexHit>& hits);
  absl::Status AddContext(const Session& session, const SearchRequest::ContextRequest& context,
                          SearchResult& result);

  Rooms& rooms_;
  SearchIndexer& indexer_;
};

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_SEARCH_SEARCH_H_
