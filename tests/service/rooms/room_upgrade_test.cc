// Room upgrades (Client-Server API "Room upgrades"), knocking ("Knocking on rooms") and
// restricted joins ("Restricted rooms") over a real RocksDB.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/array.hpp>
#include <string>

#include "conclave/service/protocol/errors.h"
#include "conclave/service/rooms/rooms.h"
#include "conclave/service/sync/sync.h"
#include "service/testing/homeserver_fixture.h"
#include "service/testing/status_matchers.h"

namespace conclave::service {
namespace {

using test_util::HasErrcode;
using ::testing::Contains;

std::string Str(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

class RoomUpgradeTest : public test_util::HomeserverTest {
 protected:
  void SetUp() override {
    HomeserverTest::SetUp();
    alice_ = Register("alice");
    bob_ = Register("bob");
    carol_ = Register("carol");
  }
  boost::json::object Content(const Session& who, const std::string& room, std::string_view type) {
    auto content = rooms().StateContent(who, room, type, "");
    return content.value_or(boost::json::object());
  }
  Session alice_, bob_, carol_;
};

TEST_F(RoomUpgradeTest, UpgradeCopiesStateMovesAliasesAndTombstonesTheOldRoom) {
  std::string old_room = CreateRoom(alice_, {.preset = CreateRoomRequest::Preset::kPublicChat,
                                             .published = true,
                                             .name = "Lounge",
                                             .topic = "chat",
                                             .room_alias_name = "lounge",
                                             .room_version = "10"});
  ASSERT_TRUE(rooms().Join(bob_, old_room, std::nullopt).ok());
  boost::json::object levels = Content(alice_, old_room, "m.room.power_levels");
  levels["users"].as_object()[bob_.user_id] = 50;
  ASSERT_TRUE(rooms().SendState(alice_, old_room, "m.room.power_levels", "", levels).ok());

  // Bob (50) may not send m.room.tombstone (100).
  EXPECT_THAT(rooms().UpgradeRoom(bob_, old_room, "12", {}), HasErrcode(Errcode::kForbidden));
  EXPECT_THAT(rooms().UpgradeRoom(alice_, old_room, "13", {}),
              HasErrcode(Errcode::kUnsupportedRoomVersion));
  auto upgraded = rooms().UpgradeRoom(alice_, old_room, "12", {bob_.user_id});
  ASSERT_TRUE(upgraded.ok()) << upgraded.status();
  const std::string& new_room = *upgraded;

  boost::json::object create = Content(alice_, new_room, "m.room.create");
  EXPECT_EQ(Str(create, "room_version"), "12");
  EXPECT_EQ(Str(create["predecessor"].as_object(), "room_id"), old_room);
  EXPECT_EQ(create["additional_creators"], boost::json::array{bob_.user_id.c_str()});
  EXPECT_EQ(Str(Content(alice_, new_room, "m.room.name"), "name"), "Lounge");
  EXPECT_EQ(Str(Content(alice_, new_room, "m.room.topic"), "topic"), "chat");
  EXPECT_EQ(Str(Content(alice_, new_room, "m.room.join_rules"), "join_rule"), "public");
  // The power levels as they were, minus the v12 creators (alice, and bob as additional one).
  boost::json::object new_levels = Content(alice_, new_room, "m.room.power_levels");
  EXPECT_FALSE(new_levels["users"].as_object().contains(alice_.user_id));
  EXPECT_FALSE(new_levels["users"].as_object().contains(bob_.user_id));
  EXPECT_EQ(new_levels["ban"], levels["ban"]);
  // Aliases, canonical alias and the directory listing moved.
  EXPECT_EQ(rooms().ResolveAlias("#lounge:example.org").value_or(""), new_room);
  EXPECT_EQ(Str(Content(alice_, new_room, "m.room.canonical_alias"), "alias"),
            "#lounge:example.org");
  EXPECT_FALSE(Content(alice_, old_room, "m.room.canonical_alias").contains("alias"));
  EXPECT_TRUE(rooms().IsPublished(new_room).value_or(false));
  EXPECT_FALSE(rooms().IsPublished(old_room).value_or(true));
  // The old room: tombstone, and events and invites need 50 now.
  boost::json::object tombstone = Content(alice_, old_room, "m.room.tombstone");
  EXPECT_EQ(Str(tombstone, "replacement_room"), new_room);
  boost::json::object old_levels = Content(alice_, old_room, "m.room.power_levels");
  EXPECT_EQ(old_levels["events_default"], 50);
  EXPECT_EQ(old_levels["invite"], 50);
  ASSERT_TRUE(rooms().Join(carol_, old_room, std::nullopt).ok());
  EXPECT_THAT(rooms().Send(carol_, old_room, "m.room.message", "t", {{"body", "hi"}}),
              HasErrcode(Errcode::kForbidden));
  // A second upgrade of the old room is refused; the new room takes messages.
  EXPECT_THAT(rooms().UpgradeRoom(alice_, old_room, "12", {}), HasErrcode(Errcode::kForbidden));
  EXPECT_TRUE(rooms().Join(carol_, new_room, std::nullopt).ok());
  EXPECT_TRUE(rooms().Send(carol_, new_room, "m.room.message", "t2", {{"body", "hi"}}).ok());
}

TEST_F(RoomUpgradeTest, UpgradeFromV12ToAnOlderVersionListsTheUpgrader) {
  std::string old_room = CreateRoom(alice_, {.room_version = "12"});
  auto upgraded = rooms().UpgradeRoom(alice_, old_room, "9", {bob_.user_id});
  ASSERT_TRUE(upgraded.ok()) << upgraded.status();
  boost::json::object create = Content(alice_, *upgraded, "m.room.create");
  EXPECT_EQ(Str(create, "creator"), alice_.user_id);
  EXPECT_FALSE(create.contains("additional_creators"));  // v9 has none
  // Alice had infinite power (no entry); in v9 she needs one, and the tombstone level (150)
  // she was raised to while copying is restored to her 100.
  boost::json::object levels = Content(alice_, *upgraded, "m.room.power_levels");
  EXPECT_EQ(levels["users"].as_object()[alice_.user_id], 100);
}

TEST_F(RoomUpgradeTest, KnockThenInviteOrRefuse) {
  std::string room = CreateRoom(alice_, {.room_alias_name = "door", .room_version = "10"});
  // Invite-only rooms take no knocks.
  EXPECT_THAT(rooms().Knock(bob_, room, std::nullopt), HasErrcode(Errcode::kForbidden));
  ASSERT_TRUE(
      rooms().SendState(alice_, room, "m.room.join_rules", "", {{"join_rule", "knock"}}).ok());
  auto knocked = rooms().Knock(bob_, "#door:example.org", std::string("let me in"));
  ASSERT_TRUE(knocked.ok()) << knocked.status();
  EXPECT_EQ(*knocked, room);
  auto memberships = rooms().UserRooms(bob_.user_id);
  ASSERT_TRUE(memberships.ok());
  ASSERT_EQ(memberships->size(), 1u);
  EXPECT_EQ((*memberships)[0].membership, "knock");
  // A knocker may not join uninvited; knocking twice is allowed (rule 4.7.3).
  EXPECT_THAT(rooms().Join(bob_, room, std::nullopt), HasErrcode(Errcode::kForbidden));
  // /sync lists the room under knock with stripped state including bob's knock.
  auto sync = hs_->sync().Run(bob_, SyncRequest{});
  ASSERT_TRUE(sync.ok()) << sync.status();
  ASSERT_TRUE(sync->response);
  ASSERT_EQ(sync->response->knock.size(), 1u);
  bool has_own_knock = false;
  for (const auto& e : sync->response->knock[0].invite_state) {
    const auto& o = e.as_object();
    if (Str(o, "type") == "m.room.member" && Str(o, "state_key") == bob_.user_id) {
      has_own_knock = Str(o.at("content").as_object(), "membership") == "knock";
    }
  }
  EXPECT_TRUE(has_own_knock);
  // Alice invites the knocker, who joins.
  ASSERT_TRUE(rooms().Invite(alice_, room, bob_.user_id, std::nullopt).ok());
  EXPECT_TRUE(rooms().Join(bob_, room, std::nullopt).ok());
  // Carol knocks and retracts it by leaving; in v6 there is no knocking at all.
  ASSERT_TRUE(rooms().Knock(carol_, room, std::nullopt).ok());
  EXPECT_TRUE(rooms().Leave(carol_, room, std::nullopt).ok());
  std::string v6 = CreateRoom(alice_, {.room_version = "6"});
  ASSERT_TRUE(
      rooms().SendState(alice_, v6, "m.room.join_rules", "", {{"join_rule", "knock"}}).ok());
  EXPECT_THAT(rooms().Knock(carol_, v6, std::nullopt), HasErrcode(Errcode::kForbidden));
}

TEST_F(RoomUpgradeTest, RestrictedJoinNeedsMembershipOfAnAllowedRoom) {
  std::string space = CreateRoom(alice_, {.preset = CreateRoomRequest::Preset::kPublicChat});
  std::string room = CreateRoom(alice_, {.room_version = "10"});
  boost::json::object rule{{"join_rule", "restricted"},
                           {"allow", boost::json::array{boost::json::object{
                                         {"type", "m.room_membership"}, {"room_id", space}}}}};
  ASSERT_TRUE(rooms().SendState(alice_, room, "m.room.join_rules", "", rule).ok());
  EXPECT_THAT(rooms().Join(bob_, room, std::nullopt), HasErrcode(Errcode::kForbidden));
  ASSERT_TRUE(rooms().Join(bob_, space, std::nullopt).ok());
  ASSERT_TRUE(rooms().Join(bob_, room, std::nullopt).ok());
  auto member = rooms().StateContent(bob_, room, "m.room.member", bob_.user_id);
  ASSERT_TRUE(member.ok()) << member.status();
  EXPECT_EQ(Str(*member, "join_authorised_via_users_server"), alice_.user_id);
  // Before v8 `restricted` means nothing: nobody gets in uninvited.
  std::string v7 = CreateRoom(alice_, {.room_version = "7"});
  ASSERT_TRUE(rooms().SendState(alice_, v7, "m.room.join_rules", "", rule).ok());
  EXPECT_THAT(rooms().Join(bob_, v7, std::nullopt), HasErrcode(Errcode::kForbidden));
  // knock_restricted (v10): a member of the allowed room joins; anyone else may knock.
  rule["join_rule"] = "knock_restricted";
  std::string kr = CreateRoom(alice_, {.room_version = "10"});
  ASSERT_TRUE(rooms().SendState(alice_, kr, "m.room.join_rules", "", rule).ok());
  EXPECT_TRUE(rooms().Join(bob_, kr, std::nullopt).ok());
  EXPECT_THAT(rooms().Join(carol_, kr, std::nullopt), HasErrcode(Errcode::kForbidden));
  EXPECT_TRUE(rooms().Knock(carol_, kr, std::nullopt).ok());
}

}  // namespace
}  // namespace conclave::service
