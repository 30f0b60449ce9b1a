// `server` commands against a real Homeserver.
#include "server_commands.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "admin_fixture.h"
#include "conclave/core/build_info.h"
#include "conclave/core/config.h"
#include "conclave/core/elf_file.h"
#include "conclave/core/module_host.h"
#include "conclave/service/admin_room/admin_room.h"
#include "conclave/service/protocol/filter.h"

namespace conclave::admin {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::StartsWith;

class ServerCommandsTest : public test_util::AdminTest {
 protected:
  // The body of the newest event in the admin room.
  std::string LastAdminRoomBody() {
    const std::string& room_id = hs_->admin_room().room_id();
    bool limited = false;
    auto events =
        hs_->rooms().Timeline(room_id, 0, UINT64_MAX, 1, service::RoomEventFilter{}, &limited);
    if (!events.ok() || events->empty()) return "";
    const auto& content = events->back().pdu.at("content").as_object();
    const auto* body = content.if_contains("body");
    return body != nullptr && body->is_string() ? std::string(body->get_string()) : "";
  }
};

TEST_F(ServerCommandsTest, Uptime) {
  EXPECT_THAT(Ok("server uptime"),
              MatchesRegex("up [0-9.a-z]+ \\(since 20[0-9-]+ [0-9:]+ UTC\\)\n"));
}

TEST_F(ServerCommandsTest, BuildInfo) {
  std::string out = Ok("server build-info");
  EXPECT_THAT(out, HasSubstr(std::string("version              ") + std::string(core::Version())));
  EXPECT_THAT(out, HasSubstr(std::string(core::Commit())));
  EXPECT_THAT(out, HasSubstr(std::string(core::Compiler())));
  EXPECT_THAT(out, HasSubstr("build type"));
  EXPECT_THAT(out, HasSubstr(core::LoadedBuildId("").value()));
}

TEST_F(ServerCommandsTest, ShowConfigListsEveryKeyWithItsSourceAndRedactsSecrets) {
  std::string out = Ok("server show-config");
  for (const std::string& key : core::ConfigKeys()) {
    EXPECT_TRUE(HasConfigFormatter(key)) << key << " has no formatter in server_commands.cc";
    EXPECT_THAT(out, HasSubstr(key));
  }
  // Columns are as wide as the longest key (federation_verify_certificates) plus two.
  EXPECT_THAT(out, HasSubstr("server_name                     \"example.org\""));
  // The service module's options, from its section: value, source, and what a change needs.
  EXPECT_THAT(out, HasSubstr("registration_token              (set; redacted)"));
  EXPECT_THAT(out,
              MatchesRegex("(.|\n)*registration_token +\\(set; redacted\\) +env +SIGHUP(.|\n)*"));
  EXPECT_THAT(out, MatchesRegex("(.|\n)*rc_login_burst +10 +default +SIGHUP(.|\n)*"));
  EXPECT_THAT(out, Not(HasSubstr("sesame")));
  EXPECT_THAT(out, HasSubstr("default"));
  EXPECT_TRUE(IsSecretConfigKey("registration_token"));
  EXPECT_FALSE(IsSecretConfigKey("server_name"));
}

TEST_F(ServerCommandsTest, ShowConfigNeverPrintsAdminExecuteCommands) {
  core::Config config;
  config.admin_execute = {"users create-user bob hunter2"};
  core::Server server(config, "dev");
  environment_.server = &server;
  std::string out = Ok("server show-config");
  EXPECT_THAT(out, Not(HasSubstr("hunter2")));
  EXPECT_THAT(out, HasSubstr("(1 command; not shown, they may hold passwords)"));
}

// A fake mallctl: what jemalloc would answer.
int FakeMallctl(const char* name, void* old_value, size_t* old_length, void*, size_t) {
  if (std::strcmp(name, "epoch") == 0) return 0;
  size_t value = 0;
  if (std::strcmp(name, "stats.allocated") == 0) value = 1000;
  if (std::strcmp(name, "stats.active") == 0) value = 2048;
  if (std::strcmp(name, "stats.resident") == 0) value = 3 << 20;
  if (std::strcmp(name, "stats.mapped") == 0) value = 4 << 20;
  if (value == 0 || *old_length != sizeof(size_t)) return 2;  // ENOENT
  *static_cast<size_t*>(old_value) = value;
  return 0;
}

TEST_F(ServerCommandsTest, MemoryUsageWithJemalloc) {
  environment_.mallctl = &FakeMallctl;
  std::string out = Ok("server memory-usage");
  EXPECT_THAT(out, HasSubstr("allocated  1000 B"));
  EXPECT_THAT(out, HasSubstr("active     2.0 KiB"));
  EXPECT_THAT(out, HasSubstr("resident   3.0 MiB"));
  EXPECT_THAT(out, HasSubstr("mapped     4.0 MiB"));
  EXPECT_THAT(out, HasSubstr("memtables"));
  EXPECT_THAT(out,
              MatchesRegex("(.|\n)*block cache +[0-9.]+ [KMG]?i?B of [0-9.]+ [KMG]?i?B \\([0-9]+ "
                           "caches?\\)(.|\n)*"));
  EXPECT_THAT(out, HasSubstr("table readers"));
}

TEST_F(ServerCommandsTest, MemoryUsageWithoutJemalloc) {
  // The test binary does not link jemalloc: dlsym finds no mallctl.
  std::string out = Ok("server memory-usage");
  EXPECT_THAT(out, HasSubstr("jemalloc: not available (this process does not use jemalloc"));
  EXPECT_THAT(out, HasSubstr("memtables"));
  EXPECT_EQ(ReadJemallocStats(nullptr).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(ServerCommandsTest, ReloadModsIsADevBuildFeature) {
  core::ModuleHostOptions options;
  options.dynamic = false;
  auto host = core::ModuleHost::Create(*server_, options);
  ASSERT_TRUE(host.ok());
  server_->set_modules(host->get());
  absl::Status s = Err("server reload-mods");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("hot reload is a dev-build feature"));
  server_->set_modules(nullptr);
}

TEST_F(ServerCommandsTest, ReloadModsRequestsAReloadInDev) {
  core::ModuleHostOptions options;
  options.dynamic = true;
  options.runtime_dir = dir_.Sub("run");
  auto host = core::ModuleHost::Create(*server_, options);
  ASSERT_TRUE(host.ok()) << host.status();
  std::vector<std::vector<std::string>> requests;
  (*host)->set_reload_requester([&](std::vector<std::string> m) { requests.push_back(m); });
  server_->set_modules(host->get());
  EXPECT_THAT(Ok("server reload-mods"),
              HasSubstr("reload of changed modules requested by @root:example.org"));
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_TRUE(requests[0].empty());
  server_->set_modules(nullptr);
}

TEST_F(ServerCommandsTest, RestartChecksTheBinaryUnlessForced) {
  int restarts = 0;
  server_->set_restart_callback([](void* n) { ++*static_cast<int*>(n); }, &restarts);
  // The test binary itself: unchanged on disk.
  std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  environment_.executable_path = self;
  EXPECT_TRUE(CheckBinaryUnchanged(self).ok());
  std::string out = Ok("server restart");
  EXPECT_THAT(out, HasSubstr("restarting in place (exec " + self + "), as asked by @root"));
  EXPECT_EQ(restarts, 1);

  // A file that cannot be read: refused, unless forced.
  environment_.executable_path = dir_.Sub("no-such-binary");
  absl::Status s = Err("server restart");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("--force"));
  EXPECT_EQ(restarts, 1);
  Ok("server restart --force");
  EXPECT_EQ(restarts, 2);

  // Another build on disk (any other ELF file with a build id): refused.
  if (auto sh = core::ReadElfFile("/bin/sh"); sh.ok() && !sh->build_id.empty()) {
    environment_.executable_path = "/bin/sh";
    s = Err("server restart");
    EXPECT_THAT(std::string(s.message()), HasSubstr("/bin/sh on disk is another build"));
    EXPECT_EQ(restarts, 2);
  }
}

TEST_F(ServerCommandsTest, RestartWithoutMainIsRefused) {
  environment_.executable_path = std::filesystem::read_symlink("/proc/self/exe").string();
  EXPECT_EQ(Err("server restart").code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ServerCommandsTest, ShutdownSaysWhoAsked) {
  int shutdowns = 0;
  server_->set_shutdown_callback([](void* n) { ++*static_cast<int*>(n); }, &shutdowns);
  EXPECT_EQ(Ok("server shutdown"), "shutting down, as asked by @root:example.org\n");
  EXPECT_EQ(Ok("server shutdown", ""), "shutting down, as asked from the command line\n");
  EXPECT_EQ(shutdowns, 2);
}

TEST_F(ServerCommandsTest, AdminNoticePostsToTheAdminRoom) {
  std::string out = Ok("server admin-notice maintenance at <noon>");
  EXPECT_THAT(out, StartsWith("posted to the admin room !"));
  EXPECT_EQ(LastAdminRoomBody(), "maintenance at <noon>");
  auto with_body = Run("server admin-notice", test_util::kInvoker, "line one\nline two");
  ASSERT_TRUE(with_body.ok()) << with_body.status();
  EXPECT_EQ(LastAdminRoomBody(), "line one\nline two");
  EXPECT_EQ(Err("server admin-notice").code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace conclave::admin
