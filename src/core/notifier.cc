#include "conclave/core/notifier.h"

#include <algorithm>

namespace conclave::core {

namespace {
absl::string_view Abs(std::string_view s) { return absl::string_view(s.data(), s.size()); }
}  // namespace

uint64_t Notifier::Version(std::string_view key) const {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(Abs(key));
  return it == entries_.end() ? 0 : it->second.version;
}

void Notifier::Notify(std::string_view key) {
  absl::MutexLock lock(&mu_);
  Entry& entry = entries_[Abs(key)];
  ++entry.version;
  for (Waiter* waiter : entry.waiters) waiter->Wake(WakeReason::kNotified);
}

void Notifier::Notify(const std::vector<std::string>& keys) {
  absl::MutexLock lock(&mu_);
  for (const std::string& key : keys) {
    Entry& entry = entries_[key];
    ++entry.version;
    for (Waiter* waiter : entry.waiters) waiter->Wake(WakeReason::kNotified);
  }
}

WakeReason Notifier::Subscribe(std::string_view key, uint64_t seen_version, Waiter* waiter) {
  absl::MutexLock lock(&mu_);
  if (interrupts_ > 0) return WakeReason::kInterrupted;
  Entry& entry = entries_[Abs(key)];
  if (entry.version != seen_version) return WakeReason::kNotified;
  entry.waiters.push_back(waiter);
  ++waiting_;
  return WakeReason::kNone;
}

void Notifier::Unsubscribe(std::string_view key, Waiter* waiter) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(Abs(key));
  if (it == entries_.end()) return;
  auto& waiters = it->second.waiters;
  auto pos = std::find(waiters.begin(), waiters.end(), waiter);
  if (pos == waiters.end()) return;
  waiters.erase(pos);
  --waiting_;
}

void Notifier::Interrupt() {
  absl::MutexLock lock(&mu_);
  ++interrupts_;
  for (auto& [key, entry] : entries_) {
    for (Waiter* waiter : entry.waiters) waiter->Wake(WakeReason::kInterrupted);
  }
}

void Notifier::Resume() {
  absl::MutexLock lock(&mu_);
  if (interrupts_ > 0) --interrupts_;
}

size_t Notifier::waiting() const {
  absl::MutexLock lock(&mu_);
  return waiting_;
}

}  // namespace conclave::core
