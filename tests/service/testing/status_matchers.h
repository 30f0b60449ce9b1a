// Test helpers: gMock matchers on absl::Status and absl::StatusOr<T>, so that a test names the
// error it expects — EXPECT_THAT(result, StatusIs(absl::StatusCode::kNotFound)) or
// EXPECT_THAT(result, HasErrcode(Errcode::kForbidden)) — instead of checking "not OK".
#ifndef CONCLAVE_TESTS_SERVICE_TESTING_STATUS_MATCHERS_H_
#define CONCLAVE_TESTS_SERVICE_TESTING_STATUS_MATCHERS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "conclave/service/protocol/errors.h"
#include "gmock/gmock.h"

namespace conclave::service::test_util {

inline const absl::Status& StatusOf(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& result) {
  return result.status();
}

// Matches a Status or StatusOr whose code is `code`.
MATCHER_P(StatusIs, code,
          std::string(negation ? "has no code " : "has code ") + absl::StatusCodeToString(code)) {
  const absl::Status& status = StatusOf(arg);
  *result_listener << "whose status is " << status;
  return status.code() == code;
}

// Matches a failed Status or StatusOr whose Matrix errcode (errors.h ErrcodeOf) is the Errcode
// `errcode`.
MATCHER_P(HasErrcode, errcode,
          std::string(negation ? "has no errcode " : "has errcode ") +
              std::string(ErrcodeName(errcode))) {
  const absl::Status& status = StatusOf(arg);
  *result_listener << "whose status is " << status;
  return !status.ok() && ErrcodeOf(status) == errcode;
}

// Matches an OK Status or StatusOr.
MATCHER(IsOk, negation ? "is not OK" : "is OK") {
  const absl::Status& status = StatusOf(arg);
  *result_listener << "whose status is " << status;
  return status.ok();
}

}  // namespace conclave::service::test_util

#endif  // CONCLAVE_TESTS_SERVICE_TESTING_STATUS_MATCHERS_H_
