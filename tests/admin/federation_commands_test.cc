// `federation keys` over a real Homeserver: the cache as stored by a fetch, and the errors. The
// fetch itself runs against a second server in tests/integration/federation_test.py.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "admin_fixture.h"
#include "conclave/service/federation/remote_keys.h"
#include "conclave/service/federation/server_key.h"
#include "conclave/service/federation/transaction_queue.h"
#include "conclave/service/protocol/clock.h"

namespace conclave::admin {
namespace {

using ::testing::HasSubstr;

class FederationCommandsTest : public test_util::AdminTest {};

TEST_F(FederationCommandsTest, KeysCachedShowsTheCache) {
  EXPECT_THAT(Ok("federation keys --cached remote.example"),
              HasSubstr("No cached keys of remote.example"));
  service::ServerSigningKey remote = service::GenerateSigningKey();
  auto answer = service::SignedServerKeys("remote.example", remote, service::NowMs() + 3600'000);
  ASSERT_TRUE(answer.ok());
  ASSERT_TRUE(hs_->remote_keys().Store("remote.example", *answer, service::NowMs()).ok());
  const std::string shown = Ok("federation keys --cached remote.example");
  EXPECT_THAT(shown, HasSubstr(remote.key_id));
  EXPECT_THAT(shown, HasSubstr("valid until"));
}

TEST_F(FederationCommandsTest, KeysRefusesBadNamesAndThisServer) {
  EXPECT_THAT(Err("federation keys 'not a name'").message(), HasSubstr("not a server name"));
  EXPECT_THAT(Err("federation keys example.org").message(), HasSubstr("is this server"));
}

TEST_F(FederationCommandsTest, StatusShowsTheQueuePerDestination) {
  EXPECT_THAT(Ok("federation status"), HasSubstr("No transactions sent or queued"));
  ASSERT_TRUE(hs_->transaction_queue()
                  .EnqueueEdu("remote.example", "m.direct_to_device", boost::json::object())
                  .ok());
  const std::string shown = Ok("federation status");
  EXPECT_THAT(shown, HasSubstr("remote.example"));
  EXPECT_THAT(shown, HasSubstr("1 destinations"));
  EXPECT_THAT(shown, HasSubstr("never"));  // no success yet
}

TEST_F(FederationCommandsTest, QueryProfileRefusesLocalAndMalformedUsers) {
  EXPECT_THAT(Err("federation query-profile @alice:example.org").message(),
              HasSubstr("a user of this server"));
  EXPECT_FALSE(Run("federation query-profile not-a-user").ok());
}

}  // namespace
}  // namespace conclave::admin
