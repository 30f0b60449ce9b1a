// Files in the HTTP engine: request bodies streamed to a temporary file as they arrive
// (RouteOptions::body_to_file), and response bodies sent from a file with sendfile(2)
// (Response::file).
#include <fcntl.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "http_server_impl.h"

namespace conclave::core {

namespace {

// Bytes one sendfile(2) call sends at most, and how much a download sends before it lets the
// other connections of its I/O thread run.
constexpr size_t kSendfileChunk = size_t{1} << 20;
constexpr uint64_t kSendfileYield = uint64_t{8} << 20;
// Bytes read from a file per TLS write (a few TLS records of 16 KiB).
constexpr size_t kTlsFileChunk = size_t{64} << 10;
// Bytes of an uploaded body gathered before they are written to its file. The parser hands
// over what one read of the socket gave (at most 64 KiB, often a few KiB, at any offset);
// written as they come, they left the file in the page cache as folios of that size, and
// sendfile(2) of such a file later cost a third of a download's CPU in the page-cache lookup
// (filemap_get_read_batch, bench/media). Aligned 1 MiB writes give large folios. One buffer of
// this size per upload in progress, freed when its body is complete.
constexpr size_t kUploadWriteChunk = size_t{1} << 20;

// Writes all of `data` at the file's offset; errno on failure.
bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// A request body written to a file descriptor it does not own, in kUploadWriteChunk writes (a
// Beast Body for parsing only). Confined to its connection's strand.
struct UploadFileBody {
  struct value_type {
    int fd = -1;
    uint64_t size = 0;  // bytes of the body, written or pending
    std::vector<char> pending;
  };

  class reader {
   public:
    template <bool kIsRequest, class Fields>
    reader(bhttp::header<kIsRequest, Fields>&, value_type& body) : body_(body) {}

    void init(const boost::optional<uint64_t>& content_length, beast::error_code& ec) {
      body_.pending.reserve(
          std::min<uint64_t>(content_length.value_or(kUploadWriteChunk), kUploadWriteChunk));
      ec = {};
    }

    template <class ConstBufferSequence>
    size_t put(const ConstBufferSequence& buffers, beast::error_code& ec) {
      size_t taken = 0;
      for (auto it = net::buffer_sequence_begin(buffers); it != net::buffer_sequence_end(buffers);
           ++it) {
        const char* data = static_cast<const char*>(net::const_buffer(*it).data());
        size_t size = net::const_buffer(*it).size();
        while (size > 0) {
          const size_t n = std::min(size, kUploadWriteChunk - body_.pending.size());
          body_.pending.insert(body_.pending.end(), data, data + n);
          data += n;
          size -= n;
          taken += n;
          if (body_.pending.size() == kUploadWriteChunk && !Flush(ec)) return taken;
        }
      }
      body_.size += taken;
      ec = {};
      return taken;
    }

    void finish(beast::error_code& ec) {
      if (Flush(ec)) ec = {};
      std::vector<char>().swap(body_.pending);
    }

   private:
    bool Flush(beast::error_code& ec) {
      if (!WriteAll(body_.fd, body_.pending.data(), body_.pending.size())) {
        ec = beast::error_code(errno, boost::system::system_category());
        return false;
      }
      body_.pending.clear();
      return true;
    }

    value_type& body_;
  };
};

// Unlinks `path` at scope exit unless Keep() was called.
class RemoveUnlessKept {
 public:
  explicit RemoveUnlessKept(const std::string& path) : path_(path) {}
  RemoveUnlessKept(const RemoveUnlessKept&) = delete;
  RemoveUnlessKept& operator=(const RemoveUnlessKept&) = delete;
  ~RemoveUnlessKept() {
    if (!kept_) unlink(path_.c_str());
  }
  void Keep() { kept_ = true; }

 private:
  const std::string& path_;
  bool kept_ = false;
};

}  // namespace

net::awaitable<ReadResult> HttpServer::Impl::ReadBodyToFile(
    Connection& conn, beast::flat_buffer& buffer, bhttp::request_parser<bhttp::string_body>& parser,
    const RouteOptions::BodyToFile& to_file, const std::string& remote, Clock::time_point started,
    Request& request) {
  const std::string method(Std(parser.get().method_string()));
  std::string path = to_file.directory + "/.upload-XXXXXX";
  const int fd = mkostemp(path.data(), O_CLOEXEC);
  if (fd < 0) {
    CONCLAVE_LOG(kError, "http", "cannot create an upload file in {}: {}", to_file.directory,
                 std::strerror(errno));
    co_return co_await Refuse(conn, 500, "M_UNKNOWN", "Cannot store the request body", method,
                              started, remote);
  }
  RemoveUnlessKept remove(path);
  struct CloseAtExit {
    int fd;
    ~CloseAtExit() { close(fd); }
  } close_at_exit{fd};
  Request header = ToRequest(parser.get().base(), remote);
  // The header parser becomes a file parser: Beast allows the change before the body's first
  // byte is parsed. It keeps the limit ReadRequest set (the route's max_size).
  bhttp::request_parser<UploadFileBody> file_parser(std::move(parser));
  file_parser.get().body().fd = fd;
  beast::error_code ec;
  // Timed out only when no byte arrives for request_timeout: a large upload on a slow link
  // takes longer than that in all.
  while (!ec && !file_parser.is_done()) {
    conn.ExpiresAfter(config.request_timeout);
    std::tie(ec, std::ignore) = co_await conn.OnStream(
        [&](auto& stream) { return bhttp::async_read_some(stream, buffer, file_parser, kTuple); });
  }
  if (ec == bhttp::error::body_limit) {
    co_return co_await Refuse(conn, 413, "M_TOO_LARGE", "Request body too large", method, started,
                              remote);
  }
  if (ec) {
    if (ec != beast::error::timeout && ec != net::error::operation_aborted &&
        ec != bhttp::error::end_of_stream && ec != net::error::eof &&
        ec != net::error::connection_reset && ec != bhttp::error::partial_message) {
      co_return co_await Refuse(conn, ec.category() == boost::system::system_category() ? 500 : 400,
                                "M_UNKNOWN", StrCat("Cannot read the request body: ", ec.message()),
                                method, started, remote);
    }
    FinishRequest(stats.Unmatched(method), method, 0, started, remote,
                  "connection closed or timed out before the request body arrived");
    co_return ReadResult::kClose;
  }
  request = std::move(header);
  request.body_file = path;
  request.body_file_size = file_parser.get().body().size;
  // The descriptor closes at return; the file stays for the handler.
  remove.Keep();
  co_return ReadResult::kRequest;
}

net::awaitable<boost::system::error_code> HttpServer::Impl::WriteFileTls(Connection& conn,
                                                                         const std::string& head,
                                                                         const ResponseFile& file) {
  // No sendfile(2) through TLS: the file is read in chunks and written through the stream.
  boost::system::error_code ec;
  conn.ExpiresAfter(config.request_timeout);
  std::tie(ec, std::ignore) = co_await net::async_write(*conn.tls, net::buffer(head), kTuple);
  if (ec) co_return ec;
  std::vector<char> chunk(kTlsFileChunk);
  off_t offset = static_cast<off_t>(file.offset());
  uint64_t left = file.length();
  while (left > 0) {
    const ssize_t n =
        pread(file.fd(), chunk.data(), std::min<uint64_t>(left, chunk.size()), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) co_return boost::system::error_code(errno, boost::system::system_category());
    if (n == 0) co_return make_error_code(net::error::eof);  // shorter than Content-Length
    offset += n;
    left -= static_cast<uint64_t>(n);
    // Timed out only when the client takes no chunk for request_timeout.
    conn.ExpiresAfter(config.request_timeout);
    std::tie(ec, std::ignore) = co_await net::async_write(
        *conn.tls, net::buffer(chunk.data(), static_cast<size_t>(n)), kTuple);
    if (ec) co_return ec;
  }
  co_return boost::system::error_code();
}

net::awaitable<boost::system::error_code> HttpServer::Impl::WriteFile(
    Connection& conn, bhttp::response<bhttp::string_body>& res, const ResponseFile& file,
    bool keep_alive) {
  const std::string head = SerializeHead(res, file.length(), keep_alive);
  boost::system::error_code ec;
  if (conn.tls != nullptr) co_return co_await WriteFileTls(conn, head, file);
  tcp::socket& socket = conn.stream.socket();
  if (!socket.non_blocking()) socket.non_blocking(true, ec);
  if (ec) co_return ec;
  conn.ExpiresAfter(config.request_timeout);
  std::tie(ec, std::ignore) = co_await net::async_write(socket, net::buffer(head), kTuple);
  if (ec) co_return ec;
  off_t offset = static_cast<off_t>(file.offset());
  uint64_t left = file.length();
  uint64_t since_yield = 0;
  while (left > 0) {
    const ssize_t sent = sendfile(socket.native_handle(), file.fd(), &offset,
                                  std::min<uint64_t>(left, kSendfileChunk));
    if (sent > 0) {
      left -= static_cast<uint64_t>(sent);
      since_yield += static_cast<uint64_t>(sent);
      // Timed out only when the client takes no byte for request_timeout.
      conn.ExpiresAfter(config.request_timeout);
      if (since_yield >= kSendfileYield) {
        since_yield = 0;
        co_await net::post(co_await net::this_coro::executor, net::use_awaitable);
      }
      continue;
    }
    // The file is shorter than the Content-Length sent: nothing can complete this response.
    if (sent == 0) co_return make_error_code(net::error::eof);
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      co_return boost::system::error_code(errno, boost::system::system_category());
    }
    std::tie(ec) = co_await socket.async_wait(tcp::socket::wait_write, kTuple);
    if (ec) co_return ec;
  }
  co_return boost::system::error_code();
}

}  // namespace conclave::core
