"""Two conclave servers federating on loopback: A on 127.0.0.2 and B on 127.0.0.3, each with its
own server name `127.0.0.x:PORT`, its own self-signed certificate (both trusted through
federation_ca_file, so certificates are verified) and federation_allowed_ranges for loopback.

- A's notary (GET and POST /_matrix/key/v2/query) fetches B's keys from B over TLS, checks B's
  self-signature, and serves them with A's signature added: both verified here with Python's
  own Ed25519; the keys are then in A's cache (served again with B stopped).
- B's view of a world_readable room on A (signed with B's key from its key file): GET /event
  and /state_ids and /state at a message, every PDU checked here in Python as a receiving server
  does (content hash, A's signature over the redacted event, the event id as reference hash);
  a room of shared history is 403 to B (no user there), an unknown event 404.
- An X-Matrix request signed with A's key (read from A's key file) for B's profile query: B
  fetches A's keys from A and answers; then A itself sends it (the admin command `federation
  query-profile`, run by admin_execute at A's restart, through the FederationClient); a bad signature, another destination or no header get
  401 M_UNAUTHORIZED; a remote user id gets M_INVALID_PARAM.
- E2EE between users of the two servers without shared rooms, with real Olm (python3-olm):
  alice@A queries bob@B's device keys and claims a one-time key (A asks B over
  user/keys/query and user/keys/claim), creates an Olm session and sends an m.room.encrypted
  to-device message, which reaches bob's /sync on B in a transaction (PUT /send) and which bob
  decrypts. Then B is stopped while alice sends another: A's queue keeps it in RocksDB and
  retries with backoff; A is killed (SIGKILL) and started again, then B: bob receives and
  decrypts the message, once.

Usage: federation_test.py BUILD_DIR
"""

import base64
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import sys
import tempfile
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from server import Server, make_certificate  # noqa: E402

from cryptography.hazmat.primitives.asymmetric.ed25519 import (Ed25519PrivateKey,  # noqa: E402
                                                               Ed25519PublicKey)
import olm  # noqa: E402

BUILD = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else "build/dev")
BINARY = os.path.join(BUILD, "bin", "conclave")


def b64decode(text):
    return base64.b64decode(text + "=" * (-len(text) % 4))


def b64encode(data):
    return base64.b64encode(data).decode().rstrip("=")


def canonical_json(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True,
                      allow_nan=False).encode("utf-8")


def signed_bytes(obj):
    return canonical_json({k: v for k, v in obj.items() if k not in ("signatures", "unsigned")})


def verify_signature(obj, server_name, key_id, public_key_b64):
    signature = b64decode(obj["signatures"][server_name][key_id])
    Ed25519PublicKey.from_public_bytes(b64decode(public_key_b64)).verify(signature,
                                                                        signed_bytes(obj))


# Room version 10's redaction algorithm (room versions, "Redactions", v9): what signatures and
# event ids (reference hashes) cover.
REDACTION_KEEPS_V10 = {"event_id", "type", "room_id", "sender", "state_key", "content", "hashes",
                       "signatures", "depth", "prev_events", "auth_events", "origin_server_ts",
                       "origin", "prev_state", "membership"}
CONTENT_KEEPS_V10 = {
    "m.room.member": {"membership", "join_authorised_via_users_server"},
    "m.room.create": {"creator"},
    "m.room.join_rules": {"join_rule", "allow"},
    "m.room.power_levels": {"ban", "events", "events_default", "kick", "redact", "state_default",
                            "users", "users_default"},
    "m.room.history_visibility": {"history_visibility"},
}


def redact_v10(event):
    redacted = {k: v for k, v in event.items() if k in REDACTION_KEEPS_V10}
    keeps = CONTENT_KEEPS_V10.get(event["type"], set())
    redacted["content"] = {k: v for k, v in event.get("content", {}).items() if k in keeps}
    return redacted


def check_pdu_v10(test, pdu, server_name, key_id, public_key_b64):
    """The receiving side's hash and signature checks (Server-Server API, "Validating hashes and
    signatures on received events"), done here in Python: returns the event id (v4+: the
    URL-safe base64 reference hash)."""
    test.assertNotIn("unsigned", pdu)
    test.assertNotIn("event_id", pdu)
    content_hash = hashlib.sha256(canonical_json(
        {k: v for k, v in pdu.items() if k not in ("unsigned", "signatures", "hashes")})).digest()
    test.assertEqual(pdu["hashes"]["sha256"], b64encode(content_hash))
    verify_signature(redact_v10(pdu), server_name, key_id, public_key_b64)
    reference = hashlib.sha256(signed_bytes(redact_v10(pdu))).digest()
    return "$" + base64.urlsafe_b64encode(reference).decode().rstrip("=")


def free_port(address):
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


class Side:
    """One server: its address, federation port (fixed, as its server name carries it), cert."""

    def __init__(self, address, certs_dir):
        self.address = address
        self.port = free_port(address)
        self.name = f"{address}:{self.port}"
        self.dir = os.path.join(certs_dir, address)
        os.makedirs(self.dir)
        self.cert, self.key = make_certificate(self.dir, address)


class FederationTest(unittest.TestCase):
    def setUp(self):
        self.certs = tempfile.mkdtemp(prefix="conclave-fed-")
        self.a = Side("127.0.0.2", self.certs)
        self.b = Side("127.0.0.3", self.certs)
        self.ca = os.path.join(self.certs, "ca.pem")
        with open(self.ca, "w") as out:
            for side in (self.a, self.b):
                with open(side.cert) as f:
                    out.write(f.read())
        self.servers = {}
        for side in (self.a, self.b):
            server = Server(BINARY, env={
                "CONCLAVE_SERVER_NAME": side.name,
                "CONCLAVE_FEDERATION_ADDRESS": side.address,
                "CONCLAVE_FEDERATION_PORT": str(side.port),
                "CONCLAVE_TLS_CERTIFICATE_PATH": side.cert,
                "CONCLAVE_TLS_PRIVATE_KEY_PATH": side.key,
                "CONCLAVE_FEDERATION_CA_FILE": self.ca,
                "CONCLAVE_FEDERATION_ALLOWED_RANGES": "127.0.0.0/8",
                "CONCLAVE_FEDERATION_TIMEOUT": "10s",
                # Quick retries, so that a queued transaction reaches a restarted server soon.
                "CONCLAVE_FEDERATION_RETRY_INITIAL": "500ms",
                "CONCLAVE_FEDERATION_RETRY_MAX": "2s",
            })
            self.servers[side.name] = server
            server.start()
            self.assertEqual(server.federation_port, side.port)

    def tearDown(self):
        for server in self.servers.values():
            server.cleanup()
        shutil.rmtree(self.certs, ignore_errors=True)

    def server(self, side):
        return self.servers[side.name]

    def own_keys(self, side):
        status, keys, _ = self.server(side).request("GET", "/_matrix/key/v2/server")
        self.assertEqual(status, 200, keys)
        return keys

    def signing_seed(self, side):
        """A's key file (Synapse's format: `ed25519 <version> <seed>`)."""
        path = os.path.join(self.server(side).workdir, "data-signing.key")
        with open(path) as f:
            algorithm, version, seed = f.read().split()
        return f"ed25519:{version}", b64decode(seed)

    def federation_get(self, side, target, authorization):
        """GET `target` on `side`'s TLS listener, verifying its certificate."""
        context = ssl.create_default_context(cafile=side.cert)
        conn = http.client.HTTPSConnection(side.address, side.port, context=context, timeout=30)
        try:
            headers = {"Host": side.name}
            if authorization is not None:
                headers["Authorization"] = authorization
            conn.request("GET", target, headers=headers)
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read() or b"null")
        finally:
            conn.close()

    def x_matrix(self, origin, destination, key_id, seed, method, uri, sig_override=None):
        request = {"method": method, "uri": uri, "origin": origin, "destination": destination}
        signature = b64encode(Ed25519PrivateKey.from_private_bytes(seed).sign(
            canonical_json(request)))
        return (f'X-Matrix origin="{origin}",destination="{destination}",key="{key_id}",'
                f'sig="{sig_override or signature}"')

    def test_b_fetches_an_event_and_the_state_at_it_from_a_and_checks_them(self):
        a = self.server(self.a)
        status, registered, _ = a.request("POST", "/_matrix/client/v3/register", body={
            "username": "alice", "password": "pw-alice-123", "auth": {"type": "m.login.dummy"}})
        self.assertEqual(status, 200, registered)
        token = registered["access_token"]
        rooms = {}
        for visibility in ("world_readable", "shared"):
            status, room, _ = a.request("POST", "/_matrix/client/v3/createRoom", token=token, body={
                "room_version": "10", "initial_state": [{
                    "type": "m.room.history_visibility", "state_key": "",
                    "content": {"history_visibility": visibility}}]})
            self.assertEqual(status, 200, room)
            room_id = room["room_id"]
            status, sent, _ = a.request(
                "PUT", f"/_matrix/client/v3/rooms/{urllib.parse.quote(room_id)}/send/"
                f"m.room.message/t-{visibility}", token=token,
                body={"msgtype": "m.text", "body": f"hello from A ({visibility})"})
            self.assertEqual(status, 200, sent)
            rooms[visibility] = (room_id, sent["event_id"])

        ((a_key_id, a_key),) = self.own_keys(self.a)["verify_keys"].items()
        b_key_id, b_seed = self.signing_seed(self.b)

        def get(uri):
            # Signed as B: A fetches B's key from B to check it.
            auth = self.x_matrix(self.b.name, self.a.name, b_key_id, b_seed, "GET", uri)
            return self.federation_get(self.a, uri, auth)

        def fetch_event(event_id):
            status, txn = get("/_matrix/federation/v1/event/" + urllib.parse.quote(event_id,
                                                                                  safe=""))
            self.assertEqual(status, 200, f"{txn}\n{a.log()[-3000:]}")
            self.assertEqual(txn["origin"], self.a.name)
            (pdu,) = txn["pdus"]
            self.assertEqual(check_pdu_v10(self, pdu, self.a.name, a_key_id, a_key["key"]),
                             event_id)
            return pdu

        room_id, message = rooms["world_readable"]
        pdu = fetch_event(message)
        self.assertEqual(pdu["content"]["body"], "hello from A (world_readable)")
        self.assertEqual(pdu["room_id"], room_id)

        query = f"{urllib.parse.quote(room_id)}?event_id={urllib.parse.quote(message, safe='')}"
        status, state_ids = get(f"/_matrix/federation/v1/state_ids/{query}")
        self.assertEqual(status, 200, state_ids)
        self.assertNotIn(message, state_ids["pdu_ids"])
        # The same state as full PDUs, each checked as a receiving server does.
        status, state = get(f"/_matrix/federation/v1/state/{query}")
        self.assertEqual(status, 200, state)
        types = {}
        for state_pdu in state["pdus"]:
            state_id = check_pdu_v10(self, state_pdu, self.a.name, a_key_id, a_key["key"])
            types[(state_pdu["type"], state_pdu.get("state_key"))] = state_id
        self.assertEqual(sorted(types.values()), sorted(state_ids["pdu_ids"]))
        chain = [check_pdu_v10(self, chain_pdu, self.a.name, a_key_id, a_key["key"])
                 for chain_pdu in state["auth_chain"]]
        self.assertEqual(sorted(chain), sorted(state_ids["auth_chain_ids"]))
        alice = f"@alice:{self.a.name}"
        for key in (("m.room.create", ""), ("m.room.member", alice),
                    ("m.room.power_levels", ""), ("m.room.history_visibility", "")):
            self.assertIn(key, types)
        # The message's auth events are in the state; the chain reaches the create event.
        for auth_id in pdu["auth_events"]:
            self.assertIn(auth_id, state_ids["pdu_ids"])
        self.assertIn(types[("m.room.create", "")], chain)
        # The history visibility event itself was sent under world_readable: B may fetch it.
        fetch_event(types[("m.room.history_visibility", "")])

        # Not visible to B (no user of B in the room, shared history), and an unknown event.
        _, private_message = rooms["shared"]
        status, error = get("/_matrix/federation/v1/event/"
                            + urllib.parse.quote(private_message, safe=""))
        self.assertEqual((status, error["errcode"]), (403, "M_FORBIDDEN"), error)
        status, error = get("/_matrix/federation/v1/event/" + urllib.parse.quote("$" + "A" * 43))
        self.assertEqual((status, error["errcode"]), (404, "M_NOT_FOUND"), error)

    def test_notary_on_a_fetches_and_countersigns_bs_keys(self):
        b_keys = self.own_keys(self.b)
        a_keys = self.own_keys(self.a)
        ((b_key_id, b_key),) = b_keys["verify_keys"].items()
        ((a_key_id, a_key),) = a_keys["verify_keys"].items()
        quoted = urllib.parse.quote(self.b.name)
        status, answer, _ = self.server(self.a).request("GET", f"/_matrix/key/v2/query/{quoted}")
        self.assertEqual(status, 200, f"{answer}\n{self.server(self.a).log()[-3000:]}")
        (served,) = answer["server_keys"]
        self.assertEqual(served["server_name"], self.b.name)
        self.assertEqual(served["verify_keys"], b_keys["verify_keys"])
        verify_signature(served, self.b.name, b_key_id, b_key["key"])
        verify_signature(served, self.a.name, a_key_id, a_key["key"])
        # The batch form, with a criterion already met: from A's cache, even with B gone.
        self.server(self.b).stop()
        status, answer, _ = self.server(self.a).request(
            "POST", "/_matrix/key/v2/query",
            body={"server_keys": {self.b.name: {b_key_id: {"minimum_valid_until_ts": 0}}}})
        self.assertEqual(status, 200, answer)
        (cached,) = answer["server_keys"]
        verify_signature(cached, self.b.name, b_key_id, b_key["key"])
        verify_signature(cached, self.a.name, a_key_id, a_key["key"])

    def test_signed_profile_query_from_a_to_b(self):
        b = self.server(self.b)
        status, registered, _ = b.request("POST", "/_matrix/client/v3/register", body={
            "username": "bob", "password": "pw-bob-123", "auth": {"type": "m.login.dummy"}})
        self.assertEqual(status, 200, registered)
        bob = f"@bob:{self.b.name}"
        status, body, _ = b.request(
            "PUT", f"/_matrix/client/v3/profile/{urllib.parse.quote(bob)}/displayname",
            body={"displayname": "Bob"}, token=registered["access_token"])
        self.assertEqual(status, 200, body)

        key_id, seed = self.signing_seed(self.a)
        uri = "/_matrix/federation/v1/query/profile?user_id=" + urllib.parse.quote(bob, safe="")
        auth = self.x_matrix(self.a.name, self.b.name, key_id, seed, "GET", uri)
        status, profile = self.federation_get(self.b, uri, auth)
        self.assertEqual(status, 200, f"{profile}\n{b.log()[-3000:]}")
        self.assertEqual(profile, {"displayname": "Bob"})
        # B now holds A's key: its notary serves it too.
        status, answer, _ = b.request("GET",
                                      f"/_matrix/key/v2/query/{urllib.parse.quote(self.a.name)}")
        self.assertEqual(status, 200, answer)
        self.assertEqual(len(answer["server_keys"]), 1, answer)

        bad_sig = self.x_matrix(self.a.name, self.b.name, key_id, seed, "GET", uri,
                                sig_override=b64encode(b"\0" * 64))
        other_destination = self.x_matrix(self.a.name, "elsewhere.example", key_id, seed, "GET",
                                          uri)
        other_key = self.x_matrix(self.a.name, self.b.name, key_id,
                                  os.urandom(32), "GET", uri)
        for what, header in (("bad signature", bad_sig), ("other destination", other_destination),
                             ("another key", other_key), ("no header", None)):
            with self.subTest(what):
                status, error = self.federation_get(self.b, uri, header)
                self.assertEqual((status, error["errcode"]), (401, "M_UNAUTHORIZED"), error)

        # A itself asks, signing with its key (the admin command through FederationClient), at
        # its next start (admin_execute); B has A's keys cached from the query above.
        a = self.server(self.a)
        a.stop()
        a.env["CONCLAVE_ADMIN_EXECUTE"] = json.dumps([f"federation query-profile {bob}"])
        offset = a.log_size()
        a.start()
        line = a.wait_for_log(r"admin_execute 'federation query-profile", after=offset)
        self.assertNotIn("failed", line, a.log()[offset:])
        a.wait_for_log(r'\{"displayname":"Bob"\}', after=offset)

        remote_uri = ("/_matrix/federation/v1/query/profile?user_id="
                      + urllib.parse.quote(f"@someone:{self.a.name}", safe=""))
        auth = self.x_matrix(self.a.name, self.b.name, key_id, seed, "GET", remote_uri)
        status, error = self.federation_get(self.b, remote_uri, auth)
        self.assertEqual((status, error["errcode"]), (400, "M_INVALID_PARAM"), error)

    def register(self, side, username, device_id):
        status, body, _ = self.server(side).request("POST", "/_matrix/client/v3/register", body={
            "username": username, "password": f"pw-{username}-123", "device_id": device_id,
            "auth": {"type": "m.login.dummy"}})
        self.assertEqual(status, 200, body)
        return body

    def client(self, side, method, path, token, body=None):
        status, answer, _ = self.server(side).request(method, path, body=body, token=token)
        self.assertEqual(status, 200, f"{method} {path}: {answer}\n{self.server(side).log()[-3000:]}")
        return answer

    def sync_to_device(self, side, token, since, timeout=30):
        """Syncs until a to-device event arrives; (events, next_batch)."""
        deadline = time.monotonic() + timeout
        while True:
            path = "/_matrix/client/v3/sync?timeout=2000" + (f"&since={since}" if since else "")
            answer = self.client(side, "GET", path, token)
            since = answer["next_batch"]
            events = answer.get("to_device", {}).get("events", [])
            if events or time.monotonic() > deadline:
                return events, since

    def test_olm_to_device_across_servers_and_queue_survives_restart(self):
        alice = self.register(self.a, "alice", "ALICEDEV")
        bob = self.register(self.b, "bob", "BOBDEV")
        alice_id, bob_id = alice["user_id"], bob["user_id"]
        alice_olm, bob_olm = olm.Account(), olm.Account()

        # bob's device keys and one-time keys, signed with his Olm account (Appendices "Signing
        # JSON"), uploaded to B.
        bob_keys = {"user_id": bob_id, "device_id": "BOBDEV",
                    "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
                    "keys": {f"{k}:BOBDEV": v for k, v in bob_olm.identity_keys.items()}}
        bob_keys["signatures"] = {bob_id: {"ed25519:BOBDEV": bob_olm.sign(signed_bytes(bob_keys))}}
        bob_olm.generate_one_time_keys(2)
        otks = {}
        for key_id, key in bob_olm.one_time_keys["curve25519"].items():
            signed = {"key": key}
            signed["signatures"] = {bob_id: {"ed25519:BOBDEV": bob_olm.sign(signed_bytes(signed))}}
            otks[f"signed_curve25519:{key_id}"] = signed
        bob_olm.mark_keys_as_published()
        self.client(self.b, "POST", "/_matrix/client/v3/keys/upload", bob["access_token"],
                    {"device_keys": bob_keys, "one_time_keys": otks})
        _, bob_since = self.sync_to_device(self.b, bob["access_token"], None, timeout=0)

        # alice on A asks for bob's keys: A asks B (user/keys/query), and claims a key.
        answer = self.client(self.a, "POST", "/_matrix/client/v3/keys/query", alice["access_token"],
                             {"device_keys": {bob_id: []}, "timeout": 10000})
        self.assertEqual(answer["failures"], {})
        served = dict(answer["device_keys"][bob_id]["BOBDEV"])
        served.pop("unsigned", None)
        self.assertEqual(served, bob_keys)
        olm.ed25519_verify(bob_olm.identity_keys["ed25519"], signed_bytes(served),
                           served["signatures"][bob_id]["ed25519:BOBDEV"])
        claimed = self.client(self.a, "POST", "/_matrix/client/v3/keys/claim",
                              alice["access_token"],
                              {"one_time_keys": {bob_id: {"BOBDEV": "signed_curve25519"}}})
        self.assertEqual(claimed["failures"], {})
        ((otk_id, otk),) = claimed["one_time_keys"][bob_id]["BOBDEV"].items()
        self.assertIn(otk_id, otks)
        bob_curve = served["keys"]["curve25519:BOBDEV"]
        session = olm.OutboundSession(alice_olm, bob_curve, otk["key"])

        def send_encrypted(txn_id, plaintext):
            message = session.encrypt(plaintext)
            content = {"algorithm": "m.olm.v1.curve25519-aes-sha2",
                       "sender_key": alice_olm.identity_keys["curve25519"],
                       "ciphertext": {bob_curve: {"type": message.message_type,
                                                  "body": message.ciphertext}}}
            self.client(self.a, "PUT",
                        f"/_matrix/client/v3/sendToDevice/m.room.encrypted/{txn_id}",
                        alice["access_token"], {"messages": {bob_id: {"BOBDEV": content}}})

        send_encrypted("t1", "hello from A")
        events, bob_since = self.sync_to_device(self.b, bob["access_token"], bob_since)
        self.assertEqual(len(events), 1, f"{events}\n{self.server(self.a).log()[-3000:]}")
        event = events[0]
        self.assertEqual((event["sender"], event["type"]), (alice_id, "m.room.encrypted"))
        body = event["content"]["ciphertext"][bob_curve]
        self.assertEqual(body["type"], 0)  # a pre-key message: the session is new
        pre_key = olm.OlmPreKeyMessage(body["body"])
        bob_session = olm.InboundSession(bob_olm, pre_key, event["content"]["sender_key"])
        self.assertEqual(bob_session.decrypt(pre_key), "hello from A")

        # B goes away; alice's next message waits in A's queue (on disk) until B is back.
        b = self.server(self.b)
        b.stop()
        a = self.server(self.a)
        offset = a.log_size()
        send_encrypted("t2", "sent while B was down")
        a.wait_for_log(r"transaction \S+ to " + re.escape(self.b.name) + r" failed", after=offset)
        # A dies too (kill -9) and starts again: the queue is in RocksDB.
        a.stop(sig=signal.SIGKILL)
        a.start()
        b.start()
        events, bob_since = self.sync_to_device(self.b, bob["access_token"], bob_since)
        self.assertEqual(len(events), 1, f"{events}\n{a.log()[offset:][-3000:]}")
        body = events[0]["content"]["ciphertext"][bob_curve]
        message = (olm.OlmPreKeyMessage if body["type"] == 0 else olm.OlmMessage)(body["body"])
        self.assertEqual(bob_session.decrypt(message), "sent while B was down")
        # Delivered once: nothing more arrives.
        events, _ = self.sync_to_device(self.b, bob["access_token"], bob_since, timeout=3)
        self.assertEqual(events, [])

    def test_key_query_of_an_unreachable_server_is_a_failure(self):
        alice = self.register(self.a, "alice", "ALICEDEV")
        self.server(self.b).stop()
        bob_id = f"@bob:{self.b.name}"
        answer = self.client(self.a, "POST", "/_matrix/client/v3/keys/query",
                             alice["access_token"], {"device_keys": {bob_id: []}, "timeout": 3000})
        self.assertIn(self.b.name, answer["failures"])
        self.assertEqual(answer["device_keys"].get(bob_id, {}), {})


if __name__ == "__main__":
    unittest.main()
