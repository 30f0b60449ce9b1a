// Options per module: the raw, type-erased config table core keeps (every key of conclave.toml and
// every CONCLAVE_<KEY> variable), and the reader a module parses its own section of it with.
//
// Core types here never name a module's option: a module adds an option by reading one more key
// in its own read function, with no change to any type core shares with modules (and so no
// kInterfaceVersion bump). The reader records every key it reads with its default, unit, doc and
// whether SIGHUP changes it, so the same function is the module's schema (unknown-key warnings,
// `server show-config`, docs/configuration.md's check) and its parser.
//
// Plain value types and functions; thread-compatible.
#ifndef CONCLAVE_CORE_OPTIONS_H_
#define CONCLAVE_CORE_OPTIONS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace conclave::core {

// One value as read, before a reader gives it a type. From the file: the TOML value (an array
// only when all its items are strings; another shape is kept as `unsupported`). From the
// environment: the text of CONCLAVE_<KEY> (`from_env`), converted by the reader.
struct RawValue {
  using List = std::vector<std::string>;
  std::variant<std::monostate, bool, int64_t, double, std::string, List> value;
  bool from_env = false;
  // The file name, or the variable's name, for messages and show-config's source column.
  std::string origin;
  // When `value` is monostate: what the file held instead, e.g. "a table".
  std::string unsupported;
};

// The raw table: key (as in the file, lower case) -> value, the environment winning over the
// file. Parsed once per read of the config (start, SIGHUP); modules read their keys from it.
// The file's value of a key the environment overrides is kept too (Overridden()): readers check
// it, because the file is what the next start without that variable reads.
class RawConfig {
 public:
  // Null when `key` was neither in the file nor in the environment.
  const RawValue* Find(std::string_view key) const;
  // The file's value of `key` when the environment overrides it; null otherwise.
  const RawValue* Overridden(std::string_view key) const;
  void Set(std::string key, RawValue value);
  // Sets `key` from the environment: `value` wins, and the value it replaces (if any) becomes
  // Overridden(key).
  void Override(std::string key, RawValue value);
  // Override()s `key` as if CONCLAVE_<KEY>=`text` were in the environment (tests, tools).
  void SetText(std::string key, std::string text);
  const std::map<std::string, RawValue, std::less<>>& values() const { return values_; }

 private:
  std::map<std::string, RawValue, std::less<>> values_;
  std::map<std::string, RawValue, std::less<>> overridden_;
};

// Typed reads of one raw value, the checks every option shares. kInvalidArgument naming `key`
// and the value's origin: "config: rc_login_burst (conclave.toml): expected an integer".
absl::StatusOr<bool> RawBool(const RawValue& v, std::string_view key);
absl::StatusOr<int64_t> RawInteger(const RawValue& v, std::string_view key);
// Integers are accepted as numbers too.
absl::StatusOr<double> RawNumber(const RawValue& v, std::string_view key);
absl::StatusOr<std::string> RawString(const RawValue& v, std::string_view key);
// A duration string such as "5s" or "250ms" (absl::ParseDuration), finite and not negative.
absl::StatusOr<absl::Duration> RawDuration(const RawValue& v, std::string_view key);
// From the environment: a TOML array (`["a", "b"]`) when the text starts with '[', else
// `;`-separated items, each trimmed, empty ones dropped.
absl::StatusOr<std::vector<std::string>> RawStringList(const RawValue& v, std::string_view key);
// The message for a value outside its range: "config: KEY (ORIGIN): WHY".
absl::Status BadOption(std::string_view key, std::string_view origin, std::string_view why);

// What a module says about one option besides its type and default.
struct OptionDoc {
  // The unit of a number, e.g. "requests per second"; empty when it has none.
  std::string_view unit = {};
  // True: SIGHUP applies a changed value at once. False: the value changes at the module's next
  // load (a reload of the module, or a restart).
  bool runtime = false;
  // Never shown or logged (show-config prints "(set; redacted)").
  bool secret = false;
  // One line for show-config and the docs' check.
  std::string_view doc = {};
};

// One option as a reader saw it.
struct OptionRead {
  std::string module;  // the section that reads it, e.g. "service"
  std::string key;     // e.g. "rc_login_burst"
  // "boolean", "integer", "number", "string", "duration", "array of strings" (as the docs say)
  std::string type;
  std::string default_text;  // the default as show-config shows values
  std::string value_text;    // the value read, shown the same way (secrets redacted)
  std::string source;        // "default", "file" or "env"
  std::string unit;
  bool runtime = false;
  bool secret = false;
  std::string doc;
  // The exact value (secrets included), to compare two reads; never show it.
  std::string compare;
};

// Reads one module's options from a RawConfig. Each call names a key, its default and its
// OptionDoc, and returns the value (the default when the key is absent or invalid). The first
// invalid value is kept in status(); the file's value of a key the environment overrides is
// checked as well (RawConfig::Overridden). Confined to the thread that uses it; `raw` must
// outlive it.
class OptionReader {
 public:
  OptionReader(std::string module, const RawConfig& raw) : module_(std::move(module)), raw_(raw) {}
  // The reader keeps a reference to `raw`: a temporary would dangle.
  OptionReader(std::string module, RawConfig&& raw) = delete;

  bool Bool(std::string_view key, bool def, const OptionDoc& doc);
  // A value outside `min`..`max` is invalid.
  int64_t Integer(std::string_view key, int64_t def, int64_t min, int64_t max,
                  const OptionDoc& doc);
  double Number(std::string_view key, double def, double min, double max, const OptionDoc& doc);
  std::string String(std::string_view key, std::string def, const OptionDoc& doc);
  absl::Duration Duration(std::string_view key, absl::Duration def, const OptionDoc& doc);
  std::vector<std::string> StringList(std::string_view key, std::vector<std::string> def,
                                      const OptionDoc& doc);

  // OK, or the first invalid value's kInvalidArgument (naming the key and where it came from).
  const absl::Status& status() const { return status_; }
  // Every key read, in the order read.
  const std::vector<OptionRead>& read() const { return read_; }

 private:
  // Records `key`; returns its raw value, or null when absent (or an earlier read failed).
  const RawValue* Begin(std::string_view key, std::string_view type, std::string default_text,
                        const OptionDoc& doc);
  // Completes the record of the last Begin with the value read.
  void Finish(std::string text, std::string compare);
  void Fail(absl::Status status);
  // One typed read: `parse` (a RawValue -> absl::StatusOr<T>, range checks included) of the
  // winning value and of the file's overridden one. Defined in options.cc, its only user.
  template <typename T, typename Parse>
  T Read(std::string_view key, std::string_view type, T def, const OptionDoc& doc, Parse parse);

  std::string module_;
  const RawConfig& raw_;
  absl::Status status_;
  std::vector<OptionRead> read_;
};

// The text show-config prints for a value: strings and durations quoted, numbers and booleans
// bare, lists as TOML arrays.
std::string OptionText(bool v);
std::string OptionText(int64_t v);
std::string OptionText(double v);
std::string OptionText(const std::string& v);
std::string OptionText(absl::Duration v);
std::string OptionText(const std::vector<std::string>& v);

}  // namespace conclave::core

#endif  // CONCLAVE_CORE_OPTIONS_H_
