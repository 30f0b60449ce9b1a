#include <boost/json.hpp>
#include <exception>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "conclave/core/exceptions.h"
#include "conclave/core/http.h"
#include "conclave/core/log.h"
#include "conclave/core/percent.h"
#include "conclave/core/str_cat.h"
#include "metrics_http.h"

namespace conclave::core {

struct Router::Route {
  uint64_t id;
  std::string module;
  std::string method;
  std::string path_template;
  // Each segment is a literal, or a parameter name when `is_param`.
  std::vector<std::pair<bool, std::string>> segments;
  Handler handler;
  bool blocking = false;                          // RouteOptions::blocking
  std::shared_ptr<BodyToFileRoute> body_to_file;  // RouteOptions::body_to_file, or null
  // Requests and durations of this method and template; permanent, so a request finishing
  // after its route was removed can still record into it.
  internal::RouteMetrics* metrics = nullptr;
};

// One RouteOptions::body_to_file declaration. `live`: its route is registered.
struct Router::BodyToFileRoute {
  std::string method;
  std::vector<std::pair<bool, std::string>> segments;
  RouteOptions::BodyToFile options;
  bool live = true;
};

namespace {

absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }
std::string_view Std(absl::string_view s) { return std::string_view(s.data(), s.size()); }

std::vector<std::string_view> SplitPath(std::string_view path) {
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  std::vector<std::string_view> out;
  for (absl::string_view part : absl::StrSplit(Absl(path), '/')) out.push_back(Std(part));
  return out;
}

bool MatchSegments(const std::vector<std::pair<bool, std::string>>& route,
                   const std::vector<std::string_view>& path,
                   std::map<std::string, std::string, std::less<>>* params) {
  if (route.size() != path.size()) return false;
  for (size_t i = 0; i < route.size(); ++i) {
    const auto& [is_param, text] = route[i];
    if (is_param) {
      // Only the last segment may be empty: a state event's state_key is often "", and clients
      // send ".../state/m.room.name/".
      if (path[i].empty() && i + 1 != route.size()) return false;
      if (params != nullptr) (*params)[text] = PercentDecode(path[i]);
    } else if (text != path[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::optional<std::string_view> Request::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, Absl(name))) return value;
  }
  return std::nullopt;
}

std::optional<std::string> Request::QueryParam(std::string_view name) const {
  for (absl::string_view pair : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(pair, absl::MaxSplits('=', 1));
    if (PercentDecode(Std(kv.first), true) == name) {
      return PercentDecode(Std(kv.second), true);
    }
  }
  return std::nullopt;
}

std::optional<std::string> AccessTokenOf(const Request& request) {
  if (auto header = request.Header("Authorization")) {
    std::string_view value = *header;
    constexpr std::string_view kBearer = "Bearer ";
    if (value.size() > kBearer.size() &&
        absl::EqualsIgnoreCase(Absl(value.substr(0, kBearer.size())), Absl(kBearer))) {
      return std::string(value.substr(kBearer.size()));
    }
  }
  return request.QueryParam("access_token");
}

Response MatrixError(int http_status, std::string_view errcode, std::string_view error) {
  boost::json::object body;
  body["errcode"] = boost::json::string_view(errcode.data(), errcode.size());
  body["error"] = boost::json::string_view(error.data(), error.size());
  return Response{http_status, "application/json", boost::json::serialize(body), {}, {}, {}};
}

Router::Router() = default;
Router::~Router() = default;

absl::StatusOr<RouteHandle> Router::Add(std::string_view module, std::string_view method,
                                        std::string_view path_template, Handler handler,
                                        RouteOptions options) {
  if (path_template.empty() || path_template.front() != '/') {
    return absl::InvalidArgumentError(
        core::StrCat("route template '", path_template, "' must start with '/'"));
  }
  auto route = std::make_shared<Route>();
  route->module = std::string(module);
  route->method = absl::AsciiStrToUpper(std::string(method));
  route->path_template = std::string(path_template);
  route->handler = std::move(handler);
  route->blocking = options.blocking;
  for (std::string_view segment : SplitPath(path_template)) {
    if (segment.size() >= 2 && segment.front() == '{' && segment.back() == '}') {
      route->segments.emplace_back(true, std::string(segment.substr(1, segment.size() - 2)));
    } else if (segment.find_first_of("{}") != std::string_view::npos) {
      return absl::InvalidArgumentError(
          core::StrCat("route template '", path_template, "': bad segment '", segment, "'"));
    } else {
      route->segments.emplace_back(false, std::string(segment));
    }
  }
  route->metrics = &internal::HttpMetrics::Global().ForRoute(route->method, route->path_template);
  absl::MutexLock lock(&mu_);
  for (const auto& existing : routes_) {
    if (existing->method == route->method && existing->path_template == route->path_template) {
      return absl::AlreadyExistsError(core::StrCat(route->method, " ", path_template,
                                                   " is already registered by ", existing->module));
    }
  }
  if (options.body_to_file) {
    // A declaration kept from before a reload is replaced by this one.
    std::erase_if(body_to_file_, [&](const auto& d) {
      return d->method == route->method && d->segments == route->segments;
    });
    route->body_to_file = std::make_shared<BodyToFileRoute>(
        BodyToFileRoute{route->method, route->segments, *options.body_to_file});
    body_to_file_.push_back(route->body_to_file);
  }
  if (!gates_.contains(module)) gates_.emplace(std::string(module), std::make_unique<Gate>());
  route->id = next_id_++;
  uint64_t id = route->id;
  routes_.push_back(std::move(route));
  return RouteHandle(this, id);
}

void Router::Unregister(uint64_t id) {
  std::shared_ptr<Route> removed;  // destroyed after the lock is released
  absl::MutexLock lock(&mu_);
  for (auto it = routes_.begin(); it != routes_.end(); ++it) {
    if ((*it)->id == id) {
      removed = std::move(*it);
      routes_.erase(it);
      if (removed->body_to_file != nullptr) {
        // Kept while a reload runs (its route is likely on its way back); dropped otherwise.
        removed->body_to_file->live = false;
        if (!ReloadInProgress()) std::erase(body_to_file_, removed->body_to_file);
      }
      return;
    }
  }
}

Gate& Router::GateFor(std::string_view module) { return *gates_.find(module)->second; }

// What Find() found. Members are destroyed in reverse order: the route reference goes before
// the gate is left, so the last reference to a handler (whose code lives in the module) is never
// the request's.
struct Router::Match {
  GateHolder gate;
  std::shared_ptr<Route> route;
  Outcome outcome = Outcome::kHandled;  // kRetry or kBlocking: nothing entered
  std::set<std::string> allowed;        // no route: methods of the routes matching the path
  // kBlocking: the route's series, so that an answer without its handler (the pool is full)
  // counts and logs under its route. Permanent (HttpMetrics), unlike `route`.
  internal::RouteMetrics* blocking_metrics = nullptr;
};

Router::Match Router::Find(const Request& request, const std::vector<std::string_view>& segments,
                           bool may_block) {
  Match found;
  absl::ReaderMutexLock lock(&mu_);
  for (const auto& candidate : routes_) {
    if (!MatchSegments(candidate->segments, segments, nullptr)) continue;
    if (candidate->method != request.method) {
      found.allowed.insert(candidate->method);
      continue;
    }
    if (candidate->blocking && !may_block) {
      found.outcome = Outcome::kBlocking;
      found.blocking_metrics = candidate->metrics;
      return found;
    }
    // Enter the gate under the table lock, and take a reference only once inside: a route is
    // removed only with the lock held exclusively and after its module's gate drained.
    found.gate = GateHolder(GateFor(candidate->module));
    if (!found.gate.entered()) {
      found.outcome = Outcome::kRetry;
      return found;
    }
    found.route = candidate;
    return found;
  }
  if (ReloadInProgress()) found.outcome = Outcome::kRetry;
  return found;
}

Router::Outcome Router::Dispatch(Request& request, Response& response,
                                 internal::RouteMetrics** matched, bool may_block) {
  if (matched != nullptr) *matched = nullptr;
  std::vector<std::string_view> segments = SplitPath(request.path);
  Match found = Find(request, segments, may_block);
  if (matched != nullptr && found.blocking_metrics != nullptr) *matched = found.blocking_metrics;
  if (found.outcome != Outcome::kHandled) return found.outcome;
  if (found.route == nullptr) {
    if (found.allowed.empty()) {
      response = MatrixError(404, "M_UNRECOGNIZED", "Unrecognized request");
    } else {
      response = MatrixError(405, "M_UNRECOGNIZED", "Unrecognized request method");
      response.headers.emplace_back("Allow", absl::StrJoin(found.allowed, ", "));
    }
    return Outcome::kHandled;
  }
  const Route& route = *found.route;
  if (matched != nullptr) *matched = route.metrics;
  // Nothing may escape into the engine (no exception crosses a module boundary): a handler's
  // exception of any type is a 500, and `found` leaves the gate however this block is left.
  try {
    MatchSegments(route.segments, segments, &request.path_params);
    response = route.handler(request);
  } catch (...) {
    CONCLAVE_LOG(kError, "http", "{} {}: handler threw: {}", request.method, route.path_template,
                 CurrentExceptionMessage());
    response = MatrixError(500, "M_UNKNOWN", "Internal server error");
  }
  if (response.status >= 500) CountFailedRequest();
  return Outcome::kHandled;
}

absl::Status Router::CloseGates(const std::set<std::string>& modules, absl::Duration timeout) {
  std::vector<std::pair<std::string, Gate*>> gates;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& module : modules) {
      auto it = gates_.find(module);
      if (it == gates_.end()) it = gates_.emplace(module, std::make_unique<Gate>()).first;
      if (!it->second->closed()) {
        it->second->Close();
        closed_gates_.fetch_add(1);
      }
      gates.emplace_back(module, it->second.get());
    }
  }
  absl::Time deadline = absl::Now() + timeout;
  std::vector<std::string> busy;
  for (auto& [module, gate] : gates) {
    if (!gate->WaitDrained(std::max(absl::ZeroDuration(), deadline - absl::Now()))) {
      busy.push_back(core::StrCat(module, " (", gate->in_flight(), " in flight)"));
    }
  }
  if (!busy.empty()) {
    return absl::DeadlineExceededError(core::StrCat("requests still running after ",
                                                    absl::FormatDuration(timeout), ": ",
                                                    absl::StrJoin(busy, ", ")));
  }
  return absl::OkStatus();
}

void Router::OpenGates(const std::set<std::string>& modules) {
  {
    absl::MutexLock lock(&mu_);
    for (const auto& module : modules) {
      auto it = gates_.find(module);
      if (it != gates_.end() && it->second->closed()) {
        it->second->Open();
        closed_gates_.fetch_sub(1);
      }
    }
  }
  absl::MutexLock lock(&watch_mu_);
  for (Notifier::Waiter* waiter : watchers_) waiter->Wake(WakeReason::kNotified);
}

void Router::WatchGates(Notifier::Waiter* waiter) {
  absl::MutexLock lock(&watch_mu_);
  watchers_.push_back(waiter);
}

void Router::UnwatchGates(Notifier::Waiter* waiter) {
  absl::MutexLock lock(&watch_mu_);
  std::erase(watchers_, waiter);
}

size_t Router::gate_watchers() const {
  absl::MutexLock lock(&watch_mu_);
  return watchers_.size();
}

std::optional<RouteOptions::BodyToFile> Router::BodyToFileFor(std::string_view method,
                                                              std::string_view path) const {
  std::vector<std::string_view> segments = SplitPath(path.substr(0, path.find('?')));
  absl::ReaderMutexLock lock(&mu_);
  for (const auto& declared : body_to_file_) {
    if (declared->method == method && MatchSegments(declared->segments, segments, nullptr)) {
      if (!declared->live && !ReloadInProgress()) continue;
      return declared->options;
    }
  }
  return std::nullopt;
}

size_t Router::RouteCount(std::string_view module) const {
  absl::ReaderMutexLock lock(&mu_);
  if (module.empty()) return routes_.size();
  return std::count_if(routes_.begin(), routes_.end(),
                       [&](const auto& r) { return r->module == module; });
}

}  // namespace conclave::core
