// Errcodes: every one has its own wire name and round-trips through a status.
#include "conclave/service/protocol/errors.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace conclave::service {
namespace {

constexpr int kLast = static_cast<int>(Errcode::kWrongRoomKeysVersion);

TEST(Errcode, EveryNameIsDistinctAndParsesBack) {
  std::set<std::string> names;
  for (int i = 0; i <= kLast; ++i) {
    const auto errcode = static_cast<Errcode>(i);
    const std::string name(ErrcodeName(errcode));
    EXPECT_TRUE(name.starts_with("M_")) << name;
    EXPECT_TRUE(names.insert(name).second) << "twice: " << name;
    EXPECT_EQ(ErrcodeFromName(name), errcode) << name;
  }
  EXPECT_EQ(ErrcodeFromName("M_NO_SUCH_CODE"), std::nullopt);
}

TEST(Errcode, NamesFollowTheSpec) {
  EXPECT_EQ(ErrcodeName(Errcode::kForbidden), "M_FORBIDDEN");
  EXPECT_EQ(ErrcodeName(Errcode::kUnknownToken), "M_UNKNOWN_TOKEN");
  EXPECT_EQ(ErrcodeName(Errcode::kUnsupportedRoomVersion), "M_UNSUPPORTED_ROOM_VERSION");
  EXPECT_EQ(ErrcodeName(Errcode::kWrongRoomKeysVersion), "M_WRONG_ROOM_KEYS_VERSION");
  EXPECT_EQ(ErrcodeName(Errcode::kUnknownPos), "M_UNKNOWN_POS");
}

TEST(Errcode, StatusCarriesItAndItsDefaultCode) {
  absl::Status taken = MatrixStatus(Errcode::kUserInUse, "taken");
  EXPECT_EQ(ErrcodeOf(taken), Errcode::kUserInUse);
  EXPECT_EQ(taken.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Forbidden("no").code(), absl::StatusCode::kPermissionDenied);
  absl::Status conflict = MatrixStatus(absl::StatusCode::kAlreadyExists, Errcode::kUnknown, "x");
  EXPECT_EQ(ErrcodeOf(conflict), Errcode::kUnknown);
  EXPECT_EQ(conflict.code(), absl::StatusCode::kAlreadyExists);
}

TEST(Errcode, DerivedFromTheCodeWithoutOne) {
  EXPECT_EQ(ErrcodeOf(absl::NotFoundError("x")), Errcode::kNotFound);
  EXPECT_EQ(ErrcodeOf(absl::PermissionDeniedError("x")), Errcode::kForbidden);
  EXPECT_EQ(ErrcodeOf(absl::InvalidArgumentError("x")), Errcode::kInvalidParam);
  EXPECT_EQ(ErrcodeOf(absl::InternalError("x")), Errcode::kUnknown);
}

TEST(Errcode, LimitExceededCarriesRetryAfter) {
  absl::Status limited = LimitExceeded("slow down", 1500);
  EXPECT_EQ(ErrcodeOf(limited), Errcode::kLimitExceeded);
  EXPECT_EQ(RetryAfterMs(limited), 1500);
  EXPECT_EQ(RetryAfterMs(Forbidden("no")), std::nullopt);
}

TEST(Errcode, MessageIsMadeValidUtf8) {
  absl::Status status = InvalidParam("bad \xff token");
  EXPECT_EQ(status.message(), "bad \xEF\xBF\xBD token");
}

}  // namespace
}  // namespace conclave::service
