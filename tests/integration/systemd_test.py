"""The systemd protocols, spoken by this test in systemd's place (no service manager needed):

- socket activation: the test binds the listening socket, conclave adopts it from LISTEN_FDS /
  LISTEN_PID / LISTEN_FDNAMES; a client that connected before conclave started is served;
- Type=notify: READY=1 (with MAINPID) once it serves, RELOADING=1 then READY=1 around a SIGHUP
  re-read and an in-place restart (same MAINPID), STOPPING=1 at shutdown;
- the unit files in dist/ pass `systemd-analyze verify` when systemd-analyze is installed.

Usage: systemd_test.py BUILD_DIR
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from server import Server  # noqa: E402

BUILD = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else "build/dev")
BINARY = os.path.join(BUILD, "bin", "conclave")
DIST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "dist")


class Notifications:
    """The NOTIFY_SOCKET end: a datagram socket in the test's work dir."""

    def __init__(self, workdir):
        self.path = os.path.join(workdir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)

    def next(self, timeout=30):
        self.sock.settimeout(timeout)
        data = self.sock.recv(4096).decode()
        return dict(line.split("=", 1) for line in data.split("\n") if line)

    def expect(self, key, timeout=30):
        """Returns the next message that sets `key`, skipping none silently: an unexpected
        message in between fails the test."""
        message = self.next(timeout)
        if key not in message:
            raise AssertionError(f"expected {key}=..., got {message}")
        return message


class SystemdTest(unittest.TestCase):
    def setUp(self):
        self.server = Server(BINARY)
        self.notify = Notifications(self.server.workdir)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.port = self.listener.getsockname()[1]

    def tearDown(self):
        self.server.cleanup()
        self.listener.close()
        self.notify.sock.close()

    def start_activated(self):
        """Starts conclave the way systemd does: the socket as descriptor 3, LISTEN_PID = the
        pid that execs conclave (a shell that sets it to its own pid, then execs)."""
        fd = self.listener.fileno()
        env = dict(self.server.env)
        env.update({"NOTIFY_SOCKET": self.notify.path, "LISTEN_FDS": "1",
                    "LISTEN_FDNAMES": "http", "CONCLAVE_PORT": "1"})  # port ignored: inherited
        self.server.log_file = open(self.server.log_path, "ab")
        self.server.proc = subprocess.Popen(
            ["/bin/sh", "-c", f'exec 3<&{fd} {fd}<&-; export LISTEN_PID=$$; exec "$0"', BINARY],
            cwd=self.server.workdir, env=env, pass_fds=[fd], stdout=subprocess.DEVNULL,
            stderr=self.server.log_file)
        self.server.port = self.port

    def test_socket_activation_and_notifications(self):
        # A client connects and sends its request before conclave exists: the kernel queues it.
        early = socket.create_connection(("127.0.0.1", self.port))
        early.sendall(b"GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\n"
                      b"Connection: close\r\n\r\n")
        self.start_activated()
        pid = self.server.proc.pid

        ready = self.notify.expect("READY")
        self.assertEqual(ready["READY"], "1")
        self.assertEqual(ready["MAINPID"], str(pid))
        self.assertIn(str(self.port), ready["STATUS"])
        early.settimeout(10)
        reply = b""
        while chunk := early.recv(65536):
            reply += chunk
        early.close()
        self.assertTrue(reply.startswith(b"HTTP/1.1 200"), reply[:100])
        self.server.wait_for_log(r"listening on .*\(inherited socket\)")
        self.assertEqual(self.server.get("/_matrix/client/versions")[0], 200)

        # SIGHUP: RELOADING=1 (with the monotonic stamp systemd 253 asks for), then READY=1.
        self.server.send(signal.SIGHUP)
        reloading = self.notify.expect("RELOADING")
        self.assertGreater(int(reloading["MONOTONIC_USEC"]), 0)
        self.assertEqual(self.notify.expect("READY")["MAINPID"], str(pid))

        # In-place restart: the same process reports ready again, with the same pid.
        self.server.send(signal.SIGUSR2)
        self.assertEqual(self.notify.expect("RELOADING")["STATUS"], "restarting in place")
        self.assertEqual(self.notify.expect("READY")["MAINPID"], str(pid))
        self.assertIsNone(self.server.proc.poll())
        self.assertEqual(self.server.get("/_matrix/client/versions")[0], 200)

        self.server.send(signal.SIGTERM)
        self.assertEqual(self.notify.expect("STOPPING")["STOPPING"], "1")
        self.assertEqual(self.server.proc.wait(30), 0)

    @unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze is not installed")
    def test_unit_files_verify(self):
        # verify wants ExecStart to exist: point it at this build's binary in a copy of the unit.
        units = tempfile.mkdtemp(prefix="conclave-units-")
        try:
            for name in ("conclave.service", "conclave.socket"):
                with open(os.path.join(DIST, name)) as f:
                    text = f.read()
                text = text.replace("/usr/local/bin/conclave", BINARY)
                with open(os.path.join(units, name), "w") as f:
                    f.write(text)
            result = subprocess.run(
                ["systemd-analyze", "verify", "--man=no",
                 os.path.join(units, "conclave.socket"), os.path.join(units, "conclave.service")],
                capture_output=True, text=True, timeout=60)
            # Only complaints about our files count (the host's own units may be incomplete).
            ours = [line for line in (result.stdout + result.stderr).splitlines()
                    if "conclave." in line]
            self.assertEqual(ours, [], result.stdout + result.stderr)
        finally:
            shutil.rmtree(units, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
