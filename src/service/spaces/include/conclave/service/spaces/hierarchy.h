// SpaceHierarchy: GET /v1/rooms/{roomId}/hierarchy (Client-Server API, "Spaces",
// space_hierarchy.yaml) over this server's rooms: a breadth-first walk from the root along
// m.space.child state events whose `via` is a non-empty array, listing each room the user may
// see with its summary and its children's stripped m.space.child events.
//
// Which rooms a user sees (the spec's "rooms the user could join or peek"): rooms they are joined
// to, world_readable rooms, rooms with join rule `public`, and `restricted`/`knock_restricted`
// rooms whose `allow` names a room they are joined to. Others are left out (with their subtree,
// as the walk does not pass through them). Children are ordered as the spec says: by `order`
// (those with one first, by its string), then by the child event's origin_server_ts, then by
// room id. Rooms of other servers are not known here (no federation) and are left out.
// m.space.parent events are not followed: the spec builds the hierarchy from children only.
//
// Pagination: the walk is deterministic for the same state and parameters, so `next_batch` is
// an offset into it ("h<offset>"); a later state change can shift a page, as in Synapse.
//
// Stateless; thread-safe as Rooms is. Must not outlive the Rooms.
#ifndef CONCLAVE_SERVICE_SPACES_HIERARCHY_H_
#define CONCLAVE_SERVICE_SPACES_HIERARCHY_H_

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "conclave/service/rooms/rooms.h"

namespace conclave::service {

struct HierarchyRequest {
  std::string room_id;
  bool suggested_only = false;
  std::optional<size_t> max_depth;  // unset: no limit
  size_t limit = 50;                // rooms per page, >= 1
  std::string from;                 // next_batch of an earlier page; empty for the first
};

struct HierarchyPage {
  // SpaceHierarchyRoomsChunk objects: the PublishedRoomsChunk fields plus `room_type` and
  // `children_state` (stripped state events: type, state_key, content, sender,
  // origin_server_ts).
  boost::json::array rooms;
  std::optional<std::string> next_batch;
};

class SpaceHierarchy {
 public:
  explicit SpaceHierarchy(Rooms& rooms) : rooms_(rooms) {}

  // The page of `request` for `user_id`. M_NOT_FOUND for an unknown root, M_FORBIDDEN when the
  // user may not see the root, M_INVALID_PARAM for a `from` this server did not give out (or one
  // past the end); database errors.
  absl::StatusOr<HierarchyPage> Walk(std::string_view user_id, const HierarchyRequest& request);

 private:
  Rooms& rooms_;
};

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_SPACES_HIERARCHY_H_
