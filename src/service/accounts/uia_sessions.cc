#include "conclave/service/accounts/uia_sessions.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "conclave/service/protocol/crypto.h"

namespace conclave::service {

std::string UiaSessions::Start(std::string_view operation, absl::Time now) {
  std::string id = RandomAlnum(24);
  std::lock_guard lock(mu_);
  // Expired sessions first, then the oldest if still full: amortized O(log n) per Start.
  while (!by_start_.empty() && by_start_.begin()->first + kLifetime <= now) {
    sessions_.erase(by_start_.begin()->second);
    by_start_.erase(by_start_.begin());
  }
  while (sessions_.size() >= kMaxSessions && !by_start_.empty()) {
    sessions_.erase(by_start_.begin()->second);
    by_start_.erase(by_start_.begin());
  }
  InsertLocked(id, Session{Sha256(operation), now});
  return id;
}

void UiaSessions::InsertLocked(std::string id, Session session) {
  const absl::Time started = session.started;
  if (!sessions_.try_emplace(id, std::move(session)).second) return;
  by_start_.emplace(started, std::move(id));
}

UiaSessions::Verdict UiaSessions::Verify(std::string_view id, std::string_view operation,
                                         absl::Time now) const {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(absl::string_view(id.data(), id.size()));
  if (it == sessions_.end() || it->second.started + kLifetime <= now) return Verdict::kUnknown;
  return it->second.digest == Sha256(operation) ? Verdict::kValid : Verdict::kOtherOperation;
}

void UiaSessions::Finish(std::string_view id) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(absl::string_view(id.data(), id.size()));
  if (it == sessions_.end()) return;
  auto [first, last] = by_start_.equal_range(it->second.started);
  for (auto entry = first; entry != last; ++entry) {
    if (entry->second == it->first) {
      by_start_.erase(entry);
      break;
    }
  }
  sessions_.erase(it);
}

std::string UiaSessions::Save() const {
  std::lock_guard lock(mu_);
  boost::json::object out;
  for (const auto& [id, session] : sessions_) {
    out[id] =
        boost::json::array{UnpaddedBase64(session.digest), absl::ToUnixMicros(session.started)};
  }
  return boost::json::serialize(out);
}

void UiaSessions::Restore(std::string_view saved) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(saved, ec);
  if (ec || !value.is_object()) return;
  std::lock_guard lock(mu_);
  for (const auto& [id, entry] : value.get_object()) {
    const auto* fields = entry.if_array();
    if (fields == nullptr || fields->size() != 2 || !(*fields)[0].is_string() ||
        !(*fields)[1].is_int64()) {
      continue;
    }
    auto digest = DecodeUnpaddedBase64((*fields)[0].get_string());
    if (!digest.ok() || digest->size() != 32) continue;
    InsertLocked(std::string(id),
                 Session{*std::move(digest), absl::FromUnixMicros((*fields)[1].get_int64())});
  }
}

size_t UiaSessions::size() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

}  // namespace conclave::service
