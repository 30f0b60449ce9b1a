"""Simplified sliding sync (MSC4186) next to /sync, for one user in many rooms (Python stdlib;
/usr/bin/python3). Run by bench/matrix/sliding.sh, or against any server with the rate limits off:

    sliding.py PORT

Setup: a reader creates ROOMS rooms (public, default 500) and sends one message into each; a
sender joins the oldest. Then, each on keep-alive connections:
  first     RUNS times (default 20) a new sliding sync connection asks for the top TOP rooms
            (default 20) with timeline_limit 1 and Element X's required_state (name, avatar,
            encryption, create, $LAZY and $ME members): time to the full answer (ms), its size.
  wake      WAKE_ROUNDS times (default 200): a long-polling request (timeout 30 s) waits, the
            sender sends into the oldest room, which moves it to the top; reported is the time
            from the sender's 200 to the sliding sync answer (ms), p50 and p99.
  sync      the same two figures for /sync: an initial /sync with timeline limit 1 and lazy
            members (RUNS times), and the wake-up of a /sync long-poll (WAKE_ROUNDS times).
  scale     /sync at scale: SCALE_USERS users (default 200) each in the same SCALE_ROOMS rooms
            (default 200; 0 skips the phase), joined by SCALE_THREADS clients (4); one user's
            initial /sync with lazy_load_members and without (default timeline limit),
            SCALE_RUNS times (5): p50 (ms) and size.
Prints `key=value` lines. Exits 1 on a wrong answer, with the request and the answer.
"""

import http.client
import json
import os
import statistics
import sys
import threading
import time
import urllib.parse
import uuid

PORT = int(sys.argv[1])
ROOMS = int(os.environ.get("ROOMS", "500"))
TOP = int(os.environ.get("TOP", "20"))
RUNS = int(os.environ.get("RUNS", "20"))
WAKE_ROUNDS = int(os.environ.get("WAKE_ROUNDS", "200"))
SETTLE_S = float(os.environ.get("WAKE_SETTLE_MS", "20")) / 1000
SCALE_USERS = int(os.environ.get("SCALE_USERS", "200"))
SCALE_ROOMS = int(os.environ.get("SCALE_ROOMS", "200"))
SCALE_THREADS = int(os.environ.get("SCALE_THREADS", "4"))
SCALE_RUNS = int(os.environ.get("SCALE_RUNS", "5"))
RUN = uuid.uuid4().hex[:8]
SLIDING = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync"
V3 = "/_matrix/client/v3"
REQUIRED_STATE = [["m.room.name", ""], ["m.room.avatar", ""], ["m.room.encryption", ""],
                  ["m.room.create", ""], ["m.room.member", "$LAZY"], ["m.room.member", "$ME"]]
SYNC_FILTER = urllib.parse.quote(json.dumps({"room": {"timeline": {"limit": 1},
                                                      "state": {"lazy_load_members": True}}}))


class Client:
    def __init__(self, token=None):
        self.conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
        self.token = token

    def call(self, method, path, body=None):
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        t0 = time.perf_counter()
        self.conn.request(method, path, body=None if body is None else json.dumps(body),
                          headers=headers)
        resp = self.conn.getresponse()
        raw = resp.read()
        # The server's figure: request sent to the last byte read, before the client parses it.
        self.done = time.perf_counter()
        self.seconds = self.done - t0
        if resp.status != 200:
            sys.exit(f"sliding.py: {method} {path} answered {resp.status}: {raw[:500]!r}")
        return json.loads(raw), len(raw)


def register(name):
    body, _ = Client().call("POST", V3 + "/register",
                            {"username": name, "password": "bench-password-sliding",
                             "auth": {"type": "m.login.dummy"}})
    return body["access_token"]


def send(client, room):
    client.call("PUT", f"{V3}/rooms/{room}/send/m.room.message/{uuid.uuid4().hex}",
                {"msgtype": "m.text", "body": "ping"})


def sliding_body(last):
    return {"lists": {"all": {"ranges": [[0, last]], "timeline_limit": 1,
                              "required_state": REQUIRED_STATE}}}


def ms(seconds):
    return round(seconds * 1000, 2)


def wake_rounds(poll, sender, room, check):
    """WAKE_ROUNDS long-polls each woken by one send; the latencies (s) from the send's 200 to
    the answer's last byte. `poll` returns (answer, when its last byte was read)."""
    latencies = []
    for _ in range(WAKE_ROUNDS):
        done = {}

        def waiter():
            done["answer"], done["t"] = poll()

        t = threading.Thread(target=waiter)
        t.start()
        time.sleep(SETTLE_S)
        send(sender, room)
        sent = sender.done
        t.join(60)
        if "answer" not in done:
            sys.exit("sliding.py: a long-poll was not woken by a send")
        check(done["answer"])
        latencies.append(max(0.0, done["t"] - sent))
    return latencies


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def main():
    # The first user of a server is its admin, in the admin room: not the reader.
    register(f"sliding_operator_{RUN}")
    reader_token = register(f"sliding_reader_{RUN}")
    sender_token = register(f"sliding_sender_{RUN}")
    reader, sender = Client(reader_token), Client(sender_token)
    rooms = []
    t0 = time.perf_counter()
    for i in range(ROOMS):
        body, _ = reader.call("POST", V3 + "/createRoom",
                              {"preset": "public_chat", "name": f"bench room {i}"})
        rooms.append(body["room_id"])
        send(reader, rooms[-1])
    print(f"setup_rooms={ROOMS} setup_s={time.perf_counter() - t0:.1f}")
    oldest = rooms[0]
    sender.call("POST", f"{V3}/rooms/{oldest}/join", {})

    # first: a new connection's top TOP rooms.
    times, size = [], 0
    for run in range(RUNS):
        body = dict(sliding_body(TOP - 1), conn_id=f"first{run}")
        answer, size = reader.call("POST", SLIDING, body)
        times.append(reader.seconds)
        if len(answer["rooms"]) != TOP or answer["lists"]["all"]["count"] != ROOMS:
            sys.exit(f"sliding.py: first response has {len(answer['rooms'])} rooms, count "
                     f"{answer['lists']['all']['count']}")
    print(f"sliding_first_p50_ms={ms(statistics.median(times))} "
          f"sliding_first_min_ms={ms(min(times))} sliding_first_max_ms={ms(max(times))} "
          f"sliding_first_bytes={size}")

    # wake: the oldest room's news wakes a waiting request.
    body = dict(sliding_body(TOP - 1), conn_id="wake")
    state = {}
    state["pos"] = reader.call("POST", SLIDING, body)[0]["pos"]
    poller = Client(reader_token)

    def sliding_poll():
        answer, _ = poller.call("POST", f"{SLIDING}?pos={state['pos']}&timeout=30000", body)
        state["pos"] = answer["pos"]
        return answer, poller.done

    def sliding_check(answer):
        if oldest not in answer["rooms"]:
            sys.exit(f"sliding.py: woken without the room: {json.dumps(answer)[:500]}")

    lat = wake_rounds(sliding_poll, sender, oldest, sliding_check)
    print(f"sliding_wake_p50_ms={ms(statistics.median(lat))} sliding_wake_p99_ms={ms(pct(lat, 0.99))}")

    # /sync, the same figures.
    times = []
    for _ in range(RUNS):
        answer, size = reader.call("GET", f"{V3}/sync?filter={SYNC_FILTER}")
        times.append(reader.seconds)
        if len(answer["rooms"]["join"]) < ROOMS:
            sys.exit(f"sliding.py: initial /sync has {len(answer['rooms']['join'])} rooms")
    print(f"sync_initial_p50_ms={ms(statistics.median(times))} sync_initial_bytes={size}")
    state["since"] = answer["next_batch"]

    def sync_poll():
        got, _ = poller.call("GET", f"{V3}/sync?since={state['since']}&timeout=30000")
        state["since"] = got["next_batch"]
        return got, poller.done

    def sync_check(got):
        if oldest not in got.get("rooms", {}).get("join", {}):
            sys.exit(f"sliding.py: /sync woken without the room: {json.dumps(got)[:500]}")

    lat = wake_rounds(sync_poll, sender, oldest, sync_check)
    print(f"sync_wake_p50_ms={ms(statistics.median(lat))} sync_wake_p99_ms={ms(pct(lat, 0.99))}")

    if SCALE_USERS and SCALE_ROOMS:
        scale()


def scale():
    """The scale phase: SCALE_USERS users in the same SCALE_ROOMS rooms."""
    t0 = time.perf_counter()
    tokens = [register(f"scale_{RUN}_{i}") for i in range(SCALE_USERS)]
    owner = Client(tokens[0])
    rooms = [owner.call("POST", V3 + "/createRoom", {"preset": "public_chat"})[0]["room_id"]
             for _ in range(SCALE_ROOMS)]

    def join_all(part):
        for token in tokens[1 + part::SCALE_THREADS]:
            c = Client(token)
            for room in rooms:
                c.call("POST", f"{V3}/rooms/{room}/join", {})

    workers = [threading.Thread(target=join_all, args=(i,)) for i in range(SCALE_THREADS)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    print(f"scale_users={SCALE_USERS} scale_rooms={SCALE_ROOMS} "
          f"scale_setup_s={time.perf_counter() - t0:.1f}")
    reader = Client(tokens[-1])
    lazy = urllib.parse.quote(json.dumps({"room": {"state": {"lazy_load_members": True}}}))
    for name, path in (("lazy", f"{V3}/sync?filter={lazy}"), ("full", f"{V3}/sync")):
        times = []
        for _ in range(SCALE_RUNS):
            answer, size = reader.call("GET", path)
            times.append(reader.seconds)
        joined = answer["rooms"]["join"]
        if len(joined) != SCALE_ROOMS:
            sys.exit(f"sliding.py: the scale /sync has {len(joined)} rooms")
        print(f"scale_sync_{name}_p50_ms={ms(statistics.median(times))} "
              f"scale_sync_{name}_bytes={size}")


if __name__ == "__main__":
    main()
