// InboundTransactions: PUT /send/{txnId} received (inbound_transactions.h; Server-Server API
// "Transactions").
#include "conclave/service/federation/inbound_transactions.h"

#include <boost/json/serialize.hpp>
#include <utility>
#include <vector>

#include "conclave/core/log.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/event_hash.h"
#include "conclave/service/storage/schema.h"
#include "conclave/service/storage/stored_json.h"

namespace conclave::service {
namespace {

using boost::json::object;
using boost::json::value;

// How long an answer is kept for repeats: senders retry a transaction until it is answered, so
// a day covers any outage a repeat can come after.
constexpr absl::Duration kKeepAnswers = absl::Hours(24);

// The event id of `pdu` as received: its `event_id` (room versions 1 and 2), else the v4+
// reference-hash id (versions 3 and later carry none; without the room, its version is not
// known here, and v4+ is every version from 4 to 12).
absl::StatusOr<std::string> PduEventId(const object& pdu) {
  if (std::string_view id = StringField(pdu, "event_id"); !id.empty()) return std::string(id);
  return EventIdV4(pdu);
}

// Whether `s` is this server's failure (the database) rather than the EDU's fault: the
// transaction is then answered with an error, not stored, so the sender retries it.
bool IsOwnFailure(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kFailedPrecondition:
      return false;
    default:
      return true;
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<InboundTransactions>> InboundTransactions::Open(Deps deps) {
  std::unique_ptr<InboundTransactions> txns(new InboundTransactions(std::move(deps)));
  database::Database& db = txns->deps_.db;
  CONCLAVE_ASSIGN_OR_RETURN(txns->txns_, db.OpenMap(schema::kInboundTxnsMap));
  const int64_t cutoff = absl::ToUnixMillis(txns->deps_.clock() - kKeepAnswers);
  database::WriteBatch batch;
  CONCLAVE_RETURN_IF_ERROR(
      db.ForEachWithPrefix(*txns->txns_, "", [&](std::string_view key, std::string_view text) {
        absl::StatusOr<object> row = ParseStored(text, "inbound transaction");
        if (!row.ok() || IntField(*row, "ts").value_or(0) < cutoff) batch.Delete(*txns->txns_, key);
        return true;
      }));
  if (batch.Count() > 0) CONCLAVE_RETURN_IF_ERROR(db.Write(batch));
  return txns;
}

absl::StatusOr<object> InboundTransactions::Receive(std::string_view origin,
                                                    std::string_view txn_id, const object& body) {
  const boost::json::array none;
  const value* pdus = body.if_contains("pdus");
  const value* edus = body.if_contains("edus");
  if ((pdus != nullptr && !pdus->is_array()) || (edus != nullptr && !edus->is_array())) {
    return BadJson("pdus and edus must be arrays");
  }
  const boost::json::array& pdu_list = pdus ? pdus->get_array() : none;
  const boost::json::array& edu_list = edus ? edus->get_array() : none;
  if (pdu_list.size() > 50 || edu_list.size() > 100) {
    return BadJson(core::StrCat("A transaction carries at most 50 PDUs and 100 EDUs, not ",
                                pdu_list.size(), " and ", edu_list.size()));
  }
  if (const value* sender = body.if_contains("origin");
      sender != nullptr && (!sender->is_string() || sender->get_string() != origin)) {
    return BadJson(core::StrCat("The transaction's origin is not ", origin));
  }

  std::lock_guard lock(mu_);
  const std::string row = schema::PairKey(origin, txn_id);
  auto stored = deps_.db.Get(*txns_, row);
  if (stored.ok()) {
    CONCLAVE_ASSIGN_OR_RETURN(object record, ParseStored(*stored, "inbound transaction"));
    if (value* response = record.if_contains("response"); response && response->is_object()) {
      return std::move(response->get_object());
    }
    return absl::DataLossError("corrupt federation_inbound_txns row");
  }
  if (!absl::IsNotFound(stored.status())) return stored.status();

  // transactions.yaml: "The result of processing the transaction ... even in the event of one
  // or more PDUs failing to be processed."
  object results;
  for (const value& pdu : pdu_list) {
    if (!pdu.is_object()) continue;
    absl::StatusOr<std::string> event_id = PduEventId(pdu.get_object());
    if (!event_id.ok()) {
      CONCLAVE_LOG(kInfo, "federation", "a PDU from {} in {} has no event id: {}", origin, txn_id,
                   event_id.status().message());
      continue;
    }
    std::string error = deps_.pdu_handler ? deps_.pdu_handler(origin, pdu.get_object())
                                          : "PDUs are not accepted by this server yet";
    results[*event_id] = error.empty() ? object() : object{{"error", std::move(error)}};
  }
  for (const value& edu : edu_list) {
    if (!edu.is_object()) continue;
    const std::string_view type = StringField(edu.get_object(), "edu_type");
    auto handler = deps_.edu_handlers.find(type);
    if (handler == deps_.edu_handlers.end()) continue;  // unknown types are ignored
    const value* content = edu.get_object().if_contains("content");
    if (content == nullptr || !content->is_object()) {
      CONCLAVE_LOG(kInfo, "federation", "a {} EDU from {} has no content object", type, origin);
      continue;
    }
    if (absl::Status s = handler->second(origin, content->get_object()); !s.ok()) {
      if (IsOwnFailure(s)) return s;  // answered 500 and retried: handlers are idempotent
      CONCLAVE_LOG(kInfo, "federation", "a {} EDU from {} in {} was refused: {}", type, origin,
                   txn_id, s.message());
    }
  }
  object response{{"pdus", std::move(results)}};
  CONCLAVE_RETURN_IF_ERROR(
      deps_.db.Put(*txns_, row,
                   boost::json::serialize(
                       object{{"response", response}, {"ts", absl::ToUnixMillis(deps_.clock())}})));
  return response;
}

}  // namespace conclave::service
