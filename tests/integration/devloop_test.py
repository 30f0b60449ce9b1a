"""The dev loop as a new user runs it, in a real git checkout (README.md, "The dev loop").

A scratch checkout of the working tree (scratch_checkout.py) is configured with `cmake --preset
dev` and built with `cmake --build --preset dev`; then the server runs from it while the test
edits a string in src/api/discovery.cc and rebuilds with the same command.

- First edit after a commit: the build stamp turns `<sha>` into `<sha>-dirty`, which must not
  rebuild core or main: only api's build id changes, and Ctrl+C reloads one module (api), not
  an exec restart. The same after a second commit.
- Watch mode (`conclave --watch`), no signal sent: a successful build reloads api; a failed
  build reloads nothing and says so; a rebuild with identical output says `nothing changed`
  once; a truncated file is not loaded; a core change exec-restarts.
Usage: devloop_test.py SOURCE_DIR BUILD_DIR
"""

import json
import os
import shutil
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from scratch_checkout import ScratchCheckout  # noqa: E402
from server import Server  # noqa: E402

SOURCE = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else ".")
BUILD = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else "build/dev")
DISCOVERY = "src/api/discovery.cc"
REPORT = r"\[host\] (reloaded|nothing|not |reload|core or main)"


CHECKOUT = None


def setUpModule():
    global CHECKOUT
    CHECKOUT = ScratchCheckout(SOURCE, os.path.join(BUILD, "devloop-scratch")).create()
    CHECKOUT.configure()
    CHECKOUT.build()


def tearDownModule():
    # ~900 MiB of build tree; DEVLOOP_KEEP_SCRATCH=1 keeps it for a look after a failure.
    if CHECKOUT is not None and not os.environ.get("DEVLOOP_KEEP_SCRATCH"):
        shutil.rmtree(CHECKOUT.path, ignore_errors=True)


class DevLoopCase(unittest.TestCase):
    name = "conclave"  # what /_conclave/server_version answers as "name", shared by the cases
    args = ()

    def setUp(self):
        self.checkout = CHECKOUT
        self.server = Server(self.checkout.binary(), args=self.args)
        self.server.start()

    def tearDown(self):
        self.server.cleanup()

    def served_name(self):
        status, body = self.server.get("/_conclave/server_version")
        self.assertEqual(status, 200, body)
        return json.loads(body)["name"]

    def edit_name(self, new):
        """Changes the name /_conclave/server_version answers: a one-line handler edit."""
        self.checkout.edit(DISCOVERY, f'{{"name", "{DevLoopCase.name}"}}', f'{{"name", "{new}"}}')
        DevLoopCase.name = new

    def ctrl_c(self):
        offset = self.server.log_size()
        self.server.send(signal.SIGINT)
        return self.server.wait_for_log(REPORT, timeout=60, after=offset)

    def assert_only_api_changed(self, before, after):
        changed = sorted(k for k in before if before[k] != after[k])
        self.assertEqual(changed, ["api"], f"build ids changed: {changed}")


class FirstEditTest(DevLoopCase):
    def test_first_edit_after_a_commit_reloads_only_api(self):
        self.assertEqual(self.served_name(), DevLoopCase.name)
        before = self.checkout.build_ids()
        self.edit_name("conclave-edit-1")  # the tree is now <sha>-dirty
        self.checkout.build()
        after = self.checkout.build_ids()
        self.assert_only_api_changed(before, after)
        line = self.ctrl_c()
        self.assertIn("reloaded 1 module (api)", line)
        self.assertEqual(self.served_name(), "conclave-edit-1")

        # Commit (the stamp goes from <sha>-dirty to a new <sha>): building changes nothing,
        # and the first edit after it again reloads api alone.
        self.checkout.commit("edit 1")
        self.checkout.build()
        self.assertEqual(self.checkout.build_ids(), after)
        self.edit_name("conclave-edit-2")
        self.checkout.build()
        self.assert_only_api_changed(after, self.checkout.build_ids())
        line = self.ctrl_c()
        self.assertIn("reloaded 1 module (api)", line)
        self.assertEqual(self.served_name(), "conclave-edit-2")
        self.assertEqual(self.server.log().count("opened database"), 1)

        # The stamp still names the commit: a new process reads the last build's.
        _, _, out = self.checkout.run(self.checkout.binary(), "--version")
        self.assertIn(f"(commit {self.checkout.head()}-dirty, dev build", out)


class WatchTest(DevLoopCase):
    args = ("--watch",)

    def build_and_report(self, check=True):
        """Builds with the documented command; returns the report lines the watcher caused,
        waiting for the first and then 1.5 s more for any other (there must be one per build)."""
        offset = self.server.log_size()
        self.checkout.build(check=check)
        self.server.wait_for_log(REPORT, timeout=60, after=offset)
        time.sleep(1.5)
        return [line for line in self.server.log()[offset:].splitlines()
                if "[host]" in line]

    def test_a_build_reloads_api_without_a_signal(self):
        self.edit_name("conclave-watch-1")
        lines = self.build_and_report()
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("reloaded 1 module (api)", lines[0])
        self.assertIn("0 requests failed", lines[0])
        self.assertEqual(self.served_name(), "conclave-watch-1")
        # Ctrl+C keeps working in watch mode.
        line = self.ctrl_c()
        self.assertIn("nothing changed", line)

    def test_a_failed_build_changes_nothing_and_says_so(self):
        served = self.served_name()
        self.checkout.edit(DISCOVERY, "// GET /_conclave/server_version", "not C++; // GET")
        try:
            lines = self.build_and_report(check=False)
        finally:
            self.checkout.edit(DISCOVERY, "not C++; // GET", "// GET /_conclave/server_version")
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("not reloaded: the build failed", lines[0])
        self.assertIn("discovery.cc.o", lines[0])
        self.assertEqual(self.served_name(), served)
        # The fixed build loads again (its code is what was loaded: nothing changed).
        lines = self.build_and_report()
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0], r"nothing changed|reloaded 1 module \(api\)")

    def test_an_identical_rebuild_says_nothing_changed_once(self):
        os.utime(os.path.join(self.checkout.path, DISCOVERY))  # recompiled, relinked, same bytes
        lines = self.build_and_report()
        self.assertEqual(lines, [lines[0]])
        self.assertIn("nothing changed", lines[0])

    def test_a_truncated_module_is_not_loaded(self):
        api = self.checkout.lib("api")
        saved = os.path.join(self.server.workdir, "api.so")
        shutil.copyfile(api, saved)
        offset = self.server.log_size()
        with open(saved, "rb") as f:
            data = f.read()
        with open(api, "wb") as f:  # written in place and left half done, as by a linker
            f.write(data[: len(data) // 2])
        line = self.server.wait_for_log(REPORT, timeout=30, after=offset)
        self.assertIn("truncated ELF file", line)
        self.assertEqual(self.served_name(), DevLoopCase.name)
        offset = self.server.log_size()
        shutil.copyfile(saved, api)
        line = self.server.wait_for_log(REPORT, timeout=30, after=offset)
        self.assertIn("nothing changed", line)

    def test_a_core_change_restarts_in_place(self):
        pid = self.server.proc.pid
        self.checkout.edit("src/core/build_info_dev.cc", "return \"unknown\";",
                           "return \"unknown (watch test)\";")
        offset = self.server.log_size()
        self.checkout.build()
        self.server.wait_for_log(r"core or main changed: restarting in place", timeout=60,
                                 after=offset)
        self.server.wait_for_log(r"listening on .*\(inherited socket\)", timeout=60, after=offset)
        self.assertEqual(self.server.proc.pid, pid)
        self.assertEqual(self.served_name(), DevLoopCase.name)


if __name__ == "__main__":
    unittest.main(verbosity=2)
