// `database verify`: the `relations` and `threads` maps against the rows the timeline implies
// (RelationRowsBuilder, fed by the timeline walk), so a child indexed under the wrong parent, a
// redacted child still aggregated or a thread listed at a stale position shows.
#include <map>
#include <string>
#include <string_view>

#include "conclave/core/str_cat.h"
#include "conclave/database/key.h"
#include "verify_checker.h"

namespace conclave::service::verify_internal {
namespace {

// A `threads` key as text: room, position, root.
std::string ThreadKeyText(std::string_view raw) {
  database::KeyReader reader(raw);
  auto room_id = reader.ReadString();
  auto position = reader.ReadU64();
  auto root = reader.ReadString();
  if (!room_id.ok() || !position.ok() || !root.ok() || !reader.AtEnd()) {
    return core::StrCat("undecodable key ", Printable(raw));
  }
  return core::StrCat(Printable(*room_id), " | ", *position, " | ", Printable(*root));
}

std::string RelationKeyText(std::string_view raw) {
  auto row = ParseRelationRow(raw, "{\"event_id\":\"?\"}");
  if (!row.ok()) return core::StrCat("undecodable key ", Printable(raw));
  return core::StrCat(Printable(row->room_id), " | ", Printable(row->parent_id), " | ",
                      Printable(row->rel_type), " | ", row->position);
}

class RelationsChecker : public Checker {
 public:
  explicit RelationsChecker(VerifyRun& run) : Checker(run) {}

  void Run() {
    if (!error_.ok()) return;
    Merge(*store_.relations, "relations", relation_rows_.relations(), &RelationKeyText);
    Merge(*store_.threads, "threads", relation_rows_.Threads(), &ThreadKeyText);
  }

 private:
  // Walks `map` beside `expected` (both in key order): rows missing, left over or different.
  void Merge(const database::Map& map, std::string_view name,
             const std::map<std::string, std::string>& expected,
             std::string (*text)(std::string_view)) {
    auto next = expected.begin();
    Walk(map, name, [&](std::string_view key, std::string_view value) {
      for (; next != expected.end() && next->first < key; ++next) Missing(name, *next, text);
      if (next != expected.end() && next->first == key) {
        if (next->second != value) {
          Problem(name, text(key),
                  core::StrCat("is ", Printable(value), ", but the child event says ",
                               Printable(next->second)));
        }
        ++next;
        return;
      }
      Problem(name, text(key),
              name == "threads"
                  ? std::string("is not the latest m.thread child of a thread root")
                  : std::string("no such relation in the timeline (a redacted or lost child)"));
    });
    if (!error_.ok()) return;
    for (; next != expected.end(); ++next) Missing(name, *next, text);
  }

  void Missing(std::string_view name, const std::pair<const std::string, std::string>& row,
               std::string (*text)(std::string_view)) {
    Problem(name, text(row.first),
            name == "threads"
                ? std::string("missing: the thread's latest reply is at this position")
                : core::StrCat("missing: the timeline has this relation (", Printable(row.second),
                               ")"));
  }
};

}  // namespace

void CheckRelations(VerifyRun& run) { RelationsChecker(run).Run(); }

}  // namespace conclave::service::verify_internal
