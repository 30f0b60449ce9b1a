"""Push rules and notification counts with a real Matrix client (matrix-nio, Debian's
python3-matrix-nio) against the real server.

bob sets a display name and joins alice's room. alice mentions him by display name: bob's sync
shows the room with highlight_count 1 (rule .m.rule.contains_display_name, evaluated at send
time) and a plain message raises only notification_count; his read receipt brings both to 0.
bob adds a room rule with no actions through nio's set_pushrule: alice's next message is not
counted, and GET of the rule answers its empty actions. After
delete_pushrule the room counts again. GET /notifications lists the highlighted mention. Usage:
push_test.py BUILD_DIR
"""

import asyncio
import os
import sys
import unittest

import nio
from nio.api import PushRuleKind

sys.path.insert(0, os.path.dirname(__file__))
from server import Server, run_clients, nio_config  # noqa: E402

BUILD = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else "build/dev")
BINARY = os.path.join(BUILD, "bin", "conclave")
PASSWORD = "correct horse battery staple"

CONFIG = nio_config()


class PushTest(unittest.TestCase):
    def setUp(self):
        self.server = Server(BINARY)
        self.server.start()

    def tearDown(self):
        self.server.cleanup()

    def test_mention_by_display_name_highlights(self):
        alice = nio.AsyncClient(self.server.url, "alice", config=CONFIG)
        bob = nio.AsyncClient(self.server.url, "bob", config=CONFIG)

        async def ok(response, kind):
            self.assertIsInstance(response, kind, response)
            return response

        async def sync_room(client, room_id):
            await ok(await client.sync(timeout=0), nio.SyncResponse)
            return client.rooms[room_id]

        async def scenario():
            await ok(await alice.register("alice", PASSWORD), nio.RegisterResponse)
            await ok(await bob.register("bob", PASSWORD), nio.RegisterResponse)
            await ok(await bob.set_displayname("Bobby Tables"), nio.ProfileSetDisplayNameResponse)
            room_id = (await ok(await alice.room_create(name="Lunch"),
                                nio.RoomCreateResponse)).room_id
            await ok(await alice.room_invite(room_id, "@bob:localhost"), nio.RoomInviteResponse)
            await ok(await bob.join(room_id), nio.JoinResponse)
            await ok(await bob.sync(timeout=0), nio.SyncResponse)

            async def say(text):
                return (await ok(await alice.room_send(room_id, "m.room.message",
                                                       {"msgtype": "m.text", "body": text}),
                                 nio.RoomSendResponse)).event_id

            await say("lunch, anyone?")
            mention = await say("what about you, bobby tables?")
            room = await sync_room(bob, room_id)
            self.assertEqual((room.unread_notifications, room.unread_highlights), (2, 1))

            await ok(await bob.room_read_markers(room_id, mention, mention),
                     nio.RoomReadMarkersResponse)
            room = await sync_room(bob, room_id)
            self.assertEqual((room.unread_notifications, room.unread_highlights), (0, 0))

            await ok(await bob.set_pushrule("global", PushRuleKind.room, room_id, actions=[]),
                     nio.SetPushRuleResponse)
            await say("muted")
            room = await sync_room(bob, room_id)
            self.assertEqual(room.unread_notifications, 0)
            status, rules, _ = self.server.request(
                "GET", "/_matrix/client/v3/pushrules/global/room/" + room_id.replace("!", "%21"),
                token=bob.access_token)
            self.assertEqual((status, rules.get("actions")), (200, []))

            await ok(await bob.delete_pushrule("global", PushRuleKind.room, room_id),
                     nio.DeletePushRuleResponse)
            await say("heard again")
            room = await sync_room(bob, room_id)
            self.assertEqual((room.unread_notifications, room.unread_highlights), (1, 0))

            status, listed, _ = self.server.request(
                "GET", "/_matrix/client/v3/notifications?only=highlight", token=bob.access_token)
            self.assertEqual(status, 200, listed)
            self.assertEqual([n["event"]["event_id"] for n in listed["notifications"]], [mention])
            self.assertTrue(listed["notifications"][0]["read"])

        run_clients(self.server, [alice, bob], scenario)


if __name__ == "__main__":
    unittest.main(verbosity=2)
