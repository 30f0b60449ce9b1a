#include "e2ee_sections.h"

#include <optional>
#include <utility>

#include "conclave/core/status_macros.h"

namespace conclave::service::sync_internal {

absl::Status AddE2eeSections(const SyncPass& pass, E2ee& e2ee,
                             const std::vector<UserRoom>& memberships, SyncResponse& response) {
  const Session& session = pass.session;
  std::optional<uint64_t> acknowledged;
  if (!pass.initial) acknowledged = pass.since.position;
  CONCLAVE_ASSIGN_OR_RETURN(auto messages, e2ee.ToDeviceForSync(session.user_id, session.device_id,
                                                                acknowledged, pass.upto));
  for (ToDeviceMessage& m : messages) {
    response.to_device.push_back({.sender = std::move(m.sender),
                                  .type = std::move(m.type),
                                  .content = std::move(m.content)});
  }
  if (!pass.initial) {
    CONCLAVE_ASSIGN_OR_RETURN(response.device_lists,
                              e2ee.Changes(session.user_id, pass.after, pass.upto, memberships));
  }
  CONCLAVE_ASSIGN_OR_RETURN(response.one_time_key_counts,
                            e2ee.OneTimeKeyCounts(session.user_id, session.device_id));
  CONCLAVE_ASSIGN_OR_RETURN(response.unused_fallback_key_types,
                            e2ee.UnusedFallbackKeyTypes(session.user_id, session.device_id));
  return absl::OkStatus();
}

}  // namespace conclave::service::sync_internal
