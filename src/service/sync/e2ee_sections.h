// Private to sync/: the end-to-end encryption sections of one /sync response (Client-Server API
// "End-to-End Encryption", "Extensions to /sync"; "Send-to-Device messaging", "Extensions to
// /sync"): to_device, device_lists, device_one_time_keys_count,
// device_unused_fallback_key_types.
#ifndef CONCLAVE_SERVICE_SYNC_E2EE_SECTIONS_H_
#define CONCLAVE_SERVICE_SYNC_E2EE_SECTIONS_H_

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <vector>

#include "absl/status/statusor.h"
#include "conclave/service/e2ee/e2ee.h"
#include "sections.h"

namespace conclave::service::sync_internal {

struct E2eeSections {
  boost::json::array to_device;  // to_device.events
  DeviceListChanges device_lists;
  boost::json::object one_time_key_counts;
  boost::json::array unused_fallback_key_types;

  // Whether a waiting /sync must answer for these (new to-device messages or device lists).
  bool HasNews() const {
    return !to_device.empty() || !device_lists.changed.empty() || !device_lists.left.empty();
  }
};

// Reads the sections for `pass`: delivers the device's to-device messages up to `pass.upto`
// (deleting those the `since` acknowledges), the device-list changes of an incremental sync,
// and the key counts. `memberships` are the user's rooms. Database errors.
absl::StatusOr<E2eeSections> ReadE2eeSections(const SyncPass& pass, E2ee& e2ee,
                                              const std::vector<UserRoom>& memberships);

// Adds the sections to the response `body`.
void AddE2eeSections(E2eeSections sections, boost::json::object& body);

}  // namespace conclave::service::sync_internal

#endif  // CONCLAVE_SERVICE_SYNC_E2EE_SECTIONS_H_
