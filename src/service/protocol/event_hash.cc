#include "conclave/service/protocol/event_hash.h"

#include <boost/json/value.hpp>

#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/canonical_json.h"
#include "conclave/service/protocol/crypto.h"

namespace conclave::service {

absl::StatusOr<std::string> ContentHash(const boost::json::object& event) {
  boost::json::object hashed = event;
  hashed.erase("unsigned");
  hashed.erase("signatures");
  hashed.erase("hashes");
  CONCLAVE_ASSIGN_OR_RETURN(std::string canonical, CanonicalJson(hashed));
  return UnpaddedBase64(Sha256(canonical));
}

absl::Status AddContentHash(boost::json::object& event) {
  CONCLAVE_ASSIGN_OR_RETURN(std::string hash, ContentHash(event));
  boost::json::value& hashes = event["hashes"];
  if (!hashes.is_object()) hashes = boost::json::object();
  hashes.get_object()["sha256"] = hash;
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReferenceHash(const boost::json::object& event,
                                          std::string_view room_version) {
  return ReferenceHash(event, RoomVersionOrDefault(room_version));
}

absl::StatusOr<std::string> ReferenceHash(const boost::json::object& event,
                                          const RoomVersion& version) {
  boost::json::object redacted = RedactEvent(event, version);
  if (version.room_id_from_create_event) {
    const boost::json::value* type = redacted.if_contains("type");
    if (type != nullptr && type->is_string() && type->get_string() == "m.room.create") {
      redacted.erase("room_id");
    }
  }
  redacted.erase("signatures");
  redacted.erase("unsigned");  // RedactEvent drops it already; the spec names it here too.
  CONCLAVE_ASSIGN_OR_RETURN(std::string canonical, CanonicalJson(redacted));
  return Sha256(canonical);
}

absl::StatusOr<std::string> EventIdV4(const boost::json::object& event,
                                      std::string_view room_version) {
  CONCLAVE_ASSIGN_OR_RETURN(std::string hash, ReferenceHash(event, room_version));
  return core::StrCat("$", UnpaddedBase64Url(hash));
}

absl::StatusOr<std::string> EventId(const boost::json::object& event, const RoomVersion& version) {
  if (version.event_id_format == EventIdFormat::kOpaque) {
    const boost::json::value* id = event.if_contains("event_id");
    if (id == nullptr || !id->is_string()) {
      return absl::InvalidArgumentError(core::StrCat(
          "room version ", version.id, " events carry their event_id; this one has none"));
    }
    return std::string(id->get_string());
  }
  CONCLAVE_ASSIGN_OR_RETURN(std::string hash, ReferenceHash(event, version));
  if (version.event_id_format == EventIdFormat::kBase64) {
    return core::StrCat("$", UnpaddedBase64(hash));
  }
  return core::StrCat("$", UnpaddedBase64Url(hash));
}

std::string NewOpaqueEventId(std::string_view server_name) {
  return core::StrCat("$", RandomAlnum(18), ":", server_name);
}

absl::StatusOr<std::string> RoomIdFromCreateEvent(const boost::json::object& create,
                                                  const RoomVersion& version) {
  CONCLAVE_ASSIGN_OR_RETURN(std::string hash, ReferenceHash(create, version));
  return core::StrCat("!", UnpaddedBase64Url(hash));
}

}  // namespace conclave::service
