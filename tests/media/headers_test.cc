// The download headers of the media module: the inline safe list and RFC 6266 filename quoting.
#include "headers.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace conclave::media {
namespace {

using ::testing::Contains;
using ::testing::Pair;

TEST(ContentDisposition, InlineOnlyForTheSafeList) {
  EXPECT_EQ(ContentDisposition("image/png", ""), "inline");
  EXPECT_EQ(ContentDisposition("Image/PNG; charset=x", ""), "inline");
  EXPECT_EQ(ContentDisposition("text/html", ""), "attachment");
  EXPECT_EQ(ContentDisposition("image/svg+xml", ""), "attachment");
  EXPECT_EQ(ContentDisposition("application/octet-stream", ""), "attachment");
}

TEST(ContentDisposition, QuotesAsciiNamesAndEscapesQuotes) {
  EXPECT_EQ(ContentDisposition("text/plain", "a b.txt"), "inline; filename=\"a b.txt\"");
  EXPECT_EQ(ContentDisposition("text/plain", "x\"y\\z"), "inline; filename=\"x\\\"y\\\\z\"");
}

TEST(ContentDisposition, EncodesOtherNamesAndNeverPassesControlBytes) {
  EXPECT_EQ(ContentDisposition("text/plain", "caf\xc3\xa9.txt"),
            "inline; filename*=utf-8''caf%C3%A9.txt");
  const std::string header = ContentDisposition("text/plain", "a\r\nSet-Cookie: x");
  EXPECT_EQ(header.find('\r'), std::string::npos);
  EXPECT_EQ(header.find('\n'), std::string::npos);
  EXPECT_EQ(header, "inline; filename*=utf-8''a%0D%0ASet-Cookie%3A%20x");
}

TEST(SetDownloadHeaders, SecurityAndCachingHeaders) {
  service::MediaRecord record;
  record.sha256 = "abc";
  record.content_type = "text/html";
  record.filename = "page.html";
  core::Response response;
  SetDownloadHeaders(record, "", /*authenticated=*/true, response);
  EXPECT_EQ(response.content_type, "text/html");
  EXPECT_THAT(response.headers, Contains(Pair("ETag", "\"abc\"")));
  EXPECT_THAT(response.headers,
              Contains(Pair("Content-Disposition", "attachment; filename=\"page.html\"")));
  EXPECT_THAT(response.headers, Contains(Pair("X-Content-Type-Options", "nosniff")));
  EXPECT_THAT(response.headers,
              Contains(Pair("Cache-Control", "private, max-age=31536000, immutable")));
  EXPECT_THAT(response.headers, Contains(Pair("Cross-Origin-Resource-Policy", "cross-origin")));
  bool csp = false;
  for (const auto& [name, value] : response.headers) {
    if (name == "Content-Security-Policy")
      csp = value.rfind("sandbox; default-src 'none';", 0) == 0;
  }
  EXPECT_TRUE(csp);
}

TEST(SetDownloadHeaders, PathFilenameOverridesAndEmptyTypeIsOctetStream) {
  service::MediaRecord record;
  record.filename = "stored.bin";
  core::Response response;
  SetDownloadHeaders(record, "asked.bin", false, response);
  EXPECT_EQ(response.content_type, "application/octet-stream");
  EXPECT_THAT(response.headers,
              Contains(Pair("Content-Disposition", "attachment; filename=\"asked.bin\"")));
  EXPECT_THAT(response.headers,
              Contains(Pair("Cache-Control", "public, max-age=31536000, immutable")));
}

}  // namespace
}  // namespace conclave::media
