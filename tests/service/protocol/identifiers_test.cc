#include "conclave/service/protocol/identifiers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/errors.h"

namespace conclave::service {
namespace {

using ::testing::MatchesRegex;

TEST(ValidateLocalpartForRegistration, AcceptsTheCurrentGrammar) {
  for (std::string_view ok : {"alice", "a", "0", "bob.smith_1=2-3/4+5", "._=-/+"}) {
    EXPECT_TRUE(ValidateLocalpartForRegistration(ok).ok()) << ok;
  }
}

TEST(ValidateLocalpartForRegistration, RefusesEverythingElseAsInvalidUsername) {
  for (std::string_view bad : {"", "Alice", "al ice", "al:ice", "al@ice", "al#ice", "al*ice",
                               "al!ice", "ali\xc3\xa9", "al\tice", "al~ice"}) {
    absl::Status status = ValidateLocalpartForRegistration(bad);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(ErrcodeOf(status), Errcode::kInvalidUsername) << bad;
  }
}

TEST(IsValidServerName, AcceptsTheSpecExamples) {
  for (std::string_view ok : {"matrix.org", "matrix.org:8888", "1.2.3.4", "1.2.3.4:1234",
                              "[1234:5678::abcd]", "[1234:5678::abcd]:5678"}) {
    EXPECT_TRUE(IsValidServerName(ok)) << ok;
  }
}

TEST(IsValidServerName, AcceptsOtherValidNames) {
  for (std::string_view ok :
       {"localhost", "a", "MATRIX.ORG", "my-server.example.org:65535", "0.0.0.0",
        "255.255.255.255:1", "[::1]", "[::ffff:1.2.3.4]:80", "example.org:0", "123.example"}) {
    EXPECT_TRUE(IsValidServerName(ok)) << ok;
  }
  EXPECT_TRUE(IsValidServerName(std::string(255, 'a')));
}

TEST(IsValidServerName, RefusesInvalidNames) {
  for (std::string_view bad : {"",
                               ":80",
                               "example.org:",
                               "example.org:65536",
                               "example.org:123456",
                               "example.org:8a",
                               "exa mple.org",
                               "example_org",
                               "example..org",
                               ".example.org",
                               "example.org.",
                               "ex\xc3\xa4mple.org",
                               "1.2.3.256",
                               "1.2.3",
                               "1.2.3.4.5",
                               "1.2.3.1234",
                               "[1234:5678::abcd",
                               "[]",
                               "[1:2:3]",
                               "[::1]x",
                               "[::1]:",
                               "[fe80::1%eth0]",
                               "1234:5678::abcd",
                               "example.org:80:80",
                               "example.org/path"}) {
    EXPECT_FALSE(IsValidServerName(bad)) << bad;
  }
  EXPECT_FALSE(IsValidServerName(std::string(256, 'a')));
}

TEST(ParseUserId, SplitsLocalpartAndServerName) {
  absl::StatusOr<UserId> id = ParseUserId("@alice:example.org:8448");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, (UserId{"alice", "example.org:8448"}));
  EXPECT_EQ(id->ToString(), "@alice:example.org:8448");
  EXPECT_EQ(ParseUserId("@a:[::1]").value_or(UserId{}), (UserId{"a", "[::1]"}));
}

TEST(ParseUserId, AcceptsHistoricalLocalparts) {
  EXPECT_EQ(ParseUserId("@Alice!#~:example.org").value_or(UserId{}),
            (UserId{"Alice!#~", "example.org"}));
}

TEST(ParseUserId, RefusesMalformedIds) {
  for (std::string_view bad : {"", "@", "alice:example.org", "#alice:example.org", "@alice",
                               "@:example.org", "@alice:", "@alice:bad_host", "@al ice:example.org",
                               "@al\x7f"
                               "ice:example.org",
                               "@ali\xc3\xa9:example.org", "@alice:example.org:port"}) {
    absl::StatusOr<UserId> id = ParseUserId(bad);
    EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(ErrcodeOf(id.status()), Errcode::kInvalidParam) << bad;
  }
}

TEST(ParseUserId, LimitsTheWholeIdTo255Bytes) {
  std::string server = ":example.org";
  std::string longest = core::StrCat("@", std::string(255 - 1 - server.size(), 'a'), server);
  ASSERT_EQ(longest.size(), 255u);
  EXPECT_TRUE(ParseUserId(longest).ok());
  EXPECT_EQ(ParseUserId("@a" + longest.substr(1)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ParseRoomId, AcceptsOpaqueIds) {
  EXPECT_EQ(ParseRoomId("!AbC123:example.org").value_or(RoomId{}),
            (RoomId{"AbC123", "example.org"}));
  EXPECT_EQ(ParseRoomId("!r\xc3\xa9 x\t:example.org").value_or(RoomId{}),
            (RoomId{"r\xc3\xa9 x\t", "example.org"}));
  EXPECT_EQ((RoomId{"x", "example.org"}).ToString(), "!x:example.org");
}

TEST(ParseRoomId, AcceptsVersion12HashIds) {
  const std::string id = "!" + std::string(42, 'A') + "_";
  absl::StatusOr<RoomId> room = ParseRoomId(id);
  ASSERT_TRUE(room.ok()) << room.status();
  EXPECT_EQ(room->server_name, "");
  EXPECT_EQ(room->ToString(), id);
  // One character short, or a character outside URL-safe base64: neither form.
  EXPECT_FALSE(ParseRoomId("!" + std::string(42, 'A')).ok());
  EXPECT_FALSE(ParseRoomId("!" + std::string(42, 'A') + "+").ok());
}

TEST(ParseRoomId, RefusesMalformedIds) {
  for (std::string_view bad : {"", "!", "!abc", "!:example.org", "@abc:example.org",
                               "!abc:bad host", "!a\xff:example.org"}) {
    EXPECT_EQ(ParseRoomId(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(ParseRoomId(std::string_view("!a\0b:example.org", 16)).ok());
  EXPECT_FALSE(ParseRoomId("!" + std::string(250, 'a') + ":example.org").ok());
}

TEST(ParseRoomAlias, AcceptsAliases) {
  EXPECT_EQ(ParseRoomAlias("#Room-name_1:example.org").value_or(RoomAlias{}),
            (RoomAlias{"Room-name_1", "example.org"}));
  EXPECT_EQ(ParseRoomAlias("#caf\xc3\xa9:example.org").value_or(RoomAlias{}),
            (RoomAlias{"caf\xc3\xa9", "example.org"}));
  EXPECT_EQ((RoomAlias{"a", "example.org"}).ToString(), "#a:example.org");
}

TEST(ParseRoomAlias, RefusesMalformedAliases) {
  for (std::string_view bad :
       {"", "#", "#room", "#:example.org", "!room:example.org", "#my room:example.org",
        "#room\n:example.org", "#ro\tom:example.org", "#room:exa mple.org", "#r\xff:example.org"}) {
    EXPECT_EQ(ParseRoomAlias(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(LooksLikeEventId, ChecksSigilAndLength) {
  EXPECT_TRUE(LooksLikeEventId("$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg"));
  EXPECT_TRUE(LooksLikeEventId("$abc:example.org"));
  EXPECT_FALSE(LooksLikeEventId(""));
  EXPECT_FALSE(LooksLikeEventId("$"));
  EXPECT_FALSE(LooksLikeEventId("!abc:example.org"));
  EXPECT_FALSE(LooksLikeEventId("$" + std::string(255, 'a')));
}

TEST(NewRoomId, IsAValidFreshRoomId) {
  std::string id = NewRoomId("example.org");
  EXPECT_THAT(id, MatchesRegex("![A-Za-z0-9]{18}:example\\.org"));
  EXPECT_TRUE(ParseRoomId(id).ok());
  EXPECT_NE(NewRoomId("example.org"), id);
}

TEST(NewDeviceId, IsTenUpperCaseLetters) {
  std::set<std::string> seen;
  for (int i = 0; i < 20; ++i) {
    std::string id = NewDeviceId();
    EXPECT_THAT(id, MatchesRegex("[A-Z]{10}"));
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 20u);
}

TEST(NewAccessToken, IsLongAndFresh) {
  std::string token = NewAccessToken();
  EXPECT_THAT(token, MatchesRegex("[A-Za-z0-9]{40,}"));
  EXPECT_NE(NewAccessToken(), token);
}

}  // namespace
}  // namespace conclave::service
