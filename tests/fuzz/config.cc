// Fuzz target: the config loader (src/core/config.cc) — TOML text and CONCLAVE_* environment
// overrides, through core::ParseConfig, which LoadConfig calls with the file's text.
//
// Input: zero or more leading lines `CONCLAVE_<KEY>=<value>` (the environment, in order), then
// the TOML text. Checks on every accepted config: every key has a source, every value is within
// the range docs/configuration.md gives, and the config written back as TOML loads again to the
// same values (for configs whose strings TOML can carry). Every raw value (the modules' options
// are read from it) goes through every typed reader.
#include "conclave/core/config.h"

#include <arpa/inet.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "conclave/core/config_sections.h"
#include "conclave/core/options.h"
#include "conclave/core/str_cat.h"
#include "fuzz_check.h"

namespace conclave::fuzz {
namespace {

bool IsValidUtf8(std::string_view s) {
  // Enough for the round trip's "can TOML carry this": toml++ refuses invalid UTF-8.
  size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<unsigned char>(s[i]);
    size_t n = b < 0x80                 ? 1
               : b >= 0xC2 && b <= 0xDF ? 2
               : b >= 0xE0 && b <= 0xEF ? 3
               : b >= 0xF0 && b <= 0xF4 ? 4
                                        : 0;
    if (n == 0 || s.size() - i < n) return false;
    uint32_t cp = n == 1 ? b : b & (0x7F >> n);
    for (size_t k = 1; k < n; ++k) {
      auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n;
  }
  return true;
}

// A TOML basic string holding `s` (valid UTF-8).
std::string TomlString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (byte < 0x20 || byte == 0x7f) {
      char escape[8];
      std::snprintf(escape, sizeof(escape), "\\u%04x", byte);
      out += escape;
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

std::string TomlDuration(absl::Duration d) {
  return core::StrCat("\"", absl::ToInt64Nanoseconds(d), "ns\"");
}

// `config` as a conclave.toml file.
std::string ToToml(const core::Config& c) {
  std::string admin = "[";
  for (const std::string& command : c.admin_execute) {
    core::StrAppend(&admin, admin.size() > 1 ? ", " : "", TomlString(command));
  }
  admin += "]";
  return core::StrCat(
      "server_name = ", TomlString(c.server_name), "\naddress = ", TomlString(c.address),
      "\nport = ", c.port, "\ndatabase_path = ", TomlString(c.database_path),
      "\ndatabase_sync_writes = ", c.database_sync_writes ? "true" : "false",
      "\ndatabase_backup_path = ", TomlString(c.database_backup_path),
      "\ndatabase_backups_to_keep = ", c.database_backups_to_keep,
      "\nlog_level = ", TomlString(c.log_level), "\nworker_threads = ", c.worker_threads,
      "\nblocking_threads = ", c.blocking_threads, "\nblocking_queue = ", c.blocking_queue,
      "\nmax_header_size = ", c.max_header_size, "\nmax_body_size = ", c.max_body_size,
      "\nrequest_timeout = ", TomlDuration(c.request_timeout),
      "\nidle_timeout = ", TomlDuration(c.idle_timeout),
      "\nreload_drain_timeout = ", TomlDuration(c.reload_drain_timeout),
      "\nmodule_dir = ", TomlString(c.module_dir), "\nruntime_dir = ", TomlString(c.runtime_dir),
      "\nwatch = ", c.watch ? "true" : "false", "\nadmin_execute = ", admin, "\n");
}

bool TomlCanCarry(const core::Config& c) {
  for (const std::string* s :
       {&c.server_name, &c.address, &c.database_path, &c.database_backup_path, &c.log_level,
        &c.module_dir, &c.runtime_dir}) {
    if (!IsValidUtf8(*s)) return false;
  }
  for (const std::string& s : c.admin_execute) {
    if (!IsValidUtf8(s)) return false;
  }
  return true;
}

bool ValidDuration(absl::Duration d) {
  return d >= absl::ZeroDuration() && d != absl::InfiniteDuration();
}

// The ranges docs/configuration.md promises for a loaded config.
void CheckRanges(const core::Config& c, const std::string& input) {
  const std::string where = Printable(input);
  FUZZ_CHECK(!c.server_name.empty(), where);
  FUZZ_CHECK(!c.database_path.empty(), where);
  FUZZ_CHECK(!c.database_backup_path.empty(), where);
  in6_addr address;
  FUZZ_CHECK(inet_pton(AF_INET, c.address.c_str(), &address) == 1 ||
                 inet_pton(AF_INET6, c.address.c_str(), &address) == 1,
             where);
  FUZZ_CHECK(c.database_backups_to_keep >= 1 && c.database_backups_to_keep <= 1000, where);
  FUZZ_CHECK(c.worker_threads >= 0 && c.worker_threads <= 256, where);
  FUZZ_CHECK(c.blocking_threads >= 0 && c.blocking_threads <= 256, where);
  FUZZ_CHECK(c.blocking_queue >= 1 && c.blocking_queue <= 1000000, where);
  FUZZ_CHECK(c.max_header_size >= 1024 && c.max_header_size <= (size_t{1} << 24), where);
  FUZZ_CHECK(c.max_body_size >= 1024 && c.max_body_size <= (size_t{1} << 32), where);
  FUZZ_CHECK(ValidDuration(c.request_timeout) && ValidDuration(c.idle_timeout) &&
                 ValidDuration(c.reload_drain_timeout),
             where);
  bool known_level = false;
  for (std::string_view level : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    known_level = known_level || c.log_level == level;
  }
  FUZZ_CHECK(known_level, where);
  for (const std::string& key : core::ConfigKeys()) {
    auto source = c.sources.find(key);
    FUZZ_CHECK(source != c.sources.end(), core::StrCat(key, " has no source: ", where));
    FUZZ_CHECK(source->second == "default" || source->second == "file" || source->second == "env",
               where);
  }
}

void CheckSame(const core::Config& a, const core::Config& b, const std::string& where) {
  FUZZ_CHECK(a.server_name == b.server_name && a.address == b.address && a.port == b.port, where);
  FUZZ_CHECK(a.database_path == b.database_path &&
                 a.database_sync_writes == b.database_sync_writes &&
                 a.database_backup_path == b.database_backup_path &&
                 a.database_backups_to_keep == b.database_backups_to_keep,
             where);
  FUZZ_CHECK(a.log_level == b.log_level && a.worker_threads == b.worker_threads &&
                 a.max_header_size == b.max_header_size && a.max_body_size == b.max_body_size,
             where);
  FUZZ_CHECK(
      absl::ToInt64Nanoseconds(a.request_timeout) == absl::ToInt64Nanoseconds(b.request_timeout) &&
          absl::ToInt64Nanoseconds(a.idle_timeout) == absl::ToInt64Nanoseconds(b.idle_timeout) &&
          absl::ToInt64Nanoseconds(a.reload_drain_timeout) ==
              absl::ToInt64Nanoseconds(b.reload_drain_timeout),
      where);
  FUZZ_CHECK(a.module_dir == b.module_dir && a.runtime_dir == b.runtime_dir, where);
  FUZZ_CHECK(a.blocking_threads == b.blocking_threads && a.blocking_queue == b.blocking_queue &&
                 a.watch == b.watch,
             where);
  FUZZ_CHECK(a.admin_execute == b.admin_execute, where);
}

// The modules read the raw table with the typed readers of options.h: whatever a key holds, each
// reader answers a value or a "config: KEY (ORIGIN): ..." kInvalidArgument, and a reader reads
// back a default it wrote (a module's option with any key name and any type).
void CheckRawReads(const core::RawConfig& raw, const std::string& where) {
  auto check = [&](const absl::Status& s) {
    if (s.ok()) return;
    FUZZ_CHECK(s.code() == absl::StatusCode::kInvalidArgument, s.ToString());
    FUZZ_CHECK(s.message().substr(0, 8) == "config: ", s.ToString());
  };
  for (const auto& [key, value] : raw.values()) {
    check(core::RawBool(value, key).status());
    check(core::RawInteger(value, key).status());
    check(core::RawNumber(value, key).status());
    check(core::RawString(value, key).status());
    check(core::RawDuration(value, key).status());
    check(core::RawStringList(value, key).status());
    core::OptionReader reader("fuzz", raw);
    const int64_t n = reader.Integer(key, 7, 0, 100, {});
    FUZZ_CHECK(reader.status().ok() ? n >= 0 && n <= 100 : n == 7, where);
    check(reader.status());
  }
}

}  // namespace
}  // namespace conclave::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace conclave;  // NOLINT: a fuzz target's entry point
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::string_view rest = input;
  // The environment: leading CONCLAVE_ lines. Other variables never matter to the loader.
  std::vector<std::string> env;
  while (rest.substr(0, 9) == "CONCLAVE_") {
    size_t nl = rest.find('\n');
    env.emplace_back(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  }
  std::vector<char*> env_pointers;
  for (std::string& entry : env) env_pointers.push_back(entry.data());
  env_pointers.push_back(nullptr);

  absl::StatusOr<core::LoadedConfig> loaded =
      core::ParseConfig(rest, "fuzz.toml", env_pointers.data());
  if (!loaded.ok()) {
    FUZZ_CHECK(loaded.status().code() == absl::StatusCode::kInvalidArgument,
               loaded.status().ToString());
    FUZZ_CHECK(loaded.status().message().substr(0, 8) == "config: ", loaded.status().ToString());
    return 0;
  }
  fuzz::CheckRanges(loaded->config, input);
  fuzz::CheckRawReads(loaded->config.raw, input);
  if (fuzz::TomlCanCarry(loaded->config)) {
    const std::string toml = fuzz::ToToml(loaded->config);
    absl::StatusOr<core::LoadedConfig> again = core::ParseConfig(toml, "again.toml", nullptr);
    FUZZ_CHECK(again.ok(), core::StrCat(again.status().ToString(), "\n", toml));
    FUZZ_CHECK(core::UnknownKeyWarnings(again->config.raw, nullptr).empty(), toml);
    fuzz::CheckSame(loaded->config, again->config, toml);
  }
  return 0;
}
