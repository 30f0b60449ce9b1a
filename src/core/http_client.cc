// HttpFetch (http_client.h) on Beast: one io_context per call, run on the calling thread for at
// most the time limit; coroutines for resolve, connect (only to allowed addresses), TLS, write
// and read.
#include "conclave/core/http_client.h"

#include <openssl/ssl.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>

#include "conclave/core/str_cat.h"

namespace conclave::core {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

constexpr uint32_t kHeaderLimit = 16 * 1024;

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

struct Url {
  bool tls = false;
  std::string host;  // without the brackets of an IPv6 literal
  std::string port;
  std::string target;  // path and query, at least "/"
  std::string Origin() const {
    const bool v6 = host.find(':') != std::string::npos;
    const bool default_port = port == (tls ? "443" : "80");
    return StrCat(tls ? "https://" : "http://", v6 ? "[" : "", host, v6 ? "]" : "",
                  default_port ? "" : ":", default_port ? "" : port);
  }
};

absl::StatusOr<Url> ParseUrl(std::string_view text) {
  Url url;
  const std::string lower = Lower(text.substr(0, 8));
  if (lower.rfind("https://", 0) == 0) {
    url.tls = true;
    text.remove_prefix(8);
  } else if (lower.rfind("http://", 0) == 0) {
    text.remove_prefix(7);
  } else {
    return absl::InvalidArgumentError("only http:// and https:// URLs can be fetched");
  }
  const size_t end = text.find_first_of("/?#");
  std::string_view authority = text.substr(0, end);
  std::string_view rest = end == std::string_view::npos ? "" : text.substr(end);
  if (authority.find('@') != std::string_view::npos) {
    return absl::InvalidArgumentError("URLs with user info are not fetched");
  }
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return absl::InvalidArgumentError("bad IPv6 host");
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() == ':') port = after.substr(1);
  } else {
    const size_t colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (url.host.empty()) return absl::InvalidArgumentError("the URL has no host");
  for (char c : port) {
    if (c < '0' || c > '9') return absl::InvalidArgumentError("bad port");
  }
  url.port = port.empty() ? (url.tls ? "443" : "80") : std::string(port);
  rest = rest.substr(0, rest.find('#'));
  url.target = rest.empty() || rest.front() != '/' ? StrCat("/", rest) : std::string(rest);
  return url;
}

// `location` (a Location header) resolved against `base` (RFC 9110 section 10.2.2).
std::string Resolve(const Url& base, std::string_view location) {
  const std::string lower = Lower(location.substr(0, 8));
  if (lower.rfind("http://", 0) == 0 || lower.rfind("https://", 0) == 0) {
    return std::string(location);
  }
  if (location.rfind("//", 0) == 0) return StrCat(base.tls ? "https:" : "http:", location);
  if (!location.empty() && location.front() == '/') return StrCat(base.Origin(), location);
  const std::string path = base.target.substr(0, base.target.find('?'));
  return StrCat(base.Origin(), path.substr(0, path.rfind('/') + 1), location);
}

absl::Status Failed(absl::StatusCode code, std::string_view what, const Url& url,
                    const boost::system::error_code& ec) {
  return absl::Status(code, StrCat(what, " ", url.Origin(), ": ", ec.message()));
}

// One exchange with `url`; `result` is set when it ends.
class Exchange {
 public:
  Exchange(net::io_context& ioc, const Url& url, const HttpClientRequest& request,
           const HttpClientOptions& options, const AddressFilter& filter)
      : ioc_(ioc), url_(url), request_(request), options_(options), filter_(filter) {}

  net::awaitable<void> Run() { result_ = co_await Attempt(); }
  const std::optional<absl::StatusOr<HttpClientResponse>>& result() const { return result_; }

 private:
  net::awaitable<absl::StatusOr<HttpClientResponse>> Attempt() {
    boost::system::error_code ec;
    tcp::resolver resolver(ioc_);
    std::string host = url_.host;
    std::string port = url_.port;
    if (!request_.connect_to.empty()) {
      const size_t colon = request_.connect_to.rfind(':');
      if (colon == std::string::npos) {
        co_return absl::InvalidArgumentError(
            StrCat("connect_to ", request_.connect_to, " is not host:port"));
      }
      host = request_.connect_to.substr(0, colon);
      port = request_.connect_to.substr(colon + 1);
      if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
      }
    }
    auto resolved =
        co_await resolver.async_resolve(host, port, net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return Failed(absl::StatusCode::kUnavailable, "cannot resolve", url_, ec);
    std::vector<tcp::endpoint> allowed;
    for (const auto& entry : resolved) {
      if (filter_.Allows(entry.endpoint().address().to_string())) {
        allowed.push_back(entry.endpoint());
      }
    }
    if (allowed.empty()) {
      co_return absl::PermissionDeniedError(
          StrCat(host, " resolves only to addresses that may not be fetched"));
    }
    beast::tcp_stream tcp_stream(ioc_);
    // The endpoints that passed, not the name: no second resolution to rebind.
    co_await tcp_stream.async_connect(allowed, net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return Failed(absl::StatusCode::kUnavailable, "cannot connect to", url_, ec);
    if (!url_.tls) co_return co_await Talk(tcp_stream);

    net::ssl::context tls(net::ssl::context::tls_client);
    if (options_.verify_certificates) {
      tls.set_verify_mode(net::ssl::verify_peer);
      if (options_.ca_file.empty()) {
        tls.set_default_verify_paths(ec);
      } else {
        tls.load_verify_file(options_.ca_file, ec);
      }
      if (ec) co_return Failed(absl::StatusCode::kInternal, "no trusted CAs for", url_, ec);
    } else {
      tls.set_verify_mode(net::ssl::verify_none);
    }
    beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp_stream), tls);
    if (options_.verify_certificates) {
      stream.set_verify_callback(net::ssl::host_name_verification(url_.host));
    }
    boost::system::error_code not_ip;
    (void)net::ip::make_address(url_.host, not_ip);
    if (not_ip) SSL_set_tlsext_host_name(stream.native_handle(), url_.host.c_str());  // SNI
    co_await stream.async_handshake(net::ssl::stream_base::client,
                                    net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return Failed(absl::StatusCode::kUnavailable, "TLS with", url_, ec);
    co_return co_await Talk(stream);
  }

  template <typename Stream>
  net::awaitable<absl::StatusOr<HttpClientResponse>> Talk(Stream& stream) {
    boost::system::error_code ec;
    http::request<http::string_body> req;
    req.method_string(request_.method);
    req.target(url_.target);
    req.version(11);
    const bool default_port = url_.port == (url_.tls ? "443" : "80");
    const bool v6 = url_.host.find(':') != std::string::npos;
    req.set(http::field::host, StrCat(v6 ? "[" : "", url_.host, v6 ? "]" : "",
                                      default_port ? "" : ":", default_port ? "" : url_.port));
    req.set(http::field::user_agent, options_.user_agent);
    req.set(http::field::connection, "close");
    for (const auto& header : request_.headers) req.set(header.first, header.second);
    if (!request_.body.empty()) req.body() = request_.body;
    req.prepare_payload();
    co_await http::async_write(stream, req, net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return Failed(absl::StatusCode::kUnavailable, "cannot send to", url_, ec);

    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(options_.max_response_bytes);
    co_await http::async_read(stream, buffer, parser, net::redirect_error(net::use_awaitable, ec));
    if (ec == http::error::body_limit) {
      co_return absl::ResourceExhaustedError(
          StrCat(url_.Origin(), " answered more than ", options_.max_response_bytes, " bytes"));
    }
    if (ec) co_return Failed(absl::StatusCode::kUnavailable, "bad answer from", url_, ec);
    HttpClientResponse response;
    const auto& res = parser.get();
    response.status = static_cast<int>(res.result_int());
    for (const auto& field : res) {
      response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    response.body = res.body();
    co_return response;
  }

  net::io_context& ioc_;
  const Url& url_;
  const HttpClientRequest& request_;
  const HttpClientOptions& options_;
  const AddressFilter& filter_;
  std::optional<absl::StatusOr<HttpClientResponse>> result_;
};

absl::StatusOr<HttpClientResponse> FetchOnce(const Url& url, const HttpClientRequest& request,
                                             const HttpClientOptions& options,
                                             const AddressFilter& filter) {
  net::io_context ioc(1);
  Exchange exchange(ioc, url, request, options, filter);
  net::co_spawn(ioc, exchange.Run(), net::detached);
  ioc.run_for(absl::ToChronoMilliseconds(options.timeout));
  if (!exchange.result().has_value()) {
    return absl::DeadlineExceededError(
        StrCat(url.Origin(), " did not answer within ", absl::FormatDuration(options.timeout)));
  }
  return *exchange.result();
}

bool IsRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

}  // namespace

std::string ResolveUrl(std::string_view base, std::string_view reference) {
  const std::string lower = Lower(reference.substr(0, 8));
  if (lower.rfind("http://", 0) == 0 || lower.rfind("https://", 0) == 0) {
    return std::string(reference);
  }
  absl::StatusOr<Url> url = ParseUrl(base);
  if (!url.ok()) return std::string(base);
  return Resolve(*url, reference);
}

std::string_view HttpClientResponse::Header(std::string_view name) const {
  for (const auto& header : headers) {
    if (Lower(header.first) == Lower(name)) return header.second;
  }
  return {};
}

absl::StatusOr<HttpClientResponse> HttpFetch(const HttpClientRequest& request,
                                             const HttpClientOptions& options) {
  try {
    absl::StatusOr<AddressFilter> filter = AddressFilter::Create(options.allowed_ranges);
    if (!filter.ok()) return filter.status();
    HttpClientRequest hop = request;
    for (int redirects = 0;; ++redirects) {
      absl::StatusOr<Url> url = ParseUrl(hop.url);
      if (!url.ok()) return url.status();
      absl::StatusOr<HttpClientResponse> response = FetchOnce(*url, hop, options, *filter);
      if (!response.ok()) return response.status();
      response->url = hop.url;
      const std::string_view location = response->Header("Location");
      if (!IsRedirect(response->status) || location.empty() || options.max_redirects == 0) {
        return response;
      }
      if (redirects == options.max_redirects) {
        return absl::ResourceExhaustedError(
            StrCat("more than ", options.max_redirects, " redirects from ", request.url));
      }
      hop.url = Resolve(*url, location);
      hop.connect_to.clear();
      // RFC 9110 section 15.4: 303 always, 301/302 of a POST in practice, become a GET.
      if (response->status == 303 ||
          ((response->status == 301 || response->status == 302) && hop.method == "POST")) {
        hop.method = "GET";
        hop.body.clear();
      }
    }
  } catch (const std::exception& e) {
    return absl::InternalError(StrCat("HTTP client: ", e.what()));
  }
}

}  // namespace conclave::core
