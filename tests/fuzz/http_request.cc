// Fuzz target: the HTTP request path — a real core::HttpServer on loopback (Beast's
// request_parser with our header and body limits, keep-alive and pipelining, chunked bodies),
// core::Router (percent-decoded path parameters, query parameters, 404/405), and handlers that
// read requests the way the api module does, with its own helpers (src/api/handler.cc: access
// tokens, JSON bodies, typed fields, query parameters, Matrix error responses) and the service
// functions a request reaches first (identifiers, filters, canonical JSON and event ids).
//
// Input: the bytes a client sends on one connection (one or more requests), after which it
// half-closes the connection and reads until the server closes it. Checks on what comes back:
// a sequence of complete HTTP/1.1 responses, each with Content-Length, the CORS headers and a
// JSON object body; error bodies carry a Matrix errcode; and no status is 5xx: malformed input
// is the client's error, never the server's.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "conclave/core/config.h"
#include "conclave/core/http.h"
#include "conclave/core/http_server.h"
#include "conclave/core/log.h"
#include "conclave/core/notifier.h"
#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/canonical_json.h"
#include "conclave/service/protocol/errors.h"
#include "conclave/service/protocol/event_hash.h"
#include "conclave/service/protocol/filter.h"
#include "conclave/service/protocol/identifiers.h"
#include "conclave/service/rooms/rooms.h"
#include "conclave/service/storage/stream.h"
#include "fuzz_check.h"
#include "handler.h"

namespace conclave::fuzz {
namespace {

namespace json = boost::json;
using JsonHandler = std::function<absl::StatusOr<json::value>(core::Request&)>;

// Small limits, so that inputs of a few KiB reach 431 and 413.
constexpr size_t kMaxHeaderSize = 2048;
constexpr size_t kMaxBodySize = 4096;

// What api's Call::JsonBody does (handler.cc), without a Homeserver to hand.
absl::StatusOr<json::object> JsonBody(const core::Request& request) {
  if (request.body.find_first_not_of(" \t\r\n") == std::string::npos) return json::object();
  boost::system::error_code ec;
  json::value value = json::parse(request.body, ec);
  if (ec) return service::NotJson(core::StrCat("Content not JSON: ", ec.message()));
  if (!value.is_object()) return service::BadJson("The request body must be a JSON object");
  return std::move(value.get_object());
}

std::string Param(const core::Request& request, std::string_view name) {
  auto it = request.path_params.find(name);
  return it == request.path_params.end() ? std::string() : it->second;
}

// As api's Run(): the handler's JSON or its error as a Matrix error response. `auth`: an access
// token must be present (no account behind it: any token is accepted).
core::Handler Json(bool auth, JsonHandler handler) {
  return [auth, handler = std::move(handler)](core::Request& request) {
    if (auth && !api::AccessToken(request)) {
      return api::ErrorResponse(service::MissingToken("Missing access token"));
    }
    absl::StatusOr<json::value> body = handler(request);
    if (!body.ok()) return api::ErrorResponse(body.status());
    return api::JsonResponse(*body);
  };
}

// The `filter` query parameter, as api/events.cc reads it.
absl::StatusOr<service::RoomEventFilter> QueryFilter(const core::Request& request) {
  std::optional<std::string> text = request.QueryParam("filter");
  if (!text || text->empty()) return service::RoomEventFilter();
  boost::system::error_code ec;
  json::value value = json::parse(*text, ec);
  if (ec || !value.is_object()) return service::InvalidParam("'filter' must be a JSON object");
  CONCLAVE_ASSIGN_OR_RETURN(service::Filter filter,
                            service::ParseFilter(json::object{{"room", {{"timeline", value}}}}));
  return filter.room.timeline;
}

// What Rooms::Commit does with a client's event before it touches the database: the content
// checks, then the PDU's content hash and event id.
absl::StatusOr<json::value> SendEvent(const core::Request& request,
                                      std::optional<std::string> state_key) {
  if (request.body.size() > service::kMaxEventBytes) {
    return service::TooLarge("Event content is too large");
  }
  CONCLAVE_ASSIGN_OR_RETURN(json::object content, JsonBody(request));
  CONCLAVE_ASSIGN_OR_RETURN(service::RoomId room, service::ParseRoomId(Param(request, "roomId")));
  if (service::HasFloat(content)) {
    return service::BadJson("Event content must not contain floating-point numbers");
  }
  if (auto canonical = service::CanonicalJson(content); !canonical.ok()) {
    return service::BadJson(
        core::StrCat("Event content is not canonical JSON: ", canonical.status().message()));
  }
  json::object pdu{{"type", Param(request, "eventType")},
                   {"room_id", room.ToString()},
                   {"sender", "@alice:example.org"},
                   {"content", std::move(content)},
                   {"origin_server_ts", absl::ToUnixMillis(absl::Now())},
                   {"depth", 2},
                   {"prev_events", json::array{"$prev"}},
                   {"auth_events", json::array{}}};
  if (state_key) pdu["state_key"] = *state_key;
  CONCLAVE_RETURN_IF_ERROR(service::AddContentHash(pdu));
  CONCLAVE_ASSIGN_OR_RETURN(std::string event_id, service::EventIdV4(pdu));
  return json::object{{"event_id", event_id}};
}

absl::StatusOr<json::value> Login(core::Request& request) {
  CONCLAVE_ASSIGN_OR_RETURN(json::object body, JsonBody(request));
  CONCLAVE_ASSIGN_OR_RETURN(std::string type, api::RequiredString(body, "type"));
  if (type != "m.login.password")
    return service::MatrixStatus(absl::StatusCode::kInvalidArgument, service::Errcode::kUnknown,
                                 "Unknown login type");
  CONCLAVE_ASSIGN_OR_RETURN(const json::object* identifier,
                            api::OptionalObject(body, "identifier"));
  std::optional<std::string> user;
  if (identifier != nullptr) {
    CONCLAVE_RETURN_IF_ERROR(api::RequiredString(*identifier, "type").status());
    CONCLAVE_ASSIGN_OR_RETURN(user, api::OptionalString(*identifier, "user"));
  } else {
    CONCLAVE_ASSIGN_OR_RETURN(user, api::OptionalString(body, "user"));
  }
  if (!user) return service::MissingParam("Missing 'user'");
  CONCLAVE_RETURN_IF_ERROR(api::RequiredString(body, "password").status());
  CONCLAVE_ASSIGN_OR_RETURN(auto device_id, api::OptionalString(body, "device_id"));
  CONCLAVE_RETURN_IF_ERROR(api::OptionalBool(body, "refresh_token").status());
  CONCLAVE_RETURN_IF_ERROR(api::OptionalInt(body, "initial_device_display_name_len").status());
  std::string user_id = (*user)[0] == '@' ? *user : core::StrCat("@", *user, ":example.org");
  CONCLAVE_ASSIGN_OR_RETURN(service::UserId parsed, service::ParseUserId(user_id));
  return json::object{{"user_id", parsed.ToString()},
                      {"device_id", device_id.value_or("DEVICE")},
                      {"access_token", "token"}};
}

absl::StatusOr<json::value> Messages(core::Request& request) {
  CONCLAVE_ASSIGN_OR_RETURN(service::RoomId room, service::ParseRoomId(Param(request, "roomId")));
  CONCLAVE_ASSIGN_OR_RETURN(std::optional<int64_t> limit, api::QueryInt(request, "limit"));
  std::optional<std::string> dir = request.QueryParam("dir");
  if (dir && *dir != "b" && *dir != "f") return service::InvalidParam("'dir' must be b or f");
  uint64_t from = 0;
  if (auto token = request.QueryParam("from")) {
    CONCLAVE_ASSIGN_OR_RETURN(from, service::ParsePositionToken(*token));
  }
  CONCLAVE_ASSIGN_OR_RETURN(service::RoomEventFilter filter, QueryFilter(request));
  int64_t n = service::EffectiveLimit(filter, limit.value_or(10), 100);
  return json::object{
      {"chunk", json::array{}}, {"start", service::PositionToken(from)}, {"limit", n}};
}

absl::StatusOr<json::value> Sync(core::Request& request) {
  CONCLAVE_ASSIGN_OR_RETURN(std::optional<int64_t> timeout, api::QueryInt(request, "timeout"));
  CONCLAVE_ASSIGN_OR_RETURN(std::optional<bool> full_state, api::QueryBool(request, "full_state"));
  if (auto since = request.QueryParam("since")) {
    CONCLAVE_RETURN_IF_ERROR(service::ParsePositionToken(*since).status());
  }
  if (auto filter = request.QueryParam("filter");
      filter && !filter->empty() && (*filter)[0] == '{') {
    boost::system::error_code ec;
    json::value value = json::parse(*filter, ec);
    if (ec) return service::InvalidParam("'filter' is not JSON");
    CONCLAVE_RETURN_IF_ERROR(service::ParseFilter(value).status());
  }
  return json::object{{"next_batch", "s1_0"},
                      {"full_state", full_state.value_or(false)},
                      {"timeout", timeout.value_or(0)}};
}

absl::StatusOr<json::value> CreateFilter(core::Request& request) {
  CONCLAVE_RETURN_IF_ERROR(service::ParseUserId(Param(request, "userId")).status());
  CONCLAVE_ASSIGN_OR_RETURN(json::object body, JsonBody(request));
  CONCLAVE_ASSIGN_OR_RETURN(service::Filter filter, service::ParseFilter(body));
  return json::object{{"filter_id", json::serialize(service::ToJson(filter)).size()}};
}

absl::StatusOr<json::value> Directory(core::Request& request) {
  CONCLAVE_ASSIGN_OR_RETURN(service::RoomAlias alias,
                            service::ParseRoomAlias(Param(request, "roomAlias")));
  return json::object{{"room_id", core::StrCat("!room:", alias.server_name)},
                      {"servers", json::array{alias.server_name}}};
}

struct Fixture {
  core::Router router;
  core::Notifier notifier;
  std::vector<core::RouteHandle> routes;
  std::unique_ptr<core::HttpServer> server;
  uint16_t port = 0;
};

Fixture* TheFixture() {
  // Built once, never destroyed (a fuzz target runs until the process exits).
  static Fixture* fixture = [] {
    auto* f = new Fixture;
    auto add = [f](std::string_view method, std::string_view path, core::Handler handler) {
      auto handle = f->router.Add("api", method, path, std::move(handler));
      FUZZ_CHECK(handle.ok(), handle.status().ToString());
      f->routes.push_back(*std::move(handle));
    };
    const std::string client = "/_matrix/client";
    add("GET", client + "/versions", Json(false, [](core::Request&) -> absl::StatusOr<json::value> {
          return json::object{{"versions", json::array{"v1.11"}}};
        }));
    add("PUT", client + "/v3/rooms/{roomId}/send/{eventType}/{txnId}",
        Json(true, [](core::Request& r) { return SendEvent(r, std::nullopt); }));
    add("PUT", client + "/v3/rooms/{roomId}/state/{eventType}",
        Json(true, [](core::Request& r) { return SendEvent(r, ""); }));
    add("PUT", client + "/v3/rooms/{roomId}/state/{eventType}/{stateKey}",
        Json(true, [](core::Request& r) { return SendEvent(r, Param(r, "stateKey")); }));
    add("GET", client + "/v3/rooms/{roomId}/messages", Json(true, Messages));
    add("GET", client + "/v3/sync", Json(true, Sync));
    add("POST", client + "/v3/login", Json(false, Login));
    add("POST", client + "/v3/user/{userId}/filter", Json(true, CreateFilter));
    add("GET", client + "/v3/directory/room/{roomAlias}", Json(false, Directory));

    core::Config config;
    config.address = "127.0.0.1";
    config.port = 0;
    config.max_header_size = kMaxHeaderSize;
    config.max_body_size = kMaxBodySize;
    config.request_timeout = absl::Seconds(10);
    config.idle_timeout = absl::Seconds(10);
    f->server = std::make_unique<core::HttpServer>(f->router, f->notifier, config);
    absl::Status listening = f->server->Listen({});
    FUZZ_CHECK(listening.ok(), listening.ToString());
    f->port = f->server->port();
    f->server->Start(1);
    return f;
  }();
  return fixture;
}

// Sends `input` on a new connection, half-closes it and returns everything the server sent
// until it closed the connection. `complete` is false when the connection was reset (the
// server closed with unread input), so the last response may be cut.
std::string Exchange(std::string_view input, bool& complete) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  FUZZ_CHECK(fd >= 0, std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(TheFixture()->port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // libFuzzer's timer signal (-timeout) can interrupt any of these calls: EINTR means again.
  int connected = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  if (connected != 0 && errno == EINTR) {
    pollfd p{fd, POLLOUT, 0};
    while (poll(&p, 1, 20000) < 0 && errno == EINTR) {
    }
    int error = 0;
    socklen_t length = sizeof(error);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
    connected = error == 0 ? 0 : -1;
    errno = error;
  }
  FUZZ_CHECK(connected == 0, std::strerror(errno));
  complete = true;
  for (size_t sent = 0; sent < input.size();) {
    ssize_t n = send(fd, input.data() + sent, input.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      complete = false;  // the server closed early (431, 413, 400)
      break;
    }
    sent += static_cast<size_t>(n);
  }
  shutdown(fd, SHUT_WR);
  std::string received;
  char buffer[16384];
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    const int ready = poll(&p, 1, 100);
    if (ready < 0 && errno == EINTR) continue;
    FUZZ_CHECK(ready >= 0, std::strerror(errno));
    // The server must answer and close: the client has sent everything and half-closed.
    FUZZ_CHECK(ready == 1 || absl::Now() < deadline,
               "the server did not close the connection within 20 s");
    if (ready == 0) continue;
    ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) break;
    if (n < 0) {
      complete = false;
      break;
    }
    received.append(buffer, static_cast<size_t>(n));
  }
  // Close with a reset: no TIME_WAIT, so a long run does not run out of ephemeral ports.
  linger reset{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
  close(fd);
  // Let the server finish with the connection, so its work counts for this input.
  for (int i = 0; i < 20000 && TheFixture()->server->connection_count() > 0; ++i) {
    std::this_thread::yield();
  }
  return received;
}

// Checks `received`: complete responses, each well-formed. A cut last response is allowed when
// `complete` is false.
void CheckResponses(std::string_view received, bool complete, std::string_view input) {
  const std::string where =
      core::StrCat("request ", Printable(input), "\nresponse ", Printable(received));
  while (!received.empty()) {
    size_t head_end = received.find("\r\n\r\n");
    if (head_end == std::string_view::npos) {
      FUZZ_CHECK(!complete, where);
      return;
    }
    std::string_view head = received.substr(0, head_end);
    FUZZ_CHECK(head.substr(0, 9) == "HTTP/1.1 " && head.size() >= 12, where);
    int status = 0;
    std::from_chars(head.data() + 9, head.data() + 12, status);
    FUZZ_CHECK(status >= 200 && status < 500, where);
    std::optional<size_t> length;
    bool cors = false;
    for (size_t at = head.find("\r\n"); at != std::string_view::npos;) {
      size_t next = head.find("\r\n", at + 2);
      std::string_view line = head.substr(
          at + 2, next == std::string_view::npos ? std::string_view::npos : next - at - 2);
      at = next;
      std::string name(line.substr(0, line.find(':')));
      absl::AsciiStrToLower(&name);
      std::string_view value = line.substr(std::min(line.size(), name.size() + 1));
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      if (name == "content-length") {
        size_t n = 0;
        auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
        FUZZ_CHECK(ec == std::errc() && end == value.data() + value.size() && !length, where);
        length = n;
      } else if (name == "access-control-allow-origin") {
        cors = value == "*";
      }
    }
    FUZZ_CHECK(length.has_value() && cors, where);
    std::string_view rest = received.substr(head_end + 4);
    if (rest.size() < *length) {
      FUZZ_CHECK(!complete, where);
      return;
    }
    std::string_view body = rest.substr(0, *length);
    boost::system::error_code ec;
    json::value value = json::parse(body, ec);
    FUZZ_CHECK(!ec && value.is_object(), where);
    if (status >= 400) {
      const json::value* errcode = value.get_object().if_contains("errcode");
      FUZZ_CHECK(
          errcode != nullptr && errcode->is_string() && errcode->get_string().starts_with("M_"),
          where);
    }
    received = rest.substr(*length);
  }
}

}  // namespace
}  // namespace conclave::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Handlers log internal errors (none expected); the engine logs nothing per request.
  (void)conclave::core::SetLogLevel("error");
  conclave::fuzz::TheFixture();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  bool complete = true;
  std::string received = conclave::fuzz::Exchange(input, complete);
  conclave::fuzz::CheckResponses(received, complete, input);
  return 0;
}
