"""Two users on a real Matrix client (matrix-nio, Debian's python3-matrix-nio) against the real
server, end to end.

alice and bob register, alice logs in a second device, creates a room with a name and topic and
invites bob, who joins. They exchange messages; each message must reach the other user's waiting
long-poll /sync (timeout 30 s) well under a second after it was sent. Then: history through
/messages scrolled back to the start, name and topic changes, typing, a read receipt, a
displayname change seen in the member event, bob leaving. Finally the server is stopped (SIGTERM)
and started again on the same data: the old access tokens still work and an initial sync finds
the room, its name, topic and every message in order.

In the dev build, in the middle of the exchange and while long-polls are waiting, a rebuilt api
module and then a rebuilt service module (which reloads api and admin with it) are swapped in:
no request may fail, the waiting syncs are answered early, no message is lost or duplicated, and
the access tokens stay valid.

Every HTTP exchange nio makes is checked: nio's own retries are disabled, so a connection error
raises, and every response must be a success type. Usage: matrix_test.py BUILD_DIR
"""

import asyncio
import os
import signal
import sys
import time
import unittest

import nio
from nio.responses import WhoamiResponse

sys.path.insert(0, os.path.dirname(__file__))
from server import ModuleDir, Server, run_clients  # noqa: E402

BUILD = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else "build/dev")
BINARY = os.path.join(BUILD, "bin", "conclave")
DEV = os.path.exists(os.path.join(BUILD, "lib", "libconclave_api.so"))

LONG_POLL_MS = 30000
# "Well under a second": the time from sending to the other client's sync returning it.
MAX_WAKE_SECONDS = 0.5
PASSWORD = "correct horse battery staple"

CONFIG = nio.AsyncClientConfig(
    encryption_enabled=False,
    store_sync_tokens=False,
    max_limit_exceeded=0,  # a 429 is returned, not retried
    max_timeouts=0,        # a connection error or timeout raises, not retried
    request_timeout=60,
)


class Client(nio.AsyncClient):
    """nio's client, recording every HTTP exchange so a test can assert none failed."""

    def __init__(self, homeserver, user=""):
        super().__init__(homeserver, user, config=CONFIG)
        self.exchanges = []        # (method, path, status)
        self.transport_errors = []
        self.timeline = {}         # room id -> event ids in the order syncs delivered them

    async def send(self, method, path, data=None, headers=None, trace_context=None,
                   timeout=None):
        try:
            response = await super().send(method, path, data, headers, trace_context, timeout)
        except Exception as e:  # noqa: BLE001 - recorded, then raised to the test
            self.transport_errors.append(f"{method} {path.split('?')[0]}: {e!r}")
            raise
        self.exchanges.append((method, path.split("?")[0], response.status))
        return response

    def failed_exchanges(self):
        return [e for e in self.exchanges if e[2] >= 300] + self.transport_errors


def messages_of(events):
    return [e for e in events if isinstance(e, nio.RoomMessageText)]


class MatrixTest(unittest.TestCase):
    # A plain asyncio loop (IsolatedAsyncioTestCase runs it in debug mode, which slows it down).
    def setUp(self):
        self.server = Server(BINARY)
        self.modules = ModuleDir(self.server, BUILD) if DEV else None
        self.server.start()
        self.clients = []
        self.wake_times = []  # (what, seconds)
        self.reload_answers = []  # (module, seconds from the reload signal to the sync's answer)

    def tearDown(self):
        if self.wake_times:
            times = sorted(s for _, s in self.wake_times)
            print(f"\nsend -> sync wake-up, {len(times)} samples: min {times[0] * 1000:.1f} ms, "
                  f"median {times[len(times) // 2] * 1000:.1f} ms, "
                  f"max {times[-1] * 1000:.1f} ms\n" +
                  ", ".join(f"{what} {s * 1000:.1f}" for what, s in self.wake_times),
                  file=sys.stderr)
        if self.reload_answers:
            print("waiting syncs answered after the reload signal (ms): " +
                  ", ".join(f"{m} {s * 1000:.1f}" for m, s in self.reload_answers),
                  file=sys.stderr)
        self.server.cleanup()

    def run_async(self, scenario):
        run_clients(self.server, self.clients, scenario, log_lines=40)

    def client(self, user=""):
        c = Client(self.server.url, user)
        self.clients.append(c)
        return c

    def ok(self, response, cls):
        self.assertIsInstance(response, cls, f"{type(response).__name__}: {response}")
        self.assertNotIsInstance(response, nio.ErrorResponse)
        return response

    async def sync(self, client, timeout=0, **kwargs):
        response = self.ok(await client.sync(timeout=timeout, **kwargs), nio.SyncResponse)
        for room_id, info in response.rooms.join.items():
            client.timeline.setdefault(room_id, []).extend(
                e.event_id for e in info.timeline.events if hasattr(e, "event_id"))
        for room_id, info in response.rooms.leave.items():
            client.timeline.setdefault(room_id, []).extend(
                e.event_id for e in info.timeline.events if hasattr(e, "event_id"))
        return response

    async def parked_sync(self, client):
        """Starts a long-poll sync and checks that it is waiting. Returns the task; its result
        is (response, monotonic time the response arrived)."""
        await self.sync(client)  # catch up first, so the long-poll has nothing to return
        async def run():
            response = await self.sync(client, timeout=LONG_POLL_MS)
            return response, time.monotonic()
        task = asyncio.create_task(run())
        await asyncio.sleep(0.3)
        if task.done():
            response = task.result()[0]
            self.fail(f"{client.user_id}'s sync did not wait: {response}; "
                      f"joined rooms: { {k: v.ephemeral for k, v in response.rooms.join.items()} }"
                      f", presence: {response.presence_events}")
        return task

    async def wake(self, what, waiter, action, found):
        """Parks a sync of `waiter`, runs `action`, and syncs until `found(response)` is true.
        Asserts the response that had it came well under a second after `action` started.
        Returns (response, action's result)."""
        task = await self.parked_sync(waiter)
        started = time.monotonic()
        result = await action()
        deadline = started + 10
        while True:
            response, arrived = await task
            if found(response):
                break
            self.assertLess(time.monotonic(), deadline, f"{what}: never seen by a sync")
            task = asyncio.create_task(self.sync_at(waiter))
        elapsed = arrived - started
        self.wake_times.append((what, elapsed))
        self.assertLess(elapsed, MAX_WAKE_SECONDS, f"{what}: the waiting sync took {elapsed:.3f}s")
        return response, result

    async def sync_at(self, client):
        response = await self.sync(client, timeout=LONG_POLL_MS)
        return response, time.monotonic()

    async def send_text(self, sender, room_id, body):
        response = self.ok(await sender.room_send(room_id, "m.room.message",
                                                  {"msgtype": "m.text", "body": body}),
                           nio.RoomSendResponse)
        return response.event_id

    async def exchange(self, sender, receiver, room_id, body, sent):
        """`sender` sends `body`; `receiver`'s waiting sync must deliver it."""
        def found(response):
            info = response.rooms.join.get(room_id)
            return info is not None and any(
                m.body == body for m in messages_of(info.timeline.events))
        response, event_id = await self.wake(
            f"message '{body}'", receiver, lambda: self.send_text(sender, room_id, body), found)
        event = next(m for m in messages_of(response.rooms.join[room_id].timeline.events)
                     if m.body == body)
        self.assertEqual(event.event_id, event_id)
        self.assertEqual(event.sender, sender.user_id)
        sent.append((event_id, sender.user_id, body))
        return event_id

    async def history(self, client, room_id, start):
        """Every event of the room through /messages, scrolling back from `start` with the
        `end` token until the server says there is no more, oldest first."""
        events, token, pages = [], start, 0
        while True:
            response = self.ok(await client.room_messages(room_id, token, limit=4),
                               nio.RoomMessagesResponse)
            pages += 1
            self.assertLessEqual(len(response.chunk), 4)
            events.extend(response.chunk)
            if not response.end:
                break
            self.assertNotEqual(response.end, token, "pagination does not advance")
            token = response.end
            self.assertLess(pages, 100)
        events.reverse()
        return events, pages

    async def reload_during_long_poll(self, alice, bob, room_id, module, expected, sent,
                                      send_during):
        """Swaps in the variant build of `module` and reloads while both users have a waiting
        sync (and, with `send_during`, while alice sends a message). Returns the report line."""
        waiting = [await self.parked_sync(bob), await self.parked_sync(alice)]
        started = time.monotonic()
        self.modules.install_variant(module)
        offset = self.server.log_size()
        self.server.send(signal.SIGUSR1)
        event_id = None
        if send_during:
            # Sent while the reload runs: waits at the gate and is answered by the new code.
            body = f"sent during the {module} reload"
            event_id = await self.send_text(alice, room_id, body)
            sent.append((event_id, alice.user_id, body))
        line = await asyncio.to_thread(self.server.wait_for_log,
                                       r"\[host\] (reloaded|nothing|not |reload)", 60, offset)
        answers = await asyncio.gather(*waiting, return_exceptions=True)
        self.assertIn(expected, line)
        self.assertIn("0 requests failed", line)
        for answer in answers:
            if isinstance(answer, BaseException):
                raise answer
            response, arrived = answer
            # Answered early (woken by the reload, or by the message), long before its 30 s.
            self.assertLess(arrived - started, 5, "a waiting sync was not answered early")
            self.reload_answers.append((module, arrived - started))
            if not send_during:
                self.assertEqual(response.rooms.join, {})
        # The next syncs work; the message sent during the reload arrives exactly once.
        for client in (alice, bob):
            if event_id is not None and event_id not in client.timeline.get(room_id, []):
                await self.sync(client, timeout=LONG_POLL_MS)
            else:
                await self.sync(client)
            if event_id is not None:
                self.assertEqual(client.timeline[room_id].count(event_id), 1)
        return line

    def test_two_users(self):
        self.run_async(self.two_users)

    async def two_users(self):
        alice, bob = self.client(), self.client()

        # Register both; alice logs in a second device.
        self.ok(await alice.register("alice", PASSWORD, "alice phone"), nio.RegisterResponse)
        self.ok(await bob.register("bob", PASSWORD, "bob phone"), nio.RegisterResponse)
        self.assertEqual(alice.user_id, "@alice:localhost")
        self.assertEqual(bob.user_id, "@bob:localhost")
        alice2 = self.client("@alice:localhost")
        self.ok(await alice2.login(PASSWORD, device_name="alice laptop"), nio.LoginResponse)
        self.assertEqual(alice2.user_id, alice.user_id)
        self.assertNotEqual(alice2.device_id, alice.device_id)
        self.assertNotEqual(alice2.access_token, alice.access_token)
        for c in (alice, bob, alice2):
            whoami = self.ok(await c.whoami(), WhoamiResponse)
            self.assertEqual(whoami.user_id, c.user_id)
            await self.sync(c)

        # alice creates the room and invites bob, whose waiting sync sees the invite.
        created = self.ok(await alice.room_create(name="Conclave", topic="Integration testing"),
                          nio.RoomCreateResponse)
        room_id = created.room_id

        async def invite():
            self.ok(await alice.room_invite(room_id, bob.user_id), nio.RoomInviteResponse)
        response, _ = await self.wake("invite", bob, invite,
                                      lambda r: room_id in r.rooms.invite)
        self.assertIn(room_id, bob.invited_rooms)

        async def join():
            self.ok(await bob.join(room_id), nio.JoinResponse)
        response, _ = await self.wake(
            "join", alice, join,
            lambda r: room_id in r.rooms.join and any(
                isinstance(e, nio.RoomMemberEvent) and e.state_key == bob.user_id and
                e.membership == "join" for e in r.rooms.join[room_id].timeline.events))
        await self.sync(bob)
        self.assertIn(room_id, bob.rooms)
        self.assertEqual(bob.rooms[room_id].name, "Conclave")
        self.assertEqual(bob.rooms[room_id].topic, "Integration testing")
        self.assertEqual(set(bob.rooms[room_id].users), {alice.user_id, bob.user_id})

        # The exchange: each message reaches the other user's waiting sync.
        sent = []
        for i in range(4):
            sender, receiver = (alice, bob) if i % 2 == 0 else (bob, alice)
            await self.exchange(sender, receiver, room_id, f"message {i}", sent)

        if DEV:
            line = await self.reload_during_long_poll(alice, bob, room_id, "api",
                                                      "reloaded 1 module (api)", sent,
                                                      send_during=False)
            print(f"\n{line}", file=sys.stderr)
            status, body = self.server.get("/_conclave/server_version")
            self.assertIn('"variant":"b"', body)
            for i in range(4, 6):
                sender, receiver = (alice, bob) if i % 2 == 0 else (bob, alice)
                await self.exchange(sender, receiver, room_id, f"message {i}", sent)
            line = await self.reload_during_long_poll(
                alice, bob, room_id, "service", "reloaded 5 modules (service, api, media, federation, admin)", sent,
                send_during=True)
            print(f"\n{line}", file=sys.stderr)
            self.assertEqual(self.server.log().count("opened database"), 1)
            for c in (alice, bob, alice2):  # the access tokens are still valid
                self.ok(await c.whoami(), WhoamiResponse)

        for i in range(6, 10):
            sender, receiver = (alice, bob) if i % 2 == 0 else (bob, alice)
            await self.exchange(sender, receiver, room_id, f"message {i}", sent)
        sent_ids = [e for e, _, _ in sent]

        # Each user's syncs delivered every message exactly once, in order.
        for c in (alice, bob):
            await self.sync(c)
            seen = c.timeline[room_id]
            self.assertEqual(len(seen), len(set(seen)), f"{c.user_id} saw duplicates")
            self.assertEqual([e for e in seen if e in sent_ids], sent_ids)

        # The room as the read endpoints show it.
        members = self.ok(await alice.joined_members(room_id), nio.JoinedMembersResponse)
        self.assertEqual({m.user_id for m in members.members}, {alice.user_id, bob.user_id})
        rooms = self.ok(await bob.joined_rooms(), nio.JoinedRoomsResponse)
        self.assertEqual(rooms.rooms, [room_id])
        topic = self.ok(await bob.room_get_state_event(room_id, "m.room.topic"),
                        nio.RoomGetStateEventResponse)
        self.assertEqual(topic.content, {"topic": "Integration testing"})
        state = self.ok(await bob.room_get_state(room_id), nio.RoomGetStateResponse)
        self.assertIn("m.room.create", {e["type"] for e in state.events})
        context = self.ok(await alice.room_context(room_id, sent_ids[4], limit=4),
                          nio.RoomContextResponse)
        self.assertEqual([e.event_id for e in context.events_before], sent_ids[3:1:-1])
        self.assertEqual([e.event_id for e in context.events_after], sent_ids[5:7])

        # The sending device sees its transaction id; alice's other device sees the message
        # without it.
        response = await self.sync(alice2, sync_filter={"room": {"timeline": {"limit": 50}}})
        laptop_view = messages_of(response.rooms.join[room_id].timeline.events)
        self.assertEqual([m.event_id for m in laptop_view], sent_ids)
        self.assertTrue(all(m.transaction_id is None for m in laptop_view))

        # History: /messages scrolled back from the newest sync token to the room's creation.
        events, pages = await self.history(alice, room_id, alice.next_batch)
        self.assertGreater(pages, 3)
        self.assertIsInstance(events[0], nio.RoomCreateEvent)
        self.assertEqual([m.event_id for m in messages_of(events)], sent_ids)
        self.assertEqual([m.body for m in messages_of(events)], [b for _, _, b in sent])
        ids = [e.event_id for e in events]
        self.assertEqual(len(ids), len(set(ids)))
        timestamps = [e.server_timestamp for e in events]
        self.assertEqual(timestamps, sorted(timestamps))
        # Forwards from the start gives the same events in the same order.
        forward = self.ok(await alice.room_messages(room_id, "t0",
                                                    direction=nio.MessageDirection.front,
                                                    limit=100), nio.RoomMessagesResponse)
        self.assertEqual([e.event_id for e in forward.chunk], ids)

        # A gap: 13 messages while bob does not sync. His next sync has the newest 10, marked
        # limited, and /messages from its prev_batch gives exactly the ones before them.
        await self.sync(bob)
        burst = []
        for i in range(13):
            burst.append(await self.send_text(alice, room_id, f"burst {i}"))
            sent.append((burst[-1], alice.user_id, f"burst {i}"))
        response = await self.sync(bob)
        timeline = response.rooms.join[room_id].timeline
        self.assertTrue(timeline.limited)
        self.assertEqual([e.event_id for e in timeline.events], burst[3:])
        self.assertEqual(response.rooms.join[room_id].state, [])  # no state changed in the gap
        page = self.ok(await bob.room_messages(room_id, timeline.prev_batch, limit=3),
                       nio.RoomMessagesResponse)
        self.assertEqual([e.event_id for e in page.chunk], burst[2::-1])
        page = self.ok(await bob.room_messages(room_id, page.end, limit=1),
                       nio.RoomMessagesResponse)
        self.assertEqual([e.event_id for e in page.chunk], [sent_ids[-1]])
        sent_ids = [e for e, _, _ in sent]
        await self.sync(alice)

        # A redaction reaches the other user's waiting sync; the history keeps the event,
        # redacted.
        oops = await self.exchange(alice, bob, room_id, "oops, wrong room", [])

        async def redact():
            self.ok(await alice.room_redact(room_id, oops, reason="wrong room"),
                    nio.RoomRedactResponse)
        await self.wake("redaction", bob, redact,
                        lambda r: room_id in r.rooms.join and any(
                            isinstance(e, nio.RedactionEvent) and e.redacts == oops
                            for e in r.rooms.join[room_id].timeline.events))
        page = self.ok(await bob.room_messages(room_id, bob.next_batch, limit=2),
                       nio.RoomMessagesResponse)
        self.assertIsInstance(page.chunk[0], nio.RedactionEvent)
        self.assertIsInstance(page.chunk[1], nio.RedactedEvent)
        self.assertEqual(page.chunk[1].event_id, oops)
        self.assertEqual(page.chunk[1].source["content"], {})

        # Name and topic changes reach the other user's waiting sync and nio's room state.
        async def rename():
            self.ok(await alice.room_put_state(room_id, "m.room.name",
                                               {"name": "Conclave renamed"}),
                    nio.RoomPutStateResponse)
        await self.wake("m.room.name", bob, rename,
                        lambda r: room_id in r.rooms.join and any(
                            isinstance(e, nio.RoomNameEvent)
                            for e in r.rooms.join[room_id].timeline.events))
        self.assertEqual(bob.rooms[room_id].name, "Conclave renamed")

        async def retopic():
            self.ok(await alice.room_put_state(room_id, "m.room.topic", {"topic": "New topic"}),
                    nio.RoomPutStateResponse)
        await self.wake("m.room.topic", bob, retopic,
                        lambda r: room_id in r.rooms.join and any(
                            isinstance(e, nio.RoomTopicEvent)
                            for e in r.rooms.join[room_id].timeline.events))
        self.assertEqual(bob.rooms[room_id].topic, "New topic")
        await self.sync(alice)
        self.assertEqual(alice.rooms[room_id].topic, "New topic")

        # Typing: bob's waiting sync sees alice start and stop typing.
        def typing(users):
            def found(r):
                info = r.rooms.join.get(room_id)
                return info is not None and any(
                    isinstance(e, nio.TypingNoticeEvent) and e.users == users
                    for e in info.ephemeral)
            return found

        async def start_typing():
            self.ok(await alice.room_typing(room_id, True, 30000), nio.RoomTypingResponse)
        await self.wake("typing", bob, start_typing, typing([alice.user_id]))
        self.assertEqual(bob.rooms[room_id].typing_users, [alice.user_id])

        async def stop_typing():
            self.ok(await alice.room_typing(room_id, False), nio.RoomTypingResponse)
        await self.wake("typing stopped", bob, stop_typing, typing([]))
        self.assertEqual(bob.rooms[room_id].typing_users, [])

        # A typing notice that times out stops by itself, and wakes the waiting sync when it does.
        started = time.monotonic()
        self.ok(await alice.room_typing(room_id, True, 1000), nio.RoomTypingResponse)
        await self.sync(bob)
        self.assertEqual(bob.rooms[room_id].typing_users, [alice.user_id])
        while True:
            response, arrived = await self.sync_at(bob)
            if typing([])(response):
                break
            self.assertLess(arrived - started, 5, "the typing notice never expired")
        self.assertEqual(bob.rooms[room_id].typing_users, [])
        self.assertGreater(arrived - started, 0.9)
        self.assertLess(arrived - started, 1.0 + MAX_WAKE_SECONDS)
        self.wake_times.append(("typing timeout", arrived - started - 1.0))

        # A read receipt from bob reaches alice's waiting sync.
        last = sent_ids[-1]

        async def receipt():
            self.ok(await bob.update_receipt_marker(room_id, last),
                    nio.UpdateReceiptMarkerResponse)

        def has_receipt(r):
            info = r.rooms.join.get(room_id)
            return info is not None and any(
                isinstance(e, nio.ReceiptEvent) and any(
                    x.event_id == last and x.user_id == bob.user_id and x.receipt_type == "m.read"
                    for x in e.receipts)
                for e in info.ephemeral)
        await self.wake("read receipt", alice, receipt, has_receipt)
        self.assertEqual(alice.rooms[room_id].read_receipts[bob.user_id].event_id, last)
        # ... and the fully-read marker lands in bob's room account data.
        self.ok(await bob.room_read_markers(room_id, last, last), nio.RoomReadMarkersResponse)
        response = await self.sync(bob)
        fully_read = [e for e in response.rooms.join[room_id].account_data
                      if isinstance(e, nio.FullyReadEvent)]
        self.assertEqual([e.event_id for e in fully_read], [last])

        # A displayname change is reflected in bob's member event in the room.
        async def rename_bob():
            self.ok(await bob.set_displayname("Bob the Builder"),
                    nio.ProfileSetDisplayNameResponse)

        def bob_renamed(r):
            info = r.rooms.join.get(room_id)
            return info is not None and any(
                isinstance(e, nio.RoomMemberEvent) and e.state_key == bob.user_id and
                e.membership == "join" and e.content.get("displayname") == "Bob the Builder"
                for e in info.timeline.events)
        await self.wake("displayname", alice, rename_bob, bob_renamed)
        # For bob it is an incremental sync like any other, not a new join: no state resent, no
        # gap (limited) in the timeline.
        response = await self.sync(bob)
        timeline = response.rooms.join[room_id].timeline
        self.assertFalse(timeline.limited)
        self.assertEqual([(type(e).__name__, getattr(e, "state_key", None))
                          for e in timeline.events], [("RoomMemberEvent", bob.user_id)])
        self.assertEqual(response.rooms.join[room_id].state, [])
        self.assertEqual(alice.rooms[room_id].user_name(bob.user_id), "Bob the Builder")
        profile = self.ok(await alice.get_displayname(bob.user_id),
                          nio.ProfileGetDisplayNameResponse)
        self.assertEqual(profile.displayname, "Bob the Builder")

        # bob leaves: alice sees it; bob's sync moves the room to `leave`.
        async def leave():
            self.ok(await bob.room_leave(room_id), nio.RoomLeaveResponse)
        await self.wake("leave", alice, leave,
                        lambda r: room_id in r.rooms.join and any(
                            isinstance(e, nio.RoomMemberEvent) and e.state_key == bob.user_id and
                            e.membership == "leave"
                            for e in r.rooms.join[room_id].timeline.events))
        self.assertEqual(set(alice.rooms[room_id].users), {alice.user_id})
        response = await self.sync(bob)
        self.assertIn(room_id, response.rooms.leave)
        self.assertNotIn(room_id, response.rooms.join)
        last_event = response.rooms.leave[room_id].timeline.events[-1]
        self.assertIsInstance(last_event, nio.RoomMemberEvent)
        self.assertEqual((last_event.state_key, last_event.membership), (bob.user_id, "leave"))
        after_leave = await self.send_text(alice, room_id, "after bob left")
        response = await self.sync(bob)
        self.assertNotIn(after_leave, bob.timeline.get(room_id, []))

        # No request of the whole scenario failed.
        for c in (alice, bob, alice2):
            self.assertEqual(c.failed_exchanges(), [], f"{c.user_id} {c.device_id}")
            self.assertTrue(c.exchanges)

        # Restart on the same data: the sessions survive and an initial sync finds everything.
        tokens = [(c.user_id, c.device_id, c.access_token) for c in (alice, bob, alice2)]
        self.assertEqual(self.server.stop(), 0)
        self.server.start()
        alice_r, bob_r, alice2_r = self.client(), self.client(), self.client()
        for c, (user_id, device_id, token) in zip((alice_r, bob_r, alice2_r), tokens):
            c.restore_login(user_id, device_id, token)
            whoami = self.ok(await c.whoami(), WhoamiResponse)
            self.assertEqual(whoami.user_id, user_id)
        everything = {"room": {"timeline": {"limit": 100}, "include_leave": True}}
        expected_bodies = [b for _, _, b in sent] + ["after bob left"]
        for c in (alice_r, alice2_r):
            response = await self.sync(c, sync_filter=everything)
            self.assertIn(room_id, response.rooms.join)
            room = c.rooms[room_id]
            self.assertEqual(room.name, "Conclave renamed")
            self.assertEqual(room.topic, "New topic")
            timeline = response.rooms.join[room_id].timeline
            self.assertFalse(timeline.limited)
            self.assertIsInstance(timeline.events[0], nio.RoomCreateEvent)
            self.assertEqual([m.body for m in messages_of(timeline.events)], expected_bodies)
            self.assertEqual([m.event_id for m in messages_of(timeline.events)][:-1], sent_ids)
        events, _ = await self.history(alice_r, room_id, alice_r.next_batch)
        self.assertEqual([m.body for m in messages_of(events)], expected_bodies)
        # A fresh client with the default filter: the newest 10 events, limited, and prev_batch
        # leads back through the rest with nothing missing or repeated.
        fresh = self.client()
        fresh.restore_login(*tokens[2])
        response = await self.sync(fresh)
        timeline = response.rooms.join[room_id].timeline
        self.assertTrue(timeline.limited)
        self.assertEqual(len(timeline.events), 10)
        older, _ = await self.history(fresh, room_id, timeline.prev_batch)
        self.assertEqual([e.event_id for e in older + timeline.events], [e.event_id for e in events])
        # bob, who left, finds the room under `leave` with every message up to his leave.
        response = await self.sync(bob_r, sync_filter=everything)
        self.assertNotIn(room_id, response.rooms.join)
        self.assertIn(room_id, response.rooms.leave)
        left_view = messages_of(response.rooms.leave[room_id].timeline.events)
        self.assertEqual([m.event_id for m in left_view], sent_ids)
        # The restarted server wakes long-polls too.
        await self.sync(alice_r)
        await self.sync(alice2_r)
        await self.exchange(alice_r, alice2_r, room_id, "after the restart", [])
        for c in (alice_r, bob_r, alice2_r):
            self.assertEqual(c.failed_exchanges(), [], f"{c.user_id} {c.device_id}")
        self.assertEqual(self.server.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
