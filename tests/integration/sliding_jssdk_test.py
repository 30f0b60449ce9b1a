"""matrix-js-sdk's sliding sync mode (SlidingSync, SlidingSyncSdk and the extensions it registers)
against the real server: js/sliding_jssdk.mjs pages a list over 30 rooms, grows its range, and
sees a live message and a typing notice (see its header). Packages as for jssdk_test.py (skipped,
saying why, when npm or the registry is missing). Usage: sliding_jssdk_test.py BUILD_DIR
"""

import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from server import Server  # noqa: E402

BUILD = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else "build/dev")
from jssdk_test import TOLERATED, install_packages  # noqa: E402  (after BUILD_DIR is taken from argv)

BINARY = os.path.join(BUILD, "bin", "conclave")
JS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js")
SCRIPT = "sliding_jssdk.mjs"


class SlidingJsSdkTest(unittest.TestCase):
    def test_js_sdk_sliding_sync(self):
        packages = install_packages()
        server = Server(BINARY, env={"CONCLAVE_RC_MESSAGE_PER_SECOND": "0",
                                     "CONCLAVE_RC_REGISTRATION_PER_SECOND": "0"})
        server.start()
        # ES modules resolve imports next to the script's real path: run a private copy there.
        script = os.path.join(packages, f"{SCRIPT}.{os.getpid()}.mjs")
        shutil.copyfile(os.path.join(JS, SCRIPT), script)
        try:
            proc = subprocess.run([os.path.join(packages, "node_modules", ".bin", "node"), script,
                                   server.url], capture_output=True, text=True, timeout=240)
        finally:
            os.unlink(script)
            server.stop()
            server.cleanup()
        lines = proc.stdout.strip().splitlines()
        try:
            report = json.loads(lines[-1])
        except (IndexError, ValueError):
            report = {"ok": False, "error": "no report"}
        if not report.get("ok"):
            print(proc.stderr[-6000:], file=sys.stderr)
        self.assertTrue(report.get("ok"), f"{report.get('error')} {report.get('failures')}")
        self.assertEqual(report["steps"],
                         ["setup", "first range", "whole list", "live message", "typing"])
        self.assertEqual(proc.returncode, 0)
        # Every exchange succeeded but those the SDK expects to fail (jssdk_test.TOLERATED).
        unexpected = [f for f in report["failures"]
                      if TOLERATED.get((f["method"], f["path"])) != f["errcode"]]
        self.assertEqual(unexpected, [])


if __name__ == "__main__":
    unittest.main()
