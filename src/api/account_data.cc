// Account data, room tags and filters. Client-Server API: account-data.yaml, tags.yaml (stored
// as room account data of type m.tag, "Room Tagging"), filter.yaml. Push rules are push_rules.cc.
#include <boost/json/object.hpp>
#include <string>

#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/identifiers.h"
#include "conclave/service/push/push_rule_store.h"
#include "routes.h"

namespace conclave::api {
namespace {

using boost::json::object;

constexpr std::string_view kTagType = "m.tag";

absl::StatusOr<boost::json::value> Empty(absl::Status status) {
  if (!status.ok()) return status;
  return object();
}

// "The access token must be authorised to make requests for this user ID."
absl::Status CheckSelf(const Call& call, std::string_view what) {
  if (call.Param("userId") != call.session.user_id) {
    return service::Forbidden(core::StrCat("Cannot ", what, " for other users"));
  }
  return absl::OkStatus();
}

// The `{roomId}` of the route, M_INVALID_PARAM when it is not a room id (account-data.yaml 400).
absl::StatusOr<std::string> RoomParam(const Call& call) {
  std::string room_id = call.Param("roomId");
  CONCLAVE_RETURN_IF_ERROR(service::ParseRoomId(room_id).status());
  return room_id;
}

// Account data types the server controls: m.push_rules (pushrules.yaml) and m.fully_read
// (read_markers.yaml). account-data.yaml answers them 405 with M_BAD_JSON, a pairing that
// HttpStatusOf (matrix_error.h) cannot express, so the response is built here.
std::optional<core::Response> RefuseServerControlled(std::string_view type) {
  if (type != "m.push_rules" && type != "m.fully_read") return std::nullopt;
  return ErrorResponse(405, service::Errcode::kBadJson,
                       core::StrCat("Cannot set ", type, " through this API"));
}

// PUT .../account_data/{type}, global when `room_id` is empty.
absl::StatusOr<core::Response> PutAccountData(Call& call, bool per_room) {
  CONCLAVE_RETURN_IF_ERROR(CheckSelf(call, "add account data"));
  std::string room_id;
  if (per_room) {
    CONCLAVE_ASSIGN_OR_RETURN(room_id, RoomParam(call));
  }
  const std::string type = call.Param("type");
  if (auto refused = RefuseServerControlled(type)) return *std::move(refused);
  CONCLAVE_ASSIGN_OR_RETURN(object content, call.JsonBody());
  CONCLAVE_RETURN_IF_ERROR(
      call.hs.accounts().SetAccountData(call.session.user_id, room_id, type, content));
  return JsonResponse(object());
}

absl::StatusOr<boost::json::value> GetAccountData(Call& call, bool per_room) {
  CONCLAVE_RETURN_IF_ERROR(CheckSelf(call, "get account data"));
  std::string room_id;
  if (per_room) {
    CONCLAVE_ASSIGN_OR_RETURN(room_id, RoomParam(call));
  }
  const std::string type = call.Param("type");
  if (!per_room && type == service::kPushRulesType) {
    // Stored as the user's changes only (push_rule_set.h); clients read the whole ruleset.
    CONCLAVE_ASSIGN_OR_RETURN(auto rules, call.hs.push_rules().Rules(call.session.user_id));
    return *rules;
  }
  CONCLAVE_ASSIGN_OR_RETURN(auto content,
                            call.hs.accounts().GetAccountData(call.session.user_id, room_id, type));
  if (!content) {
    return service::NotFound(per_room ? "Room account data not found" : "Account data not found");
  }
  return *std::move(content);
}

// The `tags` object of m.tag content, made an object if it is anything else.
object& TagsOf(object& content) {
  boost::json::value& tags = content["tags"];
  if (!tags.is_object()) tags.emplace_object();
  return tags.get_object();
}

// GET /v3/user/{userId}/rooms/{roomId}/tags.
absl::StatusOr<boost::json::value> GetTags(Call& call) {
  CONCLAVE_RETURN_IF_ERROR(CheckSelf(call, "get tags"));
  CONCLAVE_ASSIGN_OR_RETURN(std::string room_id, RoomParam(call));
  CONCLAVE_ASSIGN_OR_RETURN(
      auto content, call.hs.accounts().GetAccountData(call.session.user_id, room_id, kTagType));
  object tags;
  if (content) tags = TagsOf(*content);
  return object{{"tags", std::move(tags)}};
}

// PUT /v3/user/{userId}/rooms/{roomId}/tags/{tag}: the body is the tag's object (tag.yaml), kept
// as sent once `order`, if present, is a number.
absl::StatusOr<boost::json::value> PutTag(Call& call) {
  CONCLAVE_RETURN_IF_ERROR(CheckSelf(call, "add tags"));
  CONCLAVE_ASSIGN_OR_RETURN(std::string room_id, RoomParam(call));
  CONCLAVE_ASSIGN_OR_RETURN(object tag, call.JsonBody());
  if (const boost::json::value* order = tag.if_contains("order");
      order != nullptr && !order->is_number()) {
    return service::BadJson("'order' must be a number");
  }
  const std::string name = call.Param("tag");
  return Empty(call.hs.accounts().UpdateAccountData(call.session.user_id, room_id, kTagType,
                                                    [&](object& content) {
                                                      TagsOf(content)[name] = tag;
                                                      return absl::OkStatus();
                                                    }));
}

// DELETE /v3/user/{userId}/rooms/{roomId}/tags/{tag}: removing an absent tag succeeds.
absl::StatusOr<boost::json::value> DeleteTag(Call& call) {
  CONCLAVE_RETURN_IF_ERROR(CheckSelf(call, "remove tags"));
  CONCLAVE_ASSIGN_OR_RETURN(std::string room_id, RoomParam(call));
  const std::string name = call.Param("tag");
  return Empty(call.hs.accounts().UpdateAccountData(call.session.user_id, room_id, kTagType,
                                                    [&](object& content) {
                                                      TagsOf(content).erase(name);
                                                      return absl::OkStatus();
                                                    }));
}

}  // namespace

absl::Status RegisterAccountDataRoutes(Routes& routes) {
  CONCLAVE_RETURN_IF_ERROR(
      routes.AddRaw("PUT", "/v3/user/{userId}/account_data/{type}", Auth::kRequired,
                    [](Call& call) { return PutAccountData(call, /*per_room=*/false); }));
  CONCLAVE_RETURN_IF_ERROR(
      routes.Add("GET", "/v3/user/{userId}/account_data/{type}", Auth::kRequired,
                 [](Call& call) { return GetAccountData(call, /*per_room=*/false); }));
  CONCLAVE_RETURN_IF_ERROR(
      routes.AddRaw("PUT", "/v3/user/{userId}/rooms/{roomId}/account_data/{type}", Auth::kRequired,
                    [](Call& call) { return PutAccountData(call, /*per_room=*/true); }));
  CONCLAVE_RETURN_IF_ERROR(
      routes.Add("GET", "/v3/user/{userId}/rooms/{roomId}/account_data/{type}", Auth::kRequired,
                 [](Call& call) { return GetAccountData(call, /*per_room=*/true); }));

  CONCLAVE_RETURN_IF_ERROR(
      routes.Add("GET", "/v3/user/{userId}/rooms/{roomId}/tags", Auth::kRequired, &GetTags));
  CONCLAVE_RETURN_IF_ERROR(
      routes.Add("PUT", "/v3/user/{userId}/rooms/{roomId}/tags/{tag}", Auth::kRequired, &PutTag));
  CONCLAVE_RETURN_IF_ERROR(routes.Add("DELETE", "/v3/user/{userId}/rooms/{roomId}/tags/{tag}",
                                      Auth::kRequired, &DeleteTag));

  CONCLAVE_RETURN_IF_ERROR(routes.Add(
      "POST", "/v3/user/{userId}/filter", Auth::kRequired,
      [](Call& call) -> absl::StatusOr<boost::json::value> {
        CONCLAVE_RETURN_IF_ERROR(CheckSelf(call, "create filters"));
        CONCLAVE_ASSIGN_OR_RETURN(object filter, call.JsonBody());
        CONCLAVE_ASSIGN_OR_RETURN(std::string filter_id,
                                  call.hs.accounts().CreateFilter(call.session.user_id, filter));
        return object{{"filter_id", filter_id}};
      }));
  CONCLAVE_RETURN_IF_ERROR(routes.Add(
      "GET", "/v3/user/{userId}/filter/{filterId}", Auth::kRequired,
      [](Call& call) -> absl::StatusOr<boost::json::value> {
        CONCLAVE_RETURN_IF_ERROR(CheckSelf(call, "get filters"));
        CONCLAVE_ASSIGN_OR_RETURN(object filter, call.hs.accounts().GetFilter(
                                                     call.session.user_id, call.Param("filterId")));
        return filter;
      }));

  return absl::OkStatus();
}

}  // namespace conclave::api
