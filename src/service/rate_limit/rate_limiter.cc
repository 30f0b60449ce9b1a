#include "conclave/service/rate_limit/rate_limiter.h"

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>

#include "conclave/service/protocol/errors.h"

namespace conclave::service {

absl::Status RateLimiter::Take(std::string_view key, const RateLimit& limit, absl::Time now) {
  if (limit.per_second <= 0) return absl::OkStatus();
  std::lock_guard lock(mu_);
  auto [it, inserted] = buckets_.try_emplace(absl::string_view(key.data(), key.size()));
  Bucket& bucket = it->second;
  if (inserted) {
    bucket.tokens = limit.burst;
  } else {
    double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - bucket.updated));
    bucket.tokens = std::min<double>(limit.burst, bucket.tokens + elapsed * limit.per_second);
  }
  bucket.updated = now;
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return absl::OkStatus();
  }
  auto wait_ms = static_cast<int64_t>(std::ceil((1 - bucket.tokens) / limit.per_second * 1000));
  return LimitExceeded("Too many requests; slow down", std::max<int64_t>(wait_ms, 1));
}

std::string RateLimiter::Save() const {
  std::lock_guard lock(mu_);
  boost::json::object out;
  for (const auto& [key, bucket] : buckets_) {
    out[key] = boost::json::array{bucket.tokens, absl::ToUnixMicros(bucket.updated)};
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
    if (pair == nullptr || pair->size() != 2) continue;
    const double* tokens = (*pair)[0].if_double();
    const int64_t* micros = (*pair)[1].if_int64();
    if (tokens == nullptr || micros == nullptr) continue;
    buckets_[std::string(key)] = Bucket{*tokens, absl::FromUnixMicros(*micros)};
  }
}

size_t RateLimiter::size() const {
  std::lock_guard lock(mu_);
  return buckets_.size();
}

}  // namespace conclave::service
