// TransactionQueue: outbound federation transactions (transaction_queue.h; Server-Server API
// "Transactions").
#include "conclave/service/federation/transaction_queue.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <utility>

#include "conclave/core/log.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/database/key.h"
#include "conclave/service/storage/schema.h"
#include "conclave/service/storage/stored_json.h"

namespace conclave::service {
namespace {

using boost::json::object;
using boost::json::value;

// The longest sleep between two passes when nothing is due (a safety net: Wake() and the due
// times cover everything queued).
constexpr absl::Duration kIdlePoll = absl::Minutes(1);
// The most transactions one destination gets in a row in one pass, so that a destination with a
// long queue does not hold the others up indefinitely.
constexpr int kTransactionsPerVisit = 20;

// The prefix of `destination`'s rows in the outbound maps.
std::string DestinationPrefix(std::string_view destination) {
  return database::KeyBuilder().AppendString(destination).Build();
}

// One queued entry as read.
struct Entry {
  std::string key;
  uint64_t seq = 0;
  value json;
};

// Up to `limit` of `destination`'s entries in `map`, oldest first. kDataLoss for a corrupt row.
absl::StatusOr<std::vector<Entry>> ReadEntries(const database::Database& db,
                                               const database::Map& map,
                                               std::string_view destination, size_t limit) {
  std::vector<Entry> entries;
  absl::Status corrupt;
  CONCLAVE_RETURN_IF_ERROR(db.ForEachWithPrefix(
      map, DestinationPrefix(destination), [&](std::string_view key, std::string_view text) {
        if (entries.size() >= limit) return false;
        database::KeyReader reader(key);
        (void)reader.ReadString();
        absl::StatusOr<uint64_t> seq = reader.ReadU64();
        absl::StatusOr<object> parsed = ParseStored(text, "outbound federation entry");
        if (!seq.ok() || !parsed.ok()) {
          corrupt = absl::DataLossError("corrupt federation_outbound row");
          return false;
        }
        entries.push_back({std::string(key), *seq, value(*std::move(parsed))});
        return true;
      }));
  CONCLAVE_RETURN_IF_ERROR(corrupt);
  return entries;
}

// The entries of `destination` in `map` whose sequence numbers `seqs` lists (an unanswered
// transaction's), those still there; kDataLoss for a corrupt row or list.
absl::StatusOr<std::vector<Entry>> ReadListed(const database::Database& db,
                                              const database::Map& map,
                                              std::string_view destination, const value* seqs) {
  std::vector<Entry> entries;
  if (seqs == nullptr || !seqs->is_array()) return entries;
  for (const value& seq : seqs->get_array()) {
    if (!seq.is_uint64() && !seq.is_int64()) {
      return absl::DataLossError("corrupt federation_destinations txn");
    }
    const uint64_t n = seq.to_number<uint64_t>();
    std::string key = schema::OutboundKey(destination, n);
    absl::StatusOr<std::string> text = db.Get(map, key);
    if (absl::IsNotFound(text.status())) continue;
    CONCLAVE_RETURN_IF_ERROR(text.status());
    CONCLAVE_ASSIGN_OR_RETURN(object parsed, ParseStored(*text, "outbound federation entry"));
    entries.push_back({std::move(key), n, value(std::move(parsed))});
  }
  return entries;
}

// The sequence numbers of `entries`.
boost::json::array Seqs(const std::vector<Entry>& entries) {
  boost::json::array out;
  for (const Entry& e : entries) out.emplace_back(e.seq);
  return out;
}

std::optional<absl::Time> TimeField(const object& o, std::string_view key) {
  std::optional<int64_t> ms = IntField(o, key);
  if (!ms || *ms <= 0) return std::nullopt;
  return absl::FromUnixMillis(*ms);
}

}  // namespace

absl::Duration FederationRetryDelay(int attempts, const FederationRetryOptions& options) {
  absl::Duration delay = options.initial;
  for (int i = 1; i < attempts && delay < options.max; ++i) delay *= 2;
  return std::min(delay, options.max);
}

absl::StatusOr<std::unique_ptr<TransactionQueue>> TransactionQueue::Open(Deps deps) {
  std::unique_ptr<TransactionQueue> queue(new TransactionQueue(std::move(deps)));
  database::Database& db = queue->deps_.db;
  CONCLAVE_ASSIGN_OR_RETURN(queue->pdus_, db.OpenMap(schema::kOutboundPdusMap));
  CONCLAVE_ASSIGN_OR_RETURN(queue->edus_, db.OpenMap(schema::kOutboundEdusMap));
  CONCLAVE_ASSIGN_OR_RETURN(queue->destinations_, db.OpenMap(schema::kDestinationsMap));
  // The next sequence number follows the largest queued one (of any destination).
  uint64_t last = 0;
  for (database::Map* map : {queue->pdus_, queue->edus_}) {
    absl::Status corrupt;
    CONCLAVE_RETURN_IF_ERROR(
        db.ForEachWithPrefix(*map, "", [&](std::string_view key, std::string_view) {
          database::KeyReader reader(key);
          (void)reader.ReadString();
          absl::StatusOr<uint64_t> seq = reader.ReadU64();
          if (!seq.ok()) {
            corrupt = absl::DataLossError("corrupt federation_outbound key");
            return false;
          }
          last = std::max(last, *seq);
          return true;
        }));
    CONCLAVE_RETURN_IF_ERROR(corrupt);
  }
  queue->next_seq_.store(last + 1);
  return queue;
}

TransactionQueue::~TransactionQueue() { Stop(); }

absl::Status TransactionQueue::Start() {
  return worker_.Start("federation sender", [this] { Run(); });
}

void TransactionQueue::Stop() { worker_.Stop(); }

void TransactionQueue::Wake() { worker_.Wake(); }

void TransactionQueue::AddEdu(database::WriteBatch& batch, std::string_view destination,
                              std::string_view edu_type, const object& content) {
  batch.Put(*edus_, schema::OutboundKey(destination, next_seq_.fetch_add(1)),
            boost::json::serialize(object{{"edu_type", edu_type}, {"content", content}}));
}

void TransactionQueue::AddPdu(database::WriteBatch& batch, std::string_view destination,
                              const object& pdu) {
  batch.Put(*pdus_, schema::OutboundKey(destination, next_seq_.fetch_add(1)),
            boost::json::serialize(pdu));
}

absl::Status TransactionQueue::EnqueueEdu(std::string_view destination, std::string_view edu_type,
                                          const object& content) {
  database::WriteBatch batch;
  AddEdu(batch, destination, edu_type, content);
  CONCLAVE_RETURN_IF_ERROR(deps_.db.Write(batch));
  Wake();
  return absl::OkStatus();
}

void TransactionQueue::MarkReachable(std::string_view destination) {
  // Called on every authenticated inbound request: only the first since the last pass wakes the
  // sender (a pending entry means a wake-up is already on its way), so a busy origin does not
  // cost a pass over the queue per request.
  bool first;
  {
    std::lock_guard lock(reachable_mu_);
    first = reachable_.emplace(destination).second;
  }
  if (first) Wake();
}

void TransactionQueue::Run() {
  while (true) {
    absl::Duration wait = kIdlePoll;
    if (absl::StatusOr<PassResult> pass = RunPass(); !pass.ok()) {
      CONCLAVE_LOG(kError, "federation", "federation sender pass failed: {}",
                   pass.status().message());
    } else if (pass->next_due) {
      wait = std::clamp(*pass->next_due - deps_.clock(), absl::ZeroDuration(), kIdlePoll);
    }
    if (!worker_.Wait(wait + absl::Milliseconds(1))) return;
  }
}

absl::StatusOr<std::set<std::string>> TransactionQueue::QueuedDestinations() const {
  std::set<std::string> out;
  for (const database::Map* map : {pdus_, edus_}) {
    auto it = deps_.db.NewIterator(*map);
    for (it->SeekToFirst(); it->Valid();) {
      database::KeyReader reader(it->key());
      absl::StatusOr<std::string> destination = reader.ReadString();
      if (!destination.ok()) return absl::DataLossError("corrupt federation_outbound key");
      // Past every key of this destination: its keys are the prefix and 8 bytes of seq.
      const std::string next = DestinationPrefix(*destination) + std::string(9, '\xff');
      out.insert(*std::move(destination));
      it->Seek(next);
    }
    CONCLAVE_RETURN_IF_ERROR(it->status());
  }
  return out;
}

absl::StatusOr<TransactionQueue::PassResult> TransactionQueue::RunPass() {
  std::lock_guard pass(pass_mu_);
  PassResult result;
  CONCLAVE_ASSIGN_OR_RETURN(std::set<std::string> destinations, QueuedDestinations());
  std::set<std::string> reachable;
  {
    std::lock_guard lock(reachable_mu_);
    reachable.swap(reachable_);
  }
  for (const std::string& destination : destinations) {
    if (worker_.stopping()) break;
    CONCLAVE_RETURN_IF_ERROR(
        SendDestination(destination, reachable.count(destination) > 0, result));
  }
  return result;
}

absl::Status TransactionQueue::SendDestination(const std::string& destination, bool reachable,
                                               PassResult& result) {
  const std::string state_key(destination);
  for (int round = 0; round < kTransactionsPerVisit && !worker_.stopping(); ++round) {
    object state;
    absl::StatusOr<std::string> stored = deps_.db.Get(*destinations_, state_key);
    if (stored.ok()) {
      CONCLAVE_ASSIGN_OR_RETURN(state, ParseStored(*stored, "federation destination"));
    } else if (!absl::IsNotFound(stored.status())) {
      return stored.status();
    }
    const absl::Time now = deps_.clock();
    if (std::optional<absl::Time> due = TimeField(state, "next_attempt_ts");
        due && *due > now && !reachable) {
      if (!result.next_due || *due < *result.next_due) result.next_due = *due;
      return absl::OkStatus();
    }

    // The unanswered transaction again, or a new one.
    // (Its entries by their sequence numbers: an entry queued meanwhile with a lower number,
    // committed late, does not slip into a transaction the receiver may already have.)
    std::string txn_id;
    std::vector<Entry> pdus, edus;
    if (const value* txn = state.if_contains("txn"); txn != nullptr && txn->is_object()) {
      txn_id = std::string(StringField(txn->get_object(), "id"));
      CONCLAVE_ASSIGN_OR_RETURN(
          pdus, ReadListed(deps_.db, *pdus_, destination, txn->get_object().if_contains("pdus")));
      CONCLAVE_ASSIGN_OR_RETURN(
          edus, ReadListed(deps_.db, *edus_, destination, txn->get_object().if_contains("edus")));
    } else {
      CONCLAVE_ASSIGN_OR_RETURN(pdus,
                                ReadEntries(deps_.db, *pdus_, destination, kMaxTransactionPdus));
      CONCLAVE_ASSIGN_OR_RETURN(edus,
                                ReadEntries(deps_.db, *edus_, destination, kMaxTransactionEdus));
    }
    if (pdus.empty() && edus.empty()) {
      if (!txn_id.empty()) {  // its entries are gone (answered, then the process stopped)
        state.erase("txn");
        CONCLAVE_RETURN_IF_ERROR(
            deps_.db.Put(*destinations_, state_key, boost::json::serialize(state)));
        continue;  // newer entries may be waiting
      }
      return absl::OkStatus();
    }
    if (txn_id.empty()) {
      txn_id = core::StrCat(absl::ToUnixMillis(now), "_",
                            edus.empty() ? pdus.back().seq : edus.back().seq);
      state["txn"] = object{{"id", txn_id}, {"pdus", Seqs(pdus)}, {"edus", Seqs(edus)}};
    }
    state["last_attempt_ts"] = absl::ToUnixMillis(now);
    // Recorded before the request: a retry after a crash reuses the id.
    CONCLAVE_RETURN_IF_ERROR(
        deps_.db.Put(*destinations_, state_key, boost::json::serialize(state)));

    boost::json::array pdu_array, edu_array;
    for (Entry& e : pdus) pdu_array.push_back(std::move(e.json));
    for (Entry& e : edus) edu_array.push_back(std::move(e.json));
    const size_t pdu_count = pdu_array.size(), edu_count = edu_array.size();
    const value body = object{{"origin", deps_.server_name},
                              {"origin_server_ts", absl::ToUnixMillis(now)},
                              {"pdus", std::move(pdu_array)},
                              {"edus", std::move(edu_array)}};
    const std::string uri = core::StrCat("/_matrix/federation/v1/send/", txn_id);
    absl::StatusOr<core::HttpClientResponse> response = deps_.send(destination, uri, body);
    if (response.ok() && response->status == 200) {
      database::WriteBatch batch;
      for (const Entry& e : pdus) batch.Delete(*pdus_, e.key);
      for (const Entry& e : edus) batch.Delete(*edus_, e.key);
      state.erase("txn");
      state["attempts"] = 0;
      state["next_attempt_ts"] = 0;
      state["last_success_ts"] = absl::ToUnixMillis(deps_.clock());
      batch.Put(*destinations_, state_key, boost::json::serialize(state));
      CONCLAVE_RETURN_IF_ERROR(deps_.db.Write(batch));
      ++result.sent;
      reachable = false;
      CONCLAVE_LOG(kDebug, "federation", "sent transaction {} to {} ({} PDUs, {} EDUs)", txn_id,
                   destination, pdu_count, edu_count);
      continue;
    }
    const std::string error =
        response.ok() ? core::StrCat("answered ", response->status) : response.status().ToString();
    const int attempts = static_cast<int>(IntField(state, "attempts").value_or(0)) + 1;
    const absl::Time next =
        deps_.clock() +
        FederationRetryDelay(attempts, deps_.options ? deps_.options() : FederationRetryOptions{});
    state["attempts"] = attempts;
    state["next_attempt_ts"] = absl::ToUnixMillis(next);
    state["last_error"] = error;
    CONCLAVE_RETURN_IF_ERROR(
        deps_.db.Put(*destinations_, state_key, boost::json::serialize(state)));
    ++result.failed;
    if (!result.next_due || next < *result.next_due) result.next_due = next;
    CONCLAVE_LOG(kInfo, "federation",
                 "transaction {} to {} failed ({} in a row): {}; next attempt in {}", txn_id,
                 destination, attempts, error, absl::FormatDuration(next - deps_.clock()));
    return absl::OkStatus();
  }
  // Visited enough for this pass: the rest goes in the next one, at once.
  result.next_due = deps_.clock();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<DestinationStatus>> TransactionQueue::Destinations() const {
  std::map<std::string, DestinationStatus> by_name;
  for (const auto& [map_binding, edus_binding] :
       {std::pair{pdus_, false}, std::pair{edus_, true}}) {
    // Copies: clang 14 (the fuzz preset) cannot capture structured bindings in a lambda.
    const auto map = map_binding;
    const bool edus = edus_binding;
    absl::Status corrupt;
    CONCLAVE_RETURN_IF_ERROR(
        deps_.db.ForEachWithPrefix(*map, "", [&](std::string_view key, std::string_view) {
          database::KeyReader reader(key);
          absl::StatusOr<std::string> destination = reader.ReadString();
          if (!destination.ok()) {
            corrupt = absl::DataLossError("corrupt federation_outbound key");
            return false;
          }
          DestinationStatus& d = by_name[*destination];
          d.destination = *destination;
          ++(edus ? d.queued_edus : d.queued_pdus);
          return true;
        }));
    CONCLAVE_RETURN_IF_ERROR(corrupt);
  }
  absl::Status corrupt;
  CONCLAVE_RETURN_IF_ERROR(deps_.db.ForEachWithPrefix(
      *destinations_, "", [&](std::string_view key, std::string_view text) {
        absl::StatusOr<object> state = ParseStored(text, "federation destination");
        if (!state.ok()) {
          corrupt = absl::DataLossError("corrupt federation_destinations row");
          return false;
        }
        DestinationStatus& d = by_name[std::string(key)];
        d.destination = std::string(key);
        d.attempts = static_cast<int>(IntField(*state, "attempts").value_or(0));
        if (d.attempts > 0) d.next_attempt = TimeField(*state, "next_attempt_ts");
        d.last_success = TimeField(*state, "last_success_ts");
        d.last_attempt = TimeField(*state, "last_attempt_ts");
        if (d.attempts > 0) d.last_error = std::string(StringField(*state, "last_error"));
        return true;
      }));
  CONCLAVE_RETURN_IF_ERROR(corrupt);
  std::vector<DestinationStatus> out;
  for (auto& [name, d] : by_name) out.push_back(std::move(d));
  return out;
}

}  // namespace conclave::service
