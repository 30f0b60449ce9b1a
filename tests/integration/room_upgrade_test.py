"""A room upgrade and a knock end to end, with matrix-nio (Debian's python3-matrix-nio) against
the real server.

alice creates a version 10 room with an alias and a name, bob joins and they talk. alice
upgrades it to version 12 with POST /rooms/{roomId}/upgrade (raw HTTP from the same test:
nio 0.20's room_upgrade builds the new room itself on the client instead of calling the
endpoint). bob's sync must show the old room's m.room.tombstone naming the replacement room,
the alias must resolve to it, the name must have moved, bob joins it with nio and the two talk
there, and the old room refuses bob's messages now (events_default raised to 50).

Then knocking: alice makes the new room `knock`; carol knocks (raw POST /knock/{alias} with a
reason), alice's nio sync sees carol's knock membership, carol's /sync lists the room under
rooms.knock with its stripped state, alice invites carol and carol joins with nio.

Usage: room_upgrade_test.py BUILD_DIR
"""

import os
import sys
import unittest
import urllib.parse

import nio

sys.path.insert(0, os.path.dirname(__file__))
from server import Server, run_clients, nio_config  # noqa: E402

BUILD = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else "build/dev")
BINARY = os.path.join(BUILD, "bin", "conclave")
V3 = "/_matrix/client/v3"
PASSWORD = "correct horse battery staple"

CONFIG = nio_config()


def q(text):
    return urllib.parse.quote(text, safe="")


class RoomUpgradeTest(unittest.TestCase):
    def setUp(self):
        self.server = Server(BINARY)
        self.server.start()
        self.clients = []

    def tearDown(self):
        self.server.cleanup()

    def ok(self, response, cls):
        self.assertIsInstance(response, cls, f"{type(response).__name__}: {response}")
        return response

    def raw(self, method, path, client, body=None, status=200):
        got, data, _ = self.server.request(method, V3 + path, body=body, token=client.access_token)
        self.assertEqual(got, status, f"{method} {path}: {got} {data}")
        return data

    async def user(self, name):
        client = nio.AsyncClient(self.server.url, "", config=CONFIG)
        self.clients.append(client)
        self.ok(await client.register(name, PASSWORD), nio.RegisterResponse)
        return client

    async def sync_until(self, client, found, what):
        """Syncs `client` until `found(response)` holds; fails after 20 syncs."""
        for _ in range(20):
            response = self.ok(await client.sync(timeout=2000), nio.SyncResponse)
            if found(response):
                return response
        self.fail(f"{client.user_id} never saw {what}")

    def test_upgrade_then_knock(self):
        run_clients(self.server, self.clients, self.scenario)

    async def scenario(self):
        alice = await self.user("alice")
        bob = await self.user("bob")
        carol = await self.user("carol")
        old = self.ok(await alice.room_create(alias="lounge", name="Lounge", room_version="10",
                                              preset=nio.RoomPreset.public_chat),
                      nio.RoomCreateResponse).room_id
        self.ok(await bob.join(old), nio.JoinResponse)
        self.ok(await alice.room_send(old, "m.room.message", {"msgtype": "m.text", "body": "hi"}),
                nio.RoomSendResponse)
        await bob.sync()

        # bob (level 0) may not upgrade; alice upgrades to version 12.
        error = self.raw("POST", f"/rooms/{q(old)}/upgrade", bob, {"new_version": "12"}, 403)
        self.assertEqual(error["errcode"], "M_FORBIDDEN")
        error = self.raw("POST", f"/rooms/{q(old)}/upgrade", alice, {"new_version": "99"}, 400)
        self.assertEqual(error["errcode"], "M_UNSUPPORTED_ROOM_VERSION")
        new = self.raw("POST", f"/rooms/{q(old)}/upgrade", alice,
                       {"new_version": "12"})["replacement_room"]
        self.assertRegex(new, r"^![A-Za-z0-9_-]{43}$")  # v12: the create event's hash

        def tombstoned(response):
            info = response.rooms.join.get(old)
            return info is not None and any(
                isinstance(e, nio.RoomUpgradeEvent) and e.replacement_room == new
                for e in info.timeline.events)
        await self.sync_until(bob, tombstoned, "the tombstone")
        resolved = self.ok(await bob.room_resolve_alias("#lounge:localhost"),
                           nio.RoomResolveAliasResponse)
        self.assertEqual(resolved.room_id, new)
        state = self.raw("GET", f"/rooms/{q(new)}/state/m.room.create", alice)
        self.assertEqual((state["room_version"], state["predecessor"]["room_id"]), ("12", old))
        self.assertEqual(self.raw("GET", f"/rooms/{q(new)}/state/m.room.name", alice)["name"],
                         "Lounge")

        self.ok(await bob.join(new), nio.JoinResponse)
        sent = self.ok(await bob.room_send(new, "m.room.message",
                                           {"msgtype": "m.text", "body": "moved"}),
                       nio.RoomSendResponse)

        def has_moved(response):
            info = response.rooms.join.get(new)
            return info is not None and any(getattr(e, "event_id", None) == sent.event_id
                                            for e in info.timeline.events)
        await self.sync_until(alice, has_moved, "bob's message in the new room")
        refused = await bob.room_send(old, "m.room.message", {"msgtype": "m.text", "body": "x"})
        self.assertIsInstance(refused, nio.RoomSendError)
        self.assertEqual(refused.status_code, "M_FORBIDDEN")

        # Knocking on the new room.
        self.ok(await alice.room_put_state(new, "m.room.join_rules", {"join_rule": "knock"}),
                nio.RoomPutStateResponse)
        knocked = self.raw("POST", f"/knock/{q('#lounge:localhost')}", carol,
                           {"reason": "let me in", "server_name": ["ignored.example"]})
        self.assertEqual(knocked["room_id"], new)

        def sees_knock(response):
            info = response.rooms.join.get(new)
            return info is not None and any(
                isinstance(e, nio.RoomMemberEvent) and e.state_key == carol.user_id and
                e.membership == "knock" for e in info.timeline.events)
        await self.sync_until(alice, sees_knock, "carol's knock")
        sync = self.raw("GET", "/sync", carol)
        knock_state = sync["rooms"]["knock"][new]["knock_state"]["events"]
        self.assertIn(("m.room.member", carol.user_id, "knock"),
                      [(e["type"], e.get("state_key"), e["content"].get("membership"))
                       for e in knock_state])
        self.assertIn("m.room.join_rules", [e["type"] for e in knock_state])
        # Knocking does not let carol in; alice's invite does.
        self.assertIsInstance(await carol.join(new), nio.JoinError)
        self.ok(await alice.room_invite(new, carol.user_id), nio.RoomInviteResponse)
        self.ok(await carol.join(new), nio.JoinResponse)
        members = self.raw("GET", f"/rooms/{q(new)}/joined_members", alice)["joined"]
        self.assertEqual(set(members), {alice.user_id, bob.user_id, carol.user_id})


if __name__ == "__main__":
    unittest.main(verbosity=2)
