// The api module's handlers through the Router, without sockets (api_harness.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "api_harness.h"

namespace conclave::api::test_util {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST_F(ApiTest, VersionsAnswersWithoutAuthentication) {
  ApiResponse r = Get("/_matrix/client/versions");
  EXPECT_EQ(r.status, 200);
  ASSERT_TRUE(r.json.contains("versions")) << r.body;
  EXPECT_TRUE(r.json.at("versions").is_array());
}

TEST_F(ApiTest, UnknownPathIsUnrecognized) {
  ApiResponse r = Get("/_matrix/client/v3/no_such_endpoint");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.errcode(), service::Errcode::kUnrecognized);
}

TEST_F(ApiTest, RegisteredUserIsWhoTheTokenSays) {
  const std::string token = Register("alice");
  ASSERT_FALSE(token.empty());
  ApiResponse r = Get("/_matrix/client/v3/account/whoami", token);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json.at("user_id").as_string(), "@alice:example.org");
}

TEST_F(ApiTest, MissingAndUnknownTokensAreRefused) {
  ApiResponse missing = Get("/_matrix/client/v3/account/whoami");
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(missing.errcode(), service::Errcode::kMissingToken);
  ApiResponse unknown = Get("/_matrix/client/v3/account/whoami", "not-a-token");
  EXPECT_EQ(unknown.status, 401);
  EXPECT_EQ(unknown.errcode(), service::Errcode::kUnknownToken);
}

TEST_F(ApiTest, SentMessageComesBackFromMessages) {
  const std::string token = Register("alice");
  ApiResponse created = Post("/_matrix/client/v3/createRoom", {{"preset", "private_chat"}}, token);
  ASSERT_EQ(created.status, 200) << created.body;
  const std::string room_id(created.json.at("room_id").as_string());
  EXPECT_THAT(room_id, StartsWith("!"));

  ApiResponse sent = Put("/_matrix/client/v3/rooms/" + room_id + "/send/m.room.message/txn1",
                         {{"msgtype", "m.text"}, {"body", "hello harness"}}, token);
  ASSERT_EQ(sent.status, 200) << sent.body;
  const std::string event_id(sent.json.at("event_id").as_string());

  // The same transaction id again: the same event, stored once.
  ApiResponse again = Put("/_matrix/client/v3/rooms/" + room_id + "/send/m.room.message/txn1",
                          {{"msgtype", "m.text"}, {"body", "hello harness"}}, token);
  EXPECT_EQ(again.json.at("event_id").as_string(), event_id);

  ApiResponse page = Get("/_matrix/client/v3/rooms/" + room_id + "/messages?dir=b&limit=5", token);
  ASSERT_EQ(page.status, 200) << page.body;
  int copies = 0;
  for (const auto& event : page.json.at("chunk").as_array()) {
    if (event.as_object().at("event_id").as_string() == event_id) ++copies;
  }
  EXPECT_EQ(copies, 1) << page.body;
}

TEST_F(ApiTest, NonMemberCannotSend) {
  const std::string alice = Register("alice");
  const std::string bob = Register("bob");
  ApiResponse created = Post("/_matrix/client/v3/createRoom", {{"preset", "private_chat"}}, alice);
  ASSERT_EQ(created.status, 200) << created.body;
  const std::string room_id(created.json.at("room_id").as_string());
  ApiResponse sent = Put("/_matrix/client/v3/rooms/" + room_id + "/send/m.room.message/t",
                         {{"msgtype", "m.text"}, {"body", "let me in"}}, bob);
  EXPECT_EQ(sent.status, 403);
  EXPECT_EQ(sent.errcode(), service::Errcode::kForbidden);
  EXPECT_THAT(sent.json.at("error").as_string().c_str(), HasSubstr("rule"));
}

}  // namespace
}  // namespace conclave::api::test_util
