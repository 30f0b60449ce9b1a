// Rooms in every room version over a real RocksDB: events built in the version's format (event
// ids, prev_events / auth_events shape, `origin`, v12's room id), rooms reread after a restart,
// room upgrades, knocking and restricted joins.
#include "conclave/service/protocol/room_versions.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/array.hpp>
#include <string>

#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/crypto.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/event_hash.h"
#include "conclave/service/rooms/rooms.h"
#include "conclave/service/sync/sync.h"
#include "service/testing/homeserver_fixture.h"
#include "service/testing/status_matchers.h"

namespace conclave::service {
namespace {

using test_util::HasErrcode;
using ::testing::MatchesRegex;

std::string Str(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

class RoomVersionsTest : public test_util::HomeserverTest {
 protected:
  void SetUp() override {
    HomeserverTest::SetUp();
    alice_ = Register("alice");
    bob_ = Register("bob");
  }
  // The current state event (type, "") of `room`, as alice sees it.
  boost::json::object StateEvent(const std::string& room, std::string_view type) {
    auto state = rooms().State(alice_, room);
    EXPECT_TRUE(state.ok()) << state.status();
    for (const StoredEvent& e : state.value_or(std::vector<StoredEvent>{})) {
      if (Str(e.pdu, "type") == type && Str(e.pdu, "state_key").empty()) return e.pdu;
    }
    return {};
  }
  boost::json::object Content(const std::string& room, std::string_view type) {
    boost::json::object event = StateEvent(room, type);
    return event.contains("content") ? event["content"].as_object() : boost::json::object();
  }
  Session alice_, bob_;
};

TEST_F(RoomVersionsTest, EveryVersionBuildsEventsInItsFormat) {
  for (const RoomVersion& version : AllRoomVersions()) {
    SCOPED_TRACE(core::StrCat("room version ", version.id));
    std::string room = CreateRoom(alice_, {.room_version = std::string(version.id)});
    ASSERT_FALSE(room.empty());
    std::string id = SendText(alice_, room, "hello", core::StrCat("t", version.id));
    auto event = rooms().Event(alice_, room, id);
    ASSERT_TRUE(event.ok()) << event.status();
    const boost::json::object& pdu = event->pdu;
    switch (version.event_id_format) {
      case EventIdFormat::kOpaque:
        EXPECT_THAT(id, MatchesRegex("\\$[A-Za-z0-9]{18}:example\\.org"));
        break;
      case EventIdFormat::kBase64:
        EXPECT_THAT(id, MatchesRegex("\\$[A-Za-z0-9+/]{43}"));
        break;
      case EventIdFormat::kUrlSafeBase64:
        EXPECT_THAT(id, MatchesRegex("\\$[A-Za-z0-9_-]{43}"));
        break;
    }
    // The id is what the version's rules compute from the event as sent: the stored one
    // without the `event_id` added after hashing (v3+; v1-v2 events carry theirs).
    boost::json::object sent = pdu;
    if (version.event_id_format != EventIdFormat::kOpaque) sent.erase("event_id");
    EXPECT_EQ(EventId(sent, version).value_or(""), id);
    const boost::json::value& prev = pdu.at("prev_events").as_array().at(0);
    const boost::json::value& auth = pdu.at("auth_events").as_array().at(0);
    EXPECT_EQ(prev.is_array(), version.event_refs_with_hashes);
    EXPECT_EQ(auth.is_array(), version.event_refs_with_hashes);
    if (version.event_refs_with_hashes) {
      // [id, {"sha256": reference hash of that event}].
      std::string prev_id(prev.as_array()[0].as_string());
      auto prev_event = rooms().Event(alice_, room, prev_id);
      ASSERT_TRUE(prev_event.ok()) << prev_event.status();
      auto hash = ReferenceHash(prev_event->pdu, version);
      ASSERT_TRUE(hash.ok());
      EXPECT_EQ(Str(prev.as_array()[1].as_object(), "sha256"), UnpaddedBase64(*hash));
    }
    EXPECT_EQ(pdu.contains("origin"), version.top_level_origin);
    boost::json::object create = StateEvent(room, "m.room.create");
    EXPECT_EQ(create["content"].as_object().contains("creator"), version.creator_in_content);
    if (version.room_id_from_create_event) {
      EXPECT_THAT(room, MatchesRegex("![A-Za-z0-9_-]{43}"));
      EXPECT_EQ(room.substr(1), Str(create, "event_id").substr(1));
      // The create event is not among the auth events.
      for (const auto& a : pdu.at("auth_events").as_array()) {
        EXPECT_NE(a.as_string(), Str(create, "event_id"));
      }
      // Creators are not listed in the power levels; the tombstone needs 150.
      boost::json::object levels = Content(room, "m.room.power_levels");
      EXPECT_FALSE(levels["users"].as_object().contains(alice_.user_id));
      EXPECT_EQ(levels["events"].as_object()["m.room.tombstone"], 150);
    } else {
      EXPECT_THAT(room, MatchesRegex("![A-Za-z0-9]+:example\\.org"));
    }
  }
}

TEST_F(RoomVersionsTest, RoomsOfEveryVersionWorkAfterARestart) {
  std::vector<std::string> rooms_made;
  for (const RoomVersion& version : AllRoomVersions()) {
    rooms_made.push_back(CreateRoom(alice_, {.room_version = std::string(version.id)}));
    SendText(alice_, rooms_made.back(), "before", core::StrCat("a", version.id));
  }
  Reopen();
  for (size_t i = 0; i < rooms_made.size(); ++i) {
    SCOPED_TRACE(rooms_made[i]);
    // The next event's prev_events names (and, v1-v2, hashes) the last one read back.
    std::string id = SendText(alice_, rooms_made[i], "after", core::StrCat("b", i));
    EXPECT_FALSE(id.empty());
    EXPECT_TRUE(rooms().Redact(alice_, rooms_made[i], id, core::StrCat("r", i), std::nullopt).ok());
  }
}

TEST_F(RoomVersionsTest, DefaultVersionComesFromTheOptionAndUnknownOnesAreRefused) {
  EXPECT_EQ(rooms().DefaultRoomVersion(), kDefaultRoomVersion);
  std::string room = CreateRoom(alice_, {});
  EXPECT_EQ(Str(Content(room, "m.room.create"), "room_version"), kDefaultRoomVersion);
  EXPECT_THAT(rooms().CreateRoom(alice_, {.room_version = "13"}),
              HasErrcode(Errcode::kUnsupportedRoomVersion));
  EXPECT_THAT(rooms().CreateRoom(alice_, {.room_version = "org.example.x"}),
              HasErrcode(Errcode::kUnsupportedRoomVersion));
}

TEST_F(RoomVersionsTest, TrustedPrivateChatMakesInviteesCreatorsInV12) {
  std::string room = CreateRoom(alice_, {.preset = CreateRoomRequest::Preset::kTrustedPrivateChat,
                                         .room_version = "12",
                                         .invite = {bob_.user_id}});
  boost::json::object create = Content(room, "m.room.create");
  EXPECT_EQ(create["additional_creators"], boost::json::array{bob_.user_id.c_str()});
  EXPECT_FALSE(Content(room, "m.room.power_levels")["users"].as_object().contains(bob_.user_id));
}

// The directory's permission checks read the room's own power levels: a v12 creator has no
// `users` entry but infinite power.
TEST_F(RoomVersionsTest, V12CreatorPublishesAndDeletesOthersAliases) {
  std::string room =
      CreateRoom(alice_, {.preset = CreateRoomRequest::Preset::kPublicChat, .room_version = "12"});
  EXPECT_TRUE(rooms().SetVisibility(alice_, room, true).ok());
  EXPECT_THAT(rooms().SetVisibility(bob_, room, false), HasErrcode(Errcode::kForbidden));
  ASSERT_TRUE(rooms().Join(bob_, room, std::nullopt).ok());
  ASSERT_TRUE(rooms().SetAlias(bob_, "#bobs:example.org", room).ok());
  EXPECT_TRUE(rooms().DeleteAlias(alice_, "#bobs:example.org").ok());
}

}  // namespace
}  // namespace conclave::service
