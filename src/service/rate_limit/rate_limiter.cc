#include "conclave/service/rate_limit/rate_limiter.h"

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>

#include "absl/container/flat_hash_map.h"
#include "conclave/service/protocol/errors.h"

namespace conclave::service {

absl::Status RateLimiter::Take(std::string_view key, const RateLimit& limit, absl::Time now) {
  if (limit.per_second <= 0) return absl::OkStatus();
  std::lock_guard lock(mu_);
  const absl::string_view name(key.data(), key.size());
  auto [it, inserted] = buckets_.try_emplace(name);
  if (inserted && ++created_since_sweep_ >= std::max(kSweepAfter, size_after_sweep_)) {
    it->second.full_at = absl::InfiniteFuture();  // not this one: it is about to take a token
    EvictIdleLocked(now);
    it = buckets_.find(name);
  }
  Bucket& bucket = it->second;
  if (inserted) {
    bucket.tokens = limit.burst;
  } else {
    double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - bucket.updated));
    bucket.tokens = std::min<double>(limit.burst, bucket.tokens + elapsed * limit.per_second);
  }
  bucket.updated = now;
  const bool allowed = bucket.tokens >= 1;
  if (allowed) bucket.tokens -= 1;
  bucket.full_at = now + absl::Seconds((limit.burst - bucket.tokens) / limit.per_second);
  if (allowed) return absl::OkStatus();
  auto wait_ms = static_cast<int64_t>(std::ceil((1 - bucket.tokens) / limit.per_second * 1000));
  return LimitExceeded("Too many requests; slow down", std::max<int64_t>(wait_ms, 1));
}

size_t RateLimiter::EvictIdle(absl::Time now) {
  std::lock_guard lock(mu_);
  return EvictIdleLocked(now);
}

size_t RateLimiter::EvictIdleLocked(absl::Time now) {
  const size_t before = buckets_.size();
  absl::erase_if(buckets_, [now](const auto& entry) { return entry.second.full_at <= now; });
  created_since_sweep_ = 0;
  size_after_sweep_ = buckets_.size();
  return before - buckets_.size();
}

std::string RateLimiter::Save() const {
  std::lock_guard lock(mu_);
  boost::json::object out;
  for (const auto& [key, bucket] : buckets_) {
    out[key] = boost::json::array{bucket.tokens, absl::ToUnixMicros(bucket.updated),
                                  absl::ToUnixMicros(bucket.full_at)};
  }
  return boost::json::serialize(out);
}

void RateLimiter::Restore(std::string_view saved) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(saved, ec);
  if (ec || !value.is_object()) return;
  std::lock_guard lock(mu_);
  for (const auto& [key, entry] : value.get_object()) {
    const auto* pair = entry.if_array();
    // [tokens, updated, full_at] in microseconds; earlier builds saved no full_at: such a
    // bucket is kept until the first sweep.
    if (pair == nullptr || pair->size() < 2 || pair->size() > 3) continue;
    const double* tokens = (*pair)[0].if_double();
    const int64_t* micros = (*pair)[1].if_int64();
    const int64_t* full = pair->size() == 3 ? (*pair)[2].if_int64() : micros;
    if (tokens == nullptr || micros == nullptr || full == nullptr) continue;
    buckets_[std::string(key)] =
        Bucket{*tokens, absl::FromUnixMicros(*micros), absl::FromUnixMicros(*full)};
  }
}

size_t RateLimiter::size() const {
  std::lock_guard lock(mu_);
  return buckets_.size();
}

}  // namespace conclave::service
