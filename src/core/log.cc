#include "conclave/core/log.h"

#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>

#include "conclave/core/str_cat.h"

namespace conclave::core {
namespace {

enum class LogFormat { kText, kJson };

std::atomic<LogLevel> g_level{LogLevel::kInfo};
std::atomic<LogFormat> g_format{LogFormat::kText};
std::atomic<bool> g_access_log{true};

constexpr std::pair<std::string_view, LogLevel> kLevelNames[] = {
    {"trace", LogLevel::kTrace}, {"debug", LogLevel::kDebug}, {"info", LogLevel::kInfo},
    {"warn", LogLevel::kWarn},   {"error", LogLevel::kError}, {"critical", LogLevel::kCritical},
    {"off", LogLevel::kOff}};

std::string_view JsonLevel(LogLevel level) {
  for (const auto& [name, l] : kLevelNames) {
    if (l == level) return name;
  }
  return "info";
}

// The text format keeps the level words and colours of the spdlog pattern it replaces
// ("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %v"), so existing log readers keep working.
std::string_view TextLevel(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace:
      return "trace";
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info ";
    case LogLevel::kWarn:
      return "warning";
    case LogLevel::kError:
      return "error";
    case LogLevel::kCritical:
      return "critical";
    case LogLevel::kOff:
      return "off  ";
  }
  return "info ";
}

std::string_view Colour(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace:
      return "\033[37m";
    case LogLevel::kDebug:
      return "\033[36m";
    case LogLevel::kInfo:
      return "\033[32m";
    case LogLevel::kWarn:
      return "\033[33m\033[1m";
    case LogLevel::kError:
      return "\033[31m\033[1m";
    case LogLevel::kCritical:
      return "\033[1m\033[41m";
    case LogLevel::kOff:
      return "";
  }
  return "";
}

// Appends `text` as the inside of a JSON string (RFC 8259 section 7). Invalid UTF-8 becomes
// U+FFFD, so every line parses whatever bytes a message carries.
void AppendJsonEscaped(std::string* out, std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    // Fast path: a run of printable ASCII that needs no escaping, appended at once.
    const unsigned char* run = p;
    while (run < end && *run >= 0x20 && *run < 0x7f && *run != '"' && *run != '\\') ++run;
    if (run != p) {
      out->append(reinterpret_cast<const char*>(p), run - p);
      p = run;
      continue;
    }
    const unsigned char c = *p;
    if (c < 0x80) {
      switch (c) {
        case '"':
          out->append("\\\"");
          break;
        case '\\':
          out->append("\\\\");
          break;
        case '\n':
          out->append("\\n");
          break;
        case '\r':
          out->append("\\r");
          break;
        case '\t':
          out->append("\\t");
          break;
        default:
          if (c < 0x20 || c == 0x7f) {
            StrAppend(out, fmt::format("\\u{:04x}", c));
          } else {
            out->push_back(static_cast<char>(c));
          }
      }
      ++p;
      continue;
    }
    // A well-formed multi-byte sequence (no overlongs, no surrogates, at most U+10FFFF).
    size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      if (c == 0xE0) low = 0xA0;
      if (c == 0xED) high = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      if (c == 0xF0) low = 0x90;
      if (c == 0xF4) high = 0x8F;
    }
    bool valid = length > 0 && static_cast<size_t>(end - p) >= length;
    for (size_t i = 1; valid && i < length; ++i) {
      const unsigned char lo = i == 1 ? low : 0x80, hi = i == 1 ? high : 0xBF;
      valid = p[i] >= lo && p[i] <= hi;
    }
    if (valid) {
      out->append(reinterpret_cast<const char*>(p), length);
      p += length;
    } else {
      out->append("\\ufffd");
      ++p;
    }
  }
}

// Serializes writes so lines never interleave, and caches the formatted second.
struct Sink {
  std::mutex mu;
  const bool colour = isatty(STDERR_FILENO) == 1;
  time_t local_second = -1;
  char local_prefix[32] = {};  // "2024-01-02T03:04:05"
  time_t utc_second = -1;
  char utc_prefix[32] = {};
};

Sink& TheSink() {
  // Core is permanent, so this lives for the whole process (never destroyed: no exit race).
  static Sink* sink = new Sink;
  return *sink;
}

const char* SecondPrefix(Sink& sink, time_t second, bool utc) {
  time_t& cached = utc ? sink.utc_second : sink.local_second;
  char* prefix = utc ? sink.utc_prefix : sink.local_prefix;
  if (cached != second) {
    struct tm parts {};
    if (utc) {
      gmtime_r(&second, &parts);
    } else {
      localtime_r(&second, &parts);
    }
    strftime(prefix, sizeof(sink.utc_prefix), "%Y-%m-%dT%H:%M:%S", &parts);
    cached = second;
  }
  return prefix;
}

void WriteAll(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(STDERR_FILENO, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere to report it
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// Writes `head` then `tail` with one writev(2) (the usual case), so that lines from several
// processes sharing the descriptor do not interleave either.
void WriteLine(std::string_view head, std::string_view tail) {
  iovec parts[2] = {{const_cast<char*>(head.data()), head.size()},
                    {const_cast<char*>(tail.data()), tail.size()}};
  ssize_t n;
  do {
    n = writev(STDERR_FILENO, parts, 2);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return;
  size_t done = static_cast<size_t>(n);
  if (done < head.size()) {
    WriteAll(head.substr(done));
    done = head.size();
  }
  WriteAll(tail.substr(std::min(tail.size(), done - head.size())));
}

void Emit(LogLevel level, std::string_view component, std::string_view message,
          std::initializer_list<LogField> fields) {
  const LogFormat format = g_format.load(std::memory_order_relaxed);
  Sink& sink = TheSink();
  // Everything after the timestamp is formatted before taking the lock.
  std::string tail;
  tail.reserve(64 + component.size() + message.size());
  if (format == LogFormat::kJson) {
    // Plain appends, no fmt: this runs for every access-log line.
    tail.append("\"level\":\"").append(JsonLevel(level)).append("\",\"component\":\"");
    AppendJsonEscaped(&tail, component);
    tail.append("\",\"msg\":\"");
    AppendJsonEscaped(&tail, message);
    tail.push_back('"');
    for (const LogField& field : fields) {
      tail.append(",\"");
      AppendJsonEscaped(&tail, field.key);
      tail.append("\":");
      if (field.raw) {
        tail.append(field.value);
      } else {
        tail.push_back('"');
        AppendJsonEscaped(&tail, field.value);
        tail.push_back('"');
      }
    }
    tail.append("}\n");
  } else {
    if (sink.colour) {
      tail.append(Colour(level)).append(TextLevel(level)).append("\033[m");
    } else {
      tail.append(TextLevel(level));
    }
    tail.append(" [").append(component).append("] ").append(message).append("\n");
  }
  // The timestamp is taken under the lock, so lines appear in time order.
  std::lock_guard lock(sink.mu);
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  const int millis = static_cast<int>(now.tv_nsec / 1000000);
  const bool json = format == LogFormat::kJson;
  char head[48];  // no allocation: `{"ts":"` + 19 + `.mmm` + `Z",`
  size_t length = 0;
  auto put = [&](std::string_view part) {
    std::memcpy(head + length, part.data(), part.size());
    length += part.size();
  };
  if (json) put("{\"ts\":\"");
  put(SecondPrefix(sink, now.tv_sec, /*utc=*/json));
  const char digits[] = {'.', static_cast<char>('0' + millis / 100),
                         static_cast<char>('0' + millis / 10 % 10),
                         static_cast<char>('0' + millis % 10)};
  put(std::string_view(digits, sizeof(digits)));
  put(json ? "Z\"," : " ");
  WriteLine(std::string_view(head, length), tail);
}

}  // namespace

absl::Status SetLogLevel(std::string_view name) {
  for (const auto& [n, level] : kLevelNames) {
    if (n == name) {
      g_level.store(level);
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(core::StrCat(
      "unknown log level '", name, "' (expected trace, debug, info, warn, error, critical, off)"));
}

std::string_view LogLevelName() {
  const LogLevel current = g_level.load();
  for (const auto& [n, level] : kLevelNames) {
    if (level == current) return n;
  }
  return "info";
}

bool LogEnabled(LogLevel level) {
  return level != LogLevel::kOff &&
         static_cast<int>(level) >= static_cast<int>(g_level.load(std::memory_order_relaxed));
}

void LogLine(LogLevel level, std::string_view component, std::string_view message) {
  Emit(level, component, message, {});
}

void LogLineWithFields(LogLevel level, std::string_view component, std::string_view message,
                       std::initializer_list<LogField> fields) {
  Emit(level, component, message, fields);
}

absl::Status SetLogFormat(std::string_view name) {
  if (name == "text") {
    g_format.store(LogFormat::kText);
  } else if (name == "json") {
    g_format.store(LogFormat::kJson);
  } else {
    return absl::InvalidArgumentError(
        core::StrCat("unknown log format '", name, "' (expected text or json)"));
  }
  return absl::OkStatus();
}

std::string_view LogFormatName() { return g_format.load() == LogFormat::kJson ? "json" : "text"; }

void SetAccessLogEnabled(bool enabled) { g_access_log.store(enabled, std::memory_order_relaxed); }

bool AccessLogEnabled() { return g_access_log.load(std::memory_order_relaxed); }

}  // namespace conclave::core
