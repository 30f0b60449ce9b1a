// Thumbnails with the real libvips: sizes snapped to the list, crop and scale, the cache, the
// pixel limit read from the header (a 1 GiB-pixel PNG of a few bytes), non-images.
#include "thumbnailer.h"

#include <sys/stat.h>
#include <vips/vips.h>

#include <filesystem>
#include <fstream>

#include "database/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/testing/status_matchers.h"

namespace conclave::media {
namespace {

using service::Errcode;

std::vector<ThumbnailSize> Sizes(std::initializer_list<const char*> texts) {
  std::vector<ThumbnailSize> out;
  for (const char* t : texts) out.push_back(*ThumbnailSize::Parse(t));
  return out;
}

TEST(ThumbnailSize, ParsesAndRefuses) {
  auto size = ThumbnailSize::Parse("320x240-scale");
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(size->width, 320);
  EXPECT_EQ(size->height, 240);
  EXPECT_FALSE(size->crop);
  EXPECT_EQ(size->ToString(), "320x240-scale");
  for (const char* bad : {"320x240", "x240-crop", "0x1-crop", "3x4-fit", "axb-crop"}) {
    EXPECT_THAT(ThumbnailSize::Parse(bad).status(),
                service::test_util::StatusIs(absl::StatusCode::kInvalidArgument))
        << bad;
  }
}

TEST(SnapSize, SmallestLargeEnoughOfTheSameMethod) {
  const auto sizes = Sizes({"32x32-crop", "96x96-crop", "320x240-scale", "640x480-scale"});
  EXPECT_EQ(SnapSize(sizes, 50, 50, true)->ToString(), "96x96-crop");
  EXPECT_EQ(SnapSize(sizes, 10, 10, true)->ToString(), "32x32-crop");
  EXPECT_EQ(SnapSize(sizes, 300, 200, false)->ToString(), "320x240-scale");
  EXPECT_EQ(SnapSize(sizes, 4000, 3000, false)->ToString(), "640x480-scale");  // the largest
  EXPECT_EQ(SnapSize(Sizes({"320x240-scale"}), 32, 32, true)->ToString(), "320x240-scale");
  EXPECT_FALSE(SnapSize({}, 1, 1, true).has_value());
}

class ThumbnailerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ASSERT_TRUE(StartThumbnailer().ok()); }
  // A `w` x `h` RGB PNG written by libvips.
  std::string Png(int w, int h) {
    const std::string path = dir_.Sub("src.png");
    VipsImage* black = nullptr;
    EXPECT_EQ(vips_black(&black, w, h, "bands", 3, nullptr), 0);
    EXPECT_EQ(vips_image_write_to_file(black, path.c_str(), nullptr), 0);
    g_object_unref(black);
    return path;
  }
  // Width and height of the image at `path`.
  std::pair<int, int> SizeOf(const std::string& path) {
    VipsImage* image = vips_image_new_from_file(path.c_str(), nullptr);
    if (image == nullptr) return {0, 0};
    std::pair<int, int> out{vips_image_get_width(image), vips_image_get_height(image)};
    g_object_unref(image);
    return out;
  }
  database::test_util::TempDir dir_;
};

TEST_F(ThumbnailerTest, ScaleKeepsTheAspectAndCropFillsTheBox) {
  const std::string source = Png(400, 200);
  auto scaled = MakeThumbnail(source, "aabb", "image/png", dir_.Sub("thumbs"),
                              *ThumbnailSize::Parse("100x100-scale"), false, 1'000'000);
  ASSERT_THAT(scaled.status(), service::test_util::IsOk());
  EXPECT_EQ(scaled->content_type, "image/png");
  EXPECT_EQ(SizeOf(scaled->path), std::make_pair(100, 50));
  auto cropped = MakeThumbnail(source, "aabb", "image/png", dir_.Sub("thumbs"),
                               *ThumbnailSize::Parse("64x64-crop"), false, 1'000'000);
  ASSERT_THAT(cropped.status(), service::test_util::IsOk());
  EXPECT_EQ(SizeOf(cropped->path), std::make_pair(64, 64));
}

TEST_F(ThumbnailerTest, GeneratedOnceThenServedFromTheCache) {
  const std::string source = Png(50, 50);
  const ThumbnailSize size = *ThumbnailSize::Parse("32x32-crop");
  auto first = MakeThumbnail(source, "ccdd", "image/png", dir_.Sub("t"), size, false, 10'000);
  ASSERT_TRUE(first.ok());
  std::filesystem::remove(source);  // the cache answers without the source
  auto second = MakeThumbnail(source, "ccdd", "image/png", dir_.Sub("t"), size, false, 10'000);
  ASSERT_THAT(second.status(), service::test_util::IsOk());
  EXPECT_EQ(second->path, first->path);
}

TEST_F(ThumbnailerTest, PixelLimitIsCheckedFromTheHeader) {
  const std::string source = Png(200, 200);
  EXPECT_THAT(MakeThumbnail(source, "eeff", "image/png", dir_.Sub("t"),
                            *ThumbnailSize::Parse("32x32-crop"), false, 39'999)
                  .status(),
              service::test_util::HasErrcode(Errcode::kTooLarge));
}

// A PNG whose header claims 32768 x 32768 pixels (1 GiB of pixels) and holds no image data:
// refused from the header alone (decoding it would fail, or take gigabytes).
TEST_F(ThumbnailerTest, DecompressionBombHeaderIsRefused) {
  const std::string source = dir_.Sub("bomb.png");
  // Signature, IHDR (32768 x 32768, 8-bit RGB), an IDAT of 64 zero bytes, IEND: 69 bytes.
  const unsigned char png[] = {
      0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
      0x44, 0x52, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x80, 0x00, 0x08, 0x02, 0x00, 0x00,
      0x00, 0x4b, 0x1e, 0x34, 0x28, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x78,
      0x9c, 0x63, 0x60, 0xa0, 0x0c, 0x00, 0x00, 0x00, 0x40, 0x00, 0x01, 0xb7, 0x34, 0x7c,
      0xef, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
  std::ofstream(source, std::ios::binary).write(reinterpret_cast<const char*>(png), sizeof png);
  auto made = MakeThumbnail(source, "b0b0", "image/png", dir_.Sub("t"),
                            *ThumbnailSize::Parse("32x32-crop"), false, 32'000'000);
  EXPECT_THAT(made.status(), service::test_util::HasErrcode(Errcode::kTooLarge));
}

// A 3-frame animated GIF: animated=true keeps the frames (a GIF, each scaled into the box), the
// default gives one frame, cropped.
TEST_F(ThumbnailerTest, AnimatedIsHonouredOnlyWhenAsked) {
  const std::string source = dir_.Sub("anim.gif");
  VipsImage* frames = nullptr;
  ASSERT_EQ(vips_black(&frames, 64, 64 * 3, "bands", 3, nullptr), 0);
  VipsImage* copy = nullptr;
  ASSERT_EQ(vips_copy(frames, &copy, nullptr), 0);
  g_object_unref(frames);
  vips_image_set_int(copy, "page-height", 64);
  ASSERT_EQ(vips_image_write_to_file(copy, source.c_str(), nullptr), 0) << vips_error_buffer();
  g_object_unref(copy);
  const ThumbnailSize size = *ThumbnailSize::Parse("32x32-crop");
  auto animated = MakeThumbnail(source, "a1a1", "image/gif", dir_.Sub("t"), size, true, 1'000'000);
  ASSERT_THAT(animated.status(), service::test_util::IsOk());
  EXPECT_EQ(animated->content_type, "image/gif");
  VipsImage* out = vips_image_new_from_file((animated->path + "[n=-1]").c_str(), nullptr);
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(vips_image_get_n_pages(out), 3);
  EXPECT_EQ(vips_image_get_width(out), 32);
  EXPECT_EQ(vips_image_get_page_height(out), 32);
  g_object_unref(out);
  auto still = MakeThumbnail(source, "a1a1", "image/gif", dir_.Sub("t"), size, false, 1'000'000);
  ASSERT_THAT(still.status(), service::test_util::IsOk());
  EXPECT_EQ(still->content_type, "image/jpeg");
  EXPECT_NE(still->path, animated->path);
  EXPECT_EQ(SizeOf(still->path), std::make_pair(32, 32));
}

TEST_F(ThumbnailerTest, NonImagesAreNotFound) {
  const std::string source = dir_.Sub("text");
  std::ofstream(source) << "just text";
  EXPECT_THAT(MakeThumbnail(source, "1111", "text/plain", dir_.Sub("t"),
                            *ThumbnailSize::Parse("32x32-crop"), false, 1'000'000)
                  .status(),
              service::test_util::HasErrcode(Errcode::kNotFound));
  // Claimed to be an image, but is not one.
  EXPECT_THAT(MakeThumbnail(source, "2222", "image/png", dir_.Sub("t"),
                            *ThumbnailSize::Parse("32x32-crop"), false, 1'000'000)
                  .status(),
              service::test_util::HasErrcode(Errcode::kNotFound));
}

}  // namespace
}  // namespace conclave::media
