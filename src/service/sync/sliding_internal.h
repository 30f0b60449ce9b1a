// Private to sync/: the parts of one simplified sliding sync response (MSC4186): the user's
// server-side room list and its filters (sliding_list.cc), one room's result (sliding_room.cc),
// the extensions (sliding_extensions.cc); SlidingSync::Run (sliding_sync.cc) puts them together.
#ifndef CONCLAVE_SERVICE_SYNC_SLIDING_INTERNAL_H_
#define CONCLAVE_SERVICE_SYNC_SLIDING_INTERNAL_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "conclave/service/rooms/room_types.h"
#include "conclave/service/sync/sliding_sync.h"
#include "conclave/service/sync/sync.h"
#include "sliding_connections.h"

namespace conclave::service::sync_internal {

// What one response reads once. References valid for the call of SlidingSync::Run.
struct SlidingPass {
  const Session& session;
  const SlidingSyncRequest& request;
  const ConnectionState* previous = nullptr;  // the state `pos` answered; null: new connection
  uint64_t upto = 0;                          // the stream position this response covers up to
  uint64_t typing = 0;                        // the typing serial it covers
  std::set<std::string> dm_rooms{};           // rooms of m.direct
};

// A room of the user's server-side list (MSC4186 "Lists"), with its recency.
struct ListedRoom {
  UserRoom membership{};
  // The `bump_stamp`: for joined rooms the newest bump event (Rooms::BumpPosition) or the join,
  // whichever is newer; for other rooms the membership event.
  uint64_t bump_stamp = 0;
};

// A room of this response's window: the combined config of the rules it matched.
struct WindowRoom {
  const ListedRoom* room = nullptr;
  CombinedConfig config{};
  std::vector<std::string> lists{};  // lists whose range holds it, request order
  bool subscribed = false;
};

// The user's rooms as the MSC's server list has them: joined, invited, knocked, kicked or
// banned (after having been in the room), and left by themselves only if this connection was
// sent the room before; most recent first (bump_stamp, then room id).
absl::StatusOr<std::vector<ListedRoom>> ServerRoomList(const Sync::Deps& deps,
                                                       const SlidingPass& pass,
                                                       const std::vector<UserRoom>& memberships);

// Filters rooms for one list's `filters`. Reads what a filter needs once per request.
class ListFilter {
 public:
  ListFilter(const Sync::Deps& deps, const SlidingPass& pass) : deps_(deps), pass_(pass) {}
  absl::StatusOr<bool> Passes(const SlidingRoomFilter& filters, const ListedRoom& room);

 private:
  absl::StatusOr<const std::set<std::string>*> SpaceChildren(const std::string& space_id);
  absl::StatusOr<const std::map<std::string, std::set<std::string>>*> Tags();
  const Sync::Deps& deps_;
  const SlidingPass& pass_;
  std::map<std::string, std::set<std::string>> space_children_;
  std::optional<std::map<std::string, std::set<std::string>>> tags_;  // room → tag names
};

// The RoomResult of `window` (MSC4186 "Room results"), or nullopt when the connection has seen
// everything of it. `sent` is what the connection was sent of the room (null: never); `next` is
// set to what it will have been sent after this response.
absl::StatusOr<std::optional<SlidingRoom>> BuildRoom(const Sync::Deps& deps,
                                                     const SlidingPass& pass,
                                                     const WindowRoom& window, const SentRoom* sent,
                                                     SentRoom& next);

// Whether `type`/`state_key` is wanted by `required` (an include matches, no exclude does),
// `$ME` standing for `user_id`. Lazy members are not decided here.
bool WantsState(const RequiredState& required, std::string_view type, std::string_view state_key,
                std::string_view user_id);

// The extensions the request enabled, into `response`. `window` is this response's rooms by id,
// `initial_rooms` those sent with `initial` in it. Database errors.
absl::Status AddExtensions(const Sync::Deps& deps, const SlidingPass& pass,
                           const std::vector<UserRoom>& memberships,
                           const std::map<std::string, WindowRoom>& window,
                           const std::set<std::string>& initial_rooms,
                           SlidingSyncResponse& response);

// Whether the extensions of `response` carry anything new (key counts alone are not news).
bool ExtensionsHaveNews(const SlidingSyncResponse& response);

}  // namespace conclave::service::sync_internal

#endif  // CONCLAVE_SERVICE_SYNC_SLIDING_INTERNAL_H_
