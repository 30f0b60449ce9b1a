"""A thread, an edit and a reaction with a real Matrix client (matrix-nio, Debian's
python3-matrix-nio) against the real server, end to end.

alice and bob register; alice creates a room and bob joins. alice sends a message, bob replies in
a thread off it, alice edits her message and bob reacts to it (m.annotation), each through nio's
room_send. Then, as clients read them: nio's sync parses them; GET /event of the root
carries the bundled m.thread summary (bob's reply as latest_event, count 1, bob participated)
and m.replace (alice's edit) while its content stays the original; GET /relations lists the
three children newest first, /relations/{root}/m.annotation the reaction only; GET /threads lists
the root; a threaded read receipt on the reply is accepted and one naming `main` refused.
Usage: relations_test.py BUILD_DIR
"""

import json
import os
import sys
import unittest

import nio

sys.path.insert(0, os.path.dirname(__file__))
from matrix_test import CONFIG, PASSWORD, BUILD, BINARY, DEV  # noqa: E402
from server import ModuleDir, Server, run_clients  # noqa: E402


class RelationsTest(unittest.TestCase):
    def setUp(self):
        self.server = Server(BINARY)
        self.modules = ModuleDir(self.server, BUILD) if DEV else None
        self.server.start()
        self.clients = []

    def tearDown(self):
        self.server.cleanup()

    def ok(self, response, cls):
        self.assertIsInstance(response, cls, f"{type(response).__name__}: {response}")
        return response

    async def get(self, client, path, expect=200, method="GET", body=None):
        headers = {"Authorization": f"Bearer {client.access_token}"}
        data = json.dumps(body) if body is not None else None
        if data is not None:
            headers["Content-Type"] = "application/json"
        response = await client.send(method, path, data, headers)
        text = await response.text()
        self.assertEqual(response.status, expect, f"{method} {path}: {text}")
        return json.loads(text)

    def test_thread_edit_and_reaction(self):
        async def scenario():
            alice = nio.AsyncClient(self.server.url, config=CONFIG)
            bob = nio.AsyncClient(self.server.url, config=CONFIG)
            self.clients.extend([alice, bob])
            self.ok(await alice.register("alice", PASSWORD, "alice phone"), nio.RegisterResponse)
            self.ok(await bob.register("bob", PASSWORD, "bob phone"), nio.RegisterResponse)
            room = self.ok(await alice.room_create(name="Threads", invite=[bob.user_id]),
                           nio.RoomCreateResponse).room_id
            self.ok(await bob.join(room), nio.JoinResponse)

            async def send(client, content, type="m.room.message"):
                r = self.ok(await client.room_send(room, type, content), nio.RoomSendResponse)
                return r.event_id

            root = await send(alice, {"msgtype": "m.text", "body": "cake?"})
            reply = await send(bob, {"msgtype": "m.text", "body": "yes",
                                     "m.relates_to": {"rel_type": "m.thread", "event_id": root}})
            edit = await send(alice, {"msgtype": "m.text", "body": "* chocolate cake?",
                                      "m.new_content": {"msgtype": "m.text",
                                                        "body": "chocolate cake?"},
                                      "m.relates_to": {"rel_type": "m.replace",
                                                       "event_id": root}})
            reaction = await send(bob, {"m.relates_to": {"rel_type": "m.annotation",
                                                         "event_id": root, "key": "👍"}},
                                  "m.reaction")

            synced = self.ok(await bob.sync(timeout=0), nio.SyncResponse)
            ids = [getattr(e, "event_id", None) for e in synced.rooms.join[room].timeline.events]
            for event_id in (root, reply, edit, reaction):
                self.assertIn(event_id, ids)

            event = await self.get(bob, f"/_matrix/client/v3/rooms/{room}/event/{root}")
            self.assertEqual(event["content"]["body"], "cake?")
            bundle = event["unsigned"]["m.relations"]
            self.assertEqual(bundle["m.thread"]["latest_event"]["event_id"], reply)
            self.assertEqual(bundle["m.thread"]["count"], 1)
            self.assertTrue(bundle["m.thread"]["current_user_participated"])
            self.assertEqual(bundle["m.replace"]["event_id"], edit)

            base = f"/_matrix/client/v1/rooms/{room}"
            children = await self.get(bob, f"{base}/relations/{root}")
            self.assertEqual([e["event_id"] for e in children["chunk"]], [reaction, edit, reply])
            reactions = await self.get(bob, f"{base}/relations/{root}/m.annotation")
            self.assertEqual([e["event_id"] for e in reactions["chunk"]], [reaction])
            threads = await self.get(alice, f"{base}/threads")
            self.assertEqual([e["event_id"] for e in threads["chunk"]], [root])

            receipt = f"/_matrix/client/v3/rooms/{room}/receipt/m.read/{reply}"
            await self.get(alice, receipt, 200, "POST", {"thread_id": root})
            refused = await self.get(alice, receipt, 400, "POST", {"thread_id": "main"})
            self.assertEqual(refused["errcode"], "M_INVALID_PARAM")

        run_clients(self.server, self.clients, scenario)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])
