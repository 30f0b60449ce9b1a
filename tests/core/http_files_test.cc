// Files in the HTTP engine: request bodies streamed to a temporary file (RouteOptions::
// body_to_file) and file responses (Response::file) with ETag and Range, through a real
// loopback socket; ApplyFileConditions on its own.
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "conclave/core/config.h"
#include "conclave/core/http.h"
#include "conclave/core/http_server.h"
#include "conclave/core/notifier.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http_get.h"

namespace conclave::core {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

std::string Body(const std::string& response) {
  const size_t at = response.find("\r\n\r\n");
  return at == std::string::npos ? "" : response.substr(at + 4);
}

std::vector<std::string> FilesIn(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().string());
  return names;
}

class HttpFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("conclave-http-files-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "up");
    config_.port = 0;
    config_.max_body_size = 16;  // uploads must not count against it
  }
  void Start() {
    http_ = std::make_unique<HttpServer>(router_, notifier_, config_);
    ASSERT_TRUE(http_->Listen({}).ok());
    http_->Start(2);
  }
  void TearDown() override {
    if (http_ != nullptr) http_->Stop(absl::Seconds(2));
    fs::remove_all(dir_);
  }
  // Registers POST /up, streamed to dir_/up with `max_size`; the handler answers the size and
  // content it found and takes the file when `keep_`.
  RouteHandle AddUpload(uint64_t max_size) {
    RouteOptions options;
    options.body_to_file = RouteOptions::BodyToFile{(dir_ / "up").string(), max_size};
    auto handle = router_.Add(
        "m", "POST", "/up",
        [this](Request& request) {
          std::ifstream in(request.body_file);
          std::string content((std::istreambuf_iterator<char>(in)), {});
          if (keep_) {
            fs::rename(request.body_file, dir_ / "kept");
            request.body_file.clear();
          }
          return Response{200, "text/plain", std::to_string(request.body_file_size) + ":" + content,
                          {},  {},           {}};
        },
        options);
    EXPECT_TRUE(handle.ok());
    return *std::move(handle);
  }

  fs::path dir_;
  bool keep_ = false;
  Config config_;
  Router router_;
  Notifier notifier_;
  std::unique_ptr<HttpServer> http_;
};

TEST_F(HttpFilesTest, UploadGoesToAFileOutsideTheMemoryLimitAndIsRemovedAfterward) {
  RouteHandle route = AddUpload(1000);
  Start();
  const std::string body(100, 'x');  // over max_body_size (16), under the route's 1000
  const std::string out = Exchange(
      http_->port(),
      "POST /up HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 100\r\n\r\n" + body);
  EXPECT_THAT(out, HasSubstr("200 OK"));
  EXPECT_EQ(Body(out), "100:" + body);
  EXPECT_THAT(FilesIn(dir_ / "up"), IsEmpty());
}

TEST_F(HttpFilesTest, HandlerKeepsTheFileByClearingBodyFile) {
  RouteHandle route = AddUpload(1000);
  keep_ = true;
  Start();
  const std::string out = Exchange(
      http_->port(),
      "POST /up HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_EQ(Body(out), "5:hello");
  std::ifstream in(dir_ / "kept");
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(in)), {}), "hello");
}

TEST_F(HttpFilesTest, BodyLargerThanTheWriteChunkArrivesWholeInTheFile) {
  // Written to the file in 1 MiB pieces (kUploadWriteChunk): a body of several pieces and a
  // partial last one, sent in writes that do not line up with them.
  RouteHandle route = AddUpload(8 << 20);
  keep_ = true;
  Start();
  std::string body;
  for (size_t i = 0; i < (5 << 19) + 12345; ++i) body.push_back(static_cast<char>(i * 7 % 253));
  const std::string out = Exchange(http_->port(),
                                   "POST /up HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                   "Content-Length: " +
                                       std::to_string(body.size()) + "\r\n\r\n" + body);
  EXPECT_THAT(out, HasSubstr("200 OK"));
  EXPECT_THAT(Body(out), ::testing::StartsWith(std::to_string(body.size()) + ":"));
  std::ifstream in(dir_ / "kept", std::ios::binary);
  EXPECT_TRUE(std::string((std::istreambuf_iterator<char>(in)), {}) == body);
}

TEST_F(HttpFilesTest, ContentLengthOverTheRouteLimitIsRefusedBeforeTheBody) {
  RouteHandle route = AddUpload(10);
  Start();
  // The body is never sent: the answer comes after the header alone.
  const std::string out =
      Exchange(http_->port(), "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n");
  EXPECT_THAT(out, HasSubstr("413"));
  EXPECT_THAT(out, HasSubstr("M_TOO_LARGE"));
  EXPECT_THAT(FilesIn(dir_ / "up"), IsEmpty());
}

TEST_F(HttpFilesTest, ChunkedBodyOverTheLimitIsRefusedMidStreamAndItsFileRemoved) {
  RouteHandle route = AddUpload(10);
  Start();
  const std::string out =
      Exchange(http_->port(),
               "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               "8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n");
  EXPECT_THAT(out, HasSubstr("413"));
  EXPECT_THAT(FilesIn(dir_ / "up"), IsEmpty());
}

TEST_F(HttpFilesTest, ChunkedBodyUnderTheLimitArrivesWhole) {
  RouteHandle route = AddUpload(100);
  Start();
  const std::string out = Exchange(
      http_->port(),
      "POST /up HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  EXPECT_EQ(Body(out), "5:abcde");
}

TEST_F(HttpFilesTest, OtherRoutesKeepTheMemoryLimit) {
  auto route = router_.Add("m", "POST", "/small", [](Request& r) {
    return Response{200, "text/plain", r.body, {}, {}, {}};
  });
  ASSERT_TRUE(route.ok());
  Start();
  const std::string out =
      Exchange(http_->port(), "POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n");
  EXPECT_THAT(out, HasSubstr("413"));
}

// A file of `size` bytes 0, 1, 2, ... (mod 251) served at GET /file with an ETag.
class FileResponseTest : public HttpFilesTest {
 protected:
  void ServeFile(size_t size) {
    content_.clear();
    for (size_t i = 0; i < size; ++i) content_.push_back(static_cast<char>(i % 251));
    std::ofstream(dir_ / "f", std::ios::binary) << content_;
    auto route = router_.Add("m", "GET", "/file", [this](Request&) {
      Response response;
      response.content_type = "application/octet-stream";
      response.headers.emplace_back("ETag", "\"v1\"");
      auto file = ResponseFile::Open((dir_ / "f").string());
      if (file.ok()) response.file = *std::move(file);
      return response;
    });
    ASSERT_TRUE(route.ok());
    route_ = std::make_unique<RouteHandle>(*std::move(route));
    Start();
  }
  std::string Get(const std::string& extra_headers) {
    return Exchange(http_->port(), "GET /file HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
                                       extra_headers + "\r\n");
  }
  std::string content_;
  std::unique_ptr<RouteHandle> route_;
};

TEST_F(FileResponseTest, WholeFileIsStreamedWithItsLength) {
  ServeFile(3 << 20);  // several sendfile chunks
  const std::string out = Get("");
  EXPECT_THAT(out, HasSubstr("200 OK"));
  EXPECT_THAT(out, HasSubstr("Content-Length: 3145728\r\n"));
  EXPECT_THAT(out, HasSubstr("Accept-Ranges: bytes"));
  EXPECT_TRUE(Body(out) == content_);
}

TEST_F(FileResponseTest, ClientResettingDuringADownloadLeavesTheServerUp) {
  // sendfile(2) takes no MSG_NOSIGNAL: a reset that lands inside a call which has already sent
  // part of its chunk is reported as a short count, and the next call fails with EPIPE and
  // raises SIGPIPE, whose default action would end this process. The client resets while the
  // data flows (reading at full speed), at varying points.
  ServeFile(32 << 20);
  for (int i = 0; i < 60; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(http_->port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    const std::string get = "GET /file HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_EQ(write(fd, get.data(), get.size()), static_cast<ssize_t>(get.size()));
    char buf[65536];
    const size_t stop_at = (size_t{1} << 20) * (1 + i % 7) + 4096 * i;
    for (size_t got = 0; got < stop_at;) {
      const ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    linger reset{1, 0};  // close with RST, mid-stream
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    close(fd);
  }
  const std::string out = Get("Range: bytes=0-9\r\n");
  EXPECT_THAT(out, HasSubstr("206 Partial Content"));
  EXPECT_EQ(Body(out), content_.substr(0, 10));
}

TEST_F(FileResponseTest, RangeGives206WithContentRange) {
  ServeFile(1000);
  const std::string out = Get("Range: bytes=10-19\r\n");
  EXPECT_THAT(out, HasSubstr("206 Partial Content"));
  EXPECT_THAT(out, HasSubstr("Content-Range: bytes 10-19/1000"));
  EXPECT_EQ(Body(out), content_.substr(10, 10));
}

TEST_F(FileResponseTest, UnsatisfiableRangeGives416) {
  ServeFile(1000);
  const std::string out = Get("Range: bytes=1000-\r\n");
  EXPECT_THAT(out, HasSubstr("416"));
  EXPECT_THAT(out, HasSubstr("Content-Range: bytes */1000"));
  EXPECT_THAT(Body(out), IsEmpty());
}

TEST_F(FileResponseTest, MatchingIfNoneMatchGives304) {
  ServeFile(1000);
  const std::string out = Get("If-None-Match: \"v1\"\r\n");
  EXPECT_THAT(out, HasSubstr("304 Not Modified"));
  EXPECT_THAT(Body(out), IsEmpty());
  EXPECT_THAT(Get("If-None-Match: \"v0\"\r\n"), HasSubstr("200 OK"));
}

Response FileResponse(uint64_t size) {
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  Response response;
  response.headers.emplace_back("ETag", "\"abc\"");
  response.file.emplace(fd, 0, size);
  return response;
}

Request WithHeader(std::string name, std::string value) {
  Request request;
  request.headers.emplace_back(std::move(name), std::move(value));
  return request;
}

TEST(ApplyFileConditions, SuffixAndOpenRanges) {
  Response suffix = FileResponse(100);
  ApplyFileConditions(WithHeader("Range", "bytes=-10"), suffix);
  EXPECT_EQ(suffix.status, 206);
  EXPECT_EQ(suffix.file->offset(), 90u);
  EXPECT_EQ(suffix.file->length(), 10u);

  Response open_end = FileResponse(100);
  ApplyFileConditions(WithHeader("Range", "bytes=95-"), open_end);
  EXPECT_EQ(open_end.file->offset(), 95u);
  EXPECT_EQ(open_end.file->length(), 5u);

  Response past_end = FileResponse(100);
  ApplyFileConditions(WithHeader("Range", "bytes=90-500"), past_end);
  EXPECT_EQ(past_end.file->length(), 10u);
}

TEST(ApplyFileConditions, SeveralOrMalformedRangesServeTheWholeFile) {
  for (const char* range : {"bytes=0-1,5-6", "items=0-1", "bytes=5-2", "bytes=x-"}) {
    Response response = FileResponse(100);
    ApplyFileConditions(WithHeader("Range", range), response);
    EXPECT_EQ(response.status, 200) << range;
    EXPECT_EQ(response.file->length(), 100u) << range;
  }
}

TEST(ApplyFileConditions, IfRangeOfAnotherVersionIgnoresRange) {
  Request request = WithHeader("Range", "bytes=0-1");
  request.headers.emplace_back("If-Range", "\"old\"");
  Response response = FileResponse(100);
  ApplyFileConditions(request, response);
  EXPECT_EQ(response.status, 200);
}

TEST(ApplyFileConditions, WeakAndListedEtagsMatch) {
  for (const char* inm : {"W/\"abc\"", "\"x\", \"abc\"", "*"}) {
    Response response = FileResponse(100);
    ApplyFileConditions(WithHeader("If-None-Match", inm), response);
    EXPECT_EQ(response.status, 304) << inm;
    EXPECT_FALSE(response.file.has_value());
  }
}

TEST(RouterBodyToFile, DeclarationOutlivesItsRouteOnlyDuringAReload) {
  Router router;
  RouteOptions options;
  options.body_to_file = RouteOptions::BodyToFile{"/tmp", 7};
  auto handle = router.Add(
      "m", "PUT", "/up/{id}", [](Request&) { return Response{}; }, options);
  ASSERT_TRUE(handle.ok());
  ASSERT_TRUE(router.BodyToFileFor("PUT", "/up/abc?x=1").has_value());
  EXPECT_EQ(router.BodyToFileFor("PUT", "/up/abc")->max_size, 7u);
  EXPECT_FALSE(router.BodyToFileFor("GET", "/up/abc").has_value());
  EXPECT_FALSE(router.BodyToFileFor("PUT", "/other").has_value());
  ASSERT_TRUE(router.CloseGates({"m"}, absl::Seconds(1)).ok());
  *handle = RouteHandle();  // the module unloads its route
  EXPECT_TRUE(router.BodyToFileFor("PUT", "/up/abc").has_value());
  router.OpenGates({"m"});
  EXPECT_FALSE(router.BodyToFileFor("PUT", "/up/abc").has_value());
}

TEST(ResponseFile, CopyDuplicatesTheDescriptor) {
  ResponseFile a(open("/dev/null", O_RDONLY | O_CLOEXEC), 0, 1);
  ResponseFile b = a;
  EXPECT_GE(b.fd(), 0);
  EXPECT_NE(a.fd(), b.fd());
  ResponseFile c = std::move(b);
  EXPECT_EQ(b.fd(), -1);
  EXPECT_GE(c.fd(), 0);
}

TEST(ResponseFile, OpenMissingIsNotFound) {
  EXPECT_EQ(ResponseFile::Open("/nonexistent/conclave").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace conclave::core
