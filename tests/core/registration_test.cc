// Registration<Owner, Key>, the one RAII handle of every registry: each registration is undone
// exactly once, by destruction, Reset() or a move assignment over it, never by a moved-from handle.
#include "conclave/core/registration.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

namespace conclave::core {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A registry as the real ones are declared: private Unregister, the handle its friend.
class Keyed {
 public:
  using Handle = Registration<Keyed, int>;
  Handle Add(int key) { return Handle(this, key); }
  std::vector<int> undone;

 private:
  friend Handle;
  void Unregister(int key) { undone.push_back(key); }
};

class OneSlot {
 public:
  using Handle = Registration<OneSlot>;
  Handle Install() { return Handle(this, {}); }
  int undone = 0;

 private:
  friend Handle;
  void Unregister() { ++undone; }
};

TEST(Registration, DestructionUndoesOnce) {
  Keyed registry;
  {
    Keyed::Handle a = registry.Add(1);
    EXPECT_TRUE(a.active());
    EXPECT_THAT(registry.undone, IsEmpty());
  }
  EXPECT_THAT(registry.undone, ElementsAre(1));
}

TEST(Registration, ResetUndoesNowAndOnlyOnce) {
  Keyed registry;
  Keyed::Handle a = registry.Add(2);
  a.Reset();
  EXPECT_FALSE(a.active());
  a.Reset();
  EXPECT_THAT(registry.undone, ElementsAre(2));
}

TEST(Registration, AMovedFromHandleHoldsNothing) {
  Keyed registry;
  Keyed::Handle a = registry.Add(3);
  Keyed::Handle b = std::move(a);
  EXPECT_FALSE(a.active());  // NOLINT(bugprone-use-after-move): what the test is about
  EXPECT_TRUE(b.active());
  a.Reset();
  EXPECT_THAT(registry.undone, IsEmpty());
  b.Reset();
  EXPECT_THAT(registry.undone, ElementsAre(3));
}

TEST(Registration, MoveAssignmentUndoesTheTargetsRegistrationFirst) {
  Keyed registry;
  Keyed::Handle a = registry.Add(4);
  Keyed::Handle b = registry.Add(5);
  a = std::move(b);
  EXPECT_THAT(registry.undone, ElementsAre(4));
  a = Keyed::Handle();
  EXPECT_THAT(registry.undone, ElementsAre(4, 5));
  Keyed::Handle empty;
  EXPECT_FALSE(empty.active());
}

TEST(Registration, ARegistryWithOneSlotTakesNoKey) {
  OneSlot slot;
  {
    OneSlot::Handle h = slot.Install();
    OneSlot::Handle moved = std::move(h);
  }
  EXPECT_EQ(slot.undone, 1);
  static_assert(sizeof(OneSlot::Handle) == sizeof(OneSlot*));
}

}  // namespace
}  // namespace conclave::core
