#include "conclave/service/storage/verify.h"

#include <string>
#include <utility>

#include "conclave/database/key.h"
#include "conclave/service/storage/schema.h"
#include "verify_checker.h"

namespace conclave::service {
namespace verify_internal {
namespace {

using schema::kStreamPositionKey;

class StreamChecker : public Checker {
 public:
  explicit StreamChecker(VerifyRun& run) : Checker(run) {}

  void CheckStream() {
    if (auto value = Find(*store_.stream, kStreamPositionKey)) {
      database::KeyReader reader(*value);
      auto position = reader.ReadU64();
      if (position.ok() && reader.AtEnd()) {
        report_.stream_position = *position;
      } else {
        Problem("stream", std::string(kStreamPositionKey), "does not decode as a position");
      }
    }
    Walk(*store_.stream, "stream", [&](std::string_view key, std::string_view) {
      if (key != kStreamPositionKey) Problem("stream", Printable(key), "unknown key");
    });
  }
};

}  // namespace

void CheckStream(VerifyRun& run) { StreamChecker(run).CheckStream(); }

}  // namespace verify_internal

absl::StatusOr<VerifyReport> VerifyDatabase(const Store& store, const VerifyOptions& options) {
  using namespace verify_internal;  // NOLINT: the checkers of this file's siblings
  VerifyRun run(store, options);
  CheckStream(run);
  CollectUsers(run);
  CollectRooms(run);
  CheckTimeline(run);
  CheckRoomIndexes(run);
  CheckRelations(run);
  CheckAccountIndexes(run);
  CheckE2ee(run);
  CheckKeyBackups(run);
  if (!run.error.ok()) return run.error;
  return std::move(run.report);
}

}  // namespace conclave::service
