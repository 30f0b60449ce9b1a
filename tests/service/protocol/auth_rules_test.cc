// Room version 10 authorization rules: create, membership, sending.
#include "conclave/service/protocol/auth_rules.h"

#include "auth_rules_fixture.h"

namespace conclave::service::auth_rules_test {
namespace {

TEST(AuthRulesCreateTest, CreateIsAllowedOnlyAsTheFirstEvent) {
  StateMap empty;
  EXPECT_THAT(CheckEventAuth(CreateEvent(), empty), IsOk());
  StateMap existing;
  ASSERT_TRUE(PutState(existing, CreateEvent()));
  EXPECT_THAT(CheckEventAuth(CreateEvent(), existing), IsForbidden("must be the first event"));
}

TEST(AuthRulesCreateTest, CreateWithPrevEventsIsRefused) {
  object event = CreateEvent();
  event["prev_events"] = boost::json::array{"$earlier"};
  EXPECT_THAT(CheckEventAuth(event, {}), IsForbidden("rule 1.1"));
}

TEST(AuthRulesCreateTest, CreateForAnotherServersRoomIdIsRefused) {
  object event = CreateEvent();
  event["room_id"] = "!room:elsewhere.org";
  EXPECT_THAT(CheckEventAuth(event, {}), IsForbidden("rule 1.2"));
}

TEST(AuthRulesCreateTest, OnlyKnownRoomVersionsAreRecognised) {
  object event = CreateEvent();
  event["content"].as_object()["room_version"] = "9";
  EXPECT_THAT(CheckEventAuth(event, {}), IsOk());
  event["content"].as_object()["room_version"] = "org.example.9";
  EXPECT_THAT(CheckEventAuth(event, {}), IsForbidden("room version 'org.example.9' is not known"));
  event["content"].as_object().erase("room_version");  // absent means version 1
  EXPECT_THAT(CheckEventAuth(event, {}), IsOk());
  event["content"].as_object()["room_version"] = 10;
  EXPECT_THAT(CheckEventAuth(event, {}), IsForbidden("must be a string"));
}

TEST(AuthRulesCreateTest, CreateWithoutCreatorIsRefused) {
  object event = CreateEvent();
  event["content"].as_object().erase("creator");
  EXPECT_THAT(CheckEventAuth(event, {}), IsForbidden("rule 1.4"));
}

TEST(AuthRulesCreateTest, EventsNeedACreateEventInTheRoom) {
  EXPECT_THAT(CheckEventAuth(Member(kAlice, kAlice, "join"), {}), IsForbidden("no m.room.create"));
}

TEST(AuthRulesCreateTest, OnlyTheCreatorJoinsRightAfterCreate) {
  StateMap state;
  ASSERT_TRUE(PutState(state, CreateEvent()));
  EXPECT_THAT(CheckEventAuth(Member(kAlice, kAlice, "join"), state), IsOk());
  // Without join rules the room is invite-only, so nobody else may join yet.
  EXPECT_THAT(CheckEventAuth(Member(kBob, kBob, "join"), state), IsForbidden("rule 4.3.7"));
}

TEST_F(AuthRulesTest, EventForAnotherRoomIsRefused) {
  object event = Event("m.room.message", kCarol, {});
  EXPECT_THAT(Check(event), IsOk());
  event["room_id"] = "!other:example.org";
  EXPECT_THAT(Check(event), IsForbidden("is not the room"));
}

TEST_F(AuthRulesTest, EventWithoutTypeOrSenderIsRefused) {
  object event = Event("m.room.message", kCarol, {});
  event.erase("sender");
  EXPECT_THAT(Check(event), IsForbidden("no sender"));
  event = Event("m.room.message", kCarol, {});
  event.erase("type");
  EXPECT_THAT(Check(event), IsForbidden("no type"));
}

// Rule 4.1 and 4.8.

TEST_F(AuthRulesTest, MemberEventNeedsStateKeyMembershipAndAKnownMembership) {
  object event = Member(kDave, kDave, "join");
  event.erase("state_key");
  EXPECT_THAT(Check(event), IsForbidden("rule 4.1"));
  EXPECT_THAT(Check(StateEvent("m.room.member", kDave, kDave, {})), IsForbidden("rule 4.1"));
  EXPECT_THAT(Check(Member(kDave, kDave, "lurk")), IsForbidden("unknown membership 'lurk'"));
  EXPECT_THAT(Check(Member(kDave, kDave, "join")), IsOk());
}

// Rule 4.3: join.

TEST_F(AuthRulesTest, AnyoneJoinsAPublicRoomButOnlyAsThemself) {
  EXPECT_THAT(Check(Member(kDave, kDave, "join")), IsOk());
  EXPECT_THAT(Check(Member(kAlice, kDave, "join")), IsForbidden("rule 4.3.2"));
}

TEST_F(AuthRulesTest, JoinedMemberMayRejoinToChangeProfile) {
  object content;
  content["displayname"] = "Carol C.";
  EXPECT_THAT(Check(Member(kCarol, kCarol, "join", content)), IsOk());
}

TEST_F(AuthRulesTest, BannedUserCannotJoin) {
  Put(Member(kBob, kDave, "ban"));
  EXPECT_THAT(Check(Member(kDave, kDave, "join")), IsForbidden("is banned"));
  Put(Member(kBob, kDave, "leave"));  // unbanned
  EXPECT_THAT(Check(Member(kDave, kDave, "join")), IsOk());
}

TEST_F(AuthRulesTest, InviteOnlyRoomNeedsAnInvite) {
  SetJoinRule("invite");
  EXPECT_THAT(Check(Member(kDave, kDave, "join")), IsForbidden("rule 4.3.7"));
  Put(Member(kAlice, kDave, "invite"));
  EXPECT_THAT(Check(Member(kDave, kDave, "join")), IsOk());
  EXPECT_THAT(Check(Member(kCarol, kCarol, "join")), IsOk());  // already joined
}

TEST_F(AuthRulesTest, KnockRoomNeedsAnInviteToJoin) {
  SetJoinRule("knock");
  SetMembership(kDave, "knock");
  EXPECT_THAT(Check(Member(kDave, kDave, "join")), IsForbidden("rule 4.3.7"));
  Put(Member(kAlice, kDave, "invite"));
  EXPECT_THAT(Check(Member(kDave, kDave, "join")), IsOk());
}

TEST_F(AuthRulesTest, PrivateOrMissingJoinRuleAdmitsNoOne) {
  SetJoinRule("private");
  Put(Member(kAlice, kDave, "invite"));
  // Rule 4.3.4 lets invitees in for invite and knock only; "private" falls through to 4.3.7.
  EXPECT_THAT(Check(Member(kDave, kDave, "join")), IsForbidden("the join rule is 'private'"));
  state_.erase(StateKey("m.room.join_rules", ""));
  EXPECT_THAT(Check(Member(kDave, kDave, "join")), IsOk());  // absent: treated as invite
  EXPECT_THAT(Check(Member(kErin, kErin, "join")), IsForbidden("the join rule is 'invite'"));
}

TEST_F(AuthRulesTest, RestrictedJoinNeedsAnInviteOrAnAuthorisingMember) {
  SetJoinRule("restricted");
  EXPECT_THAT(Check(Member(kDave, kDave, "join")),
              IsForbidden("needs join_authorised_via_users_server"));
  object via_bob;
  via_bob["join_authorised_via_users_server"] = kBob;
  EXPECT_THAT(Check(Member(kDave, kDave, "join", via_bob)), IsOk());
  Put(Member(kAlice, kErin, "invite"));
  EXPECT_THAT(Check(Member(kErin, kErin, "join")), IsOk());
}

TEST_F(AuthRulesTest, RestrictedJoinAuthoriserMustBeJoinedWithInvitePower) {
  SetJoinRule("knock_restricted");
  object levels = CurrentLevels();
  levels["invite"] = 50;
  SetLevels(levels);
  object via;
  via["join_authorised_via_users_server"] = kCarol;  // joined, level 0 < 50
  EXPECT_THAT(Check(Member(kDave, kDave, "join", via)), IsForbidden("below the invite level 50"));
  via["join_authorised_via_users_server"] = kErin;  // not in the room
  EXPECT_THAT(Check(Member(kDave, kDave, "join", via)), IsForbidden("is not joined"));
  via["join_authorised_via_users_server"] = "@bob:elsewhere.org";  // signature: pdu_checks.h
  EXPECT_THAT(Check(Member(kDave, kDave, "join", via)), IsForbidden("is not joined"));
  via["join_authorised_via_users_server"] = "bob";
  EXPECT_THAT(Check(Member(kDave, kDave, "join", via)), IsForbidden("rule 4.2"));
  via["join_authorised_via_users_server"] = kAlice;
  EXPECT_THAT(Check(Member(kDave, kDave, "join", via)), IsOk());
}

// Rule 4.4: invite.

TEST_F(AuthRulesTest, JoinedMemberWithInviteLevelInvites) {
  EXPECT_THAT(Check(Member(kCarol, kDave, "invite")), IsOk());  // invite level 0
  object levels = CurrentLevels();
  levels["invite"] = 50;
  SetLevels(levels);
  EXPECT_THAT(Check(Member(kCarol, kDave, "invite")), IsForbidden("below the invite level 50"));
  EXPECT_THAT(Check(Member(kBob, kDave, "invite")), IsOk());
}

TEST_F(AuthRulesTest, InviterMustBeJoined) {
  EXPECT_THAT(Check(Member(kDave, kErin, "invite")), IsForbidden("rule 4.4.2"));
  SetMembership(kCarol, "leave");
  EXPECT_THAT(Check(Member(kCarol, kErin, "invite")), IsForbidden("rule 4.4.2"));
  EXPECT_THAT(Check(Member(kBob, kErin, "invite")), IsOk());
}

TEST_F(AuthRulesTest, JoinedOrBannedUsersCannotBeInvited) {
  EXPECT_THAT(Check(Member(kBob, kCarol, "invite")), IsForbidden("already joined"));
  Put(Member(kBob, kDave, "ban"));
  EXPECT_THAT(Check(Member(kBob, kDave, "invite")), IsForbidden("is banned"));
  SetMembership(kErin, "leave");
  EXPECT_THAT(Check(Member(kBob, kErin, "invite")), IsOk());
}

TEST_F(AuthRulesTest, ThirdPartyInvitesAreRefused) {
  object signed_object;
  signed_object["mxid"] = kDave;
  signed_object["token"] = "abc";
  object third_party;
  third_party["display_name"] = "dave";
  third_party["signed"] = std::move(signed_object);
  object content;
  content["third_party_invite"] = std::move(third_party);
  EXPECT_THAT(Check(Member(kAlice, kDave, "invite", content)),
              IsForbidden("third-party invites are not supported"));
  EXPECT_THAT(Check(Member(kAlice, kDave, "invite")), IsOk());
}

// Rule 4.5: leave, kick, unban.

TEST_F(AuthRulesTest, UsersLeaveFromJoinInviteOrKnockOnly) {
  EXPECT_THAT(Check(Member(kCarol, kCarol, "leave")), IsOk());
  Put(Member(kAlice, kDave, "invite"));
  EXPECT_THAT(Check(Member(kDave, kDave, "leave")), IsOk());  // rejects the invite
  SetMembership(kDave, "knock");
  EXPECT_THAT(Check(Member(kDave, kDave, "leave")), IsOk());  // retracts the knock
  SetMembership(kDave, "leave");
  EXPECT_THAT(Check(Member(kDave, kDave, "leave")), IsForbidden("rule 4.5.1"));
  EXPECT_THAT(Check(Member(kErin, kErin, "leave")), IsForbidden("membership none"));
}

TEST_F(AuthRulesTest, BannedUserCannotUnbanThemselfByLeaving) {
  Put(Member(kBob, kCarol, "ban"));
  EXPECT_THAT(Check(Member(kCarol, kCarol, "leave")), IsForbidden("rule 4.5.1"));
}

TEST_F(AuthRulesTest, KickNeedsKickLevelAndAHigherLevelThanTheTarget) {
  EXPECT_THAT(Check(Member(kBob, kCarol, "leave")), IsOk());
  EXPECT_THAT(Check(Member(kCarol, kBob, "leave")), IsForbidden("kicking needs the kick level"));
  EXPECT_THAT(Check(Member(kBob, kAlice, "leave")), IsForbidden("not below"));
  object levels = CurrentLevels();
  levels["users"].as_object()[kCarol] = 50;  // same level as Bob
  SetLevels(levels);
  EXPECT_THAT(Check(Member(kBob, kCarol, "leave")), IsForbidden("not below"));
  EXPECT_THAT(Check(Member(kAlice, kCarol, "leave")), IsOk());
}

TEST_F(AuthRulesTest, KickerMustBeJoined) {
  SetMembership(kBob, "leave");
  EXPECT_THAT(Check(Member(kBob, kCarol, "leave")), IsForbidden("rule 4.5.2"));
}

TEST_F(AuthRulesTest, UnbanNeedsBanLevelAsWellAsKickLevel) {
  Put(Member(kAlice, kDave, "ban"));
  object levels = CurrentLevels();
  levels["ban"] = 75;  // Bob (50) may kick but not ban
  SetLevels(levels);
  EXPECT_THAT(Check(Member(kBob, kDave, "leave")), IsForbidden("unbanning needs the ban level 75"));
  EXPECT_THAT(Check(Member(kAlice, kDave, "leave")), IsOk());
}

// Rule 4.6: ban.

TEST_F(AuthRulesTest, BanNeedsBanLevelAndAHigherLevelThanTheTarget) {
  EXPECT_THAT(Check(Member(kBob, kCarol, "ban")), IsOk());
  EXPECT_THAT(Check(Member(kBob, kDave, "ban")), IsOk());  // not in the room: level 0
  EXPECT_THAT(Check(Member(kCarol, kDave, "ban")), IsForbidden("banning needs the ban level 50"));
  EXPECT_THAT(Check(Member(kBob, kAlice, "ban")), IsForbidden("not below"));
  object levels = CurrentLevels();
  levels["users"].as_object()[kCarol] = 50;  // same level as Bob
  SetLevels(levels);
  EXPECT_THAT(Check(Member(kBob, kCarol, "ban")), IsForbidden("not below"));
  SetMembership(kBob, "leave");
  EXPECT_THAT(Check(Member(kBob, kDave, "ban")), IsForbidden("rule 4.6.1"));
}

// Rule 4.7: knock.

TEST_F(AuthRulesTest, KnockNeedsAKnockJoinRule) {
  EXPECT_THAT(Check(Member(kDave, kDave, "knock")), IsForbidden("does not allow knocking"));
  SetJoinRule("knock");
  EXPECT_THAT(Check(Member(kDave, kDave, "knock")), IsOk());
  SetJoinRule("knock_restricted");
  EXPECT_THAT(Check(Member(kDave, kDave, "knock")), IsOk());
}

TEST_F(AuthRulesTest, KnockIsForOneselfAndOnlyFromOutside) {
  SetJoinRule("knock");
  EXPECT_THAT(Check(Member(kCarol, kDave, "knock")), IsForbidden("rule 4.7.2"));
  EXPECT_THAT(Check(Member(kCarol, kCarol, "knock")), IsForbidden("with membership join"));
  Put(Member(kAlice, kDave, "invite"));
  EXPECT_THAT(Check(Member(kDave, kDave, "knock")), IsForbidden("with membership invite"));
  Put(Member(kAlice, kErin, "ban"));
  EXPECT_THAT(Check(Member(kErin, kErin, "knock")), IsForbidden("with membership ban"));
  SetMembership(kDave, "leave");
  EXPECT_THAT(Check(Member(kDave, kDave, "knock")), IsOk());
}

// Rules 5-8.

TEST_F(AuthRulesTest, OnlyJoinedMembersSendEvents) {
  EXPECT_THAT(Check(Event("m.room.message", kCarol, {})), IsOk());
  EXPECT_THAT(Check(Event("m.room.message", kDave, {})), IsForbidden("rule 5"));
  Put(Member(kAlice, kDave, "invite"));
  EXPECT_THAT(Check(Event("m.room.message", kDave, {})), IsForbidden("membership invite"));
}

TEST_F(AuthRulesTest, EventsNeedTheirRequiredPowerLevel) {
  // state_default 50, events_default 0, m.room.name 50, m.room.power_levels 100.
  EXPECT_THAT(Check(StateEvent("m.room.topic", kCarol, "", {})), IsForbidden("needs level 50"));
  EXPECT_THAT(Check(StateEvent("m.room.topic", kBob, "", {})), IsOk());
  EXPECT_THAT(Check(StateEvent("m.room.power_levels", kBob, "", CurrentLevels())),
              IsForbidden("needs level 100"));
  object levels = CurrentLevels();
  levels["events"].as_object()["m.room.message"] = 10;
  SetLevels(levels);
  EXPECT_THAT(Check(Event("m.room.message", kCarol, {})), IsForbidden("needs level 10"));
  EXPECT_THAT(Check(Event("m.reaction", kCarol, {})), IsOk());  // events_default
}

TEST_F(AuthRulesTest, UserIdStateKeyMustBeTheSender) {
  object levels = CurrentLevels();
  levels["state_default"] = 0;
  SetLevels(levels);
  EXPECT_THAT(Check(StateEvent("org.example.status", kCarol, kCarol, {})), IsOk());
  EXPECT_THAT(Check(StateEvent("org.example.status", kCarol, kBob, {})), IsForbidden("rule 8"));
  EXPECT_THAT(Check(StateEvent("org.example.status", kCarol, "plain", {})), IsOk());
}

TEST_F(AuthRulesTest, ThirdPartyInviteEventNeedsInviteLevel) {
  EXPECT_THAT(Check(StateEvent("m.room.third_party_invite", kCarol, "token", {})), IsOk());
  object levels = CurrentLevels();
  levels["invite"] = 50;
  SetLevels(levels);
  EXPECT_THAT(Check(StateEvent("m.room.third_party_invite", kCarol, "token", {})),
              IsForbidden("rule 6.1"));
}

// Rule 9: m.room.power_levels.

}  // namespace
}  // namespace conclave::service::auth_rules_test
