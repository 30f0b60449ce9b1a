#include "conclave/service/homeserver.h"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "absl/container/flat_hash_set.h"
#include "admin_room/admin_room_impl.h"
#include "conclave/core/log.h"
#include "conclave/core/status_macros.h"
#include "conclave/service/e2ee/backup.h"
#include "conclave/service/e2ee/e2ee.h"
#include "conclave/service/federation/federation_client.h"
#include "conclave/service/federation/inbound_transactions.h"
#include "conclave/service/federation/remote_keys.h"
#include "conclave/service/federation/server_discovery.h"
#include "conclave/service/federation/server_key.h"
#include "conclave/service/federation/transaction_queue.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/push/notifications.h"
#include "conclave/service/push/push_rule_store.h"
#include "conclave/service/push/push_sender.h"
#include "conclave/service/push/pushers.h"
#include "conclave/service/rooms/rooms.h"
#include "conclave/service/rooms/typing.h"
#include "conclave/service/search/indexer.h"
#include "conclave/service/search/search.h"
#include "conclave/service/sync/sliding_sync.h"
#include "conclave/service/sync/sync.h"

namespace conclave::service {

Homeserver::Homeserver(core::Server& server)
    : server_(server), server_name_(server.config().server_name) {}

Homeserver::~Homeserver() {
  Stop();
  if (notifications_ != nullptr) notifications_->SetQueuedHook(nullptr);
  if (accounts_ != nullptr) {
    accounts_->SetFirstAdminHook(nullptr);
    accounts_->SetDeviceRemovalHook(nullptr);
    accounts_->SetDeactivationHook(nullptr);
    accounts_->SetPresenceHook(nullptr);
  }
}

absl::StatusOr<std::unique_ptr<Homeserver>> Homeserver::Open(core::Server& server,
                                                             database::Database& db,
                                                             std::string_view saved) {
  std::unique_ptr<Homeserver> hs(new Homeserver(server));
  CONCLAVE_ASSIGN_OR_RETURN(hs->settings_, OpenServiceSettings(*server.sections().raw()));
  hs->settings_registration_ = server.sections().Register(hs->settings_.get());
  bool key_created = false;
  const std::string key_path = SigningKeyPathFor(hs->settings_->Get().signing_key_path, db.path());
  CONCLAVE_ASSIGN_OR_RETURN(hs->signing_key_, LoadOrCreateSigningKey(key_path, &key_created));
  if (key_created) {
    CONCLAVE_LOG(kInfo, "service", "generated the signing key {} in {}", hs->signing_key_.key_id,
                 key_path);
  }
  CONCLAVE_ASSIGN_OR_RETURN(hs->store_, Store::Open(db));
  CONCLAVE_RETURN_IF_ERROR(ParseFederationHosts(hs->settings_->Get().federation_hosts).status());
  if (!hs->settings_->Get().federation_verify_certificates) {
    CONCLAVE_LOG(kWarn, "service",
                 "federation_verify_certificates is false: outbound federation accepts any "
                 "certificate, so anyone on the path can impersonate other servers (tests only)");
  }
  hs->resolver_ = std::make_unique<ServerResolver>(RealResolverDeps(*hs->settings_));
  hs->federation_client_ = std::make_unique<FederationClient>(hs->server_name_, hs->signing_key_,
                                                              *hs->settings_, *hs->resolver_);
  CONCLAVE_ASSIGN_OR_RETURN(
      hs->remote_keys_, RemoteKeys::Open(RemoteKeys::Deps{.server_name = hs->server_name_,
                                                          .signing_key = hs->signing_key_,
                                                          .db = db,
                                                          .client = hs->federation_client_.get(),
                                                          .now_ms = nullptr}));
  CONCLAVE_ASSIGN_OR_RETURN(
      hs->transaction_queue_,
      TransactionQueue::Open(TransactionQueue::Deps{
          .server_name = hs->server_name_,
          .db = db,
          .send =
              [client = hs->federation_client_.get()](std::string_view destination,
                                                      std::string_view uri,
                                                      const boost::json::value& body) {
                return client->Send(destination, "PUT", uri, &body);
              },
          .options =
              [settings = hs->settings_.get()] {
                const ServiceOptions o = settings->Get();
                return FederationRetryOptions{.initial = o.federation_retry_initial,
                                              .max = o.federation_retry_max};
              },
          .clock = &absl::Now}));
  CONCLAVE_ASSIGN_OR_RETURN(hs->stream_, Stream::Open(*hs->store_));
  hs->accounts_ = std::make_unique<Accounts>(*hs->store_, *hs->stream_, server, *hs->settings_);
  hs->push_rules_ = std::make_unique<PushRuleStore>(*hs->accounts_);
  CONCLAVE_ASSIGN_OR_RETURN(hs->pushers_, Pushers::Open(*hs->store_));
  CONCLAVE_ASSIGN_OR_RETURN(
      hs->notifications_,
      Notifications::Open(hs->server_name_, *hs->store_, *hs->push_rules_, hs->pushers_.get()));
  CONCLAVE_ASSIGN_OR_RETURN(
      hs->push_sender_,
      PushSender::Open(PushSender::Deps{
          .store = *hs->store_,
          .pushers = *hs->pushers_,
          .notifications = *hs->notifications_,
          .options = [settings = hs->settings_.get()] { return settings->Get().push; },
          .fetch = &core::HttpFetch,
          .clock = &absl::Now}));
  hs->notifications_->SetQueuedHook([sender = hs->push_sender_.get()] { sender->Wake(); });
  hs->typing_ = std::make_unique<Typing>();
  hs->rooms_ = std::make_unique<Rooms>(Rooms::Deps{.server_name = hs->server_name_,
                                                   .signing_key = hs->signing_key_,
                                                   .store = *hs->store_,
                                                   .stream = *hs->stream_,
                                                   .notifier = server.notifier(),
                                                   .accounts = *hs->accounts_,
                                                   .typing = *hs->typing_,
                                                   .settings = hs->settings_.get(),
                                                   .notifications = hs->notifications_.get()});
  CONCLAVE_ASSIGN_OR_RETURN(
      hs->e2ee_, E2ee::Open(E2ee::Deps{.server_name = hs->server_name_,
                                       .store = *hs->store_,
                                       .stream = *hs->stream_,
                                       .notifier = server.notifier(),
                                       .metrics = server.metrics(),
                                       .accounts = *hs->accounts_,
                                       .rooms = *hs->rooms_,
                                       .federation_queue = hs->transaction_queue_.get(),
                                       .federation_client = hs->federation_client_.get()}));
  // Server-Server API EDUs (inbound_transactions.h): the E2EE ones. A device list or signing key
  // update only says that the user's keys changed (servers ask for the keys themselves).
  {
    E2ee* e2ee = hs->e2ee_.get();
    auto key_change = [e2ee](std::string_view origin, const boost::json::object& content) {
      const boost::json::value* user = content.if_contains("user_id");
      if (user == nullptr || !user->is_string()) return BadJson("user_id is required");
      return e2ee->RecordRemoteKeyChange(origin, user->get_string());
    };
    CONCLAVE_ASSIGN_OR_RETURN(
        hs->inbound_transactions_,
        InboundTransactions::Open(InboundTransactions::Deps{
            .db = db,
            .edu_handlers = {{"m.direct_to_device",
                              [e2ee](std::string_view origin, const boost::json::object& content) {
                                return e2ee->ReceiveToDevice(origin, content);
                              }},
                             {"m.device_list_update", key_change},
                             {"m.signing_key_update", key_change}},
            .pdu_handler = nullptr,
            .clock = &absl::Now}));
  }
  hs->accounts_->SetDeviceRemovalHook([e2ee = hs->e2ee_.get(), pushers = hs->pushers_.get()](
                                          std::string_view user_id,
                                          const std::vector<std::string>& devices,
                                          bool deactivating, database::WriteBatch& batch) {
    // A device's pushers go with it (and all of them at deactivation), in the same batch.
    CONCLAVE_RETURN_IF_ERROR(pushers->AddRemovals(user_id, devices, deactivating, batch));
    return e2ee->CommitDeviceRemoval(user_id, devices, deactivating, batch);
  });
  // A presence change wakes the syncs of everyone sharing a room with the user (whose syncs then
  // carry it, sync.yaml `presence`), not only the user's own.
  hs->accounts_->SetPresenceHook(
      [rooms = hs->rooms_.get(), &notifier = server.notifier()](std::string_view user_id) {
        auto joined = rooms->JoinedRooms(user_id);
        if (!joined.ok()) return;
        absl::flat_hash_set<std::string> seen;
        std::vector<std::string> members;
        for (const std::string& room_id : *joined) {
          auto ids = rooms->JoinedUserIds(room_id);
          if (!ids.ok()) continue;
          for (std::string& id : *ids) {
            if (id != user_id && seen.insert(id).second) members.push_back(std::move(id));
          }
        }
        if (!members.empty()) notifier.Notify(members);
      });
  CONCLAVE_ASSIGN_OR_RETURN(hs->key_backup_, KeyBackup::Open(*hs->store_));
  hs->accounts_->SetDeactivationHook(
      [backup = hs->key_backup_.get()](std::string_view user_id, database::WriteBatch& batch) {
        return backup->AddUserRemoval(user_id, batch);
      });
  const Sync::Deps sync_deps{.stream = *hs->stream_,
                             .notifier = server.notifier(),
                             .accounts = *hs->accounts_,
                             .rooms = *hs->rooms_,
                             .typing = *hs->typing_,
                             .e2ee = *hs->e2ee_,
                             .notifications = *hs->notifications_};
  hs->sync_ = std::make_unique<Sync>(sync_deps);
  hs->sliding_sync_ = std::make_unique<SlidingSync>(sync_deps, *hs->sync_);
  CONCLAVE_ASSIGN_OR_RETURN(
      hs->search_indexer_,
      SearchIndexer::Open(
          SearchIndexer::Deps{.store = *hs->store_, .stream = *hs->stream_, .rooms = *hs->rooms_},
          SearchIndexDirectory(db.path())));
  hs->search_ = std::make_unique<Search>(*hs->rooms_, *hs->search_indexer_);
  hs->search_wakeup_ = hs->rooms_->observers().Add(
      [indexer = hs->search_indexer_.get()](const SentEvent&) { indexer->Wake(); });
  hs->admin_room_ =
      std::make_unique<AdminRoomImpl>(AdminRoomImpl::Deps{.server_name = hs->server_name_,
                                                          .server = server,
                                                          .accounts = *hs->accounts_,
                                                          .rooms = *hs->rooms_,
                                                          .limiter = hs->limiter_});
  boost::system::error_code ec;
  boost::json::value state = boost::json::parse(saved, ec);
  if (!ec && state.is_object()) {
    if (const auto* limits = state.get_object().if_contains("rate_limits")) {
      if (const auto* text = limits->if_string()) hs->limiter_.Restore(*text);
    }
    if (const auto* typing = state.get_object().if_contains("typing")) {
      if (const auto* text = typing->if_string()) hs->typing_->Restore(*text);
    }
    if (const auto* uia = state.get_object().if_contains("uia_sessions")) {
      if (const auto* text = uia->if_string()) hs->uia_sessions_.Restore(*text);
    }
    if (const auto* queue = state.get_object().if_contains("admin_queue")) {
      if (const auto* text = queue->if_string()) hs->admin_room_->RestoreQueue(*text);
    }
    if (const auto* sliding = state.get_object().if_contains("sliding_sync")) {
      if (const auto* text = sliding->if_string()) hs->sliding_sync_->Restore(*text);
    }
  }
  CONCLAVE_RETURN_IF_ERROR(hs->admin_room_->SetUp());
  hs->accounts_->SetFirstAdminHook([room = hs->admin_room_.get()](const std::string& user_id) {
    if (absl::Status s = room->JoinFirstAdmin(user_id); !s.ok()) {
      CONCLAVE_LOG(kError, "admin", "could not join the first admin {} to the admin room: {}",
                   user_id, s.message());
    }
  });
  return hs;
}

absl::Status Homeserver::Start() {
  CONCLAVE_RETURN_IF_ERROR(search_indexer_->Start());
  CONCLAVE_RETURN_IF_ERROR(push_sender_->Start());
  CONCLAVE_RETURN_IF_ERROR(transaction_queue_->Start());
  return admin_room_->Start();
}

void Homeserver::Stop() {
  if (admin_room_ != nullptr) admin_room_->Stop();
  if (search_indexer_ != nullptr) search_indexer_->Stop();
  if (push_sender_ != nullptr) push_sender_->Stop();
  if (transaction_queue_ != nullptr) transaction_queue_->Stop();
}

std::string SearchIndexDirectory(const std::string& database_path) {
  std::string base = database_path;
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  return base + "-search";
}

AdminRoom& Homeserver::admin_room() { return *admin_room_; }

std::string Homeserver::Save() const {
  boost::json::object state;
  state["rate_limits"] = limiter_.Save();
  state["typing"] = typing_->Save();
  state["uia_sessions"] = uia_sessions_.Save();
  state["admin_queue"] = admin_room_->SaveQueue();
  state["sliding_sync"] = sliding_sync_->Save();
  return boost::json::serialize(state);
}

}  // namespace conclave::service
