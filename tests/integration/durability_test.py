"""Durability: acknowledged events survive `kill -9` and exec restarts, and every index agrees.

Four clients (raw HTTP, one keep-alive connection each) register, join a shared room and make one
of their own, then send messages continuously (about RATE a second each), each with a new
transaction id. An event counts as acknowledged only when its send returned 200 with an event_id.

Crash rounds: the load runs a random 0.2–1.5 s, the server is killed with SIGKILL and started
again on the same data dir with `--execute "database verify"`, the consistency check, which
starts at once while the load resumes (it reads through a snapshot; the load holds while it
finishes, so that the database does not grow with every run). Every event the killed process
acknowledged must be in its room's timeline (and a sample is fetched by id), the checker must
print "OK: no inconsistencies", each client's last acknowledged send, sent again with its
transaction id, must answer the same event, and a send that was in flight at the kill is retried
with its transaction id until acknowledged.

Exec restarts: SIGUSR2 under the same load re-executes the binary in place, keeping the listening
socket: the pid stays, no connection is refused, and a request on a kept-alive connection that
the restart closes fails with a reset or EOF and is retried with its transaction id (counted).
At the end the server is stopped and started once more with the checker, every acknowledged
event of the whole run is read back by paging /messages, and no transaction was stored twice.

What this guarantees and what it does not: `database_sync_writes` is false (the default), so a
write returns once RocksDB has appended its WriteBatch — the event with all its indexes — to the
write-ahead log, in the OS page cache. A process kill keeps the page cache, so every write that
returned must survive it. An OS crash or power cut could lose the last writes and is not tested
(that needs database_sync_writes = true).

Usage: durability_test.py BUILD_DIR. Environment: DURABILITY_CRASH_ROUNDS, DURABILITY_EXEC_RESTARTS
(20 each), DURABILITY_RATE, DURABILITY_SEED (to repeat a run), DURABILITY_VERBOSE=1 (per round).
"""

import collections
import http.client
import json
import os
import random
import re
import signal
import socket
import sys
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from server import Server  # noqa: E402

BUILD = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else "build/release")
BINARY = os.path.join(BUILD, "bin", "conclave")
V3 = "/_matrix/client/v3"
PASSWORD = "correct horse battery staple"
CLIENTS = 4
# Sends per second per client, at most: the database (and so each run of the checker) must stay
# small enough for 40 rounds to fit in about a minute. A client still has a request in flight a
# good part of the time, so kills and restarts do catch sends in the middle.
RATE = float(os.environ.get("DURABILITY_RATE", "125"))
CRASH_ROUNDS = int(os.environ.get("DURABILITY_CRASH_ROUNDS", "20"))
EXEC_RESTARTS = int(os.environ.get("DURABILITY_EXEC_RESTARTS", "20"))
VERIFY_OK = "OK: no inconsistencies"
VERBOSE = os.environ.get("DURABILITY_VERBOSE") == "1"


def q(text):
    return urllib.parse.quote(text, safe="")


class Target:
    """Where the clients send: the server's port and whether it is up. The port changes at each
    start after a kill (port 0); an exec restart keeps it. Thread-safe."""

    def __init__(self):
        self.cv = threading.Condition()
        self.port = None
        self.generation = 0  # one per server process started (not per exec restart)
        self.up = False
        self.paused = False

    def set_up(self, port):
        with self.cv:
            self.port = port
            self.generation += 1
            self.up = True
            self.cv.notify_all()

    def set_down(self):
        with self.cv:
            self.up = False

    def pause(self, paused):
        """Holds the clients before their next send (or lets them go again)."""
        with self.cv:
            self.paused = paused
            self.cv.notify_all()

    def wait_unpaused(self, stop):
        with self.cv:
            while self.paused and not stop.is_set():
                self.cv.wait(0.05)

    def wait_past(self, generation, stop):
        """Blocks until a server newer than `generation` is up, or `stop` is set."""
        with self.cv:
            while (self.generation <= generation or not self.up) and not stop.is_set():
                self.cv.wait(0.05)


class Stats:
    """Counters the client threads share. Thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        self.refused_up = 0      # ConnectionRefusedError while the server was meant to be up
        self.refused_down = 0    # ... while it was killed (expected)
        self.broken_up = 0       # reset/EOF on a connection while up (an exec restart closed it)
        self.broken_down = 0     # ... when the server was killed
        self.status_retries = 0  # 429/503 answers, retried
        self.in_doubt = 0        # sends whose answer was lost, retried with the same txn id
        self.failures = []

    def add(self, name, n=1):
        with self.lock:
            setattr(self, name, getattr(self, name) + n)

    def fail(self, text):
        with self.lock:
            self.failures.append(text)


class Ack:
    """An acknowledged send. `failed_ms`: when an earlier attempt with the same txn id lost its
    answer (None if the first attempt was answered)."""

    __slots__ = ("client", "room", "txn", "event_id", "generation", "failed_ms")

    def __init__(self, client, room, txn, event_id, generation, failed_ms):
        self.client, self.room, self.txn, self.event_id = client, room, txn, event_id
        self.generation, self.failed_ms = generation, failed_ms


class Client(threading.Thread):
    """Sends m.room.message events into its rooms in turn, each with a new txn id, retrying the
    one in flight with the same txn id until the server acknowledges it."""

    def __init__(self, name, token, rooms, target, stats, stop):
        super().__init__(name=name, daemon=True)
        self.token, self.rooms = token, rooms
        self.target, self.stats, self.stop = target, stats, stop
        self.lock = threading.Lock()
        self.acks = []

    def run(self):
        conn, conn_generation, seq, pending = None, 0, 0, None
        rng = random.Random(self.name)
        next_send = time.monotonic()
        while not self.stop.is_set():
            if pending is None:
                self.target.wait_unpaused(self.stop)
                # Random gaps averaging 1/RATE, so the clients do not send in lockstep.
                pause = next_send - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                next_send = max(next_send, time.monotonic() - 1) + rng.uniform(0, 2 / RATE)
                seq += 1
                pending = {"room": self.rooms[seq % len(self.rooms)], "txn": f"{self.name}-{seq}",
                           "failed_ms": None}
            with self.target.cv:
                port, generation, up = self.target.port, self.target.generation, self.target.up
            if conn is not None and conn_generation != generation:
                conn.close()  # a connection to the killed process
                conn = None
            if not up:
                self.target.wait_past(generation, self.stop)
                continue
            path = f"{V3}/rooms/{q(pending['room'])}/send/m.room.message/{q(pending['txn'])}"
            body = json.dumps({"msgtype": "m.text", "body": pending["txn"]})
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    conn_generation = generation
                conn.request("PUT", path, body=body,
                             headers={"Authorization": f"Bearer {self.token}",
                                      "Content-Type": "application/json"})
                resp = conn.getresponse()
                data = resp.read()
            except ConnectionRefusedError:
                conn = None
                # Never sent: not in doubt.
                with self.target.cv:
                    still_up = self.target.up and self.target.generation == generation
                self.stats.add("refused_up" if still_up else "refused_down")
                if still_up:
                    time.sleep(0.01)
                else:
                    self.target.wait_past(generation, self.stop)
                continue
            except (ConnectionError, http.client.HTTPException, socket.timeout, OSError):
                # Reset, EOF or a broken pipe: the request may or may not have been stored.
                if conn is not None:
                    conn.close()
                conn = None
                pending["failed_ms"] = time.time() * 1000
                self.stats.add("in_doubt")
                with self.target.cv:
                    still_up = self.target.up and self.target.generation == generation
                self.stats.add("broken_up" if still_up else "broken_down")
                if not still_up:
                    self.target.wait_past(generation, self.stop)
                continue
            if resp.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
            try:
                parsed = json.loads(data)
            except ValueError:
                parsed = None
            if resp.status == 200 and isinstance(parsed, dict) and parsed.get("event_id"):
                with self.lock:
                    self.acks.append(Ack(self.name, pending["room"], pending["txn"],
                                         parsed["event_id"], generation, pending["failed_ms"]))
                pending = None
            elif resp.status in (429, 503):
                self.stats.add("status_retries")
                time.sleep(0.01)
            else:
                self.stats.fail(f"{self.name} {pending['txn']}: {resp.status} {data[:200]!r}")
                pending = None
        if conn is not None:
            conn.close()

    def acks_so_far(self):
        with self.lock:
            return list(self.acks)


class StdoutReader(threading.Thread):
    """Collects a server process's stdout (where --execute prints) line by line."""

    def __init__(self, proc):
        super().__init__(daemon=True)
        self.proc = proc
        self.lines = []
        self.cv = threading.Condition()

    def run(self):
        for raw in iter(self.proc.stdout.readline, b""):
            with self.cv:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self.cv.notify_all()

    def wait_for(self, text, timeout):
        deadline = time.time() + timeout
        with self.cv:
            while not any(text in line for line in self.lines):
                left = deadline - time.time()
                if left <= 0:
                    return None
                self.cv.wait(left)
            return "\n".join(self.lines)


class DurabilityTest(unittest.TestCase):
    def setUp(self):
        self.server = Server(BINARY, env={
            "CONCLAVE_RC_MESSAGE_PER_SECOND": "100000", "CONCLAVE_RC_MESSAGE_BURST": "100000",
            # Tens of thousands of requests: the access log would only slow the log scans down.
            "CONCLAVE_ACCESS_LOG": "false",
        }, args=["--execute", "database verify"])
        self.stop = threading.Event()
        self.clients = []

    def tearDown(self):
        self.stop.set()
        for c in self.clients:
            c.join(10)
        self.server.cleanup()

    # --- helpers ---------------------------------------------------------------------------------

    def api(self, method, path, body=None, token=None):
        status, data, _ = self.server.request(method, V3 + path, body=body, token=token)
        self.assertEqual(status, 200, f"{method} {path}: {status} {data}")
        return data

    def start_server(self):
        """Starts the server (again) with the checker; returns the reader of its stdout."""
        self.server.start()
        reader = StdoutReader(self.server.proc)
        reader.start()
        return reader

    def assert_verified(self, reader, offset, what):
        """Waits for `database verify` of this start to print OK (it runs under load). Returns
        the number of timeline records it checked."""
        out = reader.wait_for(VERIFY_OK, 60)
        if out is None:
            self.fail(f"{what}: database verify did not print OK:\n{chr(10).join(reader.lines)}\n"
                      f"{self.server.log()[offset:]}")
        match = re.search(r"^timeline +(\d+)", out, re.M)
        if VERBOSE:
            print(f"{what}: {out.splitlines()[0]}", file=sys.stderr)
        return int(match.group(1)) if match else -1

    def all_acks(self):
        return [a for c in self.clients for a in c.acks_so_far()]

    def fetch_each(self, acks, tokens):
        """GETs each acknowledged event by id (the `events` index); returns those that fail."""
        bad = []
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        try:
            for ack in acks:
                conn.request("GET", f"{V3}/rooms/{q(ack.room)}/event/{q(ack.event_id)}",
                             headers={"Authorization": f"Bearer {tokens[ack.client]}"})
                resp = conn.getresponse()
                data = resp.read()
                body = json.loads(data).get("content", {}).get("body") if resp.status == 200 \
                    else None
                if body != ack.txn:
                    bad.append((ack.txn, ack.event_id, resp.status, data[:200]))
        finally:
            conn.close()
        return bad

    def resend(self, ack, tokens):
        """Sends `ack`'s transaction again; returns the event id answered."""
        data = self.api("PUT", f"/rooms/{q(ack.room)}/send/m.room.message/{q(ack.txn)}",
                        {"msgtype": "m.text", "body": ack.txn}, tokens[ack.client])
        return data["event_id"]

    def room_messages(self, room, token, wanted=None):
        """The m.room.message events of `room`, paging /messages backwards from the end (until
        every body in `wanted` was seen, if given): the bodies, and body → (event_id,
        origin_server_ts)."""
        bodies, ids = [], {}
        token_from = None
        while True:
            path = f"/rooms/{q(room)}/messages?dir=b&limit=1000"
            if token_from:
                path += f"&from={q(token_from)}"
            page = self.api("GET", path, token=token)
            for event in page.get("chunk", []):
                if event.get("type") == "m.room.message":
                    body = event["content"].get("body")
                    bodies.append(body)
                    ids[body] = (event["event_id"], event["origin_server_ts"])
            if not page.get("chunk") or not page.get("end"):
                return bodies, ids
            if wanted is not None and wanted <= ids.keys():
                return bodies, ids
            token_from = page["end"]

    def find_in_timelines(self, acks, tokens):
        """Looks for every acknowledged event in its room's timeline; returns the missing."""
        by_room = {}
        for ack in acks:
            by_room.setdefault(ack.room, []).append(ack)
        missing = []
        for room, room_acks in by_room.items():
            _, ids = self.room_messages(room, tokens[room_acks[0].client],
                                        {a.txn for a in room_acks})
            missing += [(a.txn, a.event_id) for a in room_acks
                        if ids.get(a.txn, (None,))[0] != a.event_id]
        return missing

    # --- the test --------------------------------------------------------------------------------

    def test_acknowledged_events_survive_kills_and_exec_restarts(self):
        started = time.time()
        seed = int(os.environ.get("DURABILITY_SEED", str(int(started))))
        rng = random.Random(seed)
        reader = self.start_server()
        self.assert_verified(reader, 0, "first start")

        tokens, rooms = {}, {}
        for i in range(CLIENTS):
            tokens[f"c{i}"] = self.api("POST", "/register", {
                "username": f"user{i}", "password": PASSWORD,
                "auth": {"type": "m.login.dummy"}})["access_token"]
        shared = self.api("POST", "/createRoom", {"preset": "public_chat", "name": "Shared"},
                          tokens["c0"])["room_id"]
        for name, token in tokens.items():
            if name != "c0":
                self.api("POST", f"/rooms/{q(shared)}/join", {}, token)
            own = self.api("POST", "/createRoom", {"preset": "private_chat"}, token)["room_id"]
            rooms[name] = [shared, own]

        target, stats = Target(), Stats()
        target.set_up(self.server.port)
        self.clients = [Client(n, tokens[n], rooms[n], target, stats, self.stop) for n in tokens]
        for c in self.clients:
            c.start()

        # --- kill -9 rounds: the load resumes as soon as the new process listens, and the
        # checker runs under it ---
        per_round, replayed = [], 0
        for round_no in range(CRASH_ROUNDS):
            time.sleep(rng.uniform(0.2, 1.5))
            generation = target.generation
            target.set_down()
            self.server.proc.kill()
            self.server.proc.wait()
            offset = self.server.log_size()
            reader = self.start_server()
            # Every ack of the killed process is in by now: the clients wait for the new one.
            killed = [a for a in self.all_acks() if a.generation == generation]
            target.set_up(self.server.port)
            what = f"round {round_no} (seed {seed})"
            t1 = time.time()
            self.assertEqual(self.find_in_timelines(killed, tokens), [],
                             f"{what}: acknowledged events lost")
            sample = rng.sample(killed, min(20, len(killed)))
            self.assertEqual(self.fetch_each(sample, tokens), [], what)
            # Each client's last acknowledged send, sent again as if its answer had been lost:
            # the txn_ids entry survived the kill, so the same event comes back.
            for client in self.clients:
                mine = [a for a in killed if a.client == client.name]
                if mine:
                    self.assertEqual(self.resend(mine[-1], tokens), mine[-1].event_id, what)
                    replayed += 1
            # The checker started under load (through its snapshot); the load holds while it
            # finishes, or the database would grow with every slower run of it.
            target.pause(True)
            t2 = time.time()
            self.assertGreater(self.assert_verified(reader, offset, what), 0)
            target.pause(False)
            per_round.append(len(killed))
            if VERBOSE:
                print(f"{what}: {len(killed)} acknowledged, checked in {t2 - t1:.2f} s, "
                      f"verified {time.time() - t2:.2f} s later", file=sys.stderr)

        # --- exec restarts (SIGUSR2) under the same load ---
        pid = self.server.proc.pid
        exec_generation = target.generation
        restart_times = []
        for restart_no in range(EXEC_RESTARTS):
            time.sleep(rng.uniform(0.2, 1.5))
            offset = self.server.log_size()
            t0 = time.time()
            self.server.send(signal.SIGUSR2)
            line = self.server.wait_for_log(r"listening on http://\S+ \(inherited socket\)",
                                            timeout=60, after=offset)
            restart_times.append(time.time() - t0)
            self.assertIsNone(self.server.proc.poll(), f"exec restart {restart_no}: exited")
            self.assertEqual(self.server.proc.pid, pid)
            self.assertIn(f":{self.server.port} ", line)
        time.sleep(0.3)
        self.stop.set()
        for c in self.clients:
            c.join(30)
            self.assertFalse(c.is_alive())
        self.assertEqual(stats.failures, [])
        self.assertEqual(stats.refused_up, 0, "connections refused during exec restarts")
        self.assertEqual(target.generation, exec_generation)
        exec_acks = [a for a in self.all_acks() if a.generation == exec_generation]
        self.assertEqual(self.find_in_timelines(exec_acks, tokens), [], "after exec restarts")

        # --- the end: a clean stop, the checker once more, every event read back ---
        self.assertEqual(self.server.stop(signal.SIGTERM), 0)
        offset = self.server.log_size()
        reader = self.start_server()
        self.assert_verified(reader, offset, "final start")
        acks = self.all_acks()
        by_room = {}
        for ack in acks:
            by_room.setdefault(ack.room, []).append(ack)
        # A send whose answer was lost, acknowledged on retry with the same txn id: its event is
        # older than the failure if the first attempt stored it (the retry answered that event),
        # newer if the retry stored it; either way it is stored once (no body twice).
        stored_first = stored_by_retry = 0
        for room, room_acks in by_room.items():
            bodies, ids = self.room_messages(room, tokens[room_acks[0].client])
            twice = sorted(b for b, n in collections.Counter(bodies).items() if n > 1)
            self.assertEqual(twice, [], f"{room}: a transaction stored twice")
            lost = [(a.txn, a.event_id) for a in room_acks
                    if ids.get(a.txn, (None,))[0] != a.event_id]
            self.assertEqual(lost, [], f"{room}: acknowledged events missing or different")
            for ack in room_acks:
                if ack.failed_ms is not None:
                    if ids[ack.txn][1] <= ack.failed_ms:
                        stored_first += 1
                    else:
                        stored_by_retry += 1
        retried = [a for a in acks if a.failed_ms is not None]
        self.assertEqual(self.fetch_each(retried, tokens), [])
        print(f"\ndurability (seed {seed}): {CRASH_ROUNDS} kill -9 rounds, acknowledged per "
              f"round {min(per_round, default=0)}-{max(per_round, default=0)} "
              f"(mean {sum(per_round) / max(len(per_round), 1):.0f}), none lost, {replayed} "
              f"resent after the kill answered with their event; "
              f"{EXEC_RESTARTS} exec restarts of pid {pid} "
              f"({min(restart_times, default=0):.2f}-{max(restart_times, default=0):.2f} s each), "
              f"{len(exec_acks)} acknowledged meanwhile, none lost; {len(acks)} events read back; "
              f"sends whose answer was lost {stats.in_doubt} (by kill {stats.broken_down}, by "
              f"exec restart {stats.broken_up}), retried with their txn id: {stored_first} had "
              f"been stored (the retry answered it), {stored_by_retry} stored by the retry, none "
              f"twice; refused during exec restarts {stats.refused_up}, while killed "
              f"{stats.refused_down}; 429/503 retried {stats.status_retries}; "
              f"{time.time() - started:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
