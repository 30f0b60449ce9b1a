// `rooms` commands against a real Homeserver, and the effect of a room ban on joins.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "admin_fixture.h"
#include "conclave/service/admin_room/admin_room.h"
#include "conclave/service/protocol/errors.h"

namespace conclave::admin {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::StartsWith;

class RoomsCommandsTest : public test_util::AdminTest {
 protected:
  void SetUp() override {
    AdminTest::SetUp();
    alice_ = Register("alice");
    bob_ = Register("bob");
    lobby_ = CreateRoom(alice_, "Lobby", "lobby");
    quiet_ = CreateRoom(alice_, "Quiet");
    ASSERT_TRUE(hs_->rooms().Join(bob_, lobby_, std::nullopt).ok());
  }

  service::Session alice_, bob_;
  std::string lobby_, quiet_;
};

TEST_F(RoomsCommandsTest, ListRoomsBusiestFirst) {
  std::string out = Ok("rooms list-rooms");
  EXPECT_THAT(out, StartsWith("3 rooms\n"));  // with the admin room
  EXPECT_THAT(out, HasSubstr("room  "));
  size_t lobby = out.find(lobby_);
  size_t quiet = out.find(quiet_);
  ASSERT_NE(lobby, std::string::npos);
  ASSERT_NE(quiet, std::string::npos);
  EXPECT_LT(lobby, quiet);
  EXPECT_TRUE(test_util::HasRow(out, {lobby_, "#lobby:example.org", "Lobby", "2"})) << out;
  EXPECT_THAT(out, HasSubstr("#admins:example.org"));
}

TEST_F(RoomsCommandsTest, InfoByIdOrAlias) {
  std::string out = Ok("rooms info #lobby:example.org");
  EXPECT_TRUE(test_util::HasRow(out, {"room id", lobby_})) << out;
  EXPECT_TRUE(test_util::HasRow(out, {"name", "Lobby"}));
  EXPECT_TRUE(test_util::HasRow(out, {"creator", "@alice:example.org"}));
  EXPECT_TRUE(test_util::HasRow(out, {"joined members", "2"}));
  EXPECT_TRUE(test_util::HasRow(out, {"aliases", "#lobby:example.org"}));
  EXPECT_THAT(out, HasSubstr("members: @alice:example.org, @bob:example.org"));
  EXPECT_EQ(Ok("rooms info " + lobby_), out);
  EXPECT_EQ(Err("rooms info !nope:example.org").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Err("rooms info lobby").code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RoomsCommandsTest, Aliases) {
  EXPECT_EQ(Ok("rooms alias set hush " + quiet_),
            "#hush:example.org now points to " + quiet_ + ", by @root:example.org\n");
  EXPECT_EQ(Ok("rooms alias which #hush:example.org"),
            "#hush:example.org → " + quiet_ + " (\"Quiet\")\n");
  EXPECT_THAT(Ok("rooms alias list " + quiet_), HasSubstr("\n#hush:example.org\n"));
  std::string all = Ok("rooms alias list");
  EXPECT_TRUE(test_util::HasRow(all, {"#hush:example.org", quiet_})) << all;
  EXPECT_THAT(all, HasSubstr("#lobby:example.org"));
  EXPECT_EQ(service::ErrcodeOf(Err("rooms alias set hush " + lobby_)),
            service::Errcode::kUnknown);  // taken
  // Anyone's alias, whoever made it (alice made #lobby).
  EXPECT_EQ(Ok("rooms alias remove lobby"),
            "removed #lobby:example.org (it pointed to " + lobby_ + "), by @root:example.org\n");
  EXPECT_EQ(Err("rooms alias which lobby").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Err("rooms alias remove lobby").code(), absl::StatusCode::kNotFound);
}

TEST_F(RoomsCommandsTest, Directory) {
  EXPECT_EQ(Ok("rooms directory list"), "0 rooms in the public directory\n(none)\n");
  EXPECT_EQ(Ok("rooms directory publish #lobby:example.org"),
            "published " + lobby_ + " in the public room directory, by @root:example.org\n");
  std::string listed = Ok("rooms directory list");
  EXPECT_THAT(listed, StartsWith("1 room in the public directory\n"));
  EXPECT_TRUE(test_util::HasRow(listed, {lobby_, "#lobby:example.org", "Lobby", "2"})) << listed;
  EXPECT_TRUE(*hs_->rooms().IsPublished(lobby_));
  EXPECT_THAT(Ok("rooms directory unpublish " + lobby_), StartsWith("removed " + lobby_));
  EXPECT_FALSE(*hs_->rooms().IsPublished(lobby_));
}

TEST_F(RoomsCommandsTest, BanRoomEvictsLocalMembersAndRefusesJoins) {
  ASSERT_TRUE(hs_->rooms().SetPublished(lobby_, true).ok());
  std::string out = Ok("rooms moderation ban-room #lobby:example.org --reason spam");
  EXPECT_EQ(out, "banned " + lobby_ +
                     " (#lobby:example.org, \"Lobby\") on this server by "
                     "@root:example.org (reason: spam); local users can no longer join it\n"
                     "removed it from the public room directory\n"
                     "made 2 local users leave: @alice:example.org, @bob:example.org\n");
  EXPECT_EQ(Membership("@alice:example.org", lobby_), "leave");
  EXPECT_EQ(Membership("@bob:example.org", lobby_), "leave");
  EXPECT_FALSE(*hs_->rooms().IsPublished(lobby_));
  absl::Status join = hs_->rooms().Join(bob_, lobby_, std::nullopt).status();
  EXPECT_EQ(service::ErrcodeOf(join), service::Errcode::kForbidden);
  EXPECT_THAT(std::string(join.message()), HasSubstr("banned on this server"));
  EXPECT_EQ(service::ErrcodeOf(Err("users force-join-room bob " + lobby_)),
            service::Errcode::kForbidden);

  std::string list = Ok("rooms moderation list-banned-rooms");
  EXPECT_THAT(list, StartsWith("1 banned room\n"));
  EXPECT_TRUE(test_util::HasRow(list, {lobby_, "@root:example.org"})) << list;
  EXPECT_THAT(list, MatchesRegex("(.|\n)* UTC  spam\n"));
  EXPECT_THAT(Ok("rooms list-rooms"), MatchesRegex("(.|\n)*  banned\n(.|\n)*"));
  EXPECT_EQ(Err("rooms moderation ban-room " + lobby_).code(), absl::StatusCode::kAlreadyExists);

  EXPECT_EQ(Ok("rooms moderation unban-room " + lobby_),
            "lifted the ban of " + lobby_ +
                ", by @root:example.org; local users may join it "
                "again\n");
  EXPECT_TRUE(hs_->rooms().Join(bob_, lobby_, std::nullopt).ok());
  EXPECT_EQ(Err("rooms moderation unban-room " + lobby_).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Ok("rooms moderation list-banned-rooms"), "0 banned rooms\n(none)\n");
}

TEST_F(RoomsCommandsTest, BanWithoutMembersAndTheAdminRoomIsRefused) {
  ASSERT_TRUE(hs_->rooms().Leave(alice_, quiet_, std::nullopt).ok());
  EXPECT_THAT(Ok("rooms moderation ban-room " + quiet_, ""),
              HasSubstr("from the command line; local users can no longer join it\n"
                        "made 0 local users leave\n"));
  EXPECT_THAT(Ok("rooms moderation list-banned-rooms"), HasSubstr("(command line)"));
  absl::Status s = Err("rooms moderation ban-room #admins:example.org");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("the admin room cannot be banned"));
}

}  // namespace
}  // namespace conclave::admin
