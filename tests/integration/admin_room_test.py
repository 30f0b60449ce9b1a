"""The admin room through a real Matrix client (matrix-nio, Debian's python3-matrix-nio).

The first user to register finds themselves joined to #admins:localhost (name "Admin Room"),
with the bot @conclave:localhost. `!admin server uptime` is answered by an m.notice from the bot
with a plain and an HTML body, in reply to the command (m.relates_to.m.in_reply_to). A second user
who is not an admin, invited into the room, gets one refusal notice and no command runs for them.
The config's admin_execute commands run at start-up, output to the log, a bad one logged and not
fatal. After a restart the room is the same one. One command of each group (server, modules,
users, rooms, database, debug, help; `modules reload api` in dev) is answered in reply without an
error, and `server restart` re-executes in place (same pid) while a client requesting the whole
time sees no refused connection.

In the dev build also: while the admin module is hot-reloaded (a variant build swapped in),
commands keep arriving; each one is answered exactly once (those that came while admin was
unloaded waited in the queue and ran on the new code). Usage: admin_room_test.py BUILD_DIR
"""

import asyncio
import http.client
import os
import signal
import sys
import threading
import time
import unittest

import aiohttp
import nio

sys.path.insert(0, os.path.dirname(__file__))
from server import ModuleDir, Server, install_atomically, run_clients, nio_config  # noqa: E402

BUILD = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else "build/dev")
BINARY = os.path.join(BUILD, "bin", "conclave")
DEV = os.path.exists(os.path.join(BUILD, "lib", "libconclave_api.so"))
BOT = "@conclave:localhost"
ALIAS = "#admins:localhost"
PASSWORD = "correct horse battery staple"

CONFIG = nio_config()


# Syncs with every event of the gap, never `limited`.
EVERYTHING = {"room": {"timeline": {"limit": 1000}}}


def reply_target(event):
    relates = event.source.get("content", {}).get("m.relates_to", {})
    return relates.get("m.in_reply_to", {}).get("event_id")


class AdminRoomTest(unittest.TestCase):
    def setUp(self):
        self.server = Server(BINARY, env={
            "CONCLAVE_ADMIN_EXECUTE": "server uptime; no-such-group at-all",
            # The reload round sends commands quickly.
            "CONCLAVE_RC_MESSAGE_PER_SECOND": "0",
        })
        self.modules = ModuleDir(self.server, BUILD) if DEV else None
        self.server.start()
        self.clients = []

    def tearDown(self):
        self.server.cleanup()

    def run_async(self, scenario):
        run_clients(self.server, self.clients, scenario, log_lines=60)

    def client(self):
        c = nio.AsyncClient(self.server.url, "", config=CONFIG)
        self.clients.append(c)
        return c

    def ok(self, response, cls):
        self.assertIsInstance(response, cls, f"{type(response).__name__}: {response}")
        return response

    async def send(self, client, room_id, body):
        for attempt in range(3):
            try:
                response = await client.room_send(room_id, "m.room.message",
                                                  {"msgtype": "m.text", "body": body})
                break
            except aiohttp.ClientConnectionError:
                # See reply_to: a keep-alive connection closed by an exec restart just as the
                # request went out on it. The server closes only connections between requests,
                # so it never processed this one: sending it again cannot duplicate it.
                if attempt == 2:
                    raise
                await asyncio.sleep(0.05)
        return self.ok(response, nio.RoomSendResponse).event_id

    async def sync_notices(self, client, room_id, timeout_ms):
        """One sync (a large timeline limit, so a burst is never cut); adds the bot's notices in
        `room_id` to client.seen_notices, which keeps them across calls."""
        response = self.ok(await client.sync(timeout=timeout_ms, sync_filter=EVERYTHING),
                           nio.SyncResponse)
        info = response.rooms.join.get(room_id)
        if info is not None:
            self.assertFalse(info.timeline.limited)
            client.seen_notices.extend(e for e in info.timeline.events
                                       if isinstance(e, nio.RoomMessageNotice) and e.sender == BOT)
        return client.seen_notices

    async def notices(self, client, room_id, count, timeout=15):
        """Syncs until `client` has seen at least `count` notices from the bot in `room_id`;
        returns them all."""
        deadline = time.monotonic() + timeout
        while len(client.seen_notices) < count:
            self.assertLess(time.monotonic(), deadline,
                            f"only {len(client.seen_notices)} of {count} notices arrived: "
                            f"{[n.body[:80] for n in client.seen_notices]}")
            await self.sync_notices(client, room_id, 1000)
        return client.seen_notices

    async def reply_to(self, client, room_id, event_id, timeout=15):
        """Syncs until the bot's reply to `event_id` arrived; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            for notice in client.seen_notices:
                if reply_target(notice) == event_id:
                    return notice
            self.assertLess(time.monotonic(), deadline, f"no reply to {event_id}")
            try:
                await self.sync_notices(client, room_id, 1000)
            except aiohttp.ClientConnectionError:
                # An exec restart closes idle keep-alive connections; a request the client sent
                # on one at that very moment is lost with it (HTTP/1.1's keep-alive race), and a
                # sync is safe to repeat. Refused connections are what the restart must avoid.
                await asyncio.sleep(0.05)

    def test_admin_room(self):
        self.run_async(self.admin_room)

    async def admin_room(self):
        # admin_execute ran at start-up: output in the log, the bad command logged, not fatal.
        self.server.wait_for_log(r"admin_execute 'no-such-group at-all' failed")
        self.assertIn("admin_execute 'server uptime':", self.server.log())

        alice = self.client()
        alice.seen_notices = []
        self.ok(await alice.register("alice", PASSWORD, "alice phone"), nio.RegisterResponse)
        resolved = self.ok(await alice.room_resolve_alias(ALIAS), nio.RoomResolveAliasResponse)
        room_id = resolved.room_id
        # The first user is joined (not merely invited) to the admin room, with the bot.
        self.ok(await alice.sync(timeout=0), nio.SyncResponse)
        self.assertIn(room_id, alice.rooms)
        room = alice.rooms[room_id]
        self.assertEqual(room.name, "Admin Room")
        self.assertEqual(room.canonical_alias, ALIAS)
        self.assertIn("!admin help", room.topic)
        self.assertEqual(set(room.users), {alice.user_id, BOT})
        self.assertEqual(room.power_levels.get_user_level(BOT), 100)

        # A command, answered in reply with a plain and an HTML body.
        command = await self.send(alice, room_id, "!admin server uptime")
        notice = await self.reply_to(alice, room_id, command)
        content = notice.source["content"]
        self.assertEqual(content["msgtype"], "m.notice")
        self.assertEqual(content["format"], "org.matrix.custom.html")
        self.assertTrue(content["formatted_body"])
        self.assertTrue(content["body"])
        self.assertNotIn("Error", content["body"])

        # bob is not an admin: invited into the room by alice, his command is refused (once a
        # minute) and nothing runs.
        bob = self.client()
        bob.seen_notices = []
        self.ok(await bob.register("bob", PASSWORD, "bob phone"), nio.RegisterResponse)
        self.ok(await bob.sync(timeout=0), nio.SyncResponse)
        self.assertNotIn(room_id, bob.rooms)
        self.assertNotIn(room_id, bob.invited_rooms)
        self.ok(await alice.room_invite(room_id, bob.user_id), nio.RoomInviteResponse)
        self.ok(await bob.join(room_id), nio.JoinResponse)
        refused = await self.send(bob, room_id, "!admin server uptime")
        await self.send(bob, room_id, "conclave: server uptime")
        refusal = await self.reply_to(bob, room_id, refused)
        self.assertIn("only server admins", refusal.body)
        await asyncio.sleep(0.5)  # a second refusal, or an answer, would have come by now
        all_notices = await self.sync_notices(alice, room_id, 0)
        self.assertEqual([reply_target(n) for n in all_notices], [command, refused])
        log = self.server.log()
        self.assertEqual(log.count("admin command 'server uptime' from @alice:localhost done"), 1)
        self.assertNotIn("from @bob:localhost done", log)
        self.assertIn("refused an admin command from @bob:localhost", log)

        if DEV:
            await self.reload_with_commands_queued(alice, room_id)

        # A restart keeps the room (no second #admins, no second bot) and runs admin_execute
        # again.
        self.assertEqual(self.server.stop(), 0)
        offset = self.server.log_size()
        self.server.start()
        self.server.wait_for_log(r"admin_execute 'no-such-group at-all' failed", after=offset)
        again = self.client()
        again.restore_login(alice.user_id, alice.device_id, alice.access_token)
        resolved = self.ok(await again.room_resolve_alias(ALIAS), nio.RoomResolveAliasResponse)
        self.assertEqual(resolved.room_id, room_id)
        self.assertEqual(self.server.log().count("created the admin room"), 1)
        self.assertEqual(self.server.log().count("admin_execute 'server uptime'"), 2)
        again.seen_notices = []
        command = await self.send(again, room_id, "!admin server uptime")
        await self.reply_to(again, room_id, command)

    def test_a_command_of_each_group_and_a_restart_under_a_connected_client(self):
        self.run_async(self.each_group_and_restart)

    async def each_group_and_restart(self):
        alice = self.client()
        alice.seen_notices = []
        self.ok(await alice.register("alice", PASSWORD, "alice phone"), nio.RegisterResponse)
        room_id = self.ok(await alice.room_resolve_alias(ALIAS),
                          nio.RoomResolveAliasResponse).room_id
        # One command of each group, each answered in reply and without an error.
        expected = {
            "!admin server build-info": "build type",
            "!admin modules list": "api",
            "!admin users list-users": "@alice:localhost",
            "!admin rooms list-rooms": room_id,
            "!admin database stats": "timeline",
            "!admin debug ping": "pong",
            "!admin help": "users",
        }
        if DEV:
            expected["!admin modules reload api"] = "api"
        for command, needle in expected.items():
            event_id = await self.send(alice, room_id, command)
            notice = await self.reply_to(alice, room_id, event_id, timeout=30)
            self.assertFalse(notice.body.startswith("Error"), f"{command}: {notice.body}")
            self.assertIn(needle.lower(), notice.body.lower(), f"{command}: {notice.body}")
        if DEV:
            self.server.wait_for_log(r"\[host\] reloaded 1 module \(api\)")

        # `server restart` while a client keeps requesting: no connection is refused, the pid
        # stays, and the client carries on with the same token.
        pid = self.server.proc.pid
        offset = self.server.log_size()
        stop = threading.Event()
        outcome = {"ok": 0, "failed": []}

        def poll():
            while not stop.is_set():
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
                    conn.request("GET", "/_matrix/client/versions")
                    if conn.getresponse().status == 200:
                        outcome["ok"] += 1
                    else:
                        outcome["failed"].append("status")
                    conn.close()
                except OSError as e:
                    outcome["failed"].append(repr(e))
        poller = threading.Thread(target=poll)
        poller.start()
        try:
            event_id = await self.send(alice, room_id, "!admin server restart")
            notice = await self.reply_to(alice, room_id, event_id, timeout=30)
            self.assertIn("restart", notice.body.lower())
            self.server.wait_for_log(r"listening on .*\(inherited socket\)", 30, after=offset)
            time.sleep(0.3)
        finally:
            stop.set()
            poller.join()
        self.assertEqual(outcome["failed"], [])
        self.assertGreater(outcome["ok"], 0)
        self.assertEqual(self.server.proc.pid, pid)
        self.assertIsNone(self.server.proc.poll())
        event_id = await self.send(alice, room_id, "!admin server uptime")
        await self.reply_to(alice, room_id, event_id, timeout=30)

    async def reload_with_commands_queued(self, alice, room_id):
        """Reloads admin (alternating the variant and the real build) while alice keeps sending
        commands, until one of them had to wait for the new admin module (at most 5 rounds).
        Every command must be answered exactly once."""
        commands = []
        waited = 0
        for round_number in range(5):
            if round_number % 2 == 0:
                self.modules.install_variant("admin")
            else:
                install_atomically(os.path.join(BUILD, "lib", "libconclave_admin.so"),
                                   os.path.join(self.modules.path, "libconclave_admin.so"))
            offset = self.server.log_size()
            self.server.send(signal.SIGUSR1)
            # Commands until the reload is reported, and two more after it.
            after = 0
            while after < 2 and len(commands) < 400:
                commands.append(await self.send(alice, room_id, "!admin server uptime"))
                if "[host] reloaded" in self.server.log()[offset:]:
                    after += 1
            line = self.server.wait_for_log(r"\[host\] (reloaded|nothing|not |reload)", 30,
                                            after=offset)
            self.assertIn("reloaded 1 module (admin)", line)
            waited = self.server.log().count("waits for the admin module")
            if waited:
                break
        print(f"\n{len(commands)} commands around {round_number + 1} admin reload(s); "
              f"{waited} waited for the admin module", file=sys.stderr)
        self.assertGreater(waited, 0, "no command was ever queued while admin reloaded")
        await self.notices(alice, room_id, 2 + len(commands), timeout=60)
        await asyncio.sleep(0.5)  # anything answered twice would arrive now
        notices = await self.sync_notices(alice, room_id, 0)
        replies = [reply_target(n) for n in notices]
        for event_id in commands:
            self.assertEqual(replies.count(event_id), 1, f"{event_id} answered "
                             f"{replies.count(event_id)} times")
        self.assertEqual(len(notices), 2 + len(commands))
        self.assertFalse([n.body for n in notices[2:] if n.body.startswith("Error")])


if __name__ == "__main__":
    unittest.main(verbosity=2)
