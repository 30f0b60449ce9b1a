#include "conclave/service/accounts/accounts.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <utility>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "conclave/core/log.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/database/key.h"
#include "conclave/service/accounts/admin_bot.h"
#include "conclave/service/protocol/clock.h"
#include "conclave/service/protocol/crypto.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/identifiers.h"
#include "conclave/service/protocol/password.h"
#include "conclave/service/storage/schema.h"
#include "conclave/service/storage/stored_json.h"
#include "records.h"

namespace conclave::service {
namespace {

using boost::json::object;
using namespace accounts_internal;  // NOLINT: this folder's record readers (records.h)
using schema::DeviceKey;
using schema::UserPrefix;

// One message for an unknown user and a wrong password, so a login does not reveal which.
constexpr std::string_view kBadLogin = "Invalid username or password";
// Random localparts for registrations without a username: 12 of [a-z0-9], about 62 bits.
constexpr std::string_view kLocalpartAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
constexpr size_t kRandomLocalpartLength = 12;
// Device ids are opaque to the spec; this bound keeps keys and /sync bodies sane.
constexpr size_t kMaxDeviceIdBytes = 255;
constexpr std::string_view kExpiredToken = "Access token has expired";

}  // namespace

Accounts::Accounts(Store& store, Stream& stream, core::Server& server,
                   const ServiceSettings& settings)
    : store_(store), stream_(stream), server_(server), settings_(settings), now_ms_(&NowMs) {}

void Accounts::SetClockForTesting(std::function<int64_t()> now_ms) { now_ms_ = std::move(now_ms); }

// --- tokens ------------------------------------------------------------------------------------

absl::StatusOr<Session> Accounts::Authenticate(std::string_view access_token) {
  std::string digest = Sha256(access_token);
  uint64_t epoch = 0;
  {
    std::lock_guard lock(tokens_mu_);
    if (auto it = tokens_.find(digest); it != tokens_.end()) {
      if (it->second.expires_ts != 0 && now_ms_() >= it->second.expires_ts) {
        return SoftLogout(kExpiredToken);
      }
      return it->second.session;
    }
    epoch = token_epoch_;
  }
  CONCLAVE_ASSIGN_OR_RETURN(auto value, store_.Find(*store_.access_tokens, digest));
  if (!value) return UnknownToken("Unrecognised access token");
  CONCLAVE_ASSIGN_OR_RETURN(object record, ParseStored(*value, "access token"));
  CachedToken entry;
  entry.session.user_id = OptionalStringField(record, "user_id").value_or("");
  entry.session.device_id = OptionalStringField(record, "device_id").value_or("");
  entry.expires_ts = IntField(record, "expires_ts").value_or(0);
  if (entry.session.user_id.empty()) {
    return absl::DataLossError("access token record without user_id");
  }
  if (entry.expires_ts != 0 && now_ms_() >= entry.expires_ts) return SoftLogout(kExpiredToken);
  CONCLAVE_ASSIGN_OR_RETURN(auto user, ReadUser(entry.session.user_id));
  entry.session.is_guest = user && BoolField(*user, "guest");
  // "The old refresh token remains valid until the new access token or refresh token is used"
  // (refresh.yaml): this is the first use of a refreshed access token.
  if (auto revoked = OptionalStringField(record, "revokes_refresh")) {
    CONCLAVE_RETURN_IF_ERROR(RevokeReplacedRefresh(digest, *revoked));
  }
  std::lock_guard lock(tokens_mu_);
  if (token_epoch_ == epoch) tokens_.emplace(std::move(digest), entry);
  return entry.session;
}

absl::Status Accounts::RevokeReplacedRefresh(std::string_view access_digest,
                                             std::string_view revoked) {
  std::lock_guard lock(accounts_mu_);
  // Read again under the lock: a refresh or a logout may have replaced this token meanwhile.
  CONCLAVE_ASSIGN_OR_RETURN(auto value, store_.Find(*store_.access_tokens, access_digest));
  if (!value) return UnknownToken("Unrecognised access token");
  CONCLAVE_ASSIGN_OR_RETURN(object record, ParseStored(*value, "access token"));
  if (OptionalStringField(record, "revokes_refresh") != revoked) return absl::OkStatus();
  const std::string user_id = OptionalStringField(record, "user_id").value_or("");
  const std::string device_id = OptionalStringField(record, "device_id").value_or("");
  database::WriteBatch batch;
  record.erase("revokes_refresh");
  batch.Put(*store_.access_tokens, access_digest, boost::json::serialize(record));
  const std::string key = DeviceKey(user_id, device_id);
  CONCLAVE_ASSIGN_OR_RETURN(auto device_value, store_.Find(*store_.devices, key));
  if (device_value) {
    CONCLAVE_ASSIGN_OR_RETURN(object device, ParseStored(*device_value, "device"));
    if (OptionalStringField(device, "old_refresh_digest") == revoked) {
      device.erase("old_refresh_digest");
      batch.Put(*store_.devices, key, boost::json::serialize(device));
      if (auto raw = DecodeUnpaddedBase64(revoked); raw.ok()) {
        batch.Delete(*store_.refresh_tokens, *raw);
      }
    }
  }
  return store_.db->Write(batch);
}

absl::StatusOr<LoginResult> Accounts::Refresh(std::string_view refresh_token) {
  const std::string digest = Sha256(refresh_token);
  const std::string encoded = UnpaddedBase64(digest);
  database::WriteBatch batch;
  std::vector<std::string> dropped;
  LoginResult result;
  {
    std::lock_guard lock(accounts_mu_);
    CONCLAVE_ASSIGN_OR_RETURN(auto value, store_.Find(*store_.refresh_tokens, digest));
    if (!value) return UnknownToken("Unknown refresh token");
    CONCLAVE_ASSIGN_OR_RETURN(object record, ParseStored(*value, "refresh token"));
    result.user_id = OptionalStringField(record, "user_id").value_or("");
    result.device_id = OptionalStringField(record, "device_id").value_or("");
    const std::string key = DeviceKey(result.user_id, result.device_id);
    CONCLAVE_ASSIGN_OR_RETURN(auto device_value, store_.Find(*store_.devices, key));
    if (!device_value) return UnknownToken("Unknown refresh token");
    CONCLAVE_ASSIGN_OR_RETURN(object device, ParseStored(*device_value, "device"));
    const std::optional<std::string> current = OptionalStringField(device, "refresh_digest");
    std::optional<std::string> replaced = OptionalStringField(device, "old_refresh_digest");
    auto drop_refresh = [&](const std::optional<std::string>& b64) {
      if (!b64) return;
      if (auto raw = DecodeUnpaddedBase64(*b64); raw.ok()) {
        batch.Delete(*store_.refresh_tokens, *raw);
      }
    };
    if (current == encoded) {
      // The newest refresh token: using it revokes the one it replaced.
      if (replaced != encoded) drop_refresh(replaced);
      replaced = encoded;
    } else if (replaced == encoded) {
      // A repeated refresh (the client lost the answer): the unused tokens of the first go.
      drop_refresh(current);
    } else {
      return UnknownToken("Unknown refresh token");
    }
    if (auto old_access = TokenDigestOf(device)) {
      batch.Delete(*store_.access_tokens, *old_access);
      dropped.push_back(*std::move(old_access));
    }
    const absl::Duration lifetime = settings_.Get().access_token_lifetime;
    result.access_token = NewAccessToken();
    result.refresh_token = NewAccessToken();
    const std::string access_digest = Sha256(result.access_token);
    const std::string refresh_digest = Sha256(result.refresh_token);
    object token{
        {"user_id", result.user_id}, {"device_id", result.device_id}, {"revokes_refresh", encoded}};
    if (lifetime > absl::ZeroDuration()) {
      token["expires_ts"] = now_ms_() + absl::ToInt64Milliseconds(lifetime);
      result.expires_in = lifetime;
    }
    batch.Put(*store_.access_tokens, access_digest, boost::json::serialize(token));
    batch.Put(*store_.refresh_tokens, refresh_digest,
              boost::json::serialize(
                  object{{"user_id", result.user_id}, {"device_id", result.device_id}}));
    device["token_digest"] = UnpaddedBase64(access_digest);
    device["refresh_digest"] = UnpaddedBase64(refresh_digest);
    device["old_refresh_digest"] = *replaced;
    batch.Put(*store_.devices, key, boost::json::serialize(device));
    CONCLAVE_RETURN_IF_ERROR(store_.db->Write(batch));
  }
  ForgetTokens(dropped);
  return result;
}

absl::StatusOr<std::string> Accounts::IssueExpiringToken(const database::Map& map,
                                                         std::string_view user_id,
                                                         absl::Duration lifetime) {
  if (!UserExists(user_id)) return NotFound("Unknown user");
  const int64_t now = now_ms_();
  database::WriteBatch batch;
  CONCLAVE_RETURN_IF_ERROR(
      store_.db->ForEachWithPrefix(map, "", [&](std::string_view key, std::string_view value) {
        auto record = ParseStored(value, "token");
        if (!record.ok() || IntField(*record, "expires_ts").value_or(0) <= now) {
          batch.Delete(map, key);
        }
        return true;
      }));
  std::string token = NewAccessToken();
  object record{{"user_id", std::string(user_id)},
                {"expires_ts", now + absl::ToInt64Milliseconds(lifetime)}};
  batch.Put(map, Sha256(token), boost::json::serialize(record));
  CONCLAVE_RETURN_IF_ERROR(store_.db->Write(batch));
  return token;
}

absl::StatusOr<std::string> Accounts::CreateLoginToken(std::string_view user_id,
                                                       absl::Duration lifetime) {
  return IssueExpiringToken(*store_.login_tokens, user_id, lifetime);
}

absl::StatusOr<LoginResult> Accounts::LoginWithToken(std::string_view login_token,
                                                     std::optional<std::string> device_id,
                                                     std::optional<std::string> device_display_name,
                                                     std::string_view remote_ip, bool refreshable) {
  constexpr std::string_view kBadToken = "Invalid login token";
  const std::string digest = Sha256(login_token);
  std::string user_id;
  {
    // The read and the deletion under the lock, so two logins never both use one token.
    std::lock_guard lock(accounts_mu_);
    CONCLAVE_ASSIGN_OR_RETURN(auto value, store_.Find(*store_.login_tokens, digest));
    if (!value) return Forbidden(kBadToken);
    CONCLAVE_RETURN_IF_ERROR(store_.db->Delete(*store_.login_tokens, digest));
    CONCLAVE_ASSIGN_OR_RETURN(object record, ParseStored(*value, "login token"));
    if (IntField(record, "expires_ts").value_or(0) <= now_ms_()) return Forbidden(kBadToken);
    user_id = OptionalStringField(record, "user_id").value_or("");
  }
  database::WriteBatch batch;
  return LogIn(user_id, std::move(device_id), std::move(device_display_name), remote_ip,
               refreshable, batch);
}

absl::StatusOr<std::string> Accounts::CreateOpenIdToken(std::string_view user_id,
                                                        absl::Duration lifetime) {
  return IssueExpiringToken(*store_.openid_tokens, user_id, lifetime);
}

absl::StatusOr<std::string> Accounts::OpenIdUser(std::string_view openid_token) const {
  CONCLAVE_ASSIGN_OR_RETURN(auto value, store_.Find(*store_.openid_tokens, Sha256(openid_token)));
  if (!value) return UnknownToken("Access token unknown or expired");
  CONCLAVE_ASSIGN_OR_RETURN(object record, ParseStored(*value, "openid token"));
  if (IntField(record, "expires_ts").value_or(0) <= now_ms_()) {
    return UnknownToken("Access token unknown or expired");
  }
  return OptionalStringField(record, "user_id").value_or("");
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
    return MatrixStatus(Errcode::kInvalidUsername, core::StrCat("User ID may not be longer than ",
                                                                kMaxIdentifierBytes, " bytes"));
  }
  CONCLAVE_ASSIGN_OR_RETURN(auto existing, store_.Find(*store_.users, user_id));
  if (existing) {
    return MatrixStatus(Errcode::kUserInUse, "Desired user ID is already taken");
  }
  return absl::OkStatus();
}

absl::StatusOr<LoginResult> Accounts::AddSession(std::string_view user_id,
                                                 std::optional<std::string> device_id,
                                                 std::optional<std::string> device_display_name,
                                                 std::string_view remote_ip, bool refreshable,
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
      DropDeviceTokens(device, batch, dropped);
      device.erase("refresh_digest");
      device.erase("old_refresh_digest");
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
  object token{{"user_id", result.user_id}, {"device_id", result.device_id}};
  // "Refreshing access tokens": only clients that said they can refresh get expiring tokens.
  const absl::Duration lifetime = settings_.Get().access_token_lifetime;
  if (refreshable && lifetime > absl::ZeroDuration()) {
    token["expires_ts"] = now_ms_() + absl::ToInt64Milliseconds(lifetime);
    result.expires_in = lifetime;
    result.refresh_token = NewAccessToken();
    const std::string refresh_digest = Sha256(result.refresh_token);
    device["refresh_digest"] = UnpaddedBase64(refresh_digest);
    batch.Put(*store_.refresh_tokens, refresh_digest,
              boost::json::serialize(
                  object{{"user_id", result.user_id}, {"device_id", result.device_id}}));
  }
  batch.Put(*store_.devices, DeviceKey(user_id, result.device_id), boost::json::serialize(device));
  batch.Put(*store_.access_tokens, digest, boost::json::serialize(token));
  return result;
}

void Accounts::DropDeviceTokens(const object& device, database::WriteBatch& batch,
                                std::vector<std::string>& dropped) {
  if (auto digest = TokenDigestOf(device)) {
    batch.Delete(*store_.access_tokens, *digest);
    dropped.push_back(*std::move(digest));
  }
  for (std::string_view field : {"refresh_digest", "old_refresh_digest"}) {
    if (auto digest = DigestField(device, field)) batch.Delete(*store_.refresh_tokens, *digest);
  }
}

absl::Status Accounts::DropDevices(std::string_view user_id, std::string_view keep_device,
                                   database::WriteBatch& batch, std::vector<std::string>& dropped,
                                   std::vector<std::string>& removed) {
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
        removed.push_back(*device_id);
        if (auto device = ParseStored(value, "device"); device.ok()) {
          DropDeviceTokens(*device, batch, dropped);
        }
        return true;
      }));
  return corrupt;
}

absl::StatusOr<LoginResult> Accounts::Register(std::string_view localpart,
                                               std::string_view password,
                                               std::optional<std::string> device_id,
                                               std::optional<std::string> device_display_name,
                                               bool inhibit_login, std::string_view remote_ip,
                                               bool refreshable) {
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
        *store_.users, "", [&](std::string_view key, std::string_view value) {
          if (key == bot) return true;
          // Guest accounts do not count: the first full account is the admin.
          if (auto user = ParseStored(value, "user"); user.ok() && BoolField(*user, "guest")) {
            return true;
          }
          first_user = false;
          return false;
        }));
    object record{{"password_hash", password_hash},
                  {"deactivated", false},
                  {"admin", first_user},
                  {"created_ts", NowMs()}};
    batch.Put(*store_.users, user_id, boost::json::serialize(record));
    CONCLAVE_ASSIGN_OR_RETURN(
        result, RegistrationSession(user_id, inhibit_login, std::move(device_id),
                                    std::move(device_display_name), remote_ip, refreshable, batch,
                                    dropped));
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

absl::StatusOr<LoginResult> Accounts::RegistrationSession(
    std::string_view user_id, bool inhibit_login, std::optional<std::string> device_id,
    std::optional<std::string> device_display_name, std::string_view remote_ip, bool refreshable,
    database::WriteBatch& batch, std::vector<std::string>& dropped) {
  if (inhibit_login) return LoginResult{.user_id = std::string(user_id)};
  return AddSession(user_id, std::move(device_id), std::move(device_display_name), remote_ip,
                    refreshable, batch, dropped);
}

absl::StatusOr<LoginResult> Accounts::RegisterGuest(std::optional<std::string> device_display_name,
                                                    std::string_view remote_ip) {
  if (!settings_.Get().allow_guest_access) {
    return MatrixStatus(Errcode::kGuestAccessForbidden, "Guest access is disabled");
  }
  const std::string& server_name = server_.config().server_name;
  database::WriteBatch batch;
  std::vector<std::string> dropped;
  std::lock_guard lock(accounts_mu_);
  std::string user_id;
  for (int attempt = 0;; ++attempt) {
    user_id =
        UserId{RandomString(kRandomLocalpartLength, kLocalpartAlphabet), server_name}.ToString();
    CONCLAVE_ASSIGN_OR_RETURN(auto existing, store_.Find(*store_.users, user_id));
    if (!existing) break;
    if (attempt == 10) return absl::InternalError("no free random localpart");
  }
  // No password hash: a guest cannot log in with a password, only use its token or upgrade.
  object record{{"password_hash", ""},
                {"deactivated", false},
                {"admin", false},
                {"guest", true},
                {"created_ts", NowMs()}};
  batch.Put(*store_.users, user_id, boost::json::serialize(record));
  CONCLAVE_ASSIGN_OR_RETURN(LoginResult result,
                            AddSession(user_id, std::nullopt, std::move(device_display_name),
                                       remote_ip, /*refreshable=*/false, batch, dropped));
  CONCLAVE_RETURN_IF_ERROR(store_.db->Write(batch));
  return result;
}

absl::StatusOr<LoginResult> Accounts::UpgradeGuest(
    std::string_view guest_access_token, std::string_view localpart, std::string_view password,
    std::optional<std::string> device_id, std::optional<std::string> device_display_name,
    bool inhibit_login, std::string_view remote_ip, bool refreshable) {
  CONCLAVE_ASSIGN_OR_RETURN(Session guest, Authenticate(guest_access_token));
  if (!guest.is_guest) return Forbidden("guest_access_token is not a guest's access token");
  const std::string user_id =
      UserId{std::string(localpart), server_.config().server_name}.ToString();
  if (user_id != guest.user_id) {
    return Forbidden("username must be the guest's own localpart to upgrade it");
  }
  CONCLAVE_ASSIGN_OR_RETURN(std::string password_hash, HashPassword(password));
  database::WriteBatch batch;
  std::vector<std::string> dropped;
  LoginResult result;
  {
    std::lock_guard lock(accounts_mu_);
    CONCLAVE_ASSIGN_OR_RETURN(auto record, ReadUser(user_id));
    if (!record || !BoolField(*record, "guest")) return Forbidden("Not a guest account");
    record->erase("guest");
    (*record)["password_hash"] = password_hash;
    batch.Put(*store_.users, user_id, boost::json::serialize(*record));
    CONCLAVE_ASSIGN_OR_RETURN(
        result, RegistrationSession(user_id, inhibit_login, std::move(device_id),
                                    std::move(device_display_name), remote_ip, refreshable, batch,
                                    dropped));
    CONCLAVE_RETURN_IF_ERROR(store_.db->Write(batch));
  }
  // The guest's cached sessions say is_guest: they are read again at their next use.
  {
    std::lock_guard lock(tokens_mu_);
    absl::erase_if(tokens_,
                   [&](const auto& entry) { return entry.second.session.user_id == user_id; });
    ++token_epoch_;
  }
  ForgetTokens(dropped);
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
    std::optional<std::string> device_display_name, std::string_view remote_ip, bool refreshable) {
  auto user_id = ResolveUser(user);
  if (!user_id.ok()) return Forbidden(kBadLogin);
  CONCLAVE_ASSIGN_OR_RETURN(auto record, ReadUser(*user_id));
  if (!record) return Forbidden(kBadLogin);
  if (!VerifyPassword(password, OptionalStringField(*record, "password_hash").value_or(""))) {
    return Forbidden(kBadLogin);
  }
  database::WriteBatch batch;
  return LogIn(*user_id, std::move(device_id), std::move(device_display_name), remote_ip,
               refreshable, batch);
}

absl::StatusOr<LoginResult> Accounts::LogIn(std::string_view user_id,
                                            std::optional<std::string> device_id,
                                            std::optional<std::string> device_display_name,
                                            std::string_view remote_ip, bool refreshable,
                                            database::WriteBatch& batch) {
  std::vector<std::string> dropped;
  LoginResult result;
  {
    std::lock_guard lock(accounts_mu_);
    // Read under the lock: a deactivation may have finished since the credentials were checked.
    CONCLAVE_ASSIGN_OR_RETURN(auto record, ReadUser(user_id));
    if (!record) return Forbidden(kBadLogin);
    if (BoolField(*record, "deactivated")) {
      return MatrixStatus(Errcode::kUserDeactivated, "This account has been deactivated");
    }
    CONCLAVE_ASSIGN_OR_RETURN(
        result, AddSession(user_id, std::move(device_id), std::move(device_display_name), remote_ip,
                           refreshable, batch, dropped));
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
    std::vector<std::string> removed;
    CONCLAVE_RETURN_IF_ERROR(DropDevices(user_id, "", batch, dropped, removed));
    DeactivationHook hook;
    {
      std::lock_guard hook_lock(hook_mu_);
      hook = deactivation_hook_;
    }
    if (hook) CONCLAVE_RETURN_IF_ERROR(hook(user_id, batch));
    CONCLAVE_RETURN_IF_ERROR(WriteRemoval(user_id, removed, batch));
  }
  ForgetTokens(dropped);
  return absl::OkStatus();
}

absl::Status Accounts::CheckPassword(std::string_view user_id, std::string_view password) {
  CONCLAVE_ASSIGN_OR_RETURN(auto record, ReadUser(user_id));
  if (!record ||
      !VerifyPassword(password, OptionalStringField(*record, "password_hash").value_or(""))) {
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
      return MatrixStatus(Errcode::kUserDeactivated, "This account has been deactivated");
    }
    (*record)["password_hash"] = hash;
    batch.Put(*store_.users, user_id, boost::json::serialize(*record));
    std::vector<std::string> removed;
    if (logout_devices) {
      CONCLAVE_RETURN_IF_ERROR(DropDevices(user_id, keep_device, batch, dropped, removed));
    }
    CONCLAVE_RETURN_IF_ERROR(WriteRemoval(user_id, removed, batch));
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
    std::vector<std::string> removed;
    CONCLAVE_RETURN_IF_ERROR(DropDevices(user_id, "", batch, dropped, removed));
    DeactivationHook hook;
    {
      std::lock_guard hook_lock(hook_mu_);
      hook = deactivation_hook_;
    }
    if (hook) CONCLAVE_RETURN_IF_ERROR(hook(user_id, batch));
    CONCLAVE_RETURN_IF_ERROR(WriteRemoval(user_id, removed, batch, /*deactivating=*/true));
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

bool Accounts::IsGuest(std::string_view user_id) const {
  auto record = ReadUser(user_id);
  return record.ok() && record->has_value() && BoolField(**record, "guest");
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

void Accounts::SetDeviceRemovalHook(DeviceRemovalHook hook) {
  std::lock_guard lock(hook_mu_);
  device_removal_hook_ = std::move(hook);
}

void Accounts::SetDeactivationHook(DeactivationHook hook) {
  std::lock_guard lock(hook_mu_);
  deactivation_hook_ = std::move(hook);
}

void Accounts::SetPresenceHook(PresenceHook hook) {
  std::lock_guard lock(hook_mu_);
  presence_hook_ = std::move(hook);
}

absl::Status Accounts::WriteRemoval(std::string_view user_id,
                                    const std::vector<std::string>& removed,
                                    database::WriteBatch& batch, bool deactivating) {
  DeviceRemovalHook hook;
  if (!removed.empty() || deactivating) {
    std::lock_guard lock(hook_mu_);
    hook = device_removal_hook_;
  }
  if (!hook) return store_.db->Write(batch);
  return hook(user_id, removed, deactivating, batch);
}

}  // namespace conclave::service
