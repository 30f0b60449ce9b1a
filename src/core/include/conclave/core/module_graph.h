// ModuleGraph: the dependency graph between modules, its load order and reload closure.
#ifndef CONCLAVE_CORE_MODULE_GRAPH_H_
#define CONCLAVE_CORE_MODULE_GRAPH_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace conclave::core {

// An immutable, validated DAG. Thread-compatible value type.
class ModuleGraph {
 public:
  // Builds the graph from `dependencies` (module -> modules it depends on), in the order given by
  // `modules` (which breaks ties, so orders are deterministic). Returns kFailedPrecondition for a
  // dependency on a module not in `modules` or for a cycle, naming the modules involved.
  static absl::StatusOr<ModuleGraph> Build(
      const std::vector<std::string>& modules,
      const std::map<std::string, std::vector<std::string>>& dependencies);

  // Every module, dependencies before dependents (load order).
  const std::vector<std::string>& TopologicalOrder() const { return order_; }
  // `modules` plus everything that depends on them, transitively.
  std::set<std::string> WithDependents(const std::set<std::string>& modules) const;
  // Modules that depend directly on `module`.
  std::vector<std::string> DirectDependents(const std::string& module) const;
  // The members of `subset` in load order.
  std::vector<std::string> Order(const std::set<std::string>& subset) const;
  const std::vector<std::string>& DependenciesOf(const std::string& module) const;
  bool Contains(const std::string& module) const { return deps_.contains(module); }

 private:
  std::vector<std::string> order_;
  std::map<std::string, std::vector<std::string>> deps_;
};

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_MODULE_GRAPH_H_
