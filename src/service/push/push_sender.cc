// PushSender: the Push Gateway requests of the push_queue (push_sender.h).
#include "conclave/service/push/push_sender.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <utility>
#include <vector>

#include "conclave/core/log.h"
#include "conclave/core/status_macros.h"
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

// One queued entry as read from the map.
struct QueuedEntry {
  std::string user_id;
  std::string app_id;
  std::string pushkey;
  uint64_t position = 0;
  object entry;
};

bool SamePusher(const QueuedEntry& a, const QueuedEntry& b) {
  return a.user_id == b.user_id && a.app_id == b.app_id && a.pushkey == b.pushkey;
}

// Copies `key` from `from` to `to` when present.
void CopyField(const object& from, std::string_view key, object& to) {
  if (const value* v = from.if_contains(key); v != nullptr) to[key] = *v;
}

}  // namespace

object PushNotifyBody(const object& entry, const object* event, const object& pusher,
                      std::string_view user_id, int64_t unread) {
  object data;
  if (const value* d = pusher.if_contains("data"); d != nullptr && d->is_object()) {
    data = d->get_object();
  }
  // push_notifier.yaml, devices[].data: "the data dictionary passed in at pusher creation minus
  // the url key".
  data.erase("url");
  const bool event_id_only = StringField(data, "format") == "event_id_only";
  object device{{"app_id", StringField(pusher, "app_id")},
                {"pushkey", StringField(pusher, "pushkey")}};
  CopyField(pusher, "pushkey_ts", device);
  device["data"] = std::move(data);
  if (const value* tweaks = entry.if_contains("tweaks"); tweaks != nullptr && tweaks->is_object()) {
    device["tweaks"] = *tweaks;
  } else {
    device["tweaks"] = object();
  }

  object notification{{"event_id", StringField(entry, "event_id")},
                      {"room_id", StringField(entry, "room_id")}};
  if (!event_id_only && event != nullptr) {
    CopyField(*event, "type", notification);
    CopyField(*event, "sender", notification);
    for (std::string_view key : {"sender_display_name", "room_name", "room_alias"}) {
      CopyField(entry, key, notification);
    }
    if (StringField(*event, "type") == "m.room.member") {
      notification["user_is_target"] = StringField(*event, "state_key") == user_id;
    }
    // "The pusher may omit this if the event had no content": a redacted event's is empty.
    if (const value* content = event->if_contains("content");
        content != nullptr && content->is_object() && !content->get_object().empty()) {
      notification["content"] = *content;
    }
  }
  notification["prio"] = StringField(entry, "prio") == "low" ? "low" : "high";
  object counts;
  // "Counts whose value is zero should be omitted."
  if (unread > 0) counts["unread"] = unread;
  notification["counts"] = std::move(counts);
  notification["devices"] = boost::json::array{std::move(device)};
  return object{{"notification", std::move(notification)}};
}

absl::Duration PushRetryDelay(int attempts, const PushGatewayOptions& options) {
  absl::Duration delay = options.retry_initial;
  for (int i = 1; i < attempts && delay < options.retry_max; ++i) delay *= 2;
  return std::min(delay, options.retry_max);
}

absl::StatusOr<std::unique_ptr<PushSender>> PushSender::Open(Deps deps) {
  std::unique_ptr<PushSender> sender(new PushSender(std::move(deps)));
  CONCLAVE_ASSIGN_OR_RETURN(sender->queue_, sender->deps_.store.db->OpenMap(schema::kPushQueueMap));
  return sender;
}

PushSender::~PushSender() { Stop(); }

absl::Status PushSender::Start() {
  return worker_.Start("push sender", [this] { Run(); });
}

void PushSender::Stop() { worker_.Stop(); }

void PushSender::Wake() { worker_.Wake(); }

void PushSender::Run() {
  while (true) {
    absl::Duration wait = kIdlePoll;
    if (absl::StatusOr<PassResult> pass = RunPass(); !pass.ok()) {
      CONCLAVE_LOG(kError, "push", "push pass failed: {}", pass.status().message());
    } else if (pass->next_due) {
      wait = std::clamp(*pass->next_due - deps_.clock(), absl::ZeroDuration(), kIdlePoll);
    }
    if (!worker_.Wait(wait + absl::Milliseconds(1))) return;
  }
}

PushSender::Outcome PushSender::Send(const std::string& user_id, const object& pusher,
                                     const object& entry, uint64_t position,
                                     const PushGatewayOptions& options) {
  const std::string room_id(StringField(entry, "room_id"));
  std::optional<object> event;
  if (auto stored = deps_.store.Find(*deps_.store.timeline, schema::TimelineKey(room_id, position));
      stored.ok() && *stored) {
    if (auto parsed = ParseStored(**stored, "event"); parsed.ok()) event = *std::move(parsed);
  }
  int64_t unread = 0;
  if (auto total = deps_.notifications.TotalUnread(user_id); total.ok()) unread = *total;
  const object body = PushNotifyBody(entry, event ? &*event : nullptr, pusher, user_id, unread);

  const value* data = pusher.if_contains("data");
  const std::string url(data != nullptr && data->is_object()
                            ? StringField(data->get_object(), "url")
                            : std::string_view());
  core::HttpClientRequest request{.method = "POST",
                                  .url = url,
                                  .headers = {{"Content-Type", "application/json"}},
                                  .body = boost::json::serialize(body)};
  core::HttpClientOptions client;
  client.timeout = options.timeout;
  client.max_response_bytes = 64 << 10;  // the answer is {"rejected": [...]}
  client.max_redirects = 0;              // the pusher's URL is the gateway
  client.allowed_ranges = options.allowed_ranges;
  absl::StatusOr<core::HttpClientResponse> response = deps_.fetch(request, client);
  if (!response.ok()) {
    CONCLAVE_LOG(kWarn, "push", "push to {} for {} failed: {}", url, user_id,
                 response.status().message());
    return Outcome::kFailed;
  }
  if (response->status < 200 || response->status > 299) {
    CONCLAVE_LOG(kWarn, "push", "push gateway {} answered {} for {}", url, response->status,
                 user_id);
    return Outcome::kFailed;
  }
  // push_notifier.yaml, 200: {"rejected": [pushkeys]}.
  boost::system::error_code ec;
  value answer = boost::json::parse(response->body, ec);
  if (!ec && answer.is_object()) {
    if (const value* rejected = answer.get_object().if_contains("rejected");
        rejected != nullptr && rejected->is_array()) {
      const std::string_view pushkey = StringField(pusher, "pushkey");
      for (const value& key : rejected->get_array()) {
        if (key.is_string() && key.get_string() == pushkey) return Outcome::kRejected;
      }
    }
  }
  return Outcome::kAccepted;
}

absl::StatusOr<PushSender::PassResult> PushSender::RunPass() {
  std::lock_guard pass(pass_mu_);
  const PushGatewayOptions options = deps_.options();
  PassResult result;
  std::vector<QueuedEntry> queued;
  absl::Status corrupt;
  CONCLAVE_RETURN_IF_ERROR(deps_.store.db->ForEachWithPrefix(
      *queue_, "", [&](std::string_view key, std::string_view text) {
        database::KeyReader reader(key);
        QueuedEntry e;
        auto user = reader.ReadString();
        auto app = reader.ReadString();
        auto pushkey = reader.ReadString();
        auto position = reader.ReadU64();
        auto parsed = ParseStored(text, "push queue entry");
        if (!user.ok() || !app.ok() || !pushkey.ok() || !position.ok() || !parsed.ok()) {
          corrupt = absl::DataLossError("corrupt push_queue entry");
          return false;
        }
        queued.push_back({*std::move(user), *std::move(app), *std::move(pushkey), *position,
                          *std::move(parsed)});
        return true;
      }));
  CONCLAVE_RETURN_IF_ERROR(corrupt);

  auto due_at = [&](absl::Time t) {
    if (!result.next_due || t < *result.next_due) result.next_due = t;
  };
  auto remove = [&](const QueuedEntry& e) {
    return deps_.store.db->Delete(*queue_,
                                  schema::PushQueueKey(e.user_id, e.app_id, e.pushkey, e.position));
  };
  for (size_t begin = 0; begin < queued.size();) {
    size_t end = begin + 1;
    while (end < queued.size() && SamePusher(queued[begin], queued[end])) ++end;
    const QueuedEntry& first = queued[begin];
    CONCLAVE_ASSIGN_OR_RETURN(auto pusher,
                              deps_.pushers.Get(first.user_id, first.app_id, first.pushkey));
    for (size_t i = begin; i < end; ++i) {
      QueuedEntry& e = queued[i];
      if (!pusher) {  // removed since: nothing to send to
        CONCLAVE_RETURN_IF_ERROR(remove(e));
        ++result.dropped;
        continue;
      }
      const absl::Time due = absl::FromUnixMillis(IntField(e.entry, "next_attempt_ts").value_or(0));
      const absl::Time now = deps_.clock();
      if (due > now || worker_.stopping()) {
        due_at(due);
        break;  // the pusher's later entries wait behind this one
      }
      const Outcome outcome = Send(e.user_id, *pusher, e.entry, e.position, options);
      if (outcome == Outcome::kAccepted) {
        CONCLAVE_RETURN_IF_ERROR(remove(e));
        ++result.sent;
        continue;
      }
      if (outcome == Outcome::kRejected) {
        CONCLAVE_LOG(kInfo, "push", "gateway rejected a pushkey of {} (app {}): pusher removed",
                     e.user_id, e.app_id);
        CONCLAVE_RETURN_IF_ERROR(deps_.pushers.Remove(e.user_id, e.app_id, e.pushkey));
        for (size_t j = i; j < end; ++j) CONCLAVE_RETURN_IF_ERROR(remove(queued[j]));
        result.dropped += static_cast<int>(end - i);
        break;
      }
      ++result.failed;
      const int attempts = static_cast<int>(IntField(e.entry, "attempts").value_or(0)) + 1;
      if (attempts >= options.retry_attempts) {
        CONCLAVE_LOG(kWarn, "push", "dropping the push of {} to {} after {} attempts",
                     StringField(e.entry, "event_id"), e.user_id, attempts);
        CONCLAVE_RETURN_IF_ERROR(remove(e));
        ++result.dropped;
        continue;
      }
      const absl::Time next = deps_.clock() + PushRetryDelay(attempts, options);
      e.entry["attempts"] = attempts;
      e.entry["next_attempt_ts"] = absl::ToUnixMillis(next);
      CONCLAVE_RETURN_IF_ERROR(deps_.store.db->Put(
          *queue_, schema::PushQueueKey(e.user_id, e.app_id, e.pushkey, e.position),
          boost::json::serialize(e.entry)));
      due_at(next);
      break;
    }
    begin = end;
  }
  return result;
}

}  // namespace conclave::service
