// Room version 1's state resolution (content/rooms/v1.md, "State resolution"): the union less
// the conflicting keys, then power levels, join rules and members by ascending depth (each later
// one kept only while it passes the rules), then every other key by the deepest event that
// passes. Each test asserts the whole resolved state map.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "conclave/service/protocol/crypto.h"
#include "state_res_fixture.h"

namespace conclave::service::state_res_test {
namespace {

// v1 orders by sha1(event_id): FIPS 180-2's "abc" vector.
TEST(Sha1Test, MatchesTheStandardVector) {
  EXPECT_EQ(HexEncode(Sha1("abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(Sha1("").size(), 20u);
}

class StateResV1Test : public ::testing::Test {
 protected:
  StateResV1Test() : room_("1") { room_.AddStartingRoom(); }

  StateIds Resolve(std::initializer_list<std::string_view> names) {
    absl::StatusOr<StateIds> resolved = room_.Resolve(names);
    EXPECT_TRUE(resolved.ok()) << resolved.status();
    return resolved.ok() ? *resolved : StateIds();
  }

  RoomGraph room_;
};

// The shallower power levels go in first; the deeper one follows because Alice may send it.
TEST_F(StateResV1Test, PowerLevelsByAscendingDepthWhileTheyPass) {
  room_.State("PC", "m.room.power_levels", kAlice, "",
              room_.Levels({{kAlice, 100}, {kCharlie, 50}}), {"START"});
  room_.Message("M", kZara, {"START"});
  room_.State("PB", "m.room.power_levels", kAlice, "", room_.Levels({{kAlice, 100}, {kBob, 50}}),
              {"M"});
  EXPECT_EQ(Resolve({"PB", "PC"}), room_.Overlay("START", {"PB"}));
}

// The deeper power levels are Bob's, who has no power under the shallower ones: it stops there.
TEST_F(StateResV1Test, ADeeperPowerLevelsEventThatFailsIsDropped) {
  room_.State("PC", "m.room.power_levels", kAlice, "",
              room_.Levels({{kAlice, 100}, {kCharlie, 50}}), {"START"});
  room_.State("PA", "m.room.power_levels", kAlice, "", room_.Levels({{kAlice, 100}, {kBob, 50}}),
              {"START"});
  room_.State("PB", "m.room.power_levels", kBob, "",
              room_.Levels({{kAlice, 100}, {kBob, 50}, {kZara, 50}}), {"PA"});
  EXPECT_EQ(Resolve({"PB", "PC"}), room_.Overlay("START", {"PC"}));
}

// Alice promotes Bob, who sets the topic two events later; on the other branch she bans him and
// sets the topic. Power levels: PA; Bob's membership: the ban; the topic: Bob's is deeper but
// fails (he is banned in R), so Alice's is taken.
TEST_F(StateResV1Test, OtherKeysTakeTheDeepestEventThatPasses) {
  room_.State("PA", "m.room.power_levels", kAlice, "", room_.Levels({{kAlice, 100}, {kBob, 50}}),
              {"START"});
  room_.Message("M", kZara, {"PA"});
  room_.State("TB", "m.room.topic", kBob, "", room_.TopicContent("bob's"), {"M"});
  room_.Member("BAN", kAlice, kBob, "ban", {"START"});
  room_.State("TA", "m.room.topic", kAlice, "", room_.TopicContent("alice's"), {"BAN"});
  EXPECT_EQ(room_.events().FindEvent(RoomGraph::Id("TB"))->at("depth").as_int64(), 11);
  EXPECT_EQ(room_.events().FindEvent(RoomGraph::Id("TA"))->at("depth").as_int64(), 10);
  EXPECT_EQ(Resolve({"TB", "TA"}), room_.Overlay("START", {"PA", "BAN", "TA"}));
}

// Two topics at the same depth: the lower sha1(event_id) wins.
TEST_F(StateResV1Test, EqualDepthsGoToTheLowerSha1OfTheEventId) {
  room_.State("TX", "m.room.topic", kAlice, "", room_.TopicContent("x"), {"START"});
  room_.State("TY", "m.room.topic", kAlice, "", room_.TopicContent("y"), {"START"});
  bool x_lower = Sha1(RoomGraph::Id("TX")) < Sha1(RoomGraph::Id("TY"));
  EXPECT_EQ(Resolve({"TX", "TY"}), room_.Overlay("START", {x_lower ? "TX" : "TY"}));
  EXPECT_EQ(Resolve({"TY", "TX"}), room_.Overlay("START", {x_lower ? "TX" : "TY"}));
}

// A key only one state has is no conflict in v1: Bob's topic stays although he is banned on the
// other branch. Version 2 counts the key as conflicted, checks the topic and drops it.
TEST_F(StateResV1Test, AKeyMissingFromOneStateIsNoConflictUnlikeV2) {
  for (const char* version : {"1", "2"}) {
    SCOPED_TRACE(version);
    RoomGraph room(version);
    room.AddStartingRoom();
    room.State("PA", "m.room.power_levels", kAlice, "", room.Levels({{kAlice, 100}, {kBob, 50}}),
               {"START"});
    room.State("TB", "m.room.topic", kBob, "", room.TopicContent("bob's"), {"PA"});
    room.Member("BAN", kAlice, kBob, "ban", {"PA"});
    absl::StatusOr<StateIds> resolved = room.Resolve({"TB", "BAN"});
    ASSERT_TRUE(resolved.ok()) << resolved.status();
    if (room.version().state_resolution == StateResolution::kV1) {
      EXPECT_EQ(*resolved, room.Overlay("PA", {"TB", "BAN"}));
    } else {
      EXPECT_EQ(*resolved, room.Overlay("PA", {"BAN"}));
    }
  }
}

// Join rules conflict (IJR, public, against Alice's later JR, invite-only): the shallower first,
// then JR, which Alice may send. Evelyn's join on the other branch is a key only that state has:
// no conflict, so v1 keeps it unchecked (v2 re-checks it against "invite" and drops it:
// StateResV2Test.JoinRacingAJoinRulesChangeLoses).
TEST_F(StateResV1Test, JoinRulesByDepthAndAnUncontestedJoinStays) {
  object invite;
  invite["join_rule"] = "invite";
  room_.State("JR", "m.room.join_rules", kAlice, "", std::move(invite), {"START"});
  room_.Member("ME", kEvelyn, kEvelyn, "join", {"START"});
  EXPECT_EQ(Resolve({"JR", "ME"}), room_.Overlay("START", {"JR", "ME"}));
}

// When no event of an ordinary key passes, the last one tried (the shallowest) is kept.
TEST_F(StateResV1Test, WhenNoEventOfAKeyPassesTheShallowestIsKept) {
  room_.Member("BAN", kAlice, kBob, "ban", {"START"});
  room_.State("T1", "m.room.topic", kBob, "", room_.TopicContent("1"), {"START"});
  room_.Message("M", kZara, {"T1"});
  room_.State("T2", "m.room.topic", kBob, "", room_.TopicContent("2"), {"M"});
  StateIds first = room_.Overlay("BAN", {"T1"});
  StateIds second = room_.Overlay("BAN", {"T2"});
  std::vector<StateIds> sets = {first, second};
  absl::StatusOr<StateIds> resolved = ResolveState(room_.version(), sets, room_.events());
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(*resolved, first);
}

TEST_F(StateResV1Test, UnknownConflictedEventIsNotFound) {
  room_.State("TX", "m.room.topic", kAlice, "", room_.TopicContent("x"), {"START"});
  StateIds other = room_.StateAfter("START");
  other[StateKey("m.room.topic", "")] = "$unknown:example.org";
  std::vector<StateIds> sets = {room_.StateAfter("TX"), other};
  EXPECT_EQ(ResolveState(room_.version(), sets, room_.events()).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace conclave::service::state_res_test
