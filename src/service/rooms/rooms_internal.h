// Private to rooms/: the per-room cache behind Rooms and the draft of an event being committed.
#ifndef CONCLAVE_SERVICE_ROOMS_INTERNAL_H_
#define CONCLAVE_SERVICE_ROOMS_INTERNAL_H_

#include <atomic>
#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "conclave/database/iterator.h"
#include "conclave/service/protocol/canonical_json.h"
#include "conclave/service/protocol/clock.h"
#include "conclave/service/protocol/state_map.h"
#include "conclave/service/rooms/rooms.h"
#include "conclave/service/storage/schema.h"
#include "conclave/service/storage/stored_json.h"
#include "conclave/service/storage/stream.h"

namespace conclave::service {

// The cached current state and tip of one room. `mu` serializes the events of the room and
// guards every field but `latest_position`, which readers may load without it.
struct Rooms::RoomData {
  std::mutex mu;
  std::string room_id;
  std::string room_version{kDefaultRoomVersion};
  StateMap state;
  std::map<StateKey, uint64_t> state_positions;
  std::string last_event_id;
  int64_t depth = 0;
  std::atomic<uint64_t> latest_position{0};
};

// An event about to be built by Rooms::Commit.
struct Rooms::Draft {
  std::string type{};
  std::optional<std::string> state_key{};
  std::string sender{};
  boost::json::object content{};
  std::optional<std::string> redacts{};        // m.room.redaction: the target's event id
  std::optional<StoredEvent> redact_target{};  // ... and the target itself
  std::string device_id{};                     // with txn_id: for idempotent sends
  std::string txn_id{};
};

// The schema's key encoders and the readers shared with storage, under the names rooms*.cc use.
namespace rooms_internal {

using ::conclave::service::HasFloat;
using ::conclave::service::NowMs;
using ::conclave::service::ParseObject;
using ::conclave::service::ParsePositionToken;
using ::conclave::service::PositionToken;
using ::conclave::service::StringField;
using schema::PairKey;
using schema::PositionOfTimelineKey;
using schema::RoomIteration;
using schema::RoomPrefix;
using schema::StateKeyOf;
using schema::TimelineKey;
using schema::TxnKey;

// The event id a state event's `unsigned.replaces_state` names (the state event it replaced), or
// "" (the first of its type and state_key, or redacted by a build that dropped `unsigned`).
inline std::string_view ReplacesStateOf(const boost::json::object& pdu) {
  const auto* unsigned_data = pdu.if_contains("unsigned");
  if (unsigned_data == nullptr || !unsigned_data->is_object()) return {};
  return StringField(unsigned_data->get_object(), "replaces_state");
}

}  // namespace rooms_internal
}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_ROOMS_INTERNAL_H_
