#include "conclave/service/rooms/event_observers.h"

#include <utility>
#include <vector>

namespace conclave::service {

EventObservers::Handle EventObservers::Add(Observer observer) {
  std::lock_guard lock(mu_);
  const uint64_t id = next_id_++;
  entries_.emplace(id, std::make_shared<Entry>(Entry{std::move(observer)}));
  return Handle(this, id);
}

void EventObservers::Notify(const SentEvent& event) {
  std::vector<std::shared_ptr<Entry>> entries;
  {
    std::lock_guard lock(mu_);
    entries.reserve(entries_.size());
    for (const auto& [id, entry] : entries_) {
      ++entry->running;
      entries.push_back(entry);
    }
  }
  // Outside the lock: an observer may send an event, which notifies again.
  for (const auto& entry : entries) {
    entry->observer(event);
    std::lock_guard lock(mu_);
    if (--entry->running == 0) idle_.notify_all();
  }
}

void EventObservers::Unregister(uint64_t id) {
  std::unique_lock lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  std::shared_ptr<Entry> entry = std::move(it->second);
  entries_.erase(it);
  idle_.wait(lock, [&] { return entry->running == 0; });
}

}  // namespace conclave::service
