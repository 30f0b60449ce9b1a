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
  boost::json::object redacted = RedactEvent(event, room_version);
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

}  // namespace conclave::service
