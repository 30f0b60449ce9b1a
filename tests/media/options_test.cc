// The media module's options: defaults, the media directory beside the database, and the
// documentation in docs/configuration.md.
#include "options.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/testing/option_docs.h"

namespace conclave::media {
namespace {

TEST(MediaOptions, Defaults) {
  const core::RawConfig empty;
  core::OptionReader reader("media", empty);
  const MediaOptions options = ReadMediaOptions(reader);
  ASSERT_TRUE(reader.status().ok());
  EXPECT_EQ(options.max_upload_size, 50u << 20);
  EXPECT_TRUE(options.legacy_download);
  EXPECT_EQ(options.freeze, absl::InfiniteFuture());
  EXPECT_EQ(options.unused_expiry, absl::Hours(24));
  EXPECT_EQ(MediaDirectory(options, "./conclave-data/"), "./conclave-data-media");
}

TEST(MediaOptions, ValuesAndErrors) {
  core::RawConfig raw;
  raw.SetText("max_upload_size", "1000");
  raw.SetText("media_directory", "/srv/media");
  raw.SetText("media_freeze_ts", "1725000000000");
  core::OptionReader reader("media", raw);
  const MediaOptions options = ReadMediaOptions(reader);
  ASSERT_TRUE(reader.status().ok()) << reader.status();
  EXPECT_EQ(options.max_upload_size, 1000u);
  EXPECT_EQ(MediaDirectory(options, "x"), "/srv/media");
  EXPECT_EQ(options.freeze, absl::FromUnixMillis(1725000000000));

  core::RawConfig bad;
  bad.SetText("max_upload_size", "0");
  core::OptionReader bad_reader("media", bad);
  (void)ReadMediaOptions(bad_reader);
  EXPECT_EQ(bad_reader.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad_reader.status().message()), ::testing::HasSubstr("max_upload_size"));
}

TEST(MediaOptions, EveryOptionIsDocumentedAsTheCodeSaysIt) {
  const core::RawConfig empty;
  core::OptionReader reader("media", empty);
  (void)ReadMediaOptions(reader);
  testing_support::ExpectOptionsDocumented(CONCLAVE_SOURCE_DIR "/docs/configuration.md",
                                           reader.read());
}

}  // namespace
}  // namespace conclave::media
