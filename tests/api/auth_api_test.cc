// Authentication beyond passwords, through the api's handlers: refresh tokens (Client-Server API
// "Refreshing access tokens", refresh.yaml, the `refresh_token` flag of login.yaml and
// registration.yaml) and soft logout; login tokens (login/get_token, m.login.token,
// login_token.yaml); OpenID tokens (openid.yaml and the federation userinfo endpoint).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "api_harness.h"
#include "conclave/service/homeserver.h"
#include "conclave/service/protocol/clock.h"

namespace conclave::api::test_util {
namespace {

using boost::json::array;
using boost::json::object;

constexpr char kRefresh[] = "/_matrix/client/v3/refresh";
constexpr char kWhoami[] = "/_matrix/client/v3/account/whoami";

class AuthApiTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    service::Homeserver* hs = service::Instance();
    ASSERT_NE(hs, nullptr);
    hs->accounts().SetClockForTesting([this] { return now_ms_; });
  }

  static std::string Text(const ApiResponse& r, const char* key) {
    const auto* v = r.json.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->get_string()) : "";
  }

  ApiResponse RegisterRefreshable(const std::string& localpart) {
    return Post("/_matrix/client/v3/register", {{"username", localpart},
                                                {"password", "pw"},
                                                {"refresh_token", true},
                                                {"auth", object{{"type", "m.login.dummy"}}}});
  }
  ApiResponse LoginAlice(bool refresh_token) {
    return Post("/_matrix/client/v3/login",
                {{"type", "m.login.password"},
                 {"identifier", object{{"type", "m.id.user"}, {"user", "alice"}}},
                 {"password", "pw"},
                 {"refresh_token", refresh_token}});
  }

  int64_t now_ms_ = service::NowMs();
};

TEST_F(AuthApiTest, RegisterAndLoginWithRefreshTokenTrueAnswerRefreshTokenAndExpiry) {
  ApiResponse reg = RegisterRefreshable("alice");
  ASSERT_EQ(reg.status, 200) << reg.body;
  EXPECT_FALSE(Text(reg, "refresh_token").empty());
  ASSERT_TRUE(reg.json.contains("expires_in_ms")) << reg.body;
  EXPECT_EQ(reg.json.at("expires_in_ms").to_number<int64_t>(), 300000);

  ApiResponse refreshable = LoginAlice(true);
  ASSERT_EQ(refreshable.status, 200) << refreshable.body;
  EXPECT_FALSE(Text(refreshable, "refresh_token").empty());
  EXPECT_TRUE(refreshable.json.contains("expires_in_ms"));

  // Clients that did not ask get a token that never expires, as before.
  ApiResponse plain = LoginAlice(false);
  ASSERT_EQ(plain.status, 200) << plain.body;
  EXPECT_FALSE(plain.json.contains("refresh_token")) << plain.body;
  EXPECT_FALSE(plain.json.contains("expires_in_ms")) << plain.body;
  ApiResponse registered =
      Post("/_matrix/client/v3/register",
           {{"username", "bob"}, {"password", "pw"}, {"auth", object{{"type", "m.login.dummy"}}}});
  ASSERT_EQ(registered.status, 200) << registered.body;
  EXPECT_FALSE(registered.json.contains("refresh_token")) << registered.body;

  ApiResponse bad = Post("/_matrix/client/v3/login", {{"type", "m.login.password"},
                                                      {"user", "alice"},
                                                      {"password", "pw"},
                                                      {"refresh_token", "yes"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.errcode(), service::Errcode::kBadJson);
}

TEST_F(AuthApiTest, AnExpiredAccessTokenIsASoftLogoutUntilRefreshed) {
  ApiResponse reg = RegisterRefreshable("alice");
  ASSERT_EQ(reg.status, 200) << reg.body;
  const std::string access = Text(reg, "access_token");
  const std::string refresh = Text(reg, "refresh_token");
  ASSERT_EQ(Get(kWhoami, access).status, 200);

  now_ms_ += 300000;
  ApiResponse expired = Get(kWhoami, access);
  EXPECT_EQ(expired.status, 401) << expired.body;
  EXPECT_EQ(expired.errcode(), service::Errcode::kUnknownToken);
  ASSERT_TRUE(expired.json.contains("soft_logout")) << expired.body;
  EXPECT_EQ(expired.json.at("soft_logout"), true);

  ApiResponse refreshed = Post(kRefresh, {{"refresh_token", refresh}});
  ASSERT_EQ(refreshed.status, 200) << refreshed.body;
  const std::string new_access = Text(refreshed, "access_token");
  const std::string new_refresh = Text(refreshed, "refresh_token");
  EXPECT_FALSE(new_access.empty());
  EXPECT_FALSE(new_refresh.empty());
  EXPECT_NE(new_refresh, refresh);
  EXPECT_EQ(refreshed.json.at("expires_in_ms").to_number<int64_t>(), 300000);

  ApiResponse whoami = Get(kWhoami, new_access);
  ASSERT_EQ(whoami.status, 200) << whoami.body;
  EXPECT_EQ(whoami.json.at("device_id"), reg.json.at("device_id"));
  // The old access token is gone for good: no soft logout for it now.
  ApiResponse old = Get(kWhoami, access);
  EXPECT_EQ(old.status, 401);
  EXPECT_FALSE(old.json.contains("soft_logout")) << old.body;
  // The new access token was used: the old refresh token is revoked.
  ApiResponse reused = Post(kRefresh, {{"refresh_token", refresh}});
  EXPECT_EQ(reused.status, 401) << reused.body;
  EXPECT_EQ(reused.errcode(), service::Errcode::kUnknownToken);
}

TEST_F(AuthApiTest, RefreshRefusesUnknownTokensAndBadBodies) {
  ApiResponse unknown = Post(kRefresh, {{"refresh_token", "never issued"}});
  EXPECT_EQ(unknown.status, 401) << unknown.body;
  EXPECT_EQ(unknown.errcode(), service::Errcode::kUnknownToken);
  ApiResponse missing = Post(kRefresh, object{});
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(missing.errcode(), service::Errcode::kMissingParam);
  ApiResponse wrong_type = Post(kRefresh, {{"refresh_token", 5}});
  EXPECT_EQ(wrong_type.status, 400);
  EXPECT_EQ(wrong_type.errcode(), service::Errcode::kBadJson);
  // An access token is no refresh token.
  ApiResponse reg = RegisterRefreshable("alice");
  ASSERT_EQ(reg.status, 200);
  ApiResponse access = Post(kRefresh, {{"refresh_token", Text(reg, "access_token")}});
  EXPECT_EQ(access.status, 401);
}

TEST_F(AuthApiTest, LogoutAndDeviceDeletionRevokeRefreshTokens) {
  ApiResponse reg = RegisterRefreshable("alice");
  ASSERT_EQ(reg.status, 200) << reg.body;
  ASSERT_EQ(Post("/_matrix/client/v3/logout", object{}, Text(reg, "access_token")).status, 200);
  ApiResponse after_logout = Post(kRefresh, {{"refresh_token", Text(reg, "refresh_token")}});
  EXPECT_EQ(after_logout.status, 401) << after_logout.body;
  EXPECT_EQ(after_logout.errcode(), service::Errcode::kUnknownToken);

  ApiResponse main = LoginAlice(false);
  ApiResponse phone = LoginAlice(true);
  ASSERT_EQ(phone.status, 200);
  const std::string phone_device(phone.json.at("device_id").as_string());
  const object body{
      {"auth", object{{"type", "m.login.password"},
                      {"identifier", object{{"type", "m.id.user"}, {"user", "alice"}}},
                      {"password", "pw"}}}};
  ApiResponse deleted = Call("DELETE", "/_matrix/client/v3/devices/" + phone_device, &body,
                             Text(main, "access_token"));
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  ApiResponse after_delete = Post(kRefresh, {{"refresh_token", Text(phone, "refresh_token")}});
  EXPECT_EQ(after_delete.status, 401) << after_delete.body;
}

// login/get_token with the password stage, then m.login.token; `auth` with `session`.
object PasswordAuth(const boost::json::value& session) {
  return object{{"type", "m.login.password"},
                {"identifier", object{{"type", "m.id.user"}, {"user", "alice"}}},
                {"password", "pw"},
                {"session", session}};
}

TEST_F(AuthApiTest, GetTokenNeedsTheUserInteractiveStageAndItsTokenLogsInOnce) {
  const std::string alice = Register("alice");
  ApiResponse challenge = Post("/_matrix/client/v1/login/get_token", object{}, alice);
  ASSERT_EQ(challenge.status, 401) << challenge.body;
  EXPECT_EQ(challenge.json.at("flows").as_array().at(0).at("stages").as_array().at(0),
            "m.login.password");
  ApiResponse wrong =
      Post("/_matrix/client/v1/login/get_token",
           {{"auth", object{{"type", "m.login.password"},
                            {"identifier", object{{"type", "m.id.user"}, {"user", "alice"}}},
                            {"password", "wrong"},
                            {"session", challenge.json.at("session")}}}},
           alice);
  EXPECT_EQ(wrong.status, 401) << wrong.body;
  EXPECT_EQ(wrong.errcode(), service::Errcode::kForbidden);
  EXPECT_FALSE(wrong.json.contains("login_token"));

  ApiResponse granted = Post("/_matrix/client/v1/login/get_token",
                             {{"auth", PasswordAuth(challenge.json.at("session"))}}, alice);
  ASSERT_EQ(granted.status, 200) << granted.body;
  EXPECT_EQ(granted.json.at("expires_in_ms").to_number<int64_t>(), 120000);
  const std::string token = Text(granted, "login_token");
  ASSERT_FALSE(token.empty());

  ApiResponse login = Post("/_matrix/client/v3/login",
                           {{"type", "m.login.token"}, {"token", token}, {"refresh_token", true}});
  ASSERT_EQ(login.status, 200) << login.body;
  EXPECT_EQ(login.json.at("user_id"), "@alice:example.org");
  EXPECT_FALSE(Text(login, "refresh_token").empty());
  EXPECT_EQ(Get(kWhoami, Text(login, "access_token")).status, 200);

  ApiResponse again =
      Post("/_matrix/client/v3/login", {{"type", "m.login.token"}, {"token", token}});
  EXPECT_EQ(again.status, 403) << again.body;
  EXPECT_EQ(again.errcode(), service::Errcode::kForbidden);
  ApiResponse unknown =
      Post("/_matrix/client/v3/login", {{"type", "m.login.token"}, {"token", "made up"}});
  EXPECT_EQ(unknown.status, 403);
  EXPECT_EQ(unknown.errcode(), service::Errcode::kForbidden);
  ApiResponse missing = Post("/_matrix/client/v3/login", {{"type", "m.login.token"}});
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(missing.errcode(), service::Errcode::kMissingParam);
  // Without an access token there is no get_token.
  EXPECT_EQ(Post("/_matrix/client/v1/login/get_token", object{}).errcode(),
            service::Errcode::kMissingToken);
}

TEST_F(AuthApiTest, ALoginTokenExpiresAfterTwoMinutes) {
  const std::string alice = Register("alice");
  ApiResponse challenge = Post("/_matrix/client/v1/login/get_token", object{}, alice);
  ApiResponse granted = Post("/_matrix/client/v1/login/get_token",
                             {{"auth", PasswordAuth(challenge.json.at("session"))}}, alice);
  ASSERT_EQ(granted.status, 200) << granted.body;
  now_ms_ += 120000;
  ApiResponse late = Post("/_matrix/client/v3/login",
                          {{"type", "m.login.token"}, {"token", Text(granted, "login_token")}});
  EXPECT_EQ(late.status, 403) << late.body;
  EXPECT_EQ(late.errcode(), service::Errcode::kForbidden);
}

TEST_F(AuthApiTest, LoginFlowsAndCapabilitiesAdvertiseLoginTokens) {
  ApiResponse flows = Get("/_matrix/client/v3/login");
  ASSERT_EQ(flows.status, 200);
  bool token_flow = false;
  for (const auto& flow : flows.json.at("flows").as_array()) {
    if (flow.at("type") == "m.login.token") {
      token_flow = true;
      EXPECT_EQ(flow.at("get_login_token"), true);
    }
  }
  EXPECT_TRUE(token_flow) << flows.body;
  const std::string alice = Register("alice");
  ApiResponse caps = Get("/_matrix/client/v3/capabilities", alice);
  ASSERT_EQ(caps.status, 200);
  EXPECT_EQ(caps.json.at("capabilities").at("m.get_login_token").at("enabled"), true);
}

TEST_F(AuthApiTest, OpenIdTokensAreForYourselfAndUserinfoNamesTheUser) {
  const std::string alice = Register("alice");
  Register("bob");
  ApiResponse other =
      Post("/_matrix/client/v3/user/@bob:example.org/openid/request_token", object{}, alice);
  EXPECT_EQ(other.status, 403) << other.body;
  EXPECT_EQ(other.errcode(), service::Errcode::kForbidden);

  ApiResponse mine =
      Post("/_matrix/client/v3/user/@alice:example.org/openid/request_token", object{}, alice);
  ASSERT_EQ(mine.status, 200) << mine.body;
  EXPECT_EQ(mine.json.at("token_type"), "Bearer");
  EXPECT_EQ(mine.json.at("matrix_server_name"), "example.org");
  EXPECT_EQ(mine.json.at("expires_in").to_number<int64_t>(), 3600);
  const std::string token = Text(mine, "access_token");
  ASSERT_FALSE(token.empty());

  ApiResponse info = Get("/_matrix/federation/v1/openid/userinfo?access_token=" + token);
  ASSERT_EQ(info.status, 200) << info.body;
  EXPECT_EQ(info.json.at("sub"), "@alice:example.org");
  // An OpenID token grants no Client-Server access.
  EXPECT_EQ(Get(kWhoami, token).status, 401);

  ApiResponse unknown = Get("/_matrix/federation/v1/openid/userinfo?access_token=nope");
  EXPECT_EQ(unknown.status, 401) << unknown.body;
  EXPECT_EQ(unknown.errcode(), service::Errcode::kUnknownToken);
  ApiResponse missing = Get("/_matrix/federation/v1/openid/userinfo");
  EXPECT_EQ(missing.status, 401) << missing.body;
  now_ms_ += 3600 * 1000;
  ApiResponse expired = Get("/_matrix/federation/v1/openid/userinfo?access_token=" + token);
  EXPECT_EQ(expired.status, 401) << expired.body;
  EXPECT_EQ(expired.errcode(), service::Errcode::kUnknownToken);
}

}  // namespace
}  // namespace conclave::api::test_util
