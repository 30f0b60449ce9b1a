// Drives the module host through loads, reloads and every rollback path with the purpose-built
// test modules of tests/modules (dev build only: they are shared libraries).
#include "conclave/core/module_host.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/synchronization/notification.h"
#include "conclave/core/command_slot.h"
#include "conclave/core/http.h"
#include "conclave/core/server.h"

namespace conclave::core {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Variant(const std::string& v) {
  return std::string(CONCLAVE_TEST_MODULE_DIR) + "/" + v + "/libconclave_tmod.so";
}

class ModuleHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/conclave-host-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    module_dir_ = dir_ + "/modules";
    fs::create_directories(module_dir_);
    Install("good");
    fs::copy_file(std::string(CONCLAVE_TEST_MODULE_DIR) + "/dep/libconclave_tdep.so",
                  module_dir_ + "/libconclave_tdep.so");
    ASSERT_TRUE(server_.parking().Park("test.events", "events/v1", &events_).ok());
    ModuleHostOptions options;
    options.dynamic = true;
    options.module_dir = module_dir_;
    options.modules = {"tdep", "tmod"};  // out of order on purpose
    options.runtime_dir = dir_ + "/run";
    options.drain_timeout = absl::Milliseconds(200);
    auto host = ModuleHost::Create(server_, options);
    ASSERT_TRUE(host.ok()) << host.status();
    host_ = std::move(*host);
  }
  void TearDown() override {
    if (host_ != nullptr) host_->Stop().IgnoreError();
    host_.reset();
    fs::remove_all(dir_);
  }

  // Installs a variant the way a linker does: a new file renamed over the old one.
  void Install(const std::string& variant) {
    std::string tmp = module_dir_ + "/libconclave_tmod.so.tmp";
    fs::copy_file(Variant(variant), tmp, fs::copy_options::overwrite_existing);
    fs::rename(tmp, module_dir_ + "/libconclave_tmod.so");
  }

  // What GET /tmod answers: the version of the tmod code that is loaded.
  std::string Served() {
    Request request;
    request.method = "GET";
    request.path = "/tmod";
    Response response;
    server_.router().Dispatch(request, response);
    return response.status == 200 ? response.body : "status " + std::to_string(response.status);
  }

  std::vector<std::string> TakeEvents() { return std::exchange(events_, {}); }

  int Generation(const std::string& module) {
    for (const auto& m : host_->List()) {
      if (m.name == module) return m.generation;
    }
    return -1;
  }

  std::string dir_, module_dir_;
  std::vector<std::string> events_;
  Server server_{Config{}, "dev"};
  std::unique_ptr<ModuleHost> host_;
};

TEST_F(ModuleHostTest, StartsInDependencyOrderWithShadowCopies) {
  ASSERT_TRUE(host_->Start().ok());
  EXPECT_THAT(TakeEvents(), ElementsAre("tmod:startup", "tmod:load:1:", "tdep:load:sees-tmod-1"));
  EXPECT_EQ(Served(), "1");
  auto list = host_->List();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].name, "tmod");
  EXPECT_EQ(list[1].dependencies, std::vector<std::string>{"tmod"});
  // Loaded from a shadow copy in the per-process runtime dir, never the file the build writes.
  EXPECT_EQ(list[0].path, host_->runtime_path() + "/tmod.1.so");
  EXPECT_EQ(host_->runtime_path(), dir_ + "/run/" + std::to_string(getpid()));
}

TEST_F(ModuleHostTest, UnchangedFilesReloadNothing) {
  ASSERT_TRUE(host_->Start().ok());
  TakeEvents();
  Install("good");  // same bytes, new file: same build id
  ReloadReport report = host_->Reload();
  EXPECT_TRUE(report.status.ok());
  EXPECT_EQ(report.message, "nothing changed");
  EXPECT_TRUE(TakeEvents().empty());
}

TEST_F(ModuleHostTest, ChangedModuleReloadsWithDependentsAndCarriesState) {
  ASSERT_TRUE(host_->Start().ok());
  TakeEvents();
  std::string old_shadow = host_->List()[0].path;
  Install("good2");
  ReloadReport report = host_->Reload();
  ASSERT_TRUE(report.status.ok()) << report.message;
  EXPECT_THAT(report.reloaded, ElementsAre("tmod", "tdep"));
  EXPECT_THAT(report.message, HasSubstr("reloaded 2 modules (tmod, tdep) in "));
  EXPECT_THAT(report.message, HasSubstr("; 0 requests failed"));
  // Reverse order out, dependency order in; startup only once; unload bytes reach the new load.
  EXPECT_THAT(TakeEvents(), ElementsAre("tdep:unload", "tmod:unload", "tmod:load:2:state-from-v1",
                                        "tdep:load:sees-tmod-2"));
  EXPECT_EQ(Served(), "2");
  EXPECT_EQ(Generation("tmod"), 2);
  EXPECT_FALSE(fs::exists(old_shadow));  // the old generation's copy is gone
}

TEST_F(ModuleHostTest, ForcedReloadOfDependentOnly) {
  ASSERT_TRUE(host_->Start().ok());
  TakeEvents();
  ReloadReport report = host_->Reload({"tdep"});
  ASSERT_TRUE(report.status.ok()) << report.message;
  EXPECT_THAT(report.reloaded, ElementsAre("tdep"));
  EXPECT_EQ(Generation("tmod"), 1);
  EXPECT_EQ(Generation("tdep"), 2);
  EXPECT_EQ(host_->Reload({"nope"}).status.code(), absl::StatusCode::kNotFound);
}

class RollbackTest : public ModuleHostTest,
                     public ::testing::WithParamInterface<std::pair<std::string, std::string>> {};

TEST_P(RollbackTest, FailedLoadRollsBackToPreviousGeneration) {
  const auto& [variant, cause] = GetParam();
  ASSERT_TRUE(host_->Start().ok());
  Install("good2");
  ASSERT_TRUE(host_->Reload().status.ok());
  TakeEvents();
  Install(variant);
  ReloadReport report = host_->Reload();
  EXPECT_FALSE(report.status.ok());
  EXPECT_THAT(report.message, HasSubstr(cause));
  EXPECT_THAT(report.message, HasSubstr("rolled back to the previous generation"));
  // The previous code serves again, with the state it had saved, and the generation stays.
  EXPECT_EQ(Served(), "2");
  EXPECT_EQ(Generation("tmod"), 2);
  std::vector<std::string> events = TakeEvents();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[events.size() - 2], "tmod:load:2:state-from-v2");
  EXPECT_EQ(events.back(), "tdep:load:sees-tmod-2");
  // And the host still reloads once the build is fixed.
  Install("good");
  EXPECT_TRUE(host_->Reload().status.ok());
  EXPECT_EQ(Served(), "1");
}

INSTANTIATE_TEST_SUITE_P(
    Causes, RollbackTest,
    ::testing::Values(std::make_pair("fail_load", "load hook: tmod refuses to load"),
                      std::make_pair("throw_load",
                                     "load hook threw: an exception not derived from "
                                     "std::exception"),
                      std::make_pair("bad_fingerprint", "ABI fingerprint mismatch"),
                      std::make_pair("missing_symbol",
                                     "undefined symbol: conclave_test_symbol_that_does_not_exist")),
    [](const auto& info) { return info.param.first; });

// No exception crosses a module boundary: a handler and an admin command that throw an int are
// answered (500, kInternal), leave no gate entered and no lock held, and the reload that follows
// drains and succeeds.
TEST_F(ModuleHostTest, ThrowingHandlerAndCommandAreAnsweredAndReloadStillWorks) {
  ASSERT_TRUE(host_->Start().ok());
  Request request;
  request.method = "GET";
  request.path = "/tmod/throw";
  Response response;
  ASSERT_EQ(server_.router().Dispatch(request, response), Router::Outcome::kHandled);
  EXPECT_EQ(response.status, 500);
  EXPECT_THAT(response.body, HasSubstr("M_UNKNOWN"));
  auto command = server_.commands().Execute("anything --secret=1");
  EXPECT_EQ(command.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(command.status().message()),
              HasSubstr("an exception not derived from std::exception"));
  Install("good2");
  ReloadReport report = host_->Reload();
  ASSERT_TRUE(report.status.ok()) << report.message;
  EXPECT_EQ(Served(), "2");
  EXPECT_EQ(server_.router().Dispatch(request, response), Router::Outcome::kHandled);
  EXPECT_EQ(response.status, 500);
}

TEST_F(ModuleHostTest, ModuleThatRefusesReloadIsKeptAndSaysRestart) {
  Install("refuse_reload");
  ASSERT_TRUE(host_->Start().ok());
  Install("good");
  ReloadReport report = host_->Reload();
  EXPECT_EQ(report.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(report.message, HasSubstr("tmod refuses hot reload; restart instead"));
  EXPECT_EQ(Served(), "6");
}

TEST_F(ModuleHostTest, CopyThatStaysMappedIsReportedAndRolledBack) {
  Install("unique");
  ASSERT_TRUE(host_->Start().ok());
  EXPECT_EQ(Served(), "7");
  Install("good");
  ReloadReport report = host_->Reload();
  EXPECT_FALSE(report.status.ok());
  EXPECT_THAT(report.message, HasSubstr("stayed mapped after dlclose"));
  EXPECT_THAT(report.message, HasSubstr("STB_GNU_UNIQUE"));
  EXPECT_EQ(Served(), "7");
}

TEST_F(ModuleHostTest, FileStillBeingWrittenIsNotLoaded) {
  ASSERT_TRUE(host_->Start().ok());
  std::ifstream in(Variant("good2"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(module_dir_ + "/libconclave_tmod.so", std::ios::binary | std::ios::trunc)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 3));
  ReloadReport report = host_->Reload();
  EXPECT_EQ(report.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(report.message, HasSubstr("still being written"));
  EXPECT_EQ(Served(), "1");
}

TEST_F(ModuleHostTest, ReloadWaitsForInFlightRequestsThenCancelsAfterTimeout) {
  ASSERT_TRUE(host_->Start().ok());
  absl::Notification entered, release;
  auto slow = server_.router().Add("tmod", "GET", "/slow", [&](Request&) {
    entered.Notify();
    release.WaitForNotification();
    return Response{};
  });
  ASSERT_TRUE(slow.ok());
  std::thread client([&] {
    Request r;
    r.method = "GET";
    r.path = "/slow";
    Response response;
    server_.router().Dispatch(r, response);
  });
  entered.WaitForNotification();
  Install("good2");
  ReloadReport report = host_->Reload();
  EXPECT_EQ(report.status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(report.message, HasSubstr("reload cancelled: requests still running"));
  EXPECT_EQ(Served(), "1");  // nothing was unloaded, and the gate is open again
  release.Notify();
  client.join();
  slow->Reset();
  EXPECT_TRUE(host_->Reload().status.ok());
  EXPECT_EQ(Served(), "2");
}

TEST_F(ModuleHostTest, StopUnloadsInReverseAndRunsShutdown) {
  ASSERT_TRUE(host_->Start().ok());
  TakeEvents();
  std::string shadow = host_->List()[0].path;
  ASSERT_TRUE(host_->Stop().ok());
  EXPECT_THAT(TakeEvents(), ElementsAre("tdep:unload", "tmod:unload", "tmod:shutdown"));
  EXPECT_TRUE(host_->List().empty());
  EXPECT_EQ(Served(), "status 404");
  host_.reset();
  EXPECT_FALSE(fs::exists(shadow));
}

TEST_F(ModuleHostTest, UnloadRefusesWhileADependentIsLoadedAndNamesIt) {
  ASSERT_TRUE(host_->Start().ok());
  TakeEvents();
  absl::Status s = host_->UnloadModule("tmod");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), "cannot unload tmod: tdep depends on it and is loaded; unload it first");
  EXPECT_EQ(host_->UnloadModule("nope").code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(TakeEvents().empty());
  EXPECT_EQ(Served(), "1");
}

TEST_F(ModuleHostTest, UnloadStopsAModuleAndLoadStartsItWithItsSavedBytes) {
  ASSERT_TRUE(host_->Start().ok());
  TakeEvents();
  ASSERT_TRUE(host_->UnloadModule("tdep").ok());
  ASSERT_TRUE(host_->UnloadModule("tmod").ok());
  EXPECT_THAT(TakeEvents(), ElementsAre("tdep:unload", "tmod:unload", "tmod:shutdown"));
  EXPECT_EQ(Served(), "status 404");  // its route is gone and its gate open again
  EXPECT_TRUE(host_->List().empty());
  EXPECT_THAT(host_->Unloaded(), ElementsAre("tmod", "tdep"));
  // A reload leaves stopped modules alone.
  Install("good2");
  EXPECT_EQ(host_->Reload().message, "nothing changed");

  absl::Status s = host_->LoadModule("tdep");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(),
            "cannot load tdep: it depends on tmod, which is not loaded; load it first");
  ASSERT_TRUE(host_->LoadModule("tmod").ok());
  ASSERT_TRUE(host_->LoadModule("tdep").ok());
  // The build's current file, the next generation, a fresh startup, the bytes of the unload.
  EXPECT_THAT(TakeEvents(),
              ElementsAre("tmod:startup", "tmod:load:2:state-from-v1", "tdep:load:sees-tmod-2"));
  EXPECT_EQ(Served(), "2");
  EXPECT_EQ(Generation("tmod"), 2);
  EXPECT_TRUE(host_->Unloaded().empty());
  EXPECT_EQ(host_->LoadModule("tmod").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(host_->LoadModule("nope").code(), absl::StatusCode::kNotFound);
}

TEST(ModuleHostStatic, UnloadAndLoadAreDevBuildFeatures) {
  Server server(Config{}, "release");
  ModuleHostOptions options;
  options.dynamic = false;
  auto host = ModuleHost::Create(server, options);
  ASSERT_TRUE(host.ok());
  EXPECT_THAT((*host)->UnloadModule("api").message(), HasSubstr("dev-build feature"));
  EXPECT_EQ((*host)->LoadModule("api").code(), absl::StatusCode::kFailedPrecondition);
}

TEST(RuntimeDir, RemovesDirectoriesOfDeadProcesses) {
  char tmpl[] = "/tmp/conclave-rt-test-XXXXXX";
  std::string base = mkdtemp(tmpl);
  fs::create_directories(base + "/999999999");  // no such pid
  fs::create_directories(base + "/1");          // init: alive
  std::vector<std::string> removed;
  auto dir = RuntimeDir::Create(base, &removed);
  ASSERT_TRUE(dir.ok());
  EXPECT_THAT(removed, ElementsAre(base + "/999999999"));
  EXPECT_TRUE(fs::exists(base + "/1"));
  EXPECT_EQ(dir->ShadowPath("api", 3), dir->path() + "/api.3.so");
  fs::remove_all(base);
}

}  // namespace
}  // namespace conclave::core
