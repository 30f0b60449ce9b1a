#include "conclave/core/module_graph.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace conclave::core {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::vector<std::string> kModules = {"database", "service", "api", "admin"};
const std::map<std::string, std::vector<std::string>> kDeps = {
    {"service", {"database"}}, {"api", {"service"}}, {"admin", {"service"}}};

TEST(ModuleGraph, OrdersDependenciesFirst) {
  // Given in reverse order: the order must still put dependencies first.
  auto graph = ModuleGraph::Build({"admin", "api", "service", "database"}, kDeps);
  ASSERT_TRUE(graph.ok()) << graph.status();
  EXPECT_THAT(graph->TopologicalOrder(), ElementsAre("database", "service", "admin", "api"));
}

TEST(ModuleGraph, DependentsAreTransitive) {
  auto graph = ModuleGraph::Build(kModules, kDeps);
  ASSERT_TRUE(graph.ok());
  EXPECT_THAT(graph->WithDependents({"database"}),
              ElementsAre("admin", "api", "database", "service"));
  EXPECT_THAT(graph->WithDependents({"api"}), ElementsAre("api"));
  EXPECT_THAT(graph->WithDependents({"service"}), ElementsAre("admin", "api", "service"));
  EXPECT_THAT(graph->Order({"api", "database"}), ElementsAre("database", "api"));
  EXPECT_THAT(graph->DirectDependents("service"), ElementsAre("api", "admin"));
}

TEST(ModuleGraph, RejectsUnknownDependency) {
  auto graph = ModuleGraph::Build({"api"}, {{"api", {"service"}}});
  ASSERT_EQ(graph.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(graph.status().message()), HasSubstr("unknown module service"));
}

TEST(ModuleGraph, RejectsCycleAndNamesIt) {
  auto graph = ModuleGraph::Build({"a", "b", "c"}, {{"a", {"b"}}, {"b", {"c"}}, {"c", {"a"}}});
  ASSERT_EQ(graph.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(graph.status().message()), HasSubstr("a -> b -> c -> a"));
}

}  // namespace
}  // namespace conclave::core
