#include "conclave/service/storage/relation_rows.h"

#include <boost/json/serialize.hpp>

#include "conclave/core/str_cat.h"
#include "conclave/database/key.h"
#include "conclave/service/storage/schema.h"
#include "conclave/service/storage/stored_json.h"

namespace conclave::service {

std::optional<Relation> RelationOf(const boost::json::object& pdu) {
  const auto* content = pdu.if_contains("content");
  if (content == nullptr || !content->is_object()) return std::nullopt;
  const auto* relates_to = content->get_object().if_contains("m.relates_to");
  if (relates_to == nullptr || !relates_to->is_object()) return std::nullopt;
  const auto& r = relates_to->get_object();
  const auto* rel_type = r.if_contains("rel_type");
  const auto* event_id = r.if_contains("event_id");
  if (rel_type == nullptr || !rel_type->is_string() || rel_type->get_string().empty() ||
      event_id == nullptr || !event_id->is_string() || event_id->get_string().empty()) {
    return std::nullopt;
  }
  return Relation{.parent_id = event_id->get_string(), .rel_type = rel_type->get_string()};
}

std::string EncodeRelationValue(std::string_view event_id, std::string_view type,
                                std::string_view sender, int64_t origin_server_ts) {
  auto j = [](std::string_view s) { return boost::json::string_view(s.data(), s.size()); };
  return boost::json::serialize(boost::json::object{{"event_id", j(event_id)},
                                                    {"type", j(type)},
                                                    {"sender", j(sender)},
                                                    {"ts", origin_server_ts}});
}

absl::StatusOr<RelationRow> ParseRelationRow(std::string_view key, std::string_view value) {
  database::KeyReader reader(key);
  RelationRow row;
  auto room_id = reader.ReadString();
  auto parent_id = reader.ReadString();
  auto rel_type = reader.ReadString();
  auto position = reader.ReadU64();
  if (!room_id.ok() || !parent_id.ok() || !rel_type.ok() || !position.ok() || !reader.AtEnd()) {
    return absl::DataLossError("relations key is not (room, parent, rel_type, position)");
  }
  auto record = ParseObject(value);
  if (!record.ok()) return absl::DataLossError("relations value is not a JSON object");
  row.room_id = *std::move(room_id);
  row.parent_id = *std::move(parent_id);
  row.rel_type = *std::move(rel_type);
  row.position = *position;
  row.event_id = std::string(StringField(*record, "event_id"));
  row.type = std::string(StringField(*record, "type"));
  row.sender = std::string(StringField(*record, "sender"));
  row.origin_server_ts = IntField(*record, "ts").value_or(0);
  if (row.event_id.empty()) return absl::DataLossError("relations value has no event_id");
  return row;
}

void RelationRowsBuilder::Add(std::string_view room_id, uint64_t position,
                              const boost::json::object& pdu) {
  std::optional<Relation> relation = RelationOf(pdu);
  if (!relation) return;
  relations_[schema::RelationKey(room_id, relation->parent_id, relation->rel_type, position)] =
      EncodeRelationValue(StringField(pdu, "event_id"), StringField(pdu, "type"),
                          StringField(pdu, "sender"),
                          IntField(pdu, "origin_server_ts").value_or(0));
  if (relation->rel_type == "m.thread") {
    latest_thread_child_[{std::string(room_id), std::string(relation->parent_id)}] = position;
  }
}

std::map<std::string, std::string> RelationRowsBuilder::Threads() const {
  std::map<std::string, std::string> out;
  for (const auto& [root, position] : latest_thread_child_) {
    out[schema::ThreadKey(root.first, position, root.second)] = "";
  }
  return out;
}

}  // namespace conclave::service
