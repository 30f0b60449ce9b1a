// The modules' config sections: core keeps the raw table of the config last read (start-up or
// SIGHUP) and the sections modules register at load; each section parses its own keys from it.
//
// A module builds an OptionSection at every load from `raw()` (so a reload of the module picks
// up every value of the file as of the last SIGHUP), registers it, and reads its values from it.
// SIGHUP hands the re-read table to every registered section: runtime keys apply at once, the
// others at the module's next load. Core learns each section's keys from it, for the
// unknown-key warnings and `server show-config`.
#ifndef CONCLAVE_CORE_CONFIG_SECTIONS_H_
#define CONCLAVE_CORE_CONFIG_SECTIONS_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "conclave/core/config_reload.h"
#include "conclave/core/options.h"
#include "conclave/core/registration.h"

namespace conclave::core {

// One module's options, implemented in the module. Registered with ConfigSections::Register
// and so called from the thread that reloads the config; must outlive its registration handle.
class OptionSection {
 public:
  virtual ~OptionSection() = default;
  // The options in force, in the order the module reads them.
  virtual std::vector<OptionRead> InForce() const = 0;
  // Parses the section of `fresh`. OK: remembers the result for Commit() and returns what
  // changed (`apply`: runtime keys; `needs_restart`: the others, applied at the module's next
  // load). kInvalidArgument naming the key when a value is invalid; nothing is remembered then.
  virtual absl::StatusOr<ConfigReloadPlan> Prepare(const RawConfig& fresh) = 0;
  // Applies the runtime keys of the last successful Prepare().
  virtual void Commit() = 0;
};

// Thread-safe. Owned by the Server; sections unregister through their handles before their
// module unloads.
class ConfigSections {
 public:
  explicit ConfigSections(RawConfig raw);
  ConfigSections(const ConfigSections&) = delete;
  ConfigSections& operator=(const ConfigSections&) = delete;

  // Unregisters its section on destruction (or Reset()). Move-only.
  using Handle = Registration<ConfigSections, OptionSection*>;

  // The raw table of the config last read: at start-up, then at every successful SIGHUP.
  std::shared_ptr<const RawConfig> raw() const ABSL_LOCKS_EXCLUDED(mu_);
  // Registers `section` (not owned; must outlive the handle).
  Handle Register(OptionSection* section) ABSL_LOCKS_EXCLUDED(mu_);

  // SIGHUP: prepares every registered section with `fresh`; if one fails, nothing changes and
  // its kInvalidArgument is returned. Otherwise commits them all, keeps `fresh` as raw(), and
  // returns their changes together.
  absl::StatusOr<ConfigReloadPlan> Reload(RawConfig fresh) ABSL_LOCKS_EXCLUDED(mu_);

  // Every registered section's options in force.
  std::vector<OptionRead> InForce() const ABSL_LOCKS_EXCLUDED(mu_);
  // Whether a registered section reads `key`.
  bool Knows(std::string_view key) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  friend Handle;
  void Unregister(OptionSection* section) ABSL_LOCKS_EXCLUDED(mu_);

  mutable absl::Mutex mu_;
  std::shared_ptr<const RawConfig> raw_ ABSL_GUARDED_BY(mu_);
  std::vector<OptionSection*> sections_ ABSL_GUARDED_BY(mu_);
};

// "config: unknown key 'x' in conclave.toml (ignored)" (or "unknown environment variable") for
// every key of `raw` that is neither core's (ConfigKeys()) nor one `module_knows`.
std::vector<std::string> UnknownKeyWarnings(
    const RawConfig& raw, const std::function<bool(std::string_view)>& module_knows);

// The usual OptionSection: `T` is a module's options struct and `read` the one function that
// reads it (its schema too, see options.h). Thread-safe: Get() copies under a lock, Commit()
// swaps the values at once. Template code: it lives in the module that instantiates it.
template <typename T>
class TypedOptionSection : public OptionSection {
 public:
  using ReadFunction = T (*)(OptionReader& reader);

  // Reads `raw`; kInvalidArgument naming the key when a value is invalid.
  static absl::StatusOr<std::unique_ptr<TypedOptionSection>> Create(std::string module,
                                                                    ReadFunction read,
                                                                    const RawConfig& raw) {
    OptionReader reader(module, raw);
    T values = read(reader);
    if (!reader.status().ok()) return reader.status();
    return std::unique_ptr<TypedOptionSection>(new TypedOptionSection(
        std::move(module), read, std::move(values), reader.read(), Own(reader.read(), raw, raw)));
  }

  T Get() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::ReaderMutexLock lock(&mu_);
    return values_;
  }

  std::vector<OptionRead> InForce() const override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::ReaderMutexLock lock(&mu_);
    return in_force_;
  }

  absl::StatusOr<ConfigReloadPlan> Prepare(const RawConfig& fresh) override
      ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    OptionReader all(module_, fresh);
    (void)read_(all);
    if (!all.status().ok()) return all.status();
    ConfigReloadPlan plan;
    for (const OptionRead& now : all.read()) {
      for (const OptionRead& before : in_force_) {
        if (before.key != now.key || before.compare == now.compare) continue;
        (now.runtime ? plan.apply : plan.needs_restart)
            .push_back({now.key, before.value_text, now.value_text});
      }
    }
    // Runtime keys from `fresh`, the others as they are in force.
    pending_raw_ = Own(all.read(), fresh, raw_);
    OptionReader merged(module_, pending_raw_);
    pending_ = read_(merged);
    pending_read_ = merged.read();
    return plan;
  }

  void Commit() override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    values_ = std::move(pending_);
    in_force_ = std::move(pending_read_);
    raw_ = std::move(pending_raw_);
  }

 private:
  TypedOptionSection(std::string module, ReadFunction read, T values, std::vector<OptionRead> in,
                     RawConfig raw)
      : module_(std::move(module)),
        read_(read),
        values_(std::move(values)),
        in_force_(std::move(in)),
        raw_(std::move(raw)) {}

  // This section's keys: runtime ones from `runtime_from`, the others from `other_from`.
  static RawConfig Own(const std::vector<OptionRead>& keys, const RawConfig& runtime_from,
                       const RawConfig& other_from) {
    RawConfig out;
    for (const OptionRead& r : keys) {
      const RawValue* v = (r.runtime ? runtime_from : other_from).Find(r.key);
      if (v != nullptr) out.Set(r.key, *v);
    }
    return out;
  }

  const std::string module_;
  const ReadFunction read_;
  mutable absl::Mutex mu_;
  T values_ ABSL_GUARDED_BY(mu_);
  std::vector<OptionRead> in_force_ ABSL_GUARDED_BY(mu_);
  RawConfig raw_ ABSL_GUARDED_BY(mu_);
  T pending_ ABSL_GUARDED_BY(mu_);
  std::vector<OptionRead> pending_read_ ABSL_GUARDED_BY(mu_);
  RawConfig pending_raw_ ABSL_GUARDED_BY(mu_);
};

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_CONFIG_SECTIONS_H_
