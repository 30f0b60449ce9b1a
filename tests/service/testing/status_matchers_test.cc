// The status matchers accept what they name and refuse the rest.
#include "service/testing/status_matchers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "conclave/service/protocol/errors.h"

namespace conclave::service::test_util {
namespace {

using ::testing::Not;

TEST(StatusMatchers, StatusIsComparesTheCode) {
  EXPECT_THAT(absl::NotFoundError("x"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(absl::NotFoundError("x"), Not(StatusIs(absl::StatusCode::kInternal)));
  EXPECT_THAT(absl::StatusOr<int>(3), StatusIs(absl::StatusCode::kOk));
}

TEST(StatusMatchers, HasErrcodeNeedsAFailureWithThatErrcode) {
  EXPECT_THAT(Forbidden("no"), HasErrcode(Errcode::kForbidden));
  EXPECT_THAT(Forbidden("no"), Not(HasErrcode(Errcode::kNotFound)));
  EXPECT_THAT(absl::OkStatus(), Not(HasErrcode(Errcode::kForbidden)));
  EXPECT_THAT(absl::StatusOr<int>(InvalidParam("bad")), HasErrcode(Errcode::kInvalidParam));
}

TEST(StatusMatchers, IsOkAcceptsOnlyOk) {
  EXPECT_THAT(absl::OkStatus(), IsOk());
  EXPECT_THAT(absl::StatusOr<int>(1), IsOk());
  EXPECT_THAT(absl::InternalError("x"), Not(IsOk()));
}

}  // namespace
}  // namespace conclave::service::test_util
