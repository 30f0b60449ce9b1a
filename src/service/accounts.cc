#include "conclave/service/accounts.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <utility>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "conclave/core/log.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/database/key.h"
#include "conclave/service/admin_room.h"
#include "conclave/service/crypto.h"
#include "conclave/service/errors.h"
#include "conclave/service/filter.h"
#include "conclave/service/identifiers.h"
#include "conclave/service/password.h"
#include "stored_json.h"

namespace conclave::service {
namespace {

using boost::json::object;

// One message for an unknown user and a wrong password, so a login does not reveal which.
constexpr std::string_view kBadLogin = "Invalid username or password";
// How often repeating the same presence rewrites last_active_ts.
constexpr absl::Duration kPresenceRefresh = absl::Minutes(1);
// Random localparts for registrations without a username: 12 of [a-z0-9], about 62 bits.
constexpr std::string_view kLocalpartAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
constexpr size_t kRandomLocalpartLength = 12;
// Device ids are opaque to the spec; this bound keeps keys and /sync bodies sane.
constexpr size_t kMaxDeviceIdBytes = 255;

int64_t NowMs() { return absl::ToUnixMillis(absl::Now()); }

std::optional<std::string> StringField(const object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string(v->get_string());
}

bool BoolField(const object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  return v != nullptr && v->is_bool() && v->get_bool();
}

void SetOrErase(object& o, std::string_view key, const std::optional<std::string>& value) {
  if (value) {
    o[key] = *value;
  } else {
    o.erase(key);
  }
}

std::string DeviceKey(std::string_view user_id, std::string_view device_id) {
  return database::KeyBuilder().AppendString(user_id).AppendString(device_id).Build();
}

std::string UserPrefix(std::string_view user_id) {
  return database::KeyBuilder().AppendString(user_id).Build();
}

std::string AccountDataKey(std::string_view user_id, std::string_view room_id,
                           std::string_view type) {
  return database::KeyBuilder()
      .AppendString(user_id)
      .AppendString(room_id)
      .AppendString(type)
      .Build();
}

Device DeviceFromRecord(std::string device_id, const object& record) {
  Device device;
  device.device_id = std::move(device_id);
  device.display_name = StringField(record, "display_name");
  device.last_seen_ip = StringField(record, "last_seen_ip");
  device.last_seen_ts = IntField(record, "last_seen_ts");
  return device;
}

// The raw token digest a device record holds (base64 in the JSON), if any.
std::optional<std::string> TokenDigestOf(const object& device) {
  std::optional<std::string> encoded = StringField(device, "token_digest");
  if (!encoded) return std::nullopt;
  auto digest = DecodeUnpaddedBase64(*encoded);
  if (!digest.ok()) return std::nullopt;
  return *std::move(digest);
}

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool IsValidPresence(std::string_view presence) {
  return presence == "online" || presence == "offline" || presence == "unavailable";
}

}  // namespace

Accounts::Accounts(Store& store, Stream& stream, core::Server& server,
                   const ServiceSettings& settings)
    : store_(store), stream_(stream), server_(server), settings_(settings) {}

// --- tokens ------------------------------------------------------------------------------------

absl::StatusOr<Session> Accounts::Authenticate(std::string_view access_token) {
  std::string digest = Sha256(access_token);
  uint64_t epoch = 0;
  {
    std::lock_guard lock(tokens_mu_);
    if (auto it = tokens_.find(digest); it != tokens_.end()) return it->second;
    epoch = token_epoch_;
  }
  CONCLAVE_ASSIGN_OR_RETURN(auto value, store_.Find(*store_.access_tokens, digest));
  if (!value) return UnknownToken("Unrecognised access token");
  CONCLAVE_ASSIGN_OR_RETURN(object record, ParseStored(*value, "access token"));
  Session session;
  session.user_id = StringField(record, "user_id").value_or("");
  session.device_id = StringField(record, "device_id").value_or("");
  if (session.user_id.empty()) return absl::DataLossError("access token record without user_id");
  std::lock_guard lock(tokens_mu_);
  if (token_epoch_ == epoch) tokens_.emplace(std::move(digest), session);
  return session;
}

void Accounts::ForgetTokens(const std::vector<std::string>& digests) {
  std::lock_guard lock(tokens_mu_);
  for (const std::string& digest : digests) tokens_.erase(digest);
  ++token_epoch_;
}

// --- registration and login --------------------------------------------------------------------

absl::StatusOr<std::optional<object>> Accounts::ReadUser(std::string_view user_id) const {
  CONCLAVE_ASSIGN_OR_RETURN(auto value, store_.Find(*store_.users, user_id));
  if (!value) return std::optional<object>();
  CONCLAVE_ASSIGN_OR_RETURN(object record, ParseStored(*value, "user"));
  return std::optional<object>(std::move(record));
}

absl::Status Accounts::CheckUsernameAvailable(std::string_view localpart) {
  CONCLAVE_RETURN_IF_ERROR(ValidateLocalpartForRegistration(localpart));
  std::string user_id = UserId{std::string(localpart), server_.config().server_name}.ToString();
  if (user_id.size() > kMaxIdentifierBytes) {
    return MatrixStatus(
        absl::StatusCode::kInvalidArgument, "M_INVALID_USERNAME",
        core::StrCat("User ID may not be longer than ", kMaxIdentifierBytes, " bytes"));
  }
  CONCLAVE_ASSIGN_OR_RETURN(auto existing, store_.Find(*store_.users, user_id));
  if (existing) {
    return MatrixStatus(absl::StatusCode::kAlreadyExists, "M_USER_IN_USE",
                        "Desired user ID is already taken");
  }
  return absl::OkStatus();
}

absl::StatusOr<LoginResult> Accounts::AddSession(std::string_view user_id,
                                                 std::optional<std::string> device_id,
                                                 std::optional<std::string> device_display_name,
                                                 std::string_view remote_ip,
                                                 database::WriteBatch& batch,
                                                 std::vector<std::string>& dropped) {
  if (device_id && (device_id->empty() || device_id->size() > kMaxDeviceIdBytes)) {
    return InvalidParam(core::StrCat("device_id must be 1 to ", kMaxDeviceIdBytes, " bytes"));
  }
  object device;
  if (device_id) {
    // Client-Server API "Relationship between access tokens and devices": logging in again with
    // a known device id replaces that device's token.
    CONCLAVE_ASSIGN_OR_RETURN(auto existing,
                              store_.Find(*store_.devices, DeviceKey(user_id, *device_id)));
    if (existing) {
      CONCLAVE_ASSIGN_OR_RETURN(device, ParseStored(*existing, "device"));
      if (auto old = TokenDigestOf(device)) {
        batch.Delete(*store_.access_tokens, *old);
        dropped.push_back(*std::move(old));
      }
    } else if (device_display_name) {
      device["display_name"] = *device_display_name;
    }
  } else {
    // A fresh id; a collision with an existing device (26^10 ids) would hand over its entry.
    for (;;) {
      device_id = NewDeviceId();
      CONCLAVE_ASSIGN_OR_RETURN(auto existing,
                                store_.Find(*store_.devices, DeviceKey(user_id, *device_id)));
      if (!existing) break;
    }
    if (device_display_name) device["display_name"] = *device_display_name;
  }
  LoginResult result;
  result.user_id = std::string(user_id);
  result.device_id = *device_id;
  result.access_token = NewAccessToken();
  std::string digest = Sha256(result.access_token);
  device["token_digest"] = UnpaddedBase64(digest);
  device["last_seen_ip"] = std::string(remote_ip);
  device["last_seen_ts"] = NowMs();
  batch.Put(*store_.devices, DeviceKey(user_id, result.device_id), boost::json::serialize(device));
  object token{{"user_id", result.user_id}, {"device_id", result.device_id}};
  batch.Put(*store_.access_tokens, digest, boost::json::serialize(token));
  return result;
}

absl::Status Accounts::DropDevices(std::string_view user_id, std::string_view keep_device,
                                   database::WriteBatch& batch, std::vector<std::string>& dropped) {
  absl::Status corrupt;
  CONCLAVE_RETURN_IF_ERROR(store_.db->ForEachWithPrefix(
      *store_.devices, UserPrefix(user_id), [&](std::string_view key, std::string_view value) {
        database::KeyReader reader(key);
        auto user = reader.ReadString();
        auto device_id = reader.ReadString();
        if (!user.ok() || !device_id.ok()) {
          corrupt = absl::DataLossError("corrupt device key");
          return false;
        }
        if (!keep_device.empty() && *device_id == keep_device) return true;
        batch.Delete(*store_.devices, key);
        if (auto device = ParseStored(value, "device"); device.ok()) {
          if (auto digest = TokenDigestOf(*device)) {
            batch.Delete(*store_.access_tokens, *digest);
            dropped.push_back(*std::move(digest));
          }
        }
        return true;
      }));
  return corrupt;
}

absl::StatusOr<LoginResult> Accounts::Register(std::string_view localpart,
                                               std::string_view password,
                                               std::optional<std::string> device_id,
                                               std::optional<std::string> device_display_name,
                                               bool inhibit_login, std::string_view remote_ip) {
  if (!settings_.Get().allow_registration) return Forbidden("Registration is disabled");
  if (!localpart.empty()) CONCLAVE_RETURN_IF_ERROR(CheckUsernameAvailable(localpart));
  // Hashing takes tens of milliseconds and 19 MiB: done before taking the lock.
  std::string password_hash;
  if (!password.empty()) {
    CONCLAVE_ASSIGN_OR_RETURN(password_hash, HashPassword(password));
  }
  const std::string& server_name = server_.config().server_name;
  database::WriteBatch batch;
  std::vector<std::string> dropped;
  LoginResult result;
  bool first_admin = false;
  {
    std::lock_guard lock(accounts_mu_);
    std::string user_id;
    if (localpart.empty()) {
      for (int attempt = 0;; ++attempt) {
        std::string candidate = RandomString(kRandomLocalpartLength, kLocalpartAlphabet);
        user_id = UserId{candidate, server_name}.ToString();
        CONCLAVE_ASSIGN_OR_RETURN(auto existing, store_.Find(*store_.users, user_id));
        if (!existing) break;
        if (attempt == 10) return absl::InternalError("no free random localpart");
      }
    } else {
      // Checked again under the lock: another registration may have taken it meanwhile.
      CONCLAVE_RETURN_IF_ERROR(CheckUsernameAvailable(localpart));
      user_id = UserId{std::string(localpart), server_name}.ToString();
    }
    // The first account besides the admin bot's becomes admin (DESIGN.md section 9).
    const std::string bot = BotUserId(server_name);
    bool first_user = true;
    CONCLAVE_RETURN_IF_ERROR(store_.db->ForEachWithPrefix(
        *store_.users, "", [&](std::string_view key, std::string_view) {
          first_user = key == bot;
          return first_user;
        }));
    object record{{"password_hash", password_hash},
                  {"deactivated", false},
                  {"admin", first_user},
                  {"created_ts", NowMs()}};
    batch.Put(*store_.users, user_id, boost::json::serialize(record));
    if (inhibit_login) {
      result.user_id = user_id;
    } else {
      CONCLAVE_ASSIGN_OR_RETURN(
          result, AddSession(user_id, std::move(device_id), std::move(device_display_name),
                             remote_ip, batch, dropped));
    }
    CONCLAVE_RETURN_IF_ERROR(store_.db->Write(batch));
    if (first_user) {
      CONCLAVE_LOG(kInfo, "accounts", "{} is the first user: made server admin", user_id);
    }
    first_admin = first_user;
  }
  ForgetTokens(dropped);
  if (first_admin) {
    std::function<void(const std::string&)> hook;
    {
      std::lock_guard lock(hook_mu_);
      hook = first_admin_hook_;
    }
    if (hook) hook(result.user_id);
  }
  return result;
}

absl::StatusOr<std::string> Accounts::ResolveUser(std::string_view user) const {
  const std::string& server_name = server_.config().server_name;
  std::string user_id = !user.empty() && user.front() == '@'
                            ? std::string(user)
                            : core::StrCat("@", user, ":", server_name);
  auto parsed = ParseUserId(user_id);
  if (!parsed.ok()) return InvalidParam(core::StrCat("Invalid user: ", parsed.status().message()));
  if (parsed->server_name != server_name) {
    return InvalidParam("The user is not on this homeserver");
  }
  // Registration maps user names to lower case; accept the capitalized name at login too.
  std::string lower = UserId{AsciiLower(parsed->localpart), server_name}.ToString();
  if (lower != user_id && !UserExists(user_id) && UserExists(lower)) return lower;
  return user_id;
}

absl::StatusOr<LoginResult> Accounts::LoginWithPassword(
    std::string_view user, std::string_view password, std::optional<std::string> device_id,
    std::optional<std::string> device_display_name, std::string_view remote_ip) {
  auto user_id = ResolveUser(user);
  if (!user_id.ok()) return Forbidden(kBadLogin);
  CONCLAVE_ASSIGN_OR_RETURN(auto record, ReadUser(*user_id));
  if (!record) return Forbidden(kBadLogin);
  if (!VerifyPassword(password, StringField(*record, "password_hash").value_or(""))) {
    return Forbidden(kBadLogin);
  }
  database::WriteBatch batch;
  std::vector<std::string> dropped;
  LoginResult result;
  {
    std::lock_guard lock(accounts_mu_);
    // Read again under the lock: a deactivation may have finished since the password check.
    CONCLAVE_ASSIGN_OR_RETURN(record, ReadUser(*user_id));
    if (!record) return Forbidden(kBadLogin);
    if (BoolField(*record, "deactivated")) {
      return MatrixStatus(absl::StatusCode::kPermissionDenied, "M_USER_DEACTIVATED",
                          "This account has been deactivated");
    }
    CONCLAVE_ASSIGN_OR_RETURN(
        result, AddSession(*user_id, std::move(device_id), std::move(device_display_name),
                           remote_ip, batch, dropped));
    CONCLAVE_RETURN_IF_ERROR(store_.db->Write(batch));
  }
  ForgetTokens(dropped);
  return result;
}

absl::Status Accounts::Logout(const Session& session) {
  return DeleteDevice(session.user_id, session.device_id);
}

absl::Status Accounts::LogoutAll(std::string_view user_id) {
  database::WriteBatch batch;
  std::vector<std::string> dropped;
  {
    std::lock_guard lock(accounts_mu_);
    CONCLAVE_RETURN_IF_ERROR(DropDevices(user_id, "", batch, dropped));
    CONCLAVE_RETURN_IF_ERROR(store_.db->Write(batch));
  }
  ForgetTokens(dropped);
  return absl::OkStatus();
}

absl::Status Accounts::CheckPassword(std::string_view user_id, std::string_view password) {
  CONCLAVE_ASSIGN_OR_RETURN(auto record, ReadUser(user_id));
  if (!record || !VerifyPassword(password, StringField(*record, "password_hash").value_or(""))) {
    return Forbidden("Invalid password");
  }
  return absl::OkStatus();
}

absl::Status Accounts::ChangePassword(std::string_view user_id, std::string_view new_password,
                                      bool logout_devices, std::string_view keep_device) {
  if (new_password.empty()) return InvalidParam("The new password must not be empty");
  CONCLAVE_ASSIGN_OR_RETURN(std::string hash, HashPassword(new_password));
  database::WriteBatch batch;
  std::vector<std::string> dropped;
  {
    std::lock_guard lock(accounts_mu_);
    CONCLAVE_ASSIGN_OR_RETURN(auto record, ReadUser(user_id));
    if (!record) return NotFound("Unknown user");
    if (BoolField(*record, "deactivated")) {
      return MatrixStatus(absl::StatusCode::kPermissionDenied, "M_USER_DEACTIVATED",
                          "This account has been deactivated");
    }
    (*record)["password_hash"] = hash;
    batch.Put(*store_.users, user_id, boost::json::serialize(*record));
    if (logout_devices) CONCLAVE_RETURN_IF_ERROR(DropDevices(user_id, keep_device, batch, dropped));
    CONCLAVE_RETURN_IF_ERROR(store_.db->Write(batch));
  }
  ForgetTokens(dropped);
  return absl::OkStatus();
}

absl::Status Accounts::Deactivate(std::string_view user_id) {
  database::WriteBatch batch;
  std::vector<std::string> dropped;
  {
    std::lock_guard lock(accounts_mu_);
    CONCLAVE_ASSIGN_OR_RETURN(auto record, ReadUser(user_id));
    if (!record) return NotFound("Unknown user");
    // The password hash stays, so a later login with the right password can be told
    // M_USER_DEACTIVATED rather than a plain M_FORBIDDEN.
    (*record)["deactivated"] = true;
    record->erase("displayname");
    record->erase("avatar_url");
    batch.Put(*store_.users, user_id, boost::json::serialize(*record));
    CONCLAVE_RETURN_IF_ERROR(DropDevices(user_id, "", batch, dropped));
    CONCLAVE_RETURN_IF_ERROR(store_.db->Write(batch));
  }
  ForgetTokens(dropped);
  return absl::OkStatus();
}

bool Accounts::UserExists(std::string_view user_id) const {
  auto value = store_.Find(*store_.users, user_id);
  return value.ok() && value->has_value();
}

bool Accounts::IsDeactivated(std::string_view user_id) const {
  auto record = ReadUser(user_id);
  return record.ok() && record->has_value() && BoolField(**record, "deactivated");
}

absl::StatusOr<std::vector<std::string>> Accounts::ListUsers() const {
  std::vector<std::string> users;
  CONCLAVE_RETURN_IF_ERROR(
      store_.db->ForEachWithPrefix(*store_.users, "", [&](std::string_view key, std::string_view) {
        users.emplace_back(key);
        return true;
      }));
  return users;
}

// --- administration ----------------------------------------------------------------------------

absl::StatusOr<std::string> Accounts::CreateUser(std::string_view localpart,
                                                 std::string_view password, bool admin) {
  CONCLAVE_RETURN_IF_ERROR(CheckUsernameAvailable(localpart));
  std::string password_hash;
  if (!password.empty()) {
    CONCLAVE_ASSIGN_OR_RETURN(password_hash, HashPassword(password));
  }
  std::string user_id = UserId{std::string(localpart), server_.config().server_name}.ToString();
  std::lock_guard lock(accounts_mu_);
  // Checked again under the lock: a registration may have taken the name meanwhile.
  CONCLAVE_RETURN_IF_ERROR(CheckUsernameAvailable(localpart));
  object record{{"password_hash", password_hash},
                {"deactivated", false},
                {"admin", admin},
                {"created_ts", NowMs()}};
  CONCLAVE_RETURN_IF_ERROR(store_.db->Put(*store_.users, user_id, boost::json::serialize(record)));
  return user_id;
}

bool Accounts::IsAdmin(std::string_view user_id) const {
  auto record = ReadUser(user_id);
  return record.ok() && record->has_value() && BoolField(**record, "admin") &&
         !BoolField(**record, "deactivated");
}

absl::Status Accounts::SetAdmin(std::string_view user_id, bool admin) {
  std::lock_guard lock(accounts_mu_);
  CONCLAVE_ASSIGN_OR_RETURN(auto record, ReadUser(user_id));
  if (!record) return NotFound(core::StrCat("Unknown user ", user_id));
  if (BoolField(*record, "admin") == admin) return absl::OkStatus();
  (*record)["admin"] = admin;
  return store_.db->Put(*store_.users, user_id, boost::json::serialize(*record));
}

absl::StatusOr<std::vector<std::string>> Accounts::ListAdmins() const {
  std::vector<std::string> admins;
  CONCLAVE_RETURN_IF_ERROR(ForEachRecord(
      *store_.db, *store_.users, "", 0, "user", [&](std::vector<std::string>& key, object& record) {
        if (BoolField(record, "admin") && !BoolField(record, "deactivated")) {
          admins.push_back(std::move(key[0]));
        }
        return true;
      }));
  return admins;
}

void Accounts::SetFirstAdminHook(std::function<void(const std::string& user_id)> hook) {
  std::lock_guard lock(hook_mu_);
  first_admin_hook_ = std::move(hook);
}

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
      if (auto digest = TokenDigestOf(*record)) {
        batch.Delete(*store_.access_tokens, *digest);
        dropped.push_back(*std::move(digest));
      }
    }
    CONCLAVE_RETURN_IF_ERROR(store_.db->Write(batch));
  }
  ForgetTokens(dropped);
  return absl::OkStatus();
}

// --- profiles ----------------------------------------------------------------------------------

absl::StatusOr<Profile> Accounts::GetProfile(std::string_view user_id) const {
  CONCLAVE_ASSIGN_OR_RETURN(auto record, ReadUser(user_id));
  if (!record) return NotFound("Profile not found");
  return Profile{StringField(*record, "displayname"), StringField(*record, "avatar_url")};
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
  CONCLAVE_RETURN_IF_ERROR(store_.db->Put(
      *store_.filters, database::KeyBuilder().AppendString(user_id).AppendString(filter_id).Build(),
      text));
  return filter_id;
}

absl::StatusOr<object> Accounts::GetFilter(std::string_view user_id,
                                           std::string_view filter_id) const {
  CONCLAVE_ASSIGN_OR_RETURN(
      auto value,
      store_.Find(*store_.filters,
                  database::KeyBuilder().AppendString(user_id).AppendString(filter_id).Build()));
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
  std::lock_guard lock(presence_mu_);
  const int64_t now = NowMs();
  CONCLAVE_ASSIGN_OR_RETURN(auto value, store_.Find(*store_.presence, user_id));
  if (value) {
    CONCLAVE_ASSIGN_OR_RETURN(object current, ParseStored(*value, "presence"));
    if (StringField(current, "presence") == presence &&
        StringField(current, "status_msg") == status_msg) {
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
  server_.notifier().Notify(user_id);
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
  state.presence = StringField(record, "presence").value_or("offline");
  state.status_msg = StringField(record, "status_msg");
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
        std::optional<std::string> name = StringField(record, "displayname");
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
        matches.push_back(
            Match{rank, DirectoryUser{std::move(key[0]), name, StringField(record, "avatar_url")}});
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
