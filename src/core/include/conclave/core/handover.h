// Client connections handed from one image of the process to the next at an exec restart, and
// the record that describes them (docs/hot-reload.md, "Exec restart"). Owned by core; used by
// the HTTP engine (which detaches and adopts the connections) and by listen_fds (which passes
// them across exec).
#ifndef CONCLAVE_CORE_HANDOVER_H_
#define CONCLAVE_CORE_HANDOVER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace conclave::core {

// One client connection between two of its requests: nothing of it is buffered in the process
// (bytes a client sent since wait in the socket). The holder owns `fd`.
struct HandedConnection {
  int fd = -1;  // a connected TCP socket
  // The listener it was accepted on: kHttpListenerName or kMetricsListenerName (listen_fds.h).
  std::string listener;
};

// What an exec restart passes to the next image besides the listening sockets.
struct HandOver {
  std::vector<HandedConnection> connections;
  // Connections the previous image closed instead of handing them over: still busy when the
  // bound (reload_drain_timeout) ran out.
  uint64_t closed_busy = 0;
  // Handed connections this image closed at start, because the record or the descriptor was
  // invalid (each one logged).
  uint64_t closed_invalid = 0;
};

// The record, as text. Format (one item per line, fields separated by one space):
//
//   conclave-handover 1            version; a reader refuses any other
//   closed-busy <n>                HandOver::closed_busy of the image that wrote it
//   conn <fd> <listener> <peer> <tls>   one per connection: its descriptor number in the new
//                                  image, kHttpListenerName or kMetricsListenerName, the peer as
//                                  PeerName() gives it, and "none" (no TLS yet)
//   end                            absent: the record is truncated
struct HandOverRecord {
  struct Connection {
    int fd = -1;
    std::string listener;
    std::string peer;
    std::string tls = "none";
  };
  std::vector<Connection> connections;
  uint64_t closed_busy = 0;
};
inline constexpr int kHandOverRecordVersion = 1;

// Returns `record` as text (format above).
std::string EncodeHandOverRecord(const HandOverRecord& record);
// Parses a record written by EncodeHandOverRecord(). kInvalidArgument naming the line for
// anything else: another version, an unknown line, a malformed or duplicate descriptor, an
// unknown listener or TLS mode, a missing "end".
absl::StatusOr<HandOverRecord> ParseHandOverRecord(std::string_view text);

// Returns the peer of connected socket `fd` as "1.2.3.4:port" or "[::1]:port", or "" when it
// has none (not a socket, not connected).
std::string PeerName(int fd);
// Checks that `fd` is a connected TCP socket (not a listening one) whose peer is `peer`: OK, or
// kFailedPrecondition saying what it is instead.
absl::Status CheckHandedSocket(int fd, std::string_view peer);

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_HANDOVER_H_
