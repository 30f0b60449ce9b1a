// EventObservers: the hook other parts of the homeserver hang on to hear about events local
// clients send, without Rooms knowing them. The admin room's command intake is the first
// observer; push, federation's outgoing queue and appservices will register the same way.
//
// Thread-safe. Owned by Rooms; every Handle must be destroyed before it.
#ifndef CONCLAVE_SERVICE_ROOMS_EVENT_OBSERVERS_H_
#define CONCLAVE_SERVICE_ROOMS_EVENT_OBSERVERS_H_

#include <boost/json/object.hpp>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>

#include "conclave/core/registration.h"

namespace conclave::service {

// An event a local client sent (Rooms::Send), once committed: valid for the call only.
struct SentEvent {
  std::string_view room_id;
  std::string_view sender;
  std::string_view event_id;
  std::string_view type;
  const boost::json::object& content;
};

class EventObservers {
 public:
  // Called on the sending request's thread, after the commit and outside every room lock, once
  // per event (a retried transaction id does not call it again). May send events itself.
  using Observer = std::function<void(const SentEvent&)>;

  // Unregisters its observer on destruction, waiting for calls of it that are running on other
  // threads. Must not be destroyed from inside its own observer.
  using Handle = core::Registration<EventObservers, uint64_t>;

  EventObservers() = default;
  EventObservers(const EventObservers&) = delete;
  EventObservers& operator=(const EventObservers&) = delete;

  // Registers `observer` until the returned handle is destroyed.
  Handle Add(Observer observer);
  // Calls every registered observer with `event`, in registration order.
  void Notify(const SentEvent& event);

 private:
  struct Entry {
    Observer observer;
    int running = 0;  // guarded by mu_
  };
  friend Handle;
  void Unregister(uint64_t id);

  std::mutex mu_;
  std::condition_variable idle_;
  uint64_t next_id_ = 1;                                // guarded by mu_
  std::map<uint64_t, std::shared_ptr<Entry>> entries_;  // guarded by mu_
};

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_ROOMS_EVENT_OBSERVERS_H_
