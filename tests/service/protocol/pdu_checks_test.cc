// The checks on received PDUs (Server-Server API, "Checks performed on receipt of a PDU"), with
// events built and signed by two servers' real ed25519 keys in every room version family.
#include "conclave/service/protocol/pdu_checks.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <map>
#include <string>
#include <vector>

#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/crypto.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/event_hash.h"
#include "conclave/service/protocol/signing.h"
#include "service/testing/status_matchers.h"

namespace conclave::service {
namespace {

using boost::json::array;
using boost::json::object;
using test_util::HasErrcode;
using test_util::IsOk;
using ::testing::HasSubstr;

constexpr char kAlice[] = "@alice:a.example";  // creator, on server a.example
constexpr char kBob[] = "@bob:b.example";      // on server b.example
constexpr char kCarol[] = "@carol:c.example";  // on server c.example
constexpr int64_t kTs = 1'700'000'000'000;

ServerSigningKey NewKey(std::string_view key_id) {
  auto pair = Ed25519FromSeed(RandomBytes(32));
  EXPECT_TRUE(pair.ok());
  return ServerSigningKey{std::string(key_id), *pair};
}

// A room built event by event, each PDU hashed and signed by its sender's server as a remote
// server would send it, and kept (with its event id, as stored) for the auth event lookup.
class PduChecksTest : public ::testing::TestWithParam<std::string_view> {
 protected:
  PduChecksTest() : version_(*FindRoomVersion(GetParam())) {
    keys_["a.example"] = NewKey("ed25519:a1");
    keys_["b.example"] = NewKey("ed25519:b1");
    keys_["c.example"] = NewKey("ed25519:c1");
  }

  // A key lookup as RemoteKeys::KeyAt answers: the key when valid at `ts` (valid_until_[server],
  // default forever), else M_UNAUTHORIZED.
  EventKeyLookup Keys() {
    return [this](std::string_view server, std::string_view key_id,
                  int64_t ts) -> absl::StatusOr<std::string> {
      auto it = keys_.find(std::string(server));
      if (it == keys_.end() || it->second.key_id != key_id) {
        return MatrixStatus(absl::StatusCode::kUnauthenticated, Errcode::kUnauthorized,
                            "unknown key");
      }
      auto until = valid_until_.find(std::string(server));
      if (until != valid_until_.end() && ts > until->second) {
        return MatrixStatus(absl::StatusCode::kUnauthenticated, Errcode::kUnauthorized,
                            "key expired");
      }
      return UnpaddedBase64(it->second.pair.public_key);
    };
  }

  AuthEventLookup Events() {
    return [this](std::string_view id) -> std::optional<object> {
      auto it = stored_.find(std::string(id));
      if (it == stored_.end()) return std::nullopt;
      return it->second;
    };
  }

  static std::string_view ServerOf(std::string_view user) {
    return user.substr(user.find(':') + 1);
  }

  // Returns the PDU as sent: `content` by `sender`, auth_events `auth` (ids), prev_events the
  // last event, hashed, with an event id (v1, v2) and signed by the sender's server.
  object Build(std::string_view sender, std::string_view type, std::optional<std::string> state_key,
               object content, const std::vector<std::string>& auth) {
    object pdu;
    pdu["type"] = type;
    pdu["sender"] = sender;
    pdu["content"] = std::move(content);
    if (state_key.has_value()) pdu["state_key"] = *state_key;
    pdu["origin_server_ts"] = kTs + ++depth_;
    pdu["depth"] = depth_;
    if (version_.top_level_origin) pdu["origin"] = ServerOf(sender);
    array prev, auth_refs;
    auto ref = [this](const std::string& id) -> boost::json::value {
      if (!version_.event_refs_with_hashes) return boost::json::value(id);
      auto hash = ReferenceHash(stored_.at(id), version_);
      return array{boost::json::value(id), object{{"sha256", UnpaddedBase64(*hash)}}};
    };
    if (!last_.empty()) prev.push_back(ref(last_));
    for (const std::string& id : auth) auth_refs.push_back(ref(id));
    pdu["prev_events"] = std::move(prev);
    pdu["auth_events"] = std::move(auth_refs);
    if (!(version_.room_id_from_create_event && type == "m.room.create")) pdu["room_id"] = room_id_;
    if (version_.event_id_format == EventIdFormat::kOpaque) {
      pdu["event_id"] = NewOpaqueEventId(ServerOf(sender));
    }
    EXPECT_THAT(AddContentHash(pdu), IsOk());
    Sign(pdu, ServerOf(sender));
    return pdu;
  }

  void Sign(object& pdu, std::string_view server) {
    EXPECT_THAT(SignEvent(pdu, version_, server, keys_.at(std::string(server))), IsOk());
  }

  // Stores `pdu` as accepted (the stored form has its event id and room id); returns its id.
  std::string Keep(const object& pdu) {
    object stored = pdu;
    auto id = EventId(pdu, version_);
    EXPECT_TRUE(id.ok()) << id.status();
    if (version_.room_id_from_create_event && pdu.at("type") == "m.room.create") {
      room_id_ = core::StrCat("!", id->substr(1));
      stored["room_id"] = room_id_;
    }
    stored["event_id"] = *id;
    stored_[*id] = stored;
    last_ = *id;
    PutState(state_, stored);
    return *id;
  }

  std::vector<std::string> Auth(std::initializer_list<std::string> ids) {
    std::vector<std::string> out;
    for (const std::string& id : ids) {
      if (id == create_ && version_.room_id_from_create_event) continue;  // v12: not selected
      out.push_back(id);
    }
    return out;
  }

  // create, alice's join, power levels (alice 100), join rules public, bob's join.
  void SetUpRoom(std::string_view join_rule = "public") {
    if (!version_.room_id_from_create_event) room_id_ = "!room:a.example";
    object create_content{{"room_version", version_.id}};
    if (version_.creator_in_content) create_content["creator"] = kAlice;
    create_ = Keep(Build(kAlice, "m.room.create", "", create_content, {}));
    alice_join_ =
        Keep(Build(kAlice, "m.room.member", kAlice, {{"membership", "join"}}, Auth({create_})));
    // v12: the creator has infinite power and may not be listed.
    object users;
    if (!version_.creators_have_infinite_power) users[kAlice] = 100;
    power_ = Keep(Build(kAlice, "m.room.power_levels", "", {{"users", users}, {"invite", 0}},
                        Auth({create_, alice_join_})));
    join_rules_ = Keep(Build(kAlice, "m.room.join_rules", "", {{"join_rule", join_rule}},
                             Auth({create_, alice_join_, power_})));
    if (join_rule == "public") {
      bob_join_ = Keep(Build(kBob, "m.room.member", kBob, {{"membership", "join"}},
                             Auth({create_, power_, join_rules_})));
    }
  }

  // The room's state with bob banned since (not an event of the room: state to check against).
  StateMap StateWithBobBanned() const {
    StateMap state = state_;
    PutState(state, object{{"type", "m.room.member"},
                           {"state_key", kBob},
                           {"sender", kAlice},
                           {"room_id", room_id_},
                           {"content", object{{"membership", "ban"}}}});
    return state;
  }

  object BobMessage(std::string_view body = "hello") {
    return Build(kBob, "m.room.message", std::nullopt, {{"msgtype", "m.text"}, {"body", body}},
                 Auth({create_, power_, bob_join_}));
  }

  PduCheckResult Check(const object& pdu, const StateMap* before = nullptr,
                       const StateMap* current = nullptr) {
    PduCheckInputs inputs;
    inputs.version = &version_;
    inputs.keys = Keys();
    inputs.auth_events = Events();
    inputs.state_before = before;
    inputs.current_state = current;
    return CheckReceivedPdu(pdu, inputs);
  }

  // Expects CheckReceivedPdu to reject `pdu` (no state given) for a reason containing `why`.
  void ExpectRejected(const object& pdu, const std::string& why) {
    PduCheckResult result = Check(pdu);
    EXPECT_EQ(result.verdict, PduVerdict::kRejected);
    EXPECT_THAT(result.reason, HasSubstr(why));
  }

  const RoomVersion& version_;
  std::map<std::string, ServerSigningKey> keys_;
  std::map<std::string, int64_t> valid_until_;
  std::map<std::string, object> stored_;
  StateMap state_;
  std::string room_id_, last_, create_, alice_join_, power_, join_rules_, bob_join_;
  int64_t depth_ = 0;
};

// One version of each family: v1 (opaque ids, hashed refs, no key validity), v3 (base64 ids),
// v4 (URL-safe ids), v5 (key validity), v6 (strict canonical JSON), v8 (restricted joins), v10,
// v11 (no origin, creator from the sender), v12 (room id from the create event).
INSTANTIATE_TEST_SUITE_P(RoomVersions, PduChecksTest,
                         ::testing::Values("1", "2", "3", "4", "5", "6", "8", "10", "11", "12"),
                         [](const auto& info) { return core::StrCat("v", info.param); });

TEST_P(PduChecksTest, AcceptsTheRoomsEventsAndComputesTheirIds) {
  SetUpRoom();
  for (const auto& [id, stored] : std::map<std::string, object>(stored_)) {
    object sent = stored;
    if (version_.event_id_format != EventIdFormat::kOpaque) sent.erase("event_id");
    if (version_.room_id_from_create_event && sent["type"] == "m.room.create") {
      sent.erase("room_id");
    }
    PduCheckResult result = Check(sent);
    EXPECT_EQ(result.verdict, PduVerdict::kAccepted) << id << ": " << result.reason;
    EXPECT_EQ(result.event_id, id);
    EXPECT_FALSE(result.redacted);
  }
  object message = BobMessage();
  PduCheckResult result = Check(message, &state_, &state_);
  EXPECT_EQ(result.verdict, PduVerdict::kAccepted) << result.reason;
  EXPECT_EQ(PduVerdictName(result.verdict), "accepted");
  EXPECT_EQ(result.pdu.at("content").at("body"), "hello");
}

TEST_P(PduChecksTest, BadSignatureIsRejected) {
  SetUpRoom();
  object message = BobMessage();
  // Another valid-looking signature: alice's server's over the same bytes, filed under bob's key.
  object other = message;
  Sign(other, "a.example");
  message["signatures"].as_object()["b.example"].as_object()["ed25519:b1"] =
      other["signatures"].as_object()["a.example"].as_object()["ed25519:a1"];
  ExpectRejected(message, "signatures: Invalid signature by b.example");
}

TEST_P(PduChecksTest, EventSignedByAnotherServerThanTheSendersIsRejected) {
  SetUpRoom();
  object message = BobMessage();
  message["signatures"] = object();
  Sign(message, "a.example");  // alice's server claims bob's message
  ExpectRejected(message, "not signed by b.example");
}

TEST_P(PduChecksTest, SignatureByAnUnknownKeyIsSkippedAndNoneLeftIsRejected) {
  SetUpRoom();
  object message = BobMessage();
  const ServerSigningKey stray = NewKey("ed25519:stray");
  object stray_signed = message;
  ASSERT_THAT(SignEvent(stray_signed, version_, "b.example", stray), IsOk());
  // Bob's server's real signature plus one by a key nobody knows: the unknown one is skipped.
  EXPECT_EQ(Check(stray_signed).verdict, PduVerdict::kAccepted);
  // Only the unknown one: nothing could be checked.
  stray_signed["signatures"].as_object()["b.example"].as_object().erase("ed25519:b1");
  ExpectRejected(stray_signed, "no valid key of b.example");
}

TEST_P(PduChecksTest, TamperedContentIsRedactedAndKept) {
  SetUpRoom();
  object message = BobMessage("original");
  message["content"].as_object()["body"] = "forged";  // not covered by the signature
  PduCheckResult result = Check(message, &state_, &state_);
  EXPECT_EQ(result.verdict, PduVerdict::kAccepted) << result.reason;
  EXPECT_TRUE(result.redacted);
  EXPECT_EQ(result.pdu.at("content"), object());
  EXPECT_FALSE(result.pdu.contains("unsigned"));
  // The id is the reference hash of the redacted form: the same as the untampered event's.
  object original = message;
  original["content"].as_object()["body"] = "original";
  EXPECT_EQ(result.event_id, *EventId(original, version_));
}

TEST_P(PduChecksTest, TamperedContentThatRedactionKeepsIsRejected) {
  SetUpRoom();
  object join = Build(kCarol, "m.room.member", kCarol, {{"membership", "join"}},
                      Auth({create_, power_, join_rules_}));
  join["content"].as_object()["membership"] = "leave";  // kept by redaction: signed
  ExpectRejected(join, "signatures: Invalid signature by c.example");
}

TEST_P(PduChecksTest, EventFailingTheAuthRulesOverItsAuthEventsIsRejected) {
  SetUpRoom();
  // Carol never joined, but names alice's join as if it were hers: rule 2.2 (not selected).
  object message = Build(kCarol, "m.room.message", std::nullopt, {{"body", "hi"}},
                         Auth({create_, power_, alice_join_}));
  ExpectRejected(message, "auth events: rule 2.2");
  // Without any member event: the sender is not in the room.
  message =
      Build(kCarol, "m.room.message", std::nullopt, {{"body", "hi"}}, Auth({create_, power_}));
  ExpectRejected(message, "auth events: rule 5: @carol:c.example is not joined to the room");
}

TEST_P(PduChecksTest, AuthEventsDuplicatedUnknownOrMissingTheCreateAreRejected) {
  SetUpRoom();
  object twice = Build(kBob, "m.room.message", std::nullopt, {{"body", "x"}},
                       Auth({create_, power_, bob_join_, bob_join_}));
  EXPECT_THAT(Check(twice).reason, HasSubstr("rule 2.1"));
  std::string missing =
      version_.event_id_format == EventIdFormat::kOpaque
          ? "$missing:b.example"
          : (version_.event_id_format == EventIdFormat::kBase64 ? "$" + std::string(43, 'A')
                                                                : "$" + std::string(43, '_'));
  stored_[missing] = stored_.at(bob_join_);  // only so that Build can hash the reference
  object unknown = Build(kBob, "m.room.message", std::nullopt, {{"body", "x"}},
                         Auth({create_, power_, missing}));
  stored_.erase(missing);
  ExpectRejected(unknown, "rule 2.3: auth event " + missing);
  if (!version_.room_id_from_create_event) {
    object no_create =
        Build(kBob, "m.room.message", std::nullopt, {{"body", "x"}}, Auth({power_, bob_join_}));
    EXPECT_THAT(Check(no_create).reason, HasSubstr("rule 2.4"));
  }
}

TEST_P(PduChecksTest, EventFailingTheStateBeforeItIsRejected) {
  SetUpRoom();
  object message = BobMessage();
  StateMap before = StateWithBobBanned();
  PduCheckResult result = Check(message, &before, &state_);
  EXPECT_EQ(result.verdict, PduVerdict::kRejected);
  EXPECT_THAT(result.reason, HasSubstr("state before the event: "));
}

TEST_P(PduChecksTest, EventFailingOnlyTheCurrentStateIsSoftFailed) {
  SetUpRoom();
  object message = BobMessage();
  StateMap current = StateWithBobBanned();
  PduCheckResult result = Check(message, &state_, &current);
  EXPECT_EQ(result.verdict, PduVerdict::kSoftFailed);
  EXPECT_EQ(PduVerdictName(result.verdict), "soft_failed");
  EXPECT_THAT(result.reason, HasSubstr("current state: "));
  EXPECT_THAT(result.reason, HasSubstr("is not joined to the room"));
}

TEST_P(PduChecksTest, KeyValidityIsEnforcedFromV5) {
  SetUpRoom();
  object message = BobMessage();
  valid_until_["b.example"] = kTs - 1;  // expired before the event was sent
  PduCheckResult result = Check(message);
  if (version_.enforce_key_validity) {
    EXPECT_EQ(result.verdict, PduVerdict::kRejected);
    EXPECT_THAT(result.reason, HasSubstr("key expired"));
  } else {
    EXPECT_EQ(result.verdict, PduVerdict::kAccepted) << result.reason;
  }
}

TEST_P(PduChecksTest, RestrictedJoinNeedsTheAuthorisingServersSignature) {
  if (!version_.restricted_join) GTEST_SKIP() << "no restricted joins in v" << version_.id;
  SetUpRoom("restricted");
  // Bob joins, authorised by alice (a.example, level 100).
  object join = Build(kBob, "m.room.member", kBob,
                      {{"membership", "join"}, {"join_authorised_via_users_server", kAlice}},
                      Auth({create_, power_, join_rules_, alice_join_}));
  EXPECT_EQ(RequiredSigningServers(join, version_),
            (std::vector<std::string>{"b.example", "a.example"}));
  ExpectRejected(join, "not signed by a.example");
  Sign(join, "a.example");
  PduCheckResult result = Check(join, &state_, &state_);
  EXPECT_EQ(result.verdict, PduVerdict::kAccepted) << result.reason;
}

TEST_P(PduChecksTest, MalformedEventsAreRejected) {
  SetUpRoom();
  object big =
      Build(kBob, "m.room.message", std::nullopt, {{"body", std::string(kMaxPduBytes, 'x')}},
            Auth({create_, power_, bob_join_}));
  ExpectRejected(big, "over 65536");
  EXPECT_THAT(CheckPduFormat(big, version_), HasErrcode(Errcode::kTooLarge));

  object long_type =
      Build(kBob, std::string(256, 't'), std::nullopt, {}, Auth({create_, power_, bob_join_}));
  EXPECT_THAT(CheckPduFormat(long_type, version_), HasErrcode(Errcode::kBadJson));

  for (std::string_view key : {"sender", "depth", "hashes", "signatures", "content",
                               "origin_server_ts", "prev_events", "auth_events", "room_id"}) {
    object missing = BobMessage();
    missing.erase(key);
    EXPECT_THAT(CheckPduFormat(missing, version_), HasErrcode(Errcode::kBadJson)) << key;
  }
  object message = BobMessage();
  message["depth"] = -1;
  EXPECT_THAT(CheckPduFormat(message, version_), HasErrcode(Errcode::kBadJson));
  message = BobMessage();
  message["content"].as_object()["f"] = 1.5;
  if (version_.strict_canonical_json) {
    EXPECT_THAT(CheckPduFormat(message, version_), HasErrcode(Errcode::kBadJson));
  }
}

TEST_P(PduChecksTest, EventIdsOfEachFormat) {
  SetUpRoom();
  object message = BobMessage();
  if (version_.event_id_format == EventIdFormat::kOpaque) {
    object no_id = message;
    no_id.erase("event_id");
    EXPECT_THAT(Check(no_id).reason, HasSubstr("event_id must be a string"));
    // An event id on another server than the sender's: that server must sign too.
    object elsewhere = message;
    elsewhere["event_id"] = "$abc:c.example";
    EXPECT_EQ(RequiredSigningServers(elsewhere, version_),
              (std::vector<std::string>{"b.example", "c.example"}));
    elsewhere["signatures"] = object();
    Sign(elsewhere, "b.example");
    EXPECT_THAT(Check(elsewhere).reason, HasSubstr("not signed by c.example"));
    Sign(elsewhere, "c.example");
    EXPECT_EQ(Check(elsewhere).verdict, PduVerdict::kAccepted) << Check(elsewhere).reason;
    return;
  }
  const std::string id = *EventId(message, version_);
  EXPECT_EQ(id.size(), 44u);
  // A carried event_id must be the reference hash; the expected id too.
  object carried = message;
  carried["event_id"] = id;
  PduCheckResult result = Check(carried);
  EXPECT_EQ(result.verdict, PduVerdict::kAccepted) << result.reason;
  EXPECT_FALSE(result.pdu.contains("event_id"));
  carried["event_id"] = "$" + std::string(43, 'A');
  EXPECT_THAT(Check(carried).reason, HasSubstr("reference hash gives " + id));
  PduCheckInputs inputs;
  inputs.version = &version_;
  inputs.expected_event_id = "$other";
  inputs.keys = Keys();
  inputs.auth_events = Events();
  EXPECT_THAT(CheckReceivedPdu(message, inputs).reason, HasSubstr("not $other"));
  inputs.expected_event_id = id;
  EXPECT_EQ(CheckReceivedPdu(message, inputs).verdict, PduVerdict::kAccepted);
  inputs.room_id = "!another:a.example";
  EXPECT_THAT(CheckReceivedPdu(message, inputs).reason, HasSubstr("not !another:a.example"));
}

TEST_P(PduChecksTest, RoomIdForms) {
  SetUpRoom();
  const object& stored_create = stored_.at(create_);
  object create = stored_create;
  if (version_.event_id_format != EventIdFormat::kOpaque) create.erase("event_id");
  if (version_.room_id_from_create_event) {
    // v12: the create event is sent without a room_id; one it carries is refused.
    EXPECT_THAT(CheckPduFormat(create, version_), HasErrcode(Errcode::kBadJson));
    create.erase("room_id");
    EXPECT_THAT(CheckPduFormat(create, version_), IsOk());
    object message = BobMessage();
    message["room_id"] = "!room:a.example";
    EXPECT_THAT(CheckPduFormat(message, version_), HasErrcode(Errcode::kBadJson));
  } else {
    EXPECT_THAT(CheckPduFormat(create, version_), IsOk());
    create.erase("room_id");
    EXPECT_THAT(CheckPduFormat(create, version_), HasErrcode(Errcode::kBadJson));
  }
}

// The appendices' "Signing events" test vector: the signature and hash check out, and a
// changed signature does not.
TEST(PduChecks, AppendixSignedEventVerifies) {
  auto seed = DecodeUnpaddedBase64("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1");
  ASSERT_TRUE(seed.ok());
  auto pair = Ed25519FromSeed(*seed);
  ASSERT_TRUE(pair.ok());
  object event = boost::json::parse(R"({
    "auth_events": [], "content": {}, "depth": 3,
    "hashes": {"sha256": "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"},
    "origin": "domain", "origin_server_ts": 1000000, "prev_events": [], "room_id": "!x:domain",
    "sender": "@a:domain",
    "signatures": {"domain": {"ed25519:1":
      "KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg"}},
    "type": "X", "unsigned": {"age_ts": 1000000}})")
                     .as_object();
  const std::string public_key = UnpaddedBase64(pair->public_key);
  EventKeyLookup keys = [&](std::string_view server, std::string_view key_id,
                            int64_t) -> absl::StatusOr<std::string> {
    if (server == "domain" && key_id == "ed25519:1") return public_key;
    return NotFound("no key");
  };
  const RoomVersion& v1 = *FindRoomVersion("1");
  EXPECT_THAT(CheckPduSignatures(event, v1, keys), IsOk());
  EXPECT_TRUE(PduContentHashMatches(event));
  object changed = event;
  changed["depth"] = 4;  // kept by redaction
  EXPECT_THAT(CheckPduSignatures(changed, v1, keys), HasErrcode(Errcode::kInvalidSignature));
  changed = event;
  changed["content"].as_object()["x"] = 1;  // not kept: signature holds, hash does not
  EXPECT_THAT(CheckPduSignatures(changed, v1, keys), IsOk());
  EXPECT_FALSE(PduContentHashMatches(changed));
}

}  // namespace
}  // namespace conclave::service
