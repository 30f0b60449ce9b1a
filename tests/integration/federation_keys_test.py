"""The server's signing key against the real binary, checked by an independent Ed25519
implementation (Debian's python3-cryptography, else python3-nacl): GET /_matrix/key/v2/server
answers the server's key, self-signed over its canonical JSON (Appendices, "Signing JSON"), valid
for key_valid_for; the key is generated at the first start in <database_path>-signing.key (mode
0600, Synapse's format) and kept across a restart; a Synapse signing.key given by
signing_key_path is the one served; the notary query answers for our name and leaves an unreachable server out; a malformed key
file stops the start with a message naming it. Usage: federation_keys_test.py BUILD_DIR
"""

import base64
import json
import os
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from server import Server  # noqa: E402

BUILD = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else "build/dev")
BINARY = os.path.join(BUILD, "bin", "conclave")
SERVER_NAME = "keys.test"

try:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (Ed25519PrivateKey,
                                                                   Ed25519PublicKey)
    from cryptography.exceptions import InvalidSignature

    def verify(public_key, signature, message):
        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
            return True
        except InvalidSignature:
            return False

    def public_of(seed):
        from cryptography.hazmat.primitives import serialization
        return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
except ImportError:  # python3-nacl
    import nacl.exceptions
    import nacl.signing

    def verify(public_key, signature, message):
        try:
            nacl.signing.VerifyKey(public_key).verify(message, signature)
            return True
        except nacl.exceptions.BadSignatureError:
            return False

    def public_of(seed):
        return bytes(nacl.signing.SigningKey(seed).verify_key)


def unpadded_b64decode(text):
    return base64.b64decode(text + "=" * (-len(text) % 4))


def unpadded_b64encode(data):
    return base64.b64encode(data).decode().rstrip("=")


def canonical_json(value):
    # Appendices, "Canonical JSON": sorted keys, no insignificant whitespace, UTF-8.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True,
                      allow_nan=False).encode("utf-8")


class FederationKeysTest(unittest.TestCase):
    def setUp(self):
        # matrix.org (asked of the notary below) goes to loopback, which outbound federation
        # refuses at once: an unreachable server without cached keys, left out, no network.
        self.server = Server(BINARY, env={"CONCLAVE_SERVER_NAME": SERVER_NAME,
                                          "CONCLAVE_FEDERATION_HOSTS": "matrix.org=127.0.0.1:1"})

    def tearDown(self):
        self.server.cleanup()

    def fetch_keys(self):
        status, keys, headers = self.server.request("GET", "/_matrix/key/v2/server")
        self.assertEqual(status, 200, f"{keys}\n{self.server.log()[-2000:]}")
        self.assertTrue(headers.get("Content-Type", "").startswith("application/json"), headers)
        return keys

    def check_self_signed(self, keys):
        """Verifies `keys` as a remote server does; returns (key_id, raw public key)."""
        self.assertEqual(keys["server_name"], SERVER_NAME)
        self.assertEqual(keys["old_verify_keys"], {})
        (key_id, entry), = keys["verify_keys"].items()
        self.assertRegex(key_id, r"^ed25519:[a-zA-Z0-9_]+$")
        public_key = unpadded_b64decode(entry["key"])
        self.assertEqual(len(public_key), 32)
        signature = unpadded_b64decode(keys["signatures"][SERVER_NAME][key_id])
        signed = {k: v for k, v in keys.items() if k not in ("signatures", "unsigned")}
        self.assertTrue(verify(public_key, signature, canonical_json(signed)))
        tampered = dict(signed, valid_until_ts=signed["valid_until_ts"] + 1)
        self.assertFalse(verify(public_key, signature, canonical_json(tampered)))
        return key_id, public_key

    def test_generated_key_is_served_self_signed_and_kept_across_restarts(self):
        self.server.env["CONCLAVE_KEY_VALID_FOR"] = "2h"
        self.server.start()
        before_ms = int(time.time() * 1000)
        keys = self.fetch_keys()
        key_id, public_key = self.check_self_signed(keys)
        self.assertAlmostEqual(keys["valid_until_ts"], before_ms + 2 * 3600 * 1000,
                               delta=60 * 1000)

        path = os.path.join(self.server.workdir, "data-signing.key")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        with open(path) as f:
            algorithm, version, seed = f.read().split()
        self.assertEqual((algorithm, f"ed25519:{version}"), ("ed25519", key_id))
        self.assertEqual(public_of(unpadded_b64decode(seed)), public_key)

        status, version_body, _ = self.server.request("GET", "/_matrix/federation/v1/version")
        self.assertEqual(status, 200)
        self.assertEqual(version_body["server"]["name"], "conclave")

        # The notary API, for our own name; an unreachable server with no cached keys is left out.
        status, query, _ = self.server.request("GET", f"/_matrix/key/v2/query/{SERVER_NAME}")
        self.assertEqual(status, 200)
        (served,) = query["server_keys"]
        self.assertEqual(self.check_self_signed(served), (key_id, public_key))
        status, query, _ = self.server.request(
            "POST", "/_matrix/key/v2/query",
            body={"server_keys": {"matrix.org": {}, SERVER_NAME: {}}})
        self.assertEqual(status, 200)
        self.assertEqual(len(query["server_keys"]), 1)
        status, query, _ = self.server.request("POST", "/_matrix/key/v2/query", body="{")
        self.assertEqual((status, query["errcode"]), (400, "M_NOT_JSON"))
        status, other, _ = self.server.request("GET", "/_matrix/federation/v1/publicRooms")
        self.assertEqual((status, other["errcode"]), (404, "M_UNRECOGNIZED"))

        self.server.stop()
        self.server.start()
        self.assertEqual(self.check_self_signed(self.fetch_keys()), (key_id, public_key))

    def test_a_synapse_key_file_is_used_and_a_malformed_one_stops_the_start(self):
        seed = os.urandom(32)
        path = os.path.join(self.server.workdir, "synapse.signing.key")
        with open(path, "w") as f:
            f.write(f"ed25519 a_SyN4 {unpadded_b64encode(seed)}\n")
        self.server.env["CONCLAVE_SIGNING_KEY_PATH"] = path
        self.server.start()
        key_id, public_key = self.check_self_signed(self.fetch_keys())
        self.assertEqual((key_id, public_key), ("ed25519:a_SyN4", public_of(seed)))
        self.server.stop()

        with open(path, "w") as f:
            f.write("ed25519 a_SyN4 not-base64!\n")
        proc = subprocess.run([BINARY], cwd=self.server.workdir, env=self.server.env,
                              capture_output=True, text=True, timeout=60)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("synapse.signing.key", proc.stderr)
        self.assertIn("not base64 of 32 bytes", proc.stderr)


if __name__ == "__main__":
    unittest.main()
