// `database verify`: users, devices, access tokens, filters, account data and presence.
#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/strings/str_join.h"
#include "conclave/core/str_cat.h"
#include "conclave/database/key.h"
#include "conclave/service/protocol/crypto.h"
#include "conclave/service/storage/schema.h"
#include "conclave/service/storage/stored_json.h"
#include "verify_checker.h"

namespace conclave::service::verify_internal {
namespace {

using schema::kBannedRoomsMap;
using schema::PairKey;

class AccountsChecker : public Checker {
 public:
  explicit AccountsChecker(VerifyRun& run) : Checker(run) {}

  void CheckUsers() {
    Walk(*store_.users, "users", [&](std::string_view key, std::string_view value) {
      if (!ParseStored(value, "user").ok()) {
        Problem("users", Printable(key), "record is not a JSON object");
      }
      users_.emplace(key);
    });
  }

  void CheckDevices() {
    Walk(*store_.devices, "devices", [&](std::string_view raw_key, std::string_view value) {
      auto key = DecodeKey(raw_key, 2, false);
      if (!key) {
        Problem("devices", RawKeyText(raw_key, 2, false), "key is not (user, device)");
        return;
      }
      const std::string key_text = KeyText(*key, false);
      KnownUser("devices", key_text, key->parts[0]);
      auto json = ParseStored(value, "device");
      if (!json.ok()) {
        Problem("devices", key_text, "record is not a JSON object");
        return;
      }
      std::string_view encoded = StringField(*json, "token_digest");
      if (encoded.empty()) return;  // a device without a session
      auto digest = DecodeUnpaddedBase64(encoded);
      if (!digest.ok()) {
        Problem("devices", key_text, "token_digest is not base64");
        return;
      }
      auto token = Find(*store_.access_tokens, *digest);
      if (!token) {
        Problem("devices", key_text,
                core::StrCat("its access token (digest ", encoded,
                             ") has no access_tokens entry: it cannot authenticate"));
        return;
      }
      auto record = ParseStored(*token, "access token");
      if (record.ok() && (StringField(*record, "user_id") != key->parts[0] ||
                          StringField(*record, "device_id") != key->parts[1])) {
        Problem("devices", key_text,
                core::StrCat("its access token (digest ", encoded, ") belongs to ",
                             StringField(*record, "user_id"), "'s ",
                             StringField(*record, "device_id")));
      }
    });
  }

  // Walks a map of token digests → {user_id, device_id} (`what`: "access token", "refresh
  // token"): each must name an existing device, whose record `names_it` must accept.
  void CheckDeviceTokens(
      const database::Map& map, std::string_view map_name, std::string_view what,
      std::string_view outlived,
      const std::function<bool(const boost::json::object&, std::string_view)>& names_it) {
    Walk(map, map_name, [&](std::string_view digest, std::string_view value) {
      const std::string key_text = UnpaddedBase64(digest);
      auto json = ParseStored(value, what);
      if (!json.ok()) {
        Problem(map_name, key_text, "record is not a JSON object");
        return;
      }
      std::string user_id(StringField(*json, "user_id"));
      std::string device_id(StringField(*json, "device_id"));
      if (!KnownUser(map_name, key_text, user_id)) return;
      auto device = Find(*store_.devices, PairKey(user_id, device_id));
      if (!device) {
        Problem(map_name, key_text,
                core::StrCat("a ", what, " of ", user_id, "'s device ", device_id,
                             ", which does not exist (it outlived its device)"));
        return;
      }
      auto record = ParseStored(*device, "device");
      if (record.ok() && !names_it(*record, key_text)) {
        Problem(map_name, key_text,
                core::StrCat("a ", what, " of ", user_id, "'s device ", device_id, ", ", outlived));
      }
    });
  }

  void CheckAccessTokens() {
    CheckDeviceTokens(*store_.access_tokens, "access_tokens", "token",
                      "whose current token is another (it outlived a new login)",
                      [](const boost::json::object& device, std::string_view digest) {
                        return StringField(device, "token_digest") == digest;
                      });
  }

  // Each refresh token names an existing device, which names it back as its current
  // (`refresh_digest`) or replaced (`old_refresh_digest`) refresh token.
  void CheckRefreshTokens() {
    CheckDeviceTokens(*store_.refresh_tokens, "refresh_tokens", "refresh token",
                      "which names other refresh tokens (it outlived a refresh)",
                      [](const boost::json::object& device, std::string_view digest) {
                        return StringField(device, "refresh_digest") == digest ||
                               StringField(device, "old_refresh_digest") == digest;
                      });
  }

  void CheckFilters() {
    Walk(*store_.filters, "filters", [&](std::string_view raw_key, std::string_view) {
      auto key = DecodeKey(raw_key, 2, false);
      if (!key) {
        Problem("filters", RawKeyText(raw_key, 2, false), "key is not (user, filter id)");
        return;
      }
      KnownUser("filters", KeyText(*key, false), key->parts[0]);
    });
  }

  void CheckAccountData() {
    Walk(*store_.account_data, "account_data",
         [&](std::string_view raw_key, std::string_view value) {
           auto key = DecodeKey(raw_key, 3, false);
           if (!key) {
             Problem("account_data", RawKeyText(raw_key, 3, false),
                     "key is not (user, room, type)");
             return;
           }
           const std::string key_text = KeyText(*key, false);
           KnownUser("account_data", key_text, key->parts[0]);
           auto json = ParseStored(value, "account data");
           if (!json.ok()) {
             Problem("account_data", key_text, "record is not a JSON object");
             return;
           }
           CheckPosition("account_data", key_text, PositionField(*json));
         });
  }

  void CheckPresence() {
    Walk(*store_.presence, "presence", [&](std::string_view user_id, std::string_view value) {
      const std::string key_text = Printable(user_id);
      KnownUser("presence", key_text, std::string(user_id));
      auto json = ParseStored(value, "presence");
      if (!json.ok()) {
        Problem("presence", key_text, "record is not a JSON object");
        return;
      }
      CheckPosition("presence", key_text, PositionField(*json));
    });
  }
};

}  // namespace

void CollectUsers(VerifyRun& run) { AccountsChecker(run).CheckUsers(); }

void CheckAccountIndexes(VerifyRun& run) {
  AccountsChecker checker(run);
  checker.CheckDevices();
  checker.CheckAccessTokens();
  checker.CheckRefreshTokens();
  checker.CheckFilters();
  checker.CheckAccountData();
  checker.CheckPresence();
}

}  // namespace conclave::service::verify_internal
