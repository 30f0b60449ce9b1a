#include "e2ee_sections.h"

#include "conclave/core/status_macros.h"

namespace conclave::service::sync_internal {
namespace {

boost::json::array Strings(const std::set<std::string>& strings) {
  boost::json::array out;
  for (const std::string& s : strings) out.emplace_back(s);
  return out;
}

}  // namespace

absl::StatusOr<E2eeSections> ReadE2eeSections(const SyncPass& pass, E2ee& e2ee,
                                              const std::vector<UserRoom>& memberships) {
  const Session& session = pass.session;
  E2eeSections out;
  std::optional<uint64_t> acknowledged;
  if (!pass.initial) acknowledged = pass.since.position;
  CONCLAVE_ASSIGN_OR_RETURN(auto messages, e2ee.ToDeviceForSync(session.user_id, session.device_id,
                                                                acknowledged, pass.upto));
  for (ToDeviceMessage& m : messages) {
    out.to_device.push_back(boost::json::object{{"sender", std::move(m.sender)},
                                                {"type", std::move(m.type)},
                                                {"content", std::move(m.content)}});
  }
  if (!pass.initial) {
    CONCLAVE_ASSIGN_OR_RETURN(out.device_lists,
                              e2ee.Changes(session.user_id, pass.after, pass.upto, memberships));
  }
  CONCLAVE_ASSIGN_OR_RETURN(out.one_time_key_counts,
                            e2ee.OneTimeKeyCounts(session.user_id, session.device_id));
  CONCLAVE_ASSIGN_OR_RETURN(auto fallback,
                            e2ee.UnusedFallbackKeyTypes(session.user_id, session.device_id));
  for (std::string& type : fallback) out.unused_fallback_key_types.emplace_back(std::move(type));
  return out;
}

void AddE2eeSections(E2eeSections sections, boost::json::object& body) {
  body["to_device"] = Events(std::move(sections.to_device));
  body["device_lists"] = boost::json::object{{"changed", Strings(sections.device_lists.changed)},
                                             {"left", Strings(sections.device_lists.left)}};
  body["device_one_time_keys_count"] = std::move(sections.one_time_key_counts);
  body["device_unused_fallback_key_types"] = std::move(sections.unused_fallback_key_types);
}

}  // namespace conclave::service::sync_internal
