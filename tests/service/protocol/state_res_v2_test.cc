// State resolution v2 and v2.1 on whole event graphs: the situations the established
// homeservers' suites are known for (ban against a power change, a join racing a join rules
// change, topic forks under different power, "offtopic" power levels, mainline ordering), a
// self-demotion, and adversarial forks. Each test builds the graph with RoomGraph (every merge
// on the way is itself resolved) and asserts the whole state map at END.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "conclave/service/protocol/errors.h"
#include "state_res_fixture.h"

namespace conclave::service::state_res_test {
namespace {

// Run in a version of each auth rule generation v2 covers, and in v12 (v2.1) where the outcome
// is the same.
class StateResV2Test : public ::testing::TestWithParam<const char*> {
 protected:
  StateResV2Test() : room_(GetParam()) { room_.AddStartingRoom(); }

  // Alice sets a topic (T1), gives Bob 50 (PA1), sets another topic (T2) and demotes Bob (PA2);
  // on a fork from PA1 Bob re-asserts his level (PB) and sets a topic (T3).
  void AddTopicFork() {
    room_.State("T1", "m.room.topic", kAlice, "", room_.TopicContent("1"), {"START"});
    room_.State("PA1", "m.room.power_levels", kAlice, "", room_.Levels({{kAlice, 100}, {kBob, 50}}),
                {"T1"});
    room_.State("T2", "m.room.topic", kAlice, "", room_.TopicContent("2"), {"PA1"});
    room_.State("PA2", "m.room.power_levels", kAlice, "", room_.Levels({{kAlice, 100}, {kBob, 0}}),
                {"T2"});
    room_.State("PB", "m.room.power_levels", kBob, "", room_.Levels({{kAlice, 100}, {kBob, 50}}),
                {"PA1"});
    room_.State("T3", "m.room.topic", kBob, "", room_.TopicContent("3"), {"PB"});
  }

  RoomGraph room_;
};

INSTANTIATE_TEST_SUITE_P(Versions, StateResV2Test,
                         ::testing::Values("2", "3", "6", "10", "11", "12"),
                         [](const auto& info) { return std::string("v") + info.param; });

// Alice bans Bob on one branch; on the other Bob (50) sends a power levels event. The ban sorts
// first (Alice has more power), so Bob's power levels event no longer passes.
TEST_P(StateResV2Test, BanBeatsAPowerLevelsChangeOfTheBannedUser) {
  room_.State("PA", "m.room.power_levels", kAlice, "", room_.Levels({{kAlice, 100}, {kBob, 50}}),
              {"START"});
  room_.Member("MA", kAlice, kAlice, "join", {"PA"});
  room_.Member("MB", kAlice, kBob, "ban", {"MA"});
  room_.State("PB", "m.room.power_levels", kBob, "", room_.Levels({{kAlice, 100}, {kBob, 50}}),
              {"PA"});
  room_.Message("END", kZara, {"MB", "PB"});

  EXPECT_EQ(room_.StateBefore("END"), room_.Overlay("START", {"PA", "MA", "MB"}));
}

// Alice makes the room invite-only while Evelyn joins it on another branch: the join rules
// change is a power event and applies first; Evelyn's join then fails.
TEST_P(StateResV2Test, JoinRacingAJoinRulesChangeLoses) {
  object invite;
  invite["join_rule"] = "invite";
  room_.State("JR", "m.room.join_rules", kAlice, "", std::move(invite), {"START"});
  room_.Member("ME", kEvelyn, kEvelyn, "join", {"START"});
  room_.Message("END", kZara, {"JR", "ME"});

  EXPECT_EQ(room_.StateBefore("END"), room_.Overlay("START", {"JR"}));
  EXPECT_FALSE(room_.StateBefore("END").contains(StateKey("m.room.member", kEvelyn)));
}

// Bob raises Charlie to 50, and Charlie then sets himself to 0: a power levels change made by
// the user it concerns, sorted after the change that empowered him.
TEST_P(StateResV2Test, OfftopicPowerLevels) {
  room_.State("PA", "m.room.power_levels", kAlice, "", room_.Levels({{kAlice, 100}, {kBob, 50}}),
              {"START"});
  room_.State("PB", "m.room.power_levels", kBob, "",
              room_.Levels({{kAlice, 100}, {kBob, 50}, {kCharlie, 50}}), {"PA"});
  room_.State("PC", "m.room.power_levels", kCharlie, "",
              room_.Levels({{kAlice, 100}, {kBob, 50}, {kCharlie, 0}}), {"PB"});
  room_.Message("END", kZara, {"PC", "PA"});

  EXPECT_EQ(room_.StateBefore("END"), room_.Overlay("START", {"PC"}));
}

// AddTopicFork merged: Alice's demotion of Bob wins, and with it her topic.
TEST_P(StateResV2Test, TopicForkWithDifferentPower) {
  AddTopicFork();
  room_.Message("END", kZara, {"PA2", "T3"});

  EXPECT_EQ(room_.StateBefore("END"), room_.Overlay("START", {"PA2", "T2"}));
}

// Bob sets a topic after Alice gave him 50; Alice bans him on that branch. The other branch
// still has the first topic. Bob's topic loses with his ban, and T1 comes back.
TEST_P(StateResV2Test, TopicResetAfterABan) {
  room_.State("T1", "m.room.topic", kAlice, "", room_.TopicContent("1"), {"START"});
  room_.State("PA", "m.room.power_levels", kAlice, "", room_.Levels({{kAlice, 100}, {kBob, 50}}),
              {"T1"});
  room_.State("T2", "m.room.topic", kBob, "", room_.TopicContent("2"), {"PA"});
  room_.Member("MB", kAlice, kBob, "ban", {"T2"});
  room_.Message("END", kZara, {"MB", "T1"});

  EXPECT_EQ(room_.StateBefore("END"), room_.Overlay("START", {"T1", "MB", "PA"}));
}

// The same fork as TopicForkWithDifferentPower, merged once by Zara's message MZ1 before Alice's
// last topic T4: T4 is the topic at END, PA2 the power levels.
TEST_P(StateResV2Test, TopicSetAfterAnEarlierMerge) {
  AddTopicFork();
  room_.Message("MZ1", kZara, {"PA2", "T3"});
  room_.State("T4", "m.room.topic", kAlice, "", room_.TopicContent("4"), {"MZ1"});
  room_.Message("END", kZara, {"T4", "T3"});

  EXPECT_EQ(room_.StateBefore("MZ1"), room_.Overlay("START", {"PA2", "T2"}));
  EXPECT_EQ(room_.StateBefore("END"), room_.Overlay("START", {"T4", "PA2"}));
}

// Mainline ordering: T3 (Bob) was sent before T4 (Alice), but T4 cites the older power levels PB
// while T3 cites PA2, the resolved one; T3 sorts later and wins. By origin_server_ts alone T4
// would.
TEST_P(StateResV2Test, MainlineOrderingPicksTheTopicOnTheResolvedPowerLevels) {
  room_.State("T1", "m.room.topic", kAlice, "", room_.TopicContent("1"), {"START"});
  room_.State("PA1", "m.room.power_levels", kAlice, "", room_.Levels({{kAlice, 100}, {kBob, 50}}),
              {"T1"});
  room_.State("T2", "m.room.topic", kAlice, "", room_.TopicContent("2"), {"PA1"});
  object pa2 = room_.Levels({{kAlice, 100}, {kBob, 50}});
  pa2["events"].emplace_object()["m.room.power_levels"] = 100;
  room_.State("PA2", "m.room.power_levels", kAlice, "", std::move(pa2), {"T2"});
  room_.State("PB", "m.room.power_levels", kBob, "", room_.Levels({{kAlice, 100}, {kBob, 50}}),
              {"PA1"});
  room_.State("T3", "m.room.topic", kBob, "", room_.TopicContent("3"), {"PA2"});
  room_.State("T4", "m.room.topic", kAlice, "", room_.TopicContent("4"), {"PB"});
  room_.Message("END", kZara, {"T3", "T4"});

  EXPECT_EQ(room_.StateBefore("END"), room_.Overlay("START", {"T3", "PA2"}));
}

// Bob (50) gives up his level on one branch and sets the topic on another: his self-demotion is
// a power levels event, resolved first; his topic, checked afterwards, then needs 50 he no
// longer has.
TEST_P(StateResV2Test, SelfDemotionTakesEffectAcrossTheFork) {
  room_.State("PA", "m.room.power_levels", kAlice, "", room_.Levels({{kAlice, 100}, {kBob, 50}}),
              {"START"});
  room_.State("PB", "m.room.power_levels", kBob, "", room_.Levels({{kAlice, 100}, {kBob, 0}}),
              {"PA"});
  room_.State("TB", "m.room.topic", kBob, "", room_.TopicContent("bob"), {"PA"});
  room_.Message("END", kZara, {"PB", "TB"});

  EXPECT_EQ(room_.StateBefore("END"), room_.Overlay("START", {"PB"}));
}

// Zara (level 0) forks the room: she grants herself 100 and sets the topic. Her events were
// never authorised; state resolution drops them and keeps Alice's topic.
TEST_P(StateResV2Test, ForkByAUserWithoutPowerLoses) {
  room_.State("ZP", "m.room.power_levels", kZara, "", room_.Levels({{kAlice, 100}, {kZara, 100}}),
              {"START"});
  room_.State("ZT", "m.room.topic", kZara, "", room_.TopicContent("zara's"), {"ZP"});
  room_.Member("ZB", kZara, kAlice, "ban", {"ZT"});
  room_.State("AT", "m.room.topic", kAlice, "", room_.TopicContent("alice's"), {"START"});
  room_.Message("END", kCharlie, {"ZB", "AT"});

  EXPECT_EQ(room_.StateBefore("END"), room_.Overlay("START", {"AT"}));
}

// A merge of two branches that only add members: no conflict, the union.
TEST_P(StateResV2Test, ConcurrentJoinsBothStay) {
  room_.Member("ME", kEvelyn, kEvelyn, "join", {"START"});
  room_.State("T", "m.room.topic", kAlice, "", room_.TopicContent("t"), {"START"});
  room_.Message("END", kZara, {"ME", "T"});

  EXPECT_EQ(room_.StateBefore("END"), room_.Overlay("START", {"ME", "T"}));
}

// Events built by hand for the adversarial cases: `auth` names the auth events exactly.
object Forged(const RoomGraph& room, std::string_view type, std::string_view sender,
              std::string_view state_key, object content, const std::vector<std::string>& auth,
              int64_t ts) {
  object event;
  event["type"] = type;
  event["sender"] = sender;
  event["room_id"] = room.RoomId();
  event["state_key"] = state_key;
  event["content"] = std::move(content);
  event["origin_server_ts"] = ts;
  event["depth"] = 20;
  boost::json::array auth_events;
  for (const std::string& id : auth) {
    if (room.version().event_refs_with_hashes) {
      boost::json::array pair;
      pair.push_back(boost::json::value(id));
      pair.push_back(object());
      auth_events.push_back(std::move(pair));
    } else {
      auth_events.push_back(boost::json::value(id));
    }
  }
  event["auth_events"] = std::move(auth_events);
  event["prev_events"] = boost::json::array{boost::json::value(RoomGraph::Id("START"))};
  return event;
}

// Alice makes the room invite-only and sets the topic. Evelyn, never in the room, forks from
// before that and changes her display name (ET, a join after a join), citing as her membership
// a join EJ: unknown to everyone, or rejected (the room was invite-only when it arrived), EJ is
// not used, and ET, a join without invite into an invite-only room, fails. Only when EJ is known
// and accepted does the check read it (the state has no member event of Evelyn's, EJ itself
// failing its re-check): then ET passes, so the test does see the difference.
TEST_P(StateResV2Test, EventWithAForgedOrUnknownAuthEventIsRejected) {
  object invite;
  invite["join_rule"] = "invite";
  room_.State("JR", "m.room.join_rules", kAlice, "", std::move(invite), {"START"});
  room_.State("AT", "m.room.topic", kAlice, "", room_.TopicContent("alice's"), {"JR"});
  std::vector<std::string> auth = {RoomGraph::Id("CREATE"), RoomGraph::Id("IPOWER"),
                                   RoomGraph::Id("EJ"), RoomGraph::Id("IJR")};
  object profile = Membership("join");
  profile["displayname"] = "Evelyn";
  EventMap& events = room_.mutable_events();
  events.Add(RoomGraph::Id("ET"), Forged(room_, "m.room.member", kEvelyn, kEvelyn,
                                         std::move(profile), auth, 1800000000000));
  StateIds evelyn_branch = room_.StateAfter("START");
  const StateKey evelyn(StateKey("m.room.member", kEvelyn));
  evelyn_branch[evelyn] = RoomGraph::Id("ET");
  std::vector<StateIds> sets = {room_.StateAfter("AT"), evelyn_branch};

  // EJ unknown.
  absl::StatusOr<StateIds> resolved = ResolveState(room_.version(), sets, room_.events());
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(*resolved, room_.StateAfter("AT"));

  // EJ known but rejected.
  object join = Forged(room_, "m.room.member", kEvelyn, kEvelyn, Membership("join"),
                       {RoomGraph::Id("CREATE"), RoomGraph::Id("IPOWER"), RoomGraph::Id("IJR")},
                       1700000000100);
  events.Add(RoomGraph::Id("EJ"), join, /*rejected=*/true);
  resolved = ResolveState(room_.version(), sets, room_.events());
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(*resolved, room_.StateAfter("AT"));

  // EJ accepted.
  events.Add(RoomGraph::Id("EJ"), join, /*rejected=*/false);
  resolved = ResolveState(room_.version(), sets, room_.events());
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  StateIds expected = room_.StateAfter("AT");
  expected[evelyn] = RoomGraph::Id("ET");
  EXPECT_EQ(*resolved, expected);
}

// A forged power levels event (Zara, level 0, giving herself 100) that a second forged event
// cites: neither gets in, whatever their timestamps.
TEST_P(StateResV2Test, ForgedPowerLevelsDoNotAuthoriseWhatCitesThem) {
  room_.State("AT", "m.room.topic", kAlice, "", room_.TopicContent("alice's"), {"START"});
  EventMap& events = room_.mutable_events();
  events.Add(
      RoomGraph::Id("ZP"),
      Forged(room_, "m.room.power_levels", kZara, "", room_.Levels({{kAlice, 100}, {kZara, 100}}),
             {RoomGraph::Id("CREATE"), RoomGraph::Id("IPOWER"), RoomGraph::Id("IMZ")}, 1));
  events.Add(
      RoomGraph::Id("ZT"),
      Forged(room_, "m.room.topic", kZara, "", room_.TopicContent("zara's"),
             {RoomGraph::Id("CREATE"), RoomGraph::Id("ZP"), RoomGraph::Id("IMZ")}, 1900000000000));
  StateIds zara_branch = room_.StateAfter("START");
  zara_branch[StateKey("m.room.power_levels", "")] = RoomGraph::Id("ZP");
  zara_branch[StateKey("m.room.topic", "")] = RoomGraph::Id("ZT");
  std::vector<StateIds> sets = {zara_branch, room_.StateAfter("AT")};
  absl::StatusOr<StateIds> resolved = ResolveState(room_.version(), sets, room_.events());
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(*resolved, room_.Overlay("START", {"AT"}));
}

TEST_P(StateResV2Test, UnknownConflictedEventIsNotFound) {
  room_.State("AT", "m.room.topic", kAlice, "", room_.TopicContent("alice's"), {"START"});
  StateIds other = room_.StateAfter("START");
  other[StateKey("m.room.topic", "")] = "$nobody-has-it:example.org";
  std::vector<StateIds> sets = {room_.StateAfter("AT"), other};
  absl::StatusOr<StateIds> resolved = ResolveState(room_.version(), sets, room_.events());
  EXPECT_EQ(resolved.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrcodeOf(resolved.status()), Errcode::kNotFound);
  EXPECT_THAT(std::string(resolved.status().message()),
              ::testing::HasSubstr("$nobody-has-it:example.org"));
}

// Resolution does not depend on the order of the state sets.
TEST_P(StateResV2Test, OrderOfTheStateSetsDoesNotMatter) {
  room_.State("PA", "m.room.power_levels", kAlice, "", room_.Levels({{kAlice, 100}, {kBob, 50}}),
              {"START"});
  room_.State("T1", "m.room.topic", kBob, "", room_.TopicContent("1"), {"PA"});
  room_.Member("MB", kAlice, kBob, "ban", {"START"});
  room_.State("T2", "m.room.topic", kAlice, "", room_.TopicContent("2"), {"MB"});
  absl::StatusOr<StateIds> one = room_.Resolve({"T1", "T2"});
  absl::StatusOr<StateIds> two = room_.Resolve({"T2", "T1"});
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ(*one, *two);
  EXPECT_EQ(*one, room_.Overlay("START", {"PA", "MB", "T2"}));
}

}  // namespace
}  // namespace conclave::service::state_res_test
