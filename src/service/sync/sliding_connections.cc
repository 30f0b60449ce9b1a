#include "sliding_connections.h"

#include <algorithm>
#include <utility>

#include "conclave/core/str_cat.h"

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

}  // namespace conclave::service::sync_internal
