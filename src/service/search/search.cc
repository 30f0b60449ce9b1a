#include "conclave/service/search/search.h"

#include <algorithm>
#include <set>
#include <utility>

#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/storage/stored_json.h"
#include "conclave/service/storage/stream.h"

namespace conclave::service {
namespace {

// next_batch: "o" and the offset of the page's first result in the visible results.
constexpr char kTokenPrefix = 'o';

bool HasWildcard(const FilterList& list) {
  if (!list) return false;
  return std::any_of(list->begin(), list->end(),
                     [](const std::string& s) { return s.find('*') != std::string::npos; });
}

// Profiles of `user_ids` from the room's m.room.member state.
boost::json::object Profiles(const std::vector<StoredEvent>& state,
                             const std::set<std::string>& user_ids) {
  boost::json::object out;
  for (const StoredEvent& event : state) {
    if (StringField(event.pdu, "type") != "m.room.member") continue;
    const std::string user_id(StringField(event.pdu, "state_key"));
    if (user_ids.count(user_id) == 0) continue;
    boost::json::object profile;
    if (const auto* c = event.pdu.if_contains("content"); c != nullptr && c->is_object()) {
      if (auto name = StringField(c->get_object(), "displayname"); !name.empty()) {
        profile["displayname"] = name;
      }
      if (auto avatar = StringField(c->get_object(), "avatar_url"); !avatar.empty()) {
        profile["avatar_url"] = avatar;
      }
    }
    out[user_id] = std::move(profile);
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> Search::SearchableRooms(std::string_view user_id,
                                                                 const RoomEventFilter& filter) {
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<UserRoom> memberships, rooms_.UserRooms(user_id));
  std::vector<std::string> out;
  for (const UserRoom& room : memberships) {
    if (room.membership != "join" && room.membership != "leave" && room.membership != "ban") {
      continue;
    }
    if (MatchesRoom(filter, room.room_id)) out.push_back(room.room_id);
  }
  return out;
}

absl::StatusOr<std::vector<SearchResult>> Search::VisibleHits(const Session& session,
                                                              const SearchRequest& request,
                                                              const std::vector<IndexHit>& hits) {
  // Per room, since visibility is decided per room.
  std::map<std::string, std::vector<StoredEvent>> by_room;
  std::map<std::string, double> rank_of;
  for (const IndexHit& hit : hits) {
    absl::StatusOr<StoredEvent> event = rooms_.EventById(hit.event_id);
    if (absl::IsNotFound(event.status())) continue;  // the index is a little ahead of a purge
    if (!event.ok()) return event.status();
    if (!Matches(request.filter, event->pdu)) continue;
    rank_of[hit.event_id] = hit.rank;
    by_room[hit.room_id].push_back(*std::move(event));
  }
  std::map<std::string, StoredEvent> visible;
  for (auto& [room_id, events] : by_room) {
    CONCLAVE_RETURN_IF_ERROR(rooms_.KeepVisible(session.user_id, room_id, events));
    for (StoredEvent& e : events) {
      std::string id(StringField(e.pdu, "event_id"));
      visible.emplace(std::move(id), std::move(e));
    }
  }
  std::vector<SearchResult> out;
  out.reserve(visible.size());
  for (const IndexHit& hit : hits) {
    auto it = visible.find(hit.event_id);
    if (it == visible.end()) continue;
    out.push_back(SearchResult{.event = std::move(it->second), .rank = rank_of[hit.event_id]});
    visible.erase(it);
  }
  return out;
}

absl::Status Search::AddContext(const Session& session,
                                const SearchRequest::ContextRequest& context,
                                SearchResult& result) {
  const std::string room_id(StringField(result.event.pdu, "room_id"));
  const std::string event_id(StringField(result.event.pdu, "event_id"));
  const size_t half = std::max(context.before_limit, context.after_limit);
  if (half > 0) {
    CONCLAVE_ASSIGN_OR_RETURN(EventContext around,
                              rooms_.Context(session, room_id, event_id, 2 * half, {}));
    around.events_before.resize(std::min(around.events_before.size(), context.before_limit));
    around.events_after.resize(std::min(around.events_after.size(), context.after_limit));
    result.events_before = std::move(around.events_before);
    result.events_after = std::move(around.events_after);
    result.start = std::move(around.start);
    result.end = std::move(around.end);
  }
  if (context.include_profile) {
    std::set<std::string> senders{std::string(StringField(result.event.pdu, "sender"))};
    for (const auto* list : {&result.events_before, &result.events_after}) {
      for (const StoredEvent& e : *list) senders.insert(std::string(StringField(e.pdu, "sender")));
    }
    CONCLAVE_ASSIGN_OR_RETURN(std::vector<StoredEvent> state, rooms_.CurrentState(room_id));
    result.profile_info = Profiles(state, senders);
  }
  return absl::OkStatus();
}

absl::StatusOr<SearchPage> Search::RoomEvents(const Session& session,
                                              const SearchRequest& request) {
  size_t offset = 0;
  if (!request.next_batch.empty()) {
    CONCLAVE_ASSIGN_OR_RETURN(offset,
                              ParseOffsetToken(request.next_batch, kTokenPrefix, "next_batch"));
  }
  IndexQuery query{.text = request.search_term,
                   .keys = request.keys,
                   .by_recent = request.order_by_recent,
                   .max_results = kMaxCandidates};
  CONCLAVE_ASSIGN_OR_RETURN(query.room_ids, SearchableRooms(session.user_id, request.filter));
  const RoomEventFilter& filter = request.filter;
  if (filter.senders) query.senders = *filter.senders;
  if (filter.not_senders) query.not_senders = *filter.not_senders;
  if (filter.types && !HasWildcard(filter.types)) query.types = *filter.types;

  SearchPage page;
  // `senders: []` or `types: []` restrict to nothing (filter.h); so does having no room.
  if (query.room_ids.empty() || (filter.senders && filter.senders->empty()) ||
      (filter.types && filter.types->empty())) {
    return page;
  }
  // Everything committed is searchable: index what the background pass has not reached yet.
  CONCLAVE_RETURN_IF_ERROR(indexer_.CatchUp().status());
  CONCLAVE_ASSIGN_OR_RETURN(IndexResult found, indexer_.index().Search(query));
  page.highlights = std::move(found.highlights);
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<SearchResult> visible,
                            VisibleHits(session, request, found.hits));
  page.count = visible.size();
  const size_t limit = static_cast<size_t>(EffectiveLimit(filter, kDefaultLimit, kMaxLimit));
  const size_t first = std::min(offset, visible.size());
  const size_t last = std::min(first + limit, visible.size());
  for (size_t i = first; i < last; ++i) {
    SearchResult& result = visible[i];
    if (request.event_context) {
      CONCLAVE_RETURN_IF_ERROR(AddContext(session, *request.event_context, result));
    }
    if (request.include_state) {
      const std::string room_id(StringField(result.event.pdu, "room_id"));
      if (page.state.count(room_id) == 0) {
        absl::StatusOr<std::vector<StoredEvent>> state = rooms_.State(session, room_id);
        if (state.ok()) page.state.emplace(room_id, *std::move(state));
      }
    }
    page.results.push_back(std::move(result));
  }
  if (last < visible.size()) page.next_batch = OffsetToken(kTokenPrefix, last);
  return page;
}

}  // namespace conclave::service
