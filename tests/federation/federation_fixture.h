// The federation module's test fixture: the api tests' harness with the federation module
// loaded after api, no network (the servers a test names go to loopback, which the deny list
// refuses at once), and requests dispatched with raw bodies and headers. FederationTestOn<Base>
// puts the same over another ApiTest fixture (the E2EE one: FederationTestOn<E2eeApiTest>).
#ifndef CONCLAVE_TESTS_FEDERATION_FEDERATION_FIXTURE_H_
#define CONCLAVE_TESTS_FEDERATION_FEDERATION_FIXTURE_H_

#include <string>
#include <utility>
#include <vector>

#include "api/api_harness.h"
#include "conclave/service/federation/remote_keys.h"
#include "conclave/service/federation/request_auth.h"
#include "conclave/service/federation/server_key.h"
#include "conclave/service/homeserver.h"
#include "conclave/service/protocol/clock.h"

extern "C" const conclave::core::ModuleDescriptor* conclave_module_federation() noexcept;

namespace conclave::federation::test_util {

template <typename Base>
class FederationTestOn : public Base {
 protected:
  // `unreachable`: server names whose requests must fail at once (federation_hosts to
  // 127.0.0.1:1, denied by default).
  explicit FederationTestOn(std::vector<std::string> unreachable)
      : unreachable_(std::move(unreachable)) {
    this->extra_modules_ = {conclave_module_federation()};
  }

  void SetUp() override {
    Base::SetUp();
    std::string hosts = "[";
    for (const std::string& name : unreachable_) {
      hosts += (hosts.size() > 1 ? ", \"" : "\"") + name + "=127.0.0.1:1\"";
    }
    core::RawConfig raw;
    raw.SetText("federation_hosts", hosts + "]");
    ASSERT_TRUE(this->server_->sections().Reload(raw).ok());
  }

  // Dispatches `method` `target` with `body` as is and `authorization` when not empty.
  api::test_util::ApiResponse Dispatch(const std::string& method, const std::string& target,
                                       const std::string& body,
                                       const std::string& authorization = "") {
    core::Request request;
    request.method = method;
    request.target = target;
    const size_t query = target.find('?');
    request.path = target.substr(0, query);
    if (query != std::string::npos) request.query = target.substr(query + 1);
    request.body = body;
    if (!body.empty()) request.headers.emplace_back("Content-Type", "application/json");
    if (!authorization.empty()) request.headers.emplace_back("Authorization", authorization);
    core::Response response;
    EXPECT_EQ(this->server_->router().Dispatch(request, response), core::Router::Outcome::kHandled);
    api::test_util::ApiResponse out{response.status, {}, response.body};
    boost::system::error_code ec;
    boost::json::value parsed = boost::json::parse(response.body, ec);
    if (!ec && parsed.is_object()) out.json = std::move(parsed.get_object());
    return out;
  }

 private:
  std::vector<std::string> unreachable_;
};

class FederationTest : public FederationTestOn<api::test_util::ApiTest> {
 protected:
  using FederationTestOn::FederationTestOn;
};

// A FederationTest with a remote server, remote.example, whose keys are in the cache as a fetch
// would have put them (valid for an hour), and requests signed by it; stranger.example is
// unreachable, so its keys cannot be fetched.
class RemoteServerTest : public FederationTest {
 protected:
  RemoteServerTest() : FederationTest({"stranger.example"}) {}

  void SetUp() override {
    FederationTest::SetUp();
    auto answer = service::SignedServerKeys("remote.example", remote_, service::NowMs() + 3600'000);
    ASSERT_TRUE(answer.ok());
    ASSERT_TRUE(
        service::Instance()->remote_keys().Store("remote.example", *answer, service::NowMs()).ok());
  }

  // GET `target` signed by `origin` with `key` (default remote_) for `destination`.
  api::test_util::ApiResponse Signed(const std::string& target,
                                     const std::string& origin = "remote.example",
                                     const std::string& destination = "example.org",
                                     const service::ServerSigningKey* key = nullptr) {
    auto auth =
        service::SignRequest(key ? *key : remote_, origin, destination, "GET", target, nullptr);
    EXPECT_TRUE(auth.ok());
    return Dispatch(target, *auth);
  }

  api::test_util::ApiResponse Dispatch(const std::string& target,
                                       const std::string& authorization) {
    return FederationTest::Dispatch("GET", target, "", authorization);
  }

  service::ServerSigningKey remote_ = service::GenerateSigningKey();
};

}  // namespace conclave::federation::test_util

#endif  // CONCLAVE_TESTS_FEDERATION_FEDERATION_FIXTURE_H_
