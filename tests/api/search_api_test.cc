// POST /search through the Router (api/search.cc): the response shape the spec gives
// (search.yaml), groupings, context, paging and the request errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "api_harness.h"

namespace conclave::api::test_util {
namespace {

using boost::json::array;
using boost::json::object;
using service::Errcode;

constexpr char kSearch[] = "/_matrix/client/v3/search";

class SearchApiTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    alice_ = Register("alice");
    ApiResponse created = Post("/_matrix/client/v3/createRoom", {{"name", "Kitchen"}}, alice_);
    ASSERT_EQ(created.status, 200) << created.body;
    room_ = std::string(created.json.at("room_id").as_string());
  }
  std::string Send(const std::string& body, const std::string& txn) {
    ApiResponse r = Put("/_matrix/client/v3/rooms/" + room_ + "/send/m.room.message/" + txn,
                        {{"msgtype", "m.text"}, {"body", body}}, alice_);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? std::string(r.json.at("event_id").as_string()) : "";
  }
  ApiResponse Search(const object& room_events, const std::string& query = "") {
    return Post(std::string(kSearch) + query,
                {{"search_categories", {{"room_events", room_events}}}}, alice_);
  }

  std::string alice_;
  std::string room_;
};

TEST_F(SearchApiTest, AnswersTheSpecShapeWithGroupsContextAndState) {
  const std::string before = Send("preheat the oven", "t1");
  const std::string hit = Send("bake the bread for forty minutes", "t2");
  ApiResponse r = Search(
      {{"search_term", "bread"},
       {"keys", array{"content.body"}},
       {"order_by", "recent"},
       {"event_context", {{"before_limit", 1}, {"after_limit", 0}, {"include_profile", true}}},
       {"include_state", true},
       {"groupings",
        {{"group_by", array{object{{"key", "room_id"}}, object{{"key", "sender"}}}}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  const object& events = r.json.at("search_categories").at("room_events").as_object();
  EXPECT_EQ(events.at("count").as_int64(), 1);
  EXPECT_EQ(events.at("highlights"), (array{"bread"}));
  const object& result = events.at("results").at(0).as_object();
  EXPECT_TRUE(result.at("rank").is_double());
  EXPECT_EQ(result.at("result").at("event_id").as_string(), hit);
  EXPECT_EQ(result.at("result").at("room_id").as_string(), room_);
  const object& context = result.at("context").as_object();
  EXPECT_EQ(context.at("events_before").at(0).at("event_id").as_string(), before);
  EXPECT_TRUE(context.at("events_after").as_array().empty());
  EXPECT_TRUE(context.at("profile_info").as_object().contains(std::string("@alice:example.org")));
  EXPECT_FALSE(events.at("state").at(room_).as_array().empty());
  EXPECT_EQ(events.at("groups").at("room_id").at(room_).at("results"), (array{hit.c_str()}));
  EXPECT_EQ(
      events.at("groups").at("sender").at(std::string("@alice:example.org")).at("order").as_int64(),
      0);
  EXPECT_FALSE(events.contains("next_batch"));
}

TEST_F(SearchApiTest, PagesWithNextBatch) {
  for (int i = 0; i < 3; ++i) Send("soup number " + std::to_string(i), "s" + std::to_string(i));
  ApiResponse first = Search({{"search_term", "soup"}, {"filter", {{"limit", 2}}}});
  ASSERT_EQ(first.status, 200) << first.body;
  const object& page = first.json.at("search_categories").at("room_events").as_object();
  EXPECT_EQ(page.at("count").as_int64(), 3);
  EXPECT_EQ(page.at("results").as_array().size(), 2u);
  const std::string token(page.at("next_batch").as_string());
  ApiResponse second =
      Search({{"search_term", "soup"}, {"filter", {{"limit", 2}}}}, "?next_batch=" + token);
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(second.json.at("search_categories").at("room_events").at("results").as_array().size(),
            1u);
  ApiResponse bad = Search({{"search_term", "soup"}}, "?next_batch=zzz");
  EXPECT_EQ(bad.errcode(), Errcode::kInvalidParam) << bad.body;
}

TEST_F(SearchApiTest, RefusesBadCriteriaAndIgnoresUnknownCategories) {
  struct Case {
    object body;
    Errcode errcode;
  };
  const Case cases[] = {
      {{}, Errcode::kMissingParam},
      {{{"search_categories", 1}}, Errcode::kBadJson},
      {{{"search_categories", {{"room_events", object{}}}}}, Errcode::kMissingParam},
      {{{"search_categories", {{"room_events", {{"search_term", 5}}}}}}, Errcode::kBadJson},
      {{{"search_categories",
         {{"room_events", {{"search_term", "x"}, {"keys", array{"content.x"}}}}}}},
       Errcode::kInvalidParam},
      {{{"search_categories", {{"room_events", {{"search_term", "x"}, {"order_by", "size"}}}}}},
       Errcode::kInvalidParam},
      {{{"search_categories",
         {{"room_events", {{"search_term", "x"}, {"filter", {{"limit", "a"}}}}}}}},
       Errcode::kBadJson},
      {{{"search_categories",
         {{"room_events",
           {{"search_term", "x"},
            {"groupings", {{"group_by", array{object{{"key", "type"}}}}}}}}}}},
       Errcode::kInvalidParam},
  };
  for (const Case& c : cases) {
    ApiResponse r = Post(kSearch, c.body, alice_);
    EXPECT_EQ(r.status, 400) << boost::json::serialize(c.body) << " " << r.body;
    EXPECT_EQ(r.errcode(), c.errcode) << boost::json::serialize(c.body) << " " << r.body;
  }
  ApiResponse other = Post(kSearch, {{"search_categories", {{"rooms_v9", object{}}}}}, alice_);
  ASSERT_EQ(other.status, 200) << other.body;
  EXPECT_TRUE(other.json.at("search_categories").as_object().empty());
}

}  // namespace
}  // namespace conclave::api::test_util
