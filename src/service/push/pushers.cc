#include "conclave/service/push/pushers.h"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <utility>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/storage/schema.h"
#include "conclave/service/storage/stored_json.h"

namespace conclave::service {
namespace {

using boost::json::object;
using boost::json::value;

constexpr size_t kMaxPushkeyBytes = 512;
constexpr size_t kMaxAppIdChars = 64;

// A required string field: M_MISSING_PARAM when absent, M_INVALID_PARAM when not a string.
absl::StatusOr<std::string> RequiredString(const object& body, std::string_view key) {
  const value* v = body.if_contains(key);
  if (v == nullptr) return MissingParam(core::StrCat("Missing parameter: ", key));
  if (!v->is_string()) return InvalidParam(core::StrCat("'", key, "' must be a string"));
  return std::string(v->get_string());
}

size_t Utf8Chars(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// The fields of an http pusher as stored and shown, checked.
absl::StatusOr<object> HttpPusher(const object& body, std::string_view pushkey,
                                  std::string_view app_id) {
  object pusher{{"pushkey", pushkey}, {"kind", "http"}, {"app_id", app_id}};
  for (std::string_view key : {"app_display_name", "device_display_name", "lang"}) {
    CONCLAVE_ASSIGN_OR_RETURN(pusher[key], RequiredString(body, key));
  }
  if (const value* tag = body.if_contains("profile_tag"); tag != nullptr) {
    if (!tag->is_string()) return InvalidParam("'profile_tag' must be a string");
    pusher["profile_tag"] = *tag;
  }
  const value* data = body.if_contains("data");
  if (data == nullptr) return MissingParam("Missing parameter: data");
  if (!data->is_object()) return InvalidParam("'data' must be an object");
  CONCLAVE_ASSIGN_OR_RETURN(std::string url, RequiredString(data->get_object(), "url"));
  CONCLAVE_RETURN_IF_ERROR(CheckPushGatewayUrl(url));
  if (const value* format = data->get_object().if_contains("format");
      format != nullptr && !(format->is_string() && format->get_string() == "event_id_only")) {
    return InvalidParam("'data.format' must be \"event_id_only\" when present");
  }
  pusher["data"] = *data;
  return pusher;
}

}  // namespace

absl::Status CheckPushGatewayUrl(std::string_view url) {
  std::string_view rest;
  for (std::string_view scheme : {"http://", "https://"}) {
    if (url.substr(0, scheme.size()) == scheme) rest = url.substr(scheme.size());
  }
  const size_t slash = rest.find('/');
  if (rest.empty() || slash == 0 || slash == std::string_view::npos) {
    return InvalidParam("'data.url' must be an http or https URL");
  }
  std::string_view path = rest.substr(slash);
  path = path.substr(0, path.find('?'));
  if (path != kPushGatewayPath) {
    return InvalidParam(core::StrCat("'data.url' must have the path ", kPushGatewayPath));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Pushers>> Pushers::Open(Store& store) {
  std::unique_ptr<Pushers> pushers(new Pushers(store));
  CONCLAVE_ASSIGN_OR_RETURN(pushers->pushers_, store.db->OpenMap(schema::kPushersMap));
  return pushers;
}

absl::StatusOr<std::vector<object>> Pushers::List(std::string_view user_id) const {
  std::vector<object> out;
  CONCLAVE_RETURN_IF_ERROR(ForEachRecord(*store_.db, *pushers_, schema::UserPrefix(user_id), 3,
                                         "pusher", [&](std::vector<std::string>&, object& pusher) {
                                           pusher.erase("device_id");
                                           pusher.erase("pushkey_ts");
                                           out.push_back(std::move(pusher));
                                           return true;
                                         }));
  return out;
}

absl::Status Pushers::Set(std::string_view user_id, std::string_view device_id,
                          const object& body) {
  CONCLAVE_ASSIGN_OR_RETURN(std::string pushkey, RequiredString(body, "pushkey"));
  CONCLAVE_ASSIGN_OR_RETURN(std::string app_id, RequiredString(body, "app_id"));
  if (pushkey.size() > kMaxPushkeyBytes) return InvalidParam("'pushkey' is over 512 bytes");
  if (Utf8Chars(app_id) > kMaxAppIdChars) return InvalidParam("'app_id' is over 64 characters");
  const value* kind = body.if_contains("kind");
  if (kind == nullptr) return MissingParam("Missing parameter: kind");
  const std::string key = schema::PusherKey(user_id, app_id, pushkey);
  database::WriteBatch batch;
  std::lock_guard lock(mu_);
  if (kind->is_null()) {
    batch.Delete(*pushers_, key);
    return store_.db->Write(batch);
  }
  if (!kind->is_string()) return InvalidParam("'kind' must be a string or null");
  if (kind->get_string() != "http") {
    return InvalidParam(core::StrCat("Pushers of kind '", std::string_view(kind->get_string()),
                                     "' are not supported; only 'http'"));
  }
  const value* append = body.if_contains("append");
  if (append != nullptr && !append->is_bool()) return InvalidParam("'append' must be a boolean");
  CONCLAVE_ASSIGN_OR_RETURN(object pusher, HttpPusher(body, pushkey, app_id));
  if (append == nullptr || !append->get_bool()) {
    // pusher.yaml, append: "If false, the homeserver MUST delete any other pushers with the same
    // App ID and pushkey for different users." Pushers are few; a scan finds them.
    CONCLAVE_RETURN_IF_ERROR(ForEachRecord(
        *store_.db, *pushers_, "", 3, "pusher", [&](std::vector<std::string>& k, object&) {
          if (k[0] != user_id && k[1] == app_id && k[2] == pushkey) {
            batch.Delete(*pushers_, schema::PusherKey(k[0], k[1], k[2]));
          }
          return true;
        }));
  }
  pusher["device_id"] = device_id;
  // Push Gateway API, devices[].pushkey_ts: "when the pushkey was last updated", in seconds.
  pusher["pushkey_ts"] = absl::ToUnixSeconds(absl::Now());
  batch.Put(*pushers_, key, boost::json::serialize(pusher));
  return store_.db->Write(batch);
}

absl::StatusOr<std::vector<Pushers::Id>> Pushers::Ids(std::string_view user_id) const {
  std::vector<Id> out;
  CONCLAVE_RETURN_IF_ERROR(ForEachRecord(*store_.db, *pushers_, schema::UserPrefix(user_id), 3,
                                         "pusher", [&](std::vector<std::string>& k, object&) {
                                           out.push_back({std::move(k[1]), std::move(k[2])});
                                           return true;
                                         }));
  return out;
}

absl::StatusOr<std::optional<object>> Pushers::Get(std::string_view user_id,
                                                   std::string_view app_id,
                                                   std::string_view pushkey) const {
  CONCLAVE_ASSIGN_OR_RETURN(auto stored,
                            store_.Find(*pushers_, schema::PusherKey(user_id, app_id, pushkey)));
  if (!stored) return std::nullopt;
  CONCLAVE_ASSIGN_OR_RETURN(object pusher, ParseStored(*stored, "pusher"));
  return pusher;
}

absl::Status Pushers::Remove(std::string_view user_id, std::string_view app_id,
                             std::string_view pushkey) {
  std::lock_guard lock(mu_);
  return store_.db->Delete(*pushers_, schema::PusherKey(user_id, app_id, pushkey));
}

absl::Status Pushers::AddRemovals(std::string_view user_id,
                                  const std::vector<std::string>& device_ids, bool deactivating,
                                  database::WriteBatch& batch) const {
  return ForEachRecord(*store_.db, *pushers_, schema::UserPrefix(user_id), 3, "pusher",
                       [&](std::vector<std::string>& k, object& pusher) {
                         const std::string_view device = StringField(pusher, "device_id");
                         if (deactivating || std::find(device_ids.begin(), device_ids.end(),
                                                       device) != device_ids.end()) {
                           batch.Delete(*pushers_, schema::PusherKey(k[0], k[1], k[2]));
                         }
                         return true;
                       });
}

}  // namespace conclave::service
