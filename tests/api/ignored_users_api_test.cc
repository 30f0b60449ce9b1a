// Ignoring users through the api's handlers (Client-Server API, "Ignoring Users"): PUT
// m.ignored_user_list is validated (400, nothing stored), and /sync and /messages stop showing
// the ignored user's events (not their state events) and invites at once.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api_harness.h"

namespace conclave::api::test_util {
namespace {

using boost::json::array;
using boost::json::object;

class IgnoredUsersApiTest : public ApiTest {
 protected:
  static std::string AccountData(const std::string& user) {
    return "/_matrix/client/v3/user/" + user + "/account_data/m.ignored_user_list";
  }
  // "type" or "m.room.message: body" of each event of a timeline or chunk.
  static std::vector<std::string> Describe(const boost::json::value* events) {
    std::vector<std::string> out;
    if (events == nullptr || !events->is_array()) return out;
    for (const auto& e : events->get_array()) {
      std::string type(e.at("type").as_string());
      if (type == "m.room.message") {
        type += ": " + std::string(e.at("content").at("body").as_string());
      }
      out.push_back(type);
    }
    return out;
  }
};

TEST_F(IgnoredUsersApiTest, ABadListIsRefusedAndNotStored) {
  const std::string bob = Register("bob");
  const std::string path = AccountData("@bob:example.org");
  for (const object& bad : std::vector<object>{
           object{},
           object{{"ignored_users", array{"@alice:example.org"}}},
           object{{"ignored_users", object{{"@alice:example.org", "yes"}}}},
       }) {
    ApiResponse r = Put(path, bad, bob);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.errcode(), service::Errcode::kBadJson) << r.body;
  }
  ApiResponse not_user = Put(path, {{"ignored_users", object{{"alice", object()}}}}, bob);
  EXPECT_EQ(not_user.status, 400) << not_user.body;
  EXPECT_EQ(not_user.errcode(), service::Errcode::kInvalidParam);
  ApiResponse stored = Get(path, bob);
  EXPECT_EQ(stored.status, 404) << stored.body;

  ASSERT_EQ(Put(path, {{"ignored_users", object{{"@alice:example.org", object()}}}}, bob).status,
            200);
  ApiResponse read = Get(path, bob);
  ASSERT_EQ(read.status, 200) << read.body;
  EXPECT_TRUE(read.json.at("ignored_users").as_object().contains("@alice:example.org"));
}

TEST_F(IgnoredUsersApiTest, SyncAndMessagesHideTheIgnoredUsersEventsAndInvites) {
  const std::string alice = Register("alice");
  const std::string bob = Register("bob");
  ApiResponse created = Post("/_matrix/client/v3/createRoom", {{"preset", "public_chat"}}, alice);
  ASSERT_EQ(created.status, 200) << created.body;
  const std::string room(created.json.at("room_id").as_string());
  ASSERT_EQ(Post("/_matrix/client/v3/rooms/" + room + "/join", object{}, bob).status, 200);
  ASSERT_EQ(Put("/_matrix/client/v3/rooms/" + room + "/send/m.room.message/t1",
                {{"msgtype", "m.text"}, {"body", "from alice"}}, alice)
                .status,
            200);
  ASSERT_EQ(
      Put("/_matrix/client/v3/rooms/" + room + "/state/m.room.topic", {{"topic", "kept"}}, alice)
          .status,
      200);
  ApiResponse first = Get("/_matrix/client/v3/sync?timeout=0", bob);
  ASSERT_EQ(first.status, 200) << first.body;

  ASSERT_EQ(Put(AccountData("@bob:example.org"),
                {{"ignored_users", object{{"@alice:example.org", object()}}}}, bob)
                .status,
            200);
  ApiResponse invite_room =
      Post("/_matrix/client/v3/createRoom", {{"invite", array{"@bob:example.org"}}}, alice);
  ASSERT_EQ(invite_room.status, 200) << invite_room.body;

  // The next incremental sync already hides alice's invite; a fresh one her messages.
  ApiResponse next = Get("/_matrix/client/v3/sync?timeout=0&since=" +
                             std::string(first.json.at("next_batch").as_string()),
                         bob);
  ASSERT_EQ(next.status, 200) << next.body;
  const auto* rooms = next.json.if_contains("rooms");
  const auto* invites = rooms != nullptr ? rooms->as_object().if_contains("invite") : nullptr;
  EXPECT_TRUE(invites == nullptr || invites->as_object().empty()) << next.body;

  ApiResponse fresh = Get("/_matrix/client/v3/sync?timeout=0", bob);
  ASSERT_EQ(fresh.status, 200) << fresh.body;
  const auto timeline = Describe(
      fresh.json.at("rooms").at("join").at(room).at("timeline").as_object().if_contains("events"));
  EXPECT_THAT(timeline, ::testing::Not(::testing::Contains("m.room.message: from alice")));
  EXPECT_THAT(timeline, ::testing::Contains("m.room.topic"));

  ApiResponse messages = Get("/_matrix/client/v3/rooms/" + room + "/messages?dir=b", bob);
  ASSERT_EQ(messages.status, 200) << messages.body;
  const auto chunk = Describe(messages.json.if_contains("chunk"));
  EXPECT_THAT(chunk, ::testing::Not(::testing::Contains("m.room.message: from alice")));
  EXPECT_THAT(chunk, ::testing::Contains("m.room.topic"));
  // The old /initialSync runs the same sync: no invite from alice, none of her messages.
  ApiResponse old = Get("/_matrix/client/v3/initialSync", bob);
  ASSERT_EQ(old.status, 200) << old.body;
  for (const auto& r : old.json.at("rooms").as_array()) {
    EXPECT_NE(r.at("membership").as_string(), "invite") << old.body;
    if (r.at("room_id").as_string() == room) {
      EXPECT_THAT(Describe(r.at("messages").as_object().if_contains("chunk")),
                  ::testing::Not(::testing::Contains("m.room.message: from alice")));
    }
  }
  ApiResponse others = Get("/_matrix/client/v3/rooms/" + room + "/messages?dir=b", alice);
  EXPECT_THAT(Describe(others.json.if_contains("chunk")),
              ::testing::Contains("m.room.message: from alice"));
}

}  // namespace
}  // namespace conclave::api::test_util
