"""Hot reload under load, end to end, on the dev build.

Starts build/dev/bin/conclave with its modules copied to a private module dir, keeps a client
sending requests the whole time, swaps in a rebuilt api module (a second build with different
code), presses "Ctrl+C" (SIGINT), and checks: only api reloaded, the new code answers, the client
saw no error and no refused connection, the database was not reopened. Then a file still being
written, an in-place exec restart (SIGUSR2) under the same load, and a clean SIGQUIT shutdown.
Usage: reload_test.py BUILD_DIR
"""

import http.client
import os
import re
import shutil
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from server import ModuleDir, Server, install_atomically  # noqa: E402

BUILD = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else "build/dev")
MODULES = ["database", "service", "api", "media", "federation", "admin"]


class SteadyClient(threading.Thread):
    """Sends GET /_matrix/client/versions in a loop over keep-alive connections, opening a new
    connection every 20 requests; counts every failure (error status, reset, refusal)."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stop_flag = threading.Event()
        self.ok = 0
        self.errors = []
        # Requests re-sent because the server closed an idle keep-alive connection under them
        # (RFC 9110 section 9.2.2: clients retry idempotent requests then). Only an exec restart
        # closes connections; a reload must not.
        self.retries = 0

    def run(self):
        conn = None
        n = 0
        while not self.stop_flag.is_set():
            try:
                if conn is None or n % 20 == 0:
                    if conn is not None:
                        conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request("GET", "/_matrix/client/versions")
                resp = conn.getresponse()
                body = resp.read()
                if resp.status != 200 or b"versions" not in body:
                    self.errors.append(f"status {resp.status}: {body[:200]!r}")
                elif resp.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
                    self.ok += 1
                else:
                    self.ok += 1
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
                if conn is not None and n % 20 != 0:
                    self.retries += 1  # closed while idle: retry on a new connection
                else:
                    self.errors.append(repr(e))
                conn = None
            except Exception as e:  # noqa: BLE001 - every other failure counts, refusals too
                self.errors.append(repr(e))
                conn = None
            n += 1

    def finish(self):
        self.stop_flag.set()
        self.join(15)


class ReloadTest(unittest.TestCase):
    def setUp(self):
        self.server = Server(os.path.join(BUILD, "bin", "conclave"))
        self.module_dir = os.path.join(self.server.workdir, "modules")
        os.makedirs(self.module_dir)
        for m in MODULES:
            shutil.copyfile(os.path.join(BUILD, "lib", f"libconclave_{m}.so"),
                            os.path.join(self.module_dir, f"libconclave_{m}.so"))
        self.server.env["CONCLAVE_MODULE_DIR"] = self.module_dir
        self.api = os.path.join(self.module_dir, "libconclave_api.so")
        self.server.start()

    def tearDown(self):
        self.server.cleanup()

    def reload(self, install=None, sig=signal.SIGINT, expect=r"\[host\] (reloaded|nothing|not |reload)"):
        offset = self.server.log_size()
        if install:
            install()
        self.server.send(sig)
        return self.server.wait_for_log(expect, after=offset)

    def test_reload_under_load_then_restart_then_quit(self):
        status, body = self.server.get("/_conclave/server_version")
        self.assertEqual(status, 200)
        self.assertNotIn("variant", body)

        client = SteadyClient(self.server.port)
        client.start()
        time.sleep(0.5)

        # A rebuilt api: real code change, different build id.
        line = self.reload(lambda: install_atomically(
            os.path.join(BUILD, "variants", "api", "libconclave_api.so"), self.api))
        self.assertIn("reloaded 1 module (api)", line)
        self.assertIn("0 requests failed", line)
        status, body = self.server.get("/_conclave/server_version")
        self.assertIn('"variant":"b"', body)

        # Same bytes again: nothing to do.
        line = self.reload(lambda: install_atomically(
            os.path.join(BUILD, "variants", "api", "libconclave_api.so"), self.api))
        self.assertIn("nothing changed", line)

        # A file still being written is not loaded; the old code keeps serving.
        def half_written():
            with open(os.path.join(BUILD, "lib", "libconclave_api.so"), "rb") as f:
                data = f.read()
            with open(self.api, "wb") as f:
                f.write(data[: len(data) // 2])
        line = self.reload(half_written)
        self.assertIn("still being written", line)
        self.assertIn('"variant":"b"', self.server.get("/_conclave/server_version")[1])

        # Back to the original build, by SIGUSR1 this time.
        line = self.reload(lambda: install_atomically(
            os.path.join(BUILD, "lib", "libconclave_api.so"), self.api), sig=signal.SIGUSR1)
        self.assertIn("reloaded 1 module (api)", line)
        self.assertNotIn("variant", self.server.get("/_conclave/server_version")[1])

        # The database stayed open through all of it.
        self.assertEqual(self.server.log().count("opened database"), 1)

        self.assertEqual(client.retries, 0, "a reload closed a client connection")
        self.assertEqual(client.errors, [], f"client errors during reloads: {client.errors[:5]}")

        # In-place exec restart keeping the listening socket: same pid, no refused connection.
        pid = self.server.proc.pid
        offset = self.server.log_size()
        self.server.send(signal.SIGUSR2)
        self.server.wait_for_log(r"listening on .*\(inherited socket\)", after=offset)
        self.assertEqual(self.server.proc.pid, pid)
        self.assertIsNone(self.server.proc.poll())
        time.sleep(0.5)

        client.finish()
        self.assertEqual(client.errors, [], f"client errors: {client.errors[:5]}")
        self.assertGreater(client.ok, 100)

        # Only the listening socket crosses exec: no descriptor leaked into the new image.
        fds = os.listdir(f"/proc/{pid}/fd")
        self.assertLess(len(fds), 40, f"descriptors after restart: {len(fds)}")

        self.assertEqual(self.server.stop(signal.SIGQUIT), 0)
        self.assertIn("stopped cleanly", self.server.log())


class WatchKeyTest(unittest.TestCase):
    """`watch = true` in the config (here CONCLAVE_WATCH) starts watch mode without --watch."""

    def setUp(self):
        self.server = Server(os.path.join(BUILD, "bin", "conclave"), env={"CONCLAVE_WATCH": "true"})
        self.module_dir = ModuleDir(self.server, BUILD).path
        self.server.start()

    def tearDown(self):
        self.server.cleanup()

    def test_a_written_module_is_reloaded_without_a_signal(self):
        self.server.wait_for_log(r"watching " + re.escape(self.module_dir))
        offset = self.server.log_size()
        api = os.path.join(self.module_dir, "libconclave_api.so")
        install_atomically(os.path.join(BUILD, "lib", "libconclave_api.so"), api)  # same bytes
        self.server.wait_for_log(r"watch \(libconclave_api.so\): reloading", after=offset)
        line = self.server.wait_for_log(r"\[host\] (reloaded|nothing|not |reload)", after=offset)
        self.assertIn("nothing changed", line)
        self.assertEqual(self.server.stop(signal.SIGQUIT), 0)


class ExecRestartTest(unittest.TestCase):
    """Ctrl+C when `main` itself was rebuilt: no module reload, an exec restart in place."""

    def setUp(self):
        self.server = Server("/nonexistent")
        bindir = os.path.join(self.server.workdir, "bin")
        os.makedirs(bindir)
        self.binary = os.path.join(bindir, "conclave")
        shutil.copyfile(os.path.join(BUILD, "bin", "conclave"), self.binary)
        os.chmod(self.binary, 0o755)
        self.server.binary = self.binary
        self.server.env["CONCLAVE_MODULE_DIR"] = os.path.join(BUILD, "lib")
        self.server.start()

    def tearDown(self):
        self.server.cleanup()

    def test_changed_main_restarts_in_place(self):
        client = SteadyClient(self.server.port)
        client.start()
        time.sleep(0.3)
        pid = self.server.proc.pid
        offset = self.server.log_size()
        install_atomically(os.path.join(BUILD, "variants", "main", "conclave"), self.binary)
        self.server.send(signal.SIGINT)
        self.server.wait_for_log(r"core or main changed: restarting in place", after=offset)
        line = self.server.wait_for_log(r"listening on", after=offset)
        self.assertIn("(inherited socket) [variant build]", line)  # the new binary runs
        self.assertEqual(self.server.proc.pid, pid)
        time.sleep(0.3)
        client.finish()
        self.assertEqual(client.errors, [], f"client errors: {client.errors[:5]}")
        self.assertEqual(self.server.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
