// The event and state read routes (events.yaml, event_auth.yaml) through the router, signed by
// remote.example: what they serve passes the PDU checks a receiving server runs
// (pdu_checks.h) with this server's key, and the errors are the spec's.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "conclave/core/percent.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/homeserver.h"
#include "conclave/service/protocol/crypto.h"
#include "conclave/service/protocol/event_hash.h"
#include "conclave/service/protocol/pdu_checks.h"
#include "conclave/service/protocol/room_versions.h"
#include "federation_fixture.h"

namespace conclave::federation {
namespace {

using api::test_util::ApiResponse;
using boost::json::array;
using boost::json::object;
using service::Errcode;
using service::PduVerdict;
using service::RoomVersion;
using ::testing::HasSubstr;

constexpr char kFed[] = "/_matrix/federation/v1";

class FederationEventsTest : public test_util::RemoteServerTest {
 protected:
  void SetUp() override {
    RemoteServerTest::SetUp();
    token_ = Register("alice");
  }

  // Creates a room of `version` whose history visibility is `visibility`; returns its id.
  std::string CreateRoom(std::string_view version, std::string_view visibility) {
    object hv{{"type", "m.room.history_visibility"},
              {"state_key", ""},
              {"content", object{{"history_visibility", visibility}}}};
    ApiResponse room = Post("/_matrix/client/v3/createRoom",
                            {{"room_version", version}, {"initial_state", array{hv}}}, token_);
    EXPECT_EQ(room.status, 200) << room.body;
    return std::string(room.json.at("room_id").as_string());
  }

  std::string SendText(const std::string& room_id, std::string_view body) {
    ApiResponse sent =
        Put(core::StrCat("/_matrix/client/v3/rooms/", room_id, "/send/m.room.message/t", ++txn_),
            {{"msgtype", "m.text"}, {"body", body}}, token_);
    EXPECT_EQ(sent.status, 200) << sent.body;
    return std::string(sent.json.at("event_id").as_string());
  }

  // Keeps `pdus` (as received) by their event ids, in the form the PDU checks look them up in
  // (with `event_id`; a v12 create with its room id), as a receiving server would store them.
  void Keep(const array& pdus, const RoomVersion& version) {
    for (const boost::json::value& value : pdus) {
      object stored = value.as_object();
      auto id = service::EventId(stored, version);
      ASSERT_TRUE(id.ok()) << id.status();
      if (version.room_id_from_create_event && stored.at("type") == "m.room.create") {
        stored["room_id"] = core::StrCat("!", id->substr(1));
      }
      stored["event_id"] = *id;
      known_[*id] = std::move(stored);
    }
  }

  // Runs the receiving server's checks on `pdu` with this server's key and the events kept.
  service::PduCheckResult CheckAsReceiver(const object& pdu, const RoomVersion& version,
                                          std::string_view room_id) {
    const service::ServerSigningKey& key = service::Instance()->signing_key();
    service::PduCheckInputs inputs;
    inputs.version = &version;
    inputs.room_id = room_id;
    inputs.keys = [&key](std::string_view server, std::string_view key_id,
                         int64_t) -> absl::StatusOr<std::string> {
      if (server != "example.org" || key_id != key.key_id) return service::NotFound("no key");
      return service::UnpaddedBase64(key.pair.public_key);
    };
    inputs.auth_events = [this](std::string_view id) -> std::optional<object> {
      auto it = known_.find(std::string(id));
      if (it == known_.end()) return std::nullopt;
      return it->second;
    };
    return service::CheckReceivedPdu(pdu, inputs);
  }

  std::string token_;
  int txn_ = 0;
  std::map<std::string, object> known_;
};

TEST_F(FederationEventsTest, WorldReadableRoomServesCheckableEventsStateAndAuthChains) {
  for (std::string_view id : {"1", "3", "10", "11", "12"}) {
    SCOPED_TRACE(core::StrCat("room version ", id));
    const RoomVersion& version = *service::FindRoomVersion(id);
    known_.clear();
    const std::string room = CreateRoom(id, "world_readable");
    const std::string message = SendText(room, "hello over federation");
    // Percent-encoded as a remote server sends them (v3 ids hold '/' and '+').
    const std::string room_path = core::PercentEncode(room);
    const std::string message_path = core::PercentEncode(message);

    ApiResponse event = Signed(core::StrCat(kFed, "/event/", message_path));
    ASSERT_EQ(event.status, 200) << event.body;
    EXPECT_EQ(event.json.at("origin"), "example.org");
    EXPECT_TRUE(event.json.at("origin_server_ts").is_int64());
    ASSERT_EQ(event.json.at("pdus").as_array().size(), 1u);
    const object& pdu = event.json.at("pdus").as_array()[0].as_object();
    EXPECT_FALSE(pdu.contains("unsigned"));
    EXPECT_EQ(pdu.contains("event_id"), version.event_id_format == service::EventIdFormat::kOpaque);
    EXPECT_EQ(pdu.at("content").at("body"), "hello over federation");

    ApiResponse auth = Signed(core::StrCat(kFed, "/event_auth/", room_path, "/", message_path));
    ASSERT_EQ(auth.status, 200) << auth.body;
    // create, power levels, alice's join (v12: the create is in no auth_events, but the room
    // id names it, and it is served in the chain all the same).
    EXPECT_GE(auth.json.at("auth_chain").as_array().size(), 3u);
    Keep(auth.json.at("auth_chain").as_array(), version);
    service::PduCheckResult checked = CheckAsReceiver(pdu, version, room);
    EXPECT_EQ(checked.verdict, PduVerdict::kAccepted) << checked.reason;
    EXPECT_EQ(checked.event_id, message);
    EXPECT_FALSE(checked.redacted);

    ApiResponse ids =
        Signed(core::StrCat(kFed, "/state_ids/", room_path, "?event_id=", message_path));
    ASSERT_EQ(ids.status, 200) << ids.body;
    ApiResponse state =
        Signed(core::StrCat(kFed, "/state/", room_path, "?event_id=", message_path));
    ASSERT_EQ(state.status, 200) << state.body;
    const array& pdu_ids = ids.json.at("pdu_ids").as_array();
    const array& pdus = state.json.at("pdus").as_array();
    // The state before the message: create, alice, power levels, join rules, history
    // visibility (createRoom's preset may add more), never the message itself.
    EXPECT_GE(pdu_ids.size(), 5u);
    EXPECT_EQ(pdus.size(), pdu_ids.size());
    EXPECT_EQ(std::count(pdu_ids.begin(), pdu_ids.end(), boost::json::value(message)), 0);
    EXPECT_EQ(state.json.at("auth_chain").as_array().size(),
              ids.json.at("auth_chain_ids").as_array().size());
    Keep(state.json.at("auth_chain").as_array(), version);
    Keep(pdus, version);
    for (const boost::json::value& state_pdu : pdus) {
      service::PduCheckResult result = CheckAsReceiver(state_pdu.as_object(), version, room);
      EXPECT_EQ(result.verdict, PduVerdict::kAccepted) << result.reason;
      EXPECT_EQ(std::count(pdu_ids.begin(), pdu_ids.end(), boost::json::value(result.event_id)), 1);
    }
  }
}

TEST_F(FederationEventsTest, StateBeforeAStateEventLeavesItOut) {
  const std::string room = CreateRoom("10", "world_readable");
  ApiResponse topic = Put(core::StrCat("/_matrix/client/v3/rooms/", room, "/state/m.room.topic/"),
                          {{"topic", "first"}}, token_);
  ASSERT_EQ(topic.status, 200) << topic.body;
  const std::string topic_id(topic.json.at("event_id").as_string());
  ApiResponse at_topic = Signed(core::StrCat(kFed, "/state_ids/", room, "?event_id=", topic_id));
  ASSERT_EQ(at_topic.status, 200) << at_topic.body;
  const array& before = at_topic.json.at("pdu_ids").as_array();
  EXPECT_EQ(std::count(before.begin(), before.end(), boost::json::value(topic_id)), 0);
  const std::string message = SendText(room, "after the topic");
  ApiResponse after = Signed(core::StrCat(kFed, "/state_ids/", room, "?event_id=", message));
  ASSERT_EQ(after.status, 200) << after.body;
  const array& later = after.json.at("pdu_ids").as_array();
  EXPECT_EQ(std::count(later.begin(), later.end(), boost::json::value(topic_id)), 1);
  EXPECT_EQ(later.size(), before.size() + 1);
}

TEST_F(FederationEventsTest, UnknownEventsAre404NotFound) {
  const std::string room = CreateRoom("10", "world_readable");
  const std::string other_room = CreateRoom("10", "world_readable");
  const std::string message = SendText(room, "hi");
  const std::string missing = "$" + std::string(43, 'A');
  for (const std::string& target :
       {core::StrCat(kFed, "/event/", missing),
        core::StrCat(kFed, "/state_ids/", room, "?event_id=", missing),
        core::StrCat(kFed, "/state/", room, "?event_id=", missing),
        core::StrCat(kFed, "/event_auth/", room, "/", missing),
        // The event exists, in another room.
        core::StrCat(kFed, "/state_ids/", other_room, "?event_id=", message),
        core::StrCat(kFed, "/event_auth/", other_room, "/", message),
        // An unknown room.
        core::StrCat(kFed, "/state_ids/!nope:example.org?event_id=", message)}) {
    SCOPED_TRACE(target);
    ApiResponse r = Signed(target);
    EXPECT_EQ(r.status, 404) << r.body;
    EXPECT_EQ(r.errcode(), Errcode::kNotFound) << r.body;
  }
  EXPECT_THAT(Signed(core::StrCat(kFed, "/event/", missing)).body,
              HasSubstr("Could not find event " + missing));
  ApiResponse no_event_id = Signed(core::StrCat(kFed, "/state_ids/", room));
  EXPECT_EQ(no_event_id.status, 400) << no_event_id.body;
  EXPECT_EQ(no_event_id.errcode(), Errcode::kMissingParam);
}

TEST_F(FederationEventsTest, ServerWithoutUsersInARoomOfSharedHistoryIs403Forbidden) {
  for (std::string_view visibility : {"shared", "invited", "joined"}) {
    SCOPED_TRACE(visibility);
    const std::string room = CreateRoom("10", visibility);
    const std::string message = SendText(room, "members only");
    for (const std::string& target :
         {core::StrCat(kFed, "/event/", message),
          core::StrCat(kFed, "/state_ids/", room, "?event_id=", message),
          core::StrCat(kFed, "/state/", room, "?event_id=", message),
          core::StrCat(kFed, "/event_auth/", room, "/", message)}) {
      SCOPED_TRACE(target);
      ApiResponse r = Signed(target);
      EXPECT_EQ(r.status, 403) << r.body;
      EXPECT_EQ(r.errcode(), Errcode::kForbidden) << r.body;
    }
  }
  // Becoming world_readable later does not open the earlier events; it opens the later ones.
  const std::string room = CreateRoom("10", "shared");
  const std::string before = SendText(room, "before");
  ApiResponse hv =
      Put(core::StrCat("/_matrix/client/v3/rooms/", room, "/state/m.room.history_visibility/"),
          {{"history_visibility", "world_readable"}}, token_);
  ASSERT_EQ(hv.status, 200) << hv.body;
  const std::string after = SendText(room, "after");
  EXPECT_EQ(Signed(core::StrCat(kFed, "/event/", before)).status, 403);
  EXPECT_EQ(Signed(core::StrCat(kFed, "/event/", after)).status, 200);
}

TEST_F(FederationEventsTest, UnsignedRequestsAre401) {
  const std::string room = CreateRoom("10", "world_readable");
  const std::string message = SendText(room, "hi");
  ApiResponse r = Dispatch(core::StrCat(kFed, "/event/", message), "");
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_EQ(r.errcode(), Errcode::kUnauthorized);
}

}  // namespace
}  // namespace conclave::federation
