// The federation module's options: how long the server keys it publishes are valid. Read by the
// module from core's raw config table (conclave/core/options.h); each option's default, unit, doc
// and whether SIGHUP changes it are given where it is read (options.cc), and
// docs/configuration.md is checked against them. Private to the federation module. Value types;
// thread-compatible.
#ifndef CONCLAVE_FEDERATION_OPTIONS_H_
#define CONCLAVE_FEDERATION_OPTIONS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "conclave/core/config_sections.h"
#include "conclave/core/options.h"

namespace conclave::federation {

struct FederationOptions {
  // `valid_until_ts` of GET /_matrix/key/v2/server is now + this. Default 1 day. Runtime: SIGHUP
  // applies it to the next answer. Remote servers use at most 7 days of it (keys_server.yaml).
  absl::Duration key_valid_for = absl::Hours(24);
};

// Reads the options (defaults for absent keys); invalid values end up in `reader.status()`.
FederationOptions ReadFederationOptions(core::OptionReader& reader);

using FederationSettings = core::TypedOptionSection<FederationOptions>;

// The settings read from `raw`; kInvalidArgument naming the key when a value is invalid.
absl::StatusOr<std::unique_ptr<FederationSettings>> OpenFederationSettings(
    const core::RawConfig& raw);

// The descriptor's check_options hook (conclave/core/module.h): validates `raw` as a load would
// and appends the keys read to `keys`.
absl::Status CheckFederationOptions(const core::RawConfig& raw,
                                    std::vector<std::string>* keys) noexcept;

}  // namespace conclave::federation

#endif  // CONCLAVE_FEDERATION_OPTIONS_H_
