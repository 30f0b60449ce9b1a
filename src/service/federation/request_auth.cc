#include "conclave/service/federation/request_auth.h"

#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>

#include "conclave/core/status_macros.h"
#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/canonical_json.h"
#include "conclave/service/protocol/errors.h"

namespace conclave::service {
namespace {

constexpr std::string_view kScheme = "X-Matrix";

absl::Status Unauthorized(std::string_view message) {
  return MatrixStatus(absl::StatusCode::kUnauthenticated, Errcode::kUnauthorized, message);
}

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

// RFC 9110 §5.6.2: tchar.
bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

// RFC 9110 §5.6.4: qdtext and the character after a backslash (HTAB, SP, VCHAR, obs-text).
bool IsQuotedChar(unsigned char c) { return c == '\t' || c == ' ' || (c >= 0x21 && c != 0x7f); }

// A cursor over the header; every read checks the end.
class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}
  bool done() const { return at_ >= text_.size(); }
  char peek() const { return text_[at_]; }
  void SkipSpaces() {
    while (!done() && IsSpace(peek())) ++at_;
  }
  // A token; empty when none is there.
  std::string_view Token() {
    const size_t start = at_;
    while (!done() && IsTokenChar(peek())) ++at_;
    return text_.substr(start, at_ - start);
  }
  // An unquoted value: a token, or more leniently any visible ASCII but the separators `,` and
  // `"` and the escape `\` (colons, `/`, `=`: server names with ports and base64, which older
  // servers send unquoted and Synapse accepts). Empty when none is there.
  std::string_view BareValue() {
    const size_t start = at_;
    while (!done() && peek() > 0x20 && peek() < 0x7f && peek() != ',' && peek() != '"' &&
           peek() != '\\') {
      ++at_;
    }
    return text_.substr(start, at_ - start);
  }
  bool Take(char c) {
    if (done() || peek() != c) return false;
    ++at_;
    return true;
  }
  // After the opening quote: the unescaped content up to the closing quote.
  absl::StatusOr<std::string> QuotedRest() {
    std::string out;
    while (!done()) {
      const char c = text_[at_++];
      if (c == '"') return out;
      if (c == '\\') {
        if (done()) break;
        const char escaped = text_[at_++];
        if (!IsQuotedChar(static_cast<unsigned char>(escaped))) {
          return Unauthorized("X-Matrix: invalid character after a backslash");
        }
        out.push_back(escaped);
        continue;
      }
      if (!IsQuotedChar(static_cast<unsigned char>(c))) {
        return Unauthorized("X-Matrix: invalid character in a quoted value");
      }
      out.push_back(c);
    }
    return Unauthorized("X-Matrix: unterminated quoted value");
  }

 private:
  std::string_view text_;
  size_t at_ = 0;
};

void AppendQuoted(std::string& out, std::string_view value) {
  out.push_back('"');
  for (char c : value) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
}

}  // namespace

absl::StatusOr<XMatrixAuth> ParseXMatrix(std::string_view header) {
  // RFC 9110 §11.4: credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ].
  Reader r(header);
  r.SkipSpaces();  // surrounding whitespace is not part of a field value (§5.5)
  if (!EqualsIgnoringCase(r.Token(), kScheme)) {
    return Unauthorized("The Authorization header is not an X-Matrix credential");
  }
  if (r.done() || r.peek() != ' ') return Unauthorized("X-Matrix: no parameters");
  std::optional<std::string> origin, destination, key, sig;
  bool first = true;
  while (true) {
    r.SkipSpaces();
    if (r.done()) break;
    if (!first && !r.Take(',')) return Unauthorized("X-Matrix: expected a comma");
    first = false;
    r.SkipSpaces();
    if (r.done()) break;
    if (r.peek() == ',') continue;  // an empty list element
    const std::string_view name = r.Token();
    if (name.empty()) return Unauthorized("X-Matrix: expected a parameter name");
    r.SkipSpaces();
    if (!r.Take('=')) return Unauthorized(core::StrCat("X-Matrix: ", name, " has no value"));
    r.SkipSpaces();
    std::string value;
    if (r.Take('"')) {
      CONCLAVE_ASSIGN_OR_RETURN(value, r.QuotedRest());
    } else {
      value = std::string(r.BareValue());
      if (value.empty()) return Unauthorized(core::StrCat("X-Matrix: ", name, " has no value"));
    }
    std::optional<std::string>* slot = nullptr;
    if (EqualsIgnoringCase(name, "origin")) slot = &origin;
    if (EqualsIgnoringCase(name, "destination")) slot = &destination;
    if (EqualsIgnoringCase(name, "key")) slot = &key;
    if (EqualsIgnoringCase(name, "sig")) slot = &sig;
    if (slot == nullptr) continue;  // "Unknown parameters are ignored."
    if (slot->has_value()) {
      return Unauthorized(core::StrCat("X-Matrix: ", name, " is given twice"));
    }
    *slot = std::move(value);
  }
  for (const auto& [name, value] :
       {std::pair<std::string_view, const std::optional<std::string>*>{"origin", &origin},
        {"key", &key},
        {"sig", &sig}}) {
    if (!value->has_value() || (*value)->empty()) {
      return Unauthorized(core::StrCat("X-Matrix: no ", name));
    }
  }
  return XMatrixAuth{*std::move(origin), std::move(destination), *std::move(key), *std::move(sig)};
}

std::string FormatXMatrix(const XMatrixAuth& auth) {
  std::string out = core::StrCat(kScheme, " origin=");
  AppendQuoted(out, auth.origin);
  if (auth.destination) {
    out += ",destination=";
    AppendQuoted(out, *auth.destination);
  }
  out += ",key=";
  AppendQuoted(out, auth.key);
  out += ",sig=";
  AppendQuoted(out, auth.sig);
  return out;
}

boost::json::object RequestJson(std::string_view method, std::string_view uri,
                                std::string_view origin, std::string_view destination,
                                const boost::json::value* content) {
  boost::json::object json{
      {"method", method}, {"uri", uri}, {"origin", origin}, {"destination", destination}};
  if (content != nullptr) json["content"] = *content;
  return json;
}

absl::StatusOr<std::string> SignRequest(const ServerSigningKey& key, std::string_view origin,
                                        std::string_view destination, std::string_view method,
                                        std::string_view uri, const boost::json::value* content) {
  boost::json::object json = RequestJson(method, uri, origin, destination, content);
  CONCLAVE_RETURN_IF_ERROR(SignJson(json, origin, key.key_id, key.pair.seed));
  std::string sig(json["signatures"].get_object()[origin].get_object()[key.key_id].get_string());
  return FormatXMatrix(
      XMatrixAuth{std::string(origin), std::string(destination), key.key_id, std::move(sig)});
}

absl::StatusOr<std::string> VerifyRequest(std::string_view our_server_name, std::string_view method,
                                          std::string_view uri,
                                          std::optional<std::string_view> authorization,
                                          std::string_view body, const ServerKeyLookup& lookup) {
  if (!authorization) return Unauthorized("Missing X-Matrix Authorization header");
  CONCLAVE_ASSIGN_OR_RETURN(XMatrixAuth auth, ParseXMatrix(*authorization));
  if (auth.destination && *auth.destination != our_server_name) {
    return Unauthorized(
        core::StrCat("The request is for ", *auth.destination, ", not ", our_server_name));
  }
  std::optional<boost::json::value> content;
  if (!body.empty()) {
    boost::json::parse_options options;
    options.max_depth = kCanonicalJsonMaxDepth + 1;
    boost::system::error_code ec;
    content = boost::json::parse(body, ec, {}, options);
    if (ec) return NotJson("The request body is not JSON");
  }
  absl::StatusOr<std::string> public_key = lookup(auth.origin, auth.key);
  if (!public_key.ok()) {
    return Unauthorized(core::StrCat("Unknown key ", auth.key, " of ", auth.origin, ": ",
                                     public_key.status().message()));
  }
  boost::json::object json =
      RequestJson(method, uri, auth.origin, our_server_name, content ? &*content : nullptr);
  json["signatures"] =
      boost::json::object{{auth.origin, boost::json::object{{auth.key, auth.sig}}}};
  if (absl::Status valid = VerifyJsonSignature(json, auth.origin, auth.key, *public_key);
      !valid.ok()) {
    return Unauthorized(core::StrCat("Invalid X-Matrix signature: ", valid.message()));
  }
  return auth.origin;
}

}  // namespace conclave::service
