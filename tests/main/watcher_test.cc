// BuildWatcher against real files and inotify: what counts as a finished build.
#include "watcher.h"

#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>

#include "gtest/gtest.h"

namespace conclave {
namespace {

namespace fs = std::filesystem;

// A scratch build directory with one watched "module" file, and the outcomes reported.
class WatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/conclave-watcher-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    module_ = dir_ + "/libconclave_api.so";
    Write(module_, "v0");
  }
  void TearDown() override {
    watcher_.reset();
    fs::remove_all(dir_);
  }

  void StartWatching(absl::Duration debounce) {
    WatchOptions options{.files = {module_}, .build_dir = dir_, .debounce = debounce};
    auto watcher = BuildWatcher::Start(options, [this](const BuildOutcome& outcome) {
      std::lock_guard lock(mu_);
      outcome_ = outcome;
      ++reports_;
      cv_.notify_all();
    });
    ASSERT_TRUE(watcher.ok()) << watcher.status();
    watcher_ = std::move(*watcher);
  }

  // Waits for the next report; false after `limit` (a failure, not a measurement).
  bool WaitForReport(int reports, absl::Duration limit = absl::Seconds(30)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, absl::ToChronoSeconds(limit), [&] { return reports_ >= reports; });
  }

  static void Write(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::trunc) << text;
  }

  std::string dir_;
  std::string module_;
  std::unique_ptr<BuildWatcher> watcher_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<BuildOutcome> outcome_;
  int reports_ = 0;
};

// ninja holds .ninja_log open from its first finished step to the end of the build: nothing is
// reported while it is open, and its close reports the build at once, without the debounce
// (an hour here, which the test would otherwise wait out until its own limit).
TEST_F(WatcherTest, NinjaClosingItsLogReportsTheBuildWithoutTheDebounce) {
  StartWatching(absl::Hours(1));
  {
    std::ofstream log(dir_ + "/.ninja_log", std::ios::app);
    log << "# ninja log v5\n" << std::flush;
    Write(module_, "v1");
    log << "1\t2\t0\tlib/libconclave_api.so\tabc\n" << std::flush;
    ASSERT_FALSE(WaitForReport(1, absl::Seconds(1)));  // still open: the build goes on
  }
  ASSERT_TRUE(WaitForReport(1));
  std::lock_guard lock(mu_);
  EXPECT_FALSE(outcome_->failed);
  ASSERT_EQ(outcome_->written.size(), 1u);
  EXPECT_EQ(outcome_->written[0], "libconclave_api.so");
}

// Without ninja (another build tool, a copy), quiet time after the last write ends the build.
TEST_F(WatcherTest, WithoutNinjaTheDebounceEndsTheBuild) {
  StartWatching(absl::Milliseconds(50));
  Write(module_, "v1");
  ASSERT_TRUE(WaitForReport(1));
  std::lock_guard lock(mu_);
  ASSERT_EQ(outcome_->written.size(), 1u);
}

// A failed step's marker, written before ninja ends, makes the build a failed one.
TEST_F(WatcherTest, AFailedStepBeforeNinjaEndsIsReportedAsFailed) {
  StartWatching(absl::Hours(1));
  {
    std::ofstream log(dir_ + "/.ninja_log", std::ios::app);
    log << "# ninja log v5\n" << std::flush;
    Write(dir_ + "/" + kBuildFailedMarker, "discovery.cc:3: error: expected ';'");
  }
  ASSERT_TRUE(WaitForReport(1));
  std::lock_guard lock(mu_);
  EXPECT_TRUE(outcome_->failed);
  EXPECT_NE(outcome_->failure.find("expected ';'"), std::string::npos);
}

}  // namespace
}  // namespace conclave
