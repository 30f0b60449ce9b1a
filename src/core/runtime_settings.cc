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

bool RuntimeSettings::allow_registration() const {
  absl::ReaderMutexLock lock(&mu_);
  return current_.allow_registration;
}

std::string RuntimeSettings::registration_token() const {
  absl::ReaderMutexLock lock(&mu_);
  return current_.registration_token;
}

RateSetting RuntimeSettings::login_limit() const {
  absl::ReaderMutexLock lock(&mu_);
  return {current_.rc_login_per_second, current_.rc_login_burst};
}

RateSetting RuntimeSettings::registration_limit() const {
  absl::ReaderMutexLock lock(&mu_);
  return {current_.rc_registration_per_second, current_.rc_registration_burst};
}

RateSetting RuntimeSettings::message_limit() const {
  absl::ReaderMutexLock lock(&mu_);
  return {current_.rc_message_per_second, current_.rc_message_burst};
}

}  // namespace conclave::core
