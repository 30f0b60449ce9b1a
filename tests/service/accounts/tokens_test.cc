// Accounts' tokens beyond the plain access token: refresh tokens and expiring access tokens
// (Client-Server API "Refreshing access tokens", "Soft logout"), single-use login tokens
// (m.login.token) and OpenID tokens, over a real RocksDB with an injected clock.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "absl/time/time.h"
#include "conclave/service/accounts/accounts.h"
#include "conclave/service/homeserver.h"
#include "conclave/service/protocol/clock.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/storage/verify.h"
#include "service/testing/homeserver_fixture.h"
#include "service/testing/status_matchers.h"

namespace conclave::service {
namespace {

using test_util::HasErrcode;
using test_util::IsOk;

constexpr int64_t kFiveMinutesMs = 5 * 60 * 1000;

class TokensTest : public test_util::HomeserverTest {
 protected:
  void SetUp() override {
    HomeserverTest::SetUp();
    InstallClock();
  }
  void InstallClock() {
    accounts().SetClockForTesting([this] { return now_ms_; });
  }

  LoginResult RegisterRefreshable(const std::string& localpart) {
    auto result = accounts().Register(localpart, "pw", std::nullopt, std::nullopt,
                                      /*inhibit_login=*/false, "ip", /*refreshable=*/true);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : LoginResult{};
  }

  // Whether the database's maps agree (verify knows the refresh token rows).
  void ExpectVerifies() {
    auto report = VerifyDatabase(hs_->store());
    ASSERT_TRUE(report.ok()) << report.status();
    for (const VerifyProblem& p : report->problems) {
      ADD_FAILURE() << p.map << " " << p.key << ": " << p.problem;
    }
  }

  int64_t now_ms_ = NowMs();
};

TEST_F(TokensTest, RefreshableSessionsGetARefreshTokenAndAnExpiry) {
  LoginResult alice = RegisterRefreshable("alice");
  EXPECT_EQ(alice.refresh_token.size(), 40u);
  EXPECT_NE(alice.refresh_token, alice.access_token);
  EXPECT_EQ(alice.expires_in, absl::Minutes(5));

  auto plain = accounts().LoginWithPassword("alice", "pw", std::nullopt, std::nullopt, "ip");
  ASSERT_THAT(plain.status(), IsOk());
  EXPECT_EQ(plain->refresh_token, "");
  EXPECT_EQ(plain->expires_in, std::nullopt);

  auto refreshable = accounts().LoginWithPassword("alice", "pw", std::nullopt, std::nullopt, "ip",
                                                  /*refreshable=*/true);
  ASSERT_THAT(refreshable.status(), IsOk());
  EXPECT_FALSE(refreshable->refresh_token.empty());
  ExpectVerifies();
}

TEST_F(TokensTest, AnExpiredAccessTokenIsASoftLogoutAndPlainTokensNeverExpire) {
  LoginResult alice = RegisterRefreshable("alice");
  auto plain = accounts().LoginWithPassword("alice", "pw", std::nullopt, std::nullopt, "ip");
  ASSERT_THAT(plain.status(), IsOk());
  ASSERT_THAT(accounts().Authenticate(alice.access_token).status(), IsOk());  // now cached

  now_ms_ += kFiveMinutesMs - 1;
  EXPECT_THAT(accounts().Authenticate(alice.access_token).status(), IsOk());
  now_ms_ += 1;
  absl::Status expired = accounts().Authenticate(alice.access_token).status();
  EXPECT_THAT(expired, HasErrcode(Errcode::kUnknownToken));
  EXPECT_TRUE(IsSoftLogout(expired));

  // The same from the database, with an empty cache (a restart).
  Reopen();
  InstallClock();
  expired = accounts().Authenticate(alice.access_token).status();
  EXPECT_THAT(expired, HasErrcode(Errcode::kUnknownToken));
  EXPECT_TRUE(IsSoftLogout(expired));

  now_ms_ += 365LL * 24 * 3600 * 1000;
  EXPECT_THAT(accounts().Authenticate(plain->access_token).status(), IsOk());
  // An unknown token is no soft logout.
  absl::Status unknown = accounts().Authenticate("nonsense").status();
  EXPECT_THAT(unknown, HasErrcode(Errcode::kUnknownToken));
  EXPECT_FALSE(IsSoftLogout(unknown));
}

TEST_F(TokensTest, RefreshRotatesBothTokensOnTheSameDevice) {
  LoginResult alice = RegisterRefreshable("alice");
  now_ms_ += kFiveMinutesMs + 1;  // expired: a refresh still works
  auto refreshed = accounts().Refresh(alice.refresh_token);
  ASSERT_THAT(refreshed.status(), IsOk());
  EXPECT_EQ(refreshed->user_id, alice.user_id);
  EXPECT_EQ(refreshed->device_id, alice.device_id);
  EXPECT_NE(refreshed->access_token, alice.access_token);
  EXPECT_NE(refreshed->refresh_token, alice.refresh_token);
  EXPECT_EQ(refreshed->expires_in, absl::Minutes(5));

  auto session = accounts().Authenticate(refreshed->access_token);
  ASSERT_THAT(session.status(), IsOk());
  EXPECT_EQ(session->device_id, alice.device_id);
  // The old access token is gone, and is no soft logout any more.
  absl::Status old = accounts().Authenticate(alice.access_token).status();
  EXPECT_THAT(old, HasErrcode(Errcode::kUnknownToken));
  EXPECT_FALSE(IsSoftLogout(old));
  ExpectVerifies();
}

TEST_F(TokensTest, TheOldRefreshTokenWorksUntilTheNewAccessTokenIsUsed) {
  LoginResult alice = RegisterRefreshable("alice");
  auto first = accounts().Refresh(alice.refresh_token);
  ASSERT_THAT(first.status(), IsOk());
  // The client lost the answer and repeats the refresh: the unused first answer is void.
  auto second = accounts().Refresh(alice.refresh_token);
  ASSERT_THAT(second.status(), IsOk());
  EXPECT_THAT(accounts().Authenticate(first->access_token).status(),
              HasErrcode(Errcode::kUnknownToken));
  EXPECT_THAT(accounts().Refresh(first->refresh_token).status(),
              HasErrcode(Errcode::kUnknownToken));
  ExpectVerifies();

  // Using the new access token revokes the original refresh token.
  ASSERT_THAT(accounts().Authenticate(second->access_token).status(), IsOk());
  EXPECT_THAT(accounts().Refresh(alice.refresh_token).status(), HasErrcode(Errcode::kUnknownToken));
  EXPECT_THAT(accounts().Refresh(second->refresh_token).status(), IsOk());
  ExpectVerifies();
}

TEST_F(TokensTest, UsingTheNewRefreshTokenRevokesTheOldOne) {
  LoginResult alice = RegisterRefreshable("alice");
  auto first = accounts().Refresh(alice.refresh_token);
  ASSERT_THAT(first.status(), IsOk());
  auto second = accounts().Refresh(first->refresh_token);
  ASSERT_THAT(second.status(), IsOk());
  EXPECT_THAT(accounts().Refresh(alice.refresh_token).status(), HasErrcode(Errcode::kUnknownToken));
  // first's refresh token is the replaced one now: valid until second's tokens are used.
  ASSERT_THAT(accounts().Refresh(second->refresh_token).status(), IsOk());
  EXPECT_THAT(accounts().Refresh(first->refresh_token).status(),
              HasErrcode(Errcode::kUnknownToken));
  EXPECT_THAT(accounts().Refresh("never issued").status(), HasErrcode(Errcode::kUnknownToken));
  ExpectVerifies();
}

TEST_F(TokensTest, LogoutDeviceDeletionAndANewLoginRevokeRefreshTokens) {
  LoginResult alice = RegisterRefreshable("alice");
  auto refreshed = accounts().Refresh(alice.refresh_token);
  ASSERT_THAT(refreshed.status(), IsOk());
  ASSERT_THAT(accounts().Logout({alice.user_id, alice.device_id}), IsOk());
  EXPECT_THAT(accounts().Refresh(alice.refresh_token).status(), HasErrcode(Errcode::kUnknownToken));
  EXPECT_THAT(accounts().Refresh(refreshed->refresh_token).status(),
              HasErrcode(Errcode::kUnknownToken));

  auto phone = accounts().LoginWithPassword("alice", "pw", std::string("PHONE"), std::nullopt, "ip",
                                            /*refreshable=*/true);
  ASSERT_THAT(phone.status(), IsOk());
  ASSERT_THAT(accounts().DeleteDevice(alice.user_id, "PHONE"), IsOk());
  EXPECT_THAT(accounts().Refresh(phone->refresh_token).status(),
              HasErrcode(Errcode::kUnknownToken));

  // Logging in again with a device id replaces that device's refresh token too.
  auto tablet = accounts().LoginWithPassword("alice", "pw", std::string("TABLET"), std::nullopt,
                                             "ip", /*refreshable=*/true);
  ASSERT_THAT(tablet.status(), IsOk());
  auto again = accounts().LoginWithPassword("alice", "pw", std::string("TABLET"), std::nullopt,
                                            "ip", /*refreshable=*/true);
  ASSERT_THAT(again.status(), IsOk());
  EXPECT_THAT(accounts().Refresh(tablet->refresh_token).status(),
              HasErrcode(Errcode::kUnknownToken));
  EXPECT_THAT(accounts().Refresh(again->refresh_token).status(), IsOk());

  ASSERT_THAT(accounts().Deactivate(alice.user_id), IsOk());
  ExpectVerifies();
  auto report = VerifyDatabase(hs_->store());
  ASSERT_TRUE(report.ok());
  for (const auto& [map, count] : report->records) {
    if (map == "refresh_tokens") EXPECT_EQ(count, 0u) << "refresh tokens outlived deactivation";
  }
}

TEST_F(TokensTest, AZeroLifetimeGivesRefreshableSessionsPlainTokens) {
  core::Config config = DefaultConfig();
  config.raw.SetText("access_token_lifetime", "0s");
  Open(config);
  InstallClock();
  LoginResult alice = RegisterRefreshable("alice");
  EXPECT_EQ(alice.refresh_token, "");
  EXPECT_EQ(alice.expires_in, std::nullopt);
  now_ms_ += 365LL * 24 * 3600 * 1000;
  EXPECT_THAT(accounts().Authenticate(alice.access_token).status(), IsOk());
}

TEST_F(TokensTest, ALoginTokenLogsInOnceBeforeItExpires) {
  LoginResult alice = RegisterRefreshable("alice");
  auto token = accounts().CreateLoginToken(alice.user_id, absl::Minutes(2));
  ASSERT_THAT(token.status(), IsOk());
  auto login = accounts().LoginWithToken(*token, std::nullopt, std::string("Phone"), "ip");
  ASSERT_THAT(login.status(), IsOk());
  EXPECT_EQ(login->user_id, alice.user_id);
  EXPECT_NE(login->device_id, alice.device_id);
  EXPECT_THAT(accounts().Authenticate(login->access_token).status(), IsOk());
  // Single use.
  EXPECT_THAT(accounts().LoginWithToken(*token, std::nullopt, std::nullopt, "ip").status(),
              HasErrcode(Errcode::kForbidden));

  auto late = accounts().CreateLoginToken(alice.user_id, absl::Minutes(2));
  ASSERT_THAT(late.status(), IsOk());
  now_ms_ += 2 * 60 * 1000;
  EXPECT_THAT(accounts().LoginWithToken(*late, std::nullopt, std::nullopt, "ip").status(),
              HasErrcode(Errcode::kForbidden));
  EXPECT_THAT(accounts().LoginWithToken("unknown", std::nullopt, std::nullopt, "ip").status(),
              HasErrcode(Errcode::kForbidden));
  EXPECT_THAT(accounts().CreateLoginToken("@nobody:example.org", absl::Minutes(2)).status(),
              HasErrcode(Errcode::kNotFound));

  // A refreshable login by token, and a deactivated account's token.
  auto refreshable = accounts().CreateLoginToken(alice.user_id, absl::Minutes(2));
  ASSERT_THAT(refreshable.status(), IsOk());
  auto by_token = accounts().LoginWithToken(*refreshable, std::nullopt, std::nullopt, "ip",
                                            /*refreshable=*/true);
  ASSERT_THAT(by_token.status(), IsOk());
  EXPECT_FALSE(by_token->refresh_token.empty());
  auto before = accounts().CreateLoginToken(alice.user_id, absl::Minutes(2));
  ASSERT_THAT(before.status(), IsOk());
  ASSERT_THAT(accounts().Deactivate(alice.user_id), IsOk());
  EXPECT_THAT(accounts().LoginWithToken(*before, std::nullopt, std::nullopt, "ip").status(),
              HasErrcode(Errcode::kUserDeactivated));
}

TEST_F(TokensTest, OpenIdTokensNameTheirUserUntilTheyExpire) {
  LoginResult alice = RegisterRefreshable("alice");
  auto token = accounts().CreateOpenIdToken(alice.user_id, absl::Hours(1));
  ASSERT_THAT(token.status(), IsOk());
  auto user = accounts().OpenIdUser(*token);
  ASSERT_THAT(user.status(), IsOk());
  EXPECT_EQ(*user, alice.user_id);
  // It is no access token.
  EXPECT_THAT(accounts().Authenticate(*token).status(), HasErrcode(Errcode::kUnknownToken));
  EXPECT_THAT(accounts().OpenIdUser("unknown").status(), HasErrcode(Errcode::kUnknownToken));
  now_ms_ += 3600 * 1000;
  EXPECT_THAT(accounts().OpenIdUser(*token).status(), HasErrcode(Errcode::kUnknownToken));
}

}  // namespace
}  // namespace conclave::service
