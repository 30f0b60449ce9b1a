"""Upgrades in place and config re-reads on the release binary (docs/deployment.md, "Upgrade").

- SIGHUP applies the runtime-changeable keys (registration, rate limits, log level), names the
  changed keys that need a restart without applying them, and an invalid file changes nothing.
- SIGUSR2 re-execs the binary on disk after checking it with --check-config: a binary that
  cannot start, or an invalid config, is refused and the old image keeps serving (same pid, no
  request lost); a good binary takes over with the same pid and the data.
- A new image that passes the check but then exits ends the process with its status; the data
  is untouched and the previous binary starts on it again.

Usage: upgrade_test.py BUILD_DIR
"""

import http.client
import os
import shutil
import signal
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from server import Server, install_atomically  # noqa: E402

BUILD = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else "build/release")
BINARY = os.path.join(BUILD, "bin", "conclave")

CONFIG = """
log_level = "info"
allow_registration = true
rc_login_burst = 10
"""


class Poller:
    """Requests /versions on a new connection every 20 ms; counts refusals and other failures.
    A refused connection would mean the listening socket was closed at some point."""

    def __init__(self, port):
        self.port, self.ok, self.refused, self.failed = port, 0, 0, []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping.is_set():
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                conn.request("GET", "/_matrix/client/versions")
                if conn.getresponse().status == 200:
                    self.ok += 1
                else:
                    self.failed.append("status")
            except ConnectionRefusedError:
                self.refused += 1
            except (OSError, http.client.HTTPException) as e:
                self.failed.append(repr(e))
            finally:
                conn.close()
            time.sleep(0.02)

    def stop(self):
        self.stopping.set()
        self.thread.join()


class UpgradeTest(unittest.TestCase):
    def setUp(self):
        self.server = Server(os.devnull)  # binary set below, inside the work dir
        bindir = os.path.join(self.server.workdir, "bin")
        os.makedirs(bindir)
        self.binary = os.path.join(bindir, "conclave")
        install_atomically(BINARY, self.binary)
        self.server.binary = self.binary
        self.config = os.path.join(self.server.workdir, "conclave.toml")
        self.write_config(CONFIG)
        self.server.args = ["-c", self.config]

    def tearDown(self):
        self.server.cleanup()

    def write_config(self, text):
        with open(self.config + ".tmp", "w") as f:
            f.write(text)
        os.replace(self.config + ".tmp", self.config)

    def install_script(self, text):
        path = os.path.join(self.server.workdir, "script")
        with open(path, "w") as f:
            f.write(text)
        install_atomically(path, self.binary)

    def signal_and_wait(self, sig, pattern):
        offset = self.server.log_size()
        self.server.send(sig)
        return self.server.wait_for_log(pattern, after=offset)

    def register(self, name):
        status, body, _ = self.server.request(
            "POST", "/_matrix/client/v3/register",
            {"username": name, "password": "pw-" + name, "auth": {"type": "m.login.dummy"}})
        return status, body

    def test_sighup_applies_runtime_keys_and_names_the_rest(self):
        self.server.start()
        status, body = self.register("alice")
        self.assertEqual(status, 200, body)

        self.write_config(CONFIG.replace("allow_registration = true", "allow_registration = false")
                          .replace('"info"', '"debug"') + 'server_name = "elsewhere.org"\n')
        line = self.signal_and_wait(signal.SIGHUP, r"config reloaded from")
        self.assertIn('applied log_level ("info" -> "debug"), allow_registration (true -> false)',
                      line)
        self.assertIn('needs a restart, not applied: server_name ("localhost" -> '
                      '"elsewhere.org")', line)
        status, body = self.register("bob")
        self.assertEqual((status, body["errcode"]), (403, "M_FORBIDDEN"), body)
        # The running server name was not half-applied: new ids still use it.
        status, body, _ = self.server.request(
            "POST", "/_matrix/client/v3/login",
            {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"},
             "password": "pw-alice"})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["user_id"], "@alice:localhost")

        # An invalid file changes nothing.
        self.write_config(CONFIG + "rc_login_burst = \"many\"\n")
        line = self.signal_and_wait(signal.SIGHUP, r"config not reloaded")
        self.assertIn("rc_login_burst", line)
        status, body = self.register("carol")
        self.assertEqual(status, 403, body)  # still the applied allow_registration = false

        # Back to the original file: registration opens again, the rest unchanged.
        self.write_config(CONFIG)
        line = self.signal_and_wait(signal.SIGHUP, r"config reloaded from")
        self.assertIn("allow_registration (false -> true)", line)
        self.assertEqual(self.register("carol")[0], 200)
        self.assertEqual(self.server.stop(), 0)

    def test_restart_refused_when_new_binary_or_config_cannot_start(self):
        self.server.start()
        pid = self.server.proc.pid
        status, body = self.register("alice")
        self.assertEqual(status, 200, body)
        poller = Poller(self.server.port)
        try:
            # A binary that cannot start.
            self.install_script("#!/bin/sh\necho 'simulated broken build' >&2\nexit 1\n")
            line = self.signal_and_wait(signal.SIGUSR2, r"restart refused")
            self.assertIn("exited with status 1: simulated broken build", line)
            # A binary that crashes.
            self.install_script("#!/bin/sh\nkill -SEGV $$\n")
            line = self.signal_and_wait(signal.SIGUSR2, r"restart refused")
            self.assertIn("was killed by signal 11", line)
            # The right binary, but the config file is now invalid.
            install_atomically(BINARY, self.binary)
            self.write_config(CONFIG + "port = 99999\n")
            line = self.signal_and_wait(signal.SIGUSR2, r"restart refused")
            self.assertIn("exited with status 2", line)
            self.assertIn("port", line)
            self.assertEqual(self.server.get("/_matrix/client/versions")[0], 200)

            # Fixed: the restart goes through, same pid, same data.
            self.write_config(CONFIG)
            offset = self.server.log_size()
            self.server.send(signal.SIGUSR2)
            self.server.wait_for_log(r"restarting in place", after=offset)
            self.server.wait_for_log(r"listening on .*\(inherited socket\)", after=offset)
            time.sleep(0.3)
        finally:
            poller.stop()
        self.assertIsNone(self.server.proc.poll())
        self.assertEqual(self.server.proc.pid, pid)
        self.assertEqual(poller.refused, 0)
        self.assertEqual(poller.failed, [])
        self.assertGreater(poller.ok, 10)
        status, body, _ = self.server.request(
            "POST", "/_matrix/client/v3/login",
            {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"},
             "password": "pw-alice"})
        self.assertEqual(status, 200, body)
        self.assertEqual(self.server.stop(), 0)

    def test_new_image_that_exits_after_the_check_leaves_data_untouched(self):
        self.server.start()
        status, body = self.register("alice")
        self.assertEqual(status, 200, body)
        token = body["access_token"]
        status, body, _ = self.server.request(
            "POST", "/_matrix/client/v3/createRoom", {"name": "kept"}, token=token)
        self.assertEqual(status, 200, body)
        room_id = body["room_id"]
        status, body, _ = self.server.request(
            "PUT", f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/t1",
            {"msgtype": "m.text", "body": "before the upgrade"}, token=token)
        self.assertEqual(status, 200, body)
        event_id = body["event_id"]

        # Passes --check-config, then fails in the new image (think: a database it refuses).
        self.install_script('#!/bin/sh\nfor a; do [ "$a" = --check-config ] && exit 0; done\n'
                            'echo "new image: cannot start" >&2\nexit 3\n')
        offset = self.server.log_size()
        self.server.send(signal.SIGUSR2)
        self.server.wait_for_log(r"restarting in place", after=offset)
        self.assertEqual(self.server.proc.wait(30), 3)
        self.assertIn("closed database", self.server.log()[offset:])  # closed cleanly first

        # The previous binary starts on the same data: everything acknowledged is there.
        install_atomically(BINARY, self.binary)
        self.server.start()
        status, body, _ = self.server.request(
            "GET", f"/_matrix/client/v3/rooms/{room_id}/event/{event_id}", token=token)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["content"]["body"], "before the upgrade")
        self.assertEqual(self.server.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
