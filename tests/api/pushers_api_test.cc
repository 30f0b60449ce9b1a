// GET /pushers and POST /pushers/set (pusher.yaml) through the router, and pushers removed with
// their device.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>

#include "api_harness.h"

namespace conclave::api {
namespace {

using boost::json::object;
using service::Errcode;
using test_util::ApiResponse;

constexpr char kSet[] = "/_matrix/client/v3/pushers/set";
constexpr char kList[] = "/_matrix/client/v3/pushers";

object Pusher(std::string_view pushkey, std::string_view url, bool append = false) {
  object body = boost::json::parse(R"({"kind":"http","app_id":"com.example.app.ios",
      "app_display_name":"Mat Rix","device_display_name":"iPhone 9","profile_tag":"xyz",
      "lang":"en","data":{"format":"event_id_only"}})")
                    .as_object();
  body["pushkey"] = pushkey;
  body["data"].as_object()["url"] = url;
  body["append"] = append;
  return body;
}

constexpr char kGateway[] = "https://push.example.org/_matrix/push/v1/notify";

class PushersApiTest : public test_util::ApiTest {
 protected:
  size_t Count(const std::string& token) {
    ApiResponse r = Get(kList, token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json.at("pushers").as_array().size();
  }
};

TEST_F(PushersApiTest, SetListAndDelete) {
  const std::string alice = Register("alice");
  ASSERT_EQ(Post(kSet, Pusher("key1", kGateway), alice).status, 200);
  ApiResponse listed = Get(kList, alice);
  ASSERT_EQ(listed.json.at("pushers").as_array().size(), 1u);
  const object& pusher = listed.json.at("pushers").as_array()[0].as_object();
  EXPECT_EQ(pusher.at("pushkey"), "key1");
  EXPECT_EQ(pusher.at("kind"), "http");
  EXPECT_EQ(pusher.at("app_display_name"), "Mat Rix");
  EXPECT_EQ(pusher.at("profile_tag"), "xyz");
  EXPECT_EQ(pusher.at("data").as_object().at("url"), kGateway);
  EXPECT_FALSE(pusher.contains("device_id"));  // private
  // The same app id and pushkey again replaces it.
  ASSERT_EQ(
      Post(kSet, Pusher("key1", "http://localhost:5000/_matrix/push/v1/notify"), alice).status,
      200);
  EXPECT_EQ(Count(alice), 1u);
  object removal{{"kind", nullptr}, {"app_id", "com.example.app.ios"}, {"pushkey", "key1"}};
  ASSERT_EQ(Post(kSet, removal, alice).status, 200);
  EXPECT_EQ(Count(alice), 0u);
  EXPECT_EQ(Post(kSet, removal, alice).status, 200);  // removing an absent pusher succeeds
}

TEST_F(PushersApiTest, AppendDecidesWhetherOtherUsersKeepTheSamePushkey) {
  const std::string alice = Register("alice");
  const std::string bob = Register("bob");
  ASSERT_EQ(Post(kSet, Pusher("shared", kGateway), alice).status, 200);
  ASSERT_EQ(Post(kSet, Pusher("shared", kGateway, /*append=*/true), bob).status, 200);
  EXPECT_EQ(Count(alice), 1u);
  ASSERT_EQ(Post(kSet, Pusher("shared", kGateway), bob).status, 200);
  EXPECT_EQ(Count(alice), 0u);
  EXPECT_EQ(Count(bob), 1u);
}

TEST_F(PushersApiTest, BadPushersAreRefused) {
  const std::string alice = Register("alice");
  EXPECT_EQ(Post(kSet, Pusher("k", "https://push.example.org/notify"), alice).errcode(),
            Errcode::kInvalidParam);
  EXPECT_EQ(
      Post(kSet, Pusher("k", "ftp://push.example.org/_matrix/push/v1/notify"), alice).errcode(),
      Errcode::kInvalidParam);
  EXPECT_EQ(Post(kSet, Pusher("k", "https:///_matrix/push/v1/notify"), alice).errcode(),
            Errcode::kInvalidParam);
  EXPECT_EQ(Post(kSet, Pusher(std::string(513, 'k'), kGateway), alice).errcode(),
            Errcode::kInvalidParam);
  object email = Pusher("a@example.org", kGateway);
  email["kind"] = "email";
  EXPECT_EQ(Post(kSet, email, alice).errcode(), Errcode::kInvalidParam);
  object no_lang = Pusher("k", kGateway);
  no_lang.erase("lang");
  ApiResponse missing = Post(kSet, no_lang, alice);
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(missing.errcode(), Errcode::kMissingParam);
  object no_url = Pusher("k", kGateway);
  no_url["data"].as_object().erase("url");
  EXPECT_EQ(Post(kSet, no_url, alice).errcode(), Errcode::kMissingParam);
  object other_format = Pusher("k", kGateway);
  other_format["data"].as_object()["format"] = "full";
  EXPECT_EQ(Post(kSet, other_format, alice).errcode(), Errcode::kInvalidParam);
  EXPECT_EQ(Post(kSet, {{"app_id", "x"}, {"pushkey", "k"}}, alice).errcode(),
            Errcode::kMissingParam);
  EXPECT_EQ(Count(alice), 0u);
}

TEST_F(PushersApiTest, LogoutRemovesTheDevicesPushers) {
  const std::string alice = Register("alice");
  ApiResponse login =
      Post("/_matrix/client/v3/login", {{"type", "m.login.password"},
                                        {"identifier", {{"type", "m.id.user"}, {"user", "alice"}}},
                                        {"password", "pw"}});
  ASSERT_EQ(login.status, 200) << login.body;
  const std::string phone(login.json.at("access_token").as_string());
  ASSERT_EQ(Post(kSet, Pusher("from-phone", kGateway), phone).status, 200);
  ASSERT_EQ(Post(kSet, Pusher("from-laptop", kGateway), alice).status, 200);
  EXPECT_EQ(Count(alice), 2u);
  ASSERT_EQ(Post("/_matrix/client/v3/logout", {}, phone).status, 200);
  ApiResponse left = Get(kList, alice);
  ASSERT_EQ(left.json.at("pushers").as_array().size(), 1u);
  EXPECT_EQ(left.json.at("pushers").as_array()[0].at("pushkey"), "from-laptop");
}

}  // namespace
}  // namespace conclave::api
