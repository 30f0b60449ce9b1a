#include "conclave/core/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "conclave/core/http.h"

namespace conclave::core {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

TEST(MetricsRegistry, RendersCounterWithHelpTypeAndLabels) {
  MetricsRegistry registry;
  auto family = registry.AddCounter("test_requests_total", "Requests.", {"method", "status"});
  ASSERT_TRUE(family.ok());
  (*family)->WithLabels({"GET", "200"}).Increment();
  (*family)->WithLabels({"GET", "200"}).Increment(2);
  (*family)->WithLabels({"POST", "404"}).Increment();
  EXPECT_EQ(registry.Render(),
            "# HELP test_requests_total Requests.\n"
            "# TYPE test_requests_total counter\n"
            "test_requests_total{method=\"GET\",status=\"200\"} 3\n"
            "test_requests_total{method=\"POST\",status=\"404\"} 1\n");
}

TEST(MetricsRegistry, RendersGaugeWithoutLabels) {
  MetricsRegistry registry;
  auto family = registry.AddGauge("test_open", "Open things.");
  ASSERT_TRUE(family.ok());
  (*family)->Get().Add(5);
  (*family)->Get().Add(-2);
  EXPECT_EQ(registry.Render(),
            "# HELP test_open Open things.\n"
            "# TYPE test_open gauge\n"
            "test_open 3\n");
  (*family)->Get().Set(0.25);
  EXPECT_THAT(registry.Render(), HasSubstr("\ntest_open 0.25\n"));
}

TEST(MetricsRegistry, RendersHistogramBucketsSumAndCount) {
  MetricsRegistry registry;
  auto family = registry.AddHistogram("test_seconds", "Durations.", {"route"}, {0.125, 1, 2.5});
  ASSERT_TRUE(family.ok());
  Histogram& h = (*family)->WithLabels({"/a"});
  h.Observe(0.0625);
  h.Observe(0.125);  // on a bound: counted in that bucket (le is "less or equal")
  h.Observe(2);
  h.Observe(7);
  EXPECT_EQ(registry.Render(),
            "# HELP test_seconds Durations.\n"
            "# TYPE test_seconds histogram\n"
            "test_seconds_bucket{route=\"/a\",le=\"0.125\"} 2\n"
            "test_seconds_bucket{route=\"/a\",le=\"1\"} 2\n"
            "test_seconds_bucket{route=\"/a\",le=\"2.5\"} 3\n"
            "test_seconds_bucket{route=\"/a\",le=\"+Inf\"} 4\n"
            "test_seconds_sum{route=\"/a\"} 9.1875\n"
            "test_seconds_count{route=\"/a\"} 4\n");
}

TEST(MetricsRegistry, HistogramWithoutLabelsHasOnlyLe) {
  MetricsRegistry registry;
  auto family = registry.AddHistogram("test_reload_seconds", "Reloads.", {}, {1});
  ASSERT_TRUE(family.ok());
  (*family)->Get().ObserveDuration(absl::Milliseconds(1500));
  const std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("test_reload_seconds_bucket{le=\"1\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("test_reload_seconds_bucket{le=\"+Inf\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("test_reload_seconds_sum 1.5\n"));
  EXPECT_THAT(text, HasSubstr("test_reload_seconds_count 1\n"));
}

TEST(MetricsRegistry, EscapesLabelValuesAndHelp) {
  MetricsRegistry registry;
  auto family =
      registry.AddCounter("test_escapes_total", "Back\\slash and\nnewline \"kept\".", {"value"});
  ASSERT_TRUE(family.ok());
  (*family)->WithLabels({"a\"b\\c\nd"}).Increment();
  const std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("# HELP test_escapes_total Back\\\\slash and\\nnewline \"kept\".\n"));
  EXPECT_THAT(text, HasSubstr("test_escapes_total{value=\"a\\\"b\\\\c\\nd\"} 1\n"));
}

TEST(MetricsRegistry, FamiliesAreSortedByName) {
  MetricsRegistry registry;
  ASSERT_TRUE(registry.AddCounter("test_b_total", "B.").ok());
  ASSERT_TRUE(registry.AddCounter("test_a_total", "A.").ok());
  const std::string text = registry.Render();
  EXPECT_LT(text.find("test_a_total"), text.find("test_b_total"));
}

TEST(MetricsRegistry, SameRegistrationReturnsSameFamily) {
  MetricsRegistry registry;
  auto first = registry.AddCounter("test_total", "T.", {"x"});
  auto second = registry.AddCounter("test_total", "T.", {"x"});
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*first, *second);
  EXPECT_EQ(&(*first)->WithLabels({"1"}), &(*second)->WithLabels({"1"}));
}

TEST(MetricsRegistry, ConflictingRegistrationIsAlreadyExists) {
  MetricsRegistry registry;
  ASSERT_TRUE(registry.AddCounter("test_total", "T.", {"x"}).ok());
  EXPECT_EQ(registry.AddGauge("test_total", "T.", {"x"}).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(registry.AddCounter("test_total", "T.", {"y"}).status().code(),
            absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(registry.AddHistogram("test_seconds", "S.", {}, {1, 2}).ok());
  EXPECT_EQ(registry.AddHistogram("test_seconds", "S.", {}, {1, 3}).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST(MetricsRegistry, MalformedNamesAreInvalidArgument) {
  MetricsRegistry registry;
  EXPECT_EQ(registry.AddCounter("", "x").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.AddCounter("1abc", "x").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.AddCounter("a-b", "x").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.AddCounter("ok_total", "x", {"bad-label"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.AddCounter("ok_total", "x", {"__reserved"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.AddHistogram("ok_seconds", "x", {"le"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.AddHistogram("ok_seconds", "x", {}, {2, 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(registry.AddCounter("ns:ok_total", "x", {"_fine"}).ok());
}

TEST(MetricsRegistry, CollectorWritesAtScrapeAndStopsWhenHandleIsReset) {
  MetricsRegistry registry;
  int calls = 0;
  MetricsHandle handle = registry.AddCollector([&calls](MetricWriter& writer) {
    ++calls;
    writer.WriteGauge("test_collected_bytes", "Collected.", 42);
    writer.WriteFamily("test_per_map", "Per map.", MetricType::kGauge, {"map"},
                       {{{"users"}, 1}, {{"rooms"}, 2}});
  });
  const std::string text = registry.Render();
  EXPECT_EQ(calls, 1);
  EXPECT_THAT(text, HasSubstr("# TYPE test_collected_bytes gauge\ntest_collected_bytes 42\n"));
  EXPECT_THAT(text, HasSubstr("test_per_map{map=\"users\"} 1\ntest_per_map{map=\"rooms\"} 2\n"));
  handle.Reset();
  EXPECT_THAT(registry.Render(), Not(HasSubstr("test_collected_bytes")));
  EXPECT_EQ(calls, 1);
}

TEST(MetricsRegistry, CollectorCannotShadowARegisteredFamily) {
  MetricsRegistry registry;
  auto family = registry.AddGauge("test_value", "Registered.");
  ASSERT_TRUE(family.ok());
  (*family)->Get().Set(1);
  MetricsHandle handle = registry.AddCollector([](MetricWriter& writer) {
    writer.WriteGauge("test_value", "Duplicate.", 2);
    writer.WriteGauge("bad name", "Malformed.", 3);
    writer.WriteFamily("test_wrong_labels", "Wrong.", MetricType::kGauge, {"a"}, {{{}, 1}});
  });
  const std::string text = registry.Render();
  EXPECT_EQ(text, "# HELP test_value Registered.\n# TYPE test_value gauge\ntest_value 1\n");
}

TEST(MetricsRegistry, MovedHandleUnregistersOnce) {
  MetricsRegistry registry;
  int calls = 0;
  MetricsHandle first = registry.AddCollector([&calls](MetricWriter&) { ++calls; });
  MetricsHandle second = std::move(first);
  first.Reset();  // moved from: nothing
  registry.Render();
  EXPECT_EQ(calls, 1);
  second = MetricsHandle();
  registry.Render();
  EXPECT_EQ(calls, 1);
}

TEST(MetricsRegistry, FormatsValues) {
  EXPECT_EQ(FormatMetricValue(3), "3");
  EXPECT_EQ(FormatMetricValue(-2), "-2");
  EXPECT_EQ(FormatMetricValue(0.005), "0.005");
  EXPECT_EQ(FormatMetricValue(1e300), "1e+300");
  EXPECT_EQ(FormatMetricValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatMetricValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatMetricValue(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

// Every non-comment line is `name{labels} value` or `name value` with a number that parses.
TEST(MetricsRegistry, EveryLineFollowsTheTextFormat) {
  MetricsRegistry registry;
  auto c = registry.AddCounter("test_total", "C.", {"a"});
  auto h = registry.AddHistogram("test_seconds", "H.", {"a"});
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(h.ok());
  (*c)->WithLabels({"x y"}).Increment();
  (*h)->WithLabels({"{}"}).Observe(0.003);
  for (absl::string_view line : absl::StrSplit(registry.Render(), '\n', absl::SkipEmpty())) {
    if (line.substr(0, 1) == "#") {
      EXPECT_TRUE(line.substr(0, 7) == "# HELP " || line.substr(0, 7) == "# TYPE ") << line;
      continue;
    }
    const size_t space = line.rfind(' ');
    ASSERT_NE(space, absl::string_view::npos) << line;
    double value;
    EXPECT_TRUE(absl::SimpleAtod(line.substr(space + 1), &value)) << line;
    EXPECT_TRUE(line.substr(0, 5) == "test_") << line;
  }
}

TEST(MetricsRegistry, ConcurrentUpdatesAreAllCounted) {
  MetricsRegistry registry;
  auto c = registry.AddCounter("test_total", "C.", {"thread"});
  auto h = registry.AddHistogram("test_seconds", "H.");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(h.ok());
  constexpr int kThreads = 4, kPerThread = 20000;
  std::atomic<bool> done{false};
  // A scraper and a collector churner run alongside the updates.
  std::thread scraper([&] {
    while (!done.load()) registry.Render();
  });
  std::thread churner([&] {
    while (!done.load()) {
      MetricsHandle handle =
          registry.AddCollector([](MetricWriter& w) { w.WriteGauge("test_churn", "C.", 1); });
    }
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      Counter& shared = (*c)->WithLabels({"all"});
      for (int i = 0; i < kPerThread; ++i) {
        shared.Increment();
        (*c)->WithLabels({std::to_string(t)}).Increment();
        (*h)->Get().Observe(0.001);
      }
    });
  }
  for (auto& w : workers) w.join();
  done.store(true);
  scraper.join();
  churner.join();
  EXPECT_EQ((*c)->WithLabels({"all"}).value(), uint64_t{kThreads} * kPerThread);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ((*c)->WithLabels({std::to_string(t)}).value(), uint64_t{kPerThread});
  }
  Histogram::Snapshot snap = (*h)->Get().Read();
  EXPECT_EQ(snap.count, uint64_t{kThreads} * kPerThread);
  EXPECT_NEAR(snap.sum, kThreads * kPerThread * 0.001, 1e-6);
}

// A collector's handle reset while a scrape runs that collector waits for it: afterwards the
// collector never runs again, so a module can unload its code right after the reset.
TEST(MetricsRegistry, ResetWaitsForARunningCollector) {
  MetricsRegistry registry;
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false, release = false;
  std::atomic<int> running{0}, calls{0};
  MetricsHandle handle = registry.AddCollector([&](MetricWriter&) {
    running.fetch_add(1);
    calls.fetch_add(1);
    std::unique_lock lock(mu);
    entered = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
    running.fetch_sub(1);
  });
  std::thread scrape([&] { registry.Render(); });
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return entered; });
  }
  // No sleep: the collector is released only once the reset thread is about to call Reset(),
  // so Reset() either waits for the collector or (a bug) returns while it still runs.
  bool reset_called = false;
  std::atomic<bool> reset_done{false};
  std::thread reset([&] {
    {
      std::lock_guard lock(mu);
      reset_called = true;
    }
    cv.notify_all();
    handle.Reset();
    // The collector had finished when Reset() returned.
    EXPECT_EQ(running.load(), 0);
    reset_done.store(true);
  });
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return reset_called; });
    release = true;
  }
  cv.notify_all();
  scrape.join();
  reset.join();
  EXPECT_TRUE(reset_done.load());
  registry.Render();
  EXPECT_EQ(calls.load(), 1);
}

TEST(GlobalMetrics, HasBuildInfoAndStartTime) {
  const std::string text = GlobalMetrics().Render();
  EXPECT_THAT(text, HasSubstr("# TYPE conclave_build_info gauge\nconclave_build_info{version=\""));
  EXPECT_THAT(text, HasSubstr("conclave_process_start_time_seconds "));
  EXPECT_THAT(text, HasSubstr("conclave_uptime_seconds "));
}

// The router resolves each route's series when the route is added; the HTTP engine records into
// it. A route removed and added again (as a reload does) keeps its series, so its counts go on.
TEST(GlobalMetrics, RouteSeriesSurviveReRegistration) {
  Router router;
  auto dispatch = [&router](std::string path) {
    Request request;
    request.method = "GET";
    request.path = std::move(path);
    Response response;
    internal::RouteMetrics* matched = reinterpret_cast<internal::RouteMetrics*>(1);
    EXPECT_EQ(router.Dispatch(request, response, &matched), Router::Outcome::kHandled);
    return std::make_pair(matched, response.status);
  };
  internal::RouteMetrics* first = nullptr;
  {
    auto handle =
        router.Add("api", "GET", "/metrics-test/{x}", [](Request&) { return Response{}; });
    ASSERT_TRUE(handle.ok());
    first = dispatch("/metrics-test/a").first;
    ASSERT_NE(first, nullptr);
  }
  auto [gone, status] = dispatch("/metrics-test/a");
  EXPECT_EQ(gone, nullptr);  // no route matched
  EXPECT_EQ(status, 404);
  auto handle = router.Add("api", "GET", "/metrics-test/{x}", [](Request&) { return Response{}; });
  ASSERT_TRUE(handle.ok());
  EXPECT_EQ(dispatch("/metrics-test/b").first, first);
}

}  // namespace
}  // namespace conclave::core
