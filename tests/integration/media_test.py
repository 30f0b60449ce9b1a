"""The media repository against the real binary: matrix-nio (Debian's python3-matrix-nio) uploads,
downloads and sets an avatar; raw HTTP checks every error and header (no token, unknown id,
oversized, Range, ETag, the asynchronous create + PUT upload); kill -9 during an upload leaves
no metadata without its file and no visible partial file after the restart. URL previews
against a local page server.
Usage: media_test.py BUILD_DIR
"""

import asyncio
import io
import os
import signal
import socket
import sys
import struct
import time
import unittest
import zlib

import nio

sys.path.insert(0, os.path.dirname(__file__))
from server import Server, run_clients, nio_config  # noqa: E402

BUILD = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else "build/dev")
BINARY = os.path.join(BUILD, "bin", "conclave")
PASSWORD = "correct horse battery staple"
MAX_UPLOAD = 4 << 20  # the server's max_upload_size here: over max_body_size (1 MiB)
V1 = "/_matrix/client/v1/media"

CONFIG = nio_config()


def register(server, username):
    status, data, _ = server.request("POST", "/_matrix/client/v3/register", {
        "username": username, "password": PASSWORD, "auth": {"type": "m.login.dummy"}})
    assert status == 200, (status, data)
    return data["access_token"]


def png(width, height, ihdr_only=False):
    """An RGB PNG of `width` x `height` (a gradient), or with `ihdr_only` one whose header says
    so but whose data is 64 bytes (a decompression bomb's shape)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                             0, 0, 0))
    if ihdr_only:  # with a token IDAT, so that readers accept the header
        return out + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    rows = b"".join(b"\x00" + b"".join(bytes((x % 256, y % 256, 128)) for x in range(width))
                    for y in range(height))
    return out + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def png_size(data):
    return struct.unpack(">II", data[16:24])


def media_files(server, sub):
    root = os.path.join(server.workdir, "data-media", sub)
    out = []
    for dirpath, _, names in os.walk(root):
        out += [os.path.join(dirpath, n) for n in names]
    return out


class MediaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(BINARY, env={"CONCLAVE_MAX_UPLOAD_SIZE": str(MAX_UPLOAD)})
        cls.server.start()
        cls.alice = register(cls.server, "alice")
        cls.bob = register(cls.server, "bob")

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def upload(self, data, content_type="application/octet-stream", filename=None, token=None):
        path = "/_matrix/media/v3/upload" + (f"?filename={filename}" if filename else "")
        status, body, _ = self.server.request("POST", path, data, token or self.alice,
                                              headers={"Content-Type": content_type})
        self.assertEqual(status, 200, body)
        self.assertTrue(body["content_uri"].startswith("mxc://localhost/"), body)
        return body["content_uri"][len("mxc://localhost/"):]

    def download(self, media_id, token=None, headers=None, suffix=""):
        return self.server.request("GET", f"{V1}/download/localhost/{media_id}{suffix}",
                                   token=token if token is not None else self.alice,
                                   headers=headers)

    def raw_download(self, media_id, headers=None):
        """(status, body bytes, headers): request() decodes JSON only."""
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        try:
            conn.request("GET", f"{V1}/download/localhost/{media_id}",
                         headers={"Authorization": f"Bearer {self.alice}", **(headers or {})})
            resp = conn.getresponse()
            return resp.status, resp.read(), dict(resp.getheaders())
        finally:
            conn.close()

    # --- a real client -------------------------------------------------------------------------

    def test_nio_upload_download_and_avatar(self):
        data = os.urandom(300_000)
        clients = []

        async def scenario():
            client = nio.AsyncClient(self.server.url, "carol", config=CONFIG)
            clients.append(client)
            self.assertIsInstance(await client.register("carol", PASSWORD), nio.RegisterResponse)
            uploaded, _ = await client.upload(lambda *_: io.BytesIO(data), "image/png",
                                              "avatar.png", filesize=len(data))
            self.assertIsInstance(uploaded, nio.UploadResponse, uploaded)
            mxc = uploaded.content_uri
            media_id = mxc.rsplit("/", 1)[1]
            downloaded = await client.download(mxc)
            self.assertIsInstance(downloaded, nio.DownloadResponse, downloaded)
            self.assertEqual(downloaded.body, data)
            self.assertEqual(downloaded.content_type, "image/png")
            # The avatar round trip: set, read back, fetched through the authenticated endpoint.
            self.assertIsInstance(await client.set_avatar(mxc), nio.ProfileSetAvatarResponse)
            avatar = await client.get_avatar()
            self.assertEqual(avatar.avatar_url, mxc)
            status, body, headers = self.raw_download(media_id)
            self.assertEqual((status, body), (200, data))
            self.assertEqual(headers["Content-Disposition"], 'inline; filename="avatar.png"')

        run_clients(self.server, clients, scenario)

    # --- raw HTTP: headers and conditional requests --------------------------------------------

    def test_download_headers_etag_and_range(self):
        data = bytes(range(256)) * 40
        media_id = self.upload(data, "text/html", "page.html")
        status, body, headers = self.raw_download(media_id)
        self.assertEqual((status, body), (200, data))
        self.assertEqual(headers["Content-Length"], str(len(data)))
        self.assertEqual(headers["Content-Type"], "text/html")
        self.assertEqual(headers["Content-Disposition"], 'attachment; filename="page.html"')
        self.assertEqual(headers["X-Content-Type-Options"], "nosniff")
        self.assertTrue(headers["Content-Security-Policy"].startswith("sandbox;"))
        self.assertIn("immutable", headers["Cache-Control"])
        etag = headers["ETag"]
        status, body, _ = self.raw_download(media_id, {"If-None-Match": etag})
        self.assertEqual((status, body), (304, b""))
        status, body, headers = self.raw_download(media_id, {"Range": "bytes=100-199"})
        self.assertEqual((status, body), (206, data[100:200]))
        self.assertEqual(headers["Content-Range"], f"bytes 100-199/{len(data)}")
        status, body, headers = self.raw_download(media_id, {"Range": f"bytes={len(data)}-"})
        self.assertEqual(status, 416)
        self.assertEqual(headers["Content-Range"], f"bytes */{len(data)}")
        # The file name in the path overrides the uploaded one.
        status, _, headers = self.download(media_id, suffix="/other.txt")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Disposition"], 'attachment; filename="other.txt"')

    def test_identical_uploads_are_stored_once(self):
        data = b"twice the same " * 1000
        a, b = self.upload(data), self.upload(data, token=self.bob)
        self.assertNotEqual(a, b)
        content = [f for f in media_files(self.server, "content")
                   if open(f, "rb").read() == data]
        self.assertEqual(len(content), 1)

    def test_large_upload_over_the_memory_body_limit(self):
        data = os.urandom(3 << 20)  # 3 MiB: over max_body_size, under max_upload_size
        media_id = self.upload(data)
        status, body, _ = self.raw_download(media_id)
        self.assertEqual((status, body), (200, data))

    def test_config(self):
        status, body, _ = self.server.request("GET", f"{V1}/config", token=self.alice)
        self.assertEqual((status, body), (200, {"m.upload.size": MAX_UPLOAD}))

    # --- raw HTTP: errors ----------------------------------------------------------------------

    def assert_error(self, response, status, errcode):
        got_status, body, _ = response
        self.assertEqual((got_status, (body or {}).get("errcode")), (status, errcode), body)

    def test_errors(self):
        media_id = self.upload(b"x")
        self.assert_error(self.download(media_id, token=""), 401, "M_MISSING_TOKEN")
        self.assert_error(self.download(media_id, token="nope"), 401, "M_UNKNOWN_TOKEN")
        self.assert_error(self.server.request("POST", "/_matrix/media/v3/upload", b"x"),
                          401, "M_MISSING_TOKEN")
        self.assert_error(self.download("NoSuchMediaIdAtAll"), 404, "M_NOT_FOUND")
        self.assert_error(self.server.request("GET", f"{V1}/download/elsewhere.org/{media_id}",
                                              token=self.alice), 404, "M_NOT_FOUND")
        # Refused from the header alone: the body is never sent.
        sock = socket.create_connection(("127.0.0.1", self.server.port))
        sock.sendall(b"POST /_matrix/media/v3/upload HTTP/1.1\r\nHost: x\r\n"
                     b"Authorization: Bearer " + self.alice.encode() +
                     b"\r\nContent-Length: %d\r\n\r\n" % (MAX_UPLOAD + 1))
        sock.settimeout(10)
        answer = sock.recv(65536)
        sock.close()
        self.assertTrue(answer.startswith(b"HTTP/1.1 413"), answer)
        self.assertIn(b'"errcode":"M_TOO_LARGE"', answer)
        self.assertEqual(media_files(self.server, "tmp"), [])

    def test_oversized_chunked_upload_is_refused_mid_stream(self):
        sock = socket.create_connection(("127.0.0.1", self.server.port))
        sock.sendall(b"POST /_matrix/media/v3/upload HTTP/1.1\r\nHost: x\r\n"
                     b"Authorization: Bearer " + self.alice.encode() +
                     b"\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"z" * (1 << 20)
        answer = b""
        try:
            for _ in range(MAX_UPLOAD // len(chunk) + 2):
                sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        sock.settimeout(10)
        try:
            while True:
                part = sock.recv(65536)
                if not part:
                    break
                answer += part
        except (ConnectionResetError, socket.timeout):
            pass
        sock.close()
        self.assertIn(b"413", answer.split(b"\r\n")[0])
        self.assertEqual(media_files(self.server, "tmp"), [])

    def test_create_then_upload(self):
        status, created, _ = self.server.request("POST", "/_matrix/media/v1/create", {},
                                                 self.alice)
        self.assertEqual(status, 200, created)
        self.assertGreater(created["unused_expires_at"], time.time() * 1000)
        media_id = created["content_uri"].rsplit("/", 1)[1]
        # Not uploaded yet: a download that will not wait says so.
        self.assert_error(self.server.request(
            "GET", f"{V1}/download/localhost/{media_id}?timeout_ms=0", token=self.alice),
            504, "M_NOT_YET_UPLOADED")
        put = f"/_matrix/media/v3/upload/localhost/{media_id}"
        self.assert_error(self.server.request("PUT", put, b"bob's", self.bob), 403, "M_FORBIDDEN")
        status, body, _ = self.server.request("PUT", put, b"later content", self.alice,
                                              headers={"Content-Type": "text/plain"})
        self.assertEqual((status, body), (200, {}))
        self.assert_error(self.server.request("PUT", put, b"again", self.alice),
                          409, "M_CANNOT_OVERWRITE_MEDIA")
        status, body, _ = self.raw_download(media_id)
        self.assertEqual((status, body), (200, b"later content"))

    def test_download_waits_for_an_upload_in_progress(self):
        _, created, _ = self.server.request("POST", "/_matrix/media/v1/create", {}, self.alice)
        media_id = created["content_uri"].rsplit("/", 1)[1]
        result = {}

        def wait():
            result["got"] = self.server.request(
                "GET", f"{V1}/download/localhost/{media_id}?timeout_ms=20000", token=self.alice)
        import threading
        waiter = threading.Thread(target=wait)
        waiter.start()
        time.sleep(0.3)  # the download is parked (or not yet sent: either way it must succeed)
        self.server.request("PUT", f"/_matrix/media/v3/upload/localhost/{media_id}", b"arrived",
                            self.alice)
        waiter.join(30)
        self.assertEqual(result["got"][0], 200)


class ReloadDuringDownloadTest(unittest.TestCase):
    """A download in flight completes across a hot reload of the media module (dev builds): the
    handler returned before the body is sent, and core streams the file."""

    @unittest.skipUnless(os.path.exists(os.path.join(BUILD, "lib", "libconclave_media.so")),
                         "hot reload is a dev-build feature")
    def test_download_survives_a_reload_of_media(self):
        server = Server(BINARY)
        try:
            server.start()
            token = register(server, "frank")  # the first user: an admin, in #admins
            data = os.urandom(24 << 20)
            status, body, _ = server.request("POST", "/_matrix/media/v3/upload", data, token)
            self.assertEqual(status, 200, body)
            media_id = body["content_uri"].rsplit("/", 1)[1]
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
            sock.connect(("127.0.0.1", server.port))
            sock.sendall(f"GET {V1}/download/localhost/{media_id} HTTP/1.1\r\nHost: x\r\n"
                         f"Authorization: Bearer {token}\r\nConnection: close\r\n\r\n".encode())
            received = sock.recv(65536)
            self.assertTrue(received.startswith(b"HTTP/1.1 200"), received[:100])
            _, room, _ = server.request("GET", "/_matrix/client/v3/directory/room/%23admins%3Alocalhost")
            offset = server.log_size()
            status, _, _ = server.request(
                "PUT", f"/_matrix/client/v3/rooms/{room['room_id']}/send/m.room.message/r1",
                {"msgtype": "m.text", "body": "!admin modules reload media"}, token)
            self.assertEqual(status, 200)
            line = server.wait_for_log(r"\[host\] (reloaded|not )", 60, offset)
            self.assertIn("reloaded 1 module (media)", line)
            while True:  # only now is the rest read
                part = sock.recv(1 << 20)
                if not part:
                    break
                received += part
            sock.close()
            self.assertEqual(received.split(b"\r\n\r\n", 1)[1], data)
        finally:
            server.cleanup()


class ThumbnailTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(BINARY)
        cls.server.start()
        cls.token = register(cls.server, "erin")

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def upload(self, data, content_type):
        status, body, _ = self.server.request("POST", "/_matrix/media/v3/upload", data, self.token,
                                              headers={"Content-Type": content_type})
        self.assertEqual(status, 200, body)
        return body["content_uri"].rsplit("/", 1)[1]

    def thumbnail(self, media_id, query, token=True):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        try:
            headers = {"Authorization": f"Bearer {self.token}"} if token else {}
            conn.request("GET", f"{V1}/thumbnail/localhost/{media_id}?{query}", headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read(), dict(resp.getheaders())
        finally:
            conn.close()

    def test_scale_and_crop_snapped_to_the_configured_sizes(self):
        media_id = self.upload(png(400, 300), "image/png")
        status, body, headers = self.thumbnail(media_id, "width=100&height=100&method=scale")
        self.assertEqual(status, 200, body[:200])
        self.assertEqual(headers["Content-Type"], "image/png")
        self.assertEqual(png_size(body), (320, 240))  # snapped to 320x240-scale
        status, body, _ = self.thumbnail(media_id, "width=20&height=20&method=crop")
        self.assertEqual(status, 200)
        self.assertEqual(png_size(body), (32, 32))  # 32x32-crop
        again = self.thumbnail(media_id, "width=20&height=20&method=crop")
        self.assertEqual(again[1], body)  # the cached one
        cached = media_files(self.server, "thumbnails")
        self.assertEqual(len(cached), 2, cached)

    def test_errors(self):
        media_id = self.upload(png(64, 64), "image/png")
        self.assertEqual(self.thumbnail(media_id, "width=32&height=32", token=False)[0], 401)
        text_id = self.upload(b"not an image", "text/plain")
        status, body, _ = self.thumbnail(text_id, "width=32&height=32")
        self.assertEqual(status, 404, body)
        self.assertIn(b"M_NOT_FOUND", body)
        # A PNG header claiming 32768 x 32768 pixels (1 GiB pixels), a few bytes in all.
        bomb_id = self.upload(png(32768, 32768, ihdr_only=True), "image/png")
        status, body, _ = self.thumbnail(bomb_id, "width=32&height=32")
        self.assertEqual(status, 413, body)
        self.assertIn(b"M_TOO_LARGE", body)
        status, body, _ = self.thumbnail(media_id, "width=32")
        self.assertEqual(status, 400, body)
        self.assertIn(b"M_MISSING_PARAM", body)
        status, body, _ = self.thumbnail("NoSuchMedia", "width=32&height=32")
        self.assertEqual(status, 404, body)


class CrashTest(unittest.TestCase):
    """kill -9 while an upload is being received: after the restart the partial body is gone,
    and every media the server acknowledged is still served."""

    def test_kill_during_upload(self):
        server = Server(BINARY, env={"CONCLAVE_MAX_UPLOAD_SIZE": str(MAX_UPLOAD)})
        try:
            server.start()
            token = register(server, "dave")
            status, done, _ = server.request("POST", "/_matrix/media/v3/upload", b"kept" * 1000,
                                             token)
            self.assertEqual(status, 200)
            kept_id = done["content_uri"].rsplit("/", 1)[1]
            sock = socket.create_connection(("127.0.0.1", server.port))
            sock.sendall(b"POST /_matrix/media/v3/upload HTTP/1.1\r\nHost: x\r\n"
                         b"Authorization: Bearer " + token.encode() +
                         b"\r\nContent-Length: 2000000\r\n\r\n" + b"p" * 500_000)
            deadline = time.time() + 10
            while time.time() < deadline:
                partial = media_files(server, "tmp")
                if partial and os.path.getsize(partial[0]) > 0:
                    break
                time.sleep(0.02)
            self.assertEqual(len(media_files(server, "tmp")), 1, "the body was not streamed")
            server.proc.send_signal(signal.SIGKILL)
            server.proc.wait()
            sock.close()
            server.start()
            self.assertEqual(media_files(server, "tmp"), [])
            self.assertIn("removed 1 unfinished uploads", server.log())
            status, _, _ = server.request("GET", f"{V1}/download/localhost/{kept_id}", token=token)
            self.assertEqual(status, 200)
            # Every content file left is one the metadata names (none half-written).
            for path in media_files(server, "content"):
                self.assertEqual(len(os.path.basename(path)), 64)
        finally:
            server.cleanup()


class PreviewTest(unittest.TestCase):
    """GET /_matrix/client/v1/media/preview_url against a local page server (allowed by config:
    127.0.0.1 only); other loopback addresses stay denied; off by default."""

    PAGE = (b'<html><head><meta property="og:title" content="Local page">'
            b'<meta property="og:image" content="/cat.png"><title>t</title></head></html>')

    @classmethod
    def setUpClass(cls):
        import http.server
        import threading
        image = png(4, 3)
        cls.image = image
        page = cls.PAGE

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body, kind = (page, "text/html; charset=utf-8") if self.path == "/page.html" \
                    else (image, "image/png") if self.path == "/cat.png" else (b"no", "text/plain")
                self.send_response(200 if body != b"no" else 404)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        cls.pages = http.server.ThreadingHTTPServer(("0.0.0.0", 0), Handler)
        cls.pages_port = cls.pages.server_address[1]
        threading.Thread(target=cls.pages.serve_forever, daemon=True).start()
        cls.server = Server(BINARY, env={
            "CONCLAVE_MEDIA_URL_PREVIEW": "true",
            "CONCLAVE_MEDIA_URL_PREVIEW_ALLOWED_RANGES": '["127.0.0.1/32"]'})
        cls.server.start()
        cls.alice = register(cls.server, "alice")

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        cls.pages.shutdown()

    def preview(self, url, server=None, token=None):
        from urllib.parse import quote
        server = server or self.server
        return server.request("GET", f"{V1}/preview_url?url={quote(url, safe='')}&ts=1",
                              token=token or self.alice)

    def test_page_preview_with_its_image_in_the_media_store(self):
        status, body, _ = self.preview(f"http://127.0.0.1:{self.pages_port}/page.html")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["og:title"], "Local page")
        self.assertTrue(body["og:image"].startswith("mxc://localhost/"), body)
        self.assertEqual(body["matrix:image:size"], len(self.image))
        self.assertEqual(body["og:image:type"], "image/png")
        media_id = body["og:image"].rsplit("/", 1)[1]
        status, data, _ = self.server.request("GET", f"{V1}/download/localhost/{media_id}",
                                              token=self.alice)
        self.assertEqual(status, 200)
        # The cached answer is the same, image included.
        self.assertEqual(self.preview(f"http://127.0.0.1:{self.pages_port}/page.html")[1], body)

    def test_denied_addresses_and_errors(self):
        # 127.0.0.2 is loopback too, and only 127.0.0.1 is allowed.
        status, body, _ = self.preview(f"http://127.0.0.2:{self.pages_port}/page.html")
        self.assertEqual((status, body["errcode"]), (403, "M_FORBIDDEN"), body)
        status, body, _ = self.preview("file:///etc/passwd")
        self.assertEqual((status, body["errcode"]), (403, "M_FORBIDDEN"), body)
        status, body, _ = self.server.request("GET", f"{V1}/preview_url", token=self.alice)
        self.assertEqual((status, body["errcode"]), (400, "M_MISSING_PARAM"))
        status, body, _ = self.server.request("GET", f"{V1}/preview_url?url=x")
        self.assertEqual(status, 401)
        status, body, _ = self.preview(f"http://127.0.0.1:{self.pages_port}/missing")
        self.assertEqual(status, 503)

    def test_off_by_default(self):
        server = Server(BINARY)
        try:
            server.start()
            token = register(server, "bob")
            status, body, _ = self.preview(f"http://127.0.0.1:{self.pages_port}/page.html",
                                           server=server, token=token)
            self.assertEqual((status, body["errcode"]), (404, "M_UNRECOGNIZED"))
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
