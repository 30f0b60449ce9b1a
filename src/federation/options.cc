#include "options.h"

#include "conclave/core/exceptions.h"
#include "conclave/core/str_cat.h"

namespace conclave::federation {
namespace {

constexpr char kModule[] = "federation";

}  // namespace

FederationOptions ReadFederationOptions(core::OptionReader& r) {
  FederationOptions o;
  o.key_valid_for = r.Duration(
      "key_valid_for", absl::Hours(24),
      {.runtime = true, .doc = "valid_until_ts of GET /_matrix/key/v2/server is now plus this"});
  return o;
}

absl::StatusOr<std::unique_ptr<FederationSettings>> OpenFederationSettings(
    const core::RawConfig& raw) {
  return FederationSettings::Create(kModule, &ReadFederationOptions, raw);
}

absl::Status CheckFederationOptions(const core::RawConfig& raw,
                                    std::vector<std::string>* keys) noexcept {
  // A noexcept hook of the descriptor: nothing may escape it (core/exceptions.h).
  return core::CatchAll(kModule, "federation: check_options hook", [&] {
    core::OptionReader reader(kModule, raw);
    (void)ReadFederationOptions(reader);
    for (const core::OptionRead& r : reader.read()) keys->push_back(r.key);
    return reader.status();
  });
}

}  // namespace conclave::federation
