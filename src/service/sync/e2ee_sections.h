// Private to sync/: the end-to-end encryption sections of one /sync response (Client-Server API
// "End-to-End Encryption", "Extensions to /sync"; "Send-to-Device messaging", "Extensions to
// /sync"): to_device, device_lists, device_one_time_keys_count,
// device_unused_fallback_key_types.
#ifndef CONCLAVE_SERVICE_SYNC_E2EE_SECTIONS_H_
#define CONCLAVE_SERVICE_SYNC_E2EE_SECTIONS_H_

#include <vector>

#include "absl/status/status.h"
#include "conclave/service/e2ee/e2ee.h"
#include "conclave/service/sync/sync.h"
#include "sections.h"

namespace conclave::service::sync_internal {

// Fills the E2EE fields of `response` for `pass`: delivers the device's to-device messages up to
// `pass.upto` (deleting those the `since` acknowledges), the device-list changes of an
// incremental sync, and the key counts. `memberships` are the user's rooms. Database errors.
absl::Status AddE2eeSections(const SyncPass& pass, E2ee& e2ee,
                             const std::vector<UserRoom>& memberships, SyncResponse& response);

}  // namespace conclave::service::sync_internal

#endif  // CONCLAVE_SERVICE_SYNC_E2EE_SECTIONS_H_
