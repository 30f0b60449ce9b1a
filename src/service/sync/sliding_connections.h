// Private to sync/: the per-connection state of simplified sliding sync (MSC4186 "Connections"):
// what each (user, device, conn_id) was sent, under the `pos` that answered it.
#ifndef CONCLAVE_SERVICE_SYNC_SLIDING_CONNECTIONS_H_
#define CONCLAVE_SERVICE_SYNC_SLIDING_CONNECTIONS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "conclave/service/sync/sliding_sync.h"

namespace conclave::service::sync_internal {

// The room configs of every rule that matched a room, combined as MSC4186 "Combining room
// configs" says: the largest timeline_limit, and a state event wanted by any of them.
struct CombinedConfig {
  size_t timeline_limit = 0;
  std::vector<RequiredState> required_state{};  // one per distinct rule config
  bool operator==(const CombinedConfig&) const = default;
  // Adds `config` to the combination.
  void Add(const SlidingRoomConfig& config);
  bool lazy_members() const;
};

// What a connection sent of one room.
struct SentRoom {
  uint64_t upto = 0;                     // the room's data is sent up to this stream position
  std::string membership{};              // the user's membership then
  CombinedConfig config{};               // the combined room config then
  std::set<std::string> lazy_members{};  // m.room.member state keys sent by lazy loading
  uint64_t bump_stamp = 0;
  bool is_dm = false;
};

// The state of a connection after one response. Value type.
struct ConnectionState {
  uint64_t upto = 0;    // stream position the response covered
  uint64_t typing = 0;  // typing serial the response covered
  std::map<std::string, SentRoom> rooms{};
  std::map<std::string, size_t> list_counts{};
};

// The connections of every user, in memory. Keeps, per connection, the state under the newest
// `pos` it issued and under the one before it (a client may resend a request whose response it
// never processed); a request with the newest drops the older. At most kMaxConnectionsPerDevice
// conn_ids per device: a new one beyond that drops the least recently used. Thread-safe.
class SlidingConnections {
 public:
  static constexpr size_t kMaxConnectionsPerDevice = 16;

  // The state `pos` answered on this connection, or nullptr when the connection never issued it
  // or dropped it (then M_UNKNOWN_POS).
  std::shared_ptr<const ConnectionState> Resume(std::string_view user_id,
                                                std::string_view device_id,
                                                std::string_view conn_id, std::string_view pos);
  // Stores `state` as the answer to a request made with `from_pos` (nullopt: a new connection,
  // which drops what the connection had) and returns its new `pos`.
  std::string Store(std::string_view user_id, std::string_view device_id, std::string_view conn_id,
                    const std::optional<std::string>& from_pos, ConnectionState state);

  // Every connection as JSON, for the service module's reload hand-over (Homeserver::Save), and
  // back. Restore replaces what this holds; malformed input restores nothing (the clients'
  // next requests then get M_UNKNOWN_POS and start again).
  std::string Save() const;
  void Restore(std::string_view saved);

 private:
  struct Connection {
    std::string latest_pos;
    std::shared_ptr<const ConnectionState> latest;
    std::string previous_pos;
    std::shared_ptr<const ConnectionState> previous;
    uint64_t last_used = 0;
  };
  mutable std::mutex mu_;
  // (user, device) → conn_id → connection.
  std::map<std::pair<std::string, std::string>, std::map<std::string, Connection>> devices_;
  uint64_t counter_ = 0;  // under mu_: makes every pos unique
};

}  // namespace conclave::service::sync_internal

#endif  // CONCLAVE_SERVICE_SYNC_SLIDING_CONNECTIONS_H_
