#include "conclave/service/protocol/pdu_checks.h"

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <set>
#include <utility>

#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/auth_rules.h"
#include "conclave/service/protocol/canonical_json.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/event_hash.h"
#include "conclave/service/protocol/identifiers.h"
#include "conclave/service/protocol/redaction.h"
#include "conclave/service/protocol/signing.h"

namespace conclave::service {
namespace {

using core::StrCat;

template <typename... Args>
absl::Status Malformed(const Args&... args) {
  return BadJson(StrCat(args...));
}

std::string_view StringOf(const boost::json::object& object, std::string_view key) {
  const boost::json::value* value = object.if_contains(key);
  return value != nullptr && value->is_string() ? std::string_view(value->get_string())
                                                : std::string_view();
}

// The server of a user id or v1/v2 event id: what follows the first ':'.
std::string_view ServerPart(std::string_view id) {
  size_t colon = id.find(':');
  return colon == std::string_view::npos ? std::string_view() : id.substr(colon + 1);
}

bool IsCreate(const boost::json::object& pdu) { return StringOf(pdu, "type") == "m.room.create"; }

// A v3+ event id: "$" + 43 characters of (URL-safe, from v4) unpadded base64 of a SHA-256.
bool IsHashEventId(std::string_view id, const RoomVersion& version) {
  if (id.size() != 44 || id[0] != '$') return false;
  for (char c : id.substr(1)) {
    bool common = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    bool extra = version.event_id_format == EventIdFormat::kBase64 ? (c == '+' || c == '/')
                                                                   : (c == '-' || c == '_');
    if (!common && !extra) return false;
  }
  return true;
}

absl::Status CheckEventIdForm(std::string_view id, const RoomVersion& version,
                              std::string_view what) {
  if (version.event_id_format == EventIdFormat::kOpaque) {
    if (!LooksLikeEventId(id) || ServerPart(id).empty()) {
      return Malformed(what, " is not an event id of the form $opaque:server");
    }
  } else if (!IsHashEventId(id, version)) {
    return Malformed(what, " is not an event id of room version ", version.id);
  }
  return absl::OkStatus();
}

// prev_events and auth_events: ids (v3+) or [id, {"sha256": hash}] pairs (v1, v2).
absl::Status CheckEventRefs(const boost::json::object& pdu, std::string_view key,
                            const RoomVersion& version) {
  const boost::json::value* refs = pdu.if_contains(key);
  if (refs == nullptr || !refs->is_array()) return Malformed(key, " must be an array");
  for (const boost::json::value& ref : refs->get_array()) {
    if (version.event_refs_with_hashes) {
      const boost::json::array* pair = ref.if_array();
      if (pair == nullptr || pair->size() != 2 || !(*pair)[0].is_string() ||
          !(*pair)[1].is_object()) {
        return Malformed(key, " entries must be [event id, {\"sha256\": hash}] pairs");
      }
      CONCLAVE_RETURN_IF_ERROR(CheckEventIdForm((*pair)[0].get_string(), version, key));
    } else {
      if (!ref.is_string()) return Malformed(key, " entries must be event ids");
      CONCLAVE_RETURN_IF_ERROR(CheckEventIdForm(ref.get_string(), version, key));
    }
  }
  return absl::OkStatus();
}

// The event ids `pdu.auth_events` names, in order.
std::vector<std::string> AuthEventIds(const boost::json::object& pdu) {
  std::vector<std::string> ids;
  const boost::json::value* refs = pdu.if_contains("auth_events");
  if (refs == nullptr || !refs->is_array()) return ids;
  for (const boost::json::value& ref : refs->get_array()) {
    if (ref.is_string()) {
      ids.emplace_back(ref.get_string());
    } else if (ref.is_array() && !ref.get_array().empty() && ref.get_array()[0].is_string()) {
      ids.emplace_back(ref.get_array()[0].get_string());
    }
  }
  return ids;
}

// The event id of `pdu` (as received: v3+ without `event_id`).
absl::StatusOr<std::string> IdOf(const boost::json::object& pdu, const RoomVersion& version) {
  if (version.event_id_format == EventIdFormat::kOpaque)
    return std::string(StringOf(pdu, "event_id"));
  return EventId(pdu, version);
}

PduCheckResult Verdict(PduCheckResult result, PduVerdict verdict, std::string_view step,
                       const absl::Status& status) {
  result.verdict = verdict;
  result.reason = StrCat(step, ": ", status.message());
  return result;
}

}  // namespace

std::string_view PduVerdictName(PduVerdict verdict) {
  switch (verdict) {
    case PduVerdict::kAccepted:
      return "accepted";
    case PduVerdict::kRejected:
      return "rejected";
    case PduVerdict::kSoftFailed:
      return "soft_failed";
  }
  return "rejected";
}

absl::Status CheckPduFormat(const boost::json::object& pdu, const RoomVersion& version) {
  // The total size first: the cheapest way to refuse a huge event.
  absl::StatusOr<std::string> canonical = CanonicalJson(pdu);
  if (!canonical.ok()) return Malformed("not canonical JSON: ", canonical.status().message());
  if (canonical->size() > kMaxPduBytes) {
    return TooLarge(StrCat("the event is ", canonical->size(), " bytes of canonical JSON, over ",
                           kMaxPduBytes));
  }
  if (version.strict_canonical_json && HasFloat(pdu)) {
    return Malformed("room version ", version.id, " events may not contain floats");
  }
  std::string_view sender = StringOf(pdu, "sender");
  if (sender.empty() || !ParseUserId(sender).ok()) return Malformed("sender is not a user id");
  const boost::json::value* ts = pdu.if_contains("origin_server_ts");
  if (ts == nullptr || !ts->is_int64()) return Malformed("origin_server_ts must be an integer");
  std::string_view type = StringOf(pdu, "type");
  if (!pdu.contains("type") || !pdu.at("type").is_string()) {
    return Malformed("type must be a string");
  }
  if (type.size() > kMaxEventTypeBytes) {
    return Malformed("type is over ", kMaxEventTypeBytes, " bytes");
  }
  if (const boost::json::value* state_key = pdu.if_contains("state_key"); state_key != nullptr) {
    if (!state_key->is_string()) return Malformed("state_key must be a string");
    if (state_key->get_string().size() > kMaxEventTypeBytes) {
      return Malformed("state_key is over ", kMaxEventTypeBytes, " bytes");
    }
  }
  const boost::json::value* content = pdu.if_contains("content");
  if (content == nullptr || !content->is_object()) return Malformed("content must be an object");
  const boost::json::value* depth = pdu.if_contains("depth");
  if (depth == nullptr || !depth->is_int64() || depth->get_int64() < 0 ||
      depth->get_int64() > kCanonicalJsonMaxInt) {
    return Malformed("depth must be an integer in [0, 2^53-1]");
  }
  const boost::json::value* hashes = pdu.if_contains("hashes");
  if (hashes == nullptr || !hashes->is_object() ||
      StringOf(hashes->get_object(), "sha256").empty()) {
    return Malformed("hashes must be an object with a sha256 string");
  }
  const boost::json::value* signatures = pdu.if_contains("signatures");
  if (signatures == nullptr || !signatures->is_object()) {
    return Malformed("signatures must be an object");
  }
  for (const auto& [server, by_server] : signatures->get_object()) {
    if (!by_server.is_object()) return Malformed("signatures of ", server, " must be an object");
    for (const auto& [key_id, signature] : by_server.get_object()) {
      if (!signature.is_string()) return Malformed("signature ", key_id, " must be a string");
    }
  }
  if (const boost::json::value* unsigned_data = pdu.if_contains("unsigned");
      unsigned_data != nullptr && !unsigned_data->is_object()) {
    return Malformed("unsigned must be an object");
  }
  // room_id: pdu_v1 … pdu_v11 require it; v12 leaves it out of m.room.create only.
  const boost::json::value* room_id = pdu.if_contains("room_id");
  if (version.room_id_from_create_event && IsCreate(pdu)) {
    if (room_id != nullptr) return Malformed("a room version 12 m.room.create has no room_id");
  } else {
    if (room_id == nullptr || !room_id->is_string()) return Malformed("room_id must be a string");
    absl::StatusOr<RoomId> parsed = ParseRoomId(room_id->get_string());
    if (!parsed.ok()) return Malformed("room_id is not a room id");
    if (version.room_id_from_create_event != parsed->server_name.empty()) {
      return Malformed("room_id ", room_id->get_string(), " is not of room version ", version.id);
    }
  }
  if (version.event_id_format == EventIdFormat::kOpaque) {
    if (!pdu.contains("event_id") || !pdu.at("event_id").is_string()) {
      return Malformed("event_id must be a string in room version ", version.id);
    }
    CONCLAVE_RETURN_IF_ERROR(CheckEventIdForm(StringOf(pdu, "event_id"), version, "event_id"));
  }
  CONCLAVE_RETURN_IF_ERROR(CheckEventRefs(pdu, "prev_events", version));
  CONCLAVE_RETURN_IF_ERROR(CheckEventRefs(pdu, "auth_events", version));
  if (const boost::json::value* redacts = pdu.if_contains("redacts"); redacts != nullptr) {
    // v1-v10 carry it at the top level; v11 moved it into content (both are only read).
    if (!redacts->is_string()) return Malformed("redacts must be a string");
  }
  return absl::OkStatus();
}

std::vector<std::string> RequiredSigningServers(const boost::json::object& pdu,
                                                const RoomVersion& version) {
  std::vector<std::string> servers;
  auto add = [&servers](std::string_view server) {
    if (server.empty()) return;
    for (const std::string& s : servers) {
      if (s == server) return;
    }
    servers.emplace_back(server);
  };
  add(ServerPart(StringOf(pdu, "sender")));
  if (version.event_id_format == EventIdFormat::kOpaque) add(ServerPart(StringOf(pdu, "event_id")));
  const boost::json::value* content = pdu.if_contains("content");
  if (version.restricted_join && StringOf(pdu, "type") == "m.room.member" && content != nullptr &&
      content->is_object() && StringOf(content->get_object(), "membership") == "join") {
    add(ServerPart(StringOf(content->get_object(), "join_authorised_via_users_server")));
  }
  return servers;
}

absl::Status CheckPduSignatures(const boost::json::object& pdu, const RoomVersion& version,
                                const EventKeyLookup& keys) {
  const boost::json::value* ts_value = pdu.if_contains("origin_server_ts");
  const int64_t ts = !version.enforce_key_validity                 ? 0
                     : ts_value != nullptr && ts_value->is_int64() ? ts_value->get_int64()
                                                                   : 0;
  const boost::json::value* signatures = pdu.if_contains("signatures");
  const boost::json::object* all = signatures == nullptr ? nullptr : signatures->if_object();
  for (const std::string& server : RequiredSigningServers(pdu, version)) {
    const boost::json::value* by_server = all == nullptr ? nullptr : all->if_contains(server);
    if (by_server == nullptr || !by_server->is_object() || by_server->get_object().empty()) {
      return InvalidSignature(StrCat("the event is not signed by ", server));
    }
    int verified = 0;
    std::string skipped;
    for (const auto& [key_id, signature] : by_server->get_object()) {
      if (!std::string_view(key_id).starts_with("ed25519:")) continue;
      absl::StatusOr<std::string> key = keys(server, key_id, ts);
      if (!key.ok()) {
        // "If a signature is from an unknown or expired key, it is skipped."
        core::StrAppend(&skipped, skipped.empty() ? "" : "; ", key_id, ": ",
                        key.status().message());
        continue;
      }
      CONCLAVE_RETURN_IF_ERROR(VerifyEventSignature(pdu, version, server, key_id, *key));
      ++verified;
    }
    if (verified == 0) {
      return MatrixStatus(absl::StatusCode::kUnauthenticated, Errcode::kUnauthorized,
                          StrCat("no valid key of ", server, " to check the event's signature",
                                 skipped.empty() ? "" : " (", skipped, skipped.empty() ? "" : ")"));
    }
  }
  return absl::OkStatus();
}

bool PduContentHashMatches(const boost::json::object& pdu) {
  const boost::json::value* hashes = pdu.if_contains("hashes");
  if (hashes == nullptr || !hashes->is_object()) return false;
  std::string_view claimed = StringOf(hashes->get_object(), "sha256");
  absl::StatusOr<std::string> actual = ContentHash(pdu);
  return actual.ok() && !claimed.empty() && *actual == claimed;
}

absl::Status CheckAuthEventsSelection(const boost::json::object& pdu, const RoomVersion& version,
                                      const std::vector<boost::json::object>& auth_events) {
  const std::vector<StateKey> wanted = AuthStateKeys(pdu, version);
  std::set<StateKey> seen;
  bool has_create = false;
  std::string_view room_id = StringOf(pdu, "room_id");
  for (const boost::json::object& auth : auth_events) {
    StateKey key(std::string(StringOf(auth, "type")), std::string(StringOf(auth, "state_key")));
    const bool create = key.first == "m.room.create" && key.second.empty();
    if (create) has_create = true;
    if (!seen.insert(key).second) {
      return Forbidden(
          StrCat("rule 2.1: auth_events has two events for (", key.first, ", ", key.second, ")"));
    }
    // v12's create is not selected but stands for the room id (rule 2); it is appended here.
    bool selected = create && version.room_id_from_create_event;
    for (const StateKey& w : wanted) selected = selected || w == key;
    if (!selected || !auth.contains("state_key")) {
      return Forbidden(StrCat("rule 2.2: auth_events has (", key.first, ", ", key.second,
                              "), which the auth events selection does not pick"));
    }
    // A v12 create event carries no room_id over federation; this server stores it with one.
    std::string_view auth_room = StringOf(auth, "room_id");
    if (!(create && version.room_id_from_create_event && auth_room.empty()) &&
        auth_room != room_id) {
      return Forbidden(StrCat("rule 2.5: auth event of (", key.first, ", ", key.second,
                              ") is in room ", auth_room, ", not ", room_id));
    }
  }
  if (!has_create) {
    return Forbidden(version.room_id_from_create_event
                         ? "rule 2: the room's m.room.create is unknown or rejected"
                         : "rule 2.4: auth_events has no m.room.create event");
  }
  return absl::OkStatus();
}

PduCheckResult CheckReceivedPdu(const boost::json::object& received, const PduCheckInputs& inputs) {
  const RoomVersion& version = *inputs.version;
  PduCheckResult result;
  result.pdu = received;
  result.pdu.erase("unsigned");
  boost::json::object& pdu = result.pdu;
  // Step 1. A v3+ PDU carries no event_id; one carried anyway must be the right one, and is
  // left out of what is hashed and stored.
  std::string carried_id;
  if (version.event_id_format != EventIdFormat::kOpaque) {
    if (const boost::json::value* id = pdu.if_contains("event_id"); id != nullptr) {
      if (!id->is_string()) {
        return Verdict(std::move(result), PduVerdict::kRejected, "format",
                       Malformed("event_id must be a string"));
      }
      carried_id = id->get_string();
      pdu.erase("event_id");
    }
  }
  if (absl::Status format = CheckPduFormat(pdu, version); !format.ok()) {
    return Verdict(std::move(result), PduVerdict::kRejected, "format", format);
  }
  absl::StatusOr<std::string> id = IdOf(pdu, version);
  if (!id.ok()) return Verdict(std::move(result), PduVerdict::kRejected, "format", id.status());
  result.event_id = *id;
  if (!carried_id.empty() && carried_id != result.event_id) {
    return Verdict(std::move(result), PduVerdict::kRejected, "event id",
                   Malformed("the event carries event_id ", carried_id,
                             " but its reference hash gives ", result.event_id));
  }
  if (!inputs.expected_event_id.empty() && inputs.expected_event_id != result.event_id) {
    return Verdict(
        std::move(result), PduVerdict::kRejected, "event id",
        Malformed("the event's id is ", result.event_id, ", not ", inputs.expected_event_id));
  }
  // A copy: `pdu` may be replaced by its redacted form below.
  std::string room_id(StringOf(pdu, "room_id"));
  if (version.room_id_from_create_event && IsCreate(pdu)) {
    room_id = StrCat("!", std::string_view(result.event_id).substr(1));
  }
  if (!inputs.room_id.empty() && room_id != inputs.room_id) {
    return Verdict(std::move(result), PduVerdict::kRejected, "format",
                   Malformed("the event is in room ", room_id, ", not ", inputs.room_id));
  }
  // Step 2: over the redacted event, so it holds for a full and a redacted copy alike.
  if (absl::Status signatures = CheckPduSignatures(pdu, version, inputs.keys); !signatures.ok()) {
    return Verdict(std::move(result), PduVerdict::kRejected, "signatures", signatures);
  }
  // Step 3.
  if (!PduContentHashMatches(pdu)) {
    result.redacted = true;
    pdu = RedactEvent(pdu, version);
  }
  // What the auth rules read: the event with its id (v1-v2 redactions read it).
  boost::json::object event = pdu;
  if (version.event_id_format != EventIdFormat::kOpaque) event["event_id"] = result.event_id;
  // Step 4: the auth events themselves, then the rules over them.
  StateMap auth_state;
  if (!IsCreate(event)) {
    std::vector<std::string> ids = AuthEventIds(event);
    if (version.room_id_from_create_event) {
      ids.push_back(StrCat("$", std::string_view(room_id).substr(1)));
    }
    std::vector<boost::json::object> auth_events;
    for (const std::string& auth_id : ids) {
      std::optional<boost::json::object> auth =
          inputs.auth_events ? inputs.auth_events(auth_id) : std::nullopt;
      if (!auth.has_value()) {
        return Verdict(
            std::move(result), PduVerdict::kRejected, "auth events",
            Forbidden(StrCat("rule 2.3: auth event ", auth_id, " is unknown or was rejected")));
      }
      auth_events.push_back(*std::move(auth));
    }
    if (absl::Status selection = CheckAuthEventsSelection(event, version, auth_events);
        !selection.ok()) {
      return Verdict(std::move(result), PduVerdict::kRejected, "auth events", selection);
    }
    for (boost::json::object& auth : auth_events) PutState(auth_state, std::move(auth));
  }
  if (absl::Status auth = CheckEventAuth(event, auth_state); !auth.ok()) {
    return Verdict(std::move(result), PduVerdict::kRejected, "auth events", auth);
  }
  // Steps 5 and 6: an m.room.create has no state before it; rule 1 passed with none.
  if (IsCreate(event)) {
    result.verdict = PduVerdict::kAccepted;
    return result;
  }
  if (inputs.state_before != nullptr) {
    if (absl::Status auth = CheckEventAuth(event, *inputs.state_before); !auth.ok()) {
      return Verdict(std::move(result), PduVerdict::kRejected, "state before the event", auth);
    }
  }
  if (inputs.current_state != nullptr) {
    if (absl::Status auth = CheckEventAuth(event, *inputs.current_state); !auth.ok()) {
      return Verdict(std::move(result), PduVerdict::kSoftFailed, "current state", auth);
    }
  }
  result.verdict = PduVerdict::kAccepted;
  return result;
}

}  // namespace conclave::service
