#include "sliding_connections.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <utility>

#include "conclave/core/str_cat.h"
#include "conclave/service/storage/stored_json.h"

namespace conclave::service::sync_internal {

void CombinedConfig::Add(const SlidingRoomConfig& config) {
  timeline_limit = std::max(timeline_limit, config.timeline_limit);
  for (const RequiredState& r : required_state) {
    if (r == config.required_state) return;
  }
  required_state.push_back(config.required_state);
}

bool CombinedConfig::lazy_members() const {
  return std::any_of(required_state.begin(), required_state.end(),
                     [](const RequiredState& r) { return r.lazy_members; });
}

std::shared_ptr<const ConnectionState> SlidingConnections::Resume(std::string_view user_id,
                                                                  std::string_view device_id,
                                                                  std::string_view conn_id,
                                                                  std::string_view pos) {
  std::lock_guard lock(mu_);
  auto device = devices_.find({std::string(user_id), std::string(device_id)});
  if (device == devices_.end()) return nullptr;
  auto it = device->second.find(std::string(conn_id));
  if (it == device->second.end()) return nullptr;
  Connection& c = it->second;
  c.last_used = ++counter_;
  if (pos == c.latest_pos) {
    // The client processed the newest response: the one before it is no longer needed.
    c.previous_pos.clear();
    c.previous.reset();
    return c.latest;
  }
  if (!c.previous_pos.empty() && pos == c.previous_pos) return c.previous;
  return nullptr;
}

std::string SlidingConnections::Store(std::string_view user_id, std::string_view device_id,
                                      std::string_view conn_id,
                                      const std::optional<std::string>& from_pos,
                                      ConnectionState state) {
  std::lock_guard lock(mu_);
  auto& connections = devices_[{std::string(user_id), std::string(device_id)}];
  const uint64_t serial = ++counter_;
  std::string pos = core::StrCat(state.upto, "_", state.typing, "_", serial);
  auto shared = std::make_shared<const ConnectionState>(std::move(state));
  auto it = connections.find(std::string(conn_id));
  if (it == connections.end()) {
    if (connections.size() >= kMaxConnectionsPerDevice) {
      auto oldest = connections.begin();
      for (auto c = connections.begin(); c != connections.end(); ++c) {
        if (c->second.last_used < oldest->second.last_used) oldest = c;
      }
      connections.erase(oldest);
    }
    it = connections.emplace(std::string(conn_id), Connection{}).first;
  }
  Connection& c = it->second;
  if (from_pos && *from_pos == c.latest_pos) {
    c.previous_pos = std::move(c.latest_pos);
    c.previous = std::move(c.latest);
  } else if (!from_pos || *from_pos != c.previous_pos) {
    // A new connection (or one that restarted from an older pos): nothing before it is valid.
    c.previous_pos.clear();
    c.previous.reset();
  }
  // A retry from `previous_pos` keeps `previous` and replaces the response it had answered.
  c.latest_pos = pos;
  c.latest = std::move(shared);
  c.last_used = serial;
  return pos;
}

namespace {

using boost::json::array;
using boost::json::object;
using boost::json::value;

value OptionalJson(const std::optional<std::string>& s) { return s ? value(*s) : value(nullptr); }

array ElementsJson(const std::vector<RequiredStateElement>& elements) {
  array out;
  for (const auto& e : elements)
    out.push_back(array{OptionalJson(e.type), OptionalJson(e.state_key)});
  return out;
}

object StateJson(const ConnectionState& state) {
  object lists;
  for (const auto& [name, count] : state.list_counts) lists[name] = count;
  object rooms;
  for (const auto& [room_id, r] : state.rooms) {
    array required;
    for (const RequiredState& rs : r.config.required_state) {
      required.push_back(object{{"include", ElementsJson(rs.include)},
                                {"exclude", ElementsJson(rs.exclude)},
                                {"lazy", rs.lazy_members}});
    }
    rooms[room_id] = object{{"upto", r.upto},
                            {"membership", r.membership},
                            {"limit", r.config.timeline_limit},
                            {"required", std::move(required)},
                            {"lazy", array(r.lazy_members.begin(), r.lazy_members.end())},
                            {"bump", r.bump_stamp},
                            {"dm", r.is_dm}};
  }
  return object{{"upto", state.upto},
                {"typing", state.typing},
                {"lists", std::move(lists)},
                {"rooms", std::move(rooms)}};
}

uint64_t Uint(const object& o, std::string_view key) {
  const value* v = o.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_uint64()) return v->get_uint64();
  if (v->is_int64() && v->get_int64() > 0) return static_cast<uint64_t>(v->get_int64());
  return 0;
}

std::optional<std::string> OptionalFrom(const value& v) {
  if (v.is_string()) return std::string(v.get_string());
  return std::nullopt;
}

std::vector<RequiredStateElement> ElementsFrom(const value* v) {
  std::vector<RequiredStateElement> out;
  if (v == nullptr || !v->is_array()) return out;
  for (const value& e : v->get_array()) {
    if (!e.is_array() || e.get_array().size() != 2) continue;
    out.push_back({OptionalFrom(e.get_array()[0]), OptionalFrom(e.get_array()[1])});
  }
  return out;
}

// The state saved by StateJson. Typing serials are comparable across loads (typing.h: they start
// at the clock and are handed over too).
ConnectionState StateFrom(const object& o) {
  ConnectionState state;
  state.upto = Uint(o, "upto");
  state.typing = Uint(o, "typing");
  if (const auto* lists = o.if_contains("lists"); lists && lists->is_object()) {
    for (const auto& [name, count] : lists->get_object()) {
      state.list_counts[std::string(name)] = count.is_uint64()  ? count.get_uint64()
                                             : count.is_int64() ? count.get_int64()
                                                                : 0;
    }
  }
  if (const auto* rooms = o.if_contains("rooms"); rooms && rooms->is_object()) {
    for (const auto& [room_id, rv] : rooms->get_object()) {
      if (!rv.is_object()) continue;
      const object& r = rv.get_object();
      SentRoom sent;
      sent.upto = Uint(r, "upto");
      sent.membership = std::string(StringField(r, "membership"));
      sent.config.timeline_limit = Uint(r, "limit");
      if (const auto* required = r.if_contains("required"); required && required->is_array()) {
        for (const value& rs : required->get_array()) {
          if (!rs.is_object()) continue;
          const auto* lazy = rs.get_object().if_contains("lazy");
          sent.config.required_state.push_back(
              {.include = ElementsFrom(rs.get_object().if_contains("include")),
               .exclude = ElementsFrom(rs.get_object().if_contains("exclude")),
               .lazy_members = lazy != nullptr && lazy->is_bool() && lazy->get_bool()});
        }
      }
      if (const auto* lazy = r.if_contains("lazy"); lazy && lazy->is_array()) {
        for (const value& u : lazy->get_array()) {
          if (u.is_string()) sent.lazy_members.emplace(u.get_string());
        }
      }
      sent.bump_stamp = Uint(r, "bump");
      const auto* dm = r.if_contains("dm");
      sent.is_dm = dm != nullptr && dm->is_bool() && dm->get_bool();
      state.rooms[std::string(room_id)] = std::move(sent);
    }
  }
  return state;
}

}  // namespace

std::string SlidingConnections::Save() const {
  std::lock_guard lock(mu_);
  array devices;
  for (const auto& [key, connections] : devices_) {
    object conns;
    for (const auto& [conn_id, c] : connections) {
      object saved{{"latest_pos", c.latest_pos}, {"last_used", c.last_used}};
      if (c.latest) saved["latest"] = StateJson(*c.latest);
      if (c.previous) {
        saved["previous_pos"] = c.previous_pos;
        saved["previous"] = StateJson(*c.previous);
      }
      conns[conn_id] = std::move(saved);
    }
    devices.push_back(
        object{{"user", key.first}, {"device", key.second}, {"connections", std::move(conns)}});
  }
  return boost::json::serialize(object{{"counter", counter_}, {"devices", std::move(devices)}});
}

void SlidingConnections::Restore(std::string_view saved) {
  boost::system::error_code ec;
  value parsed = boost::json::parse(saved, ec);
  if (ec || !parsed.is_object()) return;
  const object& root = parsed.get_object();
  std::map<std::pair<std::string, std::string>, std::map<std::string, Connection>> devices;
  if (const auto* list = root.if_contains("devices"); list && list->is_array()) {
    for (const value& d : list->get_array()) {
      if (!d.is_object()) continue;
      const object& device = d.get_object();
      auto& connections = devices[{std::string(StringField(device, "user")),
                                   std::string(StringField(device, "device"))}];
      const auto* conns = device.if_contains("connections");
      if (conns == nullptr || !conns->is_object()) continue;
      for (const auto& [conn_id, cv] : conns->get_object()) {
        if (!cv.is_object()) continue;
        const object& c = cv.get_object();
        const auto* latest = c.if_contains("latest");
        if (latest == nullptr || !latest->is_object()) continue;
        Connection restored;
        restored.latest_pos = std::string(StringField(c, "latest_pos"));
        restored.latest = std::make_shared<const ConnectionState>(StateFrom(latest->get_object()));
        if (const auto* previous = c.if_contains("previous"); previous && previous->is_object()) {
          restored.previous_pos = std::string(StringField(c, "previous_pos"));
          restored.previous =
              std::make_shared<const ConnectionState>(StateFrom(previous->get_object()));
        }
        restored.last_used = Uint(c, "last_used");
        connections.emplace(std::string(conn_id), std::move(restored));
      }
    }
  }
  std::lock_guard lock(mu_);
  devices_ = std::move(devices);
  counter_ = std::max(counter_, Uint(root, "counter"));
}

}  // namespace conclave::service::sync_internal
