#include "format.h"

#include <algorithm>
#include <boost/json/serialize.hpp>

#include "conclave/core/str_cat.h"

namespace conclave::admin {
namespace {

void AppendJson(const boost::json::value& value, int indent, std::string* out) {
  const std::string pad(static_cast<size_t>(indent) * 2, ' ');
  const std::string inner(static_cast<size_t>(indent + 1) * 2, ' ');
  if (const auto* object = value.if_object()) {
    if (object->empty()) {
      out->append("{}");
      return;
    }
    out->append("{\n");
    bool first = true;
    for (const auto& [key, member] : *object) {
      if (!first) out->append(",\n");
      first = false;
      out->append(inner).append(boost::json::serialize(boost::json::value(key))).append(": ");
      AppendJson(member, indent + 1, out);
    }
    out->append("\n").append(pad).append("}");
  } else if (const auto* array = value.if_array()) {
    if (array->empty()) {
      out->append("[]");
      return;
    }
    out->append("[\n");
    for (size_t i = 0; i < array->size(); ++i) {
      if (i > 0) out->append(",\n");
      out->append(inner);
      AppendJson((*array)[i], indent + 1, out);
    }
    out->append("\n").append(pad).append("]");
  } else {
    out->append(boost::json::serialize(value));
  }
}

}  // namespace

std::string FormatUtc(absl::Time time) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", time, absl::UTCTimeZone());
}

std::string FormatUtcMs(int64_t ms) {
  return ms == 0 ? std::string("-") : FormatUtc(absl::FromUnixMillis(ms));
}

std::string FormatBytes(uint64_t bytes) {
  if (bytes < 1024) return core::StrCat(bytes, " B");
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

std::string Plural(uint64_t n, std::string_view one, std::string_view many) {
  return core::StrCat(n, " ", n == 1 ? one : many);
}

std::string PrettyJson(const boost::json::value& value) {
  std::string out;
  AppendJson(value, 0, &out);
  return out;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string Nearest(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = SIZE_MAX;
  const size_t limit = std::max<size_t>(2, word.size() / 3);
  for (const std::string& candidate : candidates) {
    size_t distance = EditDistance(word, candidate);
    // A prefix ("upt" for "uptime") is as good as a typo.
    if (!word.empty() && candidate.starts_with(word)) distance = std::min(distance, limit);
    if (distance <= limit && distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

}  // namespace conclave::admin
