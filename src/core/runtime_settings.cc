#include "conclave/core/runtime_settings.h"

namespace conclave::core {

void RuntimeSettings::Apply(const Config& config) {
  absl::MutexLock lock(&mu_);
  current_ = config;
}

Config RuntimeSettings::Current() const {
  absl::ReaderMutexLock lock(&mu_);
  return current_;
}

}  // namespace conclave::core
