// Every event the server builds is signed by its key over the redacted event (Server-Server API,
// "Signing events"), in every room version; the signature verifies as a remote server would
// check it, over the event as sent over federation.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <string>

#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/crypto.h"
#include "conclave/service/protocol/event_hash.h"
#include "conclave/service/protocol/redaction.h"
#include "conclave/service/protocol/room_versions.h"
#include "conclave/service/protocol/signing.h"
#include "conclave/service/rooms/rooms.h"
#include "service/testing/homeserver_fixture.h"
#include "service/testing/status_matchers.h"

namespace conclave::service {
namespace {

using test_util::HasErrcode;

// `stored` as it travels over federation: no `unsigned`; from v3 on no `event_id` (it is the
// reference hash); a v12 m.room.create without `room_id`.
boost::json::object AsSent(boost::json::object stored, const RoomVersion& version) {
  stored.erase("unsigned");
  if (version.event_id_format != EventIdFormat::kOpaque) stored.erase("event_id");
  if (version.room_id_from_create_event && stored["type"] == "m.room.create") {
    stored.erase("room_id");
  }
  return stored;
}

class EventSigningTest : public test_util::HomeserverTest {
 protected:
  void SetUp() override {
    HomeserverTest::SetUp();
    alice_ = Register("alice");
  }
  Session alice_;
};

TEST_F(EventSigningTest, EveryCreatedEventVerifiesOverItsRedactedForm) {
  const ServerSigningKey& key = hs_->signing_key();
  const std::string public_key = UnpaddedBase64(key.pair.public_key);
  for (std::string_view id : {"1", "4", "10", "11", "12"}) {
    SCOPED_TRACE(core::StrCat("room version ", id));
    const RoomVersion& version = *FindRoomVersion(id);
    const std::string room = CreateRoom(alice_, {.room_version = std::string(id)});
    ASSERT_FALSE(room.empty());
    const std::string message = SendText(alice_, room, "hello", core::StrCat("t", id));
    auto state = rooms().State(alice_, room);
    ASSERT_TRUE(state.ok()) << state.status();
    std::vector<boost::json::object> events;
    for (const StoredEvent& e : *state) events.push_back(e.pdu);
    auto sent = rooms().EventById(message);
    ASSERT_TRUE(sent.ok()) << sent.status();
    events.push_back(sent->pdu);
    ASSERT_GE(events.size(), 5u);  // create, member, power levels, join rules, ..., message
    for (const boost::json::object& stored : events) {
      SCOPED_TRACE(boost::json::serialize(stored));
      const boost::json::object pdu = AsSent(stored, version);
      // Only our signature, and only by our key.
      ASSERT_TRUE(pdu.contains("signatures"));
      EXPECT_EQ(pdu.at("signatures").as_object().size(), 1u);
      EXPECT_EQ(pdu.at("signatures").at("example.org").as_object().size(), 1u);
      // The spec's check: the signature of the redacted event.
      const boost::json::object redacted = RedactEvent(pdu, version);
      EXPECT_TRUE(VerifyJsonSignature(redacted, "example.org", key.key_id, public_key).ok());
      EXPECT_TRUE(VerifyEventSignature(pdu, version, "example.org", key.key_id, public_key).ok());
      // The content is covered by the hash, not by the signature: a changed body still
      // verifies, a changed sender does not.
      boost::json::object forged = pdu;
      forged["sender"] = "@mallory:example.org";
      EXPECT_THAT(VerifyEventSignature(forged, version, "example.org", key.key_id, public_key),
                  HasErrcode(Errcode::kInvalidSignature));
    }
  }
}

TEST(SignEvent, KeepsOtherSignaturesAndSignsOnlyTheRedactedKeys) {
  auto pair = Ed25519FromSeed(RandomBytes(32));
  ASSERT_TRUE(pair.ok());
  const ServerSigningKey key{"ed25519:k", *pair};
  const RoomVersion& version = *FindRoomVersion("10");
  boost::json::object pdu{
      {"type", "m.room.message"},
      {"room_id", "!r:example.org"},
      {"sender", "@a:example.org"},
      {"content", boost::json::object{{"body", "x"}}},
      {"signatures", boost::json::object{{"other.org", boost::json::object{{"ed25519:o", "s"}}}}}};
  ASSERT_TRUE(SignEvent(pdu, version, "example.org", key).ok());
  EXPECT_TRUE(pdu.at("signatures").as_object().contains("other.org"));
  const std::string public_key = UnpaddedBase64(pair->public_key);
  EXPECT_TRUE(VerifyEventSignature(pdu, version, "example.org", "ed25519:k", public_key).ok());
  pdu["content"] = boost::json::object{{"body", "changed"}};  // redacted away: still valid
  EXPECT_TRUE(VerifyEventSignature(pdu, version, "example.org", "ed25519:k", public_key).ok());
  pdu["origin_server_ts"] = 5;  // kept by redaction: now invalid
  EXPECT_THAT(VerifyEventSignature(pdu, version, "example.org", "ed25519:k", public_key),
              HasErrcode(Errcode::kInvalidSignature));
}

// Appendices, "Event Signing": the spec's two events, hashed and signed by its test key.
TEST(SignEvent, MatchesTheAppendixTestVectors) {
  auto seed = DecodeUnpaddedBase64("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1");
  ASSERT_TRUE(seed.ok());
  auto pair = Ed25519FromSeed(*seed);
  ASSERT_TRUE(pair.ok());
  const ServerSigningKey key{"ed25519:1", *pair};
  const RoomVersion& version = *FindRoomVersion("1");
  struct Case {
    const char* event;
    const char* hash;
    const char* signature;
  } cases[] = {
      {R"({"room_id": "!x:domain", "sender": "@a:domain", "origin": "domain",
           "origin_server_ts": 1000000, "signatures": {}, "hashes": {}, "type": "X",
           "content": {}, "prev_events": [], "auth_events": [], "depth": 3,
           "unsigned": {"age_ts": 1000000}})",
       "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos",
       "KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg"},
      {R"({"content": {"body": "Here is the message content"}, "event_id": "$0:domain",
           "origin": "domain", "origin_server_ts": 1000000, "type": "m.room.message",
           "room_id": "!r:domain", "sender": "@u:domain", "signatures": {},
           "unsigned": {"age_ts": 1000000}})",
       "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g",
       "Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA"},
  };
  for (const Case& c : cases) {
    boost::json::object event = boost::json::parse(c.event).as_object();
    ASSERT_TRUE(AddContentHash(event).ok());
    ASSERT_TRUE(SignEvent(event, version, "domain", key).ok());
    EXPECT_EQ(event.at("hashes").at("sha256"), c.hash);
    EXPECT_EQ(event.at("signatures"),
              (boost::json::object{{"domain", boost::json::object{{"ed25519:1", c.signature}}}}));
    EXPECT_EQ(event.at("unsigned"), (boost::json::object{{"age_ts", 1000000}}));
  }
}

}  // namespace
}  // namespace conclave::service
