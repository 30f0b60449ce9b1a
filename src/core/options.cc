#include "conclave/core/options.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "conclave/core/str_cat.h"
#include "toml_value.h"

namespace conclave::core {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && absl::ascii_isspace(static_cast<unsigned char>(s.front()))) {
    s.remove_prefix(1);
  }
  while (!s.empty() && absl::ascii_isspace(static_cast<unsigned char>(s.back()))) {
    s.remove_suffix(1);
  }
  return s;
}

absl::Status Bad(const RawValue& v, std::string_view key, std::string_view why) {
  return BadOption(key, v.origin, why);
}

// The environment's text, or the file's string; null for another type from the file.
const std::string* Text(const RawValue& v) { return std::get_if<std::string>(&v.value); }

}  // namespace

const RawValue* RawConfig::Find(std::string_view key) const {
  auto it = values_.find(key);
  return it == values_.end() ? nullptr : &it->second;
}

const RawValue* RawConfig::Overridden(std::string_view key) const {
  auto it = overridden_.find(key);
  return it == overridden_.end() ? nullptr : &it->second;
}

void RawConfig::Set(std::string key, RawValue value) { values_[std::move(key)] = std::move(value); }

void RawConfig::Override(std::string key, RawValue value) {
  if (auto it = values_.find(key); it != values_.end() && !it->second.from_env) {
    overridden_[key] = std::move(it->second);
  }
  Set(std::move(key), std::move(value));
}

void RawConfig::SetText(std::string key, std::string text) {
  RawValue v;
  v.value = std::move(text);
  v.from_env = true;
  v.origin = core::StrCat("CONCLAVE_", absl::AsciiStrToUpper(key));
  Override(std::move(key), std::move(v));
}

absl::Status BadOption(std::string_view key, std::string_view origin, std::string_view why) {
  return absl::InvalidArgumentError(core::StrCat("config: ", key, " (", origin, "): ", why));
}

absl::StatusOr<bool> RawBool(const RawValue& v, std::string_view key) {
  if (v.from_env) {
    bool out;
    if (!absl::SimpleAtob(*Text(v), &out)) return Bad(v, key, "expected true or false");
    return out;
  }
  if (const bool* b = std::get_if<bool>(&v.value)) return *b;
  return Bad(v, key, "expected true or false");
}

absl::StatusOr<int64_t> RawInteger(const RawValue& v, std::string_view key) {
  if (v.from_env) {
    int64_t out;
    if (!absl::SimpleAtoi(*Text(v), &out)) return Bad(v, key, "expected an integer");
    return out;
  }
  if (const int64_t* n = std::get_if<int64_t>(&v.value)) return *n;
  return Bad(v, key, "expected an integer");
}

absl::StatusOr<double> RawNumber(const RawValue& v, std::string_view key) {
  if (v.from_env) {
    double out;
    if (!absl::SimpleAtod(*Text(v), &out)) return Bad(v, key, "expected a number");
    return out;
  }
  if (const int64_t* n = std::get_if<int64_t>(&v.value)) return static_cast<double>(*n);
  if (const double* d = std::get_if<double>(&v.value)) return *d;
  return Bad(v, key, "expected a number");
}

absl::StatusOr<std::string> RawString(const RawValue& v, std::string_view key) {
  if (const std::string* s = Text(v)) return *s;
  return Bad(v, key, "expected a string");
}

absl::StatusOr<absl::Duration> RawDuration(const RawValue& v, std::string_view key) {
  const std::string* text = Text(v);
  if (text == nullptr) {
    return Bad(v, key, "expected a duration string such as \"5s\" or \"250ms\"");
  }
  absl::Duration d;
  if (!absl::ParseDuration(*text, &d) || d < absl::ZeroDuration() ||
      d == absl::InfiniteDuration()) {
    return Bad(v, key, core::StrCat("'", *text, "' is not a duration such as \"5s\" or \"250ms\""));
  }
  return d;
}

absl::StatusOr<std::vector<std::string>> RawStringList(const RawValue& v, std::string_view key) {
  if (v.from_env) {
    std::string_view text = Trim(*Text(v));
    if (!text.empty() && text.front() == '[') {
      auto parsed = internal::ParseTomlValue(text, v.origin);
      if (!parsed.ok()) {
        return Bad(v, key,
                   core::StrCat("not a TOML array of strings: ", parsed.status().message()));
      }
      return RawStringList(*parsed, key);
    }
    std::vector<std::string> out;
    while (!text.empty()) {
      size_t end = text.find(';');
      std::string_view item = Trim(text.substr(0, end));
      if (!item.empty()) out.emplace_back(item);
      text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    }
    return out;
  }
  if (const auto* list = std::get_if<RawValue::List>(&v.value)) return *list;
  return Bad(v, key, "expected an array of strings");
}

std::string OptionText(bool v) { return v ? "true" : "false"; }
std::string OptionText(int64_t v) { return core::StrCat(v); }
std::string OptionText(double v) { return core::StrCat(v); }
std::string OptionText(const std::string& v) { return core::StrCat("\"", v, "\""); }
std::string OptionText(absl::Duration v) {
  return core::StrCat("\"", absl::FormatDuration(v), "\"");
}
std::string OptionText(const std::vector<std::string>& v) {
  return core::StrCat(
      "[",
      absl::StrJoin(v, ", ",
                    [](std::string* out, const std::string& s) { out->append(OptionText(s)); }),
      "]");
}

const RawValue* OptionReader::Begin(std::string_view key, std::string_view type,
                                    std::string default_text, const OptionDoc& doc) {
  OptionRead& r = read_.emplace_back();
  r.module = module_;
  r.key = std::string(key);
  r.type = std::string(type);
  r.default_text = doc.secret && default_text != "\"\"" ? "(set; redacted)" : default_text;
  r.unit = std::string(doc.unit);
  r.runtime = doc.runtime;
  r.secret = doc.secret;
  r.doc = std::string(doc.doc);
  r.source = "default";
  r.value_text = r.default_text;
  r.compare = std::move(default_text);
  const RawValue* v = raw_.Find(key);
  if (v != nullptr) r.source = v->from_env ? "env" : "file";
  return v;
}

void OptionReader::Finish(std::string text, std::string compare) {
  OptionRead& r = read_.back();
  r.value_text = r.secret && text != "\"\"" ? "(set; redacted)" : text;
  r.compare = std::move(compare);
}

void OptionReader::Fail(absl::Status status) {
  if (status_.ok()) status_ = std::move(status);
}

template <typename T, typename Parse>
T OptionReader::Read(std::string_view key, std::string_view type, T def, const OptionDoc& doc,
                     Parse parse) {
  const RawValue* v = Begin(key, type, OptionText(def), doc);
  if (v == nullptr) return def;
  // A bad value in the file is an error even where CONCLAVE_<KEY> overrides it, as for core's
  // keys (config.cc): the file is what the next start without that variable reads.
  if (const RawValue* file = raw_.Overridden(key)) {
    if (absl::StatusOr<T> checked = parse(*file); !checked.ok()) {
      return Fail(checked.status()), def;
    }
  }
  absl::StatusOr<T> value = parse(*v);
  if (!value.ok()) return Fail(value.status()), def;
  Finish(OptionText(*value), OptionText(*value));
  return *std::move(value);
}

bool OptionReader::Bool(std::string_view key, bool def, const OptionDoc& doc) {
  return Read(key, "boolean", def, doc, [&](const RawValue& v) { return RawBool(v, key); });
}

int64_t OptionReader::Integer(std::string_view key, int64_t def, int64_t min, int64_t max,
                              const OptionDoc& doc) {
  return Read(key, "integer", def, doc, [&](const RawValue& v) -> absl::StatusOr<int64_t> {
    absl::StatusOr<int64_t> n = RawInteger(v, key);
    if (n.ok() && (*n < min || *n > max)) {
      return BadOption(key, v.origin, core::StrCat(*n, " is outside ", min, "..", max));
    }
    return n;
  });
}

double OptionReader::Number(std::string_view key, double def, double min, double max,
                            const OptionDoc& doc) {
  return Read(key, "number", def, doc, [&](const RawValue& v) -> absl::StatusOr<double> {
    absl::StatusOr<double> d = RawNumber(v, key);
    if (d.ok() && !(*d >= min && *d <= max)) {
      return BadOption(key, v.origin, core::StrCat("must be between ", min, " and ", max));
    }
    return d;
  });
}

std::string OptionReader::String(std::string_view key, std::string def, const OptionDoc& doc) {
  return Read(key, "string", std::move(def), doc,
              [&](const RawValue& v) { return RawString(v, key); });
}

absl::Duration OptionReader::Duration(std::string_view key, absl::Duration def,
                                      const OptionDoc& doc) {
  return Read(key, "duration", def, doc, [&](const RawValue& v) { return RawDuration(v, key); });
}

std::vector<std::string> OptionReader::StringList(std::string_view key,
                                                  std::vector<std::string> def,
                                                  const OptionDoc& doc) {
  return Read(key, "array of strings", std::move(def), doc,
              [&](const RawValue& v) { return RawStringList(v, key); });
}

}  // namespace conclave::core
