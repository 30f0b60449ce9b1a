"""Simplified sliding sync (MSC4186) end to end against a real server, raw HTTP in the wire format
matrix-js-sdk's SlidingSync and matrix-rust-sdk send (`pos` and `timeout` in the query, `ranges`,
[type, state_key] pairs): a list over 200 rooms paged by growing ranges, a long-polling request
woken by a send that moves the oldest room to the top, required_state with lazy members, the e2ee
and to_device extensions delivering key counts and a to-device message to a waiting request, and
a `pos` that expires with a restart (M_UNKNOWN_POS). Usage: sliding_sync_test.py BUILD_DIR
"""

import os
import sys
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(__file__))
from server import Server  # noqa: E402

BUILD = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else "build/dev")
BINARY = os.path.join(BUILD, "bin", "conclave")
V3 = "/_matrix/client/v3"
SLIDING = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync"
ROOMS = 200


class SlidingSyncTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(BINARY, env={"CONCLAVE_RC_MESSAGE_PER_SECOND": "0",
                                         "CONCLAVE_RC_REGISTRATION_PER_SECOND": "0",
                                         "CONCLAVE_RC_LOGIN_PER_SECOND": "0"})
        cls.server.start()
        # The first user becomes the server admin (and joins the admin room): not one of ours.
        status, data, _ = cls.server.request("POST", V3 + "/register", body={
            "username": "operator", "password": "pw", "auth": {"type": "m.login.dummy"}})
        assert status == 200, data

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()

    def call(self, method, path, body=None, token=None, timeout=30):
        status, data, _ = self.server.request(method, path, body=body, token=token,
                                              timeout=timeout)
        return status, data or {}

    def ok(self, method, path, body=None, token=None):
        status, data = self.call(method, path, body, token)
        assert status == 200, f"{method} {path}: {status} {data}"
        return data

    def register(self, name):
        return self.ok("POST", V3 + "/register", {
            "username": name, "password": "pw", "auth": {"type": "m.login.dummy"}})

    def sliding(self, token, body, pos=None, timeout_ms=0, conn_timeout=30):
        path = SLIDING
        if pos is not None:
            path += f"?pos={pos}&timeout={timeout_ms}"
        return self.call("POST", path, body, token, timeout=conn_timeout)

    def send(self, token, room, text):
        return self.ok("PUT", f"{V3}/rooms/{room}/send/m.room.message/{uuid.uuid4().hex}",
                       {"msgtype": "m.text", "body": text}, token)["event_id"]

    @staticmethod
    def bodies(room):
        return [e["content"]["body"] for e in room.get("timeline", [])
                if e["type"] == "m.room.message"]

    def test_list_over_many_rooms_paged_and_woken(self):
        alice = self.register("alice")["access_token"]
        rooms = [self.ok("POST", V3 + "/createRoom", {"name": f"room {i}"}, alice)["room_id"]
                 for i in range(ROOMS)]
        for i, room in enumerate(rooms):
            self.send(alice, room, f"message {i}")
        newest_first = list(reversed(rooms))

        def request(last):
            return {"lists": {"all": {"ranges": [[0, last]], "timeline_limit": 1,
                                      "required_state": [["m.room.name", ""]]}}}

        status, first = self.sliding(alice, request(19))
        self.assertEqual(status, 200, first)
        self.assertEqual(first["lists"]["all"]["count"], ROOMS)
        self.assertEqual(set(first["rooms"]), set(newest_first[:20]))
        top = first["rooms"][newest_first[0]]
        self.assertEqual((top["name"], top["initial"]), (f"room {ROOMS - 1}", True))
        self.assertEqual(self.bodies(top), [f"message {ROOMS - 1}"])
        # bump_stamp orders the rooms as the list does.
        stamps = [first["rooms"][r]["bump_stamp"] for r in newest_first[:20]]
        self.assertEqual(stamps, sorted(stamps, reverse=True))

        # Growing the range sends only the rooms this connection has not seen.
        status, grown = self.sliding(alice, request(99), pos=first["pos"])
        self.assertEqual(status, 200, grown)
        self.assertEqual(set(grown["rooms"]), set(newest_first[20:100]))
        status, rest = self.sliding(alice, request(ROOMS - 1), pos=grown["pos"])
        self.assertEqual(set(rest["rooms"]), set(newest_first[100:]))

        # A long-poll with nothing new waits; a message in the oldest room wakes it with that
        # room, moved to the top, its new event live.
        result = {}

        def poll():
            t0 = time.monotonic()
            result["answer"] = self.sliding(alice, request(0), pos=rest["pos"],
                                            timeout_ms=20000, conn_timeout=40)
            result["seconds"] = time.monotonic() - t0

        waiter = threading.Thread(target=poll)
        waiter.start()
        time.sleep(1.0)
        self.assertTrue(waiter.is_alive(), "the long-poll answered with nothing new")
        self.send(alice, rooms[0], "back to the top")
        waiter.join(30)
        self.assertFalse(waiter.is_alive())
        status, woken = result["answer"]
        self.assertEqual(status, 200, woken)
        self.assertLess(result["seconds"], 10)
        self.assertEqual(list(woken["rooms"]), [rooms[0]], woken)
        room = woken["rooms"][rooms[0]]
        self.assertNotIn("initial", room)
        self.assertEqual(self.bodies(room), ["back to the top"])
        self.assertEqual(room["num_live"], 1)

    def test_required_state_lazy_members(self):
        owner = self.register("owner")
        members = [self.register(f"member{i}") for i in range(4)]
        room = self.ok("POST", V3 + "/createRoom", {"preset": "public_chat"},
                       owner["access_token"])["room_id"]
        for m in members:
            self.ok("POST", f"{V3}/rooms/{room}/join", {}, m["access_token"])
        self.send(members[1]["access_token"], room, "one")
        self.send(members[2]["access_token"], room, "two")
        body = {"lists": {"l": {"ranges": [[0, 0]], "timeline_limit": 2,
                                "required_state": [["m.room.member", "$LAZY"],
                                                   ["m.room.member", "$ME"],
                                                   ["m.room.create", ""]]}}}
        status, r = self.sliding(owner["access_token"], body)
        self.assertEqual(status, 200, r)
        state = {(e["type"], e["state_key"]) for e in r["rooms"][room]["required_state"]}
        self.assertEqual(state, {("m.room.create", ""),
                                 ("m.room.member", owner["user_id"]),
                                 ("m.room.member", members[1]["user_id"]),
                                 ("m.room.member", members[2]["user_id"])})
        self.assertEqual(r["rooms"][room]["joined_count"], 5)

        # The next message from a member already sent brings no member event again; one from a
        # new sender brings theirs.
        self.send(members[2]["access_token"], room, "three")
        self.send(members[3]["access_token"], room, "four")
        status, nxt = self.sliding(owner["access_token"], body, pos=r["pos"])
        self.assertEqual(status, 200, nxt)
        state = {(e["type"], e["state_key"]) for e in nxt["rooms"][room]["required_state"]}
        self.assertEqual(state, {("m.room.member", members[3]["user_id"])})

    def test_extensions_deliver_keys_and_to_device(self):
        alice = self.register("keys_alice")
        bob = self.register("keys_bob")
        keys = {f"signed_curve25519:K{i}": {"key": uuid.uuid4().hex} for i in range(3)}
        self.ok("POST", V3 + "/keys/upload", {"one_time_keys": keys}, alice["access_token"])
        body = {"lists": {}, "extensions": {"e2ee": {"enabled": True},
                                             "to_device": {"enabled": True}}}
        status, first = self.sliding(alice["access_token"], body)
        self.assertEqual(status, 200, first)
        e2ee = first["extensions"]["e2ee"]
        self.assertEqual(e2ee["device_one_time_keys_count"].get("signed_curve25519"), 3, e2ee)
        self.assertEqual(first["extensions"]["to_device"]["events"], [])

        result = {}
        since = first["extensions"]["to_device"]["next_batch"]
        waiting = dict(body, extensions={"e2ee": {"enabled": True},
                                         "to_device": {"enabled": True, "since": since}})

        def poll():
            result["answer"] = self.sliding(alice["access_token"], waiting, pos=first["pos"],
                                            timeout_ms=20000, conn_timeout=40)

        waiter = threading.Thread(target=poll)
        waiter.start()
        time.sleep(0.5)
        self.assertTrue(waiter.is_alive())
        self.ok("PUT", f"{V3}/sendToDevice/m.room_key_request/{uuid.uuid4().hex}",
                {"messages": {alice["user_id"]: {alice["device_id"]: {"ping": 1}}}},
                bob["access_token"])
        waiter.join(30)
        status, woken = result["answer"]
        self.assertEqual(status, 200, woken)
        events = woken["extensions"]["to_device"]["events"]
        self.assertEqual([(e["sender"], e["type"], e["content"]) for e in events],
                         [(bob["user_id"], "m.room_key_request", {"ping": 1})])

    def test_pos_expires_with_a_restart(self):
        carol = self.register("carol")
        body = {"lists": {"l": {"ranges": [[0, 9]], "timeline_limit": 1}}}
        status, first = self.sliding(carol["access_token"], body)
        self.assertEqual(status, 200, first)
        self.server.stop()
        self.server.start()
        status, expired = self.sliding(carol["access_token"], body, pos=first["pos"])
        self.assertEqual((status, expired.get("errcode")), (400, "M_UNKNOWN_POS"), expired)
        # A new connection works at once.
        status, fresh = self.sliding(carol["access_token"], body)
        self.assertEqual(status, 200, fresh)


if __name__ == "__main__":
    unittest.main()
