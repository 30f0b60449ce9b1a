// Accounts: users, devices, access tokens, profiles, filters, account data, presence and the user
// directory of local users.
//
// Client-Server API sections "Account registration and management", "Login", "Device
// management", "Profiles", "Filtering", "Client Config" (account data), "Presence", "User
// directory". Passwords are argon2id hashes (password.h); access tokens are random and only
// their SHA-256 is stored, so reading the database does not yield a usable token.
//
// Thread-safe. Owned by the Homeserver; must not outlive the service module.
#ifndef CONCLAVE_SERVICE_ACCOUNTS_H_
#define CONCLAVE_SERVICE_ACCOUNTS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "conclave/core/server.h"
#include "conclave/service/store.h"
#include "conclave/service/stream.h"

namespace conclave::service {

// Who an access token belongs to.
struct Session {
  std::string user_id;
  std::string device_id;
};

struct LoginResult {
  std::string user_id;
  std::string device_id;
  std::string access_token;  // empty when registration had inhibit_login
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
  // `server` gives config (server_name, allow_registration, registration_token) and notifier.
  Accounts(Store& store, Stream& stream, core::Server& server);

  // --- tokens -------------------------------------------------------------------------------
  // The session of `access_token`, or M_UNKNOWN_TOKEN.
  absl::StatusOr<Session> Authenticate(std::string_view access_token);

  // --- registration and login ------------------------------------------------------------------
  // Localpart free and valid? OK, M_USER_IN_USE, M_INVALID_USERNAME.
  absl::Status CheckUsernameAvailable(std::string_view localpart);
  // Creates the account (a random localpart when `localpart` is empty) and, unless
  // `inhibit_login`, a device and token. M_USER_IN_USE, M_INVALID_USERNAME, M_FORBIDDEN when
  // registration is off (the api checks the UIA stages before).
  absl::StatusOr<LoginResult> Register(std::string_view localpart, std::string_view password,
                                       std::optional<std::string> device_id,
                                       std::optional<std::string> device_display_name,
                                       bool inhibit_login, std::string_view remote_ip);
  // `user` is a localpart or a full user id. M_FORBIDDEN for an unknown user, a wrong password
  // or a deactivated account (one message for all, so it does not reveal which).
  absl::StatusOr<LoginResult> LoginWithPassword(std::string_view user, std::string_view password,
                                                std::optional<std::string> device_id,
                                                std::optional<std::string> device_display_name,
                                                std::string_view remote_ip);
  // Resolves a login identifier (localpart or user id) to a user id of this server.
  absl::StatusOr<std::string> ResolveUser(std::string_view user) const;
  absl::Status Logout(const Session& session);  // deletes the device and its token
  absl::Status LogoutAll(std::string_view user_id);
  // Checks `password` against the stored hash (for UIA m.login.password). M_FORBIDDEN if wrong.
  absl::Status CheckPassword(std::string_view user_id, std::string_view password);
  // Sets a new password; with `logout_devices`, every device but `keep_device` is deleted.
  absl::Status ChangePassword(std::string_view user_id, std::string_view new_password,
                              bool logout_devices, std::string_view keep_device);
  // Marks the account deactivated, deletes devices and tokens, clears the profile. (Leaving
  // rooms is the caller's job: Rooms::LeaveAll.)
  absl::Status Deactivate(std::string_view user_id);
  bool UserExists(std::string_view user_id) const;
  bool IsDeactivated(std::string_view user_id) const;
  // Every local user id, sorted.
  absl::StatusOr<std::vector<std::string>> ListUsers() const;

  // --- devices ---------------------------------------------------------------------------------
  absl::StatusOr<std::vector<Device>> ListDevices(std::string_view user_id) const;
  absl::StatusOr<Device> GetDevice(std::string_view user_id, std::string_view device_id) const;
  absl::Status UpdateDevice(std::string_view user_id, std::string_view device_id,
                            std::optional<std::string> display_name);
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
  absl::Status SetAccountData(std::string_view user_id, std::string_view room_id,
                              std::string_view type, const boost::json::object& content);
  absl::StatusOr<std::optional<boost::json::object>> GetAccountData(std::string_view user_id,
                                                                    std::string_view room_id,
                                                                    std::string_view type) const;
  // Entries with position > `since` (all when 0), global and per room.
  absl::StatusOr<std::vector<AccountDataEntry>> AccountDataSince(std::string_view user_id,
                                                                 uint64_t since) const;

  // --- presence (committed on the stream) ------------------------------------------------------
  absl::Status SetPresence(std::string_view user_id, std::string_view presence,
                           std::optional<std::string> status_msg);
  absl::StatusOr<PresenceState> GetPresence(std::string_view user_id) const;  // M_NOT_FOUND

  // --- user directory --------------------------------------------------------------------------
  // Local users whose id or display name contains `term` (case-insensitive), at most `limit`;
  // `limited` is set when there were more.
  absl::StatusOr<std::vector<DirectoryUser>> SearchUsers(std::string_view term, size_t limit,
                                                         bool* limited) const;

 private:
  Store& store_;
  Stream& stream_;
  core::Server& server_;
};

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_ACCOUNTS_H_
