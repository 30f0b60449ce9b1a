// Rooms and Sync over a real RocksDB: room creation, membership transitions through the
// authorization rules, idempotent sends across restarts, history, redaction, /sync and ignored
// users.
#include "conclave/service/rooms/rooms.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <memory>
#include <set>
#include <string>

#include "conclave/core/config.h"
#include "conclave/core/server.h"
#include "conclave/core/str_cat.h"
#include "conclave/database/database.h"
#include "conclave/service/homeserver.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/storage/stored_json.h"
#include "conclave/service/sync/sync.h"
#include "service/testing/homeserver_fixture.h"
#include "service/testing/status_matchers.h"

namespace conclave::service {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::Not;

using boost::json::object;
using test_util::HasErrcode;

std::string Str(const boost::json::value* v) {
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

class RoomsTest : public test_util::HomeserverTest {
 protected:
  void SetUp() override {
    HomeserverTest::SetUp();
    alice_ = Register("alice");
    bob_ = Register("bob");
    carol_ = Register("carol");
  }

  std::vector<std::string> Bodies(const std::vector<StoredEvent>& events) {
    std::vector<std::string> out;
    for (const auto& e : events) {
      if (Str(e.pdu.if_contains("type")) != "m.room.message") continue;
      out.push_back(Str(e.pdu.at("content").as_object().if_contains("body")));
    }
    return out;
  }

  Session alice_, bob_, carol_;
};

TEST_F(RoomsTest, CreateRoomWritesThePresetStateInOrderWithUrlSafeEventIds) {
  std::string room = CreateRoom(alice_, {.preset = CreateRoomRequest::Preset::kPublicChat,
                                         .name = "Lounge",
                                         .topic = "chat",
                                         .room_alias_name = "lounge"});
  auto state = rooms().State(alice_, room);
  ASSERT_TRUE(state.ok()) << state.status();
  std::map<std::string, StoredEvent> by_type;
  for (const auto& e : *state) by_type[Str(e.pdu.if_contains("type"))] = e;
  for (const char* type :
       {"m.room.create", "m.room.member", "m.room.power_levels", "m.room.canonical_alias",
        "m.room.join_rules", "m.room.history_visibility", "m.room.guest_access", "m.room.name",
        "m.room.topic"}) {
    ASSERT_TRUE(by_type.contains(type)) << type;
    EXPECT_THAT(Str(by_type[type].pdu.if_contains("event_id")),
                MatchesRegex("\\$[A-Za-z0-9_-]{43}"));
  }
  EXPECT_LT(by_type["m.room.create"].position, by_type["m.room.member"].position);
  EXPECT_LT(by_type["m.room.member"].position, by_type["m.room.power_levels"].position);
  EXPECT_EQ(
      Str(by_type["m.room.join_rules"].pdu.at("content").as_object().if_contains("join_rule")),
      "public");
  EXPECT_EQ(Str(by_type["m.room.create"].pdu.at("content").as_object().if_contains("room_version")),
            kDefaultRoomVersion);
  auto resolved = rooms().ResolveAlias("#lounge:example.org");
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(*resolved, room);
  // The alias is taken now.
  EXPECT_THAT(rooms().CreateRoom(alice_, {.room_alias_name = "lounge"}),
              HasErrcode(Errcode::kRoomInUse));
  EXPECT_THAT(rooms().CreateRoom(alice_, {.room_version = "13"}),
              HasErrcode(Errcode::kUnsupportedRoomVersion));
}

TEST_F(RoomsTest, MembershipTransitionsFollowTheJoinRulesAndPowerLevels) {
  std::string room = CreateRoom(alice_, {.preset = CreateRoomRequest::Preset::kPrivateChat});
  // Invite-only: bob cannot join uninvited.
  EXPECT_THAT(rooms().Join(bob_, room, std::nullopt), HasErrcode(Errcode::kForbidden));
  ASSERT_TRUE(rooms().Invite(alice_, room, bob_.user_id, std::nullopt).ok());
  ASSERT_TRUE(rooms().Join(bob_, room, std::nullopt).ok());
  // bob (level 0) may not kick or ban alice, nor set the name (state_default 50).
  EXPECT_THAT(rooms().Kick(bob_, room, alice_.user_id, std::nullopt),
              HasErrcode(Errcode::kForbidden));
  EXPECT_THAT(rooms().Ban(bob_, room, alice_.user_id, std::nullopt),
              HasErrcode(Errcode::kForbidden));
  EXPECT_THAT(rooms().SendState(bob_, room, "m.room.name", "", {{"name", "x"}}),
              HasErrcode(Errcode::kForbidden));
  // carol, not in the room, may not send.
  EXPECT_THAT(rooms().Send(carol_, room, "m.room.message", "t", {{"body", "hi"}}),
              HasErrcode(Errcode::kForbidden));
  // alice bans bob; he cannot come back until unbanned and re-invited.
  ASSERT_TRUE(rooms().Ban(alice_, room, bob_.user_id, std::string("spam")).ok());
  EXPECT_THAT(rooms().Join(bob_, room, std::nullopt), HasErrcode(Errcode::kForbidden));
  EXPECT_THAT(rooms().Invite(alice_, room, bob_.user_id, std::nullopt),
              HasErrcode(Errcode::kForbidden));
  ASSERT_TRUE(rooms().Unban(alice_, room, bob_.user_id, std::nullopt).ok());
  ASSERT_TRUE(rooms().Invite(alice_, room, bob_.user_id, std::nullopt).ok());
  ASSERT_TRUE(rooms().Join(bob_, room, std::nullopt).ok());
  auto joined = rooms().JoinedRooms(bob_.user_id);
  ASSERT_TRUE(joined.ok());
  EXPECT_THAT(*joined, ElementsAre(room));
  ASSERT_TRUE(rooms().Leave(bob_, room, std::nullopt).ok());
  joined = rooms().JoinedRooms(bob_.user_id);
  ASSERT_TRUE(joined.ok());
  EXPECT_TRUE(joined->empty());
  ASSERT_TRUE(rooms().Forget(bob_, room).ok());
  auto memberships = rooms().UserRooms(bob_.user_id);
  ASSERT_TRUE(memberships.ok());
  EXPECT_TRUE(memberships->empty());
}

// The member lists a room keeps beside its state (counts, heroes, joined members) follow every
// membership change, and are rebuilt the same from disk after a restart.
TEST_F(RoomsTest, MemberListsFollowMembershipChangesAndSurviveARestart) {
  std::string room = CreateRoom(alice_, {.preset = CreateRoomRequest::Preset::kPrivateChat});
  ASSERT_TRUE(rooms().Invite(alice_, room, bob_.user_id, std::nullopt).ok());
  ASSERT_TRUE(rooms().Invite(alice_, room, carol_.user_id, std::nullopt).ok());
  auto check = [&](size_t joined, size_t invited, std::vector<std::string> heroes) {
    auto members = rooms().Members(room, alice_.user_id, 5);
    ASSERT_TRUE(members.ok()) << members.status();
    EXPECT_EQ(members->joined_count, joined);
    EXPECT_EQ(members->invited_count, invited);
    EXPECT_EQ(members->heroes, heroes);
    std::vector<std::string> visited;
    ASSERT_TRUE(
        rooms().ForEachJoined(room, [&](const std::string& u) { visited.push_back(u); }).ok());
    auto joined_ids = rooms().JoinedUserIds(room);
    ASSERT_TRUE(joined_ids.ok());
    EXPECT_EQ(visited, *joined_ids);
    EXPECT_EQ(visited.size(), joined);
  };
  check(1, 2, {bob_.user_id, carol_.user_id});
  ASSERT_TRUE(rooms().Join(carol_, room, std::nullopt).ok());
  // Joined members come first among the heroes.
  check(2, 1, {carol_.user_id, bob_.user_id});
  ASSERT_TRUE(rooms().Leave(bob_, room, std::nullopt).ok());  // rejects the invite
  check(2, 0, {carol_.user_id});
  auto left = rooms().UserIdsWithMembership(room, "leave");
  ASSERT_TRUE(left.ok());
  EXPECT_THAT(*left, ElementsAre(bob_.user_id));
  ASSERT_TRUE(rooms().Ban(alice_, room, carol_.user_id, std::nullopt).ok());
  check(1, 0, {});
  EXPECT_THAT(rooms().Members(room, carol_.user_id, 5)->heroes, ElementsAre(alice_.user_id));
  EXPECT_THAT(rooms().Members(room, alice_.user_id, 0)->heroes, IsEmpty());
  Reopen();
  check(1, 0, {});
  ASSERT_TRUE(rooms().Unban(alice_, room, carol_.user_id, std::nullopt).ok());
  ASSERT_TRUE(rooms().Invite(alice_, room, carol_.user_id, std::nullopt).ok());
  check(1, 1, {carol_.user_id});
  EXPECT_THAT(rooms().Members("!unknown:example.org", alice_.user_id, 5),
              HasErrcode(Errcode::kNotFound));
}

// CurrentStateWhere with a member subset offers exactly what the full walk offers for those
// members, and every other state event, in the same order.
TEST_F(RoomsTest, CurrentStateWhereWithMembersReadsOnlyThoseMembers) {
  std::string room = CreateRoom(
      alice_,
      {.preset = CreateRoomRequest::Preset::kPublicChat, .name = "Lounge", .topic = "chat"});
  ASSERT_TRUE(rooms().Join(bob_, room, std::nullopt).ok());
  ASSERT_TRUE(rooms().Join(carol_, room, std::nullopt).ok());
  auto keep_all = [](std::string_view, std::string_view, uint64_t) { return true; };
  const std::set<std::string, std::less<>> wanted{bob_.user_id, "@nobody:example.org"};
  auto subset = rooms().CurrentStateWhere(room, keep_all, wanted);
  ASSERT_TRUE(subset.ok()) << subset.status();
  auto full =
      rooms().CurrentStateWhere(room, [&](std::string_view type, std::string_view key, uint64_t) {
        return type != "m.room.member" || wanted.contains(key);
      });
  ASSERT_TRUE(full.ok());
  std::vector<std::string> subset_ids, full_ids;
  for (const auto& e : *subset) subset_ids.push_back(Str(e.pdu.if_contains("event_id")));
  for (const auto& e : *full) full_ids.push_back(Str(e.pdu.if_contains("event_id")));
  EXPECT_EQ(subset_ids, full_ids);
  std::vector<std::string> members;
  for (const auto& e : *subset) {
    if (Str(e.pdu.if_contains("type")) == "m.room.member") {
      members.push_back(Str(e.pdu.if_contains("state_key")));
    }
  }
  EXPECT_THAT(members, ElementsAre(bob_.user_id));
  // Types after m.room.member (m.room.name, m.room.power_levels, m.room.topic) are there too.
  EXPECT_EQ(subset->size(), full->size());
  EXPECT_EQ(Str(subset->back().pdu.if_contains("type")), "m.room.topic");
}

TEST_F(RoomsTest, StateAtUndoesLaterStateEventsRedactedOnesIncluded) {
  std::string room = CreateRoom(alice_, {});
  auto topic_at = [&](uint64_t position) -> std::string {
    auto state = rooms().StateAt(room, position);
    EXPECT_TRUE(state.ok()) << state.status();
    if (!state.ok()) return "?";
    for (const StoredEvent& e : *state) {
      if (StringField(e.pdu, "type") != "m.room.topic") continue;
      std::string_view topic = StringField(e.pdu.at("content").as_object(), "topic");
      return topic.empty() ? "(redacted)" : std::string(topic);
    }
    return "(none)";
  };
  const uint64_t before = hs_->stream().current();
  ASSERT_TRUE(rooms().SendState(alice_, room, "m.room.topic", "", {{"topic", "one"}}).ok());
  const uint64_t at_one = hs_->stream().current();
  auto two = rooms().SendState(alice_, room, "m.room.topic", "", {{"topic", "two"}});
  ASSERT_TRUE(two.ok());
  const uint64_t at_two = hs_->stream().current();
  SendText(alice_, room, "after", "t1");
  EXPECT_EQ(topic_at(before), "(none)");
  EXPECT_EQ(topic_at(at_one), "one");
  EXPECT_EQ(topic_at(at_two), "two");

  // A redacted state event still undoes to the one it replaced.
  ASSERT_TRUE(rooms().Redact(alice_, room, *two, "r1", std::nullopt).ok());
  EXPECT_EQ(topic_at(at_one), "one");
  EXPECT_EQ(topic_at(hs_->stream().current()), "(redacted)");
  auto current = rooms().CurrentState(room);
  ASSERT_TRUE(current.ok());
  auto latest = rooms().StateAt(room, hs_->stream().current());
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->size(), current->size());
  EXPECT_THAT(rooms().StateAt("!nope:example.org", 1), HasErrcode(Errcode::kNotFound));
}

TEST_F(RoomsTest, SendIsIdempotentPerDeviceAndTxnIdAcrossARestart) {
  std::string room = CreateRoom(alice_, {});
  std::string first = SendText(alice_, room, "hello", "txn1");
  EXPECT_EQ(SendText(alice_, room, "hello again", "txn1"), first);
  Session other_device = alice_;
  other_device.device_id = "OTHER";
  EXPECT_NE(SendText(other_device, room, "hello", "txn1"), first);
  const uint64_t position = hs_->stream().current();
  Reopen();
  EXPECT_EQ(hs_->stream().current(), position);  // positions survive
  EXPECT_EQ(SendText(alice_, room, "after restart", "txn1"), first);
  std::string next = SendText(alice_, room, "new", "txn2");
  auto event = rooms().Event(alice_, room, next);
  ASSERT_TRUE(event.ok());
  EXPECT_GT(event->position, position);
}

TEST_F(RoomsTest, MessagesPagesBackwardsAndForwardsWithoutGapsOrRepeats) {
  std::string room = CreateRoom(alice_, {});
  for (int i = 0; i < 25; ++i) SendText(alice_, room, std::to_string(i), core::StrCat("t", i));
  RoomEventFilter only_messages;
  only_messages.types = std::vector<std::string>{"m.room.message"};
  std::vector<std::string> backwards;
  std::string from;
  for (int page = 0; page < 10; ++page) {
    auto result = rooms().Messages(alice_, room, from, "", 'b', 10, only_messages);
    ASSERT_TRUE(result.ok()) << result.status();
    for (const auto& b : Bodies(result->chunk)) backwards.push_back(b);
    if (!result->end) break;
    from = *result->end;
  }
  ASSERT_EQ(backwards.size(), 25u);
  for (int i = 0; i < 25; ++i) EXPECT_EQ(backwards[i], std::to_string(24 - i));

  auto forward = rooms().Messages(alice_, room, "", "", 'f', 100, only_messages);
  ASSERT_TRUE(forward.ok());
  auto bodies = Bodies(forward->chunk);
  ASSERT_EQ(bodies.size(), 25u);
  EXPECT_EQ(bodies.front(), "0");
  EXPECT_EQ(bodies.back(), "24");
  EXPECT_FALSE(forward->end.has_value());
  EXPECT_THAT(rooms().Messages(carol_, room, "", "", 'b', 10, {}), HasErrcode(Errcode::kForbidden));
  EXPECT_THAT(rooms().Messages(alice_, room, "bogus", "", 'b', 10, {}),
              HasErrcode(Errcode::kInvalidParam));
}

TEST_F(RoomsTest, RedactionStripsTheContentAndNeedsPower) {
  std::string room = CreateRoom(alice_, {.preset = CreateRoomRequest::Preset::kPublicChat});
  ASSERT_TRUE(rooms().Join(bob_, room, std::nullopt).ok());
  std::string alices = SendText(alice_, room, "secret", "a1");
  std::string bobs = SendText(bob_, room, "oops", "b1");
  EXPECT_THAT(rooms().Redact(bob_, room, alices, "r1", std::nullopt),
              HasErrcode(Errcode::kForbidden));
  ASSERT_TRUE(rooms().Redact(bob_, room, bobs, "r2", std::string("typo")).ok());
  ASSERT_TRUE(rooms().Redact(alice_, room, alices, "r3", std::nullopt).ok());
  for (const auto& id : {alices, bobs}) {
    auto event = rooms().Event(alice_, room, id);
    ASSERT_TRUE(event.ok());
    EXPECT_TRUE(event->pdu.at("content").as_object().empty());
    const auto& redaction =
        event->pdu.at("unsigned").as_object().at("redacted_because").as_object();
    EXPECT_EQ(Str(redaction.if_contains("type")), "m.room.redaction");
    EXPECT_EQ(Str(redaction.if_contains("redacts")), id);
  }
}

TEST_F(RoomsTest, OversizedEventsAreRefused) {
  std::string room = CreateRoom(alice_, {});
  std::string big(kMaxEventBytes, 'x');
  EXPECT_THAT(
      rooms().Send(alice_, room, "m.room.message", "big", {{"msgtype", "m.text"}, {"body", big}}),
      HasErrcode(Errcode::kTooLarge));
  EXPECT_THAT(rooms().Send(alice_, room, "m.room.message", "f",
                           {{"msgtype", "m.text"}, {"body", "x"}, {"n", 1.5}}),
              HasErrcode(Errcode::kBadJson));
}

TEST_F(RoomsTest, SyncIsInitialThenIncrementalAndWaitsWhenNothingIsNew) {
  std::string room = CreateRoom(alice_, {.name = "Sync", .invite = {bob_.user_id}});
  SyncRequest request;
  auto initial = hs_->sync().Run(bob_, request);
  ASSERT_TRUE(initial.ok()) << initial.status();
  ASSERT_TRUE(initial->response);
  ASSERT_EQ(initial->response->invite.size(), 1u);
  EXPECT_EQ(initial->response->invite[0].room_id, room);
  EXPECT_THAT(boost::json::serialize(initial->response->invite[0].invite_state),
              HasSubstr("\"name\":\"Sync\""));

  ASSERT_TRUE(rooms().Join(bob_, room, std::nullopt).ok());
  request.since = initial->response->next_batch;
  request.may_wait = true;
  auto joined = hs_->sync().Run(bob_, request);
  ASSERT_TRUE(joined.ok() && joined->response);
  ASSERT_EQ(joined->response->join.size(), 1u);
  const JoinedRoomSync& join = joined->response->join[0];
  EXPECT_EQ(join.room_id, room);
  // Newly joined: the whole room comes with it, in state or timeline.
  std::vector<std::string> types;
  for (const auto* list : {&join.state, &join.timeline.events}) {
    for (const auto& e : *list) types.push_back(Str(e.pdu.if_contains("type")));
  }
  EXPECT_THAT(types, Contains("m.room.create"));

  request.since = joined->response->next_batch;
  auto idle = hs_->sync().Run(bob_, request);
  ASSERT_TRUE(idle.ok());
  EXPECT_FALSE(idle->response.has_value());
  EXPECT_EQ(idle->wait_key, bob_.user_id);
  EXPECT_EQ(idle->wait_version, server_->notifier().Version(bob_.user_id));

  SendText(alice_, room, "ping", "p1");
  EXPECT_GT(server_->notifier().Version(bob_.user_id), idle->wait_version);  // bob is woken
  auto incremental = hs_->sync().Run(bob_, request);
  ASSERT_TRUE(incremental.ok() && incremental->response);
  ASSERT_EQ(incremental->response->join.size(), 1u);
  const SyncTimeline& timeline = incremental->response->join[0].timeline;
  EXPECT_THAT(Bodies(timeline.events), ElementsAre("ping"));
  EXPECT_FALSE(timeline.limited);

  request.since = "garbage";
  EXPECT_THAT(hs_->sync().Run(bob_, request), HasErrcode(Errcode::kInvalidParam));
}

TEST_F(RoomsTest, TimelineLimitMarksLimitedAndGivesAPrevBatchThatPaginates) {
  std::string room = CreateRoom(alice_, {});
  SyncRequest request;
  auto first = hs_->sync().Run(alice_, request);
  ASSERT_TRUE(first.ok() && first->response);
  for (int i = 0; i < 15; ++i) SendText(alice_, room, std::to_string(i), core::StrCat("m", i));
  request.since = first->response->next_batch;
  request.filter.room.timeline.limit = 5;
  auto next = hs_->sync().Run(alice_, request);
  ASSERT_TRUE(next.ok() && next->response);
  ASSERT_EQ(next->response->join.size(), 1u);
  const SyncTimeline& timeline = next->response->join[0].timeline;
  EXPECT_TRUE(timeline.limited);
  ASSERT_EQ(timeline.events.size(), 5u);
  auto older = rooms().Messages(alice_, room, timeline.prev_batch, "", 'b', 1, {});
  ASSERT_TRUE(older.ok());
  EXPECT_THAT(Bodies(older->chunk), ElementsAre("9"));
}

// Ignoring users (Client-Server API, "Ignoring Users"): m.ignored_user_list is validated when
// set, hides the ignored users' events (not their state events) from /sync, /messages and
// /context at once, and keeps their invites out of /sync.
class IgnoredUsersTest : public RoomsTest {
 protected:
  absl::Status Ignore(const Session& who, std::vector<std::string> users) {
    object ignored;
    for (const std::string& u : users) ignored[u] = object();
    return hs_->accounts().SetAccountData(who.user_id, "", kIgnoredUserListType,
                                          object{{"ignored_users", std::move(ignored)}});
  }

  // "type: body" of message events, "type" of the others.
  static std::vector<std::string> Describe(const std::vector<StoredEvent>& events) {
    std::vector<std::string> out;
    for (const auto& e : events) {
      std::string type = Str(e.pdu.if_contains("type"));
      if (type == "m.room.message") {
        type += ": " + Str(e.pdu.at("content").as_object().if_contains("body"));
      }
      out.push_back(type);
    }
    return out;
  }

  std::vector<std::string> SyncTimeline(const Session& who, const std::string& room) {
    auto result = hs_->sync().Run(who, SyncRequest());
    EXPECT_TRUE(result.ok() && result->response) << result.status();
    if (!result.ok() || !result->response) return {};
    for (const JoinedRoomSync& r : result->response->join) {
      if (r.room_id == room) return Describe(r.timeline.events);
    }
    return {};
  }

  std::vector<std::string> MessagesOf(const Session& who, const std::string& room) {
    auto page = rooms().Messages(who, room, "", "", 'b', 50, RoomEventFilter());
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? Describe(page->chunk) : std::vector<std::string>();
  }
};

TEST_F(IgnoredUsersTest, TheListIsValidatedAndNothingIsStoredWhenItIsBad) {
  Accounts& accounts = hs_->accounts();
  const auto set = [&](object content) {
    return accounts.SetAccountData(bob_.user_id, "", kIgnoredUserListType, content);
  };
  EXPECT_THAT(set(object()), HasErrcode(Errcode::kBadJson));
  EXPECT_THAT(set(object{{"ignored_users", boost::json::array{"@alice:example.org"}}}),
              HasErrcode(Errcode::kBadJson));
  EXPECT_THAT(set(object{{"ignored_users", object{{"alice", object()}}}}),
              HasErrcode(Errcode::kInvalidParam));
  EXPECT_THAT(set(object{{"ignored_users", object{{"@alice:example.org", true}}}}),
              HasErrcode(Errcode::kBadJson));
  auto stored = accounts.GetAccountData(bob_.user_id, "", kIgnoredUserListType);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_FALSE(stored->has_value());

  // Room account data of that type is not the list: stored as it is.
  ASSERT_TRUE(
      accounts
          .SetAccountData(bob_.user_id, "!r:example.org", kIgnoredUserListType, object{{"x", 1}})
          .ok());
  ASSERT_TRUE(Ignore(bob_, {alice_.user_id, "@remote:elsewhere.org"}).ok());
  auto ignored = accounts.IgnoredUsers(bob_.user_id);
  ASSERT_TRUE(ignored.ok()) << ignored.status();
  EXPECT_THAT(*ignored, ElementsAre(alice_.user_id, "@remote:elsewhere.org"));
  auto none = accounts.IgnoredUsers(carol_.user_id);
  ASSERT_TRUE(none.ok());
  EXPECT_THAT(*none, IsEmpty());
}

TEST_F(IgnoredUsersTest, IgnoredSendersEventsAreHiddenButNotTheirStateEvents) {
  std::string room = CreateRoom(alice_, {.preset = CreateRoomRequest::Preset::kPublicChat});
  ASSERT_TRUE(rooms().Join(bob_, room, std::nullopt).ok());
  ASSERT_TRUE(rooms().Join(carol_, room, std::nullopt).ok());
  const std::string hello = SendText(alice_, room, "hello", "t1");
  SendText(carol_, room, "hi", "t2");
  ASSERT_TRUE(rooms().SendState(alice_, room, "m.room.topic", "", object{{"topic", "news"}}).ok());
  EXPECT_THAT(MessagesOf(bob_, room), Contains("m.room.message: hello"));

  ASSERT_TRUE(Ignore(bob_, {alice_.user_id}).ok());
  // At once, without a new sync stream: /sync, /messages, /event, /context.
  EXPECT_THAT(SyncTimeline(bob_, room), Not(Contains("m.room.message: hello")));
  EXPECT_THAT(SyncTimeline(bob_, room), Contains("m.room.message: hi"));
  EXPECT_THAT(SyncTimeline(bob_, room), Contains("m.room.topic"));
  const std::vector<std::string> messages = MessagesOf(bob_, room);
  EXPECT_THAT(messages, Not(Contains("m.room.message: hello")));
  EXPECT_THAT(messages, Contains("m.room.message: hi"));
  EXPECT_THAT(messages, Contains("m.room.topic"));
  EXPECT_THAT(messages, Contains("m.room.create"));  // alice's state events stay
  EXPECT_THAT(rooms().Event(bob_, room, hello), HasErrcode(Errcode::kNotFound));
  EXPECT_THAT(rooms().Context(bob_, room, hello, 10, RoomEventFilter()),
              HasErrcode(Errcode::kNotFound));
  // Others still see it.
  EXPECT_THAT(MessagesOf(carol_, room), Contains("m.room.message: hello"));
  EXPECT_TRUE(rooms().Event(carol_, room, hello).ok());

  // Unignoring shows the events again.
  ASSERT_TRUE(Ignore(bob_, {}).ok());
  EXPECT_THAT(MessagesOf(bob_, room), Contains("m.room.message: hello"));
}

TEST_F(IgnoredUsersTest, InvitesFromIgnoredUsersAreNotSynced) {
  ASSERT_TRUE(Ignore(bob_, {alice_.user_id}).ok());
  std::string from_alice = CreateRoom(alice_, {.name = "A", .invite = {bob_.user_id}});
  std::string from_carol = CreateRoom(carol_, {.name = "C", .invite = {bob_.user_id}});
  auto result = hs_->sync().Run(bob_, SyncRequest());
  ASSERT_TRUE(result.ok() && result->response) << result.status();
  std::vector<std::string> invited;
  for (const InvitedRoomSync& r : result->response->invite) invited.push_back(r.room_id);
  EXPECT_THAT(invited, ElementsAre(from_carol));
  // The invite itself stands: bob may still join.
  EXPECT_TRUE(rooms().Join(bob_, from_alice, std::nullopt).ok());
}

}  // namespace
}  // namespace conclave::service
