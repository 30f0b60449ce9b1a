// `modules` commands: over a release-style host with a module linked into the test, and (dev
// builds) over a real dynamic host with the test modules of tests/modules (tmod, and tdep which
// depends on it).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "admin_fixture.h"
#include "conclave/core/http.h"
#include "conclave/core/module.h"
#include "conclave/core/module_host.h"

namespace conclave::admin {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

absl::Status FakeLoad(core::ModuleContext&, std::string_view) noexcept { return absl::OkStatus(); }
absl::StatusOr<std::string> FakeUnload(core::ModuleContext&) noexcept { return std::string(); }
constexpr const char* kNoDependencies[] = {nullptr};
const core::ModuleDescriptor* FakeEntry() noexcept {
  static const core::ModuleDescriptor descriptor{.abi_fingerprint = CONCLAVE_ABI_FINGERPRINT,
                                                 .name = "fake",
                                                 .dependencies = kNoDependencies,
                                                 .load = &FakeLoad,
                                                 .unload = &FakeUnload};
  return &descriptor;
}

class ModulesCommandsTest : public test_util::AdminTest {
 protected:
  void TearDown() override {
    server_->set_modules(nullptr);
    if (host_ != nullptr) host_->Stop().IgnoreError();
    host_.reset();
    AdminTest::TearDown();
  }
  void UseHost(core::ModuleHostOptions options) {
    auto host = core::ModuleHost::Create(*server_, options);
    ASSERT_TRUE(host.ok()) << host.status();
    host_ = *std::move(host);
    (host_)->set_reload_requester([this](std::vector<std::string> m) { requests_.push_back(m); });
    ASSERT_TRUE(host_->Start().ok());
    server_->set_modules(host_.get());
  }
  void UseStaticHost() {
    core::ModuleHostOptions options;
    options.dynamic = false;
    options.static_modules = {{"fake", &FakeEntry}};
    UseHost(options);
  }

  std::unique_ptr<core::ModuleHost> host_;
  std::vector<std::vector<std::string>> requests_;
};

TEST_F(ModulesCommandsTest, ListShowsEveryModule) {
  UseStaticHost();
  std::string out = Ok("modules list");
  EXPECT_THAT(out, StartsWith("module  generation  build id      loaded at"));
  EXPECT_THAT(out,
              MatchesRegex("(.|\n)*\nfake +1 +[0-9a-f]{12} +20[0-9-]+ [0-9:]+ UTC +-\n(.|\n)*"));
  EXPECT_THAT(out, HasSubstr("release build: modules are linked in"));
}

TEST_F(ModulesCommandsTest, ReloadUnloadAndLoadAreDevBuildFeatures) {
  UseStaticHost();
  for (const char* line : {"modules reload", "modules unload fake", "modules load fake"}) {
    absl::Status s = Err(line);
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << line;
    EXPECT_THAT(std::string(s.message()),
                HasSubstr("is a dev-build feature; this is a release build"))
        << line;
  }
  EXPECT_TRUE(requests_.empty());
  EXPECT_EQ(Err("modules unload").code(), absl::StatusCode::kInvalidArgument);  // NAME required
}

TEST_F(ModulesCommandsTest, WithoutAHost) {
  EXPECT_EQ(Err("modules list").code(), absl::StatusCode::kFailedPrecondition);
}

#ifdef CONCLAVE_TEST_MODULE_DIR

class DynamicModulesCommandsTest : public ModulesCommandsTest {
 protected:
  void SetUp() override {
    ModulesCommandsTest::SetUp();
    namespace fs = std::filesystem;
    const std::string module_dir = dir_.Sub("modules");
    fs::create_directories(module_dir);
    fs::copy_file(std::string(CONCLAVE_TEST_MODULE_DIR) + "/good/libconclave_tmod.so",
                  module_dir + "/libconclave_tmod.so");
    fs::copy_file(std::string(CONCLAVE_TEST_MODULE_DIR) + "/dep/libconclave_tdep.so",
                  module_dir + "/libconclave_tdep.so");
    core::ModuleHostOptions options;
    options.dynamic = true;
    options.module_dir = module_dir;
    options.modules = {"tmod", "tdep"};
    options.runtime_dir = dir_.Sub("run");
    options.drain_timeout = absl::Milliseconds(200);
    UseHost(options);
  }

  std::string Served() {
    core::Request request;
    request.method = "GET";
    request.path = "/tmod";
    core::Response response;
    server_->router().Dispatch(request, response);
    return response.status == 200 ? response.body : std::to_string(response.status);
  }
};

TEST_F(DynamicModulesCommandsTest, ListShowsDependencies) {
  std::string out = Ok("modules list");
  EXPECT_THAT(out, MatchesRegex("(.|\n)*\ntdep +1 +[0-9a-f]{12} +.* UTC +tmod\n(.|\n)*"));
  EXPECT_THAT(out, HasSubstr("dev build: modules are shared libraries"));
}

TEST_F(DynamicModulesCommandsTest, ReloadRequestsTheNamedModules) {
  EXPECT_THAT(Ok("modules reload tmod"),
              HasSubstr("reload of tmod (and dependents) requested by @root:example.org"));
  EXPECT_THAT(Ok("modules reload"), HasSubstr("reload of the changed modules requested"));
  ASSERT_EQ(requests_.size(), 2u);
  EXPECT_EQ(requests_[0], std::vector<std::string>{"tmod"});
  absl::Status s = Err("modules reload nope");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), StartsWith("no module 'nope' is loaded"));
}

TEST_F(DynamicModulesCommandsTest, UnloadRefusesWhileADependentIsLoaded) {
  absl::Status s = Err("modules unload tmod");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), "cannot unload tmod: tdep depends on it and is loaded; unload it first");
  EXPECT_EQ(Served(), "1");
  s = Err("modules unload admin");
  EXPECT_THAT(std::string(s.message()), HasSubstr("the admin module cannot unload itself"));
}

TEST_F(DynamicModulesCommandsTest, UnloadThenLoad) {
  EXPECT_THAT(Ok("modules unload tdep"),
              MatchesRegex("unloaded tdep \\(generation 1\\) in [0-9]+ ms, by @root:example.org; "
                           "its routes answer 404 until `modules load tdep`\n"));
  EXPECT_THAT(Ok("modules unload tmod"), StartsWith("unloaded tmod (generation 1)"));
  EXPECT_EQ(Served(), "404");
  EXPECT_THAT(Ok("modules list"), HasSubstr("unloaded: tmod, tdep (modules load NAME starts"));
  absl::Status s = Err("modules load tdep");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("it depends on tmod, which is not loaded"));
  EXPECT_THAT(Ok("modules load tmod"),
              MatchesRegex("loaded tmod generation 2 \\(build id [0-9a-f]{12}\\) in [0-9]+ ms, by "
                           "@root:example.org\n"));
  EXPECT_THAT(Ok("modules load tdep"), StartsWith("loaded tdep generation 2"));
  EXPECT_EQ(Served(), "1");
  EXPECT_EQ(Err("modules load tmod").code(), absl::StatusCode::kAlreadyExists);
}

#endif  // CONCLAVE_TEST_MODULE_DIR

}  // namespace
}  // namespace conclave::admin
