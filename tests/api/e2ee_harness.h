// Helpers for the E2EE api tests: users with known device ids, and device keys and one-time
// keys signed the way Olm clients sign them (Appendices "Signing JSON"), over ApiTest.
#ifndef CONCLAVE_TESTS_API_E2EE_HARNESS_H_
#define CONCLAVE_TESTS_API_E2EE_HARNESS_H_

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <string>

#include "api_harness.h"
#include "conclave/service/e2ee/e2ee.h"
#include "conclave/service/homeserver.h"
#include "conclave/service/protocol/crypto.h"
#include "conclave/service/protocol/signing.h"

namespace conclave::api::test_util {

// One logged-in device and its Ed25519 identity key.
struct TestDevice {
  std::string user_id;
  std::string device_id;
  std::string token;
  service::Ed25519KeyPair key;

  std::string Ed25519Base64() const { return service::UnpaddedBase64(key.public_key); }
};

class E2eeApiTest : public ApiTest {
 protected:
  // The loaded service module's Homeserver (valid while the test runs).
  service::Homeserver& hs() { return *service::Instance(); }

  // Registers `localpart` (password "pw") with device `device_id`.
  TestDevice RegisterDevice(const std::string& localpart, const std::string& device_id) {
    ApiResponse r = Post("/_matrix/client/v3/register",
                         {{"username", localpart},
                          {"password", "pw"},
                          {"device_id", device_id},
                          {"auth", boost::json::object{{"type", "m.login.dummy"}}}});
    EXPECT_EQ(r.status, 200) << r.body;
    return MakeDevice(r);
  }
  // Logs in to `localpart`'s account as a new device `device_id`.
  TestDevice LoginDevice(const std::string& localpart, const std::string& device_id) {
    ApiResponse r =
        Post("/_matrix/client/v3/login",
             {{"type", "m.login.password"},
              {"identifier", boost::json::object{{"type", "m.id.user"}, {"user", localpart}}},
              {"password", "pw"},
              {"device_id", device_id}});
    EXPECT_EQ(r.status, 200) << r.body;
    return MakeDevice(r);
  }

  // The device's device_keys, self-signed by `signer` (the device's own key by default).
  static boost::json::object DeviceKeys(const TestDevice& device,
                                        const service::Ed25519KeyPair* signer = nullptr) {
    boost::json::object keys{
        {"user_id", device.user_id},
        {"device_id", device.device_id},
        {"algorithms", boost::json::array{"m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"}},
        {"keys", boost::json::object{{"ed25519:" + device.device_id, device.Ed25519Base64()},
                                     {"curve25519:" + device.device_id,
                                      service::UnpaddedBase64(service::RandomBytes(32))}}}};
    Sign(device, keys, signer);
    return keys;
  }
  // A signed_curve25519 key signed by the device (or `signer`).
  static boost::json::object SignedKey(const TestDevice& device, bool fallback = false,
                                       const service::Ed25519KeyPair* signer = nullptr) {
    boost::json::object key{{"key", service::UnpaddedBase64(service::RandomBytes(32))}};
    if (fallback) key["fallback"] = true;
    Sign(device, key, signer);
    return key;
  }
  // `count` signed one-time keys with ids AAAA<i>.
  static boost::json::object OneTimeKeys(const TestDevice& device, int count, int first = 0) {
    boost::json::object keys;
    for (int i = first; i < first + count; ++i) {
      keys["signed_curve25519:AAAA" + std::to_string(i)] = SignedKey(device);
    }
    return keys;
  }

  ApiResponse Upload(const TestDevice& device, const boost::json::object& body) {
    return Post("/_matrix/client/v3/keys/upload", body, device.token);
  }
  // The device_keys /keys/query returns for `user_id` (all devices), as seen by `viewer`.
  boost::json::object QueryDevices(const TestDevice& viewer, const std::string& user_id) {
    ApiResponse r =
        Post("/_matrix/client/v3/keys/query",
             {{"device_keys", boost::json::object{{user_id, boost::json::array()}}}}, viewer.token);
    EXPECT_EQ(r.status, 200) << r.body;
    const auto* all = r.json.if_contains("device_keys");
    if (all == nullptr || !all->is_object()) return {};
    const auto* user = all->get_object().if_contains(user_id);
    return user != nullptr && user->is_object() ? user->get_object() : boost::json::object();
  }
  // The signed_curve25519 count /keys/upload reports for an empty upload.
  int64_t OneTimeKeyCount(const TestDevice& device) {
    ApiResponse r = Upload(device, {});
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json.at("one_time_key_counts").at("signed_curve25519").to_number<int64_t>();
  }
  ApiResponse Sync(const TestDevice& device, const std::string& since = "") {
    std::string target = "/_matrix/client/v3/sync";
    if (!since.empty()) target += "?since=" + since;
    ApiResponse r = Get(target, device.token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r;
  }
  static std::string NextBatch(const ApiResponse& sync) {
    return std::string(sync.json.at("next_batch").as_string());
  }

 private:
  static void Sign(const TestDevice& device, boost::json::object& json,
                   const service::Ed25519KeyPair* signer) {
    const service::Ed25519KeyPair& key = signer != nullptr ? *signer : device.key;
    absl::Status signed_ok =
        service::SignJson(json, device.user_id, "ed25519:" + device.device_id, key.seed);
    EXPECT_TRUE(signed_ok.ok()) << signed_ok;
  }
  static TestDevice MakeDevice(const ApiResponse& r) {
    TestDevice device;
    if (r.status != 200) return device;
    device.user_id = std::string(r.json.at("user_id").as_string());
    device.device_id = std::string(r.json.at("device_id").as_string());
    device.token = std::string(r.json.at("access_token").as_string());
    auto key = service::Ed25519FromSeed(service::RandomBytes(32));
    EXPECT_TRUE(key.ok());
    if (key.ok()) device.key = *std::move(key);
    return device;
  }
};

}  // namespace conclave::api::test_util

#endif  // CONCLAVE_TESTS_API_E2EE_HARNESS_H_
