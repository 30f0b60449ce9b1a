#include "conclave/service/protocol/event_hash.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <string>

#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/crypto.h"

namespace conclave::service {
namespace {

using ::testing::MatchesRegex;

boost::json::object Object(std::string_view json) { return boost::json::parse(json).as_object(); }

// Appendices, "Cryptographic Test Vectors" → "Event Signing": the minimally-sized event and its
// `hashes.sha256` in the signed output.
constexpr std::string_view kMinimalEvent = R"({
  "room_id": "!x:domain", "sender": "@a:domain", "origin": "domain",
  "origin_server_ts": 1000000, "signatures": {}, "hashes": {}, "type": "X", "content": {},
  "prev_events": [], "auth_events": [], "depth": 3, "unsigned": {"age_ts": 1000000}
})";

// Same section: the event containing redactable content.
constexpr std::string_view kRedactableEvent = R"({
  "content": {"body": "Here is the message content"}, "event_id": "$0:domain",
  "origin": "domain", "origin_server_ts": 1000000, "type": "m.room.message",
  "room_id": "!r:domain", "sender": "@u:domain", "signatures": {},
  "unsigned": {"age_ts": 1000000}
})";

// A real m.room.create event of a version 5 room, as served over federation by jki.re (Synapse)
// in 2019, with the event id Synapse gave it. Taken from gomatrixserverlib's
// eventversion_test.go (TestEventIDForRoomVersionV4), an independent implementation.
constexpr std::string_view kJkiCreateEvent = R"({
  "auth_events": [], "prev_events": [], "type": "m.room.create",
  "room_id": "!uXDCzlYgCTHtiWCkEx:jki.re", "sender": "@erikj:jki.re",
  "content": {"room_version": "5", "predecessor": {"room_id": "!gdRMqOrTFdOCYHNwOo:half-shot.uk",
    "event_id": "$LP7ROBc4b+cMc1UE9haIz8q5AK2AIW4eJ90FfKLvyZI"}, "creator": "@erikj:jki.re"},
  "depth": 1, "prev_state": [], "state_key": "", "origin": "jki.re",
  "origin_server_ts": 1560284621137,
  "hashes": {"sha256": "IX6zuNiJpJPNf70BLleL3HSCpjKeq9Uhu7uUpyDjBmc"},
  "signatures": {"jki.re": {"ed25519:auto":
    "O4IyFfF2PPtGp5uaDm8t57dZbdh8vc8Q64LgCwvzYRVItAMI0uisfiAFaxkVT7MRpzh6N2QNN5NMRXZKmgPYDA"}},
  "unsigned": {"age": 1321650}
})";

std::string IdOf(const boost::json::object& event, std::string_view room_version = "10") {
  absl::StatusOr<std::string> id = EventIdV4(event, room_version);
  return id.ok() ? *id : "error: " + std::string(id.status().message());
}

TEST(ContentHash, SpecTestVectors) {
  EXPECT_EQ(ContentHash(Object(kMinimalEvent)).value_or("error"),
            "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos");
  EXPECT_EQ(ContentHash(Object(kRedactableEvent)).value_or("error"),
            "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g");
}

TEST(ContentHash, MatchesARealEvent) {
  EXPECT_EQ(ContentHash(Object(kJkiCreateEvent)).value_or("error"),
            "IX6zuNiJpJPNf70BLleL3HSCpjKeq9Uhu7uUpyDjBmc");
}

TEST(ContentHash, CoversContentButNotUnsignedSignaturesOrHashes) {
  boost::json::object event = Object(kRedactableEvent);
  std::string hash = ContentHash(event).value_or("error");
  event["unsigned"] = Object(R"({"age": 5})");
  event["signatures"] = Object(R"({"domain": {"ed25519:1": "sig"}})");
  event["hashes"] = Object(R"({"sha256": "other"})");
  EXPECT_EQ(ContentHash(event).value_or("error"), hash);
  event["content"].as_object()["body"] = "Changed";
  EXPECT_NE(ContentHash(event).value_or("error"), hash);
}

TEST(ContentHash, RefusesEventsWithoutCanonicalJson) {
  boost::json::object event = Object(kRedactableEvent);
  event["content"].as_object()["amount"] = 1.5;
  EXPECT_EQ(ContentHash(event).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(AddContentHash, SetsHashesSha256) {
  boost::json::object event = Object(kMinimalEvent);
  ASSERT_TRUE(AddContentHash(event).ok());
  EXPECT_EQ(event.at("hashes"),
            Object(R"({"sha256": "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"})"));
  // Adding it again changes nothing: `hashes` is not covered by the hash.
  ASSERT_TRUE(AddContentHash(event).ok());
  EXPECT_EQ(event.at("hashes").at("sha256"), "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos");
}

TEST(AddContentHash, KeepsOtherHashesAndReplacesMalformedOnes) {
  boost::json::object event = Object(kRedactableEvent);
  event["hashes"] = Object(R"({"sha512": "x"})");
  ASSERT_TRUE(AddContentHash(event).ok());
  EXPECT_EQ(event.at("hashes"),
            Object(R"({"sha512": "x", "sha256": "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g"})"));
  event["hashes"] = "not an object";
  ASSERT_TRUE(AddContentHash(event).ok());
  EXPECT_EQ(event.at("hashes"),
            Object(R"({"sha256": "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g"})"));
}

TEST(AddContentHash, LeavesTheEventAloneOnError) {
  boost::json::object event = Object(kRedactableEvent);
  event["content"].as_object()["amount"] = 1.5;
  boost::json::object before = event;
  EXPECT_EQ(AddContentHash(event).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(event, before);
}

TEST(EventIdV4, MatchesARealEvent) {
  boost::json::object event = Object(kJkiCreateEvent);
  EXPECT_EQ(IdOf(event, "5"), "$RrGxF28UrHLmoASHndYb9Jb_1SFww2ptmtur9INS438");
  EXPECT_EQ(IdOf(event, "4"), "$RrGxF28UrHLmoASHndYb9Jb_1SFww2ptmtur9INS438");
  // Versions 6–10 redact m.room.create the same way.
  EXPECT_EQ(IdOf(event, "10"), "$RrGxF28UrHLmoASHndYb9Jb_1SFww2ptmtur9INS438");
  // Version 11 keeps all of the create content and drops `origin` and `prev_state`.
  EXPECT_NE(IdOf(event, "11"), "$RrGxF28UrHLmoASHndYb9Jb_1SFww2ptmtur9INS438");
}

TEST(ReferenceHash, IsTheRawDigestBehindTheEventId) {
  boost::json::object event = Object(kJkiCreateEvent);
  absl::StatusOr<std::string> hash = ReferenceHash(event, "5");
  ASSERT_TRUE(hash.ok()) << hash.status();
  EXPECT_EQ(hash->size(), 32u);
  // The version 3 id of this event (standard alphabet), also from gomatrixserverlib's tests.
  EXPECT_EQ(core::StrCat("$", UnpaddedBase64(*hash)),
            "$RrGxF28UrHLmoASHndYb9Jb/1SFww2ptmtur9INS438");
}

TEST(EventIdV4, HasTheUrlSafeShape) {
  EXPECT_THAT(IdOf(Object(kMinimalEvent)), MatchesRegex("\\$[A-Za-z0-9_-]{43}"));
}

TEST(EventIdV4, IgnoresKeysRedactionStrips) {
  boost::json::object event = Object(kRedactableEvent);
  event.erase("event_id");
  std::string id = IdOf(event);
  ASSERT_THAT(id, MatchesRegex("\\$.{43}"));
  boost::json::object changed = event;
  changed["unsigned"] = Object(R"({"age": 99, "transaction_id": "t"})");
  changed["signatures"] = Object(R"({"domain": {"ed25519:1": "sig"}})");
  changed["age_ts"] = 5;
  changed["redacts"] = "$x";
  changed["custom"] = Object(R"({"nested": [1, 2]})");
  // m.room.message content is not protected, so without a new content hash the id stays.
  changed["content"].as_object()["body"] = "Edited";
  EXPECT_EQ(IdOf(changed), id);
  // A float where redaction removes it does not matter either.
  changed["content"].as_object()["amount"] = 1.5;
  EXPECT_EQ(IdOf(changed), id);
}

TEST(EventIdV4, CoversKeptKeysAndTheContentHash) {
  boost::json::object event = Object(kMinimalEvent);
  std::string id = IdOf(event);
  for (std::string_view key : {"room_id", "sender", "type", "origin", "depth"}) {
    boost::json::object changed = event;
    changed[key] = changed[key].is_string() ? boost::json::value("other") : boost::json::value(4);
    EXPECT_NE(IdOf(changed), id) << key;
  }
  boost::json::object member = Object(kMinimalEvent);
  member["type"] = "m.room.member";
  member["state_key"] = "@a:domain";
  member["content"] = Object(R"({"membership": "join"})");
  std::string member_id = IdOf(member);
  member["content"].as_object()["membership"] = "leave";
  EXPECT_NE(IdOf(member), member_id);  // A protected content key.

  // Unprotected content is covered through `hashes.sha256`.
  boost::json::object message = Object(kRedactableEvent);
  ASSERT_TRUE(AddContentHash(message).ok());
  std::string message_id = IdOf(message);
  message["content"].as_object()["body"] = "Edited";
  ASSERT_TRUE(AddContentHash(message).ok());
  EXPECT_NE(IdOf(message), message_id);
}

TEST(EventIdV4, RefusesKeptKeysWithoutCanonicalJson) {
  boost::json::object event = Object(kMinimalEvent);
  event["depth"] = 3.5;
  EXPECT_EQ(EventIdV4(event).status().code(), absl::StatusCode::kInvalidArgument);
  event["depth"] = int64_t{1} << 53;
  EXPECT_EQ(ReferenceHash(event).status().code(), absl::StatusCode::kInvalidArgument);
}

// event_id_format: v1-v2 carry their id, v3 is standard base64, v4+ URL-safe.
TEST(EventId, FollowsEachVersionsFormat) {
  boost::json::object event = Object(kJkiCreateEvent);
  absl::StatusOr<std::string> v3 = EventId(event, *FindRoomVersion("3"));
  ASSERT_TRUE(v3.ok()) << v3.status();
  EXPECT_EQ(*v3, "$RrGxF28UrHLmoASHndYb9Jb/1SFww2ptmtur9INS438");
  absl::StatusOr<std::string> v4 = EventId(event, *FindRoomVersion("4"));
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_EQ(*v4, "$RrGxF28UrHLmoASHndYb9Jb_1SFww2ptmtur9INS438");
  // v1: the id is the sender's choice, carried in the event.
  EXPECT_EQ(EventId(event, *FindRoomVersion("1")).status().code(),
            absl::StatusCode::kInvalidArgument);
  event["event_id"] = "$abc:jki.re";
  absl::StatusOr<std::string> v1 = EventId(event, *FindRoomVersion("1"));
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(*v1, "$abc:jki.re");
  EXPECT_THAT(NewOpaqueEventId("example.org"), MatchesRegex("\\$[A-Za-z0-9]{18}:example\\.org"));
}

// room_id_from_create_event: the room id is the create event's id with "!", and a room_id the
// stored create event carries is not part of the hash.
TEST(RoomIdFromCreateEvent, IsTheCreateEventsIdAndIgnoresItsRoomId) {
  const RoomVersion& v12 = *FindRoomVersion("12");
  boost::json::object create = Object(kJkiCreateEvent);
  create.erase("room_id");
  absl::StatusOr<std::string> room_id = RoomIdFromCreateEvent(create, v12);
  absl::StatusOr<std::string> event_id = EventId(create, v12);
  ASSERT_TRUE(room_id.ok() && event_id.ok());
  EXPECT_THAT(*room_id, MatchesRegex("![A-Za-z0-9_-]{43}"));
  EXPECT_EQ(room_id->substr(1), event_id->substr(1));
  create["room_id"] = *room_id;
  EXPECT_EQ(EventId(create, v12).value_or(""), *event_id);
  // Before v12 room_id is an ordinary covered key.
  const RoomVersion& v11 = *FindRoomVersion("11");
  boost::json::object other = create;
  other["room_id"] = "!other:jki.re";
  EXPECT_NE(EventId(other, v11).value_or(""), EventId(create, v11).value_or(""));
}

}  // namespace
}  // namespace conclave::service
