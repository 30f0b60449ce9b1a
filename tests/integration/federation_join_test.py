"""Remote servers join conclave's rooms, and invite its users (Server-Server API "Joining Rooms",
"Inviting to a room"): two conclave servers on loopback as in federation_test.py, A on 127.0.0.2
and B on 127.0.0.3. B's side is played here in Python with B's signing key (from B's key file):

- B asks A for a make_join template for @bob:B, builds the join from it (content hash, B's
  signature over the redacted event, the event id as reference hash), sends it with PUT
  /v2/send_join; A answers the state before the join and its auth chain, each PDU checked here
  as B would, and alice's /sync on A shows bob joined.
- B invites alice to a room of B's with PUT /v2/invite; A answers the invite with A's signature
  added (verified here with A's published key), and alice's /sync on A has it in rooms.invite
  with the invite_room_state B sent.

Usage: federation_join_test.py BUILD_DIR
"""

import base64
import hashlib
import http.client
import json
import os
import ssl
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
import federation_test as fed  # noqa: E402  (pops BUILD_DIR from sys.argv)

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat  # noqa: E402


def q(text):
    return urllib.parse.quote(text, safe="")


class FederationJoinTest(fed.FederationTest):
    def federation_put(self, side, target, body, origin, key_id, seed):
        """PUT `body` to `target` on `side`'s TLS listener, X-Matrix signed by `origin`."""
        request = {"method": "PUT", "uri": target, "origin": origin, "destination": side.name,
                   "content": body}
        signature = fed.b64encode(Ed25519PrivateKey.from_private_bytes(seed).sign(
            fed.canonical_json(request)))
        authorization = (f'X-Matrix origin="{origin}",destination="{side.name}",key="{key_id}",'
                         f'sig="{signature}"')
        context = ssl.create_default_context(cafile=side.cert)
        conn = http.client.HTTPSConnection(side.address, side.port, context=context, timeout=30)
        try:
            conn.request("PUT", target, body=fed.canonical_json(body),
                         headers={"Host": side.name, "Authorization": authorization,
                                  "Content-Type": "application/json"})
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read() or b"null")
        finally:
            conn.close()

    def sign_event(self, event, origin, key_id, seed):
        """Adds the content hash and `origin`'s signature (room version 10); returns the id."""
        event["hashes"] = {"sha256": fed.b64encode(hashlib.sha256(fed.canonical_json(
            {k: v for k, v in event.items()
             if k not in ("unsigned", "signatures", "hashes")})).digest())}
        signature = fed.b64encode(Ed25519PrivateKey.from_private_bytes(seed).sign(
            fed.signed_bytes(fed.redact_v10(event))))
        event.setdefault("signatures", {})[origin] = {key_id: signature}
        reference = hashlib.sha256(fed.signed_bytes(fed.redact_v10(event))).digest()
        return "$" + base64.urlsafe_b64encode(reference).decode().rstrip("=")

    def register(self, server, name):
        status, registered, _ = server.request("POST", "/_matrix/client/v3/register", body={
            "username": name, "password": f"pw-{name}-123", "auth": {"type": "m.login.dummy"}})
        self.assertEqual(status, 200, registered)
        return registered["access_token"]

    def sync_until(self, server, token, since, found):
        """Long-polls /sync from `since` until `found(response)` is true (at most 20 s)."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            path = "/_matrix/client/v3/sync?timeout=5000" + (f"&since={since}" if since else "")
            status, response, _ = server.request("GET", path, token=token)
            self.assertEqual(status, 200, response)
            if found(response):
                return response
            since = response["next_batch"]
        self.fail("not seen in /sync")

    def test_b_joins_a_room_on_a_and_invites_alice(self):
        a = self.server(self.a)
        token = self.register(a, "alice")
        alice = f"@alice:{self.a.name}"
        bob = f"@bob:{self.b.name}"
        status, room, _ = a.request("POST", "/_matrix/client/v3/createRoom", token=token, body={
            "room_version": "10", "preset": "public_chat", "name": "Hall"})
        self.assertEqual(status, 200, room)
        room_id = room["room_id"]
        status, first, _ = a.request("GET", "/_matrix/client/v3/sync?timeout=0", token=token)
        self.assertEqual(status, 200, first)

        ((a_key_id, a_key),) = self.own_keys(self.a)["verify_keys"].items()
        b_key_id, b_seed = self.signing_seed(self.b)

        # make_join, signed as B (A fetches B's key from B).
        uri = f"/_matrix/federation/v1/make_join/{q(room_id)}/{q(bob)}?ver=9&ver=10"
        auth = self.x_matrix(self.b.name, self.a.name, b_key_id, b_seed, "GET", uri)
        status, made = self.federation_get(self.a, uri, auth)
        self.assertEqual(status, 200, f"{made}\n{a.log()[-3000:]}")
        self.assertEqual(made["room_version"], "10")
        event = made["event"]
        self.assertEqual((event["sender"], event["state_key"], event["origin"]),
                         (bob, bob, self.b.name))
        self.assertEqual(event["content"]["membership"], "join")
        self.assertNotIn("signatures", event)

        # An old ver only: M_INCOMPATIBLE_ROOM_VERSION with the room's version.
        old_uri = f"/_matrix/federation/v1/make_join/{q(room_id)}/{q(bob)}?ver=9"
        status, error = self.federation_get(self.a, old_uri, self.x_matrix(
            self.b.name, self.a.name, b_key_id, b_seed, "GET", old_uri))
        self.assertEqual((status, error["errcode"], error.get("room_version")),
                         (400, "M_INCOMPATIBLE_ROOM_VERSION", "10"), error)

        event_id = self.sign_event(event, self.b.name, b_key_id, b_seed)
        send_uri = f"/_matrix/federation/v2/send_join/{q(room_id)}/{q(event_id)}"
        status, joined = self.federation_put(self.a, send_uri, event, self.b.name, b_key_id,
                                             b_seed)
        self.assertEqual(status, 200, f"{joined}\n{a.log()[-3000:]}")
        self.assertEqual(joined["origin"], self.a.name)
        self.assertEqual(joined["event"]["signatures"][self.b.name], event["signatures"][self.b.name])
        # The state before the join and its auth chain, as B checks them: A's hashes and
        # signatures, the ids; alice's join among the state, bob's not.
        state_keys = set()
        state_ids = set()
        for pdu in joined["state"]:
            state_ids.add(fed.check_pdu_v10(self, pdu, self.a.name, a_key_id, a_key["key"]))
            state_keys.add((pdu["type"], pdu.get("state_key")))
        for key in (("m.room.create", ""), ("m.room.member", alice), ("m.room.power_levels", ""),
                    ("m.room.join_rules", ""), ("m.room.name", "")):
            self.assertIn(key, state_keys)
        self.assertNotIn(("m.room.member", bob), state_keys)
        chain = {fed.check_pdu_v10(self, pdu, self.a.name, a_key_id, a_key["key"])
                 for pdu in joined["auth_chain"]}
        # The join's auth events are in the state; the state's auth events in the chain.
        for auth_id in event["auth_events"]:
            self.assertIn(auth_id, state_ids)
        for pdu in joined["state"]:
            for auth_id in pdu["auth_events"]:
                self.assertIn(auth_id, chain)

        # Alice's client on A sees bob join, with the id B computed.
        def bob_joined(response):
            timeline = response.get("rooms", {}).get("join", {}).get(room_id, {}).get(
                "timeline", {}).get("events", [])
            return any(e["event_id"] == event_id and e["state_key"] == bob
                       and e["content"]["membership"] == "join" for e in timeline)
        self.sync_until(a, token, first["next_batch"], bob_joined)
        status, members, _ = a.request(
            "GET", f"/_matrix/client/v3/rooms/{q(room_id)}/joined_members", token=token)
        self.assertEqual(status, 200, members)
        self.assertIn(bob, members["joined"])

        # B invites alice to a room of its own.
        status, before_invite, _ = a.request("GET", "/_matrix/client/v3/sync?timeout=0",
                                             token=token)
        remote_room = f"!elsewhere:{self.b.name}"
        invite = {"type": "m.room.member", "room_id": remote_room, "sender": bob,
                  "state_key": alice, "origin": self.b.name,
                  "origin_server_ts": int(time.time() * 1000), "depth": 4,
                  "prev_events": ["$" + "p" * 43], "auth_events": ["$" + "a" * 43],
                  "content": {"membership": "invite"}}
        invite_id = self.sign_event(invite, self.b.name, b_key_id, b_seed)
        name_event = {"type": "m.room.name", "state_key": "", "sender": bob,
                      "content": {"name": "Over at B"}}
        status, answer = self.federation_put(
            self.a, f"/_matrix/federation/v2/invite/{q(remote_room)}/{q(invite_id)}",
            {"room_version": "10", "event": invite, "invite_room_state": [name_event]},
            self.b.name, b_key_id, b_seed)
        self.assertEqual(status, 200, f"{answer}\n{a.log()[-3000:]}")
        signed = answer["event"]
        fed.verify_signature(fed.redact_v10(signed), self.a.name, a_key_id, a_key["key"])
        fed.verify_signature(fed.redact_v10(signed), self.b.name, b_key_id,
                             fed.b64encode(Ed25519PrivateKey.from_private_bytes(b_seed)
                                           .public_key().public_bytes(Encoding.Raw,
                                                                      PublicFormat.Raw)))

        def invited(response):
            room = response.get("rooms", {}).get("invite", {}).get(remote_room)
            if room is None:
                return False
            events = room["invite_state"]["events"]
            self.assertIn(name_event, events)
            self.assertTrue(any(e["type"] == "m.room.member" and e["state_key"] == alice
                                and e["content"]["membership"] == "invite" for e in events))
            return True
        self.sync_until(a, token, before_invite["next_batch"], invited)


def load_tests(loader, tests, pattern):
    # Only this file's test, not the ones inherited from federation_test.FederationTest.
    return unittest.TestSuite([FederationJoinTest("test_b_joins_a_room_on_a_and_invites_alice")])


if __name__ == "__main__":
    unittest.main()
