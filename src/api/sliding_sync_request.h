// The request body of simplified sliding sync (MSC4186 "Request Body"), parsed into
// service::SlidingSyncRequest. Private to the api module; stateless, thread-safe.
#ifndef CONCLAVE_API_SLIDING_SYNC_REQUEST_H_
#define CONCLAVE_API_SLIDING_SYNC_REQUEST_H_

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "conclave/service/sync/sliding_sync.h"

namespace conclave::api {

// What the body says besides the service's request: the long-poll timeout and the `txn_id` to
// echo (MSC3575's, which matrix-js-sdk matches responses with).
struct ParsedSlidingSync {
  service::SlidingSyncRequest request{};
  std::optional<int64_t> timeout_ms{};
  std::optional<std::string> txn_id{};
};

// Parses `body`. Both wire formats are accepted (sliding_sync.h). M_BAD_JSON naming the field
// for a wrong type, M_INVALID_PARAM for a value out of range (a negative timeline_limit, a range
// whose end is before its start, more than kMaxSlidingLists lists, a subscription to something
// that is not a room id).
absl::StatusOr<ParsedSlidingSync> ParseSlidingSync(const boost::json::object& body);

}  // namespace conclave::api

#endif  // CONCLAVE_API_SLIDING_SYNC_REQUEST_H_
