"""The release binary end to end: serves, exits 0 on SIGTERM and SIGINT, keeps its data, refuses
a second process on the same database and bad config with exit status 2, and hot reload is
refused as a dev-build feature. Usage: release_test.py BUILD_DIR
"""

import os
import re
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from server import Server  # noqa: E402

BUILD = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else "build/release")
BINARY = os.path.join(BUILD, "bin", "conclave")


class ReleaseTest(unittest.TestCase):
    def setUp(self):
        self.server = Server(BINARY)

    def tearDown(self):
        self.server.cleanup()

    def first_start(self, server):
        out = server.proc.stdout.readline().decode()
        match = re.search(r"database first started (.+)$", out.strip())
        self.assertIsNotNone(match, out)
        return match.group(1)

    def test_serves_stops_cleanly_and_keeps_data(self):
        self.server.args = ["--execute", "server uptime"]
        self.server.start()
        status, body = self.server.get("/_matrix/client/versions")
        self.assertEqual(status, 200)
        self.assertIn('"versions"', body)
        status, body = self.server.get("/_conclave/server_version")
        self.assertIn('"name":"conclave"', body)
        status, body = self.server.get("/_matrix/client/v3/nothing")
        self.assertEqual(status, 404)
        self.assertIn("M_UNRECOGNIZED", body)
        first = self.first_start(self.server)

        # A second process on the same database fails at once with exit status 2.
        second = subprocess.run([BINARY], cwd=self.server.workdir, env=self.server.env,
                                capture_output=True, timeout=30)
        self.assertEqual(second.returncode, 2)
        self.assertIn(b"database is in use", second.stderr)

        # SIGINT is a shutdown in release.
        self.assertEqual(self.server.stop(signal.SIGINT), 0)
        self.assertIn("closed database", self.server.log())

        again = Server(BINARY, workdir=self.server.workdir, args=["--execute", "server uptime",
                                                                  "--execute", "modules reload"])
        again.start()
        self.assertEqual(self.first_start(again), first)  # same database, same first start
        again.wait_for_log(r"modules reload: hot reload is a dev-build feature")
        self.assertEqual(again.stop(signal.SIGTERM), 0)

    def test_bad_config_exits_2_before_binding(self):
        config = os.path.join(self.server.workdir, "bad.toml")
        with open(config, "w") as f:
            f.write('port = "eighty"\n')
        result = subprocess.run([BINARY, "-c", config], env=self.server.env,
                                capture_output=True, timeout=30)
        self.assertEqual(result.returncode, 2)
        self.assertIn(b"port", result.stderr)
        missing = subprocess.run([BINARY, "-c", "/nonexistent.toml"], capture_output=True,
                                 timeout=30)
        self.assertEqual(missing.returncode, 2)
        self.assertIn(b"/nonexistent.toml", missing.stderr)
        usage = subprocess.run([BINARY, "--bogus"], capture_output=True, timeout=30)
        self.assertEqual(usage.returncode, 2)

    def test_version_and_help(self):
        version = subprocess.run([BINARY, "--version"], capture_output=True, timeout=30)
        self.assertEqual(version.returncode, 0)
        self.assertRegex(version.stdout.decode(), r"conclave \d+\.\d+\.\d+ \(commit \S+, release")
        help_out = subprocess.run([BINARY, "--help"], capture_output=True, timeout=30)
        self.assertIn(b"--execute", help_out.stdout)
        self.assertIn(b"--check-config", help_out.stdout)
        # The commit is stamped at build time: the one checked out (plus "-dirty" for local
        # changes), not the one of the last configure.
        source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
        head = subprocess.run(["git", "-C", source, "rev-parse", "--short=12", "HEAD"],
                              capture_output=True, text=True, timeout=30)
        if head.returncode == 0:
            self.assertIn(f"(commit {head.stdout.strip()}", version.stdout.decode())

    def test_check_config(self):
        good = subprocess.run([BINARY, "--check-config"], cwd=self.server.workdir,
                              capture_output=True, timeout=30)
        self.assertEqual(good.returncode, 0, good.stderr)
        self.assertIn(b"config OK", good.stdout)
        bad = subprocess.run([BINARY, "--check-config"], cwd=self.server.workdir,
                             env=dict(os.environ, CONCLAVE_IDLE_TIMEOUT="soon"),
                             capture_output=True, timeout=30)
        self.assertEqual(bad.returncode, 2)
        self.assertIn(b"idle_timeout (CONCLAVE_IDLE_TIMEOUT)", bad.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.server.workdir, "data")))

    def test_watch_is_a_dev_build_feature(self):
        # The flag is typed for this binary: an error. The key, which a checkout's dev and
        # release builds read from one conclave.toml: a warning, and the server serves.
        flag = subprocess.run([BINARY, "--watch"], env=self.server.env, capture_output=True,
                              timeout=30)
        self.assertEqual(flag.returncode, 2)
        self.assertIn(b"--watch needs a dev build", flag.stderr)
        with open(os.path.join(self.server.workdir, "conclave.toml"), "w") as f:
            f.write("watch = true\n")
        checked = subprocess.run([BINARY, "--check-config"], cwd=self.server.workdir,
                                 env=self.server.env, capture_output=True, timeout=30)
        self.assertEqual(checked.returncode, 0, checked.stderr)
        self.assertIn(b"config: watch (conclave.toml): ignored, watch mode needs a dev build",
                      checked.stderr)
        self.server.start()
        self.server.wait_for_log(r"warn.*config: watch \(conclave.toml\): ignored")
        self.assertNotIn("watching", self.server.log())
        self.assertEqual(self.server.get("/_matrix/client/versions")[0], 200)
        self.assertEqual(self.server.stop(signal.SIGTERM), 0)

    def test_stripped_with_separate_debug_info(self):
        def readelf(*args):  # section dumps can hold bytes that are not UTF-8
            return subprocess.run(["readelf", *args], capture_output=True, text=True,
                                  errors="replace", timeout=30).stdout

        sections = readelf("-S", "-W", BINARY)
        self.assertNotIn(".debug_info", sections)
        self.assertNotIn(".symtab", sections)
        self.assertIn(".gnu_debuglink", sections)
        self.assertIn(".note.gnu.build-id", sections)
        link = readelf("--string-dump=.gnu_debuglink", BINARY)
        self.assertIn("conclave.debug", link)
        debug = readelf("-S", "-W", BINARY + ".debug")
        self.assertIn(".debug_info", debug)
        self.assertIn(".symtab", debug)
        # The same build: gdb matches the two by build id.
        ids = [readelf("-n", path).split("Build ID:")[1].split()[0]
               for path in (BINARY, BINARY + ".debug")]
        self.assertEqual(ids[0], ids[1])


if __name__ == "__main__":
    unittest.main(verbosity=2)
