// PushSender: sends the `push_queue` entries (schema.h) that Notifications::Put queues with each
// notifying event to the pushers' Push Gateways (Push Gateway API, POST /_matrix/push/v1/notify;
// push_notifier.yaml), with core's outbound HTTP client and its address deny list.
//
// One thread (a core::WorkerThread started by Start, joined by Stop; the service module's
// unload stops it) sleeps until Wake() (a committed event queued something), the next entry is
// due, or a minute passed, then runs a pass. A pass takes each pusher's entries in stream
// order: one request per entry (one device: that pusher); an answer of 2xx removes the entry, a
// `rejected` list naming the pushkey removes the pusher and its entries ("Homeservers must cease
// sending notification requests for these pushkeys and remove the associated pushers"), anything
// else (an error status, no answer, a denied address) counts an attempt and postpones the entry by
// the backoff (`push_retry_initial` doubled per attempt, at most `push_retry_max`; the
// pusher's later entries wait behind it, so a gateway sees them in order); after
// `push_retry_attempts` the entry is dropped and logged. Entries whose pusher is gone are
// removed. Everything is in RocksDB, so a restart or a reload carries on where it stopped; an
// entry sent but not yet removed when the process died is sent again, which gateways
// deduplicate by `event_id`.
//
// Thread-safe. Owned by the Homeserver; must not outlive its Store, Pushers and Notifications.
// A request in flight when Stop is called finishes first (at most `push_gateway_timeout`).
#ifndef CONCLAVE_SERVICE_PUSH_PUSH_SENDER_H_
#define CONCLAVE_SERVICE_PUSH_PUSH_SENDER_H_

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "conclave/core/http_client.h"
#include "conclave/core/worker_thread.h"
#include "conclave/service/options/options.h"
#include "conclave/service/push/notifications.h"
#include "conclave/service/push/pushers.h"
#include "conclave/service/storage/store.h"

namespace conclave::service {

// The body of the POST /_matrix/push/v1/notify for the queued `entry` (schema.h push_queue), the
// stored event `event` (null when it is gone: then only the event-id fields are sent), the stored
// `pusher` (Pushers::Get) of `user_id`, and the user's `unread` count. Follows push_notifier.yaml:
// `notification` with event_id, room_id, type, sender, sender_display_name, room_name,
// room_alias, user_is_target (member events), prio, content, counts.unread (left out when 0), and
// `devices` with the pusher's app_id, pushkey, pushkey_ts, data without `url`, and the rule's
// tweaks. With `data.format` "event_id_only" only event_id, room_id, prio, counts and devices.
// Pure.
boost::json::object PushNotifyBody(const boost::json::object& entry,
                                   const boost::json::object* event,
                                   const boost::json::object& pusher, std::string_view user_id,
                                   int64_t unread);

// The wait after the `attempts`-th failed attempt (1 for the first): `options.retry_initial`
// doubled `attempts - 1` times, at most `options.retry_max`. Pure.
absl::Duration PushRetryDelay(int attempts, const PushGatewayOptions& options);

class PushSender {
 public:
  // How one request is sent: core::HttpFetch in the server, a stand-in for the gateway in tests.
  using Fetch = std::function<absl::StatusOr<core::HttpClientResponse>(
      const core::HttpClientRequest&, const core::HttpClientOptions&)>;

  struct Deps {
    Store& store;
    Pushers& pushers;
    Notifications& notifications;
    // The options in force, read at every pass (SIGHUP changes them).
    std::function<PushGatewayOptions()> options;
    Fetch fetch = &core::HttpFetch;
    std::function<absl::Time()> clock = &absl::Now;
  };

  // What one pass did.
  struct PassResult {
    int sent = 0;     // entries the gateway accepted
    int failed = 0;   // attempts that failed (entries postponed or dropped)
    int dropped = 0;  // entries removed without being accepted (pusher gone, rejected, last try)
    // When the earliest entry left is due; nullopt when the queue is empty.
    std::optional<absl::Time> next_due;
  };

  // Opens the `push_queue` map. Does not start the thread. Database errors.
  static absl::StatusOr<std::unique_ptr<PushSender>> Open(Deps deps);
  // Stops the thread (Stop).
  ~PushSender();
  PushSender(const PushSender&) = delete;
  PushSender& operator=(const PushSender&) = delete;

  // Starts the sending thread, which runs a pass at once. kResourceExhausted when the thread
  // cannot be created. Call with Stop from one thread (the module hooks).
  absl::Status Start();
  // Joins the thread after the request in flight, if any. Idempotent.
  void Stop();
  // Asks the thread for a pass soon. Cheap; callable from any thread.
  void Wake();

  // Sends every entry that is due at `deps.clock()`, as the class comment says. Serialized with
  // other passes. Database errors (a failed request is not an error: it is counted and retried).
  absl::StatusOr<PassResult> RunPass();

 private:
  explicit PushSender(Deps deps) : deps_(std::move(deps)) {}
  void Run();
  // Sends one entry; returns whether the gateway accepted it, or "rejected" when it rejected
  // the pushkey.
  enum class Outcome { kAccepted, kRejected, kFailed };
  Outcome Send(const std::string& user_id, const boost::json::object& pusher,
               const boost::json::object& entry, uint64_t position,
               const PushGatewayOptions& options);

  Deps deps_;
  database::Map* queue_ = nullptr;
  std::mutex pass_mu_;         // one RunPass at a time
  core::WorkerThread worker_;  // last: stopped before the rest goes
};

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_PUSH_PUSH_SENDER_H_
