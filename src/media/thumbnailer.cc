#include "thumbnailer.h"

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vips/vips.h>

#include <charconv>
#include <cstdio>
#include <memory>

#include "conclave/core/str_cat.h"
#include "conclave/service/protocol/crypto.h"
#include "conclave/service/protocol/errors.h"

namespace conclave::media {
namespace {

struct ImageUnref {
  void operator()(VipsImage* image) const { g_object_unref(image); }
};
using Image = std::unique_ptr<VipsImage, ImageUnref>;

std::string VipsErrorText() {
  std::string text = vips_error_buffer();
  vips_error_clear();
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

bool ParseInt(std::string_view text, int& out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size() && out > 0;
}

bool CanAnimate(std::string_view content_type) {
  return content_type.rfind("image/gif", 0) == 0 || content_type.rfind("image/webp", 0) == 0;
}

}  // namespace

absl::StatusOr<ThumbnailSize> ThumbnailSize::Parse(std::string_view text) {
  const size_t x = text.find('x');
  const size_t dash = text.find('-');
  ThumbnailSize size;
  if (x == std::string_view::npos || dash == std::string_view::npos || dash < x ||
      !ParseInt(text.substr(0, x), size.width) ||
      !ParseInt(text.substr(x + 1, dash - x - 1), size.height)) {
    return absl::InvalidArgumentError(
        core::StrCat("thumbnail size '", text, "': expected WIDTHxHEIGHT-crop or -scale"));
  }
  const std::string_view method = text.substr(dash + 1);
  if (method != "crop" && method != "scale") {
    return absl::InvalidArgumentError(
        core::StrCat("thumbnail size '", text, "': the method must be crop or scale"));
  }
  size.crop = method == "crop";
  return size;
}

std::string ThumbnailSize::ToString() const {
  return core::StrCat(width, "x", height, crop ? "-crop" : "-scale");
}

std::optional<ThumbnailSize> SnapSize(const std::vector<ThumbnailSize>& sizes, int width,
                                      int height, bool crop) {
  auto pick = [&](bool any_method) -> std::optional<ThumbnailSize> {
    std::optional<ThumbnailSize> fitting, largest;
    for (const ThumbnailSize& s : sizes) {
      if (!any_method && s.crop != crop) continue;
      const int64_t area = int64_t{s.width} * s.height;
      if (s.width >= width && s.height >= height &&
          (!fitting || area < int64_t{fitting->width} * fitting->height)) {
        fitting = s;
      }
      if (!largest || area > int64_t{largest->width} * largest->height) largest = s;
    }
    return fitting ? fitting : largest;
  };
  if (auto same = pick(false)) return same;
  return pick(true);
}

absl::Status StartThumbnailer() {
  // RTLD_NODELETE: libvips stays mapped for the process whatever happens to the module that
  // needed it (GObject type registrations and libvips' thread pool cannot be unloaded).
  if (dlopen("libvips.so.42", RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE) == nullptr) {
    return absl::InternalError(core::StrCat("cannot pin libvips: ", dlerror()));
  }
  if (VIPS_INIT("conclave") != 0) {
    return absl::InternalError(core::StrCat("libvips: ", VipsErrorText()));
  }
  // One thread per thumbnail (the blocking pool runs several at once), and no operation cache:
  // its memory would grow with every distinct image.
  vips_concurrency_set(1);
  vips_cache_set_max(0);
  return absl::OkStatus();
}

void StopThumbnailer() { vips_shutdown(); }

absl::StatusOr<Thumbnail> MakeThumbnail(const std::string& source, std::string_view sha256,
                                        std::string_view content_type, const std::string& cache_dir,
                                        const ThumbnailSize& size, bool animated,
                                        uint64_t max_pixels) {
  if (content_type.rfind("image/", 0) != 0) {
    return service::NotFound("Thumbnails are made of images only");
  }
  animated = animated && CanAnimate(content_type);
  const bool png = content_type.rfind("image/png", 0) == 0;
  Thumbnail out;
  out.content_type = animated ? "image/gif" : png ? "image/png" : "image/jpeg";
  const std::string ext = animated ? ".gif" : png ? ".png" : ".jpg";
  const std::string dir = core::StrCat(cache_dir, "/", sha256.substr(0, 2));
  out.path = core::StrCat(dir, "/", sha256, "-", size.ToString(), animated ? "-animated" : "", ext);
  struct stat st {};
  if (stat(out.path.c_str(), &st) == 0) return out;  // generated before

  // The header alone first: a tiny file can claim billions of pixels.
  const std::string load = animated ? source + "[n=-1]" : source;
  Image header(vips_image_new_from_file(load.c_str(), "access", VIPS_ACCESS_SEQUENTIAL, nullptr));
  if (header == nullptr) {
    vips_error_clear();
    return service::NotFound("The content is not an image this server can read");
  }
  const uint64_t pixels =
      uint64_t(vips_image_get_width(header.get())) * uint64_t(vips_image_get_height(header.get()));
  if (pixels > max_pixels) {
    return service::TooLarge(core::StrCat("The image has ", pixels, " pixels; at most ", max_pixels,
                                          " are thumbnailed"));
  }
  header.reset();
  // libvips 8.14 crops an animation as one tall strip (its frames are lost): an animated
  // thumbnail is scaled into the box instead of cropped to it.
  const bool crop = size.crop && !animated;
  VipsImage* made = nullptr;
  if (vips_thumbnail(load.c_str(), &made, size.width, "height", size.height, "size", VIPS_SIZE_DOWN,
                     "crop", crop ? VIPS_INTERESTING_CENTRE : VIPS_INTERESTING_NONE,
                     nullptr) != 0) {
    const std::string why = VipsErrorText();
    return service::NotFound(core::StrCat("The image cannot be thumbnailed: ", why));
  }
  Image thumbnail(made);
  if (mkdir(cache_dir.c_str(), 0750) != 0 && errno != EEXIST) {
    return absl::InternalError(core::StrCat("cannot create ", cache_dir));
  }
  if (mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) {
    return absl::InternalError(core::StrCat("cannot create ", dir));
  }
  // A unique temporary (with the extension libvips picks the format by), renamed into place: a
  // reader never sees half a thumbnail, and two requests making the same one both succeed.
  const std::string tmp =
      core::StrCat(dir, "/.tmp-", service::RandomAlnum(12), ext, animated || png ? "" : "[Q=80]");
  if (vips_image_write_to_file(thumbnail.get(), tmp.c_str(), nullptr) != 0) {
    return absl::InternalError(core::StrCat("libvips cannot write a thumbnail: ", VipsErrorText()));
  }
  const std::string written = tmp.substr(0, tmp.find('['));
  if (rename(written.c_str(), out.path.c_str()) != 0) {
    unlink(written.c_str());
    return absl::InternalError(core::StrCat("cannot rename ", written));
  }
  return out;
}

}  // namespace conclave::media
