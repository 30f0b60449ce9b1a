#include "conclave/core/config_sections.h"

#include <algorithm>

#include "conclave/core/config.h"
#include "conclave/core/str_cat.h"

namespace conclave::core {

ConfigSections::ConfigSections(RawConfig raw)
    : raw_(std::make_shared<const RawConfig>(std::move(raw))) {}

std::shared_ptr<const RawConfig> ConfigSections::raw() const {
  absl::ReaderMutexLock lock(&mu_);
  return raw_;
}

ConfigSections::Handle ConfigSections::Register(OptionSection* section) {
  absl::MutexLock lock(&mu_);
  sections_.push_back(section);
  return Handle(this, section);
}

void ConfigSections::Unregister(OptionSection* section) {
  absl::MutexLock lock(&mu_);
  sections_.erase(std::remove(sections_.begin(), sections_.end(), section), sections_.end());
}

absl::StatusOr<ConfigReloadPlan> ConfigSections::Reload(RawConfig fresh) {
  absl::MutexLock lock(&mu_);
  ConfigReloadPlan plan;
  for (OptionSection* section : sections_) {
    auto one = section->Prepare(fresh);
    if (!one.ok()) return one.status();
    for (auto& c : one->apply) plan.apply.push_back(std::move(c));
    for (auto& c : one->needs_restart) plan.needs_restart.push_back(std::move(c));
  }
  for (OptionSection* section : sections_) section->Commit();
  raw_ = std::make_shared<const RawConfig>(std::move(fresh));
  return plan;
}

std::vector<OptionRead> ConfigSections::InForce() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<OptionRead> out;
  for (const OptionSection* section : sections_) {
    for (OptionRead& r : section->InForce()) out.push_back(std::move(r));
  }
  return out;
}

bool ConfigSections::Knows(std::string_view key) const {
  for (const OptionRead& r : InForce()) {
    if (r.key == key) return true;
  }
  return false;
}

std::vector<std::string> UnknownKeyWarnings(
    const RawConfig& raw, const std::function<bool(std::string_view)>& module_knows) {
  const std::vector<std::string>& core_keys = ConfigKeys();
  std::vector<std::string> out;
  for (const auto& [key, value] : raw.values()) {
    if (std::find(core_keys.begin(), core_keys.end(), key) != core_keys.end()) continue;
    if (module_knows && module_knows(key)) continue;
    out.push_back(
        value.from_env
            ? core::StrCat("config: unknown environment variable '", value.origin, "' (ignored)")
            : core::StrCat("config: unknown key '", key, "' in ", value.origin, " (ignored)"));
  }
  return out;
}

}  // namespace conclave::core
