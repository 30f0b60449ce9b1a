// E2ee's to-device messages (Client-Server API "Send-to-Device messaging", to_device.yaml): sent
// with PUT /sendToDevice, kept per device in stream order, delivered by /sync and deleted once a
// later sync's `since` shows the client received them.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <map>
#include <set>
#include <utility>

#include "conclave/core/log.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/database/key.h"
#include "conclave/service/e2ee/e2ee.h"
#include "conclave/service/federation/transaction_queue.h"
#include "conclave/service/protocol/clock.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/identifiers.h"
#include "conclave/service/storage/schema.h"
#include "conclave/service/storage/stored_json.h"

namespace conclave::service {
namespace {

using boost::json::object;
using schema::DeviceKey;

}  // namespace

absl::StatusOr<size_t> E2ee::PendingLocked(const std::string& device_key) {
  if (auto it = pending_.find(device_key); it != pending_.end()) return it->second;
  size_t count = 0;
  CONCLAVE_RETURN_IF_ERROR(deps_.store.db->ForEachWithPrefix(
      *maps_.to_device, device_key, [&](std::string_view, std::string_view) {
        ++count;
        return true;
      }));
  pending_[device_key] = count;
  return count;
}

absl::Status E2ee::AddRecipients(const std::string& user, const object& devices,
                                 std::set<std::pair<std::string, std::string>>& seen,
                                 std::vector<Recipient>& out) const {
  for (const auto& [device_key, content] : devices) {
    if (!content.is_object()) continue;
    std::vector<std::string> device_ids;
    if (device_key == "*") {
      CONCLAVE_ASSIGN_OR_RETURN(auto all, deps_.accounts.ListDevices(user));
      for (const Device& d : all) device_ids.push_back(d.device_id);
    } else {
      CONCLAVE_ASSIGN_OR_RETURN(bool exists, DeviceExists(user, device_key));
      if (exists) device_ids.emplace_back(device_key);
    }
    for (std::string& device_id : device_ids) {
      if (!seen.emplace(user, device_id).second) continue;
      out.push_back({user, std::move(device_id), &content.get_object()});
    }
  }
  return absl::OkStatus();
}

absl::Status E2ee::StoreToDevice(std::string_view sender, std::string_view type,
                                 const std::string& txn_row,
                                 const std::vector<Recipient>& recipients,
                                 absl::FunctionRef<void(database::WriteBatch&)> extra) {
  std::vector<std::string> woken;
  {
    std::lock_guard lock(mu_);
    CONCLAVE_ASSIGN_OR_RETURN(auto done, deps_.store.Find(*maps_.to_device_txns, txn_row));
    if (done) return absl::OkStatus();  // a retry of a request that was stored
    std::vector<const Recipient*> kept;
    for (const Recipient& r : recipients) {
      const std::string device_key = DeviceKey(r.user_id, r.device_id);
      CONCLAVE_ASSIGN_OR_RETURN(size_t pending, PendingLocked(device_key));
      if (pending >= kMaxPendingToDevice) {
        dropped_->Increment();
        CONCLAVE_LOG(kWarn, "e2ee",
                     "dropped a {} to-device message from {} for {} {}: {} messages pending", type,
                     sender, r.user_id, r.device_id, pending);
        continue;
      }
      kept.push_back(&r);
    }
    database::WriteBatch batch;
    // Stored with each message for the admin's backlog age; /sync does not send it.
    const int64_t now_ms = NowMs();
    CONCLAVE_RETURN_IF_ERROR(
        deps_.stream
            .Commit(batch,
                    [&](uint64_t position, database::WriteBatch& b) {
                      for (const Recipient* r : kept) {
                        b.Put(*maps_.to_device,
                              schema::ToDeviceKey(r->user_id, r->device_id, position),
                              boost::json::serialize(object{{"sender", sender},
                                                            {"type", type},
                                                            {"content", *r->content},
                                                            {"ts", now_ms}}));
                      }
                      b.Put(*maps_.to_device_txns, txn_row, schema::EncodePosition(position));
                      extra(b);
                    })
            .status());
    for (const Recipient* r : kept) {
      ++pending_[DeviceKey(r->user_id, r->device_id)];
      if (woken.empty() || woken.back() != r->user_id) woken.push_back(r->user_id);
    }
  }
  if (!woken.empty()) deps_.notifier.Notify(woken);
  return absl::OkStatus();
}

absl::Status E2ee::SendToDevice(const Session& session, std::string_view type,
                                std::string_view txn_id, const object& messages) {
  if (type.empty()) return InvalidParam("The event type must not be empty");
  std::vector<Recipient> recipients;
  std::set<std::pair<std::string, std::string>> seen;
  // Server name → the part of `messages` for its users (Server-Server API "Send-to-device
  // messaging": one m.direct_to_device EDU per destination).
  std::map<std::string, object> remote;
  for (const auto& [user_key, devices] : messages) {
    const std::string user(user_key);
    CONCLAVE_ASSIGN_OR_RETURN(UserId parsed, ParseUserId(user));
    if (!devices.is_object()) return BadJson("messages values must be objects");
    for (const auto& [device, content] : devices.get_object()) {
      if (!content.is_object()) return BadJson("Message contents must be objects");
    }
    if (parsed.server_name != deps_.server_name) {
      if (deps_.federation_queue == nullptr) {
        CONCLAVE_LOG(kDebug, "e2ee", "to-device message for {} not sent: no federation", user);
        continue;
      }
      remote[parsed.server_name][user] = devices;
      continue;
    }
    CONCLAVE_RETURN_IF_ERROR(AddRecipients(user, devices.get_object(), seen, recipients));
    if (recipients.size() > kMaxToDeviceMessages) {
      return TooLarge(core::StrCat("At most ", kMaxToDeviceMessages, " devices per request"));
    }
  }
  const std::string message_id = core::StrCat(session.device_id, "/", txn_id);
  CONCLAVE_RETURN_IF_ERROR(StoreToDevice(
      session.user_id, type, schema::TxnKey(session.user_id, session.device_id, txn_id), recipients,
      [&](database::WriteBatch& b) {
        for (auto& [server, part] : remote) {
          deps_.federation_queue->AddEdu(b, server, "m.direct_to_device",
                                         object{{"sender", session.user_id},
                                                {"type", type},
                                                {"message_id", message_id},
                                                {"messages", part}});
        }
      }));
  if (!remote.empty()) deps_.federation_queue->Wake();
  return absl::OkStatus();
}

absl::Status E2ee::ReceiveToDevice(std::string_view origin, const object& content) {
  const std::string_view sender = StringField(content, "sender");
  const std::string_view type = StringField(content, "type");
  const std::string_view message_id = StringField(content, "message_id");
  const boost::json::value* messages = content.if_contains("messages");
  if (sender.empty() || type.empty() || message_id.empty() || messages == nullptr ||
      !messages->is_object()) {
    return BadJson("m.direct_to_device needs sender, type, message_id and messages");
  }
  CONCLAVE_ASSIGN_OR_RETURN(UserId parsed_sender, ParseUserId(sender));
  if (parsed_sender.server_name != origin) {
    return Forbidden(core::StrCat("The sender ", sender, " is not a user of ", origin));
  }
  std::vector<Recipient> recipients;
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& [user_key, devices] : messages->get_object()) {
    const std::string user(user_key);
    absl::StatusOr<UserId> parsed = ParseUserId(user);
    if (!parsed.ok() || parsed->server_name != deps_.server_name || !devices.is_object()) {
      continue;  // not ours to deliver
    }
    CONCLAVE_RETURN_IF_ERROR(AddRecipients(user, devices.get_object(), seen, recipients));
    if (recipients.size() > kMaxToDeviceMessages) {
      return TooLarge(core::StrCat("At most ", kMaxToDeviceMessages, " devices per message"));
    }
  }
  return StoreToDevice(sender, type, schema::TxnKey(sender, "", message_id), recipients,
                       [](database::WriteBatch&) {});
}

absl::StatusOr<std::vector<ToDeviceMessage>> E2ee::ToDeviceForSync(
    std::string_view user_id, std::string_view device_id, std::optional<uint64_t> acknowledged,
    uint64_t upto) {
  const std::string device_key = DeviceKey(user_id, device_id);
  std::vector<ToDeviceMessage> messages;
  database::WriteBatch batch;
  size_t deleted = 0;
  std::lock_guard lock(mu_);
  absl::Status corrupt;
  CONCLAVE_RETURN_IF_ERROR(deps_.store.db->ForEachWithPrefix(
      *maps_.to_device, device_key, [&](std::string_view row, std::string_view text) {
        database::KeyReader reader(row);
        (void)reader.ReadString();
        (void)reader.ReadString();
        auto position = reader.ReadU64();
        auto record = ParseStored(text, "to-device message");
        if (!position.ok() || !record.ok()) {
          corrupt = absl::DataLossError("corrupt e2ee_to_device record");
          return false;
        }
        if (acknowledged && *position <= *acknowledged) {
          batch.Delete(*maps_.to_device, row);
          ++deleted;
          return true;
        }
        if (*position > upto) return false;
        ToDeviceMessage message{.position = *position,
                                .sender = std::string(StringField(*record, "sender")),
                                .type = std::string(StringField(*record, "type"))};
        if (auto* content = record->if_contains("content"); content && content->is_object()) {
          message.content = content->get_object();
        }
        messages.push_back(std::move(message));
        return true;
      }));
  CONCLAVE_RETURN_IF_ERROR(corrupt);
  if (deleted > 0) {
    CONCLAVE_RETURN_IF_ERROR(deps_.store.db->Write(batch));
    if (auto it = pending_.find(device_key); it != pending_.end()) {
      it->second -= std::min(it->second, deleted);
    }
  }
  return messages;
}

absl::StatusOr<size_t> E2ee::PendingToDevice(std::string_view user_id, std::string_view device_id) {
  std::lock_guard lock(mu_);
  return PendingLocked(DeviceKey(user_id, device_id));
}

absl::StatusOr<std::vector<ToDeviceBacklog>> E2ee::ToDeviceBacklogs(
    std::string_view user_id) const {
  std::vector<ToDeviceBacklog> devices;
  absl::Status corrupt;
  const std::string prefix = user_id.empty() ? "" : schema::UserPrefix(user_id);
  CONCLAVE_RETURN_IF_ERROR(deps_.store.db->ForEachWithPrefix(
      *maps_.to_device, prefix, [&](std::string_view row, std::string_view text) {
        database::KeyReader reader(row);
        auto user = reader.ReadString();
        auto device = reader.ReadString();
        if (!user.ok() || !device.ok()) {
          corrupt = absl::DataLossError("corrupt e2ee_to_device key");
          return false;
        }
        if (!devices.empty() && devices.back().user_id == *user &&
            devices.back().device_id == *device) {
          ++devices.back().pending;
          return true;
        }
        // A device's rows are in stream order: the first is its oldest message.
        ToDeviceBacklog backlog{
            .user_id = std::string(*user), .device_id = std::string(*device), .pending = 1};
        if (auto record = ParseStored(text, "to-device message"); record.ok()) {
          if (const auto* ts = record->if_contains("ts"); ts && ts->is_int64()) {
            backlog.oldest_ms = ts->get_int64();
          }
        }
        devices.push_back(std::move(backlog));
        return true;
      }));
  CONCLAVE_RETURN_IF_ERROR(corrupt);
  return devices;
}

}  // namespace conclave::service
