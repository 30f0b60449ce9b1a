// RateLimiter: token buckets keyed by string ("login/ip/127.0.0.1", "message/@a:x"), for
// M_LIMIT_EXCEEDED (Client-Server API, "Rate limiting").
//
// Each bucket holds up to `burst` tokens and refills at `per_second`; a request takes one. The
// buckets survive a reload of the service module through Save()/Restore() (the module's saved
// bytes), so a reload does not hand out a fresh burst.
//
// Memory stays bounded by the clients active within a refill time, not by every client ever
// seen: a bucket that has refilled to its burst carries no information (a new bucket starts
// full), so it is dropped. Take() sweeps such buckets whenever as many new buckets were made
// since the last sweep as there were buckets after it (at least kSweepAfter): amortized O(1).
// Thread-safe.
#ifndef CONCLAVE_SERVICE_RATE_LIMIT_RATE_LIMITER_H_
#define CONCLAVE_SERVICE_RATE_LIMIT_RATE_LIMITER_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace conclave::service {

struct RateLimit {
  double per_second = 0;  // 0: unlimited
  int burst = 1;
};

class RateLimiter {
 public:
  // Takes one token from bucket `key` under `limit` at time `now`. OK, or M_LIMIT_EXCEEDED
  // (LimitExceeded) with the milliseconds until a token is back.
  absl::Status Take(std::string_view key, const RateLimit& limit, absl::Time now = absl::Now());

  // Drops every bucket that is full again at `now`; returns how many were dropped.
  size_t EvictIdle(absl::Time now);

  // New buckets that make Take() sweep, at least.
  static constexpr size_t kSweepAfter = 1024;

  // Serialized buckets (JSON), and the reverse; Restore ignores malformed input (empty buckets).
  std::string Save() const;
  void Restore(std::string_view saved);

  size_t size() const;

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time updated;
    // When the bucket holds its burst again (refilling at the rate of its last Take).
    absl::Time full_at;
  };
  size_t EvictIdleLocked(absl::Time now);

  mutable std::mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_;
  size_t created_since_sweep_ = 0;
  size_t size_after_sweep_ = 0;
};

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_RATE_LIMIT_RATE_LIMITER_H_
