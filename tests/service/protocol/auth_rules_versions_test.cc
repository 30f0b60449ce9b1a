// The authorization rules' room version switches (room_versions.h): for each switch, one event
// the rules judge differently on the two sides of the version that flips it, taken from the
// spec's rules for those versions. Each test fails if its switch is read wrongly or not at all.
#include <boost/json/array.hpp>
#include <string>

#include "auth_rules_fixture.h"
#include "conclave/service/protocol/room_versions.h"

namespace conclave::service::auth_rules_test {
namespace {

using RoomVersionsAuthTest = AuthRulesTest;

TEST(RoomVersionsTable, ListsOneToTwelveStableWithTheirAlgorithms) {
  ASSERT_EQ(AllRoomVersions().size(), 12u);
  for (size_t i = 0; i < AllRoomVersions().size(); ++i) {
    EXPECT_EQ(AllRoomVersions()[i].id, std::to_string(i + 1));
    EXPECT_TRUE(AllRoomVersions()[i].stable);
  }
  EXPECT_EQ(FindRoomVersion("1")->state_resolution, StateResolution::kV1);
  EXPECT_EQ(FindRoomVersion("2")->state_resolution, StateResolution::kV2);
  EXPECT_EQ(FindRoomVersion("11")->state_resolution, StateResolution::kV2);
  EXPECT_EQ(FindRoomVersion("12")->state_resolution, StateResolution::kV21);
  EXPECT_FALSE(FindRoomVersion("4")->enforce_key_validity);
  EXPECT_TRUE(FindRoomVersion("5")->enforce_key_validity);
  EXPECT_EQ(FindRoomVersion("13"), nullptr);
  EXPECT_EQ(FindRoomVersion(""), nullptr);
  EXPECT_EQ(RoomVersionOrDefault("x").id, kDefaultRoomVersion);
}

TEST_F(RoomVersionsAuthTest, CreateNeedsAKnownVersion) {
  object create = CreateEvent();
  create["content"].as_object()["room_version"] = "13";
  EXPECT_THAT(CheckEventAuth(create, {}), IsForbidden("rule 1.3"));
  create["content"].as_object().erase("room_version");  // absent: version 1
  EXPECT_THAT(CheckEventAuth(create, {}), IsOk());
}

// creator_in_content (v1-v10 need content.creator; v11 takes the sender).
TEST_F(RoomVersionsAuthTest, CreatorComesFromContentBeforeV11AndFromTheSenderAfter) {
  object create = CreateEvent();
  create["content"].as_object().erase("creator");
  create["content"].as_object()["room_version"] = "10";
  EXPECT_THAT(CheckEventAuth(create, {}), IsForbidden("rule 1.4"));
  create["content"].as_object()["room_version"] = "11";
  EXPECT_THAT(CheckEventAuth(create, {}), IsOk());

  // Rule 4.3.1: the creator's first join, with a create whose content names someone else.
  StateMap state;
  object v10 = CreateEvent();
  v10["content"].as_object()["creator"] = kBob;
  ASSERT_TRUE(PutState(state, v10));
  EXPECT_THAT(CheckEventAuth(Member(kAlice, kAlice, "join"), state), IsForbidden("4.3.7"));
  v10["content"].as_object()["room_version"] = "11";
  ASSERT_TRUE(PutState(state, v10));
  EXPECT_THAT(CheckEventAuth(Member(kAlice, kAlice, "join"), state), IsOk());
}

// room_id_from_create_event (v12): no room_id in the create, events' room_id is its id.
TEST_F(RoomVersionsAuthTest, V12CreateHasNoRoomIdAndTheRoomIdIsItsId) {
  object create = CreateEvent();
  create["content"].as_object()["room_version"] = "12";
  EXPECT_THAT(CheckEventAuth(create, {}), IsForbidden("rule 1.2"));
  create.erase("room_id");
  EXPECT_THAT(CheckEventAuth(create, {}), IsOk());
  create["content"].as_object()["room_version"] = "11";
  EXPECT_THAT(CheckEventAuth(create, {}), IsForbidden("rule 1.2"));

  UseVersion("12");
  EXPECT_THAT(Check(Event("m.room.message", kCarol, {})), IsOk());
  object elsewhere = Event("m.room.message", kCarol, {});
  elsewhere["room_id"] = "!elsewhere:example.org";
  EXPECT_THAT(Check(elsewhere), IsForbidden("rule 2"));
}

TEST(AuthStateKeysTest, V12DoesNotSelectTheCreateEvent) {
  object message = Event("m.room.message", kCarol, {});
  EXPECT_THAT(AuthStateKeys(message, *FindRoomVersion("12")),
              ElementsAre(StateKey("m.room.power_levels", ""), StateKey("m.room.member", kCarol)));
  EXPECT_EQ(AuthStateKeys(message, *FindRoomVersion("11")).front(), StateKey("m.room.create", ""));
}

// additional_creators (v12): must be user ids; they are creators.
TEST_F(RoomVersionsAuthTest, V12AdditionalCreatorsAreValidatedAndCreators) {
  object create = CreateEvent();
  create.erase("room_id");
  create["content"].as_object()["room_version"] = "12";
  create["content"].as_object()["additional_creators"] = boost::json::array{"not a user"};
  EXPECT_THAT(CheckEventAuth(create, {}), IsForbidden("additional_creators"));
  create["content"].as_object()["room_version"] = "11";  // ignored before v12
  create["room_id"] = kRoom;
  EXPECT_THAT(CheckEventAuth(create, {}), IsOk());

  UseVersion("12");
  object v12 = *FindState(state_, "m.room.create", "");
  v12["content"].as_object()["additional_creators"] = boost::json::array{kCarol};
  Put(v12);
  // Carol (level 0 in the power levels) may now ban Bob (50).
  EXPECT_THAT(Check(Member(kCarol, kBob, "ban")), IsOk());
}

// creators_have_infinite_power (v12): creators outrank everyone and cannot be listed.
TEST_F(RoomVersionsAuthTest, V12CreatorsHaveInfinitePowerAndAreNotListed) {
  object levels = CurrentLevels();
  levels["users"].as_object()[kCarol] = 100;
  levels["users"].as_object().erase(kAlice);
  SetLevels(levels);
  // v10: Alice has no entry (level 0) and cannot kick Carol (100).
  EXPECT_THAT(Check(Member(kAlice, kCarol, "leave")), IsForbidden("4.5.4"));
  UseVersion("12");
  EXPECT_THAT(Check(Member(kAlice, kCarol, "leave")), IsOk());
  object naming_creator = CurrentLevels();
  naming_creator["users"].as_object()[kAlice] = 100;
  EXPECT_THAT(Check(StateEvent("m.room.power_levels", kAlice, "", naming_creator)),
              IsForbidden("rule 10.4"));
}

// redaction_in_auth_rules (v1-v2 rule 11; from v3 the auth rules accept every redaction).
TEST_F(RoomVersionsAuthTest, V1RedactionNeedsTheRedactLevelOrTheSameDomain) {
  object redaction = Event("m.room.redaction", kCarol, {});
  redaction["event_id"] = "$r:example.org";
  redaction["redacts"] = "$x:elsewhere.org";
  UseVersion("2");
  EXPECT_THAT(Check(redaction), IsForbidden("rule 11"));
  redaction["redacts"] = "$x:example.org";
  EXPECT_THAT(Check(redaction), IsOk());
  redaction["redacts"] = "$x:elsewhere.org";
  UseVersion("3");
  EXPECT_THAT(Check(redaction), IsOk());
}

// special_case_aliases (v1-v5 rule 4; v6 treats m.room.aliases as any state event).
TEST_F(RoomVersionsAuthTest, AliasesAreTheirServersBusinessUpToV5) {
  // Dave is not in the room: only the special case lets him through.
  object aliases = StateEvent("m.room.aliases", kDave, "example.org", {});
  UseVersion("5");
  EXPECT_THAT(Check(aliases), IsOk());
  aliases["state_key"] = "other.org";
  EXPECT_THAT(Check(aliases), IsForbidden("rule 4.2"));
  aliases["state_key"] = "example.org";
  UseVersion("6");
  EXPECT_THAT(Check(aliases), IsForbidden("rule 5"));
}

// notifications_power_levels (v6+: rules 10.4/10.5 cover `notifications`).
TEST_F(RoomVersionsAuthTest, NotificationsLevelsAreGuardedFromV6) {
  object levels = CurrentLevels();
  levels["notifications"].as_object()["room"] = 100;  // above Bob's 50
  object event = StateEvent("m.room.power_levels", kBob, "", levels);
  object bob_may_send = CurrentLevels();
  bob_may_send["events"].as_object()["m.room.power_levels"] = 50;
  SetLevels(bob_may_send);
  levels["events"].as_object()["m.room.power_levels"] = 50;
  event["content"] = levels;
  UseVersion("5");
  EXPECT_THAT(Check(event), IsOk());
  UseVersion("6");
  EXPECT_THAT(Check(event), IsForbidden("rule 9.7"));
}

// strict_canonical_json (v1-v5 accept float levels, truncated) and integer_power_levels (v1-v9
// accept strings holding integers).
TEST_F(RoomVersionsAuthTest, PowerLevelValuesFloatsUpToV5StringsUpToV9) {
  object with_float = CurrentLevels();
  with_float["users"].as_object()[kCarol] = 10.7;
  object event = StateEvent("m.room.power_levels", kAlice, "", with_float);
  UseVersion("5");
  EXPECT_THAT(Check(event), IsOk());
  absl::StatusOr<PowerLevels> parsed =
      ParsePowerLevels(&with_float, *FindRoomVersion("5"), {std::string(kAlice)});
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->UserLevel(kCarol), 10);
  UseVersion("6");
  EXPECT_THAT(Check(event), IsForbidden("must be an integer"));

  object with_string = CurrentLevels();
  with_string["ban"] = " +060 ";
  event["content"] = with_string;
  UseVersion("9");
  EXPECT_THAT(Check(event), IsOk());
  parsed = ParsePowerLevels(&with_string, *FindRoomVersion("9"), {std::string(kAlice)});
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->ban, 60);
  with_string["ban"] = "6O";
  EXPECT_FALSE(ParsePowerLevels(&with_string, *FindRoomVersion("9"), {}).ok());
  UseVersion("10");
  EXPECT_THAT(Check(event), IsForbidden("must be an integer"));
}

// knock (v7+).
TEST_F(RoomVersionsAuthTest, KnockingFromV7) {
  SetJoinRule("knock");
  UseVersion("6");
  EXPECT_THAT(Check(Member(kDave, kDave, "knock")), IsForbidden("unknown membership"));
  UseVersion("7");
  EXPECT_THAT(Check(Member(kDave, kDave, "knock")), IsOk());
}

// restricted_join (v8+).
TEST_F(RoomVersionsAuthTest, RestrictedJoinsFromV8) {
  SetJoinRule("restricted");
  object via;
  via["join_authorised_via_users_server"] = kBob;
  object join = Member(kDave, kDave, "join", via);
  UseVersion("7");
  EXPECT_THAT(Check(join), IsForbidden("4.3.7"));
  UseVersion("8");
  EXPECT_THAT(Check(join), IsOk());
  EXPECT_THAT(Check(Member(kDave, kDave, "join")), IsForbidden("4.3.5.2"));
}

// knock_restricted (v10+).
TEST_F(RoomVersionsAuthTest, KnockRestrictedFromV10) {
  SetJoinRule("knock_restricted");
  UseVersion("9");
  EXPECT_THAT(Check(Member(kDave, kDave, "knock")), IsForbidden("rule 4.7.1"));
  UseVersion("10");
  EXPECT_THAT(Check(Member(kDave, kDave, "knock")), IsOk());
}

}  // namespace
}  // namespace conclave::service::auth_rules_test
