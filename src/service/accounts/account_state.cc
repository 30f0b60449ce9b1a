// Accounts: the per-user state beside the account itself — devices, profiles, filters, account
// data, presence and the user directory (accounts.h).
#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <utility>

#include "absl/time/time.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/accounts/accounts.h"
#include "conclave/service/protocol/clock.h"
#include "conclave/service/protocol/crypto.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/filter.h"
#include "conclave/service/protocol/identifiers.h"
#include "conclave/service/storage/schema.h"
#include "conclave/service/storage/stored_json.h"
#include "records.h"

namespace conclave::service {
namespace {

using boost::json::object;
using namespace accounts_internal;  // NOLINT: this folder's record readers (records.h)
using schema::AccountDataKey;
using schema::DeviceKey;
using schema::FilterKey;
using schema::UserPrefix;

// How often repeating the same presence rewrites last_active_ts.
constexpr absl::Duration kPresenceRefresh = absl::Minutes(1);

void SetOrErase(object& o, std::string_view key, const std::optional<std::string>& value) {
  if (value) {
    o[key] = *value;
  } else {
    o.erase(key);
  }
}

Device DeviceFromRecord(std::string device_id, const object& record) {
  Device device;
  device.device_id = std::move(device_id);
  device.display_name = OptionalStringField(record, "display_name");
  device.last_seen_ip = OptionalStringField(record, "last_seen_ip");
  device.last_seen_ts = IntField(record, "last_seen_ts");
  return device;
}

bool IsValidPresence(std::string_view presence) {
  return presence == "online" || presence == "offline" || presence == "unavailable";
}

}  // namespace

// --- devices -----------------------------------------------------------------------------------

absl::StatusOr<std::vector<Device>> Accounts::ListDevices(std::string_view user_id) const {
  std::vector<Device> devices;
  CONCLAVE_RETURN_IF_ERROR(
      ForEachRecord(*store_.db, *store_.devices, UserPrefix(user_id), 2, "device",
                    [&](std::vector<std::string>& key, object& record) {
                      devices.push_back(DeviceFromRecord(std::move(key[1]), record));
                      return true;
                    }));
  return devices;
}

absl::StatusOr<Device> Accounts::GetDevice(std::string_view user_id,
                                           std::string_view device_id) const {
  CONCLAVE_ASSIGN_OR_RETURN(auto value,
                            store_.Find(*store_.devices, DeviceKey(user_id, device_id)));
  if (!value) return NotFound("Unknown device");
  CONCLAVE_ASSIGN_OR_RETURN(object record, ParseStored(*value, "device"));
  return DeviceFromRecord(std::string(device_id), record);
}

absl::Status Accounts::UpdateDevice(std::string_view user_id, std::string_view device_id,
                                    std::optional<std::string> display_name) {
  std::lock_guard lock(accounts_mu_);
  std::string key = DeviceKey(user_id, device_id);
  CONCLAVE_ASSIGN_OR_RETURN(auto value, store_.Find(*store_.devices, key));
  if (!value) return NotFound("Unknown device");
  if (!display_name) return absl::OkStatus();
  CONCLAVE_ASSIGN_OR_RETURN(object record, ParseStored(*value, "device"));
  record["display_name"] = *display_name;
  return store_.db->Put(*store_.devices, key, boost::json::serialize(record));
}

absl::Status Accounts::DeleteDevice(std::string_view user_id, std::string_view device_id) {
  std::vector<std::string> dropped;
  {
    std::lock_guard lock(accounts_mu_);
    std::string key = DeviceKey(user_id, device_id);
    CONCLAVE_ASSIGN_OR_RETURN(auto value, store_.Find(*store_.devices, key));
    if (!value) return absl::OkStatus();
    database::WriteBatch batch;
    batch.Delete(*store_.devices, key);
    if (auto record = ParseStored(*value, "device"); record.ok()) {
      DropDeviceTokens(*record, batch, dropped);
    }
    CONCLAVE_RETURN_IF_ERROR(WriteRemoval(user_id, {std::string(device_id)}, batch));
  }
  ForgetTokens(dropped);
  return absl::OkStatus();
}

// --- profiles ----------------------------------------------------------------------------------

absl::StatusOr<Profile> Accounts::GetProfile(std::string_view user_id) const {
  CONCLAVE_ASSIGN_OR_RETURN(auto record, ReadUser(user_id));
  if (!record) return NotFound("Profile not found");
  return Profile{OptionalStringField(*record, "displayname"),
                 OptionalStringField(*record, "avatar_url")};
}

absl::Status Accounts::SetDisplayName(std::string_view user_id, std::optional<std::string> name) {
  std::lock_guard lock(accounts_mu_);
  CONCLAVE_ASSIGN_OR_RETURN(auto record, ReadUser(user_id));
  if (!record) return NotFound("Profile not found");
  SetOrErase(*record, "displayname", name);
  return store_.db->Put(*store_.users, user_id, boost::json::serialize(*record));
}

absl::Status Accounts::SetAvatarUrl(std::string_view user_id, std::optional<std::string> url) {
  std::lock_guard lock(accounts_mu_);
  CONCLAVE_ASSIGN_OR_RETURN(auto record, ReadUser(user_id));
  if (!record) return NotFound("Profile not found");
  SetOrErase(*record, "avatar_url", url);
  return store_.db->Put(*store_.users, user_id, boost::json::serialize(*record));
}

// --- filters -----------------------------------------------------------------------------------

absl::StatusOr<std::string> Accounts::CreateFilter(std::string_view user_id, const object& filter) {
  CONCLAVE_RETURN_IF_ERROR(ParseFilter(boost::json::value(filter)).status());
  std::string text = boost::json::serialize(filter);
  // The id is a digest of the filter, so a client uploading the same filter at every start (as
  // most do) gets the same id back instead of a new entry. 96 bits of SHA-256, URL-safe base64:
  // never starts with '{', which /sync reads as an inline filter (filter.yaml).
  std::string filter_id = UnpaddedBase64Url(Sha256(text).substr(0, 12));
  CONCLAVE_RETURN_IF_ERROR(store_.db->Put(*store_.filters, FilterKey(user_id, filter_id), text));
  return filter_id;
}

absl::StatusOr<object> Accounts::GetFilter(std::string_view user_id,
                                           std::string_view filter_id) const {
  CONCLAVE_ASSIGN_OR_RETURN(auto value,
                            store_.Find(*store_.filters, FilterKey(user_id, filter_id)));
  if (!value) return NotFound("Unknown filter");
  return ParseStored(*value, "filter");
}

// --- account data ------------------------------------------------------------------------------

absl::Status Accounts::WriteAccountData(std::string_view user_id, std::string_view room_id,
                                        std::string_view type, const object& content) {
  std::string key = AccountDataKey(user_id, room_id, type);
  database::WriteBatch batch;
  CONCLAVE_RETURN_IF_ERROR(stream_
                               .Commit(batch,
                                       [&](uint64_t position, database::WriteBatch& b) {
                                         object entry{{"pos", position}, {"content", content}};
                                         b.Put(*store_.account_data, key,
                                               boost::json::serialize(entry));
                                       })
                               .status());
  server_.notifier().Notify(user_id);
  return absl::OkStatus();
}

absl::Status Accounts::SetAccountData(std::string_view user_id, std::string_view room_id,
                                      std::string_view type, const object& content) {
  if (room_id.empty() && type == kIgnoredUserListType) {
    CONCLAVE_RETURN_IF_ERROR(ValidateIgnoredUserList(content));
  }
  std::lock_guard lock(account_data_mu_);
  return WriteAccountData(user_id, room_id, type, content);
}

absl::Status Accounts::UpdateAccountData(std::string_view user_id, std::string_view room_id,
                                         std::string_view type,
                                         absl::FunctionRef<absl::Status(object&)> update) {
  std::lock_guard lock(account_data_mu_);
  CONCLAVE_ASSIGN_OR_RETURN(auto current, GetAccountData(user_id, room_id, type));
  object content = current ? *std::move(current) : object();
  CONCLAVE_RETURN_IF_ERROR(update(content));
  return WriteAccountData(user_id, room_id, type, content);
}

absl::StatusOr<std::optional<object>> Accounts::GetAccountData(std::string_view user_id,
                                                               std::string_view room_id,
                                                               std::string_view type) const {
  CONCLAVE_ASSIGN_OR_RETURN(
      auto value, store_.Find(*store_.account_data, AccountDataKey(user_id, room_id, type)));
  if (!value) return std::optional<object>();
  CONCLAVE_ASSIGN_OR_RETURN(object entry, ParseStored(*value, "account data"));
  const boost::json::value* content = entry.if_contains("content");
  if (content == nullptr || !content->is_object()) {
    return absl::DataLossError("account data record without content");
  }
  return std::optional<object>(content->get_object());
}

absl::StatusOr<std::vector<AccountDataEntry>> Accounts::AccountDataSince(std::string_view user_id,
                                                                         uint64_t since) const {
  std::vector<AccountDataEntry> entries;
  CONCLAVE_RETURN_IF_ERROR(ForEachRecord(
      *store_.db, *store_.account_data, UserPrefix(user_id), 3, "account data",
      [&](std::vector<std::string>& key, object& entry) {
        uint64_t position = PositionField(entry);
        if (position <= since) return true;
        const boost::json::value* content = entry.if_contains("content");
        entries.push_back(AccountDataEntry{
            std::move(key[1]), std::move(key[2]),
            content != nullptr && content->is_object() ? content->get_object() : object(),
            position});
        return true;
      }));
  std::sort(
      entries.begin(), entries.end(),
      [](const AccountDataEntry& a, const AccountDataEntry& b) { return a.position < b.position; });
  return entries;
}

// --- presence ----------------------------------------------------------------------------------

absl::Status Accounts::SetPresence(std::string_view user_id, std::string_view presence,
                                   std::optional<std::string> status_msg) {
  if (!IsValidPresence(presence)) {
    return InvalidParam("presence must be one of online, offline, unavailable");
  }
  {
    std::lock_guard lock(presence_mu_);
    const int64_t now = NowMs();
    CONCLAVE_ASSIGN_OR_RETURN(auto value, store_.Find(*store_.presence, user_id));
    if (value) {
      CONCLAVE_ASSIGN_OR_RETURN(object current, ParseStored(*value, "presence"));
      if (OptionalStringField(current, "presence") == presence &&
          OptionalStringField(current, "status_msg") == status_msg) {
        if (now - IntField(current, "last_active_ts").value_or(0) <
            absl::ToInt64Milliseconds(kPresenceRefresh)) {
          return absl::OkStatus();
        }
        current["last_active_ts"] = now;
        return store_.db->Put(*store_.presence, user_id, boost::json::serialize(current));
      }
    }
    database::WriteBatch batch;
    CONCLAVE_RETURN_IF_ERROR(
        stream_
            .Commit(
                batch,
                [&](uint64_t position, database::WriteBatch& b) {
                  object record{{"pos", position}, {"presence", presence}, {"last_active_ts", now}};
                  if (status_msg) record["status_msg"] = *status_msg;
                  b.Put(*store_.presence, user_id, boost::json::serialize(record));
                })
            .status());
  }
  server_.notifier().Notify(user_id);
  PresenceHook hook;
  {
    std::lock_guard lock(hook_mu_);
    hook = presence_hook_;
  }
  if (hook) hook(user_id);
  return absl::OkStatus();
}

absl::StatusOr<PresenceState> Accounts::GetPresence(std::string_view user_id) const {
  PresenceState state;
  state.user_id = std::string(user_id);
  CONCLAVE_ASSIGN_OR_RETURN(auto value, store_.Find(*store_.presence, user_id));
  if (!value) {
    if (!UserExists(user_id)) return NotFound("Unknown user");
    state.presence = "offline";
    return state;
  }
  CONCLAVE_ASSIGN_OR_RETURN(object record, ParseStored(*value, "presence"));
  state.presence = OptionalStringField(record, "presence").value_or("offline");
  state.status_msg = OptionalStringField(record, "status_msg");
  state.last_active_ts = IntField(record, "last_active_ts").value_or(0);
  state.position = PositionField(record);
  return state;
}

// --- user directory ----------------------------------------------------------------------------

absl::StatusOr<std::vector<DirectoryUser>> Accounts::SearchUsers(std::string_view term,
                                                                 size_t limit,
                                                                 bool* limited) const {
  const std::string needle = AsciiLower(term);
  struct Match {
    int rank;  // 0: localpart or display name equals the term, 1: starts with it, 2: contains it
    DirectoryUser user;
  };
  std::vector<Match> matches;
  CONCLAVE_RETURN_IF_ERROR(ForEachRecord(
      *store_.db, *store_.users, "", 0, "user", [&](std::vector<std::string>& key, object& record) {
        if (BoolField(record, "deactivated")) return true;
        std::optional<std::string> name = OptionalStringField(record, "displayname");
        const std::string id = AsciiLower(key[0]);
        const std::string localpart = id.substr(1, id.find(':') - 1);
        const std::string display = name ? AsciiLower(*name) : std::string();
        int rank = 3;
        if (localpart == needle || (name && display == needle)) {
          rank = 0;
        } else if (localpart.starts_with(needle) || (name && display.starts_with(needle))) {
          rank = 1;
        } else if (id.find(needle) != std::string::npos ||
                   (name && display.find(needle) != std::string::npos)) {
          rank = 2;
        }
        if (rank == 3) return true;
        matches.push_back(Match{rank, DirectoryUser{std::move(key[0]), name,
                                                    OptionalStringField(record, "avatar_url")}});
        return true;
      }));
  // users.yaml: "Ordered by rank and then whether or not profile info is available".
  std::stable_sort(matches.begin(), matches.end(), [](const Match& a, const Match& b) {
    if (a.rank != b.rank) return a.rank < b.rank;
    return a.user.display_name.has_value() && !b.user.display_name.has_value();
  });
  if (limited != nullptr) *limited = matches.size() > limit;
  std::vector<DirectoryUser> users;
  for (size_t i = 0; i < matches.size() && i < limit; ++i) {
    users.push_back(std::move(matches[i].user));
  }
  return users;
}

}  // namespace conclave::service
