// Account routes: capabilities, registration, login and logout, whoami, password change,
// deactivation and devices. Client-Server API: capabilities.yaml, registration.yaml,
// registration_tokens.yaml, login.yaml, logout.yaml, whoami.yaml, password_management.yaml,
// account_deactivation.yaml, device_management.yaml; the user-interactive authentication of
// register, password, deactivate and device deletion follows "User-interactive authentication
// API" with single-stage flows.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <string>
#include <utility>

#include "absl/time/time.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/canonical_json.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/room_versions.h"
#include "conclave/service/rooms/rooms.h"
#include "routes.h"
#include "uia.h"

namespace conclave::api {
namespace {

using boost::json::array;
using boost::json::object;

constexpr std::string_view kPasswordLogin = "m.login.password";
constexpr std::string_view kDummyStage = "m.login.dummy";
constexpr std::string_view kTokenStage = "m.login.registration_token";
constexpr std::string_view kTokenLogin = "m.login.token";
// login_token.yaml: "`120000` (2 minutes) is recommended as a default".
constexpr absl::Duration kLoginTokenLifetime = absl::Minutes(2);

absl::StatusOr<boost::json::value> Empty(absl::Status status) {
  if (!status.ok()) return status;
  return object();
}

absl::StatusOr<core::Response> EmptyResponse(absl::Status status) {
  if (!status.ok()) return status;
  return JsonResponse(object());
}

// Compares in time independent of where the strings differ (registration tokens are secrets).
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// registration.yaml lets the server map a username "onto a user_id in a logical manner": user
// ids are lower case (Appendices, "User Identifiers"), so "Alice" registers @alice.
std::string LowerUsername(std::string_view username) {
  std::string out(username);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// ----- user-interactive authentication ---------------------------------------------------------

// The 401 of "User-interactive authentication API": the one flow (`stage`), its `params`, the
// `session` to send back, and errcode/error when an attempt at the stage failed.
core::Response AuthChallenge(std::string_view stage, const std::string& session,
                             const absl::Status& failure = absl::OkStatus()) {
  object body{{"flows", array{object{{"stages", array{boost::json::string(stage)}}}}},
              {"params", object()},
              {"session", session}};
  if (!failure.ok()) {
    body["errcode"] = service::ErrcodeName(service::ErrcodeOf(failure));
    body["error"] = std::string(failure.message());
  }
  return JsonResponse(body, 401);
}

// The request's `auth` dict (null when absent) and its UIA session (UiaSessions): the client's
// when it sent one that was started for this very operation, else a new one bound to it. A
// session the client sent that is unknown (expired, finished, from before a restart) or that was
// started for another operation makes `session_error` M_FORBIDDEN: the stage then answers the
// challenge with the new session and does not look at the credentials.
struct AuthDict {
  const object* auth = nullptr;
  std::optional<std::string> type;
  std::string session;
  absl::Status session_error;
};

// What a UIA session is bound to: who (the access token's user), the method, the path and, when
// `bind_body`, the canonical JSON of the body without `auth` ("resubmitting the same request with
// the addition of an auth key"). Registration binds no body: there is no account yet whose
// operation another request could take over, and clients may send the later attempts' parameters
// differently.
std::string UiaOperation(const Call& call, const object& body, bool bind_body) {
  std::string operation =
      core::StrCat(call.session.user_id, "\n", call.request.method, "\n", call.request.path, "\n");
  if (!bind_body) return operation;
  object rest = body;
  rest.erase("auth");
  absl::StatusOr<std::string> canonical = service::CanonicalJson(rest);
  // Bodies CanonicalJson refuses (floats) are bound by their serialization: a client resubmits
  // the same request, and the same value serializes the same.
  operation += canonical.ok() ? *canonical : boost::json::serialize(rest);
  return operation;
}

absl::StatusOr<AuthDict> ReadAuth(Call& call, const object& body, bool bind_body) {
  AuthDict dict;
  CONCLAVE_ASSIGN_OR_RETURN(dict.auth, OptionalObject(body, "auth"));
  std::optional<std::string> session;
  if (dict.auth != nullptr) {
    CONCLAVE_ASSIGN_OR_RETURN(dict.type, OptionalString(*dict.auth, "type"));
    CONCLAVE_ASSIGN_OR_RETURN(session, OptionalString(*dict.auth, "session"));
  }
  service::UiaSessions& sessions = call.hs.uia_sessions();
  const std::string operation = UiaOperation(call, body, bind_body);
  if (session && !session->empty()) {
    switch (sessions.Verify(*session, operation)) {
      case service::UiaSessions::Verdict::kValid:
        dict.session = *session;
        return dict;
      case service::UiaSessions::Verdict::kUnknown:
        dict.session_error = service::Forbidden(
            "Unknown or expired authentication session; authenticate again with the new session");
        break;
      case service::UiaSessions::Verdict::kOtherOperation:
        dict.session_error = service::Forbidden(
            "This authentication session was started for another request; authenticate again "
            "with the new session");
        break;
    }
  }
  dict.session = sessions.Start(operation);
  return dict;
}

absl::Status Unrecognized(std::string_view expected) {
  return service::MatrixStatus(absl::StatusCode::kInvalidArgument, service::Errcode::kUnrecognized,
                               core::StrCat("This endpoint expects the stage ", expected));
}

// The m.login.password stage ("Password-based" authentication type): `auth` has an
// `identifier` {type: m.id.user, user} (or the legacy `user`) and `password`. With an access
// token the identified user, if any is given, must be the token's; without one (password and
// deactivate allow that) the identifier names the account. Attempts count against the login rate
// limit of the user, so a stolen access token does not give unlimited password guesses.
}  // namespace

absl::StatusOr<UiaOutcome> PasswordStage(Call& call, const object& body) {
  CONCLAVE_ASSIGN_OR_RETURN(AuthDict dict, ReadAuth(call, body, /*bind_body=*/true));
  if (!dict.session_error.ok()) {
    return UiaOutcome{AuthChallenge(kPasswordLogin, dict.session, dict.session_error), ""};
  }
  if (dict.auth == nullptr || !dict.type) {
    return UiaOutcome{AuthChallenge(kPasswordLogin, dict.session), ""};
  }
  if (*dict.type != kPasswordLogin) {
    return UiaOutcome{AuthChallenge(kPasswordLogin, dict.session, Unrecognized(kPasswordLogin)),
                      ""};
  }
  const object& auth = *dict.auth;
  std::optional<std::string> user;
  CONCLAVE_ASSIGN_OR_RETURN(const object* identifier, OptionalObject(auth, "identifier"));
  if (identifier != nullptr) {
    CONCLAVE_ASSIGN_OR_RETURN(std::string type, RequiredString(*identifier, "type"));
    if (type != "m.id.user") {
      return UiaOutcome{
          AuthChallenge(kPasswordLogin, dict.session,
                        service::Forbidden("Only m.id.user identifiers are supported")),
          ""};
    }
    CONCLAVE_ASSIGN_OR_RETURN(user, RequiredString(*identifier, "user"));
  } else {
    CONCLAVE_ASSIGN_OR_RETURN(user, OptionalString(auth, "user"));
  }
  CONCLAVE_ASSIGN_OR_RETURN(std::string password, RequiredString(auth, "password"));

  std::string user_id = call.session.user_id;
  if (user) {
    auto resolved = call.hs.accounts().ResolveUser(*user);
    if (!resolved.ok() || (!user_id.empty() && *resolved != user_id)) {
      return UiaOutcome{AuthChallenge(kPasswordLogin, dict.session,
                                      service::Forbidden("Invalid user or password")),
                        ""};
    }
    user_id = *resolved;
  } else if (user_id.empty()) {
    return service::MissingParam("Missing 'auth.identifier'");
  }
  CONCLAVE_RETURN_IF_ERROR(
      call.hs.limiter().Take(core::StrCat("login/user/", user_id), call.hs.login_limit()));
  if (absl::Status checked = call.hs.accounts().CheckPassword(user_id, password); !checked.ok()) {
    return UiaOutcome{AuthChallenge(kPasswordLogin, dict.session, checked), ""};
  }
  call.hs.uia_sessions().Finish(dict.session);
  return UiaOutcome{std::nullopt, user_id};
}

namespace {

// The stage registration asks for: m.login.registration_token when the server has a
// registration token (registration_tokens.yaml, "Token-authenticated registration"), else
// m.login.dummy.
absl::StatusOr<UiaOutcome> RegistrationStage(Call& call, const object& body) {
  const std::string token = call.hs.options().registration_token;
  const std::string_view stage = token.empty() ? kDummyStage : kTokenStage;
  CONCLAVE_ASSIGN_OR_RETURN(AuthDict dict, ReadAuth(call, body, /*bind_body=*/false));
  if (!dict.session_error.ok()) {
    return UiaOutcome{AuthChallenge(stage, dict.session, dict.session_error), ""};
  }
  if (dict.auth == nullptr || !dict.type) return UiaOutcome{AuthChallenge(stage, dict.session), ""};
  if (*dict.type != stage) {
    return UiaOutcome{AuthChallenge(stage, dict.session, Unrecognized(stage)), ""};
  }
  if (stage == kTokenStage) {
    CONCLAVE_ASSIGN_OR_RETURN(std::optional<std::string> given,
                              OptionalString(*dict.auth, "token"));
    if (!given || !ConstantTimeEquals(*given, token)) {
      return UiaOutcome{
          AuthChallenge(stage, dict.session, service::Forbidden("Invalid registration token")), ""};
    }
  }
  call.hs.uia_sessions().Finish(dict.session);
  return UiaOutcome{};
}

// ----- handlers --------------------------------------------------------------------------------

// `refresh_token` and `expires_in_ms` of a refreshable session (login.yaml, registration.yaml,
// refresh.yaml); nothing for a session whose access token never expires.
void AddRefreshFields(const service::LoginResult& result, object& out) {
  if (!result.refresh_token.empty()) out["refresh_token"] = result.refresh_token;
  if (result.expires_in) out["expires_in_ms"] = absl::ToInt64Milliseconds(*result.expires_in);
}

// POST /v3/refresh (refresh.yaml): authenticated by the refresh token in the body, not by an
// access token. Rate limited like logins, per client IP address.
absl::StatusOr<boost::json::value> Refresh(Call& call) {
  CONCLAVE_RETURN_IF_ERROR(
      call.hs.limiter().Take(core::StrCat("login/ip/", call.remote_ip()), call.hs.login_limit()));
  CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
  CONCLAVE_ASSIGN_OR_RETURN(std::string refresh_token, RequiredString(body, "refresh_token"));
  CONCLAVE_ASSIGN_OR_RETURN(service::LoginResult result, call.hs.accounts().Refresh(refresh_token));
  object out{{"access_token", result.access_token}};
  AddRefreshFields(result, out);
  return out;
}

// GET /v3/capabilities (capabilities.yaml).
absl::StatusOr<boost::json::value> Capabilities(Call& call) {
  // Every version of the table, which createRoom and upgrades accept; the default is the
  // default_room_version option.
  object available;
  for (const service::RoomVersion& version : service::AllRoomVersions()) {
    available[version.id] = version.stable ? "stable" : "unstable";
  }
  const std::string default_version = call.hs.rooms().DefaultRoomVersion();
  object enabled{{"enabled", true}};
  object disabled{{"enabled", false}};
  object capabilities{
      {"m.change_password", enabled},
      {"m.room_versions", {{"default", default_version}, {"available", available}}},
      {"m.set_displayname", enabled},
      {"m.set_avatar_url", enabled},
      {"m.3pid_changes", disabled},
      {"m.get_login_token", enabled},
      // profile.cc stores these two fields only.
      {"m.profile_fields", {{"enabled", true}, {"allowed", array{"displayname", "avatar_url"}}}},
  };
  return object{{"capabilities", capabilities}};
}

// POST /v3/register (registration.yaml). Order per the spec: the rate limit, registration being
// enabled and the kind, then M_USER_IN_USE / M_INVALID_USERNAME "before performing
// User-Interactive Authentication", then the UIA stage, then the account.
absl::StatusOr<core::Response> Register(Call& call) {
  CONCLAVE_RETURN_IF_ERROR(call.hs.limiter().Take(core::StrCat("register/", call.remote_ip()),
                                                  call.hs.registration_limit()));
  const std::string kind = call.request.QueryParam("kind").value_or("user");
  if (kind != "user" && kind != "guest") {
    return service::InvalidParam("kind must be 'user' or 'guest'");
  }
  CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
  if (kind == "guest") {
    // "Guest access": the allow_guest_access option decides, not allow_registration; guests
    // pass no user-interactive stage and choose no username or password.
    CONCLAVE_ASSIGN_OR_RETURN(auto guest_display_name,
                              OptionalString(body, "initial_device_display_name"));
    CONCLAVE_ASSIGN_OR_RETURN(
        service::LoginResult guest,
        call.hs.accounts().RegisterGuest(guest_display_name, call.remote_ip()));
    return JsonResponse(object{{"user_id", guest.user_id},
                               {"home_server", call.hs.server_name()},
                               {"access_token", guest.access_token},
                               {"device_id", guest.device_id}});
  }
  if (!call.hs.options().allow_registration) {
    return service::Forbidden("Registration is disabled");
  }
  // A guest upgrading its account ("Guest access"): `username` is its own localpart.
  CONCLAVE_ASSIGN_OR_RETURN(auto guest_token, OptionalString(body, "guest_access_token"));
  CONCLAVE_ASSIGN_OR_RETURN(auto username, OptionalString(body, "username"));
  CONCLAVE_ASSIGN_OR_RETURN(auto password, OptionalString(body, "password"));
  CONCLAVE_ASSIGN_OR_RETURN(auto device_id, OptionalString(body, "device_id"));
  CONCLAVE_ASSIGN_OR_RETURN(auto display_name, OptionalString(body, "initial_device_display_name"));
  CONCLAVE_ASSIGN_OR_RETURN(auto inhibit_login, OptionalBool(body, "inhibit_login"));
  CONCLAVE_ASSIGN_OR_RETURN(auto refreshable, OptionalBool(body, "refresh_token"));

  const std::string localpart = username ? LowerUsername(*username) : std::string();
  if (guest_token && localpart.empty()) {
    return service::MissingParam("Missing 'username': the guest's localpart, to upgrade it");
  }
  if (!localpart.empty() && !guest_token) {
    CONCLAVE_RETURN_IF_ERROR(call.hs.accounts().CheckUsernameAvailable(localpart));
  }
  CONCLAVE_ASSIGN_OR_RETURN(UiaOutcome uia, RegistrationStage(call, body));
  if (uia.reply) return *std::move(uia.reply);
  // The spec leaves `password` optional, but without one (and without 3PIDs or SSO here) the
  // account could never log in.
  if (!password || password->empty()) return service::MissingParam("Missing 'password'");

  service::LoginResult result;
  if (guest_token) {
    CONCLAVE_ASSIGN_OR_RETURN(
        result, call.hs.accounts().UpgradeGuest(*guest_token, localpart, *password, device_id,
                                                display_name, inhibit_login.value_or(false),
                                                call.remote_ip(), refreshable.value_or(false)));
  } else {
    CONCLAVE_ASSIGN_OR_RETURN(
        result, call.hs.accounts().Register(localpart, *password, device_id, display_name,
                                            inhibit_login.value_or(false), call.remote_ip(),
                                            refreshable.value_or(false)));
  }
  object out{{"user_id", result.user_id}, {"home_server", call.hs.server_name()}};
  if (!result.access_token.empty()) {
    out["access_token"] = result.access_token;
    out["device_id"] = result.device_id;
    AddRefreshFields(result, out);
  }
  return JsonResponse(out);
}

// GET /v3/register/available (registration.yaml).
absl::StatusOr<boost::json::value> RegisterAvailable(Call& call) {
  CONCLAVE_RETURN_IF_ERROR(call.hs.limiter().Take(
      core::StrCat("register_available/", call.remote_ip()), call.hs.registration_limit()));
  std::optional<std::string> username = call.request.QueryParam("username");
  if (!username) return service::MissingParam("Missing query parameter 'username'");
  CONCLAVE_RETURN_IF_ERROR(call.hs.accounts().CheckUsernameAvailable(LowerUsername(*username)));
  return object{{"available", true}};
}

// GET /v1/register/m.login.registration_token/validity (registration_tokens.yaml), rate-limited
// as the spec asks, against guessing.
absl::StatusOr<boost::json::value> RegistrationTokenValidity(Call& call) {
  CONCLAVE_RETURN_IF_ERROR(call.hs.limiter().Take(core::StrCat("register_token/", call.remote_ip()),
                                                  call.hs.registration_limit()));
  const service::ServiceOptions settings = call.hs.options();
  if (!settings.allow_registration) {
    return service::Forbidden("Registration is not enabled on this homeserver");
  }
  std::optional<std::string> token = call.request.QueryParam("token");
  if (!token) return service::MissingParam("Missing query parameter 'token'");
  const std::string expected = settings.registration_token;
  const bool valid = !expected.empty() && ConstantTimeEquals(*token, expected);
  return object{{"valid", valid}};
}

// The answer of a successful login (login.yaml).
object LoginJson(Call& call, const service::LoginResult& result) {
  object out{{"user_id", result.user_id},
             {"access_token", result.access_token},
             {"device_id", result.device_id},
             {"home_server", call.hs.server_name()}};
  AddRefreshFields(result, out);
  return out;
}

// POST /v3/login (login.yaml): m.login.password and m.login.token ("Token-based" login, with a
// token from login/get_token).
absl::StatusOr<boost::json::value> Login(Call& call) {
  CONCLAVE_RETURN_IF_ERROR(
      call.hs.limiter().Take(core::StrCat("login/ip/", call.remote_ip()), call.hs.login_limit()));
  CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
  CONCLAVE_ASSIGN_OR_RETURN(std::string type, RequiredString(body, "type"));
  if (type == kTokenLogin) {
    CONCLAVE_ASSIGN_OR_RETURN(std::string token, RequiredString(body, "token"));
    CONCLAVE_ASSIGN_OR_RETURN(auto device_id, OptionalString(body, "device_id"));
    CONCLAVE_ASSIGN_OR_RETURN(auto display_name,
                              OptionalString(body, "initial_device_display_name"));
    CONCLAVE_ASSIGN_OR_RETURN(auto refreshable, OptionalBool(body, "refresh_token"));
    CONCLAVE_ASSIGN_OR_RETURN(
        service::LoginResult result,
        call.hs.accounts().LoginWithToken(token, device_id, display_name, call.remote_ip(),
                                          refreshable.value_or(false)));
    return LoginJson(call, result);
  }
  if (type != kPasswordLogin) {
    // login.yaml's own example of a 400: M_UNKNOWN "Bad login type."
    return service::MatrixStatus(absl::StatusCode::kInvalidArgument, service::Errcode::kUnknown,
                                 "Bad login type");
  }
  std::optional<std::string> user;
  CONCLAVE_ASSIGN_OR_RETURN(const object* identifier, OptionalObject(body, "identifier"));
  if (identifier != nullptr) {
    CONCLAVE_ASSIGN_OR_RETURN(std::string id_type, RequiredString(*identifier, "type"));
    if (id_type != "m.id.user") {
      return service::MatrixStatus(absl::StatusCode::kInvalidArgument, service::Errcode::kUnknown,
                                   "Only m.id.user identifiers are supported");
    }
    CONCLAVE_ASSIGN_OR_RETURN(user, RequiredString(*identifier, "user"));
  } else {
    CONCLAVE_ASSIGN_OR_RETURN(user, OptionalString(body, "user"));
    if (!user) {
      if (body.contains("medium") || body.contains("address")) {
        return service::MatrixStatus(absl::StatusCode::kInvalidArgument, service::Errcode::kUnknown,
                                     "Third-party identifiers are not supported");
      }
      return service::MissingParam("Missing 'identifier'");
    }
  }
  CONCLAVE_ASSIGN_OR_RETURN(std::string password, RequiredString(body, "password"));
  CONCLAVE_ASSIGN_OR_RETURN(auto device_id, OptionalString(body, "device_id"));
  CONCLAVE_ASSIGN_OR_RETURN(auto display_name, OptionalString(body, "initial_device_display_name"));
  CONCLAVE_ASSIGN_OR_RETURN(auto refreshable, OptionalBool(body, "refresh_token"));

  service::Accounts& accounts = call.hs.accounts();
  const std::string limit_key = accounts.ResolveUser(*user).value_or(LowerUsername(*user));
  CONCLAVE_RETURN_IF_ERROR(
      call.hs.limiter().Take(core::StrCat("login/user/", limit_key), call.hs.login_limit()));
  CONCLAVE_ASSIGN_OR_RETURN(
      service::LoginResult result,
      accounts.LoginWithPassword(*user, password, device_id, display_name, call.remote_ip(),
                                 refreshable.value_or(false)));
  return LoginJson(call, result);
}

// POST /v1/login/get_token (login_token.yaml): user-interactive auth at every call ("servers
// MUST always re-prompt"), rate limited per user like logins.
absl::StatusOr<core::Response> GetLoginToken(Call& call) {
  CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
  CONCLAVE_RETURN_IF_ERROR(call.hs.limiter().Take(core::StrCat("get_token/", call.session.user_id),
                                                  call.hs.login_limit()));
  CONCLAVE_ASSIGN_OR_RETURN(UiaOutcome uia, PasswordStage(call, body));
  if (uia.reply) return *std::move(uia.reply);
  CONCLAVE_ASSIGN_OR_RETURN(std::string token, call.hs.accounts().CreateLoginToken(
                                                   call.session.user_id, kLoginTokenLifetime));
  return JsonResponse(object{{"login_token", token},
                             {"expires_in_ms", absl::ToInt64Milliseconds(kLoginTokenLifetime)}});
}

// POST /v3/account/password (password_management.yaml). The access token is optional: without
// one, the UIA identifier names the account and every device may be logged out.
absl::StatusOr<core::Response> ChangePassword(Call& call) {
  CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
  CONCLAVE_ASSIGN_OR_RETURN(auto new_password, OptionalString(body, "new_password"));
  CONCLAVE_ASSIGN_OR_RETURN(auto logout_devices, OptionalBool(body, "logout_devices"));
  CONCLAVE_ASSIGN_OR_RETURN(UiaOutcome uia, PasswordStage(call, body));
  if (uia.reply) return *std::move(uia.reply);
  if (!new_password) return service::MissingParam("Missing 'new_password'");
  // "The homeserver SHOULD NOT revoke the access token provided in the request."
  return EmptyResponse(call.hs.accounts().ChangePassword(
      uia.user_id, *new_password, logout_devices.value_or(true), call.session.device_id));
}

// POST /v3/account/deactivate (account_deactivation.yaml).
absl::StatusOr<core::Response> Deactivate(Call& call) {
  CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
  CONCLAVE_RETURN_IF_ERROR(OptionalString(body, "id_server").status());
  // `erase` is accepted but does nothing more than deactivation does: no redacted copies are
  // served to later joiners.
  CONCLAVE_RETURN_IF_ERROR(OptionalBool(body, "erase").status());
  CONCLAVE_ASSIGN_OR_RETURN(UiaOutcome uia, PasswordStage(call, body));
  if (uia.reply) return *std::move(uia.reply);
  // Deactivate first, so no token can act while the rooms are left; it is idempotent, so if
  // leaving fails the client can retry with the password alone (the token is gone by then).
  CONCLAVE_RETURN_IF_ERROR(call.hs.accounts().Deactivate(uia.user_id));
  CONCLAVE_RETURN_IF_ERROR(call.hs.rooms().LeaveAll(uia.user_id));
  // No 3PIDs are ever bound here, and the spec says the result "must be `success` if the
  // homeserver has no identifiers to unbind for the user".
  return JsonResponse(object{{"id_server_unbind_result", "success"}});
}

object DeviceJson(const service::Device& device) {
  object out{{"device_id", device.device_id}};
  if (device.display_name) out["display_name"] = *device.display_name;
  if (device.last_seen_ip) out["last_seen_ip"] = *device.last_seen_ip;
  if (device.last_seen_ts) out["last_seen_ts"] = *device.last_seen_ts;
  return out;
}

}  // namespace

absl::Status RegisterAccountRoutes(Routes& routes) {
  CONCLAVE_RETURN_IF_ERROR(routes.Add("GET", "/v3/capabilities", Auth::kRequired, &Capabilities));

  // Register, login, password change and the other password stages (deactivate, device
  // deletion) hash passwords (argon2, tens of ms): the engine runs them on its blocking pool,
  // off the I/O threads.
  constexpr core::RouteOptions kHashes{.blocking = true};
  CONCLAVE_RETURN_IF_ERROR(routes.AddRaw("POST", "/v3/register", Auth::kNone, &Register, kHashes));
  CONCLAVE_RETURN_IF_ERROR(
      routes.Add("GET", "/v3/register/available", Auth::kNone, &RegisterAvailable));
  CONCLAVE_RETURN_IF_ERROR(routes.Add("GET", "/v1/register/m.login.registration_token/validity",
                                      Auth::kNone, &RegistrationTokenValidity));

  CONCLAVE_RETURN_IF_ERROR(
      routes.Add("GET", "/v3/login", Auth::kNone, [](Call&) -> absl::StatusOr<boost::json::value> {
        // login.yaml: `get_login_token: true` says login/get_token can make the tokens.
        return object{{"flows", array{object{{"type", kPasswordLogin}},
                                      object{{"type", kTokenLogin}, {"get_login_token", true}}}}};
      }));
  CONCLAVE_RETURN_IF_ERROR(routes.Add("POST", "/v3/login", Auth::kNone, &Login, kHashes));
  CONCLAVE_RETURN_IF_ERROR(routes.Add("POST", "/v3/refresh", Auth::kNone, &Refresh));
  CONCLAVE_RETURN_IF_ERROR(
      routes.AddRaw("POST", "/v1/login/get_token", Auth::kRequired, &GetLoginToken, kHashes));
  CONCLAVE_RETURN_IF_ERROR(routes.Add("POST", "/v3/logout", Auth::kRequired, [](Call& call) {
    return Empty(call.hs.accounts().Logout(call.session));
  }));
  CONCLAVE_RETURN_IF_ERROR(routes.Add("POST", "/v3/logout/all", Auth::kRequired, [](Call& call) {
    return Empty(call.hs.accounts().LogoutAll(call.session.user_id));
  }));
  CONCLAVE_RETURN_IF_ERROR(routes.Add("GET", "/v3/account/whoami", Auth::kRequired,
                                      [](Call& call) -> absl::StatusOr<boost::json::value> {
                                        return object{{"user_id", call.session.user_id},
                                                      {"device_id", call.session.device_id},
                                                      {"is_guest", call.session.is_guest}};
                                      }));
  CONCLAVE_RETURN_IF_ERROR(
      routes.AddRaw("POST", "/v3/account/password", Auth::kOptional, &ChangePassword, kHashes));
  CONCLAVE_RETURN_IF_ERROR(
      routes.AddRaw("POST", "/v3/account/deactivate", Auth::kOptional, &Deactivate, kHashes));

  CONCLAVE_RETURN_IF_ERROR(routes.Add(
      "GET", "/v3/devices", Auth::kRequired, [](Call& call) -> absl::StatusOr<boost::json::value> {
        CONCLAVE_ASSIGN_OR_RETURN(auto devices,
                                  call.hs.accounts().ListDevices(call.session.user_id));
        array out;
        for (const service::Device& device : devices) out.push_back(DeviceJson(device));
        return object{{"devices", std::move(out)}};
      }));
  CONCLAVE_RETURN_IF_ERROR(
      routes.Add("GET", "/v3/devices/{deviceId}", Auth::kRequired,
                 [](Call& call) -> absl::StatusOr<boost::json::value> {
                   CONCLAVE_ASSIGN_OR_RETURN(
                       service::Device device,
                       call.hs.accounts().GetDevice(call.session.user_id, call.Param("deviceId")));
                   return DeviceJson(device);
                 }));
  // Creating a device this way is for application services only (device_management.yaml), so
  // an unknown device is M_NOT_FOUND.
  CONCLAVE_RETURN_IF_ERROR(routes.Add(
      "PUT", "/v3/devices/{deviceId}", Auth::kRequired,
      [](Call& call) -> absl::StatusOr<boost::json::value> {
        CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
        CONCLAVE_ASSIGN_OR_RETURN(auto display_name, OptionalString(body, "display_name"));
        return Empty(call.hs.accounts().UpdateDevice(call.session.user_id, call.Param("deviceId"),
                                                     display_name));
      }));
  CONCLAVE_RETURN_IF_ERROR(routes.AddRaw(
      "DELETE", "/v3/devices/{deviceId}", Auth::kRequired,
      [](Call& call) -> absl::StatusOr<core::Response> {
        CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
        CONCLAVE_ASSIGN_OR_RETURN(UiaOutcome uia, PasswordStage(call, body));
        if (uia.reply) return *std::move(uia.reply);
        return EmptyResponse(
            call.hs.accounts().DeleteDevice(call.session.user_id, call.Param("deviceId")));
      },
      kHashes));
  CONCLAVE_RETURN_IF_ERROR(routes.AddRaw(
      "POST", "/v3/delete_devices", Auth::kRequired,
      [](Call& call) -> absl::StatusOr<core::Response> {
        CONCLAVE_ASSIGN_OR_RETURN(object body, call.JsonBody());
        const boost::json::value* devices = body.if_contains("devices");
        if (devices == nullptr) return service::MissingParam("Missing 'devices'");
        if (!devices->is_array()) return service::BadJson("'devices' must be an array");
        for (const boost::json::value& id : devices->get_array()) {
          if (!id.is_string()) return service::BadJson("'devices' must hold strings");
        }
        CONCLAVE_ASSIGN_OR_RETURN(UiaOutcome uia, PasswordStage(call, body));
        if (uia.reply) return *std::move(uia.reply);
        for (const boost::json::value& id : devices->get_array()) {
          CONCLAVE_RETURN_IF_ERROR(call.hs.accounts().DeleteDevice(
              call.session.user_id, std::string_view(id.get_string())));
        }
        return JsonResponse(object());
      },
      kHashes));
  return absl::OkStatus();
}

}  // namespace conclave::api
