"""The HTTP engine's limits on a real socket: oversized headers get 431 and oversized bodies 413,
both as Matrix error JSON; malformed HTTP gets 400 and the connection closed; CORS preflight is
answered; and the server keeps serving afterwards. Usage: http_limits_test.py BUILD_DIR
"""

import json
import os
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from server import Server  # noqa: E402

BUILD = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else "build/dev")


class HttpLimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(os.path.join(BUILD, "bin", "conclave"),
                            env={"CONCLAVE_MAX_HEADER_SIZE": "4096",
                                 "CONCLAVE_MAX_BODY_SIZE": "8192"})
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        cls.server.cleanup()
        assert code == 0, code

    def exchange(self, raw):
        """Sends raw bytes, returns (status, headers, body, closed_after)."""
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as s:
            s.sendall(raw)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
                head, sep, rest = data.partition(b"\r\n\r\n")
                if sep:
                    length = 0
                    for line in head.split(b"\r\n")[1:]:
                        k, _, v = line.partition(b":")
                        if k.strip().lower() == b"content-length":
                            length = int(v)
                    if len(rest) >= length:
                        break
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            status = int(lines[0].split()[1])
            headers = {k.lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
            s.settimeout(2)
            try:
                closed = s.recv(1) == b""
            except socket.timeout:
                closed = False
            return status, headers, body, closed

    def assert_still_serving(self):
        status, body = self.server.get("/_matrix/client/versions")
        self.assertEqual(status, 200)

    def test_oversized_header_is_431(self):
        raw = (b"GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8000 +
               b"\r\n\r\n")
        status, headers, body, closed = self.exchange(raw)
        self.assertEqual(status, 431)
        self.assertEqual(json.loads(body)["errcode"], "M_TOO_LARGE")
        self.assertTrue(closed)
        self.assert_still_serving()

    def test_oversized_body_is_413(self):
        raw = (b"POST /_matrix/client/versions HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n"
               b"\r\n" + b"{" * 20000)
        status, headers, body, closed = self.exchange(raw)
        self.assertEqual(status, 413)
        self.assertEqual(json.loads(body)["errcode"], "M_TOO_LARGE")
        self.assert_still_serving()

    def test_malformed_request_is_400_and_closed(self):
        status, headers, body, closed = self.exchange(b"GARBAGE\x01\x02 / NOTHTTP\r\n\r\n")
        self.assertEqual(status, 400)
        self.assertIn("errcode", json.loads(body))
        self.assertTrue(closed)
        self.assert_still_serving()

    def test_unknown_route_is_404_and_cors_on_every_response(self):
        status, headers, body, closed = self.exchange(
            b"GET /_matrix/client/v3/nope HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(status, 404)
        self.assertEqual(json.loads(body)["errcode"], "M_UNRECOGNIZED")
        self.assertEqual(headers["access-control-allow-origin"], "*")
        self.assertFalse(closed)  # keep-alive survives an error response

    def test_cors_preflight(self):
        status, headers, body, closed = self.exchange(
            b"OPTIONS /_matrix/client/v3/login HTTP/1.1\r\nHost: x\r\n"
            b"Origin: https://app.example\r\nAccess-Control-Request-Method: POST\r\n\r\n")
        self.assertEqual(status, 200)
        self.assertIn("POST", headers["access-control-allow-methods"])
        self.assertIn("Authorization", headers["access-control-allow-headers"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
