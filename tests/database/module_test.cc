// The database module's hooks, driven by hand the way the module host drives them.
#include "conclave/core/module.h"

#include <string>

#include "absl/status/status.h"
#include "conclave/core/config.h"
#include "conclave/core/server.h"
#include "conclave/database/database.h"
#include "conclave/database/instance.h"
#include "gtest/gtest.h"
#include "temp_dir.h"

extern "C" const conclave::core::ModuleDescriptor* conclave_module_database() noexcept;

namespace conclave::database {
namespace {

class DatabaseModuleTest : public ::testing::Test {
 protected:
  DatabaseModuleTest() : server_(MakeConfig(dir_.Sub("db")), "dev") {}

  static core::Config MakeConfig(const std::string& path) {
    core::Config config;
    config.database_path = path;
    return config;
  }

  // True while something is parked under the engine's key, whatever its type tag.
  bool EngineParked() {
    return server_.parking().Find("database.engine", "").status().code() !=
           absl::StatusCode::kNotFound;
  }

  test_util::TempDir dir_;
  core::Server server_;
  core::ModuleContext context_{server_, "database"};
  const core::ModuleDescriptor* module_ = conclave_module_database();
};

TEST_F(DatabaseModuleTest, DescriptorDescribesAReloadableLeafModule) {
  ASSERT_NE(module_, nullptr);
  EXPECT_EQ(module_->descriptor_version, 1);
  EXPECT_STREQ(module_->abi_fingerprint, CONCLAVE_ABI_FINGERPRINT);
  EXPECT_STREQ(module_->name, "database");
  ASSERT_NE(module_->dependencies, nullptr);
  EXPECT_EQ(module_->dependencies[0], nullptr);
  EXPECT_TRUE(module_->reloadable);
  EXPECT_NE(module_->startup, nullptr);
  EXPECT_NE(module_->load, nullptr);
  EXPECT_NE(module_->unload, nullptr);
  EXPECT_NE(module_->shutdown, nullptr);
}

TEST_F(DatabaseModuleTest, EngineOutlivesReloadsAndClosesAtShutdown) {
  EXPECT_EQ(Instance(), nullptr);
  ASSERT_TRUE(module_->startup(context_).ok());
  EXPECT_TRUE(EngineParked());
  EXPECT_EQ(Instance(), nullptr);

  ASSERT_TRUE(module_->load(context_, "").ok());
  Database* first = Instance();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->path(), dir_.Sub("db"));
  auto map = first->OpenMap("users");
  ASSERT_TRUE(map.ok()) << map.status();
  ASSERT_TRUE(first->Put(**map, "@a:x", "alice").ok());

  auto saved = module_->unload(context_);
  ASSERT_TRUE(saved.ok()) << saved.status();
  EXPECT_TRUE(saved->empty());
  EXPECT_EQ(Instance(), nullptr);
  // Unloading the view left the engine open: the database is still locked.
  Options options;
  options.path = dir_.Sub("db");
  EXPECT_EQ(Database::Open(options).status().code(), absl::StatusCode::kUnavailable);

  // The next generation finds the same engine, with the data and the map.
  ASSERT_TRUE(module_->load(context_, *saved).ok());
  ASSERT_NE(Instance(), nullptr);
  auto again = Instance()->OpenMap("users");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(Instance()->Get(**again, "@a:x").value(), "alice");
  ASSERT_TRUE(module_->unload(context_).ok());

  ASSERT_TRUE(module_->shutdown(context_).ok());
  EXPECT_FALSE(EngineParked());
  auto reopened = Database::Open(options);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  auto users = (*reopened)->OpenMap("users");
  ASSERT_TRUE(users.ok());
  EXPECT_EQ((*reopened)->Get(**users, "@a:x").value(), "alice");
}

TEST_F(DatabaseModuleTest, LoadWithoutStartupIsNotFound) {
  EXPECT_EQ(module_->load(context_, "").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Instance(), nullptr);
  EXPECT_EQ(module_->shutdown(context_).code(), absl::StatusCode::kNotFound);
}

TEST_F(DatabaseModuleTest, StartupFailsWhileTheDatabaseIsInUse) {
  Options options;
  options.path = dir_.Sub("db");
  auto holder = Database::Open(options);
  ASSERT_TRUE(holder.ok()) << holder.status();
  absl::Status status = module_->startup(context_);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(status.message().find("database is in use"), std::string::npos) << status;
  EXPECT_FALSE(EngineParked());
}

}  // namespace
}  // namespace conclave::database
