// The domain types Rooms takes and returns: a stored event, a user's membership, the parsed
// createRoom request and the results of reads (a /messages page, an event's context, the
// public room directory, the joined members). The api parses requests into them and turns
// them into the Client-Server JSON shapes; event contents stay JSON, as they are JSON by
// nature. Plain values; thread-compatible.
#ifndef CONCLAVE_SERVICE_ROOMS_ROOM_TYPES_H_
#define CONCLAVE_SERVICE_ROOMS_ROOM_TYPES_H_

#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace conclave::service {

// A stored event: the PDU (including `unsigned`) and where it sits in the stream.
struct StoredEvent {
  boost::json::object pdu;
  uint64_t position = 0;
};

// One membership of a user, for /sync.
struct UserRoom {
  std::string room_id;
  std::string membership;  // join, invite, leave, ban, knock
  uint64_t position = 0;   // stream position of the membership event
};

// A createRoom request (Client-Server API POST /createRoom, create_room.yaml) as the api parsed
// it: field types and syntax are checked; what needs the server's state (the room version, the
// invitees, the alias) Rooms::CreateRoom checks.
struct CreateRoomRequest {
  enum class Preset { kPrivateChat, kTrustedPrivateChat, kPublicChat };
  // One `initial_state` entry.
  struct StateEvent {
    std::string type{};
    std::string state_key{};
    boost::json::object content{};
  };
  // Unset: kPublicChat when `published`, else kPrivateChat.
  std::optional<Preset> preset{};
  bool published = false;  // visibility "public": listed in the room directory
  std::optional<std::string> name{};
  std::optional<std::string> topic{};
  std::optional<std::string> room_alias_name{};  // localpart of the alias to create
  std::optional<std::string> room_version{};     // unset: the server's default
  bool is_direct = false;
  std::vector<std::string> invite{};  // user ids
  std::optional<boost::json::object> creation_content{};
  std::optional<boost::json::object> power_level_content_override{};
  std::vector<StateEvent> initial_state{};
};

struct CreateRoomResult {
  std::string room_id{};
  std::optional<std::string> room_alias{};
};

// One page of /messages (Client-Server API GET /rooms/{roomId}/messages).
struct MessagesPage {
  std::vector<StoredEvent> chunk{};
  std::vector<StoredEvent> state{};  // member events of the chunk's senders (lazy loading)
  std::string start{};
  std::optional<std::string> end{};
};

// /context (Client-Server API GET /rooms/{roomId}/context/{eventId}).
struct EventContext {
  StoredEvent event{};
  std::vector<StoredEvent> events_before{};  // newest first
  std::vector<StoredEvent> events_after{};   // oldest first
  std::string start{};                       // pagination tokens
  std::string end{};
  std::vector<StoredEvent> state{};  // the room's current state
};

// GET /rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]] (relations.yaml) as the api
// parsed it.
struct RelationsRequest {
  std::string event_id{};                   // the parent
  std::optional<std::string> rel_type{};    // only children of this rel_type
  std::optional<std::string> event_type{};  // ... and this event type (needs rel_type)
  std::string from{};                       // pagination tokens ("": from the newest, or oldest
  std::string to{};                         // for dir f; "": no end)
  char dir = 'b';                           // b: newest first; f: oldest first
  size_t limit = 5;                         // clamped to [1, 100]
  std::optional<bool> recurse{};            // unset: not asked (no recursion_depth answered)
};

// One page of /relations.
struct RelationsPage {
  std::vector<StoredEvent> chunk{};  // in the order `dir` asks for
  std::optional<std::string> next_batch{};
  std::optional<std::string> prev_batch{};
  std::optional<int> recursion_depth{};  // set when the request gave `recurse`
};

// One page of GET /rooms/{roomId}/threads (threads_list.yaml): thread roots, latest activity
// first.
struct ThreadsPage {
  std::vector<StoredEvent> chunk{};
  std::optional<std::string> next_batch{};
};

// A member of GET /rooms/{roomId}/joined_members.
struct JoinedMember {
  std::string user_id{};
  std::optional<std::string> display_name{};
  std::optional<std::string> avatar_url{};
};

// One room of the public room directory (list_public_rooms.yaml, PublishedRoomsChunk). The
// optional strings are unset when the room's state has none (or an empty one).
struct PublicRoom {
  std::string room_id{};
  size_t num_joined_members = 0;
  std::optional<std::string> name{};
  std::optional<std::string> topic{};
  std::optional<std::string> canonical_alias{};
  std::optional<std::string> avatar_url{};
  std::optional<std::string> join_rule{};
  bool world_readable = false;
  bool guest_can_join = false;
  std::optional<std::string> room_type{};
};

// A page of the public room directory, most joined members first.
struct PublicRoomsPage {
  std::vector<PublicRoom> chunk{};
  std::optional<std::string> next_batch{};
  std::optional<std::string> prev_batch{};
  size_t total_room_count_estimate = 0;
};

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_ROOMS_ROOM_TYPES_H_
