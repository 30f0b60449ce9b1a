// SlidingConnections (sync/sliding_connections.h): which `pos` a connection accepts, and the
// reload hand-over of its state.
#include "sync/sliding_connections.h"

#include <gtest/gtest.h>

namespace conclave::service::sync_internal {
namespace {

ConnectionState StateWithRoom(uint64_t upto) {
  ConnectionState state{.upto = upto, .typing = 7};
  SentRoom room{.upto = upto, .membership = "join", .bump_stamp = 3, .is_dm = true};
  room.config.Add({.timeline_limit = 5,
                   .required_state = {.include = {{"m.room.name", ""}, {std::nullopt, "$ME"}},
                                      .exclude = {{"m.room.create", std::nullopt}},
                                      .lazy_members = true}});
  room.lazy_members = {"@b:x"};
  state.rooms["!r:x"] = room;
  state.list_counts["all"] = 4;
  return state;
}

TEST(SlidingConnectionsTest, AcceptsTheNewestPosAndTheOneBefore) {
  SlidingConnections connections;
  const std::string p1 = connections.Store("@a:x", "D", "", std::nullopt, StateWithRoom(1));
  EXPECT_EQ(connections.Resume("@a:x", "D", "", "nope"), nullptr);
  EXPECT_EQ(connections.Resume("@a:x", "E", "", p1), nullptr);      // another device
  EXPECT_EQ(connections.Resume("@a:x", "D", "main", p1), nullptr);  // another conn_id
  ASSERT_NE(connections.Resume("@a:x", "D", "", p1), nullptr);
  const std::string p2 = connections.Store("@a:x", "D", "", p1, StateWithRoom(2));
  EXPECT_NE(p1, p2);
  // A retry with p1 (the client never processed p2's response) is still answered.
  auto retried = connections.Resume("@a:x", "D", "", p1);
  ASSERT_NE(retried, nullptr);
  EXPECT_EQ(retried->upto, 1u);
  ASSERT_NE(connections.Resume("@a:x", "D", "", p2), nullptr);
  // Using p2 proves p1's answer arrived: p1 is gone.
  EXPECT_EQ(connections.Resume("@a:x", "D", "", p1), nullptr);
  // A new connection (no pos) drops the old positions.
  connections.Store("@a:x", "D", "", std::nullopt, StateWithRoom(3));
  EXPECT_EQ(connections.Resume("@a:x", "D", "", p2), nullptr);
}

TEST(SlidingConnectionsTest, SaveAndRestoreKeepEveryField) {
  SlidingConnections first;
  const std::string p1 = first.Store("@a:x", "D", "c", std::nullopt, StateWithRoom(1));
  const std::string p2 = first.Store("@a:x", "D", "c", p1, StateWithRoom(2));
  SlidingConnections second;
  second.Restore(first.Save());
  auto latest = second.Resume("@a:x", "D", "c", p2);
  ASSERT_NE(latest, nullptr);
  const ConnectionState expected = StateWithRoom(2);
  EXPECT_EQ(latest->upto, expected.upto);
  EXPECT_EQ(latest->typing, expected.typing);
  EXPECT_EQ(latest->list_counts, expected.list_counts);
  ASSERT_EQ(latest->rooms.size(), 1u);
  const SentRoom& room = latest->rooms.at("!r:x");
  const SentRoom& want = expected.rooms.at("!r:x");
  EXPECT_EQ(room.upto, want.upto);
  EXPECT_EQ(room.membership, want.membership);
  EXPECT_EQ(room.config, want.config);
  EXPECT_EQ(room.lazy_members, want.lazy_members);
  EXPECT_EQ(room.bump_stamp, want.bump_stamp);
  EXPECT_EQ(room.is_dm, want.is_dm);
  // New positions after a restore never repeat an old one.
  EXPECT_NE(second.Store("@a:x", "D", "c", p2, StateWithRoom(3)), p2);

  SlidingConnections garbage;
  garbage.Restore("not json");
  EXPECT_EQ(garbage.Resume("@a:x", "D", "c", p2), nullptr);
}

}  // namespace
}  // namespace conclave::service::sync_internal
