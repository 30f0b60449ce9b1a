#include "conclave/core/module_graph.h"

#include <algorithm>

#include "conclave/core/str_cat.h"
#include "absl/strings/str_join.h"

namespace conclave::core {

absl::StatusOr<ModuleGraph> ModuleGraph::Build(
    const std::vector<std::string>& modules,
    const std::map<std::string, std::vector<std::string>>& dependencies) {
  ModuleGraph graph;
  for (const auto& m : modules) {
    auto it = dependencies.find(m);
    graph.deps_[m] = it == dependencies.end() ? std::vector<std::string>{} : it->second;
  }
  for (const auto& [m, deps] : graph.deps_) {
    for (const auto& d : deps) {
      if (!graph.deps_.contains(d)) {
        return absl::FailedPreconditionError(
            core::StrCat("module ", m, " depends on unknown module ", d));
      }
    }
  }
  // Depth-first, visiting modules and their dependencies in the given order.
  enum class Mark { kNone, kVisiting, kDone };
  std::map<std::string, Mark> marks;
  std::vector<std::string> stack;
  std::string cycle;
  auto visit = [&](auto&& self, const std::string& m) -> bool {
    if (marks[m] == Mark::kDone) return true;
    if (marks[m] == Mark::kVisiting) {
      auto from = std::find(stack.begin(), stack.end(), m);
      std::vector<std::string> path(from, stack.end());
      path.push_back(m);
      cycle = absl::StrJoin(path, " -> ");
      return false;
    }
    marks[m] = Mark::kVisiting;
    stack.push_back(m);
    for (const auto& d : graph.deps_[m]) {
      if (!self(self, d)) return false;
    }
    stack.pop_back();
    marks[m] = Mark::kDone;
    graph.order_.push_back(m);
    return true;
  };
  for (const auto& m : modules) {
    if (!visit(visit, m)) {
      return absl::FailedPreconditionError(core::StrCat("module dependency cycle: ", cycle));
    }
  }
  return graph;
}

std::set<std::string> ModuleGraph::WithDependents(const std::set<std::string>& modules) const {
  std::set<std::string> out = modules;
  // order_ lists dependencies first, so one pass in order reaches every transitive dependent.
  for (const auto& m : order_) {
    for (const auto& d : deps_.at(m)) {
      if (out.contains(d)) out.insert(m);
    }
  }
  return out;
}

std::vector<std::string> ModuleGraph::DirectDependents(const std::string& module) const {
  std::vector<std::string> out;
  for (const auto& m : order_) {
    const auto& deps = deps_.at(m);
    if (std::find(deps.begin(), deps.end(), module) != deps.end()) out.push_back(m);
  }
  return out;
}

std::vector<std::string> ModuleGraph::Order(const std::set<std::string>& subset) const {
  std::vector<std::string> out;
  for (const auto& m : order_) {
    if (subset.contains(m)) out.push_back(m);
  }
  return out;
}

const std::vector<std::string>& ModuleGraph::DependenciesOf(const std::string& module) const {
  static const std::vector<std::string> kNone;
  auto it = deps_.find(module);
  return it == deps_.end() ? kNone : it->second;
}

}  // namespace conclave::core
