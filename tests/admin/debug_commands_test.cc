// `debug` commands against a real Homeserver.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "admin_fixture.h"
#include "conclave/core/log.h"

namespace conclave::admin {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

class DebugCommandsTest : public test_util::AdminTest {};

TEST_F(DebugCommandsTest, PingAndEcho) {
  EXPECT_EQ(Ok("debug ping"), "pong\n");
  EXPECT_EQ(Ok("debug echo hello   world"), "hello world\n");
  auto with_body = Run("debug echo body:", test_util::kInvoker, "{\"a\": 1}\n<b>");
  ASSERT_TRUE(with_body.ok());
  EXPECT_EQ(with_body->plain, "body:\n{\"a\": 1}\n<b>\n");
  EXPECT_EQ(with_body->html, "<p>body:</p><pre><code>{&quot;a&quot;: 1}\n&lt;b&gt;</code></pre>");
}

TEST_F(DebugCommandsTest, GetEventAndRoomState) {
  service::Session alice = Register("alice");
  std::string room = CreateRoom(alice, "Lobby", "lobby");
  auto event_id = hs_->rooms().Send(alice, room, "m.room.message", "t1",
                                    boost::json::object{{"msgtype", "m.text"}, {"body", "hi"}});
  ASSERT_TRUE(event_id.ok());
  std::string out = Ok("debug get-event " + *event_id);
  EXPECT_THAT(out, StartsWith(*event_id + " at stream position "));
  EXPECT_THAT(out, HasSubstr("\n{\n  \"type\": \"m.room.message\",\n"));
  EXPECT_THAT(
      out, HasSubstr("  \"content\": {\n    \"msgtype\": \"m.text\",\n    \"body\": \"hi\"\n  },"));
  EXPECT_EQ(Err("debug get-event $nope").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Err("debug get-event nope").code(), absl::StatusCode::kInvalidArgument);

  std::string state = Ok("debug get-room-state #lobby:example.org");
  EXPECT_THAT(state, MatchesRegex("current state of " + room + ": [0-9]+ events\n\\[\n(.|\n)*"));
  EXPECT_THAT(state, HasSubstr("\"type\": \"m.room.create\""));
  EXPECT_THAT(state, HasSubstr("\"name\": \"Lobby\""));
}

TEST_F(DebugCommandsTest, ChangeLogLevel) {
  const std::string before(core::LogLevelName());
  EXPECT_EQ(Ok("debug change-log-level debug"),
            "log level " + before +
                " → debug, by @root:example.org; until the next start, "
                "which applies the config's log_level\n");
  EXPECT_EQ(core::LogLevelName(), "debug");
  absl::Status s = Err("debug change-log-level loud");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("Usage: !admin debug change-log-level"));
  EXPECT_EQ(core::LogLevelName(), "debug");
  ASSERT_TRUE(core::SetLogLevel(before).ok());
}

TEST_F(DebugCommandsTest, Time) {
  EXPECT_THAT(Ok("debug time"),
              MatchesRegex("20[0-9]{2}-[0-9]{2}-[0-9]{2} [0-9:.]+ UTC \\([0-9]+ ms since the Unix "
                           "epoch\\)\n"));
}

}  // namespace
}  // namespace conclave::admin
