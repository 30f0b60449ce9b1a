"""Keep-alive connections across exec restarts (docs/hot-reload.md, "Exec restart"):

- a client keeps one connection open across SIGUSR2 (three in a row) and each next request on
  the same socket succeeds; the new image counts it in the metrics;
- requests in flight at the restart (a long-poll /sync and one pipelined behind it) are answered
  once each, by the old image, and the connection carries on in the new one;
- a restart that is refused (--check-config fails) or whose exec fails keeps the connection in
  the running image;
- a hand-over record passed by hand, the way an exec restart passes it: the connection it
  describes is served, one whose peer does not match is closed with a log line, start goes on.

Usage: handover_test.py BUILD_DIR
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from server import Server, install_atomically  # noqa: E402

BUILD = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else "build/dev")
BINARY = os.path.join(BUILD, "bin", "conclave")
DEV = os.path.exists(os.path.join(BUILD, "lib", "libconclave_core.so"))


class Client:
    """One keep-alive HTTP/1.1 connection, requests written by hand."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.local_port = self.sock.getsockname()[1]
        self.pending = b""

    @staticmethod
    def get(path, token=None):
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        return f"GET {path} HTTP/1.1\r\nHost: x\r\n{auth}\r\n".encode()

    def send(self, raw):
        self.sock.sendall(raw)

    def response(self):
        """Returns (status, headers dict with lower-case names, body bytes); raises EOFError."""
        while b"\r\n\r\n" not in self.pending:
            self.read_more()
        head, _, self.pending = self.pending.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {k.strip().lower(): v.strip()
                   for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(self.pending) < length:
            self.read_more()
        body, self.pending = self.pending[:length], self.pending[length:]
        return int(lines[0].split()[1]), headers, body

    def request(self, path, token=None):
        self.send(self.get(path, token))
        return self.response()

    def read_more(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("the server closed the connection")
        self.pending += chunk

    def closed_by_server(self, timeout=10):
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


class HandOverTest(unittest.TestCase):
    def setUp(self):
        self.server = Server(BINARY, env={"CONCLAVE_METRICS_ENABLED": "true"})
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()
        self.server.cleanup()

    def client(self):
        c = Client(self.server.port)
        self.clients.append(c)
        return c

    def restart(self, expect=r"listening on .*\(inherited socket\)"):
        offset = self.server.log_size()
        self.server.send(signal.SIGUSR2)
        return self.server.wait_for_log(expect, after=offset), offset

    def assert_served(self, client, path="/_matrix/client/versions"):
        status, headers, body = client.request(path)
        self.assertEqual(status, 200, body)
        self.assertNotEqual(headers.get("connection"), "close")
        return body

    def test_idle_connection_survives_restarts(self):
        self.server.start()
        pid = self.server.proc.pid
        client = self.client()
        self.assert_served(client)
        for i in range(3):
            _, offset = self.restart()
            line = self.server.wait_for_log(r"serving \d+ client connections handed over",
                                            after=offset)
            self.assertIn("serving 1 client connections handed over at the restart (0 closed",
                          line)
            # The same socket: its next request is answered by the new image.
            self.assert_served(client)
            self.assertEqual(self.server.proc.pid, pid)
        body = self.assert_served(client, "/_conclave/metrics").decode()
        self.assertEqual(metric(body, "conclave_http_connections_handed_over_total"), 1)
        self.assertEqual(metric(body, 'conclave_http_connections_handover_closed_total'
                                      '{reason="busy"}'), 0)
        self.assertEqual(self.server.stop(), 0)

    def test_requests_in_flight_are_answered_once_then_handed_over(self):
        self.server.start()
        status, body, _ = self.server.request(
            "POST", "/_matrix/client/v3/register",
            {"username": "alice", "password": "pw-alice", "auth": {"type": "m.login.dummy"}})
        self.assertEqual(status, 200, body)
        token = body["access_token"]
        client = self.client()
        status, _, body = client.request("/_matrix/client/v3/sync", token)
        self.assertEqual(status, 200, body)
        since = json.loads(body)["next_batch"]
        # A long-poll, and a request pipelined behind it on the same connection.
        client.send(client.get(f"/_matrix/client/v3/sync?since={since}&timeout=20000", token) +
                    client.get("/_matrix/client/versions"))
        time.sleep(0.3)  # let the long-poll park (the test holds either way)
        started = time.monotonic()
        self.restart()
        status, headers, body = client.response()
        self.assertEqual(status, 200, body)
        self.assertIn(b"next_batch", body)
        self.assertLess(time.monotonic() - started, 15)  # answered early, not after 20 s
        status, headers, body = client.response()
        self.assertEqual(status, 200, body)
        self.assertIn(b'"versions"', body)
        self.assertNotEqual(headers.get("connection"), "close")
        # Each answered once: nothing more is waiting on the socket before the next request.
        self.assertEqual(client.pending, b"")
        self.assert_served(client)
        self.assertEqual(self.server.stop(), 0)

    def install_script(self, binary, text):
        path = os.path.join(self.server.workdir, "script")
        with open(path, "w") as f:
            f.write(text)
        install_atomically(path, binary)

    def test_refused_or_failed_restart_keeps_the_connection(self):
        bindir = os.path.join(self.server.workdir, "bin")
        os.makedirs(bindir)
        binary = os.path.join(bindir, "conclave")
        install_atomically(BINARY, binary)
        self.server.binary = binary
        if DEV:  # the modules of the build, not bin/../lib of the copy
            self.server.env["CONCLAVE_MODULE_DIR"] = os.path.join(BUILD, "lib")
        self.server.start()
        client = self.client()
        self.assert_served(client)

        # Refused: the new binary's --check-config fails; nothing was stopped.
        self.install_script(binary, "#!/bin/sh\necho 'simulated broken build' >&2\nexit 1\n")
        self.restart(r"restart refused")
        self.assert_served(client)

        # The check passes, then the exec itself fails (the script makes itself
        # non-executable): the connection was detached and is taken back.
        self.install_script(binary, '#!/bin/sh\nfor a; do [ "$a" = --check-config ] && '
                                    '{ chmod a-x "$0"; exit 0; }; done\nexit 1\n')
        line, offset = self.restart(r"restart failed, resuming")
        self.assertIn("Permission denied", line)
        line = self.server.wait_for_log(r"serving \d+ client connections handed over",
                                        after=offset)
        self.assertIn("serving 1 client connections", line)
        self.assert_served(client)

        # The real binary again: the restart goes through and keeps the connection.
        install_atomically(BINARY, binary)
        self.restart()
        self.assert_served(client)
        self.assertEqual(self.server.stop(), 0)

    def test_record_passed_by_hand(self):
        """Starts conclave as an exec restart would: listener at 3, record memfd at 4, then two
        accepted connections; the record names the right peer for one, a wrong one for the
        other."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        good, bad = (socket.create_connection(("127.0.0.1", port)) for _ in range(2))
        accepted = []
        for _ in range(2):
            accepted.append(listener.accept()[0])
        # accept() order need not be connect order: match by the client's port.
        by_peer = {c.getpeername()[1]: c for c in accepted}
        good_conn, bad_conn = by_peer[good.getsockname()[1]], by_peer[bad.getsockname()[1]]
        record = ("conclave-handover 1\nclosed-busy 2\n"
                  f"conn 5 http 127.0.0.1:{good.getsockname()[1]} none\n"
                  "conn 6 http 127.0.0.1:1 none\nend\n").encode()
        memfd = os.memfd_create("record", 0)
        os.write(memfd, record)
        # Out of the way of 3..6 first, then into place in the shell.
        high = [os.dup2(fd, 100 + i, inheritable=True) for i, fd in
                enumerate([listener.fileno(), memfd, good_conn.fileno(), bad_conn.fileno()])]
        moves = " ".join(f"{3 + i}<&{fd} {fd}<&-" for i, fd in enumerate(high))
        env = dict(self.server.env, LISTEN_FDS="1", LISTEN_FDNAMES="http",
                   CONCLAVE_HANDOVER_FDS="3")
        log = open(self.server.log_path, "ab")
        self.server.log_file = log
        self.server.proc = subprocess.Popen(
            ["/bin/bash", "-c", f'exec {moves}; export LISTEN_PID=$$; exec "$0"', BINARY],
            cwd=self.server.workdir, env=env, pass_fds=high, stdout=subprocess.DEVNULL,
            stderr=log)
        for fd in high + [memfd]:
            os.close(fd)
        for s in (listener, good_conn, bad_conn):
            s.close()
        self.server.port = port
        try:
            self.server.wait_for_log(r"listening on .*\(inherited socket\)")
            line = self.server.wait_for_log(r"handed connection dropped")
            self.assertIn("connected to '127.0.0.1:", line)
            self.assertIn("the record says '127.0.0.1:1'", line)
            line = self.server.wait_for_log(r"serving \d+ client connections handed over")
            self.assertIn("serving 1 client connections handed over at the restart (3 closed: "
                          "2 busy, 1 invalid", line)
            bad_client = Client.__new__(Client)
            bad_client.sock, bad_client.pending = bad, b""
            self.assertTrue(bad_client.closed_by_server())
            good_client = Client.__new__(Client)
            good_client.sock, good_client.pending = good, b""
            self.assert_served(good_client)
            self.assertEqual(self.server.get("/_matrix/client/versions")[0], 200)
            self.assertEqual(self.server.stop(), 0)
        finally:
            good.close()
            bad.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
