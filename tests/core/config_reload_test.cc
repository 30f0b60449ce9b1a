#include "conclave/core/config_reload.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "conclave/core/runtime_settings.h"

namespace conclave::core {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

Config Parse(std::string_view toml) {
  char* no_env[] = {nullptr};
  auto loaded = ParseConfig(toml, "test.toml", no_env);
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  return loaded.ok() ? loaded->config : Config{};
}

TEST(ConfigReloadTest, EveryKeyIsClassified) {
  // A key missing from the reload table is reported as changed ("?") on every reload, needing a
  // restart: a new config key must say whether SIGHUP applies it.
  const Config defaults = Parse("");
  ConfigReloadPlan plan = PlanConfigReload(defaults, defaults);
  EXPECT_THAT(plan.needs_restart, IsEmpty());
  EXPECT_THAT(plan.apply, IsEmpty());
  plan = PlanConfigReload(defaults, Parse("port = 1"));
  ASSERT_EQ(plan.needs_restart.size(), 1u);
  EXPECT_EQ(plan.needs_restart[0].from, "8008");
  EXPECT_EQ(plan.needs_restart[0].to, "1");
}

TEST(ConfigReloadTest, RuntimeKeysAreTheDocumentedOnes) {
  for (std::string_view key : {"log_level", "log_format", "access_log"}) {
    EXPECT_TRUE(ConfigKeyIsRuntime(key)) << key;
  }
  for (std::string_view key : {"port", "address", "server_name", "database_path", "metrics_enabled",
                               "worker_threads", "admin_execute", "nope",
                               // the service module's, applied by its section (config_sections.h)
                               "allow_registration", "rc_login_burst"}) {
    EXPECT_FALSE(ConfigKeyIsRuntime(key)) << key;
  }
}

TEST(ConfigReloadTest, NoChangesSaysSo) {
  const Config running = Parse("port = 8448\nlog_level = \"debug\"");
  ConfigReloadPlan plan = PlanConfigReload(running, Parse("log_level = \"debug\"\nport = 8448"));
  EXPECT_THAT(plan.apply, IsEmpty());
  EXPECT_THAT(plan.needs_restart, IsEmpty());
  EXPECT_EQ(DescribeConfigReload(plan), "no changes");
}

TEST(ConfigReloadTest, SplitsRuntimeChangesFromRestartOnes) {
  const Config running = Parse("port = 8008\naccess_log = true");
  const Config fresh =
      Parse("port = 9009\naccess_log = false\nlog_level = \"warn\"\nserver_name = \"x.org\"");
  ConfigReloadPlan plan = PlanConfigReload(running, fresh);
  EXPECT_THAT(plan.apply, ElementsAre(Field(&ConfigChange::key, "log_level"),
                                      Field(&ConfigChange::key, "access_log")));
  EXPECT_THAT(plan.needs_restart, ElementsAre(Field(&ConfigChange::key, "server_name"),
                                              Field(&ConfigChange::key, "port")));
  const std::string line = DescribeConfigReload(plan);
  EXPECT_THAT(line,
              HasSubstr("applied log_level (\"info\" -> \"warn\"), access_log (true -> false)"));
  EXPECT_THAT(line, HasSubstr("needs a restart, not applied: server_name (\"localhost\" -> "
                              "\"x.org\"), port (8008 -> 9009)"));

  // Nothing half-applied: the merged config keeps the running port and name.
  const Config merged = MergeRuntimeKeys(running, fresh);
  EXPECT_EQ(merged.port, 8008);
  EXPECT_EQ(merged.server_name, "localhost");
  EXPECT_FALSE(merged.access_log);
  EXPECT_EQ(merged.log_level, "warn");
  EXPECT_EQ(merged.sources.at("access_log"), "file");
  // The raw table is the fresh one: the modules' sections re-read from it.
  ASSERT_NE(merged.raw.Find("port"), nullptr);
  EXPECT_EQ(std::get<int64_t>(merged.raw.Find("port")->value), 9009);
  EXPECT_EQ(merged.sources.at("port"), "file");  // the running one's source stays
}

TEST(ConfigReloadTest, AdminExecuteNeverShows) {
  const Config running = Parse("");
  ConfigReloadPlan plan;
  // admin_execute commands may hold passwords: a change shows their number only.
  plan = PlanConfigReload(running, Parse("admin_execute = [\"users create-user b hunter2\"]"));
  ASSERT_EQ(plan.needs_restart.size(), 1u);
  EXPECT_THAT(DescribeConfigReload(plan), Not(HasSubstr("hunter2")));
  EXPECT_EQ(plan.needs_restart[0].to, "(1 command; not shown, they may hold passwords)");
}

TEST(RuntimeSettingsTest, ApplySwapsTheValuesReadersSee) {
  Config config = Parse("log_format = \"json\"");
  RuntimeSettings settings(config);
  EXPECT_EQ(settings.Current().log_format, "json");
  settings.Apply(MergeRuntimeKeys(config, Parse("access_log = false\nport = 1")));
  EXPECT_FALSE(settings.Current().access_log);
  EXPECT_EQ(settings.Current().log_format, "text");  // back to the default: not in the new file
  EXPECT_EQ(settings.Current().port, 8008);          // needs a restart
}

}  // namespace
}  // namespace conclave::core
