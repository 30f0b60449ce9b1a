#include "conclave/service/accounts/uia_sessions.h"

#include <gtest/gtest.h>

#include <string>

namespace conclave::service {
namespace {

using Verdict = UiaSessions::Verdict;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

TEST(UiaSessionsTest, ASessionAuthenticatesOnlyItsOperation) {
  UiaSessions sessions;
  const std::string id = sessions.Start("@a:x\nDELETE\n/devices/A\n{}", kT0);
  EXPECT_EQ(id.size(), 24u);
  EXPECT_EQ(sessions.Verify(id, "@a:x\nDELETE\n/devices/A\n{}", kT0), Verdict::kValid);
  EXPECT_EQ(sessions.Verify(id, "@a:x\nDELETE\n/devices/B\n{}", kT0), Verdict::kOtherOperation);
  EXPECT_EQ(sessions.Verify("unknown", "@a:x\nDELETE\n/devices/A\n{}", kT0), Verdict::kUnknown);
  EXPECT_NE(sessions.Start("@a:x\nDELETE\n/devices/A\n{}", kT0), id);
}

TEST(UiaSessionsTest, SessionsExpireAndFinish) {
  UiaSessions sessions;
  const std::string id = sessions.Start("op", kT0);
  const absl::Time last = kT0 + UiaSessions::kLifetime - absl::Seconds(1);
  EXPECT_EQ(sessions.Verify(id, "op", last), Verdict::kValid);
  EXPECT_EQ(sessions.Verify(id, "op", kT0 + UiaSessions::kLifetime), Verdict::kUnknown);

  const std::string other = sessions.Start("op", kT0);
  sessions.Finish(other);
  EXPECT_EQ(sessions.Verify(other, "op", kT0), Verdict::kUnknown);
  sessions.Finish("never-started");  // ignored

  // Starting after the lifetime sweeps the expired session away.
  sessions.Start("op", kT0 + UiaSessions::kLifetime);
  EXPECT_EQ(sessions.size(), 1u);
}

TEST(UiaSessionsTest, TheOldestSessionGoesWhenFull) {
  UiaSessions sessions;
  const std::string oldest = sessions.Start("op", kT0);
  const std::string second = sessions.Start("op", kT0 + absl::Milliseconds(1));
  for (size_t i = 2; i < UiaSessions::kMaxSessions; ++i) {
    sessions.Start("op", kT0 + absl::Milliseconds(2));
  }
  EXPECT_EQ(sessions.size(), UiaSessions::kMaxSessions);
  EXPECT_EQ(sessions.Verify(oldest, "op", kT0 + absl::Seconds(1)), Verdict::kValid);
  sessions.Start("op", kT0 + absl::Milliseconds(3));
  EXPECT_EQ(sessions.size(), UiaSessions::kMaxSessions);
  EXPECT_EQ(sessions.Verify(oldest, "op", kT0 + absl::Seconds(1)), Verdict::kUnknown);
  EXPECT_EQ(sessions.Verify(second, "op", kT0 + absl::Seconds(1)), Verdict::kValid);
}

TEST(UiaSessionsTest, SaveAndRestoreKeepSessionsAndSkipMalformedEntries) {
  UiaSessions sessions;
  const std::string id = sessions.Start("op", kT0);
  UiaSessions restored;
  restored.Restore(sessions.Save());
  EXPECT_EQ(restored.Verify(id, "op", kT0), Verdict::kValid);
  EXPECT_EQ(restored.Verify(id, "other", kT0), Verdict::kOtherOperation);
  // Restored sessions keep their start: they expire on time.
  EXPECT_EQ(restored.Verify(id, "op", kT0 + UiaSessions::kLifetime), Verdict::kUnknown);

  UiaSessions partial;
  partial.Restore(R"({"a":["short",1],"b":"x","c":[1,2],)" + std::string("\"d\":[]}"));
  EXPECT_EQ(partial.size(), 0u);
  partial.Restore("not json");
  EXPECT_EQ(partial.size(), 0u);
}

}  // namespace
}  // namespace conclave::service
