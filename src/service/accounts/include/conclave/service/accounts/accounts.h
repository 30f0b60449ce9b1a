// Accounts: users, devices, access tokens, profiles, filters, account data, presence and the user
// directory of local users.
//
// Client-Server API sections "Account registration and management", "Login", "Device
// management", "Profiles", "Filtering", "Client Config" (account data), "Presence", "User
// directory". Passwords are argon2id hashes (password.h); access tokens are random and only
// their SHA-256 is stored, so reading the database does not yield a usable token.
//
// Thread-safe. Owned by the Homeserver; must not outlive the service module.
#ifndef CONCLAVE_SERVICE_ACCOUNTS_ACCOUNTS_H_
#define CONCLAVE_SERVICE_ACCOUNTS_ACCOUNTS_H_

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "conclave/core/server.h"
#include "conclave/database/write_batch.h"
#include "conclave/service/options/options.h"
#include "conclave/service/storage/store.h"
#include "conclave/service/storage/stream.h"

namespace conclave::service {

// Who an access token belongs to.
struct Session {
  std::string user_id;
  std::string device_id;
  // A guest account (Client-Server API "Guest access"): the api lets it reach only the module's
  // endpoint list, and Rooms lets it join only rooms whose m.room.guest_access is can_join.
  bool is_guest = false;
};

struct LoginResult {
  std::string user_id;
  std::string device_id;
  std::string access_token;  // empty when registration had inhibit_login
  // Refreshable sessions only ("Refreshing access tokens"): the refresh token ("" otherwise) and
  // the access token's lifetime (nullopt: it never expires).
  std::string refresh_token;
  std::optional<absl::Duration> expires_in;
};

struct Device {
  std::string device_id;
  std::optional<std::string> display_name;
  std::optional<std::string> last_seen_ip;
  std::optional<int64_t> last_seen_ts;  // ms since the Unix epoch
};

struct Profile {
  std::optional<std::string> displayname;
  std::optional<std::string> avatar_url;
};

// The global account data type of the users one ignores (Client-Server API, "Ignoring Users").
inline constexpr std::string_view kIgnoredUserListType = "m.ignored_user_list";

// Checks m.ignored_user_list `content`: `ignored_users` is an object whose keys are user ids and
// whose values are objects. M_BAD_JSON for a wrong shape, M_INVALID_PARAM for a key that is not
// a user id (ignored_users may name users of any server).
absl::Status ValidateIgnoredUserList(const boost::json::object& content);

// One account data entry, for /sync.
struct AccountDataEntry {
  std::string room_id;  // empty for global
  std::string type;
  boost::json::object content;
  uint64_t position = 0;
};

struct PresenceState {
  std::string user_id;
  std::string presence;  // "online", "offline", "unavailable"
  std::optional<std::string> status_msg;
  int64_t last_active_ts = 0;  // ms since the Unix epoch
  uint64_t position = 0;
};

struct DirectoryUser {
  std::string user_id;
  std::optional<std::string> display_name;
  std::optional<std::string> avatar_url;
};

class Accounts {
 public:
  // `server` gives config (server_name) and notifier, `settings` allow_registration; both must
  // outlive this.
  Accounts(Store& store, Stream& stream, core::Server& server, const ServiceSettings& settings);

  // --- tokens -------------------------------------------------------------------------------
  // The session of `access_token`; M_UNKNOWN_TOKEN for an unknown one, and SoftLogout
  // (M_UNKNOWN_TOKEN with soft_logout) for an expired one of a refreshable session. The first
  // use of the access token a Refresh() issued revokes the refresh token that refresh used.
  absl::StatusOr<Session> Authenticate(std::string_view access_token);

  // Refreshes the session of `refresh_token` (Client-Server API "Refreshing access tokens",
  // refresh.yaml): a new access token (living `access_token_lifetime`) and a new refresh token
  // for the same device. The previous access token stops working at once. The refresh token
  // given stays valid until the new access or refresh token is used (so a client that lost the
  // answer can repeat the refresh; repeating it voids the unused tokens of the first answer).
  // M_UNKNOWN_TOKEN for an unknown, used or revoked refresh token.
  absl::StatusOr<LoginResult> Refresh(std::string_view refresh_token);

  // Creates a single-use login token of `user_id` living `lifetime` (m.login.token,
  // login/get_token: "Login token"). Expired tokens of the map are swept as it goes. M_NOT_FOUND
  // for an unknown account.
  absl::StatusOr<std::string> CreateLoginToken(std::string_view user_id, absl::Duration lifetime);
  // Logs in with a token from CreateLoginToken, consuming it; the device arguments are as for
  // LoginWithPassword. M_FORBIDDEN for an unknown, expired or used token; M_USER_DEACTIVATED.
  absl::StatusOr<LoginResult> LoginWithToken(std::string_view login_token,
                                             std::optional<std::string> device_id,
                                             std::optional<std::string> device_display_name,
                                             std::string_view remote_ip, bool refreshable = false);

  // Creates an OpenID access token of `user_id` living `lifetime` (Client-Server API "OpenID",
  // openid.yaml), which a third party checks with the federation userinfo endpoint. It grants
  // no Client-Server access. M_NOT_FOUND for an unknown account.
  absl::StatusOr<std::string> CreateOpenIdToken(std::string_view user_id, absl::Duration lifetime);
  // The user id of an unexpired OpenID token (Server-Server API "OpenID", userinfo).
  // M_UNKNOWN_TOKEN for an unknown or expired one.
  absl::StatusOr<std::string> OpenIdUser(std::string_view openid_token) const;

  // Replaces the clock (milliseconds since the Unix epoch) that token expiry reads, for tests.
  // Not thread-safe: call before other threads use this Accounts.
  void SetClockForTesting(std::function<int64_t()> now_ms);

  // --- registration and login ------------------------------------------------------------------
  // Localpart free and valid? OK, M_USER_IN_USE, M_INVALID_USERNAME.
  absl::Status CheckUsernameAvailable(std::string_view localpart);
  // Creates the account (a random localpart when `localpart` is empty) and, unless
  // `inhibit_login`, a device and token. M_USER_IN_USE, M_INVALID_USERNAME, M_FORBIDDEN when
  // registration is off (the api checks the UIA stages before). The first account besides the
  // admin bot's is made admin (and handed to the first-admin hook, see SetFirstAdminHook).
  // With `refreshable` (refresh_token: true), the session is refreshable (see Refresh).
  absl::StatusOr<LoginResult> Register(std::string_view localpart, std::string_view password,
                                       std::optional<std::string> device_id,
                                       std::optional<std::string> device_display_name,
                                       bool inhibit_login, std::string_view remote_ip,
                                       bool refreshable = false);
  // `user` is a localpart or a full user id. M_FORBIDDEN for an unknown user or a wrong password
  // (one message for both, so it does not reveal which); M_USER_DEACTIVATED for a
  // deactivated account, only once the password matched (login.yaml).
  // With `refreshable`, the session is refreshable (see Refresh).
  absl::StatusOr<LoginResult> LoginWithPassword(std::string_view user, std::string_view password,
                                                std::optional<std::string> device_id,
                                                std::optional<std::string> device_display_name,
                                                std::string_view remote_ip,
                                                bool refreshable = false);
  // Creates a guest account (a random localpart, no password) with a device and token
  // (registration.yaml, kind=guest). M_GUEST_ACCESS_FORBIDDEN when allow_guest_access is off.
  absl::StatusOr<LoginResult> RegisterGuest(std::optional<std::string> device_display_name,
                                            std::string_view remote_ip);
  // Upgrades the guest account of `guest_access_token` to a full account with `password`
  // ("Guest access": register with `guest_access_token`; `localpart` must be the guest's own):
  // the user id stays, the guest's devices keep working as the full account's, and a new session
  // is returned as by Register (none with `inhibit_login`). M_FORBIDDEN when the token is not a
  // guest's or `localpart` names another user; M_UNKNOWN_TOKEN for an unknown token.
  absl::StatusOr<LoginResult> UpgradeGuest(std::string_view guest_access_token,
                                           std::string_view localpart, std::string_view password,
                                           std::optional<std::string> device_id,
                                           std::optional<std::string> device_display_name,
                                           bool inhibit_login, std::string_view remote_ip,
                                           bool refreshable = false);
  // Resolves a login identifier (localpart or user id) to a user id of this server.
  absl::StatusOr<std::string> ResolveUser(std::string_view user) const;
  absl::Status Logout(const Session& session);  // deletes the device and its token
  absl::Status LogoutAll(std::string_view user_id);
  // Checks `password` against the stored hash (for UIA m.login.password). M_FORBIDDEN if wrong.
  absl::Status CheckPassword(std::string_view user_id, std::string_view password);
  // Sets a new password; with `logout_devices`, every device but `keep_device` is deleted.
  absl::Status ChangePassword(std::string_view user_id, std::string_view new_password,
                              bool logout_devices, std::string_view keep_device);
  // Marks the account deactivated, deletes devices and tokens, clears the profile, and removes
  // what the deactivation hook adds (key backups). (Leaving rooms is the caller's job:
  // Rooms::LeaveAll.)
  absl::Status Deactivate(std::string_view user_id);
  bool UserExists(std::string_view user_id) const;
  bool IsDeactivated(std::string_view user_id) const;
  // Whether `user_id` is a guest account (RegisterGuest, not yet upgraded). False for unknown
  // users and on database errors.
  bool IsGuest(std::string_view user_id) const;
  // Every local user id, sorted.
  absl::StatusOr<std::vector<std::string>> ListUsers() const;

  // --- administration (the admin room and its commands) ----------------------------------------
  // Creates an account whatever `allow_registration` says (admin commands, the admin bot), with
  // no device. Returns the user id. M_USER_IN_USE, M_INVALID_USERNAME.
  absl::StatusOr<std::string> CreateUser(std::string_view localpart, std::string_view password,
                                         bool admin);
  // Whether the account is a server admin (may run admin commands). False for an unknown or
  // deactivated account, and when the record cannot be read.
  bool IsAdmin(std::string_view user_id) const;
  // Grants or revokes admin. M_NOT_FOUND for an unknown user. (Inviting a new admin to the admin
  // room is the caller's job: AdminRoom::OnAdminGranted.)
  absl::Status SetAdmin(std::string_view user_id, bool admin);
  // Every admin account that is not deactivated (the admin bot included), sorted.
  absl::StatusOr<std::vector<std::string>> ListAdmins() const;
  // Sets what Register() calls, after the account is written and outside every lock of Accounts,
  // when it created the first account of the server besides the admin bot's (that account is
  // made admin). The Homeserver sets it to join that user to the admin room. `hook` runs on the
  // registering thread; it must not outlive the service module (it is destroyed with Accounts).
  void SetFirstAdminHook(std::function<void(const std::string& user_id)> hook);

  // What removing devices must also remove (E2ee::CommitDeviceRemoval: keys, pending to-device
  // messages, and a device-list change): the hook gets the batch holding Accounts' own
  // deletions of `device_ids` and must write it, so all goes in one WriteBatch. `deactivating`
  // is true when the batch deactivates the account (then `device_ids` may be empty, and the
  // user's cross-signing keys go too); otherwise `device_ids` is never empty. Called under
  // Accounts' device lock. Without a hook the batch is written as is.
  using DeviceRemovalHook = std::function<absl::Status(
      std::string_view user_id, const std::vector<std::string>& device_ids, bool deactivating,
      database::WriteBatch& batch)>;
  // Sets (or, with nullptr, clears) the hook; it must not outlive the service module.
  void SetDeviceRemovalHook(DeviceRemovalHook hook);
  // What deactivating an account must also remove beyond its devices (KeyBackup::AddUserRemoval:
  // the user's key backups): the hook adds its deletions to `batch`, which Deactivate() then
  // writes with the account's own changes (through the device-removal hook), so all is one
  // WriteBatch. Called under Accounts' device lock; an error aborts the deactivation.
  using DeactivationHook =
      std::function<absl::Status(std::string_view user_id, database::WriteBatch& batch)>;
  // Sets (or, with nullptr, clears) the hook; it must not outlive the service module.
  void SetDeactivationHook(DeactivationHook hook);

  // Called after a presence change is committed (not for the refreshes of last_active_ts that
  // carry no stream position), outside Accounts' locks, with the user whose presence changed:
  // the Homeserver wakes the syncs of those who share a room with them. Sets (or, with nullptr,
  // clears) the hook; it must not outlive the service module.
  using PresenceHook = std::function<void(std::string_view user_id)>;
  void SetPresenceHook(PresenceHook hook);

  // --- devices ---------------------------------------------------------------------------------
  // Devices sorted by id.
  absl::StatusOr<std::vector<Device>> ListDevices(std::string_view user_id) const;
  absl::StatusOr<Device> GetDevice(std::string_view user_id,
                                   std::string_view device_id) const;  // M_NOT_FOUND
  // Sets the display name when `display_name` is given. M_NOT_FOUND for an unknown device.
  absl::Status UpdateDevice(std::string_view user_id, std::string_view device_id,
                            std::optional<std::string> display_name);
  // Deletes the device and invalidates its token; OK when it does not exist (it "had been
  // removed previously", device_management.yaml).
  absl::Status DeleteDevice(std::string_view user_id, std::string_view device_id);

  // --- profiles --------------------------------------------------------------------------------
  absl::StatusOr<Profile> GetProfile(std::string_view user_id) const;  // M_NOT_FOUND
  absl::Status SetDisplayName(std::string_view user_id, std::optional<std::string> name);
  absl::Status SetAvatarUrl(std::string_view user_id, std::optional<std::string> url);

  // --- filters ---------------------------------------------------------------------------------
  absl::StatusOr<std::string> CreateFilter(std::string_view user_id,
                                           const boost::json::object& filter);
  absl::StatusOr<boost::json::object> GetFilter(std::string_view user_id,
                                                std::string_view filter_id) const;

  // --- account data (committed on the stream; wakes the user's /sync) -------------------------
  // Global m.ignored_user_list content is checked first (ValidateIgnoredUserList): M_BAD_JSON or
  // M_INVALID_PARAM, and nothing stored, when it is malformed.
  absl::Status SetAccountData(std::string_view user_id, std::string_view room_id,
                              std::string_view type, const boost::json::object& content);
  absl::StatusOr<std::optional<boost::json::object>> GetAccountData(std::string_view user_id,
                                                                    std::string_view room_id,
                                                                    std::string_view type) const;
  // Reads entry `type` (an empty object when absent), lets `update` change it and stores the
  // result as SetAccountData does; atomic with respect to every other account data write of
  // this Accounts (room tags are a read-modify-write of m.tag). An error from `update` is
  // returned and nothing is written.
  absl::Status UpdateAccountData(std::string_view user_id, std::string_view room_id,
                                 std::string_view type,
                                 absl::FunctionRef<absl::Status(boost::json::object&)> update);
  // The users `user_id` ignores: the keys of its global m.ignored_user_list account data
  // (Client-Server API, "Ignoring Users"), empty without one. Database errors.
  absl::StatusOr<std::set<std::string, std::less<>>> IgnoredUsers(std::string_view user_id) const;
  // Entries with position > `since` (all when 0), global and per room.
  absl::StatusOr<std::vector<AccountDataEntry>> AccountDataSince(std::string_view user_id,
                                                                 uint64_t since) const;

  // --- presence (committed on the stream) ------------------------------------------------------
  // Setting the same presence and status message again only refreshes last_active_ts (at most
  // once a minute, without a stream position or wake-up), so /sync's set_presence does not wake
  // the very request that set it. M_INVALID_PARAM for an unknown `presence`.
  absl::Status SetPresence(std::string_view user_id, std::string_view presence,
                           std::optional<std::string> status_msg);
  // M_NOT_FOUND for an unknown user; a user who never set a presence is "offline".
  absl::StatusOr<PresenceState> GetPresence(std::string_view user_id) const;

  // --- user directory --------------------------------------------------------------------------
  // Local users whose id or display name contains `term` (case-insensitive), at most `limit`;
  // `limited` is set when there were more.
  absl::StatusOr<std::vector<DirectoryUser>> SearchUsers(std::string_view term, size_t limit,
                                                         bool* limited) const;

 private:
  // The record of `user_id` in `users`; nullopt when there is none.
  absl::StatusOr<std::optional<boost::json::object>> ReadUser(std::string_view user_id) const;
  // Adds to `batch` the device `device_id` (new when not given) of `user_id` with a new access
  // token (and, when `refreshable` and access_token_lifetime is not zero, an expiry and a
  // refresh token); an existing device keeps its display name and its old tokens go
  // (DropDeviceTokens). Caller holds `accounts_mu_` and writes the batch.
  absl::StatusOr<LoginResult> AddSession(std::string_view user_id,
                                         std::optional<std::string> device_id,
                                         std::optional<std::string> device_display_name,
                                         std::string_view remote_ip, bool refreshable,
                                         database::WriteBatch& batch,
                                         std::vector<std::string>& dropped);
  // AddSession for Register and UpgradeGuest, or a result with only `user_id` when
  // `inhibit_login` (registration.yaml). Caller holds `accounts_mu_` and writes the batch.
  absl::StatusOr<LoginResult> RegistrationSession(std::string_view user_id, bool inhibit_login,
                                                  std::optional<std::string> device_id,
                                                  std::optional<std::string> device_display_name,
                                                  std::string_view remote_ip, bool refreshable,
                                                  database::WriteBatch& batch,
                                                  std::vector<std::string>& dropped);
  // Under the lock: checks that `user_id` exists and is not deactivated (M_FORBIDDEN,
  // M_USER_DEACTIVATED), then writes `batch` with a new session (AddSession).
  absl::StatusOr<LoginResult> LogIn(std::string_view user_id, std::optional<std::string> device_id,
                                    std::optional<std::string> device_display_name,
                                    std::string_view remote_ip, bool refreshable,
                                    database::WriteBatch& batch);
  // Adds to `batch` the deletion of the tokens `device` (a `devices` record) names: its access
  // token (digest appended to `dropped`) and its refresh tokens.
  void DropDeviceTokens(const boost::json::object& device, database::WriteBatch& batch,
                        std::vector<std::string>& dropped);
  // Revokes the refresh token (base64 digest `revoked`) that the refresh issuing the access
  // token `access_digest` replaced, once that access token is used, and clears the access
  // token's `revokes_refresh`.
  absl::Status RevokeReplacedRefresh(std::string_view access_digest, std::string_view revoked);
  // Stores a new token of `user_id` living `lifetime` in `map` ({user_id, expires_ts}: login and
  // OpenID tokens), deleting the map's expired entries in the same batch; returns the token.
  // M_NOT_FOUND for an unknown account.
  absl::StatusOr<std::string> IssueExpiringToken(const database::Map& map, std::string_view user_id,
                                                 absl::Duration lifetime);
  // Adds to `batch` the deletion of every device of `user_id` except `keep_device` (none when
  // empty) and of their tokens, whose digests go to `dropped` and device ids to `removed`.
  // Caller holds `accounts_mu_`.
  absl::Status DropDevices(std::string_view user_id, std::string_view keep_device,
                           database::WriteBatch& batch, std::vector<std::string>& dropped,
                           std::vector<std::string>& removed);
  // Writes `batch`, through the device-removal hook when `removed` devices are in it or it
  // deactivates the account (`deactivating`). Caller holds `accounts_mu_`.
  absl::Status WriteRemoval(std::string_view user_id, const std::vector<std::string>& removed,
                            database::WriteBatch& batch, bool deactivating = false);
  // Removes token digests from the cache after their deletion was written.
  void ForgetTokens(const std::vector<std::string>& digests);
  // Stores account data `content` at a new stream position and wakes the user's /sync. Caller
  // holds `account_data_mu_`.
  absl::Status WriteAccountData(std::string_view user_id, std::string_view room_id,
                                std::string_view type, const boost::json::object& content);

  Store& store_;
  Stream& stream_;
  core::Server& server_;
  const ServiceSettings& settings_;

  // Serializes the read-modify-write of `users` and `devices` records (registration, sessions,
  // passwords, profiles), so two requests never both see a name free or a device absent.
  std::mutex accounts_mu_;
  // Serializes account data writes (UpdateAccountData's read and write are one step).
  std::mutex account_data_mu_;
  // Serializes presence writes, so a refresh of last_active_ts never overwrites a newer state.
  std::mutex presence_mu_;

  // Token digest → session, so authenticating a request is a hash lookup and not a RocksDB read.
  // An entry is removed after the deletion of its token is written; `token_epoch_` moves with
  // every removal, and a session read from the database is cached only if no removal happened
  // during the read (else a token deleted meanwhile could come back to life in the cache).
  // An entry keeps the token's expiry (ms since the Unix epoch; 0: never), checked at each use.
  struct CachedToken {
    Session session;
    int64_t expires_ts = 0;
  };
  mutable std::mutex tokens_mu_;
  absl::flat_hash_map<std::string, CachedToken> tokens_;  // guarded by tokens_mu_
  uint64_t token_epoch_ = 0;                              // guarded by tokens_mu_

  // Milliseconds since the Unix epoch (NowMs unless a test replaced it).
  std::function<int64_t()> now_ms_;

  mutable std::mutex hook_mu_;
  std::function<void(const std::string&)> first_admin_hook_;  // guarded by hook_mu_
  DeviceRemovalHook device_removal_hook_;                     // guarded by hook_mu_
  DeactivationHook deactivation_hook_;                        // guarded by hook_mu_
  PresenceHook presence_hook_;                                // guarded by hook_mu_
};

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_ACCOUNTS_ACCOUNTS_H_
