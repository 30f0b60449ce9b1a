// Logging for every subsystem. The sink (spdlog) lives in core only; modules format with fmt and
// hand finished lines to core, so no logger state is ever instantiated inside a module.
//
// Thread-safe.
#ifndef CONCLAVE_CORE_LOG_H_
#define CONCLAVE_CORE_LOG_H_

#include <string_view>
#include <utility>

#include "conclave/core/str_cat.h"

#include "absl/status/status.h"

namespace conclave::core {

enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError, kCritical, kOff };

// Sets the global level from its name (trace|debug|info|warn|error|critical|off). Returns
// kInvalidArgument for any other name. Takes effect immediately.
absl::Status SetLogLevel(std::string_view name);
// Returns the name of the current global level ("info", ...).
std::string_view LogLevelName();
bool LogEnabled(LogLevel level);
// Writes one line (`component` is e.g. "host", "http", "database").
void LogLine(LogLevel level, std::string_view component, std::string_view message);

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
