// A failed status becomes the HTTP status and error body the spec gives its errcode: the table
// api and media share (conclave/matrix_http/error_response.h), through api's names.
#include "matrix_error.h"

#include <gtest/gtest.h>

#include "conclave/service/protocol/errors.h"

namespace conclave::api {
namespace {

using service::Errcode;
using service::MatrixStatus;

TEST(HttpStatusOf, FollowsTheErrcode) {
  EXPECT_EQ(HttpStatusOf(service::MissingToken("x")), 401);
  EXPECT_EQ(HttpStatusOf(service::UnknownToken("x")), 401);
  EXPECT_EQ(HttpStatusOf(MatrixStatus(Errcode::kUnauthorized, "x")), 401);
  EXPECT_EQ(HttpStatusOf(MatrixStatus(Errcode::kWrongRoomKeysVersion, "x")), 403);
  EXPECT_EQ(HttpStatusOf(MatrixStatus(Errcode::kCannotOverwriteMedia, "x")), 409);
  EXPECT_EQ(HttpStatusOf(MatrixStatus(Errcode::kNotYetUploaded, "x")), 504);
  EXPECT_EQ(HttpStatusOf(service::Forbidden("x")), 403);
  EXPECT_EQ(HttpStatusOf(MatrixStatus(Errcode::kUserDeactivated, "x")), 403);
  EXPECT_EQ(HttpStatusOf(service::NotFound("x")), 404);
  EXPECT_EQ(HttpStatusOf(MatrixStatus(Errcode::kUnrecognized, "x")), 404);
  EXPECT_EQ(HttpStatusOf(service::TooLarge("x")), 413);
  EXPECT_EQ(HttpStatusOf(service::LimitExceeded("x", 10)), 429);
  // An errcode wins over the status code: M_USER_IN_USE is kAlreadyExists but answered 400.
  EXPECT_EQ(HttpStatusOf(MatrixStatus(Errcode::kUserInUse, "x")), 400);
  EXPECT_EQ(HttpStatusOf(service::BadJson("x")), 400);
  EXPECT_EQ(HttpStatusOf(MatrixStatus(Errcode::kRoomInUse, "x")), 400);
}

TEST(HttpStatusOf, UnknownErrcodeFollowsTheStatusCode) {
  EXPECT_EQ(HttpStatusOf(MatrixStatus(absl::StatusCode::kAlreadyExists, Errcode::kUnknown, "x")),
            409);
  EXPECT_EQ(HttpStatusOf(MatrixStatus(absl::StatusCode::kInvalidArgument, Errcode::kUnknown, "x")),
            400);
  EXPECT_EQ(HttpStatusOf(absl::UnavailableError("x")), 503);
  EXPECT_EQ(HttpStatusOf(absl::InternalError("x")), 500);
}

TEST(ErrorResponse, BodyHasErrcodeErrorAndRetryAfter) {
  core::Response limited = ErrorResponse(service::LimitExceeded("Too many requests", 1500));
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.body,
            R"({"errcode":"M_LIMIT_EXCEEDED","error":"Too many requests","retry_after_ms":1500})");
  core::Response forbidden = ErrorResponse(service::Forbidden("No"));
  EXPECT_EQ(forbidden.body, R"({"errcode":"M_FORBIDDEN","error":"No"})");
}

TEST(ErrorResponse, InternalErrorsHideTheirDetails) {
  core::Response internal = ErrorResponse(absl::InternalError("disk on fire"));
  EXPECT_EQ(internal.status, 500);
  EXPECT_EQ(internal.body, R"({"errcode":"M_UNKNOWN","error":"Internal server error"})");
}

// content-repo.yaml's 504 says what is missing: it is not an internal error.
TEST(ErrorResponse, NotYetUploadedKeepsItsMessage) {
  core::Response waiting = ErrorResponse(MatrixStatus(Errcode::kNotYetUploaded, "Not uploaded"));
  EXPECT_EQ(waiting.status, 504);
  EXPECT_EQ(waiting.body, R"({"errcode":"M_NOT_YET_UPLOADED","error":"Not uploaded"})");
}

TEST(ErrorResponse, ExplicitStatusKeepsTheErrcode) {
  core::Response refused = ErrorResponse(405, Errcode::kBadJson, "Cannot set m.push_rules");
  EXPECT_EQ(refused.status, 405);
  EXPECT_EQ(refused.body, R"({"errcode":"M_BAD_JSON","error":"Cannot set m.push_rules"})");
}

}  // namespace
}  // namespace conclave::api
