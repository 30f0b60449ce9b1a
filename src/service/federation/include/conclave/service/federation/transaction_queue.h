// TransactionQueue: the outbound side of federation transactions (Server-Server API,
// "Transactions"; transactions.yaml PUT /_matrix/federation/v1/send/{txnId}). PDUs and EDUs for
// another server are queued in RocksDB (schema.h `federation_outbound_pdus`,
// `federation_outbound_edus`, `federation_destinations`) and sent in transactions of at most
// kMaxTransactionPdus PDUs and kMaxTransactionEdus EDUs, one transaction in flight per
// destination.
//
// One thread (a core::WorkerThread started by Start, joined by Stop; the service module's
// unload stops it) sleeps until Wake() (something was queued), the next destination is due, or
// a minute passed, then runs a pass. A pass visits every destination with queued entries, in
// name order, one request at a time: a destination in backoff is skipped; otherwise its oldest
// entries go out as one transaction. A 200 removes them (and the next transaction follows at
// once, until the queue of that destination is empty); anything else (an error status, no
// answer, a denied address) counts a failed attempt and postpones the destination by
// FederationRetryDelay (`federation_retry_initial` doubled per failure, at most
// `federation_retry_max`). Entries are never dropped: they wait until the destination answers
// 200. An unanswered transaction keeps its txnId (recorded in `federation_destinations` before
// the request), and its retries carry the same entries ("The sending server must wait and retry
// for a 200 OK response before sending a transaction with a different txnId"), so the receiver's
// deduplication by txnId applies across retries, restarts and kill -9. MarkReachable (the
// destination just sent us a request) ends its backoff.
//
// Everything is in RocksDB, so a restart or a reload carries on where it stopped. The passes
// are sequential: a destination that does not answer holds the others up for at most
// `federation_timeout` per pass (then it is in backoff).
//
// Thread-safe. Owned by the Homeserver; must not outlive its Database or what `send` uses. A
// request in flight when Stop is called finishes first (at most `federation_timeout`).
#ifndef CONCLAVE_SERVICE_FEDERATION_TRANSACTION_QUEUE_H_
#define CONCLAVE_SERVICE_FEDERATION_TRANSACTION_QUEUE_H_

#include <atomic>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "conclave/core/http_client.h"
#include "conclave/core/worker_thread.h"
#include "conclave/database/database.h"
#include "conclave/database/write_batch.h"

namespace conclave::service {

// Transaction limits (transactions.yaml: "Must not include more than 50 PDUs", "... more than
// 100 EDUs").
inline constexpr size_t kMaxTransactionPdus = 50;
inline constexpr size_t kMaxTransactionEdus = 100;

// The backoff bounds the queue reads at every pass (ServiceOptions federation_retry_*).
struct FederationRetryOptions {
  absl::Duration initial = absl::Seconds(5);
  absl::Duration max = absl::Hours(1);
};

// The wait after the `attempts`-th failed transaction in a row (1 for the first):
// `options.initial` doubled `attempts - 1` times, at most `options.max`. Pure.
absl::Duration FederationRetryDelay(int attempts, const FederationRetryOptions& options);

// One destination as the admin sees it (`federation status`).
struct DestinationStatus {
  std::string destination;
  size_t queued_pdus = 0;
  size_t queued_edus = 0;
  int attempts = 0;                        // failed transactions in a row
  std::optional<absl::Time> next_attempt;  // set while in backoff
  std::optional<absl::Time> last_success;
  std::optional<absl::Time> last_attempt;
  std::string last_error;
};

class TransactionQueue {
 public:
  // Sends one transaction: PUT `uri` (`/_matrix/federation/v1/send/{txnId}`) with `body` to
  // `destination`, signed; the answer of any status. FederationClient::Send in the server, a
  // stand-in for the remote server in tests.
  using Send = std::function<absl::StatusOr<core::HttpClientResponse>(
      std::string_view destination, std::string_view uri, const boost::json::value& body)>;

  struct Deps {
    std::string server_name;  // the transactions' `origin`
    database::Database& db;
    Send send;
    // The backoff bounds in force, read at every pass (SIGHUP changes them).
    std::function<FederationRetryOptions()> options;
    std::function<absl::Time()> clock = &absl::Now;
  };

  // What one pass did.
  struct PassResult {
    int sent = 0;    // transactions answered 200
    int failed = 0;  // transactions that failed (destinations postponed)
    // When the earliest destination in backoff is due; nullopt when none is.
    std::optional<absl::Time> next_due;
  };

  // Opens the maps and finds the last queue sequence number. Does not start the thread.
  // Database errors; kDataLoss for a corrupt key.
  static absl::StatusOr<std::unique_ptr<TransactionQueue>> Open(Deps deps);
  // Stops the thread (Stop).
  ~TransactionQueue();
  TransactionQueue(const TransactionQueue&) = delete;
  TransactionQueue& operator=(const TransactionQueue&) = delete;

  // Starts the sending thread, which runs a pass at once. kResourceExhausted when the thread
  // cannot be created. Call with Stop from one thread (the module hooks).
  absl::Status Start();
  // Joins the thread after the request in flight, if any. Idempotent.
  void Stop();
  // Asks the thread for a pass soon. Cheap; callable from any thread.
  void Wake();

  // Adds to `batch` the queueing of the EDU {edu_type, content} for `destination` (a server
  // name other than this one: the caller checks). Call Wake() once `batch` is written. Nothing
  // is kept of the arguments. Thread-safe.
  void AddEdu(database::WriteBatch& batch, std::string_view destination, std::string_view edu_type,
              const boost::json::object& content);
  // The same for a PDU, sent as `pdu` is.
  void AddPdu(database::WriteBatch& batch, std::string_view destination,
              const boost::json::object& pdu);
  // AddEdu in a batch of its own, written, then Wake(). Database errors.
  absl::Status EnqueueEdu(std::string_view destination, std::string_view edu_type,
                          const boost::json::object& content);

  // Ends `destination`'s backoff at the next pass (it sent us an authenticated request, so it
  // is up again) and wakes the thread when it has entries waiting. Cheap; callable from any
  // thread.
  void MarkReachable(std::string_view destination);

  // Sends what is due at `deps.clock()`, as the class comment says. Serialized with other
  // passes. Database errors (a failed transaction is not an error: it is counted and retried).
  absl::StatusOr<PassResult> RunPass();

  // Every destination with queued entries or a `federation_destinations` row, by name.
  // Database errors, kDataLoss for a corrupt row.
  absl::StatusOr<std::vector<DestinationStatus>> Destinations() const;

 private:
  explicit TransactionQueue(Deps deps) : deps_(std::move(deps)) {}
  void Run();
  // Sends `destination`'s transactions until its queue is empty, it fails, or Stop.
  absl::Status SendDestination(const std::string& destination, bool reachable, PassResult& result);
  // The destinations that have queued entries, by name. Database errors.
  absl::StatusOr<std::set<std::string>> QueuedDestinations() const;

  Deps deps_;
  database::Map* pdus_ = nullptr;
  database::Map* edus_ = nullptr;
  database::Map* destinations_ = nullptr;
  std::atomic<uint64_t> next_seq_{1};
  std::mutex pass_mu_;  // one RunPass at a time
  std::mutex reachable_mu_;
  std::set<std::string> reachable_;  // guarded by reachable_mu_
  core::WorkerThread worker_;        // last: stopped before the rest goes
};

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_FEDERATION_TRANSACTION_QUEUE_H_
