"""End-to-end encryption with matrix-js-sdk and its Rust crypto (@matrix-org/matrix-sdk-crypto-wasm,
the stack under Element Web), and a nio client in the same room, against the real server.

js/install.sh installs js/package-lock.json from the npm registry into a cache directory (and
with it Node 22, which matrix-js-sdk 43 needs, from npm's `node` package); when that cannot work
(no npm, no registry) the test is skipped, saying why. js/e2ee_jssdk.mjs then runs two js-sdk
clients, alice and bob, each logged in on a new device with Rust crypto and cross-signing
bootstrapped; alice creates a room with m.room.encryption and invites bob and charlie; bob joins;
alice sends a message bob must decrypt, and bob answers with one alice must decrypt. charlie is
nio with python3-olm (Debian's): he joins before alice sends, and must decrypt alice's message
from the room key Rust crypto sent his device over Olm.

Every HTTP exchange must succeed except two the SDK expects to fail: `GET /room_keys/version`,
which answers `404 M_NOT_FOUND` while the user has no key backup (key_backup.yaml; the SDK is not
asked to enable backup and carries on without one), and MatrixRTC's unstable transports endpoint
(MSC4143), which conclave does not have.
Usage: jssdk_test.py BUILD_DIR
"""

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import nio

sys.path.insert(0, os.path.dirname(__file__))
from server import Server, run_clients  # noqa: E402
BUILD = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else "build/dev")
# After taking BUILD_DIR from argv: e2ee_test takes argv[1] when imported.
from e2ee_test import Client, PASSWORD  # noqa: E402

BINARY = os.path.join(BUILD, "bin", "conclave")
JS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js")
SCRIPT = "e2ee_jssdk.mjs"
ALICE_SAYS = "hello bob, from js-sdk"
# Failed requests the SDK makes and tolerates, with the errcode conclave must answer them with.
TOLERATED = {
    ("GET", "/_matrix/client/v3/room_keys/version"): "M_NOT_FOUND",  # no backup yet
    ("GET", "/_matrix/client/unstable/org.matrix.msc4143/rtc/transports"): "M_UNRECOGNIZED",
}


def install_packages():
    """Returns the directory js/install.sh installed the packages into, or raises SkipTest."""
    try:
        result = subprocess.run([os.path.join(JS, "install.sh")], capture_output=True, text=True,
                                timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise unittest.SkipTest(f"js/install.sh could not run: {e}")
    if result.returncode != 0:
        raise unittest.SkipTest("matrix-js-sdk is not installed and npm could not install it "
                                f"from the registry (js/install.sh):\n{result.stderr[-2000:]}")
    return result.stdout.strip().splitlines()[-1]


class JsSdkTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.packages = install_packages()

    def setUp(self):
        self.server = Server(BINARY)
        self.server.start()
        self.stores = tempfile.mkdtemp(prefix="conclave-jssdk-store-")
        # ES modules resolve imports next to the script's real path: it runs from a copy inside
        # the install directory, private to this run.
        self.script = os.path.join(self.packages, f"{SCRIPT}.{os.getpid()}.mjs")
        shutil.copyfile(os.path.join(JS, SCRIPT), self.script)
        self.clients = []

    def tearDown(self):
        self.server.cleanup()
        shutil.rmtree(self.stores, ignore_errors=True)
        os.unlink(self.script)

    def ok(self, response, cls):
        self.assertIsInstance(response, cls, f"{type(response).__name__}: {response}")
        return response

    def test_rust_crypto_and_nio_in_one_encrypted_room(self):
        run_clients(self.server, self.clients, self.run_scenario)

    async def nio_client(self, localpart):
        plain = Client(self.server.url)
        self.clients.append(plain)
        self.ok(await plain.register(localpart, PASSWORD), nio.RegisterResponse)
        c = Client(self.server.url, f"@{localpart}:localhost", store_path=self.stores,
                   encryption=True)
        self.clients.append(c)
        self.ok(await c.login(PASSWORD, device_name=f"{localpart} nio"), nio.LoginResponse)
        self.ok(await c.keys_upload(), nio.KeysUploadResponse)
        return c

    async def run_js(self, invitee):
        proc = await asyncio.create_subprocess_exec(
            os.path.join(self.packages, "node_modules", ".bin", "node"), self.script,
            self.server.url, invitee, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=180)
        lines = stdout.decode(errors="replace").strip().splitlines()
        try:
            report = json.loads(lines[-1])
        except (IndexError, ValueError):
            report = {"ok": False, "error": "no report"}
        if not report.get("ok"):
            print(stderr.decode(errors="replace")[-6000:], file=sys.stderr)
        return proc.returncode, report

    async def charlie_reads(self, charlie):
        """charlie (nio) accepts the invite, then syncs until alice's message decrypts."""
        room_id = None
        for _ in range(40):
            response = self.ok(await charlie.sync(timeout=3000, full_state=False),
                               nio.SyncResponse)
            if room_id is None and response.rooms.invite:
                room_id = next(iter(response.rooms.invite))
                self.ok(await charlie.join(room_id), nio.JoinResponse)
                continue
            room = response.rooms.join.get(room_id) if room_id else None
            for event in room.timeline.events if room else []:
                if isinstance(event, nio.RoomMessageText) and event.body == ALICE_SAYS:
                    return event
                if isinstance(event, nio.MegolmEvent):
                    # The room key may arrive in a later to-device batch: retry after syncs.
                    self.undecrypted = event
        self.fail(f"charlie never decrypted alice's message (room {room_id}, last undecryptable: "
                  f"{getattr(self, 'undecrypted', None)})")

    async def run_scenario(self):
        charlie = await self.nio_client("charlie")
        js, event = await asyncio.gather(self.run_js(charlie.user_id),
                                         self.charlie_reads(charlie))
        returncode, report = js
        self.assertTrue(report.get("ok"), report.get("error"))
        self.assertEqual(returncode, 0)
        self.assertEqual(len(report["steps"]), 6, report["steps"])
        self.assertIn(f'@bob:localhost decrypted "{ALICE_SAYS}"', report["steps"][4])
        self.assertEqual(event.sender, "@alice:localhost")
        self.assertTrue(event.decrypted, "charlie got alice's message unencrypted")
        # The SDK used the E2EE endpoints (a broken one would have shown in the failures too).
        for endpoint in ("POST /_matrix/client/v3/keys/upload",
                         "POST /_matrix/client/v3/keys/device_signing/upload",
                         "POST /_matrix/client/v3/keys/signatures/upload",
                         "POST /_matrix/client/v3/keys/claim"):
            self.assertIn(endpoint, report["requests"])
        failures = [f for f in report["failures"]
                    if TOLERATED.get((f["method"], f["path"])) != f["errcode"]]
        self.assertEqual(failures, [])
        self.assertEqual([f for c in self.clients for f in c.failures], [])


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
