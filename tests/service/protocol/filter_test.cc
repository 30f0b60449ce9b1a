#include "conclave/service/protocol/filter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "conclave/service/protocol/errors.h"

namespace conclave::service {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

boost::json::value Json(std::string_view text) { return boost::json::parse(text); }

boost::json::object Ev(std::string_view type, std::string_view sender,
                       std::string_view room_id = "!a:example.org") {
  boost::json::object event;
  event["type"] = type;
  event["sender"] = sender;
  event["room_id"] = room_id;
  event["content"] = boost::json::object();
  return event;
}

Filter MustParse(std::string_view text) {
  absl::StatusOr<Filter> filter = ParseFilter(Json(text));
  EXPECT_TRUE(filter.ok()) << filter.status();
  return filter.ok() ? *filter : Filter();
}

void ExpectBadJson(std::string_view text, std::string_view field) {
  absl::StatusOr<Filter> filter = ParseFilter(Json(text));
  ASSERT_FALSE(filter.ok()) << text;
  EXPECT_EQ(ErrcodeOf(filter.status()), Errcode::kBadJson) << text;
  EXPECT_THAT(std::string(filter.status().message()), HasSubstr(field)) << text;
}

TEST(FilterTest, ParsesTheSpecExample) {
  Filter filter = MustParse(R"({
    "room": {
      "state": {"types": ["m.room.*"], "not_rooms": ["!726s6s6q:example.com"]},
      "timeline": {"limit": 10, "types": ["m.room.message"],
                   "not_rooms": ["!726s6s6q:example.com"], "not_senders": ["@spam:example.com"]},
      "ephemeral": {"types": ["m.receipt", "m.typing"], "not_rooms": ["!726s6s6q:example.com"],
                    "not_senders": ["@spam:example.com"]}},
    "presence": {"types": ["m.presence"], "not_senders": ["@alice:example.com"]},
    "event_format": "client",
    "event_fields": ["type", "content", "sender"]})");
  EXPECT_EQ(filter.room.timeline.limit, 10);
  EXPECT_THAT(*filter.room.state.types, ElementsAre("m.room.*"));
  EXPECT_THAT(*filter.room.ephemeral.types, ElementsAre("m.receipt", "m.typing"));
  EXPECT_THAT(*filter.presence.not_senders, ElementsAre("@alice:example.com"));
  EXPECT_EQ(filter.event_format, "client");
  EXPECT_THAT(*filter.event_fields, ElementsAre("type", "content", "sender"));
  EXPECT_FALSE(filter.room.account_data.types.has_value());
  EXPECT_FALSE(filter.account_data.limit.has_value());
}

TEST(FilterTest, RoundTripKeepsWhatWasGiven) {
  boost::json::value given = Json(R"({
    "event_fields": ["content.body"], "event_format": "federation",
    "presence": {"limit": 3, "senders": ["@a:x.org"]},
    "account_data": {"not_types": ["m.push_rules"]},
    "room": {"rooms": ["!r:x.org"], "not_rooms": ["!s:x.org"], "include_leave": false,
             "timeline": {"limit": 20, "contains_url": true, "lazy_load_members": true,
                          "include_redundant_members": false,
                          "unread_thread_notifications": true, "types": []},
             "state": {"lazy_load_members": true},
             "ephemeral": {"not_senders": ["@b:x.org"]},
             "account_data": {"rooms": []}}})");
  absl::StatusOr<Filter> filter = ParseFilter(given);
  ASSERT_TRUE(filter.ok()) << filter.status();
  EXPECT_EQ(boost::json::value(ToJson(*filter)), given) << boost::json::serialize(ToJson(*filter));
  EXPECT_EQ(ToJson(MustParse("{}")), boost::json::object());
}

TEST(FilterTest, NotTypesWinsOverTypes) {
  Filter filter = MustParse(R"({"presence": {"types": ["m.*"], "not_types": ["m.typing"]}})");
  EXPECT_TRUE(Matches(filter.presence, Ev("m.presence", "@a:x.org")));
  EXPECT_FALSE(Matches(filter.presence, Ev("m.typing", "@a:x.org")));
  EXPECT_FALSE(Matches(filter.presence, Ev("org.other", "@a:x.org")));
}

TEST(FilterTest, WildcardsMatchAnySequence) {
  EXPECT_TRUE(MatchesWildcard("m.room.*", "m.room.message"));
  EXPECT_TRUE(MatchesWildcard("m.room.*", "m.room."));
  EXPECT_FALSE(MatchesWildcard("m.room.*", "m.roo"));
  EXPECT_FALSE(MatchesWildcard("m.room.*", "xm.room.message"));
  EXPECT_TRUE(MatchesWildcard("*", ""));
  EXPECT_TRUE(MatchesWildcard("m.*.member", "m.room.member"));
  EXPECT_FALSE(MatchesWildcard("m.*.member", "m.room.members"));
  EXPECT_TRUE(MatchesWildcard("*a*b", "xxaxxab"));
  EXPECT_TRUE(MatchesWildcard("m.room.message", "m.room.message"));
  EXPECT_FALSE(MatchesWildcard("m.room.message", "m.room.messages"));
  Filter filter = MustParse(R"({"presence": {"not_types": ["org.*"]}})");
  EXPECT_FALSE(Matches(filter.presence, Ev("org.example", "@a:x.org")));
  EXPECT_TRUE(Matches(filter.presence, Ev("m.presence", "@a:x.org")));
}

TEST(FilterTest, EmptyTypesMatchesNothingAbsentMatchesAll) {
  Filter filter = MustParse(R"({"presence": {"types": []}})");
  EXPECT_FALSE(Matches(filter.presence, Ev("m.presence", "@a:x.org")));
  EXPECT_TRUE(Matches(filter.account_data, Ev("m.presence", "@a:x.org")));
}

TEST(FilterTest, SendersAndNotSenders) {
  Filter filter = MustParse(
      R"({"presence": {"senders": ["@a:x.org", "@b:x.org"], "not_senders": ["@b:x.org"]}})");
  EXPECT_TRUE(Matches(filter.presence, Ev("m.presence", "@a:x.org")));
  EXPECT_FALSE(Matches(filter.presence, Ev("m.presence", "@b:x.org")));  // not_senders wins
  EXPECT_FALSE(Matches(filter.presence, Ev("m.presence", "@c:x.org")));
  boost::json::object old_presence;  // sender in content.user_id
  old_presence["type"] = "m.presence";
  old_presence["content"] = Json(R"({"user_id": "@a:x.org"})");
  EXPECT_TRUE(Matches(filter.presence, old_presence));
  boost::json::object no_sender;
  no_sender["type"] = "m.presence";
  EXPECT_FALSE(Matches(filter.presence, no_sender));
}

TEST(FilterTest, RoomsAndNotRooms) {
  Filter filter = MustParse(R"({"room": {"rooms": ["!a:x.org", "!b:x.org"],
      "timeline": {"not_rooms": ["!b:x.org"]}}})");
  EXPECT_TRUE(MatchesRoom(filter.room, "!a:x.org"));
  EXPECT_FALSE(MatchesRoom(filter.room, "!c:x.org"));
  EXPECT_TRUE(Matches(filter.room.timeline, Ev("m.room.message", "@a:x.org", "!a:x.org")));
  EXPECT_FALSE(Matches(filter.room.timeline, Ev("m.room.message", "@a:x.org", "!b:x.org")));
  EXPECT_FALSE(MatchesRoom(filter.room.timeline, "!b:x.org"));
  boost::json::object ephemeral = Ev("m.typing", "@a:x.org");
  ephemeral.erase("room_id");  // room lists are the caller's, via MatchesRoom
  EXPECT_TRUE(Matches(filter.room.timeline, ephemeral));

  Filter none = MustParse(R"({"room": {"not_rooms": ["!a:x.org"], "rooms": []}})");
  EXPECT_FALSE(MatchesRoom(none.room, "!a:x.org"));
  EXPECT_FALSE(MatchesRoom(none.room, "!b:x.org"));
}

TEST(FilterTest, ContainsUrlChecksContent) {
  boost::json::object with_url = Ev("m.room.message", "@a:x.org");
  with_url["content"] = Json(R"({"url": "mxc://x.org/abc", "msgtype": "m.image"})");
  boost::json::object without_url = Ev("m.room.message", "@a:x.org");
  Filter only = MustParse(R"({"room": {"timeline": {"contains_url": true}}})");
  EXPECT_TRUE(Matches(only.room.timeline, with_url));
  EXPECT_FALSE(Matches(only.room.timeline, without_url));
  Filter never = MustParse(R"({"room": {"timeline": {"contains_url": false}}})");
  EXPECT_FALSE(Matches(never.room.timeline, with_url));
  EXPECT_TRUE(Matches(never.room.timeline, without_url));
  EXPECT_TRUE(Matches(MustParse("{}").room.timeline, with_url));
}

TEST(FilterTest, LimitMustBeAPositiveInteger) {
  ExpectBadJson(R"({"room": {"timeline": {"limit": 0}}})", "room.timeline.limit");
  ExpectBadJson(R"({"room": {"timeline": {"limit": -5}}})", "greater than 0");
  ExpectBadJson(R"({"presence": {"limit": 1.5}})", "presence.limit");
  ExpectBadJson(R"({"presence": {"limit": "10"}})", "presence.limit");
  Filter filter = MustParse(R"({"room": {"state": {"limit": 1}}})");
  EXPECT_EQ(filter.room.state.limit, 1);
}

TEST(FilterTest, WrongTypesAreRefusedNamingTheField) {
  ExpectBadJson(R"([])", "must be a JSON object");
  ExpectBadJson(R"({"room": []})", "room must be an object");
  ExpectBadJson(R"({"room": {"timeline": "all"}})", "room.timeline must be an object");
  ExpectBadJson(R"({"presence": {"types": "m.presence"}})", "presence.types");
  ExpectBadJson(R"({"presence": {"not_types": [1]}})", "presence.not_types");
  ExpectBadJson(R"({"room": {"state": {"senders": ["alice"]}}})", "room.state.senders");
  ExpectBadJson(R"({"room": {"rooms": ["#alias:x.org"]}})", "room.rooms");
  ExpectBadJson(R"({"room": {"include_leave": "yes"}})", "room.include_leave");
  ExpectBadJson(R"({"room": {"ephemeral": {"lazy_load_members": 1}}})",
                "room.ephemeral.lazy_load_members");
  ExpectBadJson(R"({"event_format": "raw"})", "event_format");
  ExpectBadJson(R"({"event_fields": "type"})", "event_fields");
  EXPECT_TRUE(ParseFilter(Json(R"({"unknown_key": 1})")).ok());
}

TEST(FilterTest, EffectiveLimitUsesDefaultAndCap) {
  EventFilter filter;
  EXPECT_EQ(EffectiveLimit(filter, 10, 100), 10);
  filter.limit = 500;
  EXPECT_EQ(EffectiveLimit(filter, 10, 100), 100);
  filter.limit = 5;
  EXPECT_EQ(EffectiveLimit(filter, 10, 100), 5);
}

}  // namespace
}  // namespace conclave::service
