// The admin room over a real RocksDB: the bot and #admins set up once and idempotently, the first
// registered user made admin and joined, command intake (prefixes, fenced bodies, refusals), and
// the command queue (one at a time, in order, waiting for the admin module, carried across a
// reload of service in the saved bytes, a running command finished exactly once).
#include "conclave/service/admin_room/admin_room.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "admin_room/admin_room_impl.h"
#include "conclave/core/command_slot.h"
#include "conclave/core/server.h"
#include "conclave/database/database.h"
#include "conclave/service/homeserver.h"
#include "conclave/service/protocol/room_versions.h"
#include "conclave/service/rooms/rooms.h"
#include "service/testing/homeserver_fixture.h"
#include "service/testing/status_matchers.h"

namespace conclave::service {
namespace {

using test_util::HasErrcode;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

constexpr char kBot[] = "@conclave:example.org";

std::string Str(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(boost::json::string_view(key.data(), key.size()));
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

// Polls `done` every few milliseconds for up to five seconds.
bool WaitFor(const std::function<bool()>& done) {
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

// Reopen(saved) is what a reload of service does. TearDown destroys the Homeserver (and joins
// its worker) before handle_ uninstalls the processor.
class AdminRoomTest : public test_util::HomeserverTest {
 protected:
  // Installs a processor that records each request and answers "ran <command line>", or runs
  // `behaviour` when given.
  void InstallProcessor(
      std::function<absl::StatusOr<core::CommandOutput>(const core::CommandRequest&)> behaviour =
          nullptr) {
    auto handle = server_->commands().Install(
        [this, behaviour](const core::CommandRequest& r) -> absl::StatusOr<core::CommandOutput> {
          {
            std::lock_guard lock(mu_);
            requests_.push_back(r);
          }
          if (behaviour) return behaviour(r);
          return core::CommandOutput{"ran " + r.command_line, "<b>ran</b> " + r.command_line};
        });
    ASSERT_TRUE(handle.ok()) << handle.status();
    handle_ = *std::move(handle);
  }

  std::vector<core::CommandRequest> Requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  std::vector<std::string> CommandLines() {
    std::vector<std::string> out;
    for (const auto& r : Requests()) out.push_back(r.command_line);
    return out;
  }

  const std::string& room() { return hs_->admin_room().room_id(); }

  std::string Say(const Session& who, const std::string& body, const std::string& formatted = "",
                  const std::string& room_id = "") {
    boost::json::object content{{"msgtype", "m.text"}, {"body", body}};
    if (!formatted.empty()) {
      content["format"] = "org.matrix.custom.html";
      content["formatted_body"] = formatted;
    }
    return Send(who, content, room_id);
  }

  std::string Send(const Session& who, const boost::json::object& content,
                   const std::string& room_id = "") {
    auto r = hs_->rooms().Send(who, room_id.empty() ? room() : room_id, "m.room.message",
                               "txn" + std::to_string(++txn_), content);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : "";
  }

  std::vector<StoredEvent> Timeline() {
    bool limited = false;
    auto events = hs_->rooms().Timeline(room(), 0, UINT64_MAX, 10000, RoomEventFilter{}, &limited);
    EXPECT_TRUE(events.ok()) << events.status();
    return events.ok() ? *events : std::vector<StoredEvent>{};
  }

  // The bot's notices, oldest first.
  std::vector<boost::json::object> Notices() {
    std::vector<boost::json::object> out;
    for (const auto& e : Timeline()) {
      if (Str(e.pdu, "sender") != kBot || Str(e.pdu, "type") != "m.room.message") continue;
      out.push_back(e.pdu.at("content").as_object());
    }
    return out;
  }

  static std::string InReplyTo(const boost::json::object& content) {
    const auto* rel = content.if_contains("m.relates_to");
    if (rel == nullptr || !rel->is_object()) return "";
    const auto* reply = rel->as_object().if_contains("m.in_reply_to");
    return reply != nullptr && reply->is_object() ? Str(reply->as_object(), "event_id") : "";
  }

  std::string Membership(const std::string& user_id) {
    auto rooms = hs_->rooms().UserRooms(user_id);
    EXPECT_TRUE(rooms.ok()) << rooms.status();
    if (!rooms.ok()) return "";
    for (const auto& r : *rooms) {
      if (r.room_id == room()) return r.membership;
    }
    return "";
  }

  size_t SavedQueueLength(const std::string& saved) {
    auto state = boost::json::parse(saved).as_object();
    return boost::json::parse(state.at("admin_queue").as_string()).as_array().size();
  }

  core::CommandHandle handle_;  // uninstalled after the Homeserver (and its worker) is gone
  std::mutex mu_;
  std::vector<core::CommandRequest> requests_;  // guarded by mu_
  int txn_ = 0;
};

TEST_F(AdminRoomTest, SetUpCreatesTheBotAndTheRoomOnceAcrossReopens) {
  const std::string room_id = room();
  ASSERT_THAT(room_id, StartsWith("!"));
  EXPECT_EQ(hs_->admin_room().bot_user_id(), kBot);
  EXPECT_EQ(*hs_->rooms().ResolveAlias("#admins:example.org"), room_id);
  EXPECT_TRUE(hs_->accounts().IsAdmin(kBot));
  EXPECT_EQ(hs_->accounts().GetProfile(kBot)->displayname, "conclave");

  const Session bot{kBot, ""};
  EXPECT_EQ(Str(*hs_->rooms().StateContent(bot, room_id, "m.room.name", ""), "name"), "Admin Room");
  EXPECT_THAT(Str(*hs_->rooms().StateContent(bot, room_id, "m.room.topic", ""), "topic"),
              HasSubstr("!admin help"));
  EXPECT_EQ(Str(*hs_->rooms().StateContent(bot, room_id, "m.room.join_rules", ""), "join_rule"),
            "invite");
  auto power = hs_->rooms().StateContent(bot, room_id, "m.room.power_levels", "");
  ASSERT_TRUE(power.ok());
  EXPECT_EQ(Str(*hs_->rooms().StateContent(bot, room_id, "m.room.create", ""), "room_version"),
            kDefaultRoomVersion);
  EXPECT_EQ(power->at("users").as_object().at(kBot).as_int64(), 100);
  EXPECT_FALSE(*hs_->rooms().IsPublished(room_id));
  EXPECT_EQ(Membership(kBot), "join");

  const uint64_t latest = hs_->rooms().LatestPosition(room_id);
  const uint64_t stream = hs_->stream().current();
  Reopen(hs_->Save());
  Reopen("");
  EXPECT_EQ(room(), room_id);
  EXPECT_EQ(hs_->rooms().LatestPosition(room_id), latest);  // no new event in the room
  EXPECT_EQ(hs_->stream().current(), stream);               // nor anywhere else
  EXPECT_THAT(*hs_->accounts().ListUsers(), ElementsAre(kBot));
}

TEST_F(AdminRoomTest, FirstRegisteredUserIsAdminAndJoinedOthersAreNot) {
  Session alice = Register("alice");
  Session bob = Register("bob");
  EXPECT_TRUE(hs_->accounts().IsAdmin(alice.user_id));
  EXPECT_FALSE(hs_->accounts().IsAdmin(bob.user_id));
  EXPECT_EQ(Membership(alice.user_id), "join");
  EXPECT_EQ(Membership(bob.user_id), "");
  auto joined = hs_->rooms().JoinedUserIds(room());
  ASSERT_TRUE(joined.ok());
  EXPECT_THAT(*joined, testing::UnorderedElementsAre(kBot, alice.user_id));
}

TEST_F(AdminRoomTest, AdminsAreInvitedWhenGrantedAndAtLoadButNotTwice) {
  Register("alice");
  Session bob = Register("bob");
  Session carol = Register("carol");
  ASSERT_TRUE(hs_->accounts().SetAdmin(bob.user_id, true).ok());
  ASSERT_TRUE(hs_->admin_room().OnAdminGranted(bob.user_id).ok());
  EXPECT_EQ(Membership(bob.user_id), "invite");
  const uint64_t latest = hs_->rooms().LatestPosition(room());
  EXPECT_TRUE(hs_->admin_room().OnAdminGranted(bob.user_id).ok());  // already invited
  EXPECT_EQ(hs_->rooms().LatestPosition(room()), latest);

  // Made admin without the room being told (e.g. by an older build): invited at the next load.
  ASSERT_TRUE(hs_->accounts().SetAdmin(carol.user_id, true).ok());
  EXPECT_EQ(Membership(carol.user_id), "");
  Reopen("");
  EXPECT_EQ(Membership(carol.user_id), "invite");
  EXPECT_THAT(hs_->admin_room().OnAdminGranted("@nobody:example.org"),
              HasErrcode(Errcode::kNotFound));
}

TEST_F(AdminRoomTest, IntakeRecognisesThePrefixesAndTheFencedBody) {
  InstallProcessor();
  ASSERT_TRUE(hs_->Start().ok());
  Session alice = Register("alice");
  std::vector<std::string> commands = {
      Say(alice, "!admin server uptime"),
      Say(alice, "@conclave:example.org: users list-users"),
      Say(alice, "@conclave:example.org debug ping"),
      Say(alice, "conclave: debug time"),
      Say(alice, "Conclave Bot: debug echo hi",
          "<a href=\"https://matrix.to/#/%40conclave%3Aexample.org\">Conclave Bot</a>: debug "
          "echo hi"),
      Say(alice, "!admin users create-users\n```\n@a:example.org\n@b:example.org\n```\nthanks"),
      // Typed as a reply, with the fallback older clients put before the text.
      Send(alice, {{"msgtype", "m.text"},
                   {"body", "> <@conclave:example.org> ran server uptime\n\n!admin server uptime"},
                   {"m.relates_to", {{"m.in_reply_to", {{"event_id", "$x"}}}}}}),
  };
  // Not commands.
  Say(alice, "hello");
  Say(alice, "!administrator");
  Say(alice, "conclave is great");
  Say(alice, "@conclave:example.orgx ping");
  Say(alice, "Someone: debug echo hi",
      "<a href=\"https://matrix.to/#/@alice:example.org\">Someone</a>: debug echo hi");
  Send(alice, {{"msgtype", "m.notice"}, {"body", "!admin server uptime"}});
  Send(alice, {{"msgtype", "m.emote"}, {"body", "!admin server uptime"}});
  ASSERT_TRUE(WaitFor([&] { return Notices().size() >= commands.size(); }));
  EXPECT_THAT(CommandLines(),
              ElementsAre("server uptime", "users list-users", "debug ping", "debug time",
                          "debug echo hi", "users create-users", "server uptime"));
  auto requests = Requests();
  EXPECT_EQ(requests[5].body, "@a:example.org\n@b:example.org");
  EXPECT_EQ(requests[0].body, "");
  for (const auto& r : requests) EXPECT_EQ(r.invoker, alice.user_id);

  // Each answer is an m.notice with both bodies, in reply to its command, in order.
  auto notices = Notices();
  ASSERT_EQ(notices.size(), commands.size());
  for (size_t i = 0; i < notices.size(); ++i) {
    EXPECT_EQ(Str(notices[i], "msgtype"), "m.notice");
    EXPECT_EQ(Str(notices[i], "format"), "org.matrix.custom.html");
    EXPECT_EQ(InReplyTo(notices[i]), commands[i]);
  }
  EXPECT_EQ(Str(notices[0], "body"), "ran server uptime");
  EXPECT_EQ(Str(notices[0], "formatted_body"), "<b>ran</b> server uptime");
  // The bot's own messages are never commands, even when they look like one. The intake runs
  // inside Send, so the marker after it is queued after it would have been: once the marker has
  // run, the notice would have too.
  ASSERT_TRUE(hs_->admin_room().Notice("!admin server uptime", "", std::nullopt).ok());
  Say(alice, "!admin debug ping");
  ASSERT_TRUE(WaitFor([&] { return Requests().size() > commands.size(); }));
  EXPECT_EQ(CommandLines().back(), "debug ping");
  EXPECT_EQ(Requests().size(), commands.size() + 1);
}

TEST_F(AdminRoomTest, NonAdminsAreRefusedOnceAMinuteAndNothingRuns) {
  InstallProcessor();
  ASSERT_TRUE(hs_->Start().ok());
  Session alice = Register("alice");
  Session bob = Register("bob");
  ASSERT_TRUE(hs_->rooms().Invite(Session{kBot, ""}, room(), bob.user_id, std::nullopt).ok());
  ASSERT_TRUE(hs_->rooms().Join(bob, room(), std::nullopt).ok());
  std::string first = Say(bob, "!admin server shutdown");
  Say(bob, "!admin server shutdown");
  Say(bob, "conclave: server shutdown");
  // Refusals are sent inside Send, before it returns: all of them are in the room by now.
  auto notices = Notices();
  ASSERT_EQ(notices.size(), 1u);  // rate-limited: one refusal a minute
  EXPECT_THAT(Str(notices[0], "body"), HasSubstr("only server admins"));
  EXPECT_EQ(InReplyTo(notices[0]), first);
  // An admin's marker command queued after them: once it ran, nothing of bob's did.
  Say(alice, "!admin debug ping");
  ASSERT_TRUE(WaitFor([&] { return Notices().size() == 2; }));
  EXPECT_THAT(CommandLines(), ElementsAre("debug ping"));
}

TEST_F(AdminRoomTest, CommandsInOtherRoomsDoNotRun) {
  InstallProcessor();
  ASSERT_TRUE(hs_->Start().ok());
  Session alice = Register("alice");
  auto other = hs_->rooms().CreateRoom(alice, {.name = "elsewhere"});
  ASSERT_TRUE(other.ok());
  Say(alice, "!admin server uptime", "", other->room_id);
  Say(alice, "!admin debug ping");  // a marker: once it ran, the first one would have too
  ASSERT_TRUE(WaitFor([&] { return !Notices().empty(); }));
  EXPECT_THAT(CommandLines(), ElementsAre("debug ping"));
}

TEST_F(AdminRoomTest, RetriedTransactionQueuesTheCommandOnce) {
  InstallProcessor();
  ASSERT_TRUE(hs_->Start().ok());
  Session alice = Register("alice");
  boost::json::object content{{"msgtype", "m.text"}, {"body", "!admin debug ping"}};
  auto first = hs_->rooms().Send(alice, room(), "m.room.message", "same", content);
  auto again = hs_->rooms().Send(alice, room(), "m.room.message", "same", content);
  ASSERT_TRUE(first.ok() && again.ok());
  EXPECT_EQ(*first, *again);
  Say(alice, "!admin debug time");
  ASSERT_TRUE(WaitFor([&] { return Notices().size() == 2; }));
  EXPECT_THAT(CommandLines(), ElementsAre("debug ping", "debug time"));
}

TEST_F(AdminRoomTest, QueueWaitsForTheAdminModuleAndSurvivesAReloadOfService) {
  Session alice = Register("alice");
  ASSERT_TRUE(hs_->Start().ok());  // no processor: the admin module is "not loaded"
  std::vector<std::string> commands = {Say(alice, "!admin one"), Say(alice, "!admin two"),
                                       Say(alice, "!admin three")};
  // A few rounds of the worker finding no processor, and no answer.
  ASSERT_TRUE(WaitFor([&] { return hs_->admin_room_impl().retries_without_processor() >= 2; }));
  EXPECT_THAT(Notices(), IsEmpty());

  // A reload of service: the worker stops, the queue goes into the saved bytes.
  hs_->Stop();
  std::string saved = hs_->Save();
  EXPECT_EQ(SavedQueueLength(saved), 3u);
  Reopen(saved);
  ASSERT_TRUE(hs_->Start().ok());
  // The new worker has met the missing processor before the admin module loads after service.
  ASSERT_TRUE(WaitFor([&] { return hs_->admin_room_impl().retries_without_processor() >= 1; }));
  InstallProcessor();
  ASSERT_TRUE(WaitFor([&] { return Notices().size() == 3; }));
  EXPECT_THAT(CommandLines(), ElementsAre("one", "two", "three"));
  auto notices = Notices();
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(InReplyTo(notices[i]), commands[i]);
  hs_->Stop();
  EXPECT_EQ(SavedQueueLength(hs_->Save()), 0u);
}

TEST_F(AdminRoomTest, RunningCommandFinishesOnceWhenServiceUnloads) {
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false, release = false;
  InstallProcessor([&](const core::CommandRequest& r) -> absl::StatusOr<core::CommandOutput> {
    if (r.command_line == "slow") {
      std::unique_lock lock(mu);
      entered = true;
      cv.notify_all();
      cv.wait(lock, [&] { return release; });
    }
    return core::CommandOutput{"ran " + r.command_line, ""};
  });
  ASSERT_TRUE(hs_->Start().ok());
  Session alice = Register("alice");
  Say(alice, "!admin slow");
  Say(alice, "!admin next");
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(5), [&] { return entered; }));
  }
  // Unload begins while "slow" runs: Stop() waits for it to finish and be answered.
  std::thread stopper([&] { hs_->Stop(); });
  ASSERT_TRUE(WaitFor([&] { return hs_->admin_room_impl().stop_requested(); }));
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  stopper.join();
  std::string saved = hs_->Save();
  EXPECT_EQ(SavedQueueLength(saved), 1u);  // only "next"
  auto notices = Notices();
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(Str(notices[0], "body"), "ran slow");

  Reopen(saved);
  ASSERT_TRUE(hs_->Start().ok());
  ASSERT_TRUE(WaitFor([&] { return Notices().size() == 2; }));
  EXPECT_THAT(CommandLines(), ElementsAre("slow", "next"));  // slow ran once
}

TEST_F(AdminRoomTest, ErrorsAnswerWithTheMessageAndLongOutputIsTruncated) {
  InstallProcessor([](const core::CommandRequest& r) -> absl::StatusOr<core::CommandOutput> {
    if (r.command_line == "bad") {
      return absl::InvalidArgumentError("unknown command 'bad'\nUsage: !admin <group> <command>");
    }
    std::string big;
    for (int i = 0; i < 20000; ++i) big += "line " + std::to_string(i) + " <&>\n";
    return core::CommandOutput{big, "<pre>" + big + "</pre>"};
  });
  ASSERT_TRUE(hs_->Start().ok());
  Session alice = Register("alice");
  Say(alice, "!admin bad");
  Say(alice, "!admin big");
  ASSERT_TRUE(WaitFor([&] { return Notices().size() == 2; }));
  auto notices = Notices();
  EXPECT_THAT(Str(notices[0], "body"), StartsWith("Error: unknown command 'bad'"));
  EXPECT_THAT(Str(notices[0], "body"), HasSubstr("Usage: !admin"));
  EXPECT_THAT(Str(notices[0], "formatted_body"), HasSubstr("&lt;group&gt;"));

  const std::string body = Str(notices[1], "body");
  const std::string html = Str(notices[1], "formatted_body");
  EXPECT_LE(body.size() + html.size(), kMaxNoticeBytes);
  EXPECT_GT(body.size(), 10000u);
  EXPECT_THAT(body,
              testing::MatchesRegex("(.|\n)*\\[output truncated: [0-9]+ of [0-9]+ bytes cut\\]"));
  EXPECT_THAT(html, HasSubstr("output truncated"));
  EXPECT_THAT(html, HasSubstr("&lt;&amp;&gt;"));
  // Cut at a line boundary.
  EXPECT_THAT(body.substr(0, body.rfind("[output")), testing::EndsWith(" <&>\n"));
}

}  // namespace
}  // namespace conclave::service
