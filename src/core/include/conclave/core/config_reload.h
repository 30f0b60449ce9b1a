// What a SIGHUP does with a re-read config: compares it with the running one key by key and says
// which changes apply at once and which need a restart. Nothing is half-applied: a key that
// needs a restart keeps its running value until then, and the reload names it.
//
// Pure functions; thread-compatible.
#ifndef CONCLAVE_CORE_CONFIG_RELOAD_H_
#define CONCLAVE_CORE_CONFIG_RELOAD_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conclave/core/config.h"

namespace conclave::core {

// One changed key, values as ConfigValueText() shows them.
struct ConfigChange {
  std::string key;
  std::string from;
  std::string to;
};

struct ConfigReloadPlan {
  std::vector<ConfigChange> apply;          // runtime-changeable, differing
  std::vector<ConfigChange> needs_restart;  // differing, not applied until a restart
};

// The value of config key `key` as the log and `server show-config` show it: strings and
// durations quoted ("30s"), numbers and booleans bare; admin_execute as its number of commands
// (they may hold passwords). nullopt for a key that is not in ConfigKeys(): the modules' options
// show through their sections (config_sections.h).
std::optional<std::string> ConfigValueText(const Config& config, std::string_view key);

// The core keys SIGHUP applies without a restart: log_level, log_format, access_log. (The
// modules' runtime keys are their sections' business, config_sections.h.)
bool ConfigKeyIsRuntime(std::string_view key);

// Compares every key of ConfigKeys() (config.h) between `running` and `fresh`; the modules'
// keys are compared by ConfigSections::Reload.
ConfigReloadPlan PlanConfigReload(const Config& running, const Config& fresh);

// `running` with the runtime-changeable core keys of `fresh`, and `fresh`'s raw table: the
// config in force after a SIGHUP.
Config MergeRuntimeKeys(const Config& running, const Config& fresh);

// One line for the log, e.g. "applied log_level (info -> debug); needs a restart, not applied:
// port (8008 -> 8009)", or "no changes".
std::string DescribeConfigReload(const ConfigReloadPlan& plan);

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_CONFIG_RELOAD_H_
