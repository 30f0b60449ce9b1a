// Reporting content, whois, third-party identifiers and timestamp_to_event (src/api/reporting.cc,
// server_admin.cc, threepid.cc, timestamp.cc), through the Router (api_harness.h). Each test
// names the spec file it follows.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api_harness.h"

namespace conclave::api::test_util {
namespace {

using service::Errcode;
using ::testing::HasSubstr;

std::string RoomPath(const std::string& room_id, const std::string& rest) {
  return "/_matrix/client/v3/rooms/" + room_id + rest;
}

class ModerationTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    admin_ = Register("admin");  // the first user is the server's admin, joined to the admin room
    bob_ = Register("bob");
  }

  std::string CreateRoom(const std::string& token, boost::json::object body = {}) {
    ApiResponse r = Post("/_matrix/client/v3/createRoom", body, token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json.contains("room_id") ? std::string(r.json.at("room_id").as_string()) : "";
  }
  std::string Send(const std::string& token, const std::string& room, const std::string& body) {
    static int txn = 0;
    ApiResponse r = Put(RoomPath(room, "/send/m.room.message/t" + std::to_string(++txn)),
                        {{"msgtype", "m.text"}, {"body", body}}, token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json.contains("event_id") ? std::string(r.json.at("event_id").as_string()) : "";
  }
  // The bodies of the admin room's messages, newest first.
  std::vector<std::string> AdminRoomBodies() {
    std::vector<std::string> out;
    ApiResponse joined = Get("/_matrix/client/v3/joined_rooms", admin_);
    for (const auto& room : joined.json.at("joined_rooms").as_array()) {
      ApiResponse page =
          Get(RoomPath(std::string(room.as_string()), "/messages?dir=b&limit=50"), admin_);
      for (const auto& event : page.json.at("chunk").as_array()) {
        const auto* body = event.at("content").as_object().if_contains("body");
        if (body != nullptr && body->is_string()) out.emplace_back(body->as_string());
      }
    }
    return out;
  }
  // The room's events as /messages gives them, oldest first: (event_id, origin_server_ts).
  std::vector<std::pair<std::string, int64_t>> Timeline(const std::string& token,
                                                        const std::string& room) {
    ApiResponse page = Get(RoomPath(room, "/messages?dir=b&limit=100"), token);
    std::vector<std::pair<std::string, int64_t>> out;
    for (const auto& event : page.json.at("chunk").as_array()) {
      out.emplace_back(std::string(event.at("event_id").as_string()),
                       event.at("origin_server_ts").as_int64());
    }
    std::reverse(out.begin(), out.end());
    return out;
  }

  std::string admin_;
  std::string bob_;
};

// report_content.yaml, POST /rooms/{roomId}/report/{eventId}: the reporter must be joined; the
// report reaches the admins.
TEST_F(ModerationTest, AReportedEventReachesTheAdminRoom) {
  const std::string room = CreateRoom(bob_);
  const std::string event_id = Send(bob_, room, "spam spam spam");
  ApiResponse r = Post(RoomPath(room, "/report/" + event_id), {{"reason", "it is spam"}}, bob_);
  ASSERT_EQ(r.status, 200) << r.body;
  const std::vector<std::string> bodies = AdminRoomBodies();
  ASSERT_FALSE(bodies.empty());
  EXPECT_THAT(bodies.front(), HasSubstr("Report from @bob:"));
  EXPECT_THAT(bodies.front(), HasSubstr(event_id));
  EXPECT_THAT(bodies.front(), HasSubstr("it is spam"));

  const std::string carol = Register("carol");
  ApiResponse stranger = Post(RoomPath(room, "/report/" + event_id), {{"reason", "x"}}, carol);
  EXPECT_EQ(stranger.status, 404) << stranger.body;
  EXPECT_EQ(stranger.errcode(), Errcode::kNotFound);
  ApiResponse missing = Post(RoomPath(room, "/report/$nosuchevent"), {}, bob_);
  EXPECT_EQ(missing.status, 404) << missing.body;
  ApiResponse bad = Post(RoomPath(room, "/report/" + event_id), {{"reason", 5}}, bob_);
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_EQ(bad.errcode(), Errcode::kBadJson);
  EXPECT_EQ(AdminRoomBodies().size(), bodies.size());  // refused reports post nothing
}

// report_content.yaml, POST /rooms/{roomId}/report and /users/{userId}/report: `reason` is
// required; unknown rooms and users are 404.
TEST_F(ModerationTest, RoomsAndUsersCanBeReported) {
  const std::string room = CreateRoom(admin_);
  ASSERT_EQ(Post(RoomPath(room, "/report"), {{"reason", "bad room"}}, bob_).status, 200);
  EXPECT_THAT(AdminRoomBodies().front(), HasSubstr("room " + room));
  ApiResponse no_reason = Post(RoomPath(room, "/report"), {}, bob_);
  EXPECT_EQ(no_reason.status, 400);
  EXPECT_EQ(no_reason.errcode(), Errcode::kMissingParam);
  ApiResponse unknown =
      Post(RoomPath("!nosuchroom:example.org", "/report"), {{"reason", ""}}, bob_);
  EXPECT_EQ(unknown.status, 404);

  ApiResponse user =
      Post("/_matrix/client/v3/users/@admin:example.org/report", {{"reason", ""}}, bob_);
  EXPECT_EQ(user.status, 200) << user.body;
  EXPECT_THAT(AdminRoomBodies().front(), HasSubstr("user @admin:example.org"));
  EXPECT_THAT(AdminRoomBodies().front(), HasSubstr("(no reason given)"));
  ApiResponse nobody =
      Post("/_matrix/client/v3/users/@nobody:example.org/report", {{"reason", "x"}}, bob_);
  EXPECT_EQ(nobody.status, 404);
  EXPECT_EQ(nobody.errcode(), Errcode::kNotFound);
}

// admin.yaml, GET /admin/whois/{userId}: the user themself or a server admin.
TEST_F(ModerationTest, WhoisIsForTheUserAndAdmins) {
  ApiResponse self = Get("/_matrix/client/v3/admin/whois/@bob:example.org", bob_);
  ASSERT_EQ(self.status, 200) << self.body;
  EXPECT_EQ(self.json.at("user_id").as_string(), "@bob:example.org");
  ASSERT_EQ(self.json.at("devices").as_object().size(), 1u);
  const auto& device = self.json.at("devices").as_object().begin()->value();
  EXPECT_TRUE(device.at("sessions").as_array().at(0).as_object().contains("connections"));

  EXPECT_EQ(Get("/_matrix/client/v3/admin/whois/@bob:example.org", admin_).status, 200);
  ApiResponse other = Get("/_matrix/client/v3/admin/whois/@admin:example.org", bob_);
  EXPECT_EQ(other.status, 403);
  EXPECT_EQ(other.errcode(), Errcode::kForbidden);
  EXPECT_EQ(Get("/_matrix/client/v3/admin/whois/@nobody:example.org", admin_).status, 404);
}

// administrative_contact.yaml: no 3PIDs, adding one refused with M_THREEPID_DENIED.
TEST_F(ModerationTest, ThirdPartyIdentifiersAreRefusedClearly) {
  ApiResponse list = Get("/_matrix/client/v3/account/3pid", bob_);
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_TRUE(list.json.at("threepids").as_array().empty());
  ApiResponse token = Post("/_matrix/client/v3/account/3pid/email/requestToken",
                           {{"client_secret", "s"}, {"email", "a@b.c"}, {"send_attempt", 1}}, bob_);
  EXPECT_EQ(token.status, 403) << token.body;
  EXPECT_EQ(token.errcode(), Errcode::kThreepidDenied);
  ApiResponse reg = Post("/_matrix/client/v3/register/email/requestToken",
                         {{"client_secret", "s"}, {"email", "a@b.c"}, {"send_attempt", 1}});
  EXPECT_EQ(reg.errcode(), Errcode::kThreepidDenied);
  ApiResponse removed = Post("/_matrix/client/v3/account/3pid/delete",
                             {{"medium", "email"}, {"address", "a@b.c"}}, bob_);
  ASSERT_EQ(removed.status, 200) << removed.body;
  EXPECT_EQ(removed.json.at("id_server_unbind_result").as_string(), "no-support");
  EXPECT_EQ(Post("/_matrix/client/v3/account/3pid/delete", {{"medium", "email"}}, bob_).errcode(),
            Errcode::kMissingParam);
}

// room_event_by_timestamp.yaml: the closest visible event in each direction.
TEST_F(ModerationTest, TimestampToEventFindsTheClosestEventInEachDirection) {
  const std::string room = CreateRoom(bob_);
  for (int i = 0; i < 5; ++i) Send(bob_, room, "m" + std::to_string(i));
  const auto events = Timeline(bob_, room);
  ASSERT_GE(events.size(), 6u);
  const std::string base = "/_matrix/client/v1/rooms/" + room + "/timestamp_to_event";
  for (const auto& [id, ts] : events) {
    // b: the newest event at or before ts; f: the oldest at or after it.
    std::string newest_before, oldest_after;
    for (const auto& [other, other_ts] : events) {
      if (other_ts <= ts) newest_before = other;
      if (other_ts >= ts && oldest_after.empty()) oldest_after = other;
    }
    ApiResponse b = Get(base + "?dir=b&ts=" + std::to_string(ts), bob_);
    ASSERT_EQ(b.status, 200) << b.body;
    EXPECT_EQ(b.json.at("event_id").as_string(), newest_before);
    EXPECT_LE(b.json.at("origin_server_ts").as_int64(), ts);
    ApiResponse f = Get(base + "?dir=f&ts=" + std::to_string(ts), bob_);
    ASSERT_EQ(f.status, 200) << f.body;
    EXPECT_EQ(f.json.at("event_id").as_string(), oldest_after);
  }
  EXPECT_EQ(Get(base + "?dir=b&ts=0", bob_).errcode(), Errcode::kNotFound);
  EXPECT_EQ(Get(base + "?dir=f&ts=" + std::to_string(events.back().second + 1), bob_).errcode(),
            Errcode::kNotFound);
  EXPECT_EQ(Get(base + "?dir=x&ts=0", bob_).errcode(), Errcode::kInvalidParam);
  EXPECT_EQ(Get(base + "?dir=f", bob_).errcode(), Errcode::kMissingParam);
  // Someone who never joined a (shared-history) room sees none of it.
  EXPECT_EQ(Get(base + "?dir=f&ts=0", admin_).errcode(), Errcode::kNotFound);
  EXPECT_EQ(Get("/_matrix/client/v1/rooms/!nosuch:example.org/timestamp_to_event?dir=f&ts=0", bob_)
                .errcode(),
            Errcode::kNotFound);
}

}  // namespace
}  // namespace conclave::api::test_util
