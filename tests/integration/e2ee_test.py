"""End-to-end encryption with a real client (matrix-nio with python3-olm, Debian's packages)
against the real server.

alice and bob register with plain clients, then log in with encryption-enabled nio clients (Olm
accounts in a sqlite store each): both upload device keys and one-time keys, and the server's
one_time_key_counts must say how many. alice creates a room with m.room.encryption and invites
bob, who joins. alice sends a message: nio queries bob's device keys, claims one of bob's
one-time keys (bob's count in his next sync must be one lower), and sends the Megolm room key to
bob's device as an Olm-encrypted to-device message. bob's sync must deliver that to-device
message, and the timeline event must decrypt to the text alice sent; a sync after it delivers
no to-device message again. bob answers with a room key of his own over the Olm session alice
set up (so alice's count stays), and alice decrypts. In the dev build, service (and so api and
admin) is hot-reloaded while the room key waits for bob: he must still get it.

Every HTTP exchange nio makes must succeed. Usage: e2ee_test.py BUILD_DIR
"""

import os
import shutil
import sys
import tempfile
import unittest

import nio

sys.path.insert(0, os.path.dirname(__file__))
from server import ModuleDir, Server, run_clients  # noqa: E402

BUILD = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else "build/dev")
BINARY = os.path.join(BUILD, "bin", "conclave")
DEV = os.path.exists(os.path.join(BUILD, "lib", "libconclave_api.so"))
PASSWORD = "correct horse battery staple"
ENCRYPTION = {"type": "m.room.encryption", "state_key": "",
              "content": {"algorithm": "m.megolm.v1.aes-sha2"}}


def config(encryption):
    return nio.AsyncClientConfig(encryption_enabled=encryption, store_sync_tokens=False,
                                 max_limit_exceeded=0, max_timeouts=0, request_timeout=60)


class Client(nio.AsyncClient):
    """nio's client, recording every failed HTTP exchange."""

    def __init__(self, homeserver, user="", store_path="", encryption=False):
        super().__init__(homeserver, user, store_path=store_path, config=config(encryption))
        self.failures = []

    async def send(self, method, path, data=None, headers=None, trace_context=None,
                   timeout=None):
        response = await super().send(method, path, data, headers, trace_context, timeout)
        if response.status >= 300:
            self.failures.append((method, path.split("?")[0], response.status))
        return response


class E2eeTest(unittest.TestCase):
    def setUp(self):
        self.server = Server(BINARY)
        self.modules = ModuleDir(self.server, BUILD) if DEV else None
        self.server.start()
        self.stores = tempfile.mkdtemp(prefix="conclave-e2ee-store-")
        self.clients = []

    def tearDown(self):
        self.server.cleanup()
        shutil.rmtree(self.stores, ignore_errors=True)

    def ok(self, response, cls):
        self.assertIsInstance(response, cls, f"{type(response).__name__}: {response}")
        return response

    def client(self, user="", encryption=False):
        path = os.path.join(self.stores, user.strip("@").split(":")[0] or "plain")
        os.makedirs(path, exist_ok=True)
        c = Client(self.server.url, user, store_path=path, encryption=encryption)
        self.clients.append(c)
        return c

    async def e2ee_client(self, localpart):
        plain = self.client()
        self.ok(await plain.register(localpart, PASSWORD, f"{localpart} setup"),
                nio.RegisterResponse)
        c = self.client(f"@{localpart}:localhost", encryption=True)
        self.ok(await c.login(PASSWORD, device_name=f"{localpart} phone"), nio.LoginResponse)
        self.assertTrue(c.olm is not None, "nio has no Olm account: is python3-olm installed?")
        return c

    async def upload_keys(self, c):
        self.assertTrue(c.should_upload_keys)
        response = self.ok(await c.keys_upload(), nio.KeysUploadResponse)
        # nio uploads half of what its Olm account can hold, and the device keys with them.
        expected = c.olm.account.max_one_time_keys // 2
        self.assertEqual(response.signed_curve25519_count, expected)
        return expected

    async def sync(self, c, timeout=0):
        return self.ok(await c.sync(timeout=timeout, full_state=False), nio.SyncResponse)

    async def sync_until(self, c, found, what):
        for _ in range(20):
            response = await self.sync(c, timeout=3000)
            if found(response):
                return response
        self.fail(f"{c.user_id}: {what} never arrived")

    async def send_encrypted(self, sender, room_id, body):
        if sender.should_query_keys:
            self.ok(await sender.keys_query(), nio.KeysQueryResponse)
        response = await sender.room_send(room_id, "m.room.message",
                                          {"msgtype": "m.text", "body": body},
                                          ignore_unverified_devices=True)
        return self.ok(response, nio.RoomSendResponse)

    def decrypted(self, response, room_id, body):
        room = response.rooms.join.get(room_id)
        if room is None:
            return None
        for event in room.timeline.events:
            if isinstance(event, nio.MegolmEvent):
                self.fail(f"undecryptable event {event.event_id}: {event}")
            if isinstance(event, nio.RoomMessageText) and event.body == body:
                return event
        return None

    def test_encrypted_room_between_two_users(self):
        run_clients(self.server, self.clients, self.run_scenario)

    async def run_scenario(self):
        alice = await self.e2ee_client("alice")
        bob = await self.e2ee_client("bob")
        alice_keys = await self.upload_keys(alice)
        bob_keys = await self.upload_keys(bob)
        first = await self.sync(bob)
        self.assertEqual(first.device_key_count.signed_curve25519, bob_keys)

        room = self.ok(await alice.room_create(invite=[bob.user_id], initial_state=[ENCRYPTION]),
                       nio.RoomCreateResponse)
        await self.sync_until(bob, lambda r: room.room_id in r.rooms.invite, "the invite")
        self.ok(await bob.join(room.room_id), nio.JoinResponse)
        await self.sync_until(alice, lambda r: bob.user_id in
                              alice.rooms.get(room.room_id, nio.MatrixRoom("", "")).users,
                              "bob's join")
        await self.sync(bob)
        self.assertTrue(alice.rooms[room.room_id].encrypted)

        # alice -> bob: nio claims one of bob's one-time keys and sends him the room key.
        await self.send_encrypted(alice, room.room_id, "hello bob, encrypted")
        if DEV:
            # The room key waits for bob as a to-device message in the database: a reload of
            # service (and with it api and admin) before bob syncs must not lose it.
            self.modules.install_variant("service")
            line = self.modules.reload()
            self.assertIn("reloaded", line)
            self.assertIn("0 requests failed", line)
        got = await self.sync_until(
            bob, lambda r: self.decrypted(r, room.room_id, "hello bob, encrypted"),
            "alice's decrypted message")
        self.assertEqual(got.device_key_count.signed_curve25519, bob_keys - 1)
        room_keys = [e for e in got.to_device_events if isinstance(e, nio.OlmEvent) or
                     type(e).__name__ in ("RoomKeyEvent", "ForwardedRoomKeyEvent")]
        self.assertTrue(room_keys or bob.olm.inbound_group_store.get(
            room.room_id, alice.olm.account.identity_keys["curve25519"],
            alice.olm.outbound_group_sessions[room.room_id].id),
            f"bob got no room key: {got.to_device_events}")

        # The to-device message is gone once bob synced past it.
        again = await self.sync(bob)
        self.assertEqual(again.to_device_events, [])

        # bob -> alice.
        await self.send_encrypted(bob, room.room_id, "hi alice, encrypted too")
        reply = await self.sync_until(
            alice, lambda r: self.decrypted(r, room.room_id, "hi alice, encrypted too"),
            "bob's decrypted reply")
        # bob answers over the Olm session alice's pre-key message set up: no claim of alice's
        # keys, so her count has not moved.
        self.assertEqual(reply.device_key_count.signed_curve25519, alice_keys)

        failures = [f for c in self.clients for f in c.failures]
        self.assertEqual(failures, [])


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
