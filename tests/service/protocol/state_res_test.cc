// State resolution's building blocks, one definition of the spec at a time ("Room versions 2",
// "Definitions"): auth event ids, auth chains, the auth difference, the un/conflicted split, the
// conflicted state subgraph (v12), power events, the sender's power level, the reverse
// topological power ordering, the mainline ordering and the iterative auth checks; then
// ResolveState's dispatch and what v2.1 changes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/array.hpp>
#include <string>
#include <vector>

#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/power_levels.h"
#include "state_res_fixture.h"

namespace conclave::service::state_res_test {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

const RoomVersion& V(std::string_view id) { return *FindRoomVersion(id); }

std::string Id(std::string_view name) { return RoomGraph::Id(name); }

// A state event built by hand: `auth` are the names of its auth events (v3+ format).
object Hand(std::string_view type, std::string_view sender, std::string_view state_key,
            object content, const std::vector<std::string>& auth, int64_t ts) {
  object event;
  event["type"] = type;
  event["sender"] = sender;
  event["room_id"] = "!room:example.org";
  event["state_key"] = state_key;
  event["content"] = std::move(content);
  event["origin_server_ts"] = ts;
  boost::json::array ids;
  for (const std::string& name : auth) ids.push_back(boost::json::value(Id(name)));
  event["auth_events"] = std::move(ids);
  return event;
}

object Create() {
  object content;
  content["creator"] = kAlice;
  content["room_version"] = "10";
  return Hand("m.room.create", kAlice, "", std::move(content), {}, 0);
}

object LevelsContent(std::initializer_list<std::pair<const char*, int>> users) {
  object map;
  for (const auto& [user, level] : users) map[user] = level;
  object content;
  content["users"] = std::move(map);
  return content;
}

TEST(AuthEventIdsTest, ReadsPairsAndStringsDropsDuplicatesAndAddsTheV12Create) {
  object event = Hand("m.room.topic", kAlice, "", {}, {"A", "B", "A"}, 1);
  EXPECT_THAT(AuthEventIds(event, V("10")), ElementsAre(Id("A"), Id("B")));

  boost::json::array pairs;
  pairs.push_back(boost::json::array{boost::json::value(Id("A")), object()});
  pairs.push_back(boost::json::array{boost::json::value(Id("B")), object()});
  event["auth_events"] = std::move(pairs);
  EXPECT_THAT(AuthEventIds(event, V("1")), ElementsAre(Id("A"), Id("B")));

  // v12: the room id stands for the create event, "$" + what follows "!".
  event["room_id"] = "!CREATE:example.org";
  EXPECT_THAT(AuthEventIds(event, V("12")), ElementsAre(Id("A"), Id("B"), Id("CREATE")));
  EXPECT_THAT(AuthEventIds(event, V("11")), ElementsAre(Id("A"), Id("B")));
  object create = Hand("m.room.create", kAlice, "", {}, {}, 0);
  create.erase("room_id");
  EXPECT_THAT(AuthEventIds(create, V("12")), IsEmpty());
}

TEST(AuthChainTest, FollowsAuthEventsToTheCreateAndLeavesOutUnknownEvents) {
  RoomGraph room("10");
  room.AddStartingRoom();
  // IMB cites the create, the power levels and the join rules; those cite IMA.
  EXPECT_THAT(AuthChain(Id("IMB"), room.version(), room.events()),
              UnorderedElementsAre(Id("CREATE"), Id("IMA"), Id("IPOWER"), Id("IJR")));
  EXPECT_THAT(AuthChain(Id("CREATE"), room.version(), room.events()), IsEmpty());

  EventMap events;
  events.Add(Id("CREATE"), Create());
  events.Add(Id("X"), Hand("m.room.topic", kAlice, "", {}, {"CREATE", "MISSING"}, 1));
  EXPECT_THAT(AuthChain(Id("X"), V("10"), events), ElementsAre(Id("CREATE")));
}

TEST(AuthDifferenceTest, IsTheUnionOfTheFullAuthChainsLessTheirIntersection) {
  RoomGraph room("10");
  room.AddStartingRoom();
  room.State("PA", "m.room.power_levels", kAlice, "", room.Levels({{kAlice, 100}, {kBob, 50}}),
             {"START"});
  room.State("TB", "m.room.topic", kBob, "", room.TopicContent("bob's"), {"PA"});
  room.Member("MB", kAlice, kBob, "ban", {"START"});
  std::vector<StateIds> sets = {room.StateAfter("TB"), room.StateAfter("MB")};
  // PA is in TB's auth chain only. MB and TB are in no auth chain (state events are not in their
  // own), IMB in both (TB's sender, MB's target).
  EXPECT_THAT(AuthDifference(sets, room.version(), room.events()), ElementsAre(Id("PA")));
  sets = {room.StateAfter("TB"), room.StateAfter("TB")};
  EXPECT_THAT(AuthDifference(sets, room.version(), room.events()), IsEmpty());
}

TEST(SplitStateSetsTest, AKeyIsUnconflictedOnlyWithOneEventInEverySet) {
  StateKey name("m.room.name", ""), topic("m.room.topic", ""), avatar("m.room.avatar", "");
  std::vector<StateIds> sets = {{{name, "$n"}, {topic, "$t1"}, {avatar, "$a"}},
                                {{name, "$n"}, {topic, "$t2"}}};
  StateConflicts split = SplitStateSets(sets);
  EXPECT_EQ(split.unconflicted, (StateIds{{name, "$n"}}));
  EXPECT_EQ(split.conflicted,
            (std::map<StateKey, std::set<std::string>>{{avatar, {"$a"}}, {topic, {"$t1", "$t2"}}}));
}

TEST(ConflictedStateSubgraphTest, HoldsThePathsBetweenConflictedEvents) {
  RoomGraph room("12");
  room.AddStartingRoom();
  room.State("PA1", "m.room.power_levels", kAlice, "", room.Levels({{kBob, 10}}), {"START"});
  room.State("PA2", "m.room.power_levels", kAlice, "", room.Levels({{kBob, 20}}), {"PA1"});
  room.State("PA3", "m.room.power_levels", kAlice, "", room.Levels({{kBob, 30}}), {"PA2"});
  // PA2 lies between PA3 and PA1; IPOWER and the create only below PA1.
  EXPECT_THAT(ConflictedStateSubgraph({Id("PA1"), Id("PA3")}, room.version(), room.events()),
              ElementsAre(Id("PA1"), Id("PA2"), Id("PA3")));
  // A member event whose chain reaches the conflicted power levels through IPOWER.
  EXPECT_THAT(ConflictedStateSubgraph({Id("IPOWER"), Id("IMZ")}, room.version(), room.events()),
              ElementsAre(Id("IJR"), Id("IMZ"), Id("IPOWER")));
  EXPECT_THAT(ConflictedStateSubgraph({Id("PA3")}, room.version(), room.events()),
              ElementsAre(Id("PA3")));
}

TEST(IsPowerEventTest, PowerLevelsJoinRulesKicksAndBans) {
  EXPECT_TRUE(IsPowerEvent(Hand("m.room.power_levels", kAlice, "", {}, {}, 0)));
  EXPECT_TRUE(IsPowerEvent(Hand("m.room.join_rules", kAlice, "", {}, {}, 0)));
  EXPECT_TRUE(IsPowerEvent(Hand("m.room.member", kAlice, kBob, Membership("leave"), {}, 0)));
  EXPECT_TRUE(IsPowerEvent(Hand("m.room.member", kAlice, kBob, Membership("ban"), {}, 0)));
  EXPECT_FALSE(IsPowerEvent(Hand("m.room.member", kBob, kBob, Membership("leave"), {}, 0)));
  EXPECT_FALSE(IsPowerEvent(Hand("m.room.member", kAlice, kBob, Membership("invite"), {}, 0)));
  EXPECT_FALSE(IsPowerEvent(Hand("m.room.member", kBob, kBob, Membership("join"), {}, 0)));
  EXPECT_FALSE(IsPowerEvent(Hand("m.room.topic", kAlice, "", {}, {}, 0)));
  EXPECT_FALSE(IsPowerEvent(Hand("m.room.create", kAlice, "", {}, {}, 0)));
  object message = Hand("m.room.power_levels", kAlice, "", {}, {}, 0);
  message.erase("state_key");
  EXPECT_FALSE(IsPowerEvent(message));
}

TEST(SenderPowerLevelTest, ReadsTheSendersLevelFromItsAuthEvents) {
  RoomGraph room("10");
  room.AddStartingRoom();
  room.State("PA", "m.room.power_levels", kAlice, "", room.Levels({{kAlice, 100}, {kBob, 50}}),
             {"START"});
  room.State("TB", "m.room.topic", kBob, "", room.TopicContent("bob's"), {"PA"});
  // IMA cites only the create: the creator has 100 without power levels.
  EXPECT_EQ(SenderPowerLevel(Id("IMA"), room.version(), room.events()), 100);
  EXPECT_EQ(SenderPowerLevel(Id("IMB"), room.version(), room.events()), 0);
  EXPECT_EQ(SenderPowerLevel(Id("TB"), room.version(), room.events()), 50);
  EXPECT_EQ(SenderPowerLevel(Id("CREATE"), room.version(), room.events()), 100);
  EXPECT_EQ(SenderPowerLevel("$unknown", room.version(), room.events()), 0);

  RoomGraph v12("12");
  v12.AddStartingRoom();
  EXPECT_EQ(SenderPowerLevel(Id("IJR"), v12.version(), v12.events()), kInfinitePowerLevel);
  EXPECT_EQ(SenderPowerLevel(Id("IMB"), v12.version(), v12.events()), 0);
}

// Events for the ordering tests: PL gives Alice 100 and Bob 50; every event cites the create and
// PL besides `auth`.
class OrderingTest : public ::testing::Test {
 protected:
  OrderingTest() {
    events_.Add(Id("CREATE"), Create());
    events_.Add(Id("PL"), Hand("m.room.power_levels", kAlice, "",
                               LevelsContent({{kAlice, 100}, {kBob, 50}}), {"CREATE"}, 1));
  }
  void Add(std::string_view name, std::string_view sender, int64_t ts,
           std::vector<std::string> auth = {}) {
    auth.insert(auth.begin(), {"CREATE", "PL"});
    events_.Add(Id(name), Hand("m.room.join_rules", sender, "", {}, auth, ts));
  }
  absl::StatusOr<std::vector<std::string>> Order(std::initializer_list<std::string_view> names) {
    std::set<std::string> ids;
    for (std::string_view name : names) ids.insert(Id(name));
    return ReverseTopologicalPowerOrder(ids, V("10"), events_);
  }

  EventMap events_;
};

TEST_F(OrderingTest, PowerThenTimestampThenEventId) {
  Add("Y", kBob, 10);
  Add("X", kAlice, 20);
  Add("W", kBob, 10);
  Add("V", kCharlie, 1);
  absl::StatusOr<std::vector<std::string>> order = Order({"V", "W", "X", "Y"});
  ASSERT_TRUE(order.ok()) << order.status();
  EXPECT_THAT(*order, ElementsAre(Id("X"), Id("W"), Id("Y"), Id("V")));
}

TEST_F(OrderingTest, AuthEventsComeFirstEvenThroughEventsOutsideTheSet) {
  Add("LOW", kCharlie, 50);
  Add("MID", kBob, 40, {"LOW"});  // not in the set
  Add("HIGH", kAlice, 30, {"MID"});
  Add("OTHER", kBob, 35);
  absl::StatusOr<std::vector<std::string>> order = Order({"HIGH", "LOW", "OTHER"});
  ASSERT_TRUE(order.ok()) << order.status();
  EXPECT_THAT(*order, ElementsAre(Id("OTHER"), Id("LOW"), Id("HIGH")));
}

TEST_F(OrderingTest, ACycleInTheAuthEventsIsInvalid) {
  Add("A", kAlice, 1, {"B"});
  Add("B", kAlice, 2, {"A"});
  Add("C", kAlice, 3);
  absl::StatusOr<std::vector<std::string>> order = Order({"A", "B", "C"});
  EXPECT_EQ(order.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Order({"A", "X"}).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(OrderingTest, MainlineOrderingByPositionThenTimestampThenEventId) {
  // The mainline of P2: P2 (position 0), P1 (1), P0 (2). Q is off it and cites P0.
  events_.Add(Id("P0"), Hand("m.room.power_levels", kAlice, "", {}, {"CREATE"}, 2));
  events_.Add(Id("P1"), Hand("m.room.power_levels", kAlice, "", {}, {"CREATE", "P0"}, 3));
  events_.Add(Id("P2"), Hand("m.room.power_levels", kAlice, "", {}, {"CREATE", "P1"}, 4));
  events_.Add(Id("Q"), Hand("m.room.power_levels", kBob, "", {}, {"CREATE", "P0"}, 5));
  auto topic = [&](std::string_view name, std::vector<std::string> auth, int64_t ts) {
    auth.push_back("CREATE");
    events_.Add(Id(name), Hand("m.room.topic", kAlice, "", {}, auth, ts));
  };
  topic("ON_P2", {"P2"}, 1);
  topic("ON_P1_LATE", {"P1"}, 9);
  topic("ON_P1_B", {"P1"}, 8);
  topic("ON_P1_A", {"P1"}, 8);
  topic("ON_Q", {"Q"}, 7);    // Q → P0: position 2
  topic("ON_NONE", {}, 100);  // no power levels: position infinite
  std::vector<std::string> ids = {Id("ON_P2"),   Id("ON_P1_LATE"), Id("ON_P1_B"),
                                  Id("ON_P1_A"), Id("ON_Q"),       Id("ON_NONE")};
  absl::StatusOr<std::vector<std::string>> order = MainlineOrder(ids, Id("P2"), V("10"), events_);
  ASSERT_TRUE(order.ok()) << order.status();
  EXPECT_THAT(*order, ElementsAre(Id("ON_NONE"), Id("ON_Q"), Id("ON_P1_A"), Id("ON_P1_B"),
                                  Id("ON_P1_LATE"), Id("ON_P2")));
  // Without resolved power levels every position is infinite: timestamps alone.
  order = MainlineOrder(ids, "", V("10"), events_);
  ASSERT_TRUE(order.ok()) << order.status();
  EXPECT_THAT(*order, ElementsAre(Id("ON_P2"), Id("ON_Q"), Id("ON_P1_A"), Id("ON_P1_B"),
                                  Id("ON_P1_LATE"), Id("ON_NONE")));
  std::vector<std::string> unknown = {"$unknown"};
  EXPECT_EQ(MainlineOrder(unknown, Id("P2"), V("10"), events_).status().code(),
            absl::StatusCode::kNotFound);
}

class IterativeAuthChecksTest : public ::testing::Test {
 protected:
  IterativeAuthChecksTest() : room_("10") {
    room_.AddStartingRoom();
    room_.State("PA", "m.room.power_levels", kAlice, "", room_.Levels({{kAlice, 100}, {kBob, 50}}),
                {"START"});
    room_.State("TB", "m.room.topic", kBob, "", room_.TopicContent("bob's"), {"PA"});
    room_.Member("BAN", kAlice, kBob, "ban", {"PA"});
  }
  StateIds Check(StateIds state, std::initializer_list<std::string_view> names) {
    std::vector<std::string> ids;
    for (std::string_view name : names) ids.push_back(Id(name));
    return IterativeAuthChecks(std::move(state), ids, room_.version(), room_.events());
  }

  RoomGraph room_;
};

TEST_F(IterativeAuthChecksTest, AppliesWhatTheRulesAllowInOrder) {
  // TB against the state after BAN: Bob is banned; the state's entry wins over TB's auth event.
  EXPECT_EQ(Check(room_.StateAfter("BAN"), {"TB"}), room_.StateAfter("BAN"));
  // In the other order TB passes first, then the ban.
  EXPECT_EQ(Check(room_.StateAfter("PA"), {"TB", "BAN"}), room_.Overlay("PA", {"TB", "BAN"}));
  // A message is no state: skipped, as are unknown ids.
  EXPECT_EQ(Check(room_.StateAfter("PA"), {"START", "UNKNOWN"}), room_.StateAfter("PA"));
}

TEST_F(IterativeAuthChecksTest, KeysMissingFromTheStateComeFromTheEventsAuthEvents) {
  // From an empty state TB passes on its own auth events (create, PA, Bob's join).
  StateIds state = Check({}, {"TB"});
  EXPECT_EQ(state, (StateIds{{StateKey("m.room.topic", ""), Id("TB")}}));
  // A rejected auth event does not stand in: without PA Bob has 0.
  room_.mutable_events().Add(Id("PA"), *room_.events().FindEvent(Id("PA")), /*rejected=*/true);
  EXPECT_THAT(Check({}, {"TB"}), IsEmpty());
}

TEST(ResolveStateTest, NoSetsOneSetAndSetsWithoutConflicts) {
  RoomGraph room("10");
  room.AddStartingRoom();
  EXPECT_THAT(*ResolveState(room.version(), {}, room.events()), IsEmpty());
  std::vector<StateIds> one = {room.StateAfter("IMB")};
  EXPECT_EQ(*ResolveState(room.version(), one, room.events()), room.StateAfter("IMB"));
  // A prefix and the whole: the union. (v2 counts a key missing from one set as conflicted, and
  // the events pass their checks again.)
  std::vector<StateIds> two = {room.StateAfter("IMB"), room.StateAfter("START")};
  EXPECT_EQ(*ResolveState(room.version(), two, room.events()), room.StateAfter("START"));
}

TEST(ResolveStateTest, PicksTheAlgorithmOfTheRoomVersion) {
  EXPECT_EQ(ErrcodeOf(ResolveState("13", {}, EventMap()).status()),
            Errcode::kUnsupportedRoomVersion);
  EXPECT_TRUE(ResolveState("1", {}, EventMap()).ok());
  EXPECT_TRUE(ResolveState("12", {}, EventMap()).ok());
}

// Room version 12 starts the iterative auth checks from an empty state map (v12's "State
// resolution", change 1). Alice bans Bob on both branches; before that Bob set a topic on one of
// them and Alice on the other, earlier. In v11 Bob's topic is checked against the unconflicted
// state, where he is banned, and fails; in v12 it is checked on its own auth events and passes,
// the later of the two topics.
TEST(ResolveStateTest, V12StartsTheIterativeAuthChecksFromAnEmptyState) {
  for (const char* version : {"11", "12"}) {
    SCOPED_TRACE(version);
    RoomGraph room(version);
    room.AddStartingRoom();
    room.State("PA", "m.room.power_levels", kAlice, "", room.Levels({{kAlice, 100}, {kBob, 50}}),
               {"START"});
    room.State("T2", "m.room.topic", kAlice, "", room.TopicContent("alice's"), {"PA"});
    room.State("T1", "m.room.topic", kBob, "", room.TopicContent("bob's"), {"PA"});
    room.Member("BAN", kAlice, kBob, "ban", {"PA"});
    StateIds bob_branch = room.Overlay("T1", {"BAN"});
    StateIds alice_branch = room.Overlay("T2", {"BAN"});
    std::vector<StateIds> sets = {bob_branch, alice_branch};
    absl::StatusOr<StateIds> resolved = ResolveState(room.version(), sets, room.events());
    ASSERT_TRUE(resolved.ok()) << resolved.status();
    bool v12 = room.version().state_resolution == StateResolution::kV21;
    EXPECT_EQ(*resolved, room.Overlay("PA", {v12 ? "T1" : "T2", "BAN"}));
  }
}

// v12's conflicted state subgraph brings the events between conflicted ones into the
// resolution. Alice gives Bob 50 (P1), Bob gives Charlie 50 (P2), Charlie gives Zara 10 (P3) and
// on another branch sets the topic (TC, citing P2). The first state says the power levels are P1
// (a reset), the second P3. P2 is in both full auth chains, so not in the auth difference: v11
// never replays it, and Charlie, at 0 under P1, loses P3 and his topic. v12 finds P2 on the path
// from P3 to P1, replays P1, P2, P3 in order, and both pass.
TEST(ResolveStateTest, V12ReplaysTheConflictedStateSubgraph) {
  for (const char* version : {"11", "12"}) {
    SCOPED_TRACE(version);
    RoomGraph room(version);
    room.AddStartingRoom();
    room.State("P1", "m.room.power_levels", kAlice, "", room.Levels({{kAlice, 100}, {kBob, 50}}),
               {"START"});
    room.State("P2", "m.room.power_levels", kBob, "",
               room.Levels({{kAlice, 100}, {kBob, 50}, {kCharlie, 50}}), {"P1"});
    room.State("P3", "m.room.power_levels", kCharlie, "",
               room.Levels({{kAlice, 100}, {kBob, 50}, {kCharlie, 50}, {kZara, 10}}), {"P2"});
    room.State("TC", "m.room.topic", kCharlie, "", room.TopicContent("c"), {"P2"});
    std::vector<StateIds> sets = {room.Overlay("TC", {"P1"}), room.StateAfter("P3")};
    EXPECT_THAT(AuthDifference(sets, room.version(), room.events()), IsEmpty());
    EXPECT_THAT(
        ConflictedStateSubgraph({Id("P1"), Id("P3"), Id("TC")}, room.version(), room.events()),
        ElementsAre(Id("P1"), Id("P2"), Id("P3"), Id("TC")));
    absl::StatusOr<StateIds> resolved = ResolveState(room.version(), sets, room.events());
    ASSERT_TRUE(resolved.ok()) << resolved.status();
    if (room.version().state_resolution == StateResolution::kV21) {
      EXPECT_EQ(*resolved, room.Overlay("START", {"P3", "TC"}));
    } else {
      EXPECT_EQ(*resolved, room.Overlay("START", {"P1"}));
    }
  }
}

TEST(LoadStateTest, LoadsTheEventsWithTheirIds) {
  RoomGraph room("12");
  room.AddStartingRoom();
  absl::StatusOr<StateMap> state = LoadState(room.StateAfter("START"), room.events());
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->size(), room.StateAfter("START").size());
  EXPECT_EQ(FindState(*state, "m.room.create", "")->at("event_id").as_string(), Id("CREATE"));
  EXPECT_TRUE(CurrentPowerLevels(*state).ok());
  StateIds missing = {{StateKey("m.room.topic", ""), "$unknown"}};
  EXPECT_EQ(LoadState(missing, room.events()).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace conclave::service::state_res_test
