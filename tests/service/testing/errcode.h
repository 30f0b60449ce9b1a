// Test helper: the Matrix errcode of a result, for EXPECT_EQ(Errcode(...), "M_FORBIDDEN").
#ifndef CONCLAVE_TESTS_SERVICE_TESTING_ERRCODE_H_
#define CONCLAVE_TESTS_SERVICE_TESTING_ERRCODE_H_

#include <string>

#include "absl/status/statusor.h"
#include "conclave/service/protocol/errors.h"

namespace conclave::service::test_util {

// "OK" when the call succeeded, else its errcode (errors.h ErrcodeOf).
inline std::string Errcode(const absl::Status& status) {
  return status.ok() ? "OK" : ErrcodeOf(status);
}
template <typename T>
std::string Errcode(const absl::StatusOr<T>& result) {
  return Errcode(result.status());
}

}  // namespace conclave::service::test_util

#endif  // CONCLAVE_TESTS_SERVICE_TESTING_ERRCODE_H_
