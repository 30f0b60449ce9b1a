// The framework of the command tree: parsing, help, "did you mean", errors with usage, rendering
// of replies as plain text and HTML, and the Markdown reference.
#include "tree.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "admin_fixture.h"
#include "conclave/admin/commands.h"
#include "format.h"
#include "reply.h"

namespace conclave::admin {
namespace {

using ::testing::AllOf;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

class TreeTest : public test_util::AdminTest {};

TEST_F(TreeTest, HelpListsTheGroups) {
  std::string help = Ok("help");
  EXPECT_THAT(help, HasSubstr("Usage: !admin [OPTIONS] SUBCOMMAND"));
  for (const char* group : {"server", "modules", "users", "rooms", "database", "debug"}) {
    EXPECT_THAT(help, HasSubstr(group));
  }
  EXPECT_EQ(Ok(""), help);  // an empty command line is a request for help
  EXPECT_EQ(Ok("--help"), help);
}

TEST_F(TreeTest, HelpOfAGroupAndOfACommand) {
  std::string group = Ok("help users");
  EXPECT_THAT(group, HasSubstr("Usage: !admin users"));
  EXPECT_THAT(group, HasSubstr("create-user"));
  EXPECT_THAT(group, HasSubstr("force-leave-room"));
  EXPECT_EQ(Ok("users --help"), group);
  EXPECT_EQ(Ok("users"), group);  // a group alone shows its commands

  std::string command = Ok("help users create-user");
  EXPECT_THAT(command, HasSubstr("Usage: !admin users create-user [OPTIONS] USERNAME [PASSWORD]"));
  EXPECT_THAT(command, HasSubstr("without PASSWORD a random one is generated"));
  EXPECT_EQ(Ok("users create-user --help"), command);
  EXPECT_EQ(Ok("users create-user -h"), command);

  // Nested groups work the same way.
  EXPECT_THAT(Ok("help rooms alias set"), HasSubstr("Usage: !admin rooms alias set"));
  EXPECT_THAT(Ok("rooms alias --help"), HasSubstr("which"));
  EXPECT_EQ(Ok("rooms alias"), Ok("rooms alias --help"));
}

TEST_F(TreeTest, HelpRendersAsPreformattedHtml) {
  auto out = Run("help users");
  ASSERT_TRUE(out.ok());
  EXPECT_THAT(out->html, StartsWith("<pre><code>"));
  EXPECT_THAT(out->html, EndsWith("</code></pre>"));
  EXPECT_THAT(out->html, HasSubstr("[OPTIONS]"));
}

TEST_F(TreeTest, UnknownCommandsSuggestTheNearestOne) {
  absl::Status s = Err("sever uptime");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              StartsWith("unknown command 'sever'; did you mean 'server'?"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("Usage: !admin"));  // and the usage

  s = Err("server uptme");
  EXPECT_THAT(std::string(s.message()),
              StartsWith("unknown command of server 'uptme'; did you mean 'server uptime'?"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("Usage: !admin server"));

  // snake_case for kebab-case, and a command without its group.
  EXPECT_THAT(std::string(Err("users create_user bob").message()),
              HasSubstr("did you mean 'users create-user'?"));
  EXPECT_THAT(std::string(Err("create-user bob").message()),
              HasSubstr("did you mean 'users create-user'?"));
  EXPECT_THAT(std::string(Err("rooms alais list").message()),
              HasSubstr("did you mean 'rooms alias'?"));
  EXPECT_THAT(std::string(Err("help usrs").message()), HasSubstr("did you mean 'users'?"));
  // Nothing near: no suggestion.
  EXPECT_THAT(std::string(Err("xyzzy").message()),
              AllOf(StartsWith("unknown command 'xyzzy'"), Not(HasSubstr("did you mean"))));
}

TEST_F(TreeTest, BadArgumentsNameTheProblemAndPrintTheUsage) {
  absl::Status s = Err("users create-user");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), StartsWith("USERNAME is required"));
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("Usage: !admin users create-user [OPTIONS] USERNAME"));

  s = Err("server uptime now");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("now"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("Usage: !admin server uptime"));

  s = Err("server restart --hard");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("--hard"));

  // A handler's own kInvalidArgument gets the usage too.
  s = Err("users create-user @bob:elsewhere.org");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              StartsWith("@bob:elsewhere.org is not a user of this server"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("Usage: !admin users create-user"));
}

TEST_F(TreeTest, QuotedArgumentsStayOneWord) {
  EXPECT_EQ(Ok("debug echo \"two  spaces\" and 'single quotes'"),
            "two  spaces and single quotes\n");
}

TEST_F(TreeTest, CommandsNeedTheirModules) {
  environment_.homeserver = nullptr;
  environment_.database = nullptr;
  EXPECT_EQ(Err("users list-users").code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(Err("users list-users").message()),
              HasSubstr("the service module is not loaded"));
  EXPECT_EQ(Err("database stats").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Ok("debug ping"), "pong\n");  // commands that need neither still run
}

TEST(ReplyTest, RendersTablesAlignedAndAsHtml) {
  Reply reply("2 users <&>");
  reply.Table({"user", "admin"}, {{"@a:x", "admin"}, {"@longer:x", ""}});
  core::CommandOutput out = reply.Render();
  EXPECT_EQ(out.plain,
            "2 users <&>\n"
            "user       admin\n"
            "---------  -----\n"
            "@a:x       admin\n"
            "@longer:x\n");
  EXPECT_EQ(out.html,
            "<p>2 users &lt;&amp;&gt;</p>"
            "<table><thead><tr><th>user</th><th>admin</th></tr></thead><tbody>"
            "<tr><td>@a:x</td><td>admin</td></tr><tr><td>@longer:x</td><td></td></tr>"
            "</tbody></table>");
}

TEST(ReplyTest, LinesFormParagraphsAndPreIsEscaped) {
  Reply reply;
  reply.Text("one")
      .Text("two\nthree")
      .Pre("{\"a\": \"<b>\"}")
      .Table({}, {})
      .Table({}, {{"k", "v"}});
  core::CommandOutput out = reply.Render();
  EXPECT_EQ(out.plain, "one\ntwo\nthree\n{\"a\": \"<b>\"}\n(none)\nk  v\n");
  EXPECT_EQ(out.html,
            "<p>one<br>two<br>three</p><pre><code>{&quot;a&quot;: &quot;&lt;b&gt;&quot;}"
            "</code></pre><p>(none)</p><table><tbody><tr><td>k</td><td>v</td></tr></tbody>"
            "</table>");
}

TEST(ReplyTest, WidthCountsCharactersNotBytes) {
  Reply reply;
  reply.Table({"name", "n"}, {{"Café", "1"}, {"Tea", "2"}});
  EXPECT_EQ(reply.Render().plain, "name  n\n----  -\nCafé  1\nTea   2\n");
}

TEST(ReferenceTest, MarkdownCoversEveryCommand) {
  std::string md = CommandReference();
  EXPECT_THAT(md, StartsWith("# Admin commands\n"));
  for (const char* heading :
       {"## server", "### server uptime", "### server restart", "### server admin-notice",
        "### modules unload", "### users create-user", "### users force-leave-room",
        "### rooms list-rooms", "### rooms alias set", "### rooms directory publish",
        "### rooms moderation ban-room", "### database backup", "### debug change-log-level"}) {
    EXPECT_THAT(md, HasSubstr(std::string("\n") + heading + "\n")) << heading;
  }
  EXPECT_THAT(md, HasSubstr("!admin users create-user USERNAME [PASSWORD]"));
  EXPECT_THAT(md, HasSubstr("!admin server restart [OPTIONS]"));
  EXPECT_THAT(md, HasSubstr("| `-f,--force` |"));
  EXPECT_THAT(md,
              HasSubstr("| `USERNAME` | Localpart (or full user id) of the account (required) |"));
  EXPECT_THAT(md, Not(HasSubstr("`-h,--help`")));
  EXPECT_THAT(md, Not(HasSubstr("--markdown")));  // hidden
  // The hidden command gives the same text.
  Environment environment;
  core::Server server(core::Config{}, "release");
  environment.server = &server;
  auto out = Execute(environment, core::CommandRequest{"help --markdown", "", ""});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->plain, md);
}

TEST(FormatTest, NearestAndEditDistance) {
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(Nearest("uptme", {"uptime", "shutdown"}), "uptime");
  EXPECT_EQ(Nearest("upt", {"uptime", "shutdown"}), "uptime");
  EXPECT_EQ(Nearest("zzz", {"uptime", "shutdown"}), "");
}

}  // namespace
}  // namespace conclave::admin
