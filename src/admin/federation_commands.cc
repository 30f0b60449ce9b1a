// `federation`: outbound federation from the operator's side: fetching a server's keys now
// (service/federation/remote_keys.h) and showing what the cache holds, and a signed profile
// query to another server (service/federation/federation_client.h), and the outbound
// transaction queue per destination (service/federation/transaction_queue.h). They block: the
// admin worker runs them.
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "absl/time/time.h"
#include "conclave/core/percent.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/federation/federation_client.h"
#include "conclave/service/federation/remote_keys.h"
#include "conclave/service/federation/transaction_queue.h"
#include "conclave/service/homeserver.h"
#include "conclave/service/protocol/identifiers.h"
#include "format.h"
#include "tree.h"

namespace conclave::admin {
namespace {

std::string Timestamp(int64_t ms) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

absl::StatusOr<Reply> CachedKeys(service::Homeserver& hs, const std::string& server,
                                 std::string intro) {
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<service::ServerKeyRecord> keys,
                            hs.remote_keys().Cached(server));
  if (keys.empty()) return Reply(core::StrCat("No cached keys of ", server));
  std::vector<std::vector<std::string>> rows;
  for (const service::ServerKeyRecord& key : keys) {
    rows.push_back({key.key_id, key.key,
                    key.expired_ts ? core::StrCat("old, expired ", Timestamp(*key.expired_ts))
                                   : core::StrCat("valid until ", Timestamp(key.valid_until_ts)),
                    Timestamp(key.fetched_ts)});
  }
  Reply reply(std::move(intro));
  reply.Table({"key id", "public key", "validity", "fetched"}, std::move(rows));
  return reply;
}

absl::StatusOr<Reply> Keys(Context& context, const std::string& server, bool cached_only) {
  CONCLAVE_ASSIGN_OR_RETURN(service::Homeserver * hs, context.homeserver());
  if (!service::IsValidServerName(server)) {
    return absl::InvalidArgumentError(core::StrCat(server, " is not a server name"));
  }
  if (server == hs->server_name()) {
    return absl::InvalidArgumentError(
        core::StrCat(server, " is this server (GET /_matrix/key/v2/server publishes its key)"));
  }
  if (cached_only) return CachedKeys(*hs, server, core::StrCat("Cached keys of ", server, ":"));
  CONCLAVE_RETURN_IF_ERROR(hs->remote_keys().Fetch(server).status());
  return CachedKeys(*hs, server,
                    core::StrCat("Fetched the keys of ", server,
                                 " (self-signature verified); the cache now holds:"));
}

// Asks USER's server for USER's profile with a signed request (query.yaml), as this server.
absl::StatusOr<Reply> Profile(Context& context, const std::string& user_id) {
  CONCLAVE_ASSIGN_OR_RETURN(service::Homeserver * hs, context.homeserver());
  CONCLAVE_ASSIGN_OR_RETURN(service::UserId user, service::ParseUserId(user_id));
  if (user.server_name == hs->server_name()) {
    return absl::InvalidArgumentError(core::StrCat(user_id, " is a user of this server"));
  }
  const std::string uri =
      core::StrCat("/_matrix/federation/v1/query/profile?user_id=", core::PercentEncode(user_id));
  CONCLAVE_ASSIGN_OR_RETURN(
      boost::json::object profile,
      hs->federation_client().SendJson(user.server_name, "GET", uri, nullptr));
  Reply reply(core::StrCat("The profile of ", user_id, " from ", user.server_name, ":"));
  reply.Pre(boost::json::serialize(profile));
  return reply;
}

// The outbound transaction queue: per destination what waits, the backoff, the last success.
absl::StatusOr<Reply> Status(Context& context) {
  CONCLAVE_ASSIGN_OR_RETURN(service::Homeserver * hs, context.homeserver());
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<service::DestinationStatus> destinations,
                            hs->transaction_queue().Destinations());
  if (destinations.empty()) return Reply("No transactions sent or queued since the start");
  auto when = [](const std::optional<absl::Time>& t) {
    return t ? Timestamp(absl::ToUnixMillis(*t)) : std::string("never");
  };
  std::vector<std::vector<std::string>> rows;
  for (const service::DestinationStatus& d : destinations) {
    std::string backoff = "none";
    if (d.attempts > 0) {
      backoff = core::StrCat(d.attempts, " failed, next ",
                             d.next_attempt ? Timestamp(absl::ToUnixMillis(*d.next_attempt)) : "?",
                             ": ", d.last_error);
    }
    rows.push_back({d.destination, core::StrCat(d.queued_pdus), core::StrCat(d.queued_edus),
                    when(d.last_success), std::move(backoff)});
  }
  Reply reply(core::StrCat("Outbound federation, ", destinations.size(), " destinations:"));
  reply.Table({"destination", "queued PDUs", "queued EDUs", "last success", "backoff"},
              std::move(rows));
  return reply;
}

}  // namespace

void AddFederationCommands(CommandTree& tree) {
  Group group = tree.AddGroup(
      "federation", "Other servers: their keys, queries to them, the transactions to them");
  tree.AddCommand(group, "status",
                  "Show the outbound transaction queue per destination: queued PDUs and EDUs, "
                  "last success, backoff",
                  [](Context& context) { return Status(context); });
  auto* server = tree.Make<std::string>();
  auto* cached = tree.Make<bool>();
  tree.AddCommand(group, "keys",
                  "Fetch SERVER's signing keys from it now (GET /_matrix/key/v2/server, "
                  "self-signature checked) and show the cached keys",
                  [server, cached](Context& context) { return Keys(context, *server, *cached); })
      .Flag("--cached", cached, "Only show the cache, fetch nothing")
      .Arg("SERVER", server, "A server name, e.g. matrix.org or 127.0.0.3:8448")
      .Required();
  auto* user = tree.Make<std::string>();
  tree.AddCommand(group, "query-profile",
                  "Ask USER's server for USER's profile (GET /_matrix/federation/v1/query/profile, "
                  "signed with this server's key)",
                  [user](Context& context) { return Profile(context, *user); })
      .Arg("USER", user, "A user id of another server, e.g. @bob:127.0.0.3:8448")
      .Required();
}

}  // namespace conclave::admin
