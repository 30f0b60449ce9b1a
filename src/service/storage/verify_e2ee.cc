// `database verify`: the end-to-end encryption maps (service/e2ee/): every key, to-device
// message and transaction belongs to an existing device, and every position is on the stream.
#include <algorithm>
#include <string>
#include <string_view>

#include "conclave/core/str_cat.h"
#include "conclave/database/key.h"
#include "conclave/service/storage/schema.h"
#include "conclave/service/storage/stored_json.h"
#include "verify_checker.h"

namespace conclave::service::verify_internal {
namespace {

class E2eeChecker : public Checker {
 public:
  explicit E2eeChecker(VerifyRun& run) : Checker(run) {}

  void CheckAll() {
    CheckDeviceRows(schema::kDeviceKeysMap, 2, false, "device keys");
    CheckDeviceRows(schema::kOneTimeKeysMap, 4, false, "");
    CheckDeviceRows(schema::kFallbackKeysMap, 3, false, "fallback key");
    CheckDeviceRows(schema::kToDeviceMap, 2, true, "to-device message");
    CheckKeyChanges();
    CheckTxns();
    CheckCrossSigning();
    CheckKeySignatures();
  }

 private:
  // Whether (user, device) has a `devices` record; a problem of `map` at `key_text` if not.
  void KnownDevice(std::string_view map, const std::string& key_text, const std::string& user,
                   const std::string& device) {
    if (!Find(*store_.devices, schema::DeviceKey(user, device))) {
      Problem(map, key_text,
              core::StrCat("belongs to ", user, "'s device ", device, ", which does not exist"));
    }
  }

  // Rows keyed (user, device, ...) with `strings` strings and, with `position`, a stream
  // position; a JSON object value named `what` unless `what` is empty.
  void CheckDeviceRows(const char* name, size_t strings, bool position, std::string_view what) {
    database::Map* map = MapIfPresent(name);
    if (map == nullptr) return;
    Walk(*map, name, [&](std::string_view raw, std::string_view value) {
      auto key = DecodeKey(raw, strings, position);
      if (!key) {
        Problem(name, RawKeyText(raw, strings, position), "key does not decode");
        return;
      }
      const std::string key_text = KeyText(*key, position);
      KnownDevice(name, key_text, key->parts[0], key->parts[1]);
      if (position) CheckPosition(name, key_text, key->position);
      if (!what.empty() && !ParseStored(value, what).ok()) {
        Problem(name, key_text, "record is not a JSON object");
      }
    });
  }

  void CheckKeyChanges() {
    database::Map* map = MapIfPresent(schema::kKeyChangesMap);
    if (map == nullptr) return;
    Walk(*map, schema::kKeyChangesMap, [&](std::string_view raw, std::string_view) {
      database::KeyReader reader(raw);
      auto position = reader.ReadU64();
      auto user = reader.ReadString();
      if (!position.ok() || !user.ok() || !reader.AtEnd()) {
        Problem(schema::kKeyChangesMap, Printable(raw), "key is not (position, user)");
        return;
      }
      const std::string key_text = core::StrCat(*position, " | ", *user);
      CheckPosition(schema::kKeyChangesMap, key_text, *position);
      KnownOrRemoteUser(schema::kKeyChangesMap, key_text, *user);
    });
  }

  void CheckTxns() {
    database::Map* map = MapIfPresent(schema::kToDeviceTxnsMap);
    if (map == nullptr) return;
    Walk(*map, schema::kToDeviceTxnsMap, [&](std::string_view raw, std::string_view value) {
      auto key = DecodeKey(raw, 3, false);
      if (!key) {
        Problem(schema::kToDeviceTxnsMap, RawKeyText(raw, 3, false), "key does not decode");
        return;
      }
      const std::string key_text = KeyText(*key, false);
      KnownOrRemoteUser(schema::kToDeviceTxnsMap, key_text, key->parts[0]);
      auto position = schema::DecodePosition(value);
      if (!position.ok()) {
        Problem(schema::kToDeviceTxnsMap, key_text, "value is not a stream position");
        return;
      }
      CheckPosition(schema::kToDeviceTxnsMap, key_text, *position);
    });
  }

  void CheckCrossSigning() {
    database::Map* map = MapIfPresent(schema::kCrossSigningMap);
    if (map == nullptr) return;
    Walk(*map, schema::kCrossSigningMap, [&](std::string_view raw, std::string_view value) {
      auto key = DecodeKey(raw, 2, false);
      if (!key) {
        Problem(schema::kCrossSigningMap, RawKeyText(raw, 2, false), "key is not (user, usage)");
        return;
      }
      const std::string key_text = KeyText(*key, false);
      KnownUser(schema::kCrossSigningMap, key_text, key->parts[0]);
      auto json = ParseStored(value, "cross-signing key");
      if (!json.ok() || StringField(*json, "user_id") != key->parts[0]) {
        Problem(schema::kCrossSigningMap, key_text, "record is not a key of this user");
      }
    });
  }

  // Signatures of another user's key: both users known.
  void CheckKeySignatures() {
    database::Map* map = MapIfPresent(schema::kKeySignaturesMap);
    if (map == nullptr) return;
    Walk(*map, schema::kKeySignaturesMap, [&](std::string_view raw, std::string_view value) {
      auto key = DecodeKey(raw, 3, false);
      if (!key) {
        Problem(schema::kKeySignaturesMap, RawKeyText(raw, 3, false), "key does not decode");
        return;
      }
      const std::string key_text = KeyText(*key, false);
      KnownUser(schema::kKeySignaturesMap, key_text, key->parts[0]);
      KnownUser(schema::kKeySignaturesMap, key_text, key->parts[2]);
      if (!ParseStored(value, "key signatures").ok()) {
        Problem(schema::kKeySignaturesMap, key_text, "record is not a JSON object");
      }
    });
  }
};

}  // namespace

void CheckE2ee(VerifyRun& run) { E2eeChecker(run).CheckAll(); }

}  // namespace conclave::service::verify_internal
