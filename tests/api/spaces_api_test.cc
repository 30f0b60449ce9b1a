// GET /v1/rooms/{roomId}/hierarchy through the Router (api/spaces.cc,
// service/spaces/hierarchy.cc): the walk, what a user may see, suggested_only, max_depth,
// paging and the errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api_harness.h"

namespace conclave::api::test_util {
namespace {

using boost::json::array;
using boost::json::object;
using service::Errcode;
using ::testing::ElementsAre;

class SpacesApiTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    alice_ = Register("alice");
    bob_ = Register("bob");
  }
  std::string Create(const object& body) {
    ApiResponse r = Post("/_matrix/client/v3/createRoom", body, alice_);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? std::string(r.json.at("room_id").as_string()) : "";
  }
  void AddChild(const std::string& parent, const std::string& child, object extra = {}) {
    extra["via"] = array{"example.org"};
    ApiResponse r =
        Put("/_matrix/client/v3/rooms/" + parent + "/state/m.space.child/" + child, extra, alice_);
    ASSERT_EQ(r.status, 200) << r.body;
  }
  ApiResponse Hierarchy(const std::string& root, const std::string& token,
                        const std::string& query = "") {
    return Get("/_matrix/client/v1/rooms/" + root + "/hierarchy" + query, token);
  }
  static std::vector<std::string> RoomIds(const ApiResponse& r) {
    std::vector<std::string> out;
    for (const auto& room : r.json.at("rooms").as_array()) {
      out.emplace_back(room.at("room_id").as_string());
    }
    return out;
  }

  std::string alice_, bob_;
};

TEST_F(SpacesApiTest, WalksChildrenBreadthFirstWithTheSpecFields) {
  const std::string space = Create(
      {{"name", "Space"}, {"preset", "public_chat"}, {"creation_content", {{"type", "m.space"}}}});
  const std::string sub = Create({{"name", "Sub"}, {"preset", "public_chat"}});
  const std::string leaf = Create({{"name", "Leaf"}, {"preset", "public_chat"}});
  const std::string secret = Create({{"name", "Secret"}, {"preset", "private_chat"}});
  AddChild(space, sub, {{"order", "b"}, {"suggested", true}});
  AddChild(space, secret, {{"order", "a"}});
  AddChild(sub, leaf);
  // A child without `via` does not count.
  ASSERT_EQ(Put("/_matrix/client/v3/rooms/" + space + "/state/m.space.child/!gone:example.org",
                object{}, alice_)
                .status,
            200);

  ApiResponse all = Hierarchy(space, alice_);
  ASSERT_EQ(all.status, 200) << all.body;
  // alice is joined to every room; "a" orders before "b".
  EXPECT_THAT(RoomIds(all), ElementsAre(space, secret, sub, leaf));
  const object& root = all.json.at("rooms").at(0).as_object();
  EXPECT_EQ(root.at("room_type").as_string(), "m.space");
  EXPECT_EQ(root.at("name").as_string(), "Space");
  EXPECT_EQ(root.at("num_joined_members").as_int64(), 1);
  EXPECT_EQ(root.at("join_rule").as_string(), "public");
  const array& children = root.at("children_state").as_array();
  ASSERT_EQ(children.size(), 2u);
  EXPECT_EQ(children.at(0).at("type").as_string(), "m.space.child");
  EXPECT_EQ(children.at(0).at("state_key").as_string(), secret);
  EXPECT_TRUE(children.at(0).as_object().contains("origin_server_ts"));
  EXPECT_FALSE(children.at(0).as_object().contains("event_id"));  // stripped

  // bob is in none of them: the private room is left out.
  ApiResponse bobs = Hierarchy(space, bob_);
  ASSERT_EQ(bobs.status, 200) << bobs.body;
  EXPECT_THAT(RoomIds(bobs), ElementsAre(space, sub, leaf));
  EXPECT_THAT(RoomIds(Hierarchy(space, alice_, "?suggested_only=true")), ElementsAre(space, sub));
  EXPECT_THAT(RoomIds(Hierarchy(space, alice_, "?max_depth=1")), ElementsAre(space, secret, sub));
  EXPECT_EQ(Hierarchy(secret, bob_).errcode(), Errcode::kForbidden);
  EXPECT_EQ(Hierarchy("!nope:example.org", alice_).errcode(), Errcode::kNotFound);
}

TEST_F(SpacesApiTest, PagesWithStableTokens) {
  const std::string space = Create({{"preset", "public_chat"}});
  std::vector<std::string> expected{space};
  for (int i = 0; i < 3; ++i) {
    const std::string child = Create({{"preset", "public_chat"}});
    AddChild(space, child, {{"order", std::to_string(i)}});
    expected.push_back(child);
  }
  std::vector<std::string> seen;
  std::string query = "?limit=2";
  for (int page = 0; page < 3; ++page) {
    ApiResponse r = Hierarchy(space, alice_, query);
    ASSERT_EQ(r.status, 200) << r.body;
    for (auto& id : RoomIds(r)) seen.push_back(id);
    if (!r.json.contains("next_batch")) break;
    const std::string token(r.json.at("next_batch").as_string());
    // The same token gives the same page again.
    EXPECT_EQ(RoomIds(Hierarchy(space, alice_, "?limit=2&from=" + token)),
              RoomIds(Hierarchy(space, alice_, "?limit=2&from=" + token)));
    query = "?limit=2&from=" + token;
  }
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(Hierarchy(space, alice_, "?from=garbage").errcode(), Errcode::kInvalidParam);
  EXPECT_EQ(Hierarchy(space, alice_, "?from=h99").errcode(), Errcode::kInvalidParam);
  EXPECT_EQ(Hierarchy(space, alice_, "?limit=0").errcode(), Errcode::kInvalidParam);
  EXPECT_EQ(Hierarchy(space, alice_, "?max_depth=-1").errcode(), Errcode::kInvalidParam);
}

}  // namespace
}  // namespace conclave::api::test_util
