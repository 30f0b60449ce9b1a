// The route groups of the api module; each registers its Client-Server endpoints into `routes`.
// Private to the api module.
#ifndef CONCLAVE_API_ROUTES_H_
#define CONCLAVE_API_ROUTES_H_

#include "absl/status/status.h"
#include "handler.h"

namespace conclave::api {

// account.cc: capabilities, register, login, logout, whoami, password, deactivate, devices.
absl::Status RegisterAccountRoutes(Routes& routes);
// profile.cc: profile, presence, user directory.
absl::Status RegisterProfileRoutes(Routes& routes);
// account_data.cc: account data, tags, filters.
absl::Status RegisterAccountDataRoutes(Routes& routes);
// push_rules.cc: push rules.
absl::Status RegisterPushRuleRoutes(Routes& routes);
// notifications.cc: GET /notifications.
absl::Status RegisterNotificationRoutes(Routes& routes);
// pushers.cc: GET /pushers, POST /pushers/set.
absl::Status RegisterPusherRoutes(Routes& routes);
// rooms.cc: createRoom, membership, joined rooms and members, aliases, the room directory.
absl::Status RegisterRoomRoutes(Routes& routes);
// room_upgrades.cc: rooms/{roomId}/upgrade, knock/{roomIdOrAlias} (called by RegisterRoomRoutes).
absl::Status RegisterRoomUpgradeRoutes(Routes& routes);
// events.cc: send, state, event, messages, context, redact, typing, receipts, read markers.
absl::Status RegisterEventRoutes(Routes& routes);
// relations.cc: relations, threads.
absl::Status RegisterRelationRoutes(Routes& routes);
// sync.cc: /sync.
absl::Status RegisterSyncRoutes(Routes& routes);
// sliding_sync.cc: simplified sliding sync (MSC4186).
absl::Status RegisterSlidingSyncRoutes(Routes& routes);
// old_sync.cc: the deprecated /initialSync, /events, /events/{eventId}; room previews
// (rooms/{roomId}/initialSync) and peeking (/events?room_id=).
absl::Status RegisterOldSyncRoutes(Routes& routes);
// keys.cc: keys/upload, keys/query, keys/claim, keys/device_signing/upload,
// keys/signatures/upload, keys/changes.
absl::Status RegisterKeyRoutes(Routes& routes);
// to_device.cc: sendToDevice.
absl::Status RegisterToDeviceRoutes(Routes& routes);
// room_keys.cc: room_keys/version[/{version}], room_keys/keys[/{roomId}[/{sessionId}]].
absl::Status RegisterRoomKeysRoutes(Routes& routes);
absl::Status RegisterReportingRoutes(Routes& routes);
absl::Status RegisterServerAdminRoutes(Routes& routes);
absl::Status RegisterThreepidRoutes(Routes& routes);
absl::Status RegisterTimestampRoutes(Routes& routes);
// search.cc: POST /search.
absl::Status RegisterSearchRoutes(Routes& routes);
// spaces.cc: GET /v1/rooms/{roomId}/hierarchy.
absl::Status RegisterSpaceRoutes(Routes& routes);

}  // namespace conclave::api

#endif  // CONCLAVE_API_ROUTES_H_
