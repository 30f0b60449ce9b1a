// XapianIndex over Xapian 1.4 (Debian's libxapian30). Every Xapian call is inside a try block:
// Xapian reports errors by exceptions, which must not leave this file (house rule: no exception
// crosses a subsystem boundary).
#include "conclave/service/search/xapian_index.h"

#include <xapian.h>

#include <algorithm>
#include <set>
#include <utility>

#include "conclave/core/str_cat.h"

namespace conclave::service {
namespace {

// Boolean terms (Xapian's convention: multi-letter prefixes start with X).
constexpr std::string_view kIdPrefix = "Q";
constexpr std::string_view kRoomPrefix = "XR";
constexpr std::string_view kSenderPrefix = "XS";
constexpr std::string_view kTypePrefix = "XT";
// Free-text prefixes, one per searchable key.
constexpr const char* kBodyPrefix = "XB";
constexpr const char* kNamePrefix = "XN";
constexpr const char* kTopicPrefix = "XP";
// Value slots.
constexpr Xapian::valueno kPositionSlot = 0;
constexpr Xapian::valueno kEventIdSlot = 1;
constexpr Xapian::valueno kRoomIdSlot = 2;
constexpr const char* kLastPositionKey = "last_position";

const char* PrefixOf(SearchKey key) {
  switch (key) {
    case SearchKey::kBody:
      return kBodyPrefix;
    case SearchKey::kName:
      return kNamePrefix;
    case SearchKey::kTopic:
      return kTopicPrefix;
  }
  return kBodyPrefix;
}

std::string Term(std::string_view prefix, std::string_view value) {
  return core::StrCat(prefix, value);
}

absl::Status FromXapian(const Xapian::Error& e, std::string_view what) {
  const std::string message = core::StrCat("search index: ", what, ": ", e.get_description());
  if (std::string_view(e.get_type()) == "DatabaseLockError") {
    return absl::UnavailableError(message);
  }
  return absl::InternalError(message);
}

// An OR of `prefix`+value terms (boolean: they add no weight).
Xapian::Query AnyOf(std::string_view prefix, const std::vector<std::string>& values) {
  std::vector<Xapian::Query> terms;
  terms.reserve(values.size());
  for (const std::string& v : values) terms.emplace_back(Term(prefix, v));
  return Xapian::Query(Xapian::Query::OP_OR, terms.begin(), terms.end());
}

// The query's words as typed, from the parsed query's terms: the unstemmed forms the parser
// saw (stemmed terms are "Z" + prefix + stem), else the term without its prefix.
std::vector<std::string> Highlights(const Xapian::Query& query, const Xapian::QueryParser& qp) {
  std::set<std::string> words;
  for (auto it = query.get_unique_terms_begin(); it != query.get_unique_terms_end(); ++it) {
    const std::string term = *it;
    bool unstemmed = false;
    for (auto u = qp.unstem_begin(term); u != qp.unstem_end(term); ++u) {
      words.insert(*u);
      unstemmed = true;
    }
    if (unstemmed) continue;
    std::string_view word = term;
    if (!word.empty() && word.front() == 'Z') word.remove_prefix(1);
    if (word.size() > 2 && word.front() == 'X') word.remove_prefix(2);
    if (!word.empty()) words.insert(std::string(word));
  }
  return {words.begin(), words.end()};
}

}  // namespace

struct XapianIndex::Rep {
  Xapian::WritableDatabase db;
  Xapian::Stem stemmer{"english"};
};

XapianIndex::XapianIndex(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}

XapianIndex::~XapianIndex() {
  std::lock_guard lock(mu_);
  try {
    rep_->db.close();  // commits pending changes and releases the write lock
  } catch (const Xapian::Error&) {
    // Nothing to do at close: the uncommitted tail is re-indexed from the timeline at start.
  }
}

absl::StatusOr<std::unique_ptr<XapianIndex>> XapianIndex::Open(const std::string& directory) {
  try {
    auto rep = std::make_unique<Rep>();
    rep->db = Xapian::WritableDatabase(directory, Xapian::DB_CREATE_OR_OPEN);
    return std::unique_ptr<XapianIndex>(new XapianIndex(std::move(rep)));
  } catch (const Xapian::Error& e) {
    return FromXapian(e, core::StrCat("opening ", directory));
  }
}

absl::Status XapianIndex::Put(const IndexedEvent& event) {
  if (event.body.empty() && event.name.empty() && event.topic.empty()) {
    return Remove(event.event_id);
  }
  std::lock_guard lock(mu_);
  try {
    Xapian::Document doc;
    Xapian::TermGenerator generator;
    generator.set_stemmer(rep_->stemmer);
    generator.set_document(doc);
    if (!event.body.empty()) generator.index_text(event.body, 1, kBodyPrefix);
    if (!event.name.empty()) generator.index_text(event.name, 1, kNamePrefix);
    if (!event.topic.empty()) generator.index_text(event.topic, 1, kTopicPrefix);
    const std::string id_term = Term(kIdPrefix, event.event_id);
    doc.add_boolean_term(id_term);
    doc.add_boolean_term(Term(kRoomPrefix, event.room_id));
    doc.add_boolean_term(Term(kSenderPrefix, event.sender));
    doc.add_boolean_term(Term(kTypePrefix, event.type));
    doc.add_value(kPositionSlot, Xapian::sortable_serialise(static_cast<double>(event.position)));
    doc.add_value(kEventIdSlot, event.event_id);
    doc.add_value(kRoomIdSlot, event.room_id);
    rep_->db.replace_document(id_term, doc);
    return absl::OkStatus();
  } catch (const Xapian::Error& e) {
    return FromXapian(e, "adding an event");
  }
}

absl::Status XapianIndex::Remove(std::string_view event_id) {
  std::lock_guard lock(mu_);
  try {
    rep_->db.delete_document(Term(kIdPrefix, event_id));
    return absl::OkStatus();
  } catch (const Xapian::Error& e) {
    return FromXapian(e, "removing an event");
  }
}

absl::Status XapianIndex::Clear() {
  std::lock_guard lock(mu_);
  try {
    // The empty term's posting list holds every document.
    std::vector<Xapian::docid> ids;
    for (auto it = rep_->db.postlist_begin(""); it != rep_->db.postlist_end(""); ++it) {
      ids.push_back(*it);
    }
    for (Xapian::docid id : ids) rep_->db.delete_document(id);
    rep_->db.set_metadata(kLastPositionKey, "0");
    rep_->db.commit();
    return absl::OkStatus();
  } catch (const Xapian::Error& e) {
    return FromXapian(e, "clearing");
  }
}

absl::StatusOr<uint64_t> XapianIndex::LastPosition() {
  std::lock_guard lock(mu_);
  try {
    const std::string text = rep_->db.get_metadata(kLastPositionKey);
    if (text.empty()) return 0;
    return std::stoull(text);
  } catch (const Xapian::Error& e) {
    return FromXapian(e, "reading the last position");
  } catch (const std::exception&) {
    return absl::DataLossError("search index: corrupt last_position metadata");
  }
}

absl::Status XapianIndex::Commit(uint64_t position) {
  std::lock_guard lock(mu_);
  try {
    rep_->db.set_metadata(kLastPositionKey, std::to_string(position));
    rep_->db.commit();
    return absl::OkStatus();
  } catch (const Xapian::Error& e) {
    return FromXapian(e, "committing");
  }
}

absl::StatusOr<uint64_t> XapianIndex::DocumentCount() {
  std::lock_guard lock(mu_);
  try {
    return rep_->db.get_doccount();
  } catch (const Xapian::Error& e) {
    return FromXapian(e, "counting");
  }
}

absl::StatusOr<IndexResult> XapianIndex::Search(const IndexQuery& query) {
  std::lock_guard lock(mu_);
  IndexResult result;
  if (query.room_ids.empty()) return result;
  try {
    Xapian::QueryParser qp;
    qp.set_stemmer(rep_->stemmer);
    qp.set_stemming_strategy(Xapian::QueryParser::STEM_SOME);
    qp.set_default_op(Xapian::Query::OP_AND);
    qp.set_database(rep_->db);
    std::vector<SearchKey> keys = query.keys;
    if (keys.empty()) keys = {SearchKey::kBody, SearchKey::kName, SearchKey::kTopic};
    for (SearchKey key : keys) qp.add_prefix("", PrefixOf(key));
    Xapian::Query text;
    try {
      text = qp.parse_query(query.text, Xapian::QueryParser::FLAG_DEFAULT);
    } catch (const Xapian::QueryParserError&) {
      // Stray operators ("AND", quotes): search the words as plain text instead.
      text = qp.parse_query(query.text, 0);
    }
    result.highlights = Highlights(text, qp);
    if (text.empty()) return result;
    Xapian::Query filter = AnyOf(kRoomPrefix, query.room_ids);
    if (!query.senders.empty()) {
      filter = Xapian::Query(Xapian::Query::OP_AND, filter, AnyOf(kSenderPrefix, query.senders));
    }
    if (!query.types.empty()) {
      filter = Xapian::Query(Xapian::Query::OP_AND, filter, AnyOf(kTypePrefix, query.types));
    }
    Xapian::Query full(Xapian::Query::OP_FILTER, text, filter);
    if (!query.not_senders.empty()) {
      full =
          Xapian::Query(Xapian::Query::OP_AND_NOT, full, AnyOf(kSenderPrefix, query.not_senders));
    }
    Xapian::Enquire enquire(rep_->db);
    enquire.set_query(full);
    if (query.by_recent) {
      enquire.set_sort_by_value(kPositionSlot, true);
    } else {
      enquire.set_sort_by_relevance_then_value(kPositionSlot, true);
    }
    Xapian::MSet mset = enquire.get_mset(0, static_cast<Xapian::doccount>(query.max_results));
    result.hits.reserve(mset.size());
    for (auto it = mset.begin(); it != mset.end(); ++it) {
      const Xapian::Document doc = it.get_document();
      result.hits.push_back(IndexHit{.event_id = doc.get_value(kEventIdSlot),
                                     .room_id = doc.get_value(kRoomIdSlot),
                                     .position = static_cast<uint64_t>(Xapian::sortable_unserialise(
                                         doc.get_value(kPositionSlot))),
                                     .rank = it.get_weight()});
    }
    return result;
  } catch (const Xapian::Error& e) {
    return FromXapian(e, "searching");
  }
}

}  // namespace conclave::service
