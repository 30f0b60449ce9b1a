// OpenGraph data from real-world-shaped (invalid) HTML.
#include "opengraph.h"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

namespace conclave::media {
namespace {

TEST(OpenGraphOf, ReadsOgMetaTagsAndResolvesTheImage) {
  const auto og = OpenGraphOf(R"(<html><head>
      <meta property="og:title" content="A title">
      <meta property="og:title" content="A second title">
      <meta name="og:description" content="Said here">
      <meta property="og:image" content="/img/cat.png">
      <meta property="og:image:width" content="48">
      <title>Ignored</title>
      <p>unclosed <b>tags</head><body>)",
                              "https://example.org/blog/post?id=1");
  EXPECT_EQ(og.at("og:title"), "A title");
  EXPECT_EQ(og.at("og:description"), "Said here");
  EXPECT_EQ(og.at("og:image"), "https://example.org/img/cat.png");
  EXPECT_EQ(og.at("og:image:width"), 48);
}

TEST(OpenGraphOf, FallsBackToTitleAndDescription) {
  const auto og = OpenGraphOf(
      "<title>Plain page</title><meta name=description content='About it'><img src=x.png>",
      "http://example.org/a/b.html");
  EXPECT_EQ(og.at("og:title"), "Plain page");
  EXPECT_EQ(og.at("og:description"), "About it");
  EXPECT_FALSE(og.contains("og:image"));
}

TEST(OpenGraphOf, RelativeImageAndNothingFound) {
  EXPECT_EQ(
      OpenGraphOf("<meta property=og:image content=pic.jpg>", "http://h/a/b.html").at("og:image"),
      "http://h/a/pic.jpg");
  EXPECT_TRUE(OpenGraphOf("", "http://h/").empty());
  EXPECT_TRUE(OpenGraphOf("\x01\x02 not html at all", "http://h/").empty());
}

}  // namespace
}  // namespace conclave::media
