#include "conclave/core/handover.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "conclave/core/listen_fds.h"
#include "conclave/core/str_cat.h"

namespace conclave::core {
namespace {

constexpr char kMagic[] = "conclave-handover";

absl::Status Bad(size_t line, std::string_view what) {
  return absl::InvalidArgumentError(StrCat("hand-over record, line ", line, ": ", what));
}

}  // namespace

std::string EncodeHandOverRecord(const HandOverRecord& record) {
  std::string out = StrCat(kMagic, " ", kHandOverRecordVersion, "\n");
  StrAppend(&out, "closed-busy ", record.closed_busy, "\n");
  for (const auto& c : record.connections) {
    StrAppend(&out, "conn ", c.fd, " ", c.listener, " ", c.peer, " ", c.tls, "\n");
  }
  out += "end\n";
  return out;
}

absl::StatusOr<HandOverRecord> ParseHandOverRecord(std::string_view text) {
  HandOverRecord record;
  std::vector<absl::string_view> lines =
      absl::StrSplit(absl::string_view(text.data(), text.size()), '\n');
  // The text ends with a newline: the last piece is empty.
  if (lines.size() < 2 || !lines.back().empty()) return Bad(lines.size(), "no final newline");
  lines.pop_back();
  std::set<int> fds;
  bool ended = false;
  for (size_t i = 0; i < lines.size(); ++i) {
    const size_t number = i + 1;
    if (ended) return Bad(number, "text after 'end'");
    std::vector<absl::string_view> f = absl::StrSplit(lines[i], ' ');
    if (i == 0) {
      int version = 0;
      if (f.size() != 2 || f[0] != kMagic || !absl::SimpleAtoi(f[1], &version)) {
        return Bad(number, "not a hand-over record");
      }
      if (version != kHandOverRecordVersion) {
        return Bad(number, StrCat("version ", version, ", this build reads version ",
                                  kHandOverRecordVersion));
      }
    } else if (f[0] == "closed-busy") {
      if (f.size() != 2 || !absl::SimpleAtoi(f[1], &record.closed_busy)) {
        return Bad(number, "malformed closed-busy");
      }
    } else if (f[0] == "conn") {
      HandOverRecord::Connection c;
      if (f.size() != 5 || !absl::SimpleAtoi(f[1], &c.fd) || c.fd < 0) {
        return Bad(number, "malformed conn");
      }
      if (!fds.insert(c.fd).second) return Bad(number, StrCat("descriptor ", c.fd, " twice"));
      c.listener = std::string(f[2]);
      if (c.listener != kHttpListenerName && c.listener != kMetricsListenerName) {
        return Bad(number, StrCat("unknown listener '", c.listener, "'"));
      }
      c.peer = std::string(f[3]);
      if (c.peer.empty()) return Bad(number, "empty peer");
      c.tls = std::string(f[4]);
      if (c.tls != "none") return Bad(number, StrCat("unknown TLS mode '", c.tls, "'"));
      record.connections.push_back(std::move(c));
    } else if (f[0] == "end" && f.size() == 1) {
      ended = true;
    } else {
      return Bad(number, "unknown line");
    }
  }
  if (!ended) return Bad(lines.size(), "no 'end' line (truncated?)");
  return record;
}

std::string PeerName(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "";
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    if (inet_ntop(AF_INET, &a->sin_addr, text, sizeof(text)) == nullptr) return "";
    return StrCat(text, ":", ntohs(a->sin_port));
  }
  if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    if (inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof(text)) == nullptr) return "";
    return StrCat("[", text, "]:", ntohs(a->sin6_port));
  }
  return "";
}

absl::Status CheckHandedSocket(int fd, std::string_view peer) {
  int type = 0, listening = 0;
  socklen_t len = sizeof(type);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) {
    return absl::FailedPreconditionError(
        StrCat("descriptor ", fd, " is not a socket: ", std::strerror(errno)));
  }
  len = sizeof(listening);
  if (type != SOCK_STREAM || getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 ||
      listening != 0) {
    return absl::FailedPreconditionError(
        StrCat("descriptor ", fd, " is not a connected stream socket"));
  }
  const std::string actual = PeerName(fd);
  if (actual != peer) {
    return absl::FailedPreconditionError(
        StrCat("descriptor ", fd, " is connected to '", actual, "', the record says '", peer, "'"));
  }
  return absl::OkStatus();
}

}  // namespace conclave::core
