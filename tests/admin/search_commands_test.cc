// `search` commands over a real Homeserver and its Xapian index.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "admin_fixture.h"
#include "conclave/service/search/indexer.h"

namespace conclave::admin {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class SearchCommandsTest : public test_util::AdminTest {};

TEST_F(SearchCommandsTest, RebuildIndexesEveryTimelineAgainAndStatsCountsIt) {
  service::Session alice = Register("alice");
  std::string room = CreateRoom(alice, {});
  SendText(alice, room, "findable words", "t1");
  // Lose the index (as a deleted index directory would): stats shows it empty.
  ASSERT_TRUE(hs_->search_indexer().index().Clear().ok());
  EXPECT_THAT(Ok("search stats"), StartsWith("0 events in the search index"));
  const std::string rebuilt = Ok("search rebuild");
  EXPECT_THAT(rebuilt, StartsWith("Rebuilt the search index: read "));
  auto documents = hs_->search_indexer().index().DocumentCount();
  ASSERT_TRUE(documents.ok());
  EXPECT_GE(*documents, 1u);
  EXPECT_THAT(rebuilt, HasSubstr("indexed " + std::to_string(*documents) + " event"));
  EXPECT_THAT(Ok("search stats"), HasSubstr("indexed up to stream position " +
                                            std::to_string(hs_->stream().current())));
}

}  // namespace
}  // namespace conclave::admin
