// X-Matrix request authentication (Server-Server API, "Request Authentication"): the header's
// grammar with the spec's examples, the signed JSON against a signature computed independently
// (Python's cryptography over the appendices' test key), and inbound verification.
#include "conclave/service/federation/request_auth.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "conclave/service/protocol/crypto.h"
#include "conclave/service/protocol/errors.h"
#include "service/testing/status_matchers.h"

namespace conclave::service {
namespace {

using test_util::HasErrcode;
using ::testing::HasSubstr;
using ::testing::Optional;

// Appendices, "Signing Key": the spec's test seed.
ServerSigningKey TestKey() {
  auto seed = DecodeUnpaddedBase64("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1");
  auto pair = Ed25519FromSeed(*seed);
  return ServerSigningKey{"ed25519:key1", *pair};
}

TEST(ParseXMatrix, ReadsTheSpecsExample) {
  auto auth = ParseXMatrix(
      R"(X-Matrix origin="origin.hs.example.com",destination="destination.hs.example.com",)"
      R"(key="ed25519:key1",sig="ABCDEF...")");
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_EQ(auth->origin, "origin.hs.example.com");
  EXPECT_THAT(auth->destination, Optional(std::string("destination.hs.example.com")));
  EXPECT_EQ(auth->key, "ed25519:key1");
  EXPECT_EQ(auth->sig, "ABCDEF...");
}

TEST(ParseXMatrix, FollowsRfc9110sGrammarAndTheSpecsCaseRules) {
  // Unquoted tokens, colons unquoted (older servers), no destination (before v1.3).
  auto unquoted = ParseXMatrix("X-Matrix origin=example.org:8448,key=ed25519:a_1,sig=AB+c/d=");
  ASSERT_TRUE(unquoted.ok()) << unquoted.status();
  EXPECT_EQ(unquoted->origin, "example.org:8448");
  EXPECT_EQ(unquoted->destination, std::nullopt);
  EXPECT_EQ(unquoted->key, "ed25519:a_1");
  EXPECT_EQ(unquoted->sig, "AB+c/d=");
  // Scheme and names in any case, in any order, spaces and tabs around commas and '=', several
  // spaces after the scheme, empty list elements, unknown parameters, escapes in quoted values.
  // Values keep their case.
  auto loose = ParseXMatrix(
      "x-MATRIX   SIG=\"s\\\"ig\" ,\t Key = \"ed25519:K\" ,, Extra=\"1,2\" , "
      "ORIGIN=\"Or\\\\igin\",Destination=Dest.Org ");
  ASSERT_TRUE(loose.ok()) << loose.status();
  EXPECT_EQ(loose->origin, "Or\\igin");
  EXPECT_THAT(loose->destination, Optional(std::string("Dest.Org")));
  EXPECT_EQ(loose->key, "ed25519:K");
  EXPECT_EQ(loose->sig, "s\"ig");
}

TEST(ParseXMatrix, RefusesMalformedCredentialsWithUnauthorized) {
  for (const char* header : {
           "", "Bearer abc", "X-Matrix", "X-Matrixorigin=a,key=k,sig=s",
           "X-Matrix origin=a,key=k",                 // no sig
           "X-Matrix origin=a,sig=s",                 // no key
           "X-Matrix key=k,sig=s",                    // no origin
           "X-Matrix origin=\"\",key=k,sig=s",        // empty origin
           "X-Matrix origin=a,origin=b,key=k,sig=s",  // twice
           "X-Matrix origin=a key=k,sig=s",           // no comma
           "X-Matrix origin=\"a,key=k,sig=s",         // unterminated
           "X-Matrix origin=a,key=k,sig=s\\",         // a backslash outside quotes
           "X-Matrix origin=a,key=k,sig=\"s\\",       // a backslash at the end
           "X-Matrix origin=a,key=,sig=s",            // no value
           "X-Matrix origin=a,=k,sig=s",              // no name
           "X-Matrix origin=\"a\x01\",key=k,sig=s",   // a control character
       }) {
    SCOPED_TRACE(header);
    auto auth = ParseXMatrix(header);
    EXPECT_THAT(auth.status(), HasErrcode(Errcode::kUnauthorized));
  }
}

TEST(FormatXMatrix, WritesTheCompatibleFormAndParsesBack) {
  XMatrixAuth auth{"origin.example", std::string("dest.example"), "ed25519:k", "a\"b\\c"};
  const std::string header = FormatXMatrix(auth);
  EXPECT_EQ(header,
            R"(X-Matrix origin="origin.example",destination="dest.example",key="ed25519:k",)"
            R"(sig="a\"b\\c")");
  auto back = ParseXMatrix(header);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->origin, auth.origin);
  EXPECT_EQ(back->destination, auth.destination);
  EXPECT_EQ(back->key, auth.key);
  EXPECT_EQ(back->sig, auth.sig);
}

TEST(SignRequest, SignsTheSpecsJsonAsAnyImplementationWould) {
  // The signatures below were computed with Python's cryptography (Ed25519 over the canonical
  // JSON, sorted keys, no spaces) from the appendices' test seed.
  const boost::json::value content =
      boost::json::parse(R"({"pdus":[],"edus":[{"edu_type":"m.typing"}]})");
  auto post = SignRequest(TestKey(), "origin.hs.example.com", "destination.hs.example.com", "POST",
                          "/_matrix/federation/v1/send/1?x=y", &content);
  ASSERT_TRUE(post.ok()) << post.status();
  EXPECT_EQ(*post,
            "X-Matrix origin=\"origin.hs.example.com\",destination=\"destination.hs.example.com\","
            "key=\"ed25519:key1\",sig=\"pFYML0V2BWjiDw4ATrXuzLfVFcw7b4Q2IPQVVInydbFLa53dZtrOOpy8Pz"
            "G4xS9wT0abR5Aa2AsXDjscScv9AA\"");
  auto get = SignRequest(TestKey(), "origin.hs.example.com", "destination.hs.example.com", "GET",
                         "/_matrix/federation/v1/version", nullptr);
  ASSERT_TRUE(get.ok()) << get.status();
  EXPECT_THAT(*get, HasSubstr("sig=\"Mb8+kifPyx8HNTRgyZl7sVpc0vYZlRn6znNGD0C4mQqUlUIMKKlIt2pu5xul"
                              "jDwPrHIhLUPBwkVXZoBWdVu6Bg\""));
  const boost::json::value with_float = boost::json::parse(R"({"a":1.5})");
  EXPECT_EQ(SignRequest(TestKey(), "o", "d", "PUT", "/x", &with_float).status().code(),
            absl::StatusCode::kInvalidArgument);
}

class VerifyRequestTest : public ::testing::Test {
 protected:
  // Knows only origin.example's key1.
  ServerKeyLookup Lookup() {
    return [public_key = UnpaddedBase64(key_.pair.public_key)](
               std::string_view server, std::string_view key_id) -> absl::StatusOr<std::string> {
      if (server == "origin.example" && key_id == "ed25519:key1") return public_key;
      return absl::NotFoundError("no such key");
    };
  }
  std::string Sign(std::string_view destination, std::string_view method, std::string_view uri,
                   std::string_view body) {
    std::optional<boost::json::value> content;
    if (!body.empty()) content = boost::json::parse(body);
    auto header = SignRequest(key_, "origin.example", destination, method, uri,
                              content ? &*content : nullptr);
    EXPECT_TRUE(header.ok()) << header.status();
    return header.value_or("");
  }
  absl::StatusOr<std::string> Verify(std::optional<std::string> header, std::string_view method,
                                     std::string_view uri, std::string_view body) {
    return VerifyRequest("us.example", method, uri, header, body, Lookup());
  }

  ServerSigningKey key_ = TestKey();
};

TEST_F(VerifyRequestTest, AcceptsASignedRequestAndReturnsItsOrigin) {
  const std::string body = R"({"pdus": [], "origin": "origin.example"})";
  const std::string uri = "/_matrix/federation/v1/send/txn1";
  auto origin = Verify(Sign("us.example", "PUT", uri, body), "PUT", uri, body);
  ASSERT_TRUE(origin.ok()) << origin.status();
  EXPECT_EQ(*origin, "origin.example");
  // The body is compared as JSON, not as bytes.
  EXPECT_TRUE(Verify(Sign("us.example", "PUT", uri, body), "PUT", uri,
                     R"({"origin":"origin.example","pdus":[]})")
                  .ok());
  // Without a body.
  EXPECT_TRUE(Verify(Sign("us.example", "GET", "/_matrix/federation/v1/version", ""), "GET",
                     "/_matrix/federation/v1/version", "")
                  .ok());
}

TEST_F(VerifyRequestTest, AcceptsAnOldServersHeaderWithoutDestination) {
  std::string header = Sign("us.example", "GET", "/_matrix/federation/v1/query/profile?x=1", "");
  auto auth = ParseXMatrix(header);
  ASSERT_TRUE(auth.ok());
  auth->destination.reset();
  EXPECT_TRUE(
      Verify(FormatXMatrix(*auth), "GET", "/_matrix/federation/v1/query/profile?x=1", "").ok());
}

TEST_F(VerifyRequestTest, RefusesAnythingElseWithUnauthorized) {
  const std::string uri = "/_matrix/federation/v1/send/t";
  const std::string body = R"({"pdus": []})";
  const std::string good = Sign("us.example", "PUT", uri, body);
  EXPECT_THAT(Verify(std::nullopt, "PUT", uri, body), HasErrcode(Errcode::kUnauthorized));
  EXPECT_THAT(Verify("Bearer x", "PUT", uri, body), HasErrcode(Errcode::kUnauthorized));
  // For another server: refused by its destination, and by the signature without one.
  EXPECT_THAT(Verify(Sign("them.example", "PUT", uri, body), "PUT", uri, body),
              HasErrcode(Errcode::kUnauthorized));
  auto other = ParseXMatrix(Sign("them.example", "PUT", uri, body));
  ASSERT_TRUE(other.ok());
  other->destination.reset();
  EXPECT_THAT(Verify(FormatXMatrix(*other), "PUT", uri, body), HasErrcode(Errcode::kUnauthorized));
  // Method, uri (its query too) and body are covered.
  EXPECT_THAT(Verify(good, "POST", uri, body), HasErrcode(Errcode::kUnauthorized));
  EXPECT_THAT(Verify(good, "PUT", uri + "?a=b", body), HasErrcode(Errcode::kUnauthorized));
  EXPECT_THAT(Verify(good, "PUT", uri, R"({"pdus": [1]})"), HasErrcode(Errcode::kUnauthorized));
  EXPECT_THAT(Verify(good, "PUT", uri, ""), HasErrcode(Errcode::kUnauthorized));
  // An unknown key, a forged origin, a garbled signature.
  auto auth = ParseXMatrix(good);
  ASSERT_TRUE(auth.ok());
  XMatrixAuth changed = *auth;
  changed.key = "ed25519:key2";
  EXPECT_THAT(Verify(FormatXMatrix(changed), "PUT", uri, body), HasErrcode(Errcode::kUnauthorized));
  changed = *auth;
  changed.origin = "evil.example";
  EXPECT_THAT(Verify(FormatXMatrix(changed), "PUT", uri, body), HasErrcode(Errcode::kUnauthorized));
  changed = *auth;
  changed.sig = "!!";
  EXPECT_THAT(Verify(FormatXMatrix(changed), "PUT", uri, body), HasErrcode(Errcode::kUnauthorized));
  // A body that is not JSON is the client's error.
  EXPECT_THAT(Verify(good, "PUT", uri, "{"), HasErrcode(Errcode::kNotJson));
}

}  // namespace
}  // namespace conclave::service
