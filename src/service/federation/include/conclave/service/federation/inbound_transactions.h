// InboundTransactions: the receiving side of PUT /_matrix/federation/v1/send/{txnId}
// (Server-Server API "Transactions", transactions.yaml): limits, per-PDU results, EDUs handed to
// their handlers, and the answer kept per (origin, txnId) so that a repeat gets it again without
// anything being done twice (schema.h `federation_inbound_txns`).
//
// PDUs go to `Deps::pdu_handler`; without one each gets the error "PDUs are not accepted by
// this server yet" (nothing checks or stores them). EDUs go to the handler of their `edu_type`
// in `Deps::edu_handlers`; an EDU of another type is ignored (the spec's EDU rules), and an EDU
// whose handler refuses it (a Matrix error: bad shape, wrong origin) is logged and skipped: EDUs
// have no result in the answer, so a bad one never fails the transaction. A handler failing for
// this server's own reasons (the database) makes Receive return that error, unstored, so that
// the sender retries; handlers must therefore be idempotent (to-device messages are, by
// message_id).
//
// Thread-safe: one mutex serializes Receive, so concurrent repeats of one transaction run it
// once. Owned by the Homeserver; must not outlive its Database or what the handlers use.
#ifndef CONCLAVE_SERVICE_FEDERATION_INBOUND_TRANSACTIONS_H_
#define CONCLAVE_SERVICE_FEDERATION_INBOUND_TRANSACTIONS_H_

#include <boost/json/object.hpp>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "conclave/database/database.h"

namespace conclave::service {

class InboundTransactions {
 public:
  // Handles one EDU's `content` from `origin` (already authenticated). An error is logged.
  using EduHandler =
      std::function<absl::Status(std::string_view origin, const boost::json::object& content)>;
  // Handles one PDU from `origin`; returns "" when accepted, else the error to report for it.
  using PduHandler =
      std::function<std::string(std::string_view origin, const boost::json::object& pdu)>;

  struct Deps {
    database::Database& db;
    std::map<std::string, EduHandler, std::less<>> edu_handlers;
    PduHandler pdu_handler;  // null: PDUs are refused, one by one
    std::function<absl::Time()> clock = &absl::Now;
  };

  // Opens the map and removes answers older than a day. Database errors.
  static absl::StatusOr<std::unique_ptr<InboundTransactions>> Open(Deps deps);

  // Processes the transaction `body` that `origin` sent as `txn_id`, and returns the 200 body
  // ({"pdus": {event_id: {} or {"error": …}}}); a repeat of (origin, txn_id) returns the stored
  // answer and does nothing. M_BAD_JSON (400) when `pdus` (may be absent: none) or `edus` is not
  // an array, there are more than 50 PDUs or 100 EDUs (the spec's limits; Synapse answers 400
  // too), or `origin` in the body is not `origin`; nothing is stored then. A PDU that is not an
  // object, or whose event id cannot be computed, is left out of the answer. Database errors.
  absl::StatusOr<boost::json::object> Receive(std::string_view origin, std::string_view txn_id,
                                              const boost::json::object& body);

 private:
  explicit InboundTransactions(Deps deps) : deps_(std::move(deps)) {}
  Deps deps_;
  database::Map* txns_ = nullptr;
  std::mutex mu_;
};

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_FEDERATION_INBOUND_TRANSACTIONS_H_
