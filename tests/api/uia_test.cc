// User-interactive authentication sessions are bound to the request they were started for
// (Client-Server API, "User-interactive authentication API": the session is for "subsequent
// attempts to authenticate in the same API call"), driven through the api's handlers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "api_harness.h"

namespace conclave::api::test_util {
namespace {

using boost::json::array;
using boost::json::object;

class UiaTest : public ApiTest {
 protected:
  // Logs "alice" (password "pw") in as `device_id`; the access token.
  std::string Login(const std::string& device_id) {
    ApiResponse r = Post("/_matrix/client/v3/login",
                         {{"type", "m.login.password"},
                          {"identifier", object{{"type", "m.id.user"}, {"user", "alice"}}},
                          {"password", "pw"},
                          {"device_id", device_id}});
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json.contains("access_token") ? std::string(r.json.at("access_token").as_string())
                                           : "";
  }
  static object PasswordAuth(const boost::json::value& session, const std::string& password) {
    return object{{"type", "m.login.password"},
                  {"identifier", object{{"type", "m.id.user"}, {"user", "alice"}}},
                  {"password", password},
                  {"session", session}};
  }
  ApiResponse DeleteDevice(const std::string& device_id, const object& body,
                           const std::string& token) {
    return Call("DELETE", "/_matrix/client/v3/devices/" + device_id, &body, token);
  }
  bool HasDevice(const std::string& device_id, const std::string& token) {
    return Get("/_matrix/client/v3/devices/" + device_id, token).status == 200;
  }
};

TEST_F(UiaTest, ASessionStartedForOneDeviceCannotDeleteAnother) {
  ASSERT_FALSE(Register("alice").empty());
  const std::string token = Login("MAIN");
  Login("PHONE");
  Login("LAPTOP");

  ApiResponse challenge = DeleteDevice("PHONE", {}, token);
  ASSERT_EQ(challenge.status, 401) << challenge.body;
  const boost::json::value session = challenge.json.at("session");

  // The session of "delete PHONE", with the right password, spent on LAPTOP: refused with a
  // fresh session, and LAPTOP stays.
  ApiResponse other = DeleteDevice("LAPTOP", {{"auth", PasswordAuth(session, "pw")}}, token);
  EXPECT_EQ(other.status, 401) << other.body;
  EXPECT_EQ(other.errcode(), service::Errcode::kForbidden);
  ASSERT_TRUE(other.json.contains("session"));
  EXPECT_NE(other.json.at("session"), session);
  EXPECT_TRUE(other.json.contains("flows"));
  EXPECT_TRUE(HasDevice("LAPTOP", token));

  // The same session completes the operation it was started for.
  ApiResponse done = DeleteDevice("PHONE", {{"auth", PasswordAuth(session, "pw")}}, token);
  EXPECT_EQ(done.status, 200) << done.body;
  EXPECT_FALSE(HasDevice("PHONE", token));
  EXPECT_TRUE(HasDevice("LAPTOP", token));
}

TEST_F(UiaTest, TheBodyIsPartOfTheOperation) {
  ASSERT_FALSE(Register("alice").empty());
  const std::string token = Login("MAIN");
  Login("PHONE");
  Login("LAPTOP");

  object phone{{"devices", array{"PHONE"}}};
  ApiResponse challenge = Post("/_matrix/client/v3/delete_devices", phone, token);
  ASSERT_EQ(challenge.status, 401) << challenge.body;
  const boost::json::value session = challenge.json.at("session");

  object laptop{{"devices", array{"LAPTOP"}}, {"auth", PasswordAuth(session, "pw")}};
  ApiResponse other = Post("/_matrix/client/v3/delete_devices", laptop, token);
  EXPECT_EQ(other.status, 401) << other.body;
  EXPECT_EQ(other.errcode(), service::Errcode::kForbidden);
  EXPECT_TRUE(HasDevice("LAPTOP", token));

  phone["auth"] = PasswordAuth(session, "pw");
  EXPECT_EQ(Post("/_matrix/client/v3/delete_devices", phone, token).status, 200);
  EXPECT_FALSE(HasDevice("PHONE", token));
}

TEST_F(UiaTest, AWrongPasswordKeepsTheSessionAndSuccessEndsIt) {
  ASSERT_FALSE(Register("alice").empty());
  const std::string token = Login("MAIN");
  Login("PHONE");
  Login("TABLET");

  const boost::json::value session = DeleteDevice("PHONE", {}, token).json.at("session");
  ApiResponse wrong = DeleteDevice("PHONE", {{"auth", PasswordAuth(session, "nope")}}, token);
  EXPECT_EQ(wrong.status, 401) << wrong.body;
  EXPECT_EQ(wrong.errcode(), service::Errcode::kForbidden);
  EXPECT_EQ(wrong.json.at("session"), session);  // retry within the same session
  EXPECT_TRUE(HasDevice("PHONE", token));

  ASSERT_EQ(DeleteDevice("PHONE", {{"auth", PasswordAuth(session, "pw")}}, token).status, 200);
  // Spent: the same session does not authenticate a second time.
  const std::string phone_again = Login("PHONE");
  ApiResponse replay = DeleteDevice("PHONE", {{"auth", PasswordAuth(session, "pw")}}, token);
  EXPECT_EQ(replay.status, 401) << replay.body;
  EXPECT_NE(replay.json.at("session"), session);
  EXPECT_TRUE(HasDevice("PHONE", token));
}

TEST_F(UiaTest, AnotherUsersSessionAndMadeUpSessionsAreRefused) {
  ASSERT_FALSE(Register("alice").empty());
  const std::string bob = Register("bob");
  const std::string token = Login("MAIN");
  Login("PHONE");

  // Bob starts a session for the same path; alice cannot complete it.
  const boost::json::value bobs = DeleteDevice("PHONE", {}, bob).json.at("session");
  ApiResponse stolen = DeleteDevice("PHONE", {{"auth", PasswordAuth(bobs, "pw")}}, token);
  EXPECT_EQ(stolen.status, 401) << stolen.body;
  EXPECT_EQ(stolen.errcode(), service::Errcode::kForbidden);

  ApiResponse made_up =
      DeleteDevice("PHONE", {{"auth", PasswordAuth("not-a-session", "pw")}}, token);
  EXPECT_EQ(made_up.status, 401) << made_up.body;
  EXPECT_TRUE(HasDevice("PHONE", token));

  // Without a session, one request with the password completes (nothing to bind).
  object no_session{{"type", "m.login.password"},
                    {"identifier", object{{"type", "m.id.user"}, {"user", "alice"}}},
                    {"password", "pw"}};
  EXPECT_EQ(DeleteDevice("PHONE", {{"auth", no_session}}, token).status, 200);
  EXPECT_FALSE(HasDevice("PHONE", token));
}

TEST_F(UiaTest, RegistrationCompletesWithTheSessionOfItsChallenge) {
  object body{{"username", "carol"}, {"password", "pw"}};
  ApiResponse challenge = Post("/_matrix/client/v3/register", body);
  ASSERT_EQ(challenge.status, 401) << challenge.body;
  body["auth"] = object{{"type", "m.login.dummy"}, {"session", challenge.json.at("session")}};
  ApiResponse done = Post("/_matrix/client/v3/register", body);
  EXPECT_EQ(done.status, 200) << done.body;
}

}  // namespace
}  // namespace conclave::api::test_util
