// Private to protocol's state resolution (state_res.cc, state_res_v1.cc): the helpers both the
// v1 and the v2 algorithms use. Not thread-safe; one per resolution, on the caller's thread.
#ifndef CONCLAVE_SERVICE_PROTOCOL_STATE_RES_INTERNAL_H_
#define CONCLAVE_SERVICE_PROTOCOL_STATE_RES_INTERNAL_H_

#include <boost/json/object.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "conclave/service/protocol/room_versions.h"
#include "conclave/service/protocol/state_res.h"

namespace conclave::service::internal {

// "" when `key` is absent or no string.
std::string_view StringOf(const boost::json::object& event, std::string_view key);
// An integer field (origin_server_ts, depth), 0 when absent or not an integer.
int64_t IntegerOf(const boost::json::object& event, std::string_view key);
// The (type, state_key) of a state event; false for a non-state event.
bool StateKeyOf(const boost::json::object& event, StateKey& key);

// One resolution's view of its EventSource, with each event's auth event ids parsed once.
class Resolution {
 public:
  Resolution(const RoomVersion& version, const EventSource& events)
      : version_(version), events_(events) {}

  const RoomVersion& version() const { return version_; }
  const boost::json::object* Find(std::string_view id) const { return events_.FindEvent(id); }
  // The event, or kNotFound naming it and `what` it is ("conflicted event").
  absl::StatusOr<const boost::json::object*> Require(std::string_view id,
                                                     std::string_view what) const;
  bool Rejected(std::string_view id) const { return events_.IsRejected(id); }

  // AuthEventIds of `id`, parsed once; empty for an unknown event.
  const std::vector<std::string>& AuthIds(const std::string& id);

  // Checks `event` (`id`) against the authorization rules with, for each key they read
  // (AuthStateKeys and m.room.create), the event of `state`; when `state` lacks a key and
  // `use_auth_events`, the event's own auth event of that key, if it is not rejected.
  absl::Status Authorise(const std::string& id, const boost::json::object& event,
                         const StateIds& state, bool use_auth_events);

 private:
  const RoomVersion& version_;
  const EventSource& events_;
  std::unordered_map<std::string, std::vector<std::string>> auth_ids_;
};

}  // namespace conclave::service::internal

namespace conclave::service {

// Room version 1's algorithm (state_res_v1.cc), on sets already known to conflict.
absl::StatusOr<StateIds> ResolveStateV1(std::span<const StateIds> state_sets,
                                        internal::Resolution& resolution);

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_PROTOCOL_STATE_RES_INTERNAL_H_
