// GET /_matrix/federation/v1/version and the key exchange (Server-Server API, "Retrieving server
// keys") through the router, with the database, service, api and federation modules loaded.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "conclave/core/build_info.h"
#include "conclave/service/homeserver.h"
#include "conclave/service/protocol/clock.h"
#include "conclave/service/protocol/crypto.h"
#include "conclave/service/protocol/signing.h"
#include "federation_fixture.h"
#include "service/testing/option_docs.h"

namespace conclave::federation {
namespace {

using api::test_util::ApiResponse;
using service::Errcode;

// The notary's fetches of matrix.org fail at once ("offline with no cached keys": left out).
class FederationKeysTest : public test_util::FederationTest {
 protected:
  FederationKeysTest() : FederationTest({"matrix.org"}) {}

  const service::ServerSigningKey& Key() { return service::Instance()->signing_key(); }

  // The answer to `body` (sent as is) on POST /_matrix/key/v2/query.
  ApiResponse PostRaw(const std::string& body) {
    return Dispatch("POST", "/_matrix/key/v2/query", body);
  }

  // Checks `keys` is this server's key object, self-signed, valid about `valid_for` from now.
  void ExpectOwnKeys(const boost::json::object& keys, absl::Duration valid_for) {
    const std::string key_id = Key().key_id;
    const std::string public_key = service::UnpaddedBase64(Key().pair.public_key);
    EXPECT_EQ(keys.at("server_name"), "example.org");
    EXPECT_EQ(keys.at("verify_keys"),
              (boost::json::object{{key_id, boost::json::object{{"key", public_key}}}}));
    EXPECT_EQ(keys.at("old_verify_keys"), boost::json::object());
    const int64_t expected = service::NowMs() + absl::ToInt64Milliseconds(valid_for);
    ASSERT_TRUE(keys.at("valid_until_ts").is_int64());
    EXPECT_NEAR(static_cast<double>(keys.at("valid_until_ts").as_int64()),
                static_cast<double>(expected), 60'000.0);
    EXPECT_TRUE(service::VerifyJsonSignature(keys, "example.org", key_id, public_key).ok());
    boost::json::object tampered = keys;
    tampered["valid_until_ts"] = keys.at("valid_until_ts").as_int64() + 1;
    EXPECT_FALSE(service::VerifyJsonSignature(tampered, "example.org", key_id, public_key).ok());
  }
};

TEST_F(FederationKeysTest, VersionNamesTheImplementation) {
  ApiResponse r = Get("/_matrix/federation/v1/version");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json,
            (boost::json::object{
                {"server", boost::json::object{{"name", "conclave"},
                                               {"version", std::string(core::Version())}}}}));
}

TEST_F(FederationKeysTest, ServerKeysAreSelfSignedAndValidForADay) {
  ApiResponse r = Get("/_matrix/key/v2/server");
  ASSERT_EQ(r.status, 200) << r.body;
  ExpectOwnKeys(r.json, absl::Hours(24));
}

TEST_F(FederationKeysTest, QueryAnswersForOurOwnNameAndLeavesUnreachableServersOut) {
  ApiResponse ours = Get("/_matrix/key/v2/query/example.org?minimum_valid_until_ts=1234567890");
  ASSERT_EQ(ours.status, 200) << ours.body;
  ASSERT_EQ(ours.json.at("server_keys").as_array().size(), 1u);
  ExpectOwnKeys(ours.json.at("server_keys").as_array()[0].as_object(), absl::Hours(24));

  ApiResponse other = Get("/_matrix/key/v2/query/matrix.org");
  ASSERT_EQ(other.status, 200) << other.body;
  EXPECT_EQ(other.json, (boost::json::object{{"server_keys", boost::json::array()}}));

  ApiResponse bad = Get("/_matrix/key/v2/query/example.org?minimum_valid_until_ts=soon");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.errcode(), Errcode::kInvalidParam);
}

TEST_F(FederationKeysTest, BatchQueryAnswersForOurOwnNameAmongOthers) {
  ApiResponse both =
      Post("/_matrix/key/v2/query",
           {{"server_keys",
             boost::json::object{
                 {"matrix.org", boost::json::object()},
                 {"example.org",
                  boost::json::object{{"ed25519:other",
                                       boost::json::object{{"minimum_valid_until_ts", 1234}}}}}}}});
  ASSERT_EQ(both.status, 200) << both.body;
  ASSERT_EQ(both.json.at("server_keys").as_array().size(), 1u);
  ExpectOwnKeys(both.json.at("server_keys").as_array()[0].as_object(), absl::Hours(24));

  ApiResponse none = Post("/_matrix/key/v2/query", {{"server_keys", boost::json::object()}});
  ASSERT_EQ(none.status, 200) << none.body;
  EXPECT_EQ(none.json, (boost::json::object{{"server_keys", boost::json::array()}}));
}

TEST_F(FederationKeysTest, MalformedBatchQueriesAreRefused) {
  struct Case {
    std::string body;
    Errcode errcode;
  } cases[] = {
      {"{", Errcode::kNotJson},
      {"[]", Errcode::kBadJson},
      {"{}", Errcode::kMissingParam},
      {R"({"server_keys": []})", Errcode::kBadJson},
      {R"({"server_keys": {"example.org": 1}})", Errcode::kBadJson},
      {R"({"server_keys": {"example.org": {"ed25519:a": 1}}})", Errcode::kBadJson},
      {R"({"server_keys": {"example.org": {"ed25519:a": {"minimum_valid_until_ts": "x"}}}})",
       Errcode::kBadJson},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);
    ApiResponse r = PostRaw(c.body);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.errcode(), c.errcode) << r.body;
  }
}

TEST_F(FederationKeysTest, KeyValidForComesFromTheOption) {
  core::RawConfig fresh;
  fresh.SetText("key_valid_for", "2h");
  ASSERT_TRUE(server_->sections().Reload(fresh).ok());
  ApiResponse r = Get("/_matrix/key/v2/server");
  ASSERT_EQ(r.status, 200) << r.body;
  ExpectOwnKeys(r.json, absl::Hours(2));
}

TEST_F(FederationKeysTest, OptionsAreDocumented) {
  std::vector<core::OptionRead> read;
  for (const core::OptionRead& option : server_->sections().InForce()) {
    if (option.module == "federation") read.push_back(option);
  }
  ASSERT_EQ(read.size(), 1u);
  testing_support::ExpectOptionsDocumented(CONCLAVE_SOURCE_DIR "/docs/configuration.md", read);
}

TEST_F(FederationKeysTest, OtherFederationPathsAreStillUnrecognized) {
  for (const char* path : {"/_matrix/federation/v1/publicRooms", "/_matrix/federation/v2/send/1",
                           "/_matrix/federation/v1/query/unknown"}) {
    ApiResponse r = Get(path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(r.errcode(), Errcode::kUnrecognized) << path;
  }
}

}  // namespace
}  // namespace conclave::federation
