// Room version 10 authorization rules: power levels, redactions, and which state events authorise
// an event (AuthStateKeys).
#include "auth_rules_fixture.h"
#include "conclave/service/protocol/auth_rules.h"

namespace conclave::service::auth_rules_test {
namespace {

TEST_F(AuthRulesTest, PowerLevelValuesMustBeIntegers) {
  object levels = CurrentLevels();
  levels["ban"] = "50";
  EXPECT_THAT(Check(StateEvent("m.room.power_levels", kAlice, "", levels)),
              IsForbidden("ban must be an integer"));
  levels = CurrentLevels();
  levels["events"].as_object()["m.room.name"] = 50.0;
  EXPECT_THAT(Check(StateEvent("m.room.power_levels", kAlice, "", levels)),
              IsForbidden("events.m.room.name must be an integer"));
  levels = CurrentLevels();
  levels["users"].as_object()["carol"] = 10;
  EXPECT_THAT(Check(StateEvent("m.room.power_levels", kAlice, "", levels)),
              IsForbidden("is not a user ID"));
  levels = CurrentLevels();
  levels["notifications"] = 50;
  EXPECT_THAT(Check(StateEvent("m.room.power_levels", kAlice, "", levels)),
              IsForbidden("notifications must be an object"));
  EXPECT_THAT(Check(StateEvent("m.room.power_levels", kAlice, "", CurrentLevels())), IsOk());
}

TEST_F(AuthRulesTest, FirstPowerLevelsEventIsOnlyValidated) {
  StateMap state;
  ASSERT_TRUE(PutState(state, CreateEvent()));
  ASSERT_TRUE(PutState(state, Member(kAlice, kAlice, "join")));
  object levels = DefaultPowerLevelsContent(kAlice);
  levels["users"].as_object()[kBob] = 1000;  // above Alice's 100: rule 9.4 allows it anyway
  EXPECT_THAT(CheckEventAuth(StateEvent("m.room.power_levels", kAlice, "", levels), state), IsOk());
  levels["kick"] = "50";
  EXPECT_THAT(CheckEventAuth(StateEvent("m.room.power_levels", kAlice, "", levels), state),
              IsForbidden("kick must be an integer"));
}

TEST_F(AuthRulesTest, PowerLevelScalarsCannotGoAboveTheSendersLevel) {
  object levels = CurrentLevels();
  levels["events"].as_object()["m.room.power_levels"] = 50;  // let Bob edit
  SetLevels(levels);
  levels["ban"] = 40;
  EXPECT_THAT(Check(StateEvent("m.room.power_levels", kBob, "", levels)), IsOk());
  levels["ban"] = 60;
  EXPECT_THAT(Check(StateEvent("m.room.power_levels", kBob, "", levels)),
              IsForbidden("cannot set ban to 60"));
  levels["ban"] = 50;
  levels["invite"] = 51;  // added above Bob's level
  EXPECT_THAT(Check(StateEvent("m.room.power_levels", kBob, "", levels)),
              IsForbidden("cannot set invite to 51"));
}

TEST_F(AuthRulesTest, PowerLevelScalarsAboveTheSenderCannotBeChangedOrRemoved) {
  object levels = CurrentLevels();
  levels["events"].as_object()["m.room.power_levels"] = 50;
  levels["kick"] = 80;
  SetLevels(levels);
  levels["kick"] = 10;  // lowering needs the current value within reach too
  EXPECT_THAT(Check(StateEvent("m.room.power_levels", kBob, "", levels)),
              IsForbidden("cannot change kick: its level 80"));
  levels.erase("kick");
  EXPECT_THAT(Check(StateEvent("m.room.power_levels", kBob, "", levels)),
              IsForbidden("cannot change kick"));
  levels["kick"] = 80;
  EXPECT_THAT(Check(StateEvent("m.room.power_levels", kBob, "", levels)), IsOk());  // unchanged
}

TEST_F(AuthRulesTest, PowerLevelEventAndNotificationEntriesFollowTheSendersLevel) {
  object levels = CurrentLevels();
  levels["events"].as_object()["m.room.power_levels"] = 50;
  SetLevels(levels);
  object edit = levels;
  edit["events"].as_object()["m.room.topic"] = 50;
  EXPECT_THAT(Check(StateEvent("m.room.power_levels", kBob, "", edit)), IsOk());
  edit["events"].as_object()["m.room.topic"] = 51;
  EXPECT_THAT(Check(StateEvent("m.room.power_levels", kBob, "", edit)),
              IsForbidden("cannot set events.m.room.topic to 51"));
  edit = levels;
  edit["events"].as_object().erase("m.room.tombstone");  // currently 100
  EXPECT_THAT(Check(StateEvent("m.room.power_levels", kBob, "", edit)),
              IsForbidden("cannot change events.m.room.tombstone"));
  edit = levels;
  edit["notifications"].as_object()["room"] = 70;
  EXPECT_THAT(Check(StateEvent("m.room.power_levels", kBob, "", edit)),
              IsForbidden("cannot set notifications.room to 70"));
  edit["notifications"].as_object()["room"] = 20;
  EXPECT_THAT(Check(StateEvent("m.room.power_levels", kBob, "", edit)), IsOk());
}

TEST_F(AuthRulesTest, PowerLevelUsersBelowTheSenderOnlyAndNeverAboveIt) {
  object levels = CurrentLevels();
  levels["events"].as_object()["m.room.power_levels"] = 50;
  levels["users"].as_object()["@frank:example.org"] = 50;
  SetLevels(levels);

  object edit = levels;
  edit["users"].as_object()[kCarol] = 50;  // up to Bob's own level
  EXPECT_THAT(Check(StateEvent("m.room.power_levels", kBob, "", edit)), IsOk());
  edit["users"].as_object()[kCarol] = 51;
  EXPECT_THAT(Check(StateEvent("m.room.power_levels", kBob, "", edit)),
              IsForbidden("cannot give @carol:example.org level 51"));

  edit = levels;
  edit["users"].as_object()["@frank:example.org"] = 0;  // a peer at Bob's level
  EXPECT_THAT(Check(StateEvent("m.room.power_levels", kBob, "", edit)),
              IsForbidden("rule 9.8: cannot change the level of @frank:example.org"));
  edit = levels;
  edit["users"].as_object().erase(kAlice);
  EXPECT_THAT(Check(StateEvent("m.room.power_levels", kBob, "", edit)),
              IsForbidden("rule 9.8: cannot change the level of @alice:example.org"));

  edit = levels;
  edit["users"].as_object()[kBob] = 10;  // demoting oneself is allowed
  EXPECT_THAT(Check(StateEvent("m.room.power_levels", kBob, "", edit)), IsOk());
  edit["users"].as_object()[kBob] = 60;
  EXPECT_THAT(Check(StateEvent("m.room.power_levels", kBob, "", edit)), IsForbidden("rule 9.9"));
}

TEST_F(AuthRulesTest, MalformedCurrentPowerLevelsRefuseEverything) {
  object levels = CurrentLevels();
  levels["events_default"] = "0";
  SetLevels(levels);
  EXPECT_THAT(Check(Event("m.room.message", kCarol, {})),
              IsForbidden("current m.room.power_levels is invalid"));
}

// Redactions.

TEST_F(AuthRulesTest, RedactionEventsUseTheOrdinaryEventLevel) {
  object redaction = Event("m.room.redaction", kCarol, {});
  redaction["redacts"] = "$target";
  EXPECT_THAT(Check(redaction), IsOk());
  object levels = CurrentLevels();
  levels["events"].as_object()["m.room.redaction"] = 20;
  SetLevels(levels);
  EXPECT_THAT(Check(redaction), IsForbidden("sending m.room.redaction needs level 20"));
}

TEST_F(AuthRulesTest, RedactingOthersNeedsTheRedactLevelOwnEventsDoNot) {
  object target = Event("m.room.message", kCarol, {});
  target["event_id"] = "$target";
  object by_carol = Event("m.room.redaction", kCarol, {});
  by_carol["redacts"] = "$target";
  EXPECT_THAT(CheckRedactionAuth(by_carol, target, state_), IsOk());

  object target_by_bob = target;
  target_by_bob["sender"] = kBob;
  EXPECT_THAT(CheckRedactionAuth(by_carol, target_by_bob, state_),
              IsForbidden("needs the redact level 50"));
  object by_bob = by_carol;
  by_bob["sender"] = kBob;
  EXPECT_THAT(CheckRedactionAuth(by_bob, target, state_), IsOk());
}

TEST_F(AuthRulesTest, RedactionMustTargetTheGivenEventInTheSameRoom) {
  object target = Event("m.room.message", kCarol, {});
  target["event_id"] = "$target";
  object redaction = Event("m.room.redaction", kAlice, {});
  redaction["redacts"] = "$other";
  EXPECT_THAT(CheckRedactionAuth(redaction, target, state_), IsForbidden("not $target"));
  redaction["redacts"] = "$target";
  target["room_id"] = "!other:example.org";
  EXPECT_THAT(CheckRedactionAuth(redaction, target, state_), IsForbidden("another room"));
}

// Auth events selection.

TEST(AuthStateKeysTest, CreateHasNoAuthEvents) {
  EXPECT_THAT(AuthStateKeys(CreateEvent(), V10()), IsEmpty());
}

TEST(AuthStateKeysTest, MessageNeedsCreatePowerLevelsAndSender) {
  EXPECT_THAT(AuthStateKeys(Event("m.room.message", kCarol, {}), V10()),
              ElementsAre(StateKey("m.room.create", ""), StateKey("m.room.power_levels", ""),
                          StateKey("m.room.member", kCarol)));
}

TEST(AuthStateKeysTest, MembershipAddsTargetAndJoinRulesWhereTheyMatter) {
  EXPECT_THAT(AuthStateKeys(Member(kCarol, kCarol, "join"), V10()),
              ElementsAre(StateKey("m.room.create", ""), StateKey("m.room.power_levels", ""),
                          StateKey("m.room.member", kCarol), StateKey("m.room.join_rules", "")));
  EXPECT_THAT(AuthStateKeys(Member(kBob, kDave, "invite"), V10()),
              ElementsAre(StateKey("m.room.create", ""), StateKey("m.room.power_levels", ""),
                          StateKey("m.room.member", kBob), StateKey("m.room.member", kDave),
                          StateKey("m.room.join_rules", "")));
  EXPECT_THAT(AuthStateKeys(Member(kBob, kDave, "ban"), V10()),
              ElementsAre(StateKey("m.room.create", ""), StateKey("m.room.power_levels", ""),
                          StateKey("m.room.member", kBob), StateKey("m.room.member", kDave)));
  EXPECT_THAT(AuthStateKeys(Member(kDave, kDave, "knock"), V10()),
              ::testing::Contains(StateKey("m.room.join_rules", "")));
  object via;
  via["join_authorised_via_users_server"] = kBob;
  EXPECT_THAT(AuthStateKeys(Member(kDave, kDave, "join", via), V10()),
              ElementsAre(StateKey("m.room.create", ""), StateKey("m.room.power_levels", ""),
                          StateKey("m.room.member", kDave), StateKey("m.room.join_rules", ""),
                          StateKey("m.room.member", kBob)));
}

TEST(AuthStateKeysTest, ThirdPartyInviteAddsItsToken) {
  object signed_object;
  signed_object["token"] = "abc";
  object third_party;
  third_party["signed"] = std::move(signed_object);
  object content;
  content["third_party_invite"] = std::move(third_party);
  EXPECT_THAT(AuthStateKeys(Member(kBob, kDave, "invite", content), V10()),
              ::testing::Contains(StateKey("m.room.third_party_invite", "abc")));
}

}  // namespace
}  // namespace conclave::service::auth_rules_test
