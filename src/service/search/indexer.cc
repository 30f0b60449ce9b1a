#include "conclave/service/search/indexer.h"

#include <utility>

#include "conclave/core/log.h"
#include "conclave/core/status_macros.h"
#include "conclave/service/storage/schema.h"
#include "conclave/service/storage/stored_json.h"

namespace conclave::service {
namespace {

const boost::json::object* ContentOf(const boost::json::object& pdu) {
  const auto* content = pdu.if_contains("content");
  return content != nullptr && content->is_object() ? &content->get_object() : nullptr;
}

// m.topic's text/plain representation (Client-Server API, m.room.topic; spec v1.15).
std::string_view PlainTopic(const boost::json::object& content) {
  const auto* topic = content.if_contains("m.topic");
  if (topic == nullptr || !topic->is_object()) return {};
  const auto* text = topic->get_object().if_contains("m.text");
  if (text == nullptr || !text->is_array()) return {};
  for (const auto& entry : text->get_array()) {
    if (!entry.is_object()) continue;
    const std::string_view mimetype = StringField(entry.get_object(), "mimetype");
    if (mimetype.empty() || mimetype == "text/plain")
      return StringField(entry.get_object(), "body");
  }
  return {};
}

// The event a redaction redacts: `content.redacts` from room version 11, top-level before.
std::string_view RedactsOf(const boost::json::object& pdu) {
  if (const auto* content = ContentOf(pdu)) {
    if (std::string_view id = StringField(*content, "redacts"); !id.empty()) return id;
  }
  return StringField(pdu, "redacts");
}

}  // namespace

IndexedEvent ToIndexedEvent(const boost::json::object& pdu, uint64_t position) {
  IndexedEvent event{.event_id = std::string(StringField(pdu, "event_id")),
                     .room_id = std::string(StringField(pdu, "room_id")),
                     .sender = std::string(StringField(pdu, "sender")),
                     .type = std::string(StringField(pdu, "type")),
                     .position = position};
  const boost::json::object* content = ContentOf(pdu);
  if (content == nullptr) return event;
  if (event.type == "m.room.message") {
    event.body = std::string(StringField(*content, "body"));
  } else if (event.type == "m.room.name") {
    event.name = std::string(StringField(*content, "name"));
  } else if (event.type == "m.room.topic") {
    event.topic = std::string(StringField(*content, "topic"));
    const std::string_view plain = PlainTopic(*content);
    if (!plain.empty() && plain != event.topic)
      event.topic = core::StrCat(event.topic, "\n", plain);
  }
  return event;
}

SearchIndexer::SearchIndexer(Deps deps, std::unique_ptr<XapianIndex> index)
    : deps_(deps), index_(std::move(index)) {}

SearchIndexer::~SearchIndexer() { Stop(); }

absl::StatusOr<std::unique_ptr<SearchIndexer>> SearchIndexer::Open(Deps deps,
                                                                   const std::string& directory) {
  CONCLAVE_ASSIGN_OR_RETURN(auto index, XapianIndex::Open(directory));
  return std::unique_ptr<SearchIndexer>(new SearchIndexer(deps, std::move(index)));
}

absl::Status SearchIndexer::Start(absl::Duration poll_interval) {
  return worker_.Start("search indexer", [this, poll_interval] { Run(poll_interval); });
}

void SearchIndexer::Stop() { worker_.Stop(); }

void SearchIndexer::Wake() { worker_.Wake(); }

void SearchIndexer::Run(absl::Duration poll_interval) {
  bool stop = false;
  while (true) {
    // A pass starts after the stop request is seen, so that it covers every commit before
    // Stop() and an unload leaves the index current.
    if (absl::StatusOr<size_t> done = CatchUp(); !done.ok()) {
      CONCLAVE_LOG(kError, "search", "indexing failed: {}", done.status().message());
    }
    if (stop) return;
    stop = !worker_.Wait(poll_interval);
  }
}

absl::StatusOr<size_t> SearchIndexer::CatchUp() {
  std::lock_guard pass(pass_mu_);
  const uint64_t upto = deps_.stream.current();
  CONCLAVE_ASSIGN_OR_RETURN(uint64_t last, index_->LastPosition());
  if (last == upto) return 0;
  if (last > upto) {
    // The index knows positions the database never reached (a restored backup): start over.
    CONCLAVE_LOG(kWarn, "search", "index at position {} is ahead of the database ({}): rebuilding",
                 last, upto);
    CONCLAVE_RETURN_IF_ERROR(index_->Clear());
    last = 0;
  }
  CONCLAVE_ASSIGN_OR_RETURN(std::vector<std::string> rooms, deps_.rooms.AllRoomIds());
  size_t read = 0;
  for (const std::string& room_id : rooms) {
    CONCLAVE_ASSIGN_OR_RETURN(size_t n, IndexRoom(room_id, last, upto));
    read += n;
  }
  CONCLAVE_RETURN_IF_ERROR(index_->Commit(upto));
  return read;
}

absl::StatusOr<size_t> SearchIndexer::Rebuild() {
  {
    std::lock_guard pass(pass_mu_);
    CONCLAVE_RETURN_IF_ERROR(index_->Clear());
  }
  return CatchUp();
}

absl::StatusOr<size_t> SearchIndexer::IndexRoom(const std::string& room_id, uint64_t after,
                                                uint64_t upto) {
  const Store& store = deps_.store;
  auto it = store.db->NewIterator(*store.timeline, schema::RoomIteration(room_id));
  size_t read = 0;
  for (it->Seek(schema::TimelineKey(room_id, after + 1)); it->Valid(); it->Next()) {
    CONCLAVE_ASSIGN_OR_RETURN(uint64_t position, schema::PositionOfTimelineKey(it->key()));
    if (position > upto) break;
    CONCLAVE_ASSIGN_OR_RETURN(boost::json::object pdu, ParseObject(it->value()));
    ++read;
    if (StringField(pdu, "type") == "m.room.redaction") {
      if (std::string_view target = RedactsOf(pdu); !target.empty()) {
        CONCLAVE_RETURN_IF_ERROR(index_->Remove(target));
      }
      continue;
    }
    const IndexedEvent event = ToIndexedEvent(pdu, position);
    if (event.body.empty() && event.name.empty() && event.topic.empty()) continue;
    CONCLAVE_RETURN_IF_ERROR(index_->Put(event));
  }
  CONCLAVE_RETURN_IF_ERROR(it->status());
  return read;
}

}  // namespace conclave::service
