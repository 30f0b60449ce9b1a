"""Full-text search against the real binary: two matrix-nio clients (Debian's python3-matrix-nio)
register, create rooms and send messages; POST /search (which nio 0.20 has no API for) goes over
raw HTTP with their access tokens. alice finds her message, with context and highlights, and
not the one in bob's room she is not in; a redaction takes a message out of the results; and
after SIGKILL and a restart on the same data the index (caught up from the timeline) still
finds everything that was acknowledged. A space made with nio (`space=True`, m.space.child state)
answers GET /v1/rooms/{roomId}/hierarchy over raw HTTP (nio has no hierarchy API either): its
public child for bob, the private one only for alice. Usage: search_test.py BUILD_DIR
"""

import os
import signal
import sys
import unittest

import nio

sys.path.insert(0, os.path.dirname(__file__))
from server import Server, run_clients, nio_config  # noqa: E402

BUILD = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else "build/dev")
BINARY = os.path.join(BUILD, "bin", "conclave")
PASSWORD = "correct horse battery staple"
CONFIG = nio_config()


class SearchTest(unittest.TestCase):
    def setUp(self):
        self.server = Server(BINARY)
        self.server.start()

    def tearDown(self):
        self.server.cleanup()

    def search(self, token, term, **criteria):
        criteria["search_term"] = term
        status, data, _ = self.server.request(
            "POST", "/_matrix/client/v3/search",
            body={"search_categories": {"room_events": criteria}}, token=token)
        self.assertEqual(status, 200, f"{status} {data}\n{self.server.log()[-3000:]}")
        return data["search_categories"]["room_events"]

    def test_search_finds_own_rooms_only_and_survives_sigkill(self):
        alice = nio.AsyncClient(self.server.url, "", config=CONFIG)
        bob = nio.AsyncClient(self.server.url, "", config=CONFIG)
        ids = {}

        async def scenario():
            for client, name in ((alice, "alice"), (bob, "bob")):
                r = await client.register(name, PASSWORD)
                self.assertIsInstance(r, nio.RegisterResponse, r)
            r = await alice.room_create(name="Recipes")
            self.assertIsInstance(r, nio.RoomCreateResponse, r)
            ids["alice_room"] = r.room_id
            r = await bob.room_create(name="Bob's secrets")
            self.assertIsInstance(r, nio.RoomCreateResponse, r)
            ids["bob_room"] = r.room_id
            for text in ("first, preheat the oven", "knead the sourdough for ten minutes",
                         "then let it rest"):
                r = await alice.room_send(ids["alice_room"], "m.room.message",
                                          {"msgtype": "m.text", "body": text})
                self.assertIsInstance(r, nio.RoomSendResponse, r)
                ids.setdefault("alice_events", []).append(r.event_id)
            r = await bob.room_send(ids["bob_room"], "m.room.message",
                                    {"msgtype": "m.text", "body": "my sourdough starter recipe"})
            self.assertIsInstance(r, nio.RoomSendResponse, r)
            r = await alice.room_send(ids["alice_room"], "m.room.message",
                                      {"msgtype": "m.text", "body": "oops: password hunter2"})
            self.assertIsInstance(r, nio.RoomSendResponse, r)
            ids["oops"] = r.event_id
            r = await alice.room_redact(ids["alice_room"], ids["oops"])
            self.assertIsInstance(r, nio.RoomRedactResponse, r)

        run_clients(self.server, [alice, bob], scenario)

        found = self.search(alice.access_token, "sourdough",
                            event_context={"before_limit": 1, "after_limit": 1})
        self.assertEqual(found["count"], 1, found)
        result = found["results"][0]
        self.assertEqual(result["result"]["event_id"], ids["alice_events"][1])
        self.assertEqual(result["result"]["room_id"], ids["alice_room"])
        self.assertIn("sourdough", found["highlights"])
        self.assertEqual([e["event_id"] for e in result["context"]["events_before"]],
                         [ids["alice_events"][0]])
        self.assertEqual([e["event_id"] for e in result["context"]["events_after"]],
                         [ids["alice_events"][2]])
        # bob finds only his own.
        bobs = self.search(bob.access_token, "sourdough")
        self.assertEqual([r["result"]["room_id"] for r in bobs["results"]], [ids["bob_room"]])
        # The redacted message is gone.
        self.assertEqual(self.search(alice.access_token, "hunter2")["count"], 0)
        # A room name is searchable under content.name.
        named = self.search(alice.access_token, "recipes", keys=["content.name"])
        self.assertEqual(named["count"], 1, named)

        # SIGKILL: whatever the index had not committed is indexed again from the timeline.
        self.server.stop(signal.SIGKILL)
        self.server.start()
        again = self.search(alice.access_token, "sourdough OR oven", order_by="recent")
        self.assertEqual([r["result"]["event_id"] for r in again["results"]],
                         [ids["alice_events"][1], ids["alice_events"][0]])

    def test_space_hierarchy(self):
        alice = nio.AsyncClient(self.server.url, "", config=CONFIG)
        bob = nio.AsyncClient(self.server.url, "", config=CONFIG)
        ids = {}

        async def scenario():
            for client, name in ((alice, "alice"), (bob, "bob")):
                r = await client.register(name, PASSWORD)
                self.assertIsInstance(r, nio.RegisterResponse, r)
            r = await alice.room_create(name="Team", space=True,
                                        preset=nio.RoomPreset.public_chat)
            self.assertIsInstance(r, nio.RoomCreateResponse, r)
            ids["space"] = r.room_id
            for key, preset in (("lobby", nio.RoomPreset.public_chat),
                                ("staff", nio.RoomPreset.private_chat)):
                r = await alice.room_create(name=key, preset=preset)
                self.assertIsInstance(r, nio.RoomCreateResponse, r)
                ids[key] = r.room_id
                r = await alice.room_put_state(ids["space"], "m.space.child",
                                               {"via": ["localhost"]}, state_key=ids[key])
                self.assertIsInstance(r, nio.RoomPutStateResponse, r)

        run_clients(self.server, [alice, bob], scenario)

        def hierarchy(token):
            status, data, _ = self.server.request(
                "GET", f"/_matrix/client/v1/rooms/{ids['space']}/hierarchy", token=token)
            self.assertEqual(status, 200, f"{status} {data}")
            return {room["room_id"]: room for room in data["rooms"]}

        mine = hierarchy(alice.access_token)
        self.assertEqual(set(mine), {ids["space"], ids["lobby"], ids["staff"]})
        self.assertEqual(mine[ids["space"]]["room_type"], "m.space")
        self.assertEqual({c["state_key"] for c in mine[ids["space"]]["children_state"]},
                         {ids["lobby"], ids["staff"]})
        self.assertEqual(set(hierarchy(bob.access_token)), {ids["space"], ids["lobby"]})


if __name__ == "__main__":
    unittest.main()
