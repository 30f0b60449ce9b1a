// Fuzz target: X-Matrix request authentication (src/service/federation/request_auth.cc) — the
// `Authorization` header parser and the inbound verifier, which read what any remote server
// sends.
//
// Input: the header value, optionally followed by a NUL byte and a request body. Checks: the
// parser answers a credential or M_UNAUTHORIZED, never anything else; an accepted credential has
// a non-empty origin, key and sig, and FormatXMatrix of it parses back to the same credential;
// the verifier (with a key lookup that knows one key) answers M_UNAUTHORIZED or M_NOT_JSON, or,
// only for a header signed by that key over exactly this request, the origin.
#include <cstdint>
#include <string>
#include <string_view>

#include "conclave/service/federation/request_auth.h"
#include "conclave/service/protocol/crypto.h"
#include "conclave/service/protocol/errors.h"
#include "fuzz_check.h"

namespace conclave::fuzz {
namespace {

using service::Errcode;

const service::ServerSigningKey& Key() {
  // The appendices' test seed ("Signing Key"); built once, never destroyed (a fuzz target).
  static const auto* key = [] {
    auto seed = service::DecodeUnpaddedBase64("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1");
    auto pair = service::Ed25519FromSeed(*seed);
    return new service::ServerSigningKey{"ed25519:key1", *pair};
  }();
  return *key;
}

void CheckParse(std::string_view header) {
  auto auth = service::ParseXMatrix(header);
  if (!auth.ok()) {
    FUZZ_CHECK(service::ErrcodeOf(auth.status()) == Errcode::kUnauthorized,
               auth.status().ToString());
    return;
  }
  FUZZ_CHECK(!auth->origin.empty() && !auth->key.empty() && !auth->sig.empty());
  auto back = service::ParseXMatrix(service::FormatXMatrix(*auth));
  FUZZ_CHECK(back.ok(), back.status().ToString());
  FUZZ_CHECK(back->origin == auth->origin && back->destination == auth->destination &&
                 back->key == auth->key && back->sig == auth->sig,
             Printable(header));
}

void CheckVerify(std::string_view header, std::string_view body) {
  const std::string public_key = service::UnpaddedBase64(Key().pair.public_key);
  auto lookup = [&](std::string_view server,
                    std::string_view key_id) -> absl::StatusOr<std::string> {
    if (server == "origin.example" && key_id == Key().key_id) return public_key;
    return absl::NotFoundError("unknown");
  };
  auto origin = service::VerifyRequest("us.example", "PUT", "/_matrix/federation/v1/send/1", header,
                                       body, lookup);
  if (!origin.ok()) {
    const Errcode errcode = service::ErrcodeOf(origin.status());
    FUZZ_CHECK(errcode == Errcode::kUnauthorized || errcode == Errcode::kNotJson,
               origin.status().ToString());
    return;
  }
  // Accepted: only origin.example's key can have signed it.
  FUZZ_CHECK(*origin == "origin.example", Printable(header));
}

}  // namespace
}  // namespace conclave::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace conclave::fuzz;  // NOLINT: a fuzz target's entry point
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string_view header = input.substr(0, nul);
  const std::string_view body =
      nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);
  CheckParse(header);
  CheckVerify(header, body);
  return 0;
}
