// Private to tests/service/protocol: events and a room state to run the room version 10
// authorization rules against, shared by auth_rules_test.cc and auth_rules_power_test.cc.
#ifndef CONCLAVE_TESTS_SERVICE_PROTOCOL_AUTH_RULES_FIXTURE_H_
#define CONCLAVE_TESTS_SERVICE_PROTOCOL_AUTH_RULES_FIXTURE_H_

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <string>
#include <utility>

#include "conclave/service/protocol/auth_rules.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/power_levels.h"

namespace conclave::service::auth_rules_test {

using ::boost::json::object;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr char kRoom[] = "!room:example.org";
constexpr char kAlice[] = "@alice:example.org";  // creator, level 100
constexpr char kBob[] = "@bob:example.org";      // moderator, level 50
constexpr char kCarol[] = "@carol:example.org";  // joined, level 0
constexpr char kDave[] = "@dave:example.org";    // not in the room
constexpr char kErin[] = "@erin:example.org";    // not in the room

MATCHER_P(IsForbidden, reason, "") {
  *result_listener << "status " << arg;
  return ErrcodeOf(arg) == Errcode::kForbidden &&
         arg.code() == absl::StatusCode::kPermissionDenied &&
         std::string(arg.message()).find(reason) != std::string::npos;
}

MATCHER(IsOk, "") {
  *result_listener << "status " << arg;
  return arg.ok();
}

inline object Event(std::string_view type, std::string_view sender, object content) {
  object event;
  event["type"] = type;
  event["sender"] = sender;
  event["room_id"] = kRoom;
  event["content"] = std::move(content);
  event["origin_server_ts"] = 1700000000000;
  event["event_id"] = "$event";
  return event;
}

inline object StateEvent(std::string_view type, std::string_view sender, std::string_view state_key,
                         object content) {
  object event = Event(type, sender, std::move(content));
  event["state_key"] = state_key;
  return event;
}

inline object Member(std::string_view sender, std::string_view target, std::string_view membership,
                     object content = {}) {
  content["membership"] = membership;
  return StateEvent("m.room.member", sender, target, std::move(content));
}

inline const RoomVersion& V10() { return *FindRoomVersion("10"); }

inline object CreateEvent() {
  object content;
  content["creator"] = kAlice;
  content["room_version"] = "10";
  object event = StateEvent("m.room.create", kAlice, "", std::move(content));
  event["prev_events"] = boost::json::array();
  return event;
}

// A public room: Alice created it (100), Bob moderates (50), Carol is joined (0).
class AuthRulesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Put(CreateEvent());
    Put(Member(kAlice, kAlice, "join"));
    object levels = DefaultPowerLevelsContent(kAlice);
    levels["users"].as_object()[kBob] = 50;
    SetLevels(std::move(levels));
    SetJoinRule("public");
    Put(Member(kBob, kBob, "join"));
    Put(Member(kCarol, kCarol, "join"));
  }

  void Put(object event) { ASSERT_TRUE(PutState(state_, std::move(event))); }
  void SetMembership(std::string_view user, std::string_view membership) {
    Put(Member(user, user, membership));
  }
  void SetJoinRule(std::string_view rule) {
    object content;
    content["join_rule"] = rule;
    Put(StateEvent("m.room.join_rules", kAlice, "", std::move(content)));
  }
  void SetLevels(object content) {
    Put(StateEvent("m.room.power_levels", kAlice, "", std::move(content)));
  }
  // Makes the room one of version `id`. From v12 the create event has no room_id and its id
  // stands for the room's ("$room:example.org" for kRoom: rule 2 compares what follows the
  // sigil).
  void UseVersion(std::string_view id) {
    object create = *FindState(state_, "m.room.create", "");
    create["content"].as_object()["room_version"] = id;
    if (FindRoomVersion(id)->room_id_from_create_event) {
      create.erase("room_id");
      create["event_id"] = "$room:example.org";
    }
    Put(std::move(create));
  }
  object CurrentLevels() const { return *FindStateContent(state_, "m.room.power_levels", ""); }
  absl::Status Check(const object& event) const { return CheckEventAuth(event, state_); }

  StateMap state_;
};

// Rule 1: m.room.create.

}  // namespace conclave::service::auth_rules_test

#endif  // CONCLAVE_TESTS_SERVICE_PROTOCOL_AUTH_RULES_FIXTURE_H_
