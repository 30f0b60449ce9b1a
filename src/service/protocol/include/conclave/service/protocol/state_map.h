// Room state as a plain map: (event type, state_key) → the full state event (PDU shape). This is
// what an event is authorised against (auth_rules.h) and what power levels are read from.
//
// Header only, no state of its own. A StateMap is a value type: thread-compatible (const use from
// several threads is safe, mutation needs external synchronisation).
#ifndef CONCLAVE_SERVICE_PROTOCOL_STATE_MAP_H_
#define CONCLAVE_SERVICE_PROTOCOL_STATE_MAP_H_

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <map>
#include <string>
#include <string_view>
#include <utility>

namespace conclave::service {

// (type, state_key) of a state event.
using StateKey = std::pair<std::string, std::string>;

// Room state: one full event per StateKey.
using StateMap = std::map<StateKey, boost::json::object>;

// Returns the state event stored under (`type`, `state_key`), or null. The pointer is valid
// while `state` is alive and that entry is neither replaced nor erased.
inline const boost::json::object* FindState(const StateMap& state, std::string_view type,
                                            std::string_view state_key) {
  auto it = state.find(StateKey(type, state_key));
  return it == state.end() ? nullptr : &it->second;
}

// Returns the `content` object of the state event under (`type`, `state_key`), or null when the
// event is absent or its content is not an object. Same lifetime as FindState.
inline const boost::json::object* FindStateContent(const StateMap& state, std::string_view type,
                                                   std::string_view state_key) {
  const boost::json::object* event = FindState(state, type, state_key);
  if (event == nullptr) return nullptr;
  const boost::json::value* content = event->if_contains("content");
  return content == nullptr ? nullptr : content->if_object();
}

// Returns `content.membership` of `user_id`'s m.room.member event, or "" when the user has no
// member event (for the authorization rules that is the same as "leave"). The view points into
// `state`.
inline std::string_view MembershipOf(const StateMap& state, std::string_view user_id) {
  const boost::json::object* content = FindStateContent(state, "m.room.member", user_id);
  if (content == nullptr) return {};
  const boost::json::value* membership = content->if_contains("membership");
  if (membership == nullptr || !membership->is_string()) return {};
  return membership->get_string();
}

// Stores `event` under its own `type` and `state_key`, replacing what was there. Returns false
// (and stores nothing) when either field is missing or not a string, i.e. it is no state event.
inline bool PutState(StateMap& state, boost::json::object event) {
  const boost::json::value* type = event.if_contains("type");
  const boost::json::value* state_key = event.if_contains("state_key");
  if (type == nullptr || !type->is_string() || state_key == nullptr || !state_key->is_string()) {
    return false;
  }
  StateKey key(std::string(type->get_string()), std::string(state_key->get_string()));
  state.insert_or_assign(std::move(key), std::move(event));
  return true;
}

}  // namespace conclave::service

#endif  // CONCLAVE_SERVICE_PROTOCOL_STATE_MAP_H_
