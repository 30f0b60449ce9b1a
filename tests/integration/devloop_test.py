"""The dev loop as a new user runs it, in a real git checkout (README.md, "The dev loop").

A scratch checkout of the working tree (scratch_checkout.py) is configured with `cmake --preset
dev` and built with `cmake --build --preset dev`; then the server runs from it while the test
edits a string in src/api/discovery.cc and rebuilds with the same command.

- First edit after a commit: the build stamp turns `<sha>` into `<sha>-dirty`, which must not
  rebuild core or main: only api's build id changes, and Ctrl+C reloads one module (api), not
  an exec restart. The same after a second commit.
Usage: devloop_test.py SOURCE_DIR BUILD_DIR
"""

import json
import os
import signal
import sys
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


if __name__ == "__main__":
    unittest.main(verbosity=2)
