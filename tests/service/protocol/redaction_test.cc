#include "conclave/service/protocol/redaction.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <string>

namespace conclave::service {
namespace {

boost::json::object Object(std::string_view json) { return boost::json::parse(json).as_object(); }

// An event of `type` with `content` and every top-level key any room version protects, plus
// ones none does.
boost::json::object Event(std::string_view type, std::string_view content) {
  boost::json::object event = Object(R"({
    "event_id": "$e", "room_id": "!r:example.org", "sender": "@u:example.org",
    "state_key": "", "hashes": {"sha256": "abc"}, "signatures": {"example.org": {"k": "s"}},
    "depth": 5, "prev_events": ["$p"], "auth_events": ["$a"], "origin_server_ts": 1234,
    "origin": "example.org", "prev_state": [], "membership": "join",
    "unsigned": {"age_ts": 1}, "redacts": "$x", "age_ts": 1, "extra": {"x": 1}
  })");
  event["type"] = type;
  event["content"] = boost::json::parse(content);
  return event;
}

// The `content` of Event(`type`, `content`) redacted under `room_version`.
boost::json::value RedactedContent(std::string_view type, std::string_view content,
                                   std::string_view room_version) {
  return RedactEvent(Event(type, content), room_version).at("content");
}

TEST(RedactEvent, KeepsOnlyProtectedTopLevelKeysBeforeVersion11) {
  boost::json::object redacted = RedactEvent(Event("m.room.message", R"({"body": "hi"})"), "10");
  boost::json::object expected = Object(R"({
    "event_id": "$e", "type": "m.room.message", "room_id": "!r:example.org",
    "sender": "@u:example.org", "state_key": "", "content": {},
    "hashes": {"sha256": "abc"}, "signatures": {"example.org": {"k": "s"}}, "depth": 5,
    "prev_events": ["$p"], "auth_events": ["$a"], "origin_server_ts": 1234,
    "origin": "example.org", "prev_state": [], "membership": "join"
  })");
  EXPECT_EQ(redacted, expected) << boost::json::serialize(redacted);
  EXPECT_EQ(RedactEvent(Event("m.room.message", "{}"), "1"), expected);
}

TEST(RedactEvent, Version11DropsOriginPrevStateAndMembership) {
  boost::json::object redacted = RedactEvent(Event("m.room.message", "{}"), "11");
  EXPECT_FALSE(redacted.contains("origin"));
  EXPECT_FALSE(redacted.contains("prev_state"));
  EXPECT_FALSE(redacted.contains("membership"));
  EXPECT_TRUE(redacted.contains("origin_server_ts"));
  EXPECT_TRUE(redacted.contains("auth_events"));
  EXPECT_EQ(redacted.size(), 12u);
}

TEST(RedactEvent, DropsUnsignedAndLeavesTheInputAlone) {
  boost::json::object event = Event("m.room.message", R"({"body": "hi"})");
  boost::json::object copy = event;
  boost::json::object redacted = RedactEvent(event);
  EXPECT_FALSE(redacted.contains("unsigned"));
  EXPECT_EQ(event, copy);
}

TEST(RedactEvent, Member) {
  constexpr std::string_view kContent = R"({"membership": "join", "displayname": "U",
      "avatar_url": "mxc://a/b", "join_authorised_via_users_server": "@admin:example.org",
      "third_party_invite": {"display_name": "d", "signed": {"token": "t"}}})";
  EXPECT_EQ(RedactedContent("m.room.member", kContent, "8"), Object(R"({"membership": "join"})"));
  EXPECT_EQ(RedactedContent("m.room.member", kContent, "9"), Object(R"({"membership": "join",
      "join_authorised_via_users_server": "@admin:example.org"})"));
  EXPECT_EQ(RedactedContent("m.room.member", kContent, "11"), Object(R"({"membership": "join",
      "join_authorised_via_users_server": "@admin:example.org",
      "third_party_invite": {"signed": {"token": "t"}}})"));
  // third_party_invite without `signed` is dropped entirely.
  EXPECT_EQ(RedactedContent("m.room.member",
                            R"({"membership": "invite", "third_party_invite": {"x": 1}})", "11"),
            Object(R"({"membership": "invite"})"));
}

TEST(RedactEvent, Create) {
  constexpr std::string_view kContent =
      R"({"creator": "@u:example.org", "room_version": "10", "m.federate": false})";
  EXPECT_EQ(RedactedContent("m.room.create", kContent, "10"),
            Object(R"({"creator": "@u:example.org"})"));
  EXPECT_EQ(RedactedContent("m.room.create", kContent, "11"), boost::json::parse(kContent));
}

TEST(RedactEvent, JoinRules) {
  constexpr std::string_view kContent = R"({"join_rule": "restricted",
      "allow": [{"type": "m.room_membership", "room_id": "!s:example.org"}], "other": 1})";
  EXPECT_EQ(RedactedContent("m.room.join_rules", kContent, "7"),
            Object(R"({"join_rule": "restricted"})"));
  EXPECT_EQ(RedactedContent("m.room.join_rules", kContent, "8"), Object(R"({"join_rule":
      "restricted", "allow": [{"type": "m.room_membership", "room_id": "!s:example.org"}]})"));
}

TEST(RedactEvent, PowerLevels) {
  constexpr std::string_view kContent = R"({"ban": 50, "events": {"m.room.name": 100},
      "events_default": 0, "invite": 0, "kick": 50, "redact": 50, "state_default": 50,
      "users": {"@u:example.org": 100}, "users_default": 0, "notifications": {"room": 50}})";
  boost::json::object kept = Object(R"({"ban": 50, "events": {"m.room.name": 100},
      "events_default": 0, "kick": 50, "redact": 50, "state_default": 50,
      "users": {"@u:example.org": 100}, "users_default": 0})");
  EXPECT_EQ(RedactedContent("m.room.power_levels", kContent, "10"), kept);
  kept["invite"] = 0;
  EXPECT_EQ(RedactedContent("m.room.power_levels", kContent, "11"), kept);
}

TEST(RedactEvent, HistoryVisibility) {
  EXPECT_EQ(RedactedContent("m.room.history_visibility",
                            R"({"history_visibility": "shared", "x": 1})", "10"),
            Object(R"({"history_visibility": "shared"})"));
}

TEST(RedactEvent, AliasesOnlyUpToVersion5) {
  constexpr std::string_view kContent = R"({"aliases": ["#a:example.org"], "x": 1})";
  EXPECT_EQ(RedactedContent("m.room.aliases", kContent, "1"),
            Object(R"({"aliases": ["#a:example.org"]})"));
  EXPECT_EQ(RedactedContent("m.room.aliases", kContent, "5"),
            Object(R"({"aliases": ["#a:example.org"]})"));
  EXPECT_EQ(RedactedContent("m.room.aliases", kContent, "6"), boost::json::object());
}

TEST(RedactEvent, RedactionKeepsRedactsFromVersion11) {
  constexpr std::string_view kContent = R"({"redacts": "$x", "reason": "spam"})";
  EXPECT_EQ(RedactedContent("m.room.redaction", kContent, "10"), boost::json::object());
  EXPECT_EQ(RedactedContent("m.room.redaction", kContent, "11"), Object(R"({"redacts": "$x"})"));
}

TEST(RedactEvent, OtherTypesLoseAllContent) {
  EXPECT_EQ(RedactedContent("m.room.name", R"({"name": "n"})", "10"), boost::json::object());
  EXPECT_EQ(RedactedContent("m.room.topic", R"({"topic": "t"})", "11"), boost::json::object());
  // A key protected for another type is not protected here.
  EXPECT_EQ(RedactedContent("m.room.message", R"({"membership": "join"})", "10"),
            boost::json::object());
}

TEST(RedactEvent, MissingOrMalformedContentBecomesEmpty) {
  boost::json::object no_content = Object(R"({"type": "m.room.member", "sender": "@u:x"})");
  EXPECT_EQ(RedactEvent(no_content).at("content"), boost::json::object());
  EXPECT_EQ(RedactedContent("m.room.member", R"("join")", "10"), boost::json::object());
  boost::json::object no_type = Object(R"({"content": {"membership": "join"}})");
  EXPECT_EQ(RedactEvent(no_type).at("content"), boost::json::object());
}

TEST(RedactEvent, UnknownVersionsUseTheDefaultRules) {
  boost::json::object event = Event("m.room.join_rules", R"({"join_rule": "x", "allow": []})");
  boost::json::object fallback = RedactEvent(event, kDefaultRoomVersion);
  EXPECT_EQ(RedactEvent(event, "org.example.custom"), fallback);
  EXPECT_EQ(RedactEvent(event, ""), fallback);
  EXPECT_EQ(RedactEvent(event, "99"), fallback);
  EXPECT_EQ(RedactEvent(event), fallback);
  EXPECT_NE(RedactEvent(event, "7"), fallback);  // Version 7 drops `allow`.
}

}  // namespace
}  // namespace conclave::service
