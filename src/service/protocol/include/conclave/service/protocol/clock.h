// The wall clock as the Matrix protocol counts it: milliseconds since the Unix epoch
// (`origin_server_ts`, receipts' `ts`, presence's `last_active_ago`). Thread-safe.
#ifndef CONCLAVE_SERVICE_PROTOCOL_CLOCK_H_
#define CONCLAVE_SERVICE_PROTOCOL_CLOCK_H_

#include <cstdint>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace conclave::service {

// Returns the current time in milliseconds since the Unix epoch.
inline int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_PROTOCOL_CLOCK_H_
