"""Server-side key backup (/room_keys/*, key_backup.yaml) over raw HTTP against the real binary:
what a client such as Element does (create a version, upload keys in batches, read them back,
compare etags), the 403 M_WRONG_ROOM_KEYS_VERSION with `current_version` once another device
made a new version, and durability: after SIGKILL the server starts again on the same data with
`--execute "database verify"`, which must print OK with the backed-up keys counted, and every
acknowledged key, count and etag is still there. (matrix-nio 0.20 has no key backup API, so no
real client here.) Usage: key_backup_test.py BUILD_DIR
"""

import os
import re
import signal
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from server import Server  # noqa: E402

BUILD = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else "build/dev")
BINARY = os.path.join(BUILD, "bin", "conclave")
V3 = "/_matrix/client/v3"
ALGORITHM = "m.megolm_backup.v1.curve25519-aes-sha2"
VERIFY_OK = "OK: no inconsistencies"


def q(text):
    return urllib.parse.quote(text, safe="")


def key_data(index, verified=False, tag="c"):
    return {"first_message_index": index, "forwarded_count": 0, "is_verified": verified,
            "session_data": {"ephemeral": "e", "ciphertext": tag, "mac": "m"}}


class KeyBackupTest(unittest.TestCase):
    def setUp(self):
        self.server = Server(BINARY, args=["--execute", "database verify"])
        self.server.start()

    def tearDown(self):
        self.server.cleanup()

    def call(self, method, path, body=None, token=None):
        status, data, _ = self.server.request(method, V3 + path, body=body, token=token)
        return status, data

    def ok(self, method, path, body=None, token=None):
        status, data = self.call(method, path, body, token)
        self.assertEqual(status, 200, f"{method} {path}: {status} {data}")
        return data

    def wait_for_stdout(self, text, timeout=60):
        """The server's stdout (where --execute prints) up to a line holding `text`."""
        out = []
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.server.proc.stdout.readline().decode(errors="replace")
            if not line:
                break
            out.append(line)
            if text in line:
                return "".join(out)
        self.fail(f"no {text!r} on stdout:\n{''.join(out)}\n{self.server.log()}")

    def test_backup_survives_sigkill_and_verifies(self):
        self.wait_for_stdout(VERIFY_OK)
        token = self.ok("POST", "/register", {"username": "alice", "password": "pw-pw-pw-pw",
                                              "auth": {"type": "m.login.dummy"}})["access_token"]
        version = self.ok("POST", "/room_keys/version",
                          {"algorithm": ALGORITHM, "auth_data": {"public_key": "pk"}}, token)
        self.assertEqual(version, {"version": "1"})

        # Element uploads in batches of rooms; 3 batches of 2 rooms x 10 sessions.
        etags = set()
        for batch in range(3):
            rooms = {f"!r{batch}{r}:localhost": {"sessions": {
                f"s{i}": key_data(i) for i in range(10)}} for r in range(2)}
            answer = self.ok("PUT", "/room_keys/keys?version=1", {"rooms": rooms}, token)
            self.assertEqual(answer["count"], 20 * (batch + 1))
            etags.add(answer["etag"])
        self.assertEqual(len(etags), 3)
        # A verified key replaces an unverified one, through a percent-encoded room id.
        room = q("!r00:localhost")
        better = self.ok("PUT", f"/room_keys/keys/{room}/s5?version=1",
                         key_data(9, verified=True, tag="better"), token)
        self.assertEqual(better["count"], 60)
        self.assertNotIn(better["etag"], etags)

        # Another device starts a new backup: uploads to the old one are refused.
        self.assertEqual(self.ok("POST", "/room_keys/version",
                                 {"algorithm": ALGORITHM, "auth_data": {"public_key": "pk2"}},
                                 token), {"version": "2"})
        status, error = self.call("PUT", f"/room_keys/keys/{room}/s1?version=1", key_data(0),
                                  token)
        self.assertEqual((status, error["errcode"], error["current_version"]),
                         (403, "M_WRONG_ROOM_KEYS_VERSION", "2"))

        self.assertEqual(self.server.stop(signal.SIGKILL), -signal.SIGKILL)
        self.server.start()
        out = self.wait_for_stdout(VERIFY_OK)
        self.assertRegex(out, r"e2ee_backup_keys +60\b")
        self.assertRegex(out, r"e2ee_backup_versions +2\b")

        info = self.ok("GET", "/room_keys/version/1", token=token)
        self.assertEqual((info["count"], info["etag"]), (60, better["etag"]))
        self.assertEqual(self.ok("GET", "/room_keys/version", token=token)["version"], "2")
        keys = self.ok("GET", "/room_keys/keys?version=1", token=token)["rooms"]
        self.assertEqual(sum(len(r["sessions"]) for r in keys.values()), 60)
        self.assertEqual(keys["!r00:localhost"]["sessions"]["s5"],
                         key_data(9, verified=True, tag="better"))
        self.ok("DELETE", "/room_keys/version/1", token=token)
        self.assertEqual(self.call("GET", "/room_keys/keys?version=1", token=token)[0], 404)
        self.assertEqual(self.server.stop(), 0)
        self.assertIsNone(re.search(r" critical ", self.server.log()))


if __name__ == "__main__":
    unittest.main(verbosity=2)
