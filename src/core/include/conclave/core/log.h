// Logging for every subsystem. The sink (stderr, text or json lines) lives in core only; modules
// format with fmt and hand finished lines to core, so no logger state is ever instantiated
// inside a module.
//
// Thread-safe.
#ifndef CONCLAVE_CORE_LOG_H_
#define CONCLAVE_CORE_LOG_H_

#include <initializer_list>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "conclave/core/str_cat.h"

namespace conclave::core {

enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError, kCritical, kOff };

// Sets the global level from its name (trace|debug|info|warn|error|critical|off). Returns
// kInvalidArgument for any other name. Takes effect immediately.
absl::Status SetLogLevel(std::string_view name);
// Returns the name of the current global level ("info", ...).
std::string_view LogLevelName();
bool LogEnabled(LogLevel level);
// Writes one line (`component` is e.g. "host", "http", "database") to stderr, in the current
// format, with one write(2).
void LogLine(LogLevel level, std::string_view component, std::string_view message);

// One more field of a line in the json format (the text format shows `message` only). `value`
// is written as a JSON string, or as it is when `raw` (a number, true, false, null: the caller
// guarantees valid JSON).
struct LogField {
  std::string_view key;
  std::string_view value;
  bool raw = false;
};
// Writes one line like LogLine() plus `fields` (json format only).
void LogLineWithFields(LogLevel level, std::string_view component, std::string_view message,
                       std::initializer_list<LogField> fields);

// Sets the line format from its name: "text" (default: `<local time> <level> [<component>]
// <message>`) or "json" (one object per line: ts (RFC 3339 UTC, milliseconds), level,
// component, msg, and the fields of LogLineWithFields). Returns kInvalidArgument for any other
// name. Takes effect immediately; thread-safe.
absl::Status SetLogFormat(std::string_view name);
// Returns "text" or "json".
std::string_view LogFormatName();

// Turns the HTTP access log (config key `access_log`: one `access` line at info level per
// request) on or off. Takes effect at the next request; thread-safe.
void SetAccessLogEnabled(bool enabled);
bool AccessLogEnabled();

template <typename... Args>
void Log(LogLevel level, std::string_view component, fmt::format_string<Args...> format,
         Args&&... args) {
  if (!LogEnabled(level)) return;
  LogLine(level, component, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace conclave::core

#define CONCLAVE_LOG(level, component, ...) \
  ::conclave::core::Log(::conclave::core::LogLevel::level, component, __VA_ARGS__)

#endif  // CONCLAVE_CORE_LOG_H_
