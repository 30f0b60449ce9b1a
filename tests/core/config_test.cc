#include "conclave/core/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "conclave/core/config_reload.h"
#include "conclave/core/config_sections.h"

namespace conclave::core {
namespace {

using ::testing::HasSubstr;

TEST(Config, DefaultsMatchTheDesign) {
  auto loaded = ParseConfig("", "test", nullptr);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->config.server_name, "localhost");
  EXPECT_EQ(loaded->config.address, "127.0.0.1");
  EXPECT_EQ(loaded->config.port, 8008);
  EXPECT_EQ(loaded->config.database_path, "./conclave-data");
  EXPECT_EQ(loaded->config.sources["port"], "default");
}

TEST(Config, FileValuesAndEnvironmentOverrides) {
  std::string env1 = "CONCLAVE_PORT=9000", env2 = "CONCLAVE_LOG_LEVEL=debug", env3 = "HOME=/x";
  char* environ[] = {env1.data(), env2.data(), env3.data(), nullptr};
  auto loaded =
      ParseConfig("server_name = \"example.org\"\nport = 8448\nreload_drain_timeout = \"250ms\"\n",
                  "f.toml", environ);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->config.server_name, "example.org");
  EXPECT_EQ(loaded->config.port, 9000);
  EXPECT_EQ(loaded->config.log_level, "debug");
  EXPECT_EQ(loaded->config.reload_drain_timeout, absl::Milliseconds(250));
  EXPECT_EQ(loaded->config.sources["port"], "env");
  EXPECT_EQ(loaded->config.sources["server_name"], "file");
}

TEST(Config, BadValuesNameTheKey) {
  auto port = ParseConfig("port = 70000", "f.toml", nullptr);
  EXPECT_EQ(port.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(port.status().message()), HasSubstr("port"));
  auto type = ParseConfig("server_name = 3", "f.toml", nullptr);
  EXPECT_THAT(std::string(type.status().message()), HasSubstr("server_name"));
  auto duration = ParseConfig("idle_timeout = \"soon\"", "f.toml", nullptr);
  EXPECT_THAT(std::string(duration.status().message()), HasSubstr("idle_timeout"));
  auto level = ParseConfig("log_level = \"loud\"", "f.toml", nullptr);
  EXPECT_THAT(std::string(level.status().message()), HasSubstr("log_level"));
  std::string env = "CONCLAVE_PORT=abc";
  char* environ[] = {env.data(), nullptr};
  auto from_env = ParseConfig("", "f.toml", environ);
  EXPECT_THAT(std::string(from_env.status().message()), HasSubstr("CONCLAVE_PORT"));
}

TEST(Config, ABadValueInTheFileIsAnErrorEvenWhereTheEnvironmentOverridesIt) {
  std::string env = "CONCLAVE_PORT=0";
  char* environ[] = {env.data(), nullptr};
  auto loaded = ParseConfig("port = \"eighty\"", "f.toml", environ);
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("port (f.toml)"));
  auto good = ParseConfig("port = 8448", "f.toml", environ);
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(good->config.port, 0);
}

TEST(Config, SyntaxErrorNamesFileAndLine) {
  auto loaded = ParseConfig("port = 1\nthis is not toml\n", "conclave.toml", nullptr);
  ASSERT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("conclave.toml:2"));
}

TEST(Config, UnknownKeysWarn) {
  std::string env = "CONCLAVE_PROTT=1";
  char* environ[] = {env.data(), nullptr};
  auto loaded = ParseConfig("prot = 1\nport = 2\nmodule_key = 3", "f.toml", environ);
  ASSERT_TRUE(loaded.ok());
  // Core's keys are known; `module_knows` answers for the modules' sections.
  const std::vector<std::string> warnings = UnknownKeyWarnings(
      loaded->config.raw, [](std::string_view key) { return key == "module_key"; });
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_THAT(warnings[0], HasSubstr("unknown key 'prot' in f.toml"));
  EXPECT_THAT(warnings[1], HasSubstr("unknown environment variable 'CONCLAVE_PROTT'"));
}

TEST(Config, MissingNamedFileIsNotFound) {
  auto loaded = LoadConfig(std::string("/nonexistent/conclave.toml"), nullptr);
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kNotFound);
}

TEST(Config, EveryKeyIsDocumentedAsTheCodeSaysIt) {
  std::ifstream file(CONCLAVE_SOURCE_DIR "/docs/configuration.md");
  ASSERT_TRUE(file) << "docs/configuration.md is missing";
  std::stringstream text;
  text << file.rdbuf();
  const std::string doc = text.str();
  const Config defaults;
  for (const auto& key : ConfigKeys()) {
    const size_t row = doc.find("| `" + key + "` | ");
    ASSERT_NE(row, std::string::npos) << key << " is not documented";
    const std::string line = doc.substr(row, doc.find('\n', row) - row);
    // admin_execute shows as its number of commands (config_reload.h); the docs show the list.
    const std::string shown =
        key == "admin_execute" ? "[]" : ConfigValueText(defaults, key).value_or("?");
    EXPECT_THAT(line, HasSubstr("| `" + shown + "`")) << key << "'s default";
    EXPECT_THAT(line, HasSubstr(ConfigKeyIsRuntime(key) ? "| **SIGHUP** |" : "| no |")) << key;
  }
}

TEST(Config, FederationListener) {
  auto defaults = ParseConfig("", "f.toml", nullptr);
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->config.federation_port, 8448);
  EXPECT_EQ(defaults->config.federation_address, "");
  EXPECT_EQ(defaults->config.tls_certificate_path, "");  // no federation listener
  auto set = ParseConfig(
      "federation_port = 0\nfederation_address = \"::1\"\ntls_certificate_path = \"c.pem\"\n"
      "tls_private_key_path = \"k.pem\"",
      "f.toml", nullptr);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->config.federation_port, 0);
  EXPECT_EQ(set->config.federation_address, "::1");
  EXPECT_EQ(set->config.tls_certificate_path, "c.pem");
  auto no_key = ParseConfig("tls_certificate_path = \"c.pem\"", "f.toml", nullptr);
  EXPECT_EQ(no_key.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(no_key.status().message()), HasSubstr("tls_private_key_path"));
  auto same_port =
      ParseConfig("port = 8448\ntls_certificate_path = \"c.pem\"\ntls_private_key_path = \"k.pem\"",
                  "f.toml", nullptr);
  EXPECT_EQ(same_port.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(same_port.status().message()), HasSubstr("federation_port"));
  // Another address: no clash.
  EXPECT_TRUE(ParseConfig("port = 8448\nfederation_address = \"127.0.0.2\"\n"
                          "tls_certificate_path = \"c.pem\"\ntls_private_key_path = \"k.pem\"",
                          "f.toml", nullptr)
                  .ok());
  auto host_name = ParseConfig("federation_address = \"example.org\"", "f.toml", nullptr);
  EXPECT_THAT(std::string(host_name.status().message()), HasSubstr("federation_address"));
  EXPECT_FALSE(ConfigKeyIsRuntime("tls_certificate_path"));
}

TEST(Config, BlockingPoolSizes) {
  auto defaults = ParseConfig("", "f.toml", nullptr);
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->config.blocking_threads, 0);
  EXPECT_EQ(defaults->config.blocking_queue, 4096);
  auto set = ParseConfig("blocking_threads = 3\nblocking_queue = 10", "f.toml", nullptr);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->config.blocking_threads, 3);
  EXPECT_EQ(set->config.blocking_queue, 10);
  for (const char* bad : {"blocking_queue = 0", "blocking_threads = -1", "blocking_threads = 257",
                          "blocking_queue = 1000001"}) {
    auto refused = ParseConfig(bad, "f.toml", nullptr);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(refused.status().message()), HasSubstr("is outside")) << bad;
  }
  EXPECT_FALSE(ConfigKeyIsRuntime("blocking_threads"));
  EXPECT_FALSE(ConfigKeyIsRuntime("blocking_queue"));
}

TEST(Config, WatchIsABooleanThatNeedsARestart) {
  EXPECT_FALSE(ParseConfig("", "f.toml", nullptr)->config.watch);
  auto file = ParseConfig("watch = true", "f.toml", nullptr);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE(file->config.watch);
  EXPECT_EQ(file->config.sources["watch"], "file");
  std::string env = "CONCLAVE_WATCH=yes";
  char* environ[] = {env.data(), nullptr};
  auto from_env = ParseConfig("watch = false", "f.toml", environ);
  ASSERT_TRUE(from_env.ok()) << from_env.status();
  EXPECT_TRUE(from_env->config.watch);
  auto bad = ParseConfig("watch = \"on\"", "f.toml", nullptr);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("watch (f.toml)"));
  EXPECT_FALSE(ConfigKeyIsRuntime("watch"));
}

}  // namespace
}  // namespace conclave::core

namespace conclave::core {
namespace {

TEST(Config, AddressMustBeAnIpLiteral) {
  EXPECT_TRUE(ParseConfig("address = \"::1\"", "f.toml", nullptr).ok());
  auto bad = ParseConfig("address = \"localhost\"", "f.toml", nullptr);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), ::testing::HasSubstr("address"));
}

}  // namespace
}  // namespace conclave::core

namespace conclave::core {
namespace {

TEST(Config, AdminExecuteFromTheFileOrTheEnvironment) {
  auto file =
      ParseConfig("admin_execute = [\"server uptime\", \"users list-users\"]", "f.toml", nullptr);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_THAT(file->config.admin_execute,
              ::testing::ElementsAre("server uptime", "users list-users"));
  EXPECT_TRUE(ParseConfig("", "f.toml", nullptr)->config.admin_execute.empty());

  std::string list = "CONCLAVE_ADMIN_EXECUTE= server uptime ;; debug ping ;";
  char* env1[] = {list.data(), nullptr};
  auto semicolons = ParseConfig("", "f.toml", env1);
  ASSERT_TRUE(semicolons.ok()) << semicolons.status();
  EXPECT_THAT(semicolons->config.admin_execute,
              ::testing::ElementsAre("server uptime", "debug ping"));
  EXPECT_EQ(semicolons->config.sources["admin_execute"], "env");

  std::string array = "CONCLAVE_ADMIN_EXECUTE=[\"debug echo a;b\"]";
  char* env2[] = {array.data(), nullptr};
  auto toml_array = ParseConfig("", "f.toml", env2);
  ASSERT_TRUE(toml_array.ok()) << toml_array.status();
  EXPECT_THAT(toml_array->config.admin_execute, ::testing::ElementsAre("debug echo a;b"));

  for (const char* bad : {"admin_execute = \"server uptime\"", "admin_execute = [1, 2]"}) {
    auto refused = ParseConfig(bad, "f.toml", nullptr);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(refused.status().message()), HasSubstr("admin_execute")) << bad;
  }
  std::string broken = "CONCLAVE_ADMIN_EXECUTE=[\"unclosed";
  char* env3[] = {broken.data(), nullptr};
  EXPECT_EQ(ParseConfig("", "f.toml", env3).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Config, BackupPathDefaultsNextToTheDatabase) {
  auto defaults = ParseConfig("", "f.toml", nullptr);
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->config.database_backup_path, "./conclave-data-backups");
  EXPECT_EQ(defaults->config.database_backups_to_keep, 3);
  auto moved = ParseConfig("database_path = \"/var/lib/conclave/\"", "f.toml", nullptr);
  EXPECT_EQ(moved->config.database_backup_path, "/var/lib/conclave-backups");
  auto set = ParseConfig("database_backup_path = \"/backups\"\ndatabase_backups_to_keep = 7",
                         "f.toml", nullptr);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->config.database_backup_path, "/backups");
  EXPECT_EQ(set->config.database_backups_to_keep, 7);
  EXPECT_EQ(ParseConfig("database_backups_to_keep = 0", "f.toml", nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace conclave::core
