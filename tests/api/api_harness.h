// Test harness for the api module's handlers without sockets: a core::Server over a fresh
// temporary RocksDB, the database, service and api modules loaded through their descriptors'
// hooks (as the module host does: database startup, then each load in dependency order), and
// requests driven through core::Router::Dispatch as core::Request values.
//
// What it leaves out is the HTTP engine (Beast parsing, limits, keep-alive, CORS, parking of
// long-polls): those have tests/core and the integration tests. One harness per test, confined
// to the test's thread.
#ifndef CONCLAVE_TESTS_API_API_HARNESS_H_
#define CONCLAVE_TESTS_API_API_HARNESS_H_

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "conclave/core/config.h"
#include "conclave/core/http.h"
#include "conclave/core/module.h"
#include "conclave/core/server.h"
#include "conclave/service/protocol/errors.h"
#include "database/temp_dir.h"
#include "gtest/gtest.h"

extern "C" const conclave::core::ModuleDescriptor* conclave_module_database() noexcept;
extern "C" const conclave::core::ModuleDescriptor* conclave_module_service() noexcept;
extern "C" const conclave::core::ModuleDescriptor* conclave_module_api() noexcept;

namespace conclave::api::test_util {

// A response with its body parsed (an empty object when the body is not a JSON object).
struct ApiResponse {
  int status = 0;
  boost::json::object json;
  std::string body;

  // The body's `errcode`; nullopt when it has none or one this server does not know.
  std::optional<service::Errcode> errcode() const {
    const auto* e = json.if_contains("errcode");
    if (e == nullptr || !e->is_string()) return std::nullopt;
    return service::ErrcodeFromName(std::string_view(e->get_string()));
  }
};

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    core::Config config;
    config.server_name = "example.org";
    config.database_path = dir_.Sub("db");
    server_ = std::make_unique<core::Server>(config, "dev");
    std::vector<const core::ModuleDescriptor*> modules = {
        conclave_module_database(), conclave_module_service(), conclave_module_api()};
    modules.insert(modules.end(), extra_modules_.begin(), extra_modules_.end());
    for (const core::ModuleDescriptor* module : modules) {
      core::ModuleContext context{*server_, module->name};
      if (module->startup != nullptr) {
        absl::Status started = module->startup(context);
        ASSERT_TRUE(started.ok()) << module->name << " startup: " << started;
      }
      started_.push_back(module);
      absl::Status loaded = module->load(context, "");
      ASSERT_TRUE(loaded.ok()) << module->name << " load: " << loaded;
      loaded_.push_back(module);
    }
  }

  // Unloads in reverse dependency order, then shuts down what was started.
  void TearDown() override {
    for (auto it = loaded_.rbegin(); it != loaded_.rend(); ++it) {
      core::ModuleContext context{*server_, (*it)->name};
      auto saved = (*it)->unload(context);
      EXPECT_TRUE(saved.ok()) << (*it)->name << " unload: " << saved.status();
    }
    for (auto it = started_.rbegin(); it != started_.rend(); ++it) {
      core::ModuleContext context{*server_, (*it)->name};
      if ((*it)->shutdown == nullptr) continue;
      absl::Status stopped = (*it)->shutdown(context);
      EXPECT_TRUE(stopped.ok()) << (*it)->name << " shutdown: " << stopped;
    }
    loaded_.clear();
    started_.clear();
  }

  // Dispatches `method` `target` (path and query) with `body` and, when `token` is not empty,
  // `Authorization: Bearer <token>`. Fails the test if the router asks to retry (no reload runs
  // here, so it never should).
  ApiResponse Call(const std::string& method, const std::string& target,
                   const boost::json::object* body = nullptr, const std::string& token = "") {
    core::Request request;
    request.method = method;
    request.target = target;
    const size_t query = target.find('?');
    request.path = target.substr(0, query);
    if (query != std::string::npos) request.query = target.substr(query + 1);
    if (body != nullptr) {
      request.body = boost::json::serialize(*body);
      request.headers.emplace_back("Content-Type", "application/json");
    }
    if (!token.empty()) request.headers.emplace_back("Authorization", "Bearer " + token);
    request.remote_address = "127.0.0.1";
    core::Response response;
    const core::Router::Outcome outcome = server_->router().Dispatch(request, response);
    EXPECT_EQ(outcome, core::Router::Outcome::kHandled) << method << " " << target;
    ApiResponse out{response.status, {}, response.body};
    boost::system::error_code ec;
    boost::json::value parsed = boost::json::parse(response.body, ec);
    if (!ec && parsed.is_object()) out.json = std::move(parsed.get_object());
    return out;
  }
  ApiResponse Get(const std::string& target, const std::string& token = "") {
    return Call("GET", target, nullptr, token);
  }
  ApiResponse Post(const std::string& target, const boost::json::object& body,
                   const std::string& token = "") {
    return Call("POST", target, &body, token);
  }
  ApiResponse Put(const std::string& target, const boost::json::object& body,
                  const std::string& token = "") {
    return Call("PUT", target, &body, token);
  }

  // Registers `localpart` with password "pw" (m.login.dummy); its access token, or "".
  std::string Register(const std::string& localpart) {
    ApiResponse r = Post("/_matrix/client/v3/register",
                         {{"username", localpart},
                          {"password", "pw"},
                          {"auth", boost::json::object{{"type", "m.login.dummy"}}}});
    EXPECT_EQ(r.status, 200) << r.body;
    const auto* token = r.json.if_contains("access_token");
    return token != nullptr && token->is_string() ? std::string(token->get_string()) : "";
  }

  database::test_util::TempDir dir_;
  std::unique_ptr<core::Server> server_;
  // Modules loaded after api (the federation tests' own), set by a derived fixture's constructor.
  std::vector<const core::ModuleDescriptor*> extra_modules_;

 private:
  std::vector<const core::ModuleDescriptor*> started_;
  std::vector<const core::ModuleDescriptor*> loaded_;
};

}  // namespace conclave::api::test_util

#endif  // CONCLAVE_TESTS_API_API_HARNESS_H_
