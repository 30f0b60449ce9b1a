// matrix_load: the compiled load client of bench/matrix/run.sh (see bench/README.md).
//
// Plain POSIX sockets, HTTP/1.1 keep-alive, one thread per client connection, no dependencies
// beyond the C++ standard library. Two modes:
//
//   matrix_load send --port P --tokens FILE --rooms FILE --threads N (--count N | --seconds S)
//       Closed loop: N connections, thread i sends as token i % tokens with
//       PUT /_matrix/client/v3/rooms/{room}/send/m.room.message/{unique txnId}; event j (a
//       shared counter) goes to room j % rooms, so --count C fills every room with C / rooms
//       events. Every token must be joined to every room. Prints events/s and the latency
//       distribution of the PUTs.
//
//   matrix_load wake --port P --sender-token T --tokens FILE --room ROOM --rounds R
//       One thread per token long-polls GET /_matrix/client/v3/sync?since=...&timeout=30000.
//       For each round the sender waits until every syncer has written its request (plus
//       --settle-ms, so that the server has parked it), takes the time, and sends one message
//       into ROOM. Each syncer records when it has fully read a sync response that contains
//       that message. Prints the distribution of (response fully read - just before the send
//       request is written) over all syncers and rounds.
//
// Output: `key=value` lines on stdout (run.sh parses them); diagnostics on stderr. Exit status
// 0 when every request succeeded, 1 when any failed (the counts are printed), 2 on bad usage.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "conclave/core/percent.h"

namespace {

using Clock = std::chrono::steady_clock;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr, "matrix_load: %s\n(see the comment at the top of matrix_load.cc)\n",
               why.c_str());
  std::exit(2);
}

// ----- HTTP/1.1 over one keep-alive TCP connection ---------------------------------------------

struct Response {
  int status = 0;
  std::string body;
};

class Connection {
 public:
  Connection(std::string host, int port) : host_(std::move(host)), port_(port) {}
  ~Connection() { Close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Writes the whole request (connecting first if needed). False on a socket error.
  bool Write(std::string_view method, std::string_view path, std::string_view token,
             std::string_view body) {
    if (fd_ < 0 && !Connect()) return false;
    std::string req;
    req.reserve(256 + body.size());
    req.append(method).append(" ").append(path).append(" HTTP/1.1\r\nHost: ");
    req.append(host_).append("\r\n");
    if (!token.empty()) req.append("Authorization: Bearer ").append(token).append("\r\n");
    if (method != "GET") {
      req.append("Content-Type: application/json\r\nContent-Length: ");
      req.append(std::to_string(body.size())).append("\r\n");
    }
    req.append("\r\n").append(body);
    size_t off = 0;
    while (off < req.size()) {
      ssize_t n = ::send(fd_, req.data() + off, req.size() - off, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        error_ = std::string("send: ") + std::strerror(errno);
        Close();
        return false;
      }
      off += static_cast<size_t>(n);
    }
    return true;
  }

  // Reads one whole response (Content-Length or chunked). False on a socket error, a timeout
  // (SO_RCVTIMEO, see SetReadTimeout) or a malformed response.
  bool Read(Response& out) {
    size_t header_end;
    while ((header_end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return false;
    }
    std::string_view head(buf_.data(), header_end);
    out.status = 0;
    out.body.clear();
    if (head.size() < 12 || head.substr(0, 5) != "HTTP/") return Fail("malformed status line");
    out.status = std::atoi(std::string(head.substr(9, 3)).c_str());
    std::optional<size_t> length;
    bool chunked = false, close_after = false;
    size_t pos = head.find("\r\n");
    while (pos != std::string_view::npos && pos < head.size()) {
      size_t next = head.find("\r\n", pos + 2);
      std::string_view line = head.substr(
          pos + 2, next == std::string_view::npos ? std::string_view::npos : next - pos - 2);
      size_t colon = line.find(':');
      if (colon != std::string_view::npos) {
        std::string name(line.substr(0, colon));
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        if (name == "content-length")
          length = std::strtoull(std::string(value).c_str(), nullptr, 10);
        if (name == "transfer-encoding" && value.find("chunked") != std::string_view::npos) {
          chunked = true;
        }
        if (name == "connection" && (value == "close" || value == "Close")) close_after = true;
      }
      pos = next;
    }
    buf_.erase(0, header_end + 4);
    if (chunked) {
      while (true) {
        size_t eol;
        while ((eol = buf_.find("\r\n")) == std::string::npos) {
          if (!Fill()) return false;
        }
        size_t size = std::strtoull(buf_.substr(0, eol).c_str(), nullptr, 16);
        while (buf_.size() < eol + 2 + size + 2) {
          if (!Fill()) return false;
        }
        out.body.append(buf_, eol + 2, size);
        buf_.erase(0, eol + 2 + size + 2);
        if (size == 0) break;
      }
    } else {
      if (!length) return Fail("response without Content-Length");
      while (buf_.size() < *length) {
        if (!Fill()) return false;
      }
      out.body.assign(buf_, 0, *length);
      buf_.erase(0, *length);
    }
    if (close_after) Close();
    return true;
  }

  bool Exchange(std::string_view method, std::string_view path, std::string_view token,
                std::string_view body, Response& out) {
    // One retry on a fresh connection if a kept-alive one turned out closed before any byte of
    // the response came back (an idle timeout between two requests).
    for (int attempt = 0; attempt < 2; ++attempt) {
      const bool reused = fd_ >= 0;
      if (!Write(method, path, token, body)) {
        if (reused) continue;
        return false;
      }
      if (Read(out)) return true;
      if (!reused || !eof_before_response_) return false;
    }
    return false;
  }

  void SetReadTimeout(int ms) {
    read_timeout_ms_ = ms;
    if (fd_ >= 0) ApplyTimeout();
  }
  const std::string& error() const { return error_; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    buf_.clear();
  }

 private:
  bool Connect() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return Fail(std::string("socket: ") + std::strerror(errno));
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ApplyTimeout();
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    if (::inet_pton(AF_INET, host_.c_str(), &addr.sin_addr) != 1) return Fail("bad host " + host_);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      return Fail(std::string("connect: ") + std::strerror(errno));
    }
    return true;
  }
  void ApplyTimeout() {
    timeval tv{read_timeout_ms_ / 1000, (read_timeout_ms_ % 1000) * 1000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  bool Fill() {
    char chunk[65536];
    while (true) {
      ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n > 0) {
        buf_.append(chunk, static_cast<size_t>(n));
        return true;
      }
      if (n < 0 && errno == EINTR) continue;
      eof_before_response_ = n == 0 && buf_.empty();
      return Fail(n == 0 ? std::string("connection closed by the server")
                         : std::string("recv: ") + std::strerror(errno));
    }
  }
  bool Fail(std::string why) {
    error_ = std::move(why);
    Close();
    return false;
  }

  std::string host_;
  int port_;
  int fd_ = -1;
  int read_timeout_ms_ = 60000;
  std::string buf_;
  std::string error_;
  bool eof_before_response_ = false;
};

// ----- helpers ---------------------------------------------------------------------------------

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  if (!in) Usage("cannot read " + path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) out.push_back(line);
  }
  if (out.empty()) Usage(path + " is empty");
  return out;
}

using conclave::core::PercentEncode;

// Value of a top-level-looking string field ("name":"value") found by text search; the
// responses parsed here are the server's compact JSON.
std::string JsonStringField(const std::string& body, std::string_view name) {
  std::string needle = "\"" + std::string(name) + "\":\"";
  size_t p = body.find(needle);
  if (p == std::string::npos) return "";
  p += needle.size();
  size_t e = body.find('"', p);
  return e == std::string::npos ? "" : body.substr(p, e - p);
}

// Nearest-rank percentile of sorted values.
int64_t Pct(const std::vector<int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

void PrintDistribution(const std::string& prefix, std::vector<int64_t> ns) {
  std::sort(ns.begin(), ns.end());
  auto us = [](int64_t v) { return static_cast<double>(v) / 1000.0; };
  double sum = 0;
  for (int64_t v : ns) sum += static_cast<double>(v);
  std::printf("%s_count=%zu\n", prefix.c_str(), ns.size());
  if (ns.empty()) return;
  std::printf("%s_mean_us=%.1f\n", prefix.c_str(), sum / static_cast<double>(ns.size()) / 1000.0);
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    std::string name = p == 99.9 ? "p999" : "p" + std::to_string(static_cast<int>(p));
    std::printf("%s_%s_us=%.1f\n", prefix.c_str(), name.c_str(), us(Pct(ns, p)));
  }
  std::printf("%s_min_us=%.1f\n%s_max_us=%.1f\n", prefix.c_str(), us(ns.front()), prefix.c_str(),
              us(ns.back()));
}

std::string RunNonce() {
  std::random_device rd;
  std::mt19937_64 gen(rd() ^ static_cast<uint64_t>(NowNs()));
  static const char* kAlnum = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(kAlnum[gen() % 36]);
  return out;
}

struct Args {
  std::map<std::string, std::string> values;
  std::string Get(const std::string& key,
                  std::optional<std::string> fallback = std::nullopt) const {
    auto it = values.find(key);
    if (it != values.end()) return it->second;
    if (!fallback) Usage("missing --" + key);
    return *fallback;
  }
  long Int(const std::string& key, std::optional<long> fallback = std::nullopt) const {
    auto it = values.find(key);
    if (it == values.end()) {
      if (!fallback) Usage("missing --" + key);
      return *fallback;
    }
    char* end = nullptr;
    long v = std::strtol(it->second.c_str(), &end, 10);
    if (end == it->second.c_str() || *end != '\0') Usage("--" + key + " must be an integer");
    return v;
  }
};

Args ParseArgs(int argc, char** argv, int first) {
  Args args;
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0 || i + 1 >= argc) Usage("bad argument " + a);
    args.values[a.substr(2)] = argv[++i];
  }
  return args;
}

// ----- send ------------------------------------------------------------------------------------

int RunSend(const Args& args) {
  const std::string host = args.Get("host", "127.0.0.1");
  const int port = static_cast<int>(args.Int("port"));
  const auto tokens = ReadLines(args.Get("tokens"));
  const auto rooms = ReadLines(args.Get("rooms"));
  const int threads = static_cast<int>(args.Int("threads", 16));
  const long count = args.Int("count", 0);
  const long seconds = args.Int("seconds", 0);
  if ((count > 0) == (seconds > 0)) Usage("give exactly one of --count and --seconds");
  if (threads < 1) Usage("--threads must be >= 1");
  const std::string nonce = RunNonce();
  std::vector<std::string> paths;
  for (const auto& r : rooms) {
    paths.push_back("/_matrix/client/v3/rooms/" + PercentEncode(r) + "/send/m.room.message/");
  }

  std::atomic<long> next{0};
  std::atomic<long> failures{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<int64_t> all_latencies;
  std::map<int, long> statuses;
  std::string first_error;
  const int64_t start = NowNs();
  const int64_t end = seconds > 0 ? start + seconds * 1'000'000'000LL : INT64_MAX;

  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      Connection conn(host, port);
      const std::string& token = tokens[static_cast<size_t>(t) % tokens.size()];
      std::vector<int64_t> lat;
      lat.reserve(count > 0 ? static_cast<size_t>(count / threads + 16) : 1 << 16);
      std::map<int, long> st;
      std::string err;
      long failed = 0;
      Response res;
      while (!stop.load(std::memory_order_relaxed)) {
        long j = next.fetch_add(1);
        if (count > 0 && j >= count) break;
        const std::string path = paths[static_cast<size_t>(j) % paths.size()] + nonce + "-" +
                                 std::to_string(t) + "-" + std::to_string(j);
        const std::string body = "{\"msgtype\":\"m.text\",\"body\":\"bench message " +
                                 std::to_string(j) + " from client " + std::to_string(t) + "\"}";
        const int64_t t0 = NowNs();
        const bool ok = conn.Exchange("PUT", path, token, body, res);
        const int64_t t1 = NowNs();
        if (!ok) {
          ++failed;
          ++st[-1];
          if (err.empty()) err = conn.error();
          if (failed > 100) break;  // the server is gone; do not spin
          continue;
        }
        ++st[res.status];
        if (res.status != 200) {
          ++failed;
          if (err.empty())
            err = "HTTP " + std::to_string(res.status) + ": " + res.body.substr(0, 300);
          continue;
        }
        lat.push_back(t1 - t0);
        if (t1 >= end) stop.store(true);
      }
      std::lock_guard lock(mu);
      all_latencies.insert(all_latencies.end(), lat.begin(), lat.end());
      for (auto [k, v] : st) statuses[k] += v;
      if (first_error.empty()) first_error = err;
      failures += failed;
    });
  }
  for (auto& th : pool) th.join();
  const double elapsed = static_cast<double>(NowNs() - start) / 1e9;
  std::printf("threads=%d\nelapsed_s=%.3f\nok=%zu\nfailed=%ld\nevents_per_s=%.1f\n", threads,
              elapsed, all_latencies.size(), failures.load(),
              static_cast<double>(all_latencies.size()) / elapsed);
  std::string st;
  for (auto [k, v] : statuses) {
    st += (st.empty() ? "" : ",") + (k < 0 ? std::string("socket") : std::to_string(k)) + ":" +
          std::to_string(v);
  }
  std::printf("statuses=%s\n", st.c_str());
  PrintDistribution("latency", std::move(all_latencies));
  if (!first_error.empty())
    std::fprintf(stderr, "matrix_load send: first error: %s\n", first_error.c_str());
  return failures.load() == 0 ? 0 : 1;
}

// ----- wake ------------------------------------------------------------------------------------

struct WakeShared {
  std::mutex mu;
  std::condition_variable cv;
  int rounds = 0;
  std::vector<int64_t> t0;                // per round: just before the send request is written
  std::vector<int> armed;                 // per syncer: the round its outstanding sync waits for
  std::vector<int> received;              // per round: syncers that have seen the message
  std::vector<std::vector<int64_t>> lat;  // per round: wake latencies
  std::atomic<bool> stop{false};
  long spurious = 0;  // sync responses without the awaited message
  long early = 0;     // the awaited message arrived before t0 was published (cannot happen)
  long failures = 0;
  std::string first_error;
  std::string nonce;

  std::string Marker(int round) const {
    return "wake-" + nonce + "-" + std::to_string(round) + "-";
  }
  void Fail(const std::string& why) {
    std::lock_guard lock(mu);
    ++failures;
    if (first_error.empty()) first_error = why;
    cv.notify_all();
  }
};

void Syncer(WakeShared& s, int index, const std::string& host, int port, const std::string& token,
            long timeout_ms) {
  Connection conn(host, port);
  conn.SetReadTimeout(static_cast<int>(timeout_ms + 15000));
  Response res;
  // The initial sync (no since) gives the first since token.
  if (!conn.Exchange("GET", "/_matrix/client/v3/sync?timeout=0", token, "", res) ||
      res.status != 200) {
    s.Fail("syncer " + std::to_string(index) +
           ": initial sync: " + (res.status ? "HTTP " + std::to_string(res.status) : conn.error()));
    return;
  }
  std::string since = JsonStringField(res.body, "next_batch");
  if (since.empty()) {
    s.Fail("syncer " + std::to_string(index) + ": no next_batch in the initial sync");
    return;
  }
  int round = 0;
  while (round < s.rounds && !s.stop.load()) {
    const std::string path = "/_matrix/client/v3/sync?since=" + PercentEncode(since) +
                             "&timeout=" + std::to_string(timeout_ms);
    if (!conn.Write("GET", path, token, "")) {
      s.Fail("syncer " + std::to_string(index) + ": " + conn.error());
      return;
    }
    {
      std::lock_guard lock(s.mu);
      s.armed[static_cast<size_t>(index)] = round;
      s.cv.notify_all();
    }
    const bool ok = conn.Read(res);
    const int64_t t = NowNs();
    if (!ok || res.status != 200) {
      if (s.stop.load()) return;
      s.Fail("syncer " + std::to_string(index) + ": sync: " +
             (ok ? "HTTP " + std::to_string(res.status) + ": " + res.body.substr(0, 300)
                 : conn.error()));
      return;
    }
    const std::string next = JsonStringField(res.body, "next_batch");
    if (next.empty()) {
      s.Fail("syncer " + std::to_string(index) + ": no next_batch");
      return;
    }
    since = next;
    const bool has = res.body.find(s.Marker(round)) != std::string::npos;
    std::lock_guard lock(s.mu);
    if (!has) {
      ++s.spurious;
      continue;
    }
    const int64_t t0 = s.t0[static_cast<size_t>(round)];
    if (t0 == 0 || t < t0) {
      ++s.early;
    } else {
      s.lat[static_cast<size_t>(round)].push_back(t - t0);
    }
    ++s.received[static_cast<size_t>(round)];
    s.cv.notify_all();
    ++round;
  }
}

int RunWake(const Args& args) {
  const std::string host = args.Get("host", "127.0.0.1");
  const int port = static_cast<int>(args.Int("port"));
  const std::string sender_token = args.Get("sender-token");
  const auto tokens = ReadLines(args.Get("tokens"));
  const std::string room = args.Get("room");
  const int rounds = static_cast<int>(args.Int("rounds", 300));
  const long settle_ms = args.Int("settle-ms", 20);
  const long timeout_ms = args.Int("timeout-ms", 30000);
  const long round_timeout_ms = args.Int("round-timeout-ms", 5000);
  if (rounds < 1) Usage("--rounds must be >= 1");

  WakeShared s;
  s.rounds = rounds;
  s.nonce = RunNonce();
  s.t0.assign(static_cast<size_t>(rounds), 0);
  s.received.assign(static_cast<size_t>(rounds), 0);
  s.lat.resize(static_cast<size_t>(rounds));
  s.armed.assign(tokens.size(), -1);
  const size_t n = tokens.size();

  std::vector<std::thread> pool;
  for (size_t i = 0; i < n; ++i) {
    pool.emplace_back(
        [&, i] { Syncer(s, static_cast<int>(i), host, port, tokens[i], timeout_ms); });
  }

  Connection sender(host, port);
  const std::string base =
      "/_matrix/client/v3/rooms/" + PercentEncode(room) + "/send/m.room.message/" + s.nonce + "-";
  std::vector<int64_t> send_lat, last_lat;
  long missed = 0;
  const int64_t start = NowNs();
  for (int r = 0; r < rounds; ++r) {
    {
      std::unique_lock lock(s.mu);
      const bool ready = s.cv.wait_for(lock, std::chrono::milliseconds(round_timeout_ms), [&] {
        if (s.failures > 0) return true;
        return std::all_of(s.armed.begin(), s.armed.end(), [&](int a) { return a == r; });
      });
      if (s.failures > 0) break;
      if (!ready) {
        ++s.failures;
        s.first_error = "round " + std::to_string(r) + ": the syncers did not all re-poll within " +
                        std::to_string(round_timeout_ms) + " ms";
        break;
      }
    }
    // Let the server read and park the syncs just written.
    std::this_thread::sleep_for(std::chrono::milliseconds(settle_ms));
    const std::string body = "{\"msgtype\":\"m.text\",\"body\":\"" + s.Marker(r) + "end\"}";
    const std::string path = base + std::to_string(r);
    const int64_t t0 = NowNs();
    {
      std::lock_guard lock(s.mu);
      s.t0[static_cast<size_t>(r)] = t0;
    }
    Response res;
    const bool ok = sender.Exchange("PUT", path, sender_token, body, res);
    const int64_t t1 = NowNs();
    if (!ok || res.status != 200) {
      s.Fail("round " + std::to_string(r) + ": send: " +
             (ok ? "HTTP " + std::to_string(res.status) + ": " + res.body.substr(0, 300)
                 : sender.error()));
      break;
    }
    send_lat.push_back(t1 - t0);
    std::unique_lock lock(s.mu);
    const bool all = s.cv.wait_for(lock, std::chrono::milliseconds(round_timeout_ms), [&] {
      return s.failures > 0 || s.received[static_cast<size_t>(r)] == static_cast<int>(n);
    });
    if (s.failures > 0) break;
    if (!all) {
      missed += static_cast<long>(n) - s.received[static_cast<size_t>(r)];
      ++s.failures;
      s.first_error = "round " + std::to_string(r) + ": only " +
                      std::to_string(s.received[static_cast<size_t>(r)]) + " of " +
                      std::to_string(n) + " syncers saw the message within " +
                      std::to_string(round_timeout_ms) + " ms";
      break;
    }
    const auto& l = s.lat[static_cast<size_t>(r)];
    if (!l.empty()) last_lat.push_back(*std::max_element(l.begin(), l.end()));
  }
  const double elapsed = static_cast<double>(NowNs() - start) / 1e9;
  s.stop.store(true);
  // A syncer that failed or was cut short may still be blocked in recv on a parked sync: detach
  // them all, and end the process with _Exit below.
  for (auto& th : pool) th.detach();

  std::lock_guard lock(s.mu);
  std::vector<int64_t> all;
  int rounds_done = 0;
  for (int r = 0; r < rounds; ++r) {
    if (s.received[static_cast<size_t>(r)] == static_cast<int>(n)) ++rounds_done;
    all.insert(all.end(), s.lat[static_cast<size_t>(r)].begin(),
               s.lat[static_cast<size_t>(r)].end());
  }
  std::printf(
      "syncers=%zu\nrounds=%d\nrounds_done=%d\nelapsed_s=%.3f\nspurious=%ld\nearly=%ld\n"
      "missed=%ld\nfailed=%ld\n",
      n, rounds, rounds_done, elapsed, s.spurious, s.early, missed, s.failures);
  PrintDistribution("wake", all);
  // The first and the last fifth of the rounds apart: the room's history grows by one message
  // per round, so a cost that grows with it shows here.
  std::vector<int64_t> early_rounds, late_rounds;
  const int fifth = std::max(1, rounds / 5);
  for (int r = 0; r < rounds; ++r) {
    const auto& l = s.lat[static_cast<size_t>(r)];
    if (r < fifth) early_rounds.insert(early_rounds.end(), l.begin(), l.end());
    if (r >= rounds - fifth) late_rounds.insert(late_rounds.end(), l.begin(), l.end());
  }
  PrintDistribution("wake_first_fifth", early_rounds);
  PrintDistribution("wake_last_fifth", late_rounds);
  PrintDistribution("wake_last", last_lat);  // per round: the slowest syncer
  PrintDistribution("send", send_lat);
  std::fflush(stdout);
  if (!s.first_error.empty()) std::fprintf(stderr, "matrix_load wake: %s\n", s.first_error.c_str());
  const int status = s.failures == 0 && rounds_done == rounds ? 0 : 1;
  std::_Exit(status);  // detached syncers are blocked in recv
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) Usage("usage: matrix_load send|wake --option value ...");
  const std::string mode = argv[1];
  Args args = ParseArgs(argc, argv, 2);
  if (mode == "send") return RunSend(args);
  if (mode == "wake") return RunWake(args);
  Usage("unknown mode " + mode);
}
