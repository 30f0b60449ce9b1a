// Fuzz target: the Matrix protocol functions of the service module that take untrusted JSON —
// canonical JSON, content and reference hashes, event ids, redaction under every room version,
// the identifier grammar, power levels, the authorization rules, filters, stored records and
// the client format of stored events.
//
// Input: any bytes, usually JSON. A JSON object is an event (PDU shape, or a client's content);
// a JSON array is [event, state events...] for the authorization rules; every string anywhere
// (keys included) goes through the identifier parsers and base64. Invariants checked:
//   - CanonicalJson accepts exactly what the spec allows (an independent check here) and its
//     output is valid UTF-8, sorted, parses back to an equal value and is its own canonical form;
//   - hashes: AddContentHash stores what ContentHash says, which ignores `hashes`; a redacted
//     event redacts to itself and has the same reference hash and event id as the original;
//   - what Rooms::Commit validates (no floats, canonical content) always hashes;
//   - parsers answer OK or the documented error code, and what they accept prints back to the
//     same text (identifiers) or parses back to the same value (filters, base64, tokens);
//   - the authorization rules answer OK or M_FORBIDDEN, never anything else.
#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "client_event.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/accounts/accounts.h"
#include "conclave/service/protocol/auth_rules.h"
#include "conclave/service/protocol/canonical_json.h"
#include "conclave/service/protocol/crypto.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/event_hash.h"
#include "conclave/service/protocol/filter.h"
#include "conclave/service/protocol/identifiers.h"
#include "conclave/service/protocol/power_levels.h"
#include "conclave/service/protocol/redaction.h"
#include "conclave/service/rooms/rooms.h"
#include "conclave/service/storage/stored_json.h"
#include "conclave/service/storage/stream.h"
#include "fuzz_check.h"

namespace conclave::fuzz {
namespace {

namespace json = boost::json;
using service::kCanonicalJsonMaxDepth;
using service::kCanonicalJsonMaxInt;
using service::kCanonicalJsonMinInt;

// At most this many strings of one input go through the identifier checks.
constexpr size_t kMaxStrings = 64;

// RFC 3629 UTF-8, decoded code point by code point: an implementation independent of
// service::IsValidUtf8's table of byte ranges, to compare with it.
bool ReferenceUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (b < 0x80) {
      n = 1;
      cp = b;
    } else if ((b & 0xE0) == 0xC0) {
      n = 2;
      cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      n = 3;
      cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      n = 4;
      cp = b & 0x07;
    } else {
      return false;
    }
    if (s.size() - i < n) return false;
    for (size_t k = 1; k < n; ++k) {
      auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    static constexpr uint32_t kMinOfLength[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinOfLength[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

// Whether canonical JSON can encode `v` (Appendices, "Canonical JSON"), `depth` being the number
// of arrays and objects around it.
bool ReferenceCanonicalOk(const json::value& v, int depth) {
  switch (v.kind()) {
    case json::kind::null:
    case json::kind::bool_:
      return true;
    case json::kind::int64:
      return v.get_int64() >= kCanonicalJsonMinInt && v.get_int64() <= kCanonicalJsonMaxInt;
    case json::kind::uint64:
      return v.get_uint64() <= static_cast<uint64_t>(kCanonicalJsonMaxInt);
    case json::kind::double_: {
      double d = v.get_double();
      return std::isfinite(d) && std::floor(d) == d &&
             std::fabs(d) <= static_cast<double>(kCanonicalJsonMaxInt);
    }
    case json::kind::string:
      return ReferenceUtf8(v.get_string());
    case json::kind::array:
      if (depth >= kCanonicalJsonMaxDepth) return false;
      return std::all_of(v.get_array().begin(), v.get_array().end(),
                         [&](const json::value& e) { return ReferenceCanonicalOk(e, depth + 1); });
    case json::kind::object:
      if (depth >= kCanonicalJsonMaxDepth) return false;
      return std::all_of(
          v.get_object().begin(), v.get_object().end(), [&](const json::key_value_pair& m) {
            return ReferenceUtf8(m.key()) && ReferenceCanonicalOk(m.value(), depth + 1);
          });
  }
  return false;
}

// The integer a canonical number stands for (doubles already checked integral and in range).
int64_t IntegerOf(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) return static_cast<int64_t>(v.get_uint64());
  return static_cast<int64_t>(v.get_double());
}

// Equal as canonical JSON sees values: numbers by integer value, objects as maps.
bool CanonicallyEqual(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) return IntegerOf(a) == IntegerOf(b);
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case json::kind::array: {
      const json::array& x = a.get_array();
      const json::array& y = b.get_array();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!CanonicallyEqual(x[i], y[i])) return false;
      }
      return true;
    }
    case json::kind::object: {
      const json::object& x = a.get_object();
      const json::object& y = b.get_object();
      if (x.size() != y.size()) return false;
      for (const json::key_value_pair& m : x) {
        const json::value* other = y.if_contains(m.key());
        if (other == nullptr || !CanonicallyEqual(m.value(), *other)) return false;
      }
      return true;
    }
    default:
      return a == b;
  }
}

// Object keys in strictly increasing byte order, everywhere in `v`.
bool KeysSorted(const json::value& v) {
  if (const json::object* o = v.if_object()) {
    std::string_view previous;
    bool first = true;
    for (const json::key_value_pair& m : *o) {
      std::string_view key = m.key();
      if (!first && !(previous < key)) return false;
      previous = key;
      first = false;
      if (!KeysSorted(m.value())) return false;
    }
  } else if (const json::array* a = v.if_array()) {
    return std::all_of(a->begin(), a->end(), KeysSorted);
  }
  return true;
}

json::value Parse(std::string_view text, boost::system::error_code& ec) {
  json::parse_options options;
  options.max_depth = kCanonicalJsonMaxDepth + 8;  // deep enough to reach CanonicalJson's limit
  options.allow_invalid_utf8 = true;               // so that CanonicalJson's UTF-8 check is reached
  return json::parse(text, ec, {}, options);
}

void CheckCanonical(const json::value& value) {
  absl::StatusOr<std::string> canonical = service::CanonicalJson(value);
  const bool expected = ReferenceCanonicalOk(value, 0);
  FUZZ_CHECK(canonical.ok() == expected, core::StrCat(canonical.status().ToString(), " for ",
                                                      Printable(json::serialize(value))));
  if (!canonical.ok()) {
    FUZZ_CHECK(canonical.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  FUZZ_CHECK(service::IsValidUtf8(*canonical), Printable(*canonical));
  boost::system::error_code ec;
  json::value reparsed = Parse(*canonical, ec);
  FUZZ_CHECK(!ec, core::StrCat(ec.message(), ": ", Printable(*canonical)));
  FUZZ_CHECK(KeysSorted(reparsed), Printable(*canonical));
  FUZZ_CHECK(CanonicallyEqual(value, reparsed), Printable(*canonical));
  absl::StatusOr<std::string> again = service::CanonicalJson(reparsed);
  FUZZ_CHECK(again.ok() && *again == *canonical, Printable(*canonical));
}

// UnpaddedBase64 / DecodeUnpaddedBase64 on `s`, both ways.
void CheckBase64(std::string_view s) {
  absl::StatusOr<std::string> decoded = service::DecodeUnpaddedBase64(service::UnpaddedBase64(s));
  FUZZ_CHECK(decoded.ok() && *decoded == s, Printable(s));
  absl::StatusOr<std::string> bytes = service::DecodeUnpaddedBase64(s);
  if (!bytes.ok()) {
    FUZZ_CHECK(bytes.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  absl::StatusOr<std::string> again =
      service::DecodeUnpaddedBase64(service::UnpaddedBase64(*bytes));
  FUZZ_CHECK(again.ok() && *again == *bytes, Printable(s));
  std::string url = service::UnpaddedBase64Url(*bytes);
  FUZZ_CHECK(url.find_first_of("+/=") == std::string::npos, url);
}

void CheckIdentifiers(std::string_view s) {
  FUZZ_CHECK(service::IsValidUtf8(s) == ReferenceUtf8(s), Printable(s));
  if (auto user = service::ParseUserId(s); user.ok()) {
    FUZZ_CHECK(user->ToString() == s && s.size() <= service::kMaxIdentifierBytes, Printable(s));
    FUZZ_CHECK(service::IsValidServerName(user->server_name), Printable(s));
  } else {
    FUZZ_CHECK(service::ErrcodeOf(user.status()) == service::Errcode::kInvalidParam,
               user.status().ToString());
  }
  if (auto room = service::ParseRoomId(s); room.ok()) {
    FUZZ_CHECK(room->ToString() == s && service::IsValidServerName(room->server_name),
               Printable(s));
  } else {
    FUZZ_CHECK(service::ErrcodeOf(room.status()) == service::Errcode::kInvalidParam,
               room.status().ToString());
  }
  if (auto alias = service::ParseRoomAlias(s); alias.ok()) {
    FUZZ_CHECK(alias->ToString() == s && service::IsValidServerName(alias->server_name),
               Printable(s));
  } else {
    FUZZ_CHECK(service::ErrcodeOf(alias.status()) == service::Errcode::kInvalidParam,
               alias.status().ToString());
  }
  if (service::IsValidServerName(s)) {
    // Every valid server name makes a valid user id when the whole fits.
    std::string id = core::StrCat("@a:", s);
    if (id.size() <= service::kMaxIdentifierBytes) {
      FUZZ_CHECK(service::ParseUserId(id).ok(), Printable(s));
    }
  }
  if (service::ValidateLocalpartForRegistration(s).ok()) {
    std::string id = core::StrCat("@", s, ":example.org");
    if (id.size() <= service::kMaxIdentifierBytes) {
      auto user = service::ParseUserId(id);
      FUZZ_CHECK(user.ok() && user->localpart == s, Printable(s));
    }
  }
  if (service::LooksLikeEventId(s)) FUZZ_CHECK(s.size() >= 2 && s[0] == '$', Printable(s));
  if (auto position = service::ParsePositionToken(s); position.ok()) {
    auto again = service::ParsePositionToken(service::PositionToken(*position));
    FUZZ_CHECK(again.ok() && *again == *position, Printable(s));
  }
  CheckBase64(s);
}

void CollectStrings(const json::value& v, std::vector<std::string_view>& out) {
  if (out.size() >= kMaxStrings) return;
  if (const json::string* s = v.if_string()) {
    out.push_back(*s);
  } else if (const json::array* a = v.if_array()) {
    for (const json::value& e : *a) CollectStrings(e, out);
  } else if (const json::object* o = v.if_object()) {
    for (const json::key_value_pair& m : *o) {
      if (out.size() < kMaxStrings) out.push_back(m.key());
      CollectStrings(m.value(), out);
    }
  }
}

void CheckHashes(const json::object& event) {
  json::object stripped = event;
  stripped.erase("unsigned");
  stripped.erase("signatures");
  stripped.erase("hashes");
  const bool encodable = service::CanonicalJson(stripped).ok();
  absl::StatusOr<std::string> hash = service::ContentHash(event);
  FUZZ_CHECK(hash.ok() == encodable, hash.status().ToString());
  json::object hashed = event;
  absl::Status added = service::AddContentHash(hashed);
  FUZZ_CHECK(added.ok() == hash.ok(), added.ToString());
  if (!hash.ok()) {
    FUZZ_CHECK(hashed == event, "AddContentHash changed the event although it failed");
    return;
  }
  FUZZ_CHECK(hash->size() == 43, *hash);  // 32 bytes in unpadded base64
  const json::value& stored = hashed.at("hashes").at("sha256");
  FUZZ_CHECK(stored.is_string() && stored.get_string() == *hash, *hash);
  absl::StatusOr<std::string> rehash = service::ContentHash(hashed);
  FUZZ_CHECK(rehash.ok() && *rehash == *hash, "the content hash covers `hashes`");
}

void CheckRedaction(const json::object& event) {
  for (std::string_view version :
       {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "", "13", "x"}) {
    json::object redacted = service::RedactEvent(event, version);
    FUZZ_CHECK(redacted.contains("content") && redacted.at("content").is_object());
    FUZZ_CHECK(!redacted.contains("unsigned"));
    for (const json::key_value_pair& m : redacted) {
      FUZZ_CHECK(m.key() == "content" || event.contains(m.key()), std::string_view(m.key()));
    }
    FUZZ_CHECK(service::RedactEvent(redacted, version) == redacted,
               core::StrCat("redaction is not idempotent in version ", version));
    absl::StatusOr<std::string> reference = service::ReferenceHash(event, version);
    absl::StatusOr<std::string> of_redacted = service::ReferenceHash(redacted, version);
    FUZZ_CHECK(reference.ok() == of_redacted.ok());
    if (!reference.ok()) {
      FUZZ_CHECK(reference.status().code() == absl::StatusCode::kInvalidArgument);
      continue;
    }
    FUZZ_CHECK(reference->size() == 32 && *reference == *of_redacted);
    const service::RoomVersion& table = service::RoomVersionOrDefault(version);
    absl::StatusOr<std::string> event_id = service::EventId(event, table);
    if (table.event_id_format == service::EventIdFormat::kOpaque) {
      // v1-v2: the id the event carries, or an error when it carries none.
      const json::value* carried = event.if_contains("event_id");
      FUZZ_CHECK(event_id.ok() == (carried != nullptr && carried->is_string()));
      continue;
    }
    FUZZ_CHECK(event_id.ok() && event_id->size() == 44 && (*event_id)[0] == '$', *event_id);
    absl::StatusOr<std::string> of_redacted_id = service::EventId(redacted, table);
    FUZZ_CHECK(of_redacted_id.ok() && *of_redacted_id == *event_id, "redaction changed the id");
    // v3 standard base64, v4+ URL-safe.
    const bool url_safe = table.event_id_format == service::EventIdFormat::kUrlSafeBase64;
    FUZZ_CHECK(event_id->find_first_of(url_safe ? "+/=" : "-_=") == std::string::npos, *event_id);
  }
}

// Boost.JSON's default parse_options::max_depth, which the api's request bodies are parsed with.
constexpr int kApiMaxDepth = 32;

// The number of nested arrays and objects of `v` (0 for a scalar).
int Depth(const json::value& v) {
  int deepest = 0;
  if (const json::object* o = v.if_object()) {
    for (const json::key_value_pair& m : *o) deepest = std::max(deepest, Depth(m.value()));
    return deepest + 1;
  }
  if (const json::array* a = v.if_array()) {
    for (const json::value& e : *a) deepest = std::max(deepest, Depth(e));
    return deepest + 1;
  }
  return 0;
}

// Rooms::Commit refuses content with floats or without a canonical encoding (M_BAD_JSON); what
// it accepts must hash, whatever the content, or the client would get an internal error.
void CheckCommitPath(const json::object& event) {
  const json::value* content = event.if_contains("content");
  if (content == nullptr || !content->is_object()) return;
  // Deeper content never gets here: the api parses bodies with Boost.JSON's default max_depth.
  if (Depth(*content) > kApiMaxDepth) return;
  if (service::HasFloat(*content)) return;
  if (!service::CanonicalJson(*content).ok()) return;
  json::object pdu{{"type", "m.room.message"},
                   {"room_id", "!room:example.org"},
                   {"sender", "@alice:example.org"},
                   {"content", *content},
                   {"origin_server_ts", int64_t{1700000000000}},
                   {"depth", 7},
                   {"prev_events", json::array{"$prev"}},
                   {"auth_events", json::array{}}};
  FUZZ_CHECK(service::AddContentHash(pdu).ok(), "validated content failed to hash");
  for (const service::RoomVersion& version : service::AllRoomVersions()) {
    if (version.event_id_format == service::EventIdFormat::kOpaque) continue;
    FUZZ_CHECK(service::EventId(pdu, version).ok(), "validated content has no event id");
  }
}

void CheckClientEvent(const json::object& event) {
  service::Session viewer{"@alice:example.org", "DEVICE"};
  json::object out = api::ClientEvent(service::StoredEvent{event, 1}, &viewer, true);
  FUZZ_CHECK(out.contains("content"));
  FUZZ_CHECK(out.contains("unsigned") && out.at("unsigned").is_object());
  // The transaction record is the sender's device's business only, and shown as transaction_id.
  FUZZ_CHECK(!out.at("unsigned").get_object().contains("io.conclave.txn"));
}

void CheckPowerLevels(const json::value& content) {
  const json::object* object = content.if_object();
  if (object == nullptr) return;
  const std::vector<std::string> creators = {"@creator:example.org"};
  for (const service::RoomVersion& version : service::AllRoomVersions()) {
    absl::StatusOr<service::PowerLevels> levels =
        service::ParsePowerLevels(object, version, creators);
    if (!levels.ok()) {
      FUZZ_CHECK(service::ErrcodeOf(levels.status()) == service::Errcode::kBadJson,
                 levels.status().ToString());
      continue;
    }
    for (int64_t level : {levels->ban, levels->kick, levels->redact, levels->invite,
                          levels->events_default, levels->state_default, levels->users_default}) {
      FUZZ_CHECK(level >= service::kMinPowerLevel && level <= service::kMaxPowerLevel);
    }
    for (const auto* map : {&levels->events, &levels->users, &levels->notifications}) {
      for (const auto& [key, level] : *map) {
        FUZZ_CHECK(level >= service::kMinPowerLevel && level <= service::kMaxPowerLevel, key);
      }
    }
  }
}

// The version of the room whose state is `state`, as the auth rules read it (absent: "1").
const service::RoomVersion& VersionOfState(const service::StateMap& state) {
  const json::object* create = service::FindStateContent(state, "m.room.create", "");
  const json::value* id = create == nullptr ? nullptr : create->if_contains("room_version");
  if (id == nullptr || !id->is_string()) return *service::FindRoomVersion("1");
  return service::RoomVersionOrDefault(id->get_string());
}

void CheckFilter(const json::value& value, const json::object* event) {
  absl::StatusOr<service::Filter> filter = service::ParseFilter(value);
  if (!filter.ok()) {
    FUZZ_CHECK(service::ErrcodeOf(filter.status()) == service::Errcode::kBadJson,
               filter.status().ToString());
    return;
  }
  json::object written = service::ToJson(*filter);
  absl::StatusOr<service::Filter> again = service::ParseFilter(written);
  FUZZ_CHECK(again.ok(), again.status().ToString());
  FUZZ_CHECK(service::ToJson(*again) == written, json::serialize(written));
  const int64_t limit = service::EffectiveLimit(filter->room.timeline, 10, 100);
  FUZZ_CHECK(limit >= 1 && limit <= 100, core::StrCat(limit));
  if (event != nullptr) {
    service::Matches(filter->room.timeline, *event);
    service::Matches(filter->presence, *event);
  }
}

// auth_rules.h: the state entries AuthStateKeys names (plus m.room.create, which v12 does not
// select because the room id stands for it) are all that CheckEventAuth reads, except rule 1
// (m.room.create must be the room's first event) and rule 4.3.1 (a join whose target is the
// creator: content.creator before v11, the create's sender after), which read whether there is
// any other state.
void CheckAuthStateOnly(const json::object& event, const service::StateMap& state,
                        const std::vector<service::StateKey>& keys, const absl::Status& status) {
  if (const json::value* type = event.if_contains("type");
      type != nullptr && type->is_string() && type->get_string() == "m.room.create") {
    return;
  }
  const json::object* create = service::FindStateContent(state, "m.room.create", "");
  const json::object* create_event = service::FindState(state, "m.room.create", "");
  const json::value* creator = create == nullptr ? nullptr : create->if_contains("creator");
  const json::value* sender =
      create_event == nullptr ? nullptr : create_event->if_contains("sender");
  const json::value* target = event.if_contains("state_key");
  if (target != nullptr &&
      ((creator != nullptr && *creator == *target) || (sender != nullptr && *sender == *target))) {
    return;
  }
  service::StateMap auth_state;
  if (create_event != nullptr)
    auth_state.emplace(service::StateKey("m.room.create", ""), *create_event);
  for (const service::StateKey& key : keys) {
    if (const json::object* entry = service::FindState(state, key.first, key.second)) {
      auth_state.emplace(key, *entry);
    }
  }
  absl::Status with_auth_state = service::CheckEventAuth(event, auth_state);
  FUZZ_CHECK(with_auth_state.ok() == status.ok(),
             core::StrCat("full state: ", status.ToString(),
                          "; auth state only: ", with_auth_state.ToString()));
}

void CheckAuth(const json::array& events) {
  if (events.empty() || !events[0].is_object()) return;
  const json::object& event = events[0].get_object();
  service::StateMap state;
  for (size_t i = 1; i < events.size(); ++i) {
    if (events[i].is_object()) service::PutState(state, events[i].get_object());
  }
  std::vector<service::StateKey> keys = service::AuthStateKeys(event, VersionOfState(state));
  for (size_t i = 0; i < keys.size(); ++i) {
    FUZZ_CHECK(std::find(keys.begin() + i + 1, keys.end(), keys[i]) == keys.end(),
               "AuthStateKeys repeats a key");
  }
  absl::Status status = service::CheckEventAuth(event, state);
  FUZZ_CHECK(status.ok() || service::ErrcodeOf(status) == service::Errcode::kForbidden,
             status.ToString());
  CheckAuthStateOnly(event, state, keys, status);
  if (events.size() > 1 && events[1].is_object()) {
    absl::Status redaction = service::CheckRedactionAuth(event, events[1].get_object(), state);
    FUZZ_CHECK(redaction.ok() || service::ErrcodeOf(redaction) == service::Errcode::kForbidden,
               redaction.ToString());
  }
  for (const auto& [key, state_event] : state) {
    if (const json::value* content = state_event.if_contains("content")) {
      if (key.first == "m.room.power_levels") CheckPowerLevels(*content);
    }
  }
}

void CheckEvent(const json::object& event) {
  CheckHashes(event);
  CheckRedaction(event);
  CheckCommitPath(event);
  CheckClientEvent(event);
  if (const json::value* content = event.if_contains("content")) CheckPowerLevels(*content);
  CheckAuth(json::array{event});
}

}  // namespace
}  // namespace conclave::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace conclave::fuzz;  // NOLINT: a fuzz target's entry point
  namespace json = boost::json;
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  // What the service reads back from its maps: a JSON object, or kDataLoss.
  auto stored = conclave::service::ParseStored(input, "fuzz");
  FUZZ_CHECK(stored.ok() || stored.status().code() == absl::StatusCode::kDataLoss);

  boost::system::error_code ec;
  json::value value = Parse(input, ec);
  if (ec) {
    // Not JSON: the raw bytes as one identifier.
    if (size <= 512) CheckIdentifiers(input);
    return 0;
  }
  CheckCanonical(value);
  std::vector<std::string_view> strings;
  CollectStrings(value, strings);
  for (std::string_view s : strings) CheckIdentifiers(s);

  if (const json::object* event = value.if_object()) {
    CheckEvent(*event);
    CheckFilter(value, event);
  } else if (const json::array* events = value.if_array()) {
    CheckAuth(*events);
    if (!events->empty()) CheckFilter((*events)[0], nullptr);
  }
  return 0;
}
