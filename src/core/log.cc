#include "conclave/core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <string>

#include "conclave/core/str_cat.h"

namespace conclave::core {
namespace {

std::atomic<LogLevel> g_level{LogLevel::kInfo};

spdlog::logger& Logger() {
  // Core is permanent, so this static lives for the whole process.
  static auto* logger = [] {
    auto l = spdlog::stderr_color_mt("conclave");
    l->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %v");
    l->set_level(spdlog::level::trace);
    l->flush_on(spdlog::level::trace);
    return l.get();
  }();
  return *logger;
}

spdlog::level::level_enum ToSpd(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace: return spdlog::level::trace;
    case LogLevel::kDebug: return spdlog::level::debug;
    case LogLevel::kInfo: return spdlog::level::info;
    case LogLevel::kWarn: return spdlog::level::warn;
    case LogLevel::kError: return spdlog::level::err;
    case LogLevel::kCritical: return spdlog::level::critical;
    case LogLevel::kOff: return spdlog::level::off;
  }
  return spdlog::level::info;
}

constexpr std::pair<std::string_view, LogLevel> kLevelNames[] = {
    {"trace", LogLevel::kTrace}, {"debug", LogLevel::kDebug}, {"info", LogLevel::kInfo},
    {"warn", LogLevel::kWarn},   {"error", LogLevel::kError}, {"critical", LogLevel::kCritical},
    {"off", LogLevel::kOff}};

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
  return level != LogLevel::kOff && static_cast<int>(level) >= static_cast<int>(g_level.load());
}

void LogLine(LogLevel level, std::string_view component, std::string_view message) {
  Logger().log(ToSpd(level), "[{}] {}", component, message);
}

}  // namespace conclave::core
