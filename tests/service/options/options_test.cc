// The service module's options: read by the module from core's raw table, checked at load,
// applied by SIGHUP through core's ConfigSections, and documented as the code says.
#include "conclave/service/options/options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "conclave/core/config.h"
#include "conclave/core/server.h"
#include "conclave/database/database.h"
#include "conclave/service/homeserver.h"
#include "database/temp_dir.h"
#include "service/testing/option_docs.h"

namespace conclave::service {
namespace {

using ::testing::HasSubstr;

core::RawConfig Raw(std::string_view toml) {
  auto loaded = core::ParseConfig(toml, "conclave.toml", nullptr);
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  return loaded.ok() ? loaded->config.raw : core::RawConfig{};
}

TEST(ServiceOptions, DefaultsAndValuesFromTheTable) {
  const core::RawConfig empty;
  core::OptionReader defaults("service", empty);
  ServiceOptions d = ReadServiceOptions(defaults);
  ASSERT_TRUE(defaults.status().ok());
  EXPECT_TRUE(d.allow_registration);
  EXPECT_EQ(d.login.per_second, 1);
  EXPECT_EQ(d.login.burst, 10);
  EXPECT_EQ(d.registration.per_second, 0.5);
  EXPECT_EQ(d.message.burst, 200);

  core::RawConfig raw = Raw("rc_message_burst = 7\nallow_registration = false");
  core::OptionReader reader("service", raw);
  ServiceOptions o = ReadServiceOptions(reader);
  ASSERT_TRUE(reader.status().ok());
  EXPECT_EQ(o.message.burst, 7);
  EXPECT_FALSE(o.allow_registration);
}

TEST(ServiceOptions, DefaultRoomVersionIsTenAndRangeChecked) {
  core::RawConfig defaults = Raw("");
  core::OptionReader reader("service", defaults);
  EXPECT_EQ(ReadServiceOptions(reader).default_room_version, "10");
  core::RawConfig twelve = Raw("default_room_version = 12");
  core::OptionReader twelve_reader("service", twelve);
  EXPECT_EQ(ReadServiceOptions(twelve_reader).default_room_version, "12");
  std::vector<std::string> keys;
  EXPECT_EQ(CheckServiceOptions(Raw("default_room_version = 13"), &keys).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ServiceOptions, CheckNamesTheBadKeyAndListsTheKeysRead) {
  std::vector<std::string> keys;
  absl::Status bad = CheckServiceOptions(Raw("rc_login_burst = \"many\""), &keys);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.message()),
              HasSubstr("rc_login_burst (conclave.toml): expected an integer"));
  EXPECT_THAT(keys, ::testing::Contains("rc_message_per_second"));
  EXPECT_THAT(keys, ::testing::Contains("default_room_version"));
  EXPECT_THAT(keys, ::testing::Contains("signing_key_path"));
  EXPECT_THAT(keys, ::testing::Contains("access_token_lifetime"));
  EXPECT_THAT(keys, ::testing::Contains("federation_hosts"));
  EXPECT_THAT(keys, ::testing::Contains("push_gateway_allowed_ranges"));
  EXPECT_THAT(keys, ::testing::Contains("allow_guest_access"));
  EXPECT_THAT(keys, ::testing::Contains("federation_retry_initial"));
  EXPECT_THAT(keys, ::testing::Contains("federation_retry_max"));
  EXPECT_EQ(keys.size(), 24u);
}

TEST(ServiceOptions, AccessTokenLifetimeIsFiveMinutesAndADuration) {
  core::RawConfig defaults = Raw("");
  core::OptionReader reader("service", defaults);
  EXPECT_EQ(ReadServiceOptions(reader).access_token_lifetime, absl::Minutes(5));
  core::RawConfig hour = Raw("access_token_lifetime = \"1h\"");
  core::OptionReader hour_reader("service", hour);
  EXPECT_EQ(ReadServiceOptions(hour_reader).access_token_lifetime, absl::Hours(1));
  std::vector<std::string> keys;
  EXPECT_EQ(CheckServiceOptions(Raw("access_token_lifetime = \"soon\""), &keys).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ServiceOptions, AMalformedPushGatewayRangeIsRefused) {
  std::vector<std::string> keys;
  absl::Status bad =
      CheckServiceOptions(Raw("push_gateway_allowed_ranges = [\"127.0.0.1/99\"]"), &keys);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.message()), HasSubstr("push_gateway_allowed_ranges"));
  EXPECT_TRUE(
      CheckServiceOptions(Raw("push_gateway_allowed_ranges = [\"127.0.0.1/32\"]"), &keys).ok());
}

// --check-config (and so the preflight of an exec restart) refuses a bad value in the file even
// while CONCLAVE_<KEY> overrides it, as it does for core's keys.
TEST(ServiceOptions, CheckRefusesABadFileValueTheEnvironmentOverrides) {
  std::string env = "CONCLAVE_RC_LOGIN_BURST=5";
  char* environ[] = {env.data(), nullptr};
  auto loaded = core::ParseConfig("rc_login_burst = \"many\"", "conclave.toml", environ);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  std::vector<std::string> keys;
  absl::Status bad = CheckServiceOptions(loaded->config.raw, &keys);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.message()),
              HasSubstr("rc_login_burst (conclave.toml): expected an integer"));
  auto good = core::ParseConfig("rc_login_burst = 7", "conclave.toml", environ);
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_TRUE(CheckServiceOptions(good->config.raw, &keys).ok());
}

TEST(ServiceOptions, AnInvalidValueFailsTheLoadAndSighupAppliesNewOnes) {
  database::test_util::TempDir dir;
  core::Config config;
  config.raw = Raw("rc_registration_burst = 0");
  core::Server bad_server(config, "dev");
  auto db = database::Database::Open({.path = dir.Sub("db")});
  ASSERT_TRUE(db.ok()) << db.status();
  auto refused = Homeserver::Open(bad_server, **db, "");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("rc_registration_burst (conclave.toml): 0 is outside 1..1000000"));

  core::Server server(core::Config{}, "dev");
  auto hs = Homeserver::Open(server, **db, "");
  ASSERT_TRUE(hs.ok()) << hs.status();
  EXPECT_EQ((*hs)->login_limit().burst, 10);
  EXPECT_TRUE(server.sections().Knows("rc_login_burst"));
  auto plan = server.sections().Reload(Raw("rc_login_burst = 3\nregistration_token = \"t\""));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->apply.size(), 2u);
  EXPECT_TRUE(plan->needs_restart.empty());
  EXPECT_EQ((*hs)->login_limit().burst, 3);
  EXPECT_EQ((*hs)->options().registration_token, "t");
  hs->reset();  // the unload: its section is no longer registered
  EXPECT_FALSE(server.sections().Knows("rc_login_burst"));
}

TEST(ServiceOptions, EveryOptionIsDocumentedAsTheCodeSaysIt) {
  const core::RawConfig empty;
  core::OptionReader reader("service", empty);
  (void)ReadServiceOptions(reader);
  testing_support::ExpectOptionsDocumented(CONCLAVE_SOURCE_DIR "/docs/configuration.md",
                                           reader.read());
}

}  // namespace
}  // namespace conclave::service
