#include "conclave/service/protocol/power_levels.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "conclave/service/protocol/errors.h"

namespace conclave::service {
namespace {

using ::testing::HasSubstr;

constexpr char kCreator[] = "@alice:example.org";

boost::json::object Parse(std::string_view text) { return boost::json::parse(text).as_object(); }

TEST(PowerLevelsTest, WithoutAnEventTheCreatorHas100AndDefaultsApply) {
  absl::StatusOr<PowerLevels> levels = ParsePowerLevels(nullptr, kCreator);
  ASSERT_TRUE(levels.ok()) << levels.status();
  EXPECT_EQ(levels->UserLevel(kCreator), 100);
  EXPECT_EQ(levels->UserLevel("@bob:example.org"), 0);
  EXPECT_EQ(levels->ban, 50);
  EXPECT_EQ(levels->kick, 50);
  EXPECT_EQ(levels->redact, 50);
  EXPECT_EQ(levels->invite, 0);
  EXPECT_EQ(levels->EventLevel("m.room.topic", /*is_state=*/true), 50);
  EXPECT_EQ(levels->EventLevel("m.room.message", /*is_state=*/false), 0);
  EXPECT_EQ(levels->NotificationLevel("room"), 50);
}

TEST(PowerLevelsTest, AnEmptyContentGivesTheCreatorNothingSpecial) {
  boost::json::object content;
  absl::StatusOr<PowerLevels> levels = ParsePowerLevels(&content, kCreator);
  ASSERT_TRUE(levels.ok()) << levels.status();
  EXPECT_EQ(levels->UserLevel(kCreator), 0);
  EXPECT_EQ(levels->state_default, 50);
}

TEST(PowerLevelsTest, ContentOverridesDefaultsAndLookupsFallBack) {
  boost::json::object content = Parse(R"({
    "ban": 70, "kick": 60, "redact": 40, "invite": 10, "events_default": 5,
    "state_default": 45, "users_default": 3,
    "events": {"m.room.name": 80, "m.room.message": 7},
    "users": {"@bob:example.org": 90},
    "notifications": {"room": 20, "custom": 30}})");
  absl::StatusOr<PowerLevels> levels = ParsePowerLevels(&content, kCreator);
  ASSERT_TRUE(levels.ok()) << levels.status();
  EXPECT_EQ(levels->ban, 70);
  EXPECT_EQ(levels->kick, 60);
  EXPECT_EQ(levels->redact, 40);
  EXPECT_EQ(levels->invite, 10);
  EXPECT_EQ(levels->UserLevel("@bob:example.org"), 90);
  EXPECT_EQ(levels->UserLevel(kCreator), 3);
  EXPECT_EQ(levels->EventLevel("m.room.name", true), 80);
  EXPECT_EQ(levels->EventLevel("m.room.message", false), 7);
  EXPECT_EQ(levels->EventLevel("m.room.topic", true), 45);
  EXPECT_EQ(levels->EventLevel("m.sticker", false), 5);
  EXPECT_EQ(levels->NotificationLevel("room"), 20);
  EXPECT_EQ(levels->NotificationLevel("custom"), 30);
  EXPECT_EQ(levels->NotificationLevel("other"), 50);
}

TEST(PowerLevelsTest, StringsAndFloatsAreRefusedInRoomVersionTen) {
  for (std::string_view text :
       {R"({"ban": "50"})", R"({"users_default": 1.5})", R"({"invite": true})",
        R"({"events": {"m.room.name": "50"}})", R"({"users": {"@bob:example.org": "100"}})",
        R"({"notifications": {"room": 50.0}})"}) {
    boost::json::object content = Parse(text);
    absl::StatusOr<PowerLevels> levels = ParsePowerLevels(&content, kCreator);
    ASSERT_FALSE(levels.ok()) << text;
    EXPECT_EQ(ErrcodeOf(levels.status()), Errcode::kBadJson) << text;
    EXPECT_THAT(std::string(levels.status().message()), HasSubstr("must be an integer")) << text;
  }
  boost::json::object good = Parse(R"({"ban": 50, "users": {"@bob:example.org": -5}})");
  EXPECT_TRUE(ParsePowerLevels(&good, kCreator).ok());
}

TEST(PowerLevelsTest, MalformedMapsAndUserIdsAreRefusedByName) {
  struct Case {
    std::string_view text;
    std::string_view reason;
  };
  for (const Case& c : {Case{R"({"events": []})", "events must be an object"},
                        Case{R"({"users": 100})", "users must be an object"},
                        Case{R"({"users": {"bob": 10}})", "users key 'bob' is not a user ID"},
                        Case{R"({"users": {"@bob": 10}})", "is not a user ID"},
                        Case{R"({"kick": 9007199254740992})", "canonical JSON integer range"},
                        Case{R"({"kick": 18446744073709551615})", "canonical JSON"}}) {
    boost::json::object content = Parse(c.text);
    absl::StatusOr<PowerLevels> levels = ParsePowerLevels(&content, kCreator);
    ASSERT_FALSE(levels.ok()) << c.text;
    EXPECT_EQ(ErrcodeOf(levels.status()), Errcode::kBadJson);
    EXPECT_THAT(std::string(levels.status().message()), HasSubstr(c.reason)) << c.text;
  }
  boost::json::object edge = Parse(R"({"kick": 9007199254740991, "ban": -9007199254740991})");
  EXPECT_TRUE(ParsePowerLevels(&edge, kCreator).ok());
}

TEST(PowerLevelsTest, DefaultContentIsWhatSynapseWrites) {
  boost::json::object content = DefaultPowerLevelsContent(kCreator);
  EXPECT_EQ(content, Parse(R"({
    "users": {"@alice:example.org": 100}, "users_default": 0,
    "events": {"m.room.name": 50, "m.room.power_levels": 100,
               "m.room.history_visibility": 100, "m.room.canonical_alias": 50,
               "m.room.avatar": 50, "m.room.tombstone": 100, "m.room.server_acl": 100,
               "m.room.encryption": 100},
    "events_default": 0, "state_default": 50, "ban": 50, "kick": 50, "redact": 50,
    "invite": 0, "notifications": {"room": 50}})"));
  absl::StatusOr<PowerLevels> levels = ParsePowerLevels(&content, kCreator);
  ASSERT_TRUE(levels.ok()) << levels.status();
  EXPECT_EQ(levels->UserLevel(kCreator), 100);
  EXPECT_EQ(levels->EventLevel("m.room.power_levels", true), 100);
  EXPECT_EQ(levels->EventLevel("m.room.avatar", true), 50);
}

}  // namespace
}  // namespace conclave::service
