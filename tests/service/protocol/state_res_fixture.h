// Private to tests/service/protocol: a room's event graph built in memory for the state
// resolution tests (state_res_*_test.cc). Each event gets its prev_events from the test, its
// state before it from those (resolved with ResolveState where there are several), its
// auth_events from that state ("Auth events selection"), an origin_server_ts one more than the
// event added before it and a depth one more than its deepest prev_event. Events are not
// checked on arrival: a test may build a fork that a server would have rejected, to see what
// state resolution makes of it.
#ifndef CONCLAVE_TESTS_SERVICE_PROTOCOL_STATE_RES_FIXTURE_H_
#define CONCLAVE_TESTS_SERVICE_PROTOCOL_STATE_RES_FIXTURE_H_

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "conclave/service/protocol/auth_rules.h"
#include "conclave/service/protocol/room_versions.h"
#include "conclave/service/protocol/state_res.h"

namespace conclave::service::state_res_test {

using ::boost::json::object;

constexpr char kAlice[] = "@alice:example.org";  // the creator
constexpr char kBob[] = "@bob:example.org";
constexpr char kCharlie[] = "@charlie:example.org";
constexpr char kEvelyn[] = "@evelyn:example.org";  // never joined
constexpr char kZara[] = "@zara:example.org";

inline object Membership(std::string_view membership) {
  object content;
  content["membership"] = membership;
  return content;
}

class RoomGraph {
 public:
  explicit RoomGraph(std::string_view version) : version_(*FindRoomVersion(version)) {}

  const RoomVersion& version() const { return version_; }
  const EventMap& events() const { return events_; }
  EventMap& mutable_events() { return events_; }

  // "$NAME:example.org": names in tests, ids in state maps.
  static std::string Id(std::string_view name) {
    return std::string("$") + std::string(name) + ":example.org";
  }
  // The room id: "!CREATE:example.org" in v12 (the create event's id), else "!room:example.org".
  std::string RoomId() const {
    return version_.room_id_from_create_event ? "!CREATE:example.org" : "!room:example.org";
  }

  // m.room.power_levels content giving `users` their levels; a v12 creator is left out (rule
  // 10.4 refuses creators there, their power being infinite anyway).
  object Levels(std::initializer_list<std::pair<const char*, int>> users) const {
    object map;
    for (const auto& [user, level] : users) {
      if (version_.creators_have_infinite_power && std::string_view(user) == kAlice) continue;
      map[user] = level;
    }
    object content;
    content["users"] = std::move(map);
    return content;
  }
  object TopicContent(std::string_view topic) const {
    object content;
    content["topic"] = topic;
    return content;
  }

  // Builds the event `name` (no state_key when `state_key` is nullopt) after `prev` (names).
  // Returns it as stored.
  const object& Add(std::string_view name, std::string_view type, std::string_view sender,
                    std::optional<std::string_view> state_key, object content,
                    const std::vector<std::string>& prev) {
    StateIds before = StateFrom(prev);
    object event;
    event["type"] = type;
    event["sender"] = sender;
    if (type != "m.room.create" || !version_.room_id_from_create_event) event["room_id"] = RoomId();
    if (state_key.has_value()) event["state_key"] = *state_key;
    event["content"] = std::move(content);
    event["origin_server_ts"] = ++clock_;
    int64_t depth = 0;
    boost::json::array prev_events;
    for (const std::string& p : prev) {
      depth = std::max(depth, depth_.at(p));
      prev_events.push_back(Ref(Id(p)));
    }
    event["depth"] = depth + 1;
    event["prev_events"] = std::move(prev_events);
    boost::json::array auth_events;
    for (const StateKey& key : AuthStateKeys(event, version_)) {
      if (auto it = before.find(key); it != before.end()) auth_events.push_back(Ref(it->second));
    }
    event["auth_events"] = std::move(auth_events);
    if (version_.event_id_format == EventIdFormat::kOpaque) event["event_id"] = Id(name);

    std::string key_name(name);
    depth_[key_name] = depth + 1;
    before_[key_name] = before;
    if (state_key.has_value()) before[StateKey(type, *state_key)] = Id(name);
    after_[key_name] = std::move(before);
    events_.Add(Id(name), event);
    return *events_.FindEvent(Id(name));
  }

  const object& State(std::string_view name, std::string_view type, std::string_view sender,
                      std::string_view state_key, object content,
                      const std::vector<std::string>& prev) {
    return Add(name, type, sender, state_key, std::move(content), prev);
  }
  const object& Member(std::string_view name, std::string_view sender, std::string_view target,
                       std::string_view membership, const std::vector<std::string>& prev) {
    return Add(name, "m.room.member", sender, target, Membership(membership), prev);
  }
  const object& Message(std::string_view name, std::string_view sender,
                        const std::vector<std::string>& prev) {
    return Add(name, "m.room.message", sender, std::nullopt, object(), prev);
  }

  // The room every scenario starts from, after Synapse's test suite: Alice creates it (level
  // 100), makes it public, Bob, Charlie and Zara join (level 0), and Zara's message START ends
  // the common history. Each event's prev_event is the one before.
  void AddStartingRoom() {
    object create;
    if (version_.creator_in_content) create["creator"] = kAlice;
    create["room_version"] = version_.id;
    State("CREATE", "m.room.create", kAlice, "", std::move(create), {});
    Member("IMA", kAlice, kAlice, "join", {"CREATE"});
    State("IPOWER", "m.room.power_levels", kAlice, "", Levels({{kAlice, 100}}), {"IMA"});
    object public_room;
    public_room["join_rule"] = "public";
    State("IJR", "m.room.join_rules", kAlice, "", std::move(public_room), {"IPOWER"});
    Member("IMB", kBob, kBob, "join", {"IJR"});
    Member("IMC", kCharlie, kCharlie, "join", {"IMB"});
    Member("IMZ", kZara, kZara, "join", {"IMC"});
    Message("START", kZara, {"IMZ"});
  }

  // The state before `name` (the resolution of its prev_events' states) and after it.
  const StateIds& StateBefore(std::string_view name) const { return before_.at(std::string(name)); }
  const StateIds& StateAfter(std::string_view name) const { return after_.at(std::string(name)); }

  // StateAfter(`base`) with each event of `names` in its key: what a test expects.
  StateIds Overlay(std::string_view base, std::initializer_list<std::string_view> names) const {
    StateIds state = StateAfter(base);
    for (std::string_view name : names) {
      const object* event = events_.FindEvent(Id(name));
      state[StateKey(event->at("type").as_string(), event->at("state_key").as_string())] = Id(name);
    }
    return state;
  }

  // Resolves the states after `names`.
  absl::StatusOr<StateIds> Resolve(std::initializer_list<std::string_view> names) const {
    std::vector<StateIds> sets;
    for (std::string_view name : names) sets.push_back(StateAfter(name));
    return ResolveState(version_, sets, events_);
  }

 private:
  boost::json::value Ref(const std::string& id) const {
    if (!version_.event_refs_with_hashes) return boost::json::value(id);
    boost::json::array pair;
    pair.push_back(boost::json::value(id));
    object hashes;
    hashes["sha256"] = "aGFzaA";
    pair.push_back(std::move(hashes));
    return pair;
  }

  StateIds StateFrom(const std::vector<std::string>& prev) {
    if (prev.empty()) return {};
    if (prev.size() == 1) return after_.at(prev[0]);
    std::vector<StateIds> sets;
    for (const std::string& p : prev) sets.push_back(after_.at(p));
    absl::StatusOr<StateIds> resolved = ResolveState(version_, sets, events_);
    EXPECT_TRUE(resolved.ok()) << resolved.status();
    return resolved.ok() ? *resolved : StateIds();
  }

  const RoomVersion& version_;
  EventMap events_;
  int64_t clock_ = 1700000000000;
  std::map<std::string, int64_t> depth_;
  std::map<std::string, StateIds> before_;
  std::map<std::string, StateIds> after_;
};

}  // namespace conclave::service::state_res_test

#endif  // CONCLAVE_TESTS_SERVICE_PROTOCOL_STATE_RES_FIXTURE_H_
