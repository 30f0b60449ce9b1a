// X-Matrix authentication of inbound requests (Server-Server API, "Request Authentication") and
// the query endpoints (query.yaml) through the router, with a remote server's keys in the
// cache as a fetch would have put them, and the notary answering for that server.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "conclave/service/accounts/accounts.h"
#include "conclave/service/federation/remote_keys.h"
#include "conclave/service/federation/request_auth.h"
#include "conclave/service/federation/server_key.h"
#include "conclave/service/homeserver.h"
#include "conclave/service/protocol/clock.h"
#include "conclave/service/protocol/crypto.h"
#include "conclave/service/protocol/signing.h"
#include "federation_fixture.h"

namespace conclave::federation {
namespace {

using api::test_util::ApiResponse;
using service::Errcode;
using ::testing::HasSubstr;

class FederationQueriesTest : public test_util::RemoteServerTest {};

constexpr char kProfile[] = "/_matrix/federation/v1/query/profile?user_id=%40alice%3Aexample.org";

TEST_F(FederationQueriesTest, SignedProfileQueryAnswers) {
  Register("alice");
  ASSERT_TRUE(service::Instance()->accounts().SetDisplayName("@alice:example.org", "Alice").ok());
  ApiResponse r = Signed(kProfile);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json.at("displayname"), "Alice");
  EXPECT_FALSE(r.json.contains("avatar_url"));
  ApiResponse field = Signed(std::string(kProfile) + "&field=displayname");
  ASSERT_EQ(field.status, 200) << field.body;
  EXPECT_EQ(field.json, (boost::json::object{{"displayname", "Alice"}}));
  ApiResponse missing_field = Signed(std::string(kProfile) + "&field=avatar_url");
  EXPECT_EQ(missing_field.status, 404) << missing_field.body;
  EXPECT_EQ(missing_field.errcode(), Errcode::kNotFound);
}

TEST_F(FederationQueriesTest, ProfileQueryErrors) {
  ApiResponse unknown = Signed(kProfile);
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  EXPECT_EQ(unknown.errcode(), Errcode::kNotFound);
  ApiResponse remote =
      Signed("/_matrix/federation/v1/query/profile?user_id=%40bob%3Aremote.example");
  EXPECT_EQ(remote.status, 400) << remote.body;
  EXPECT_EQ(remote.errcode(), Errcode::kInvalidParam);
  ApiResponse none = Signed("/_matrix/federation/v1/query/profile");
  EXPECT_EQ(none.status, 400) << none.body;
  EXPECT_EQ(none.errcode(), Errcode::kMissingParam);
}

TEST_F(FederationQueriesTest, BadCredentialsAre401Unauthorized) {
  Register("alice");
  struct Case {
    std::string what;
    ApiResponse response;
  };
  service::ServerSigningKey other = service::GenerateSigningKey();
  other.key_id = remote_.key_id;  // the right key id, the wrong key
  auto for_other_target = service::SignRequest(remote_, "remote.example", "example.org", "GET",
                                               "/_matrix/federation/v1/query/profile", nullptr);
  ASSERT_TRUE(for_other_target.ok());
  Case cases[] = {
      {"no header", Dispatch(kProfile, "")},
      {"bearer", Dispatch(kProfile, "Bearer abc")},
      {"bad signature", Signed(kProfile, "remote.example", "example.org", &other)},
      {"another destination", Signed(kProfile, "remote.example", "elsewhere.example")},
      {"signature of another request", Dispatch(kProfile, *for_other_target)},
      {"unreachable origin", Signed(kProfile, "stranger.example")},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    EXPECT_EQ(c.response.status, 401) << c.response.body;
    EXPECT_EQ(c.response.errcode(), Errcode::kUnauthorized) << c.response.body;
  }
  EXPECT_THAT(cases[5].response.json.at("error").as_string().c_str(),
              HasSubstr("stranger.example"));
}

TEST_F(FederationQueriesTest, DirectoryQueryAnswersLocalAliases) {
  const std::string token = Register("alice");
  ApiResponse room = Post("/_matrix/client/v3/createRoom", {{"room_alias_name", "lobby"}}, token);
  ASSERT_EQ(room.status, 200) << room.body;
  ApiResponse r =
      Signed("/_matrix/federation/v1/query/directory?room_alias=%23lobby%3Aexample.org");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json.at("room_id"), room.json.at("room_id"));
  EXPECT_EQ(r.json.at("servers"), (boost::json::array{"example.org"}));
  ApiResponse missing =
      Signed("/_matrix/federation/v1/query/directory?room_alias=%23nope%3Aexample.org");
  EXPECT_EQ(missing.status, 404) << missing.body;
  EXPECT_EQ(missing.errcode(), Errcode::kNotFound);
  ApiResponse unsigned_query =
      Dispatch("/_matrix/federation/v1/query/directory?room_alias=%23lobby%3Aexample.org", "");
  EXPECT_EQ(unsigned_query.status, 401);
}

TEST_F(FederationQueriesTest, NotaryServesCachedKeysCountersigned) {
  ApiResponse r = Get("/_matrix/key/v2/query/remote.example");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.json.at("server_keys").as_array().size(), 1u);
  const boost::json::object& keys = r.json.at("server_keys").as_array()[0].as_object();
  EXPECT_EQ(keys.at("server_name"), "remote.example");
  EXPECT_TRUE(service::VerifyJsonSignature(keys, "remote.example", remote_.key_id,
                                           service::UnpaddedBase64(remote_.pair.public_key))
                  .ok());
  const service::ServerSigningKey& ours = service::Instance()->signing_key();
  EXPECT_TRUE(service::VerifyJsonSignature(keys, "example.org", ours.key_id,
                                           service::UnpaddedBase64(ours.pair.public_key))
                  .ok());
  // An unreachable server without cached keys is left out.
  ApiResponse stranger =
      Post("/_matrix/key/v2/query",
           {{"server_keys", boost::json::object{{"stranger.example", boost::json::object()},
                                                {"remote.example", boost::json::object()}}}});
  ASSERT_EQ(stranger.status, 200) << stranger.body;
  ASSERT_EQ(stranger.json.at("server_keys").as_array().size(), 1u);
  EXPECT_EQ(stranger.json.at("server_keys").as_array()[0].at("server_name"), "remote.example");
}

}  // namespace
}  // namespace conclave::federation
