"""Setup steps of bench/matrix/run.sh (Python stdlib only; run with /usr/bin/python3).

    setup.py PORT OUTDIR ab    users and rooms for phases (a) and (b)
    setup.py PORT OUTDIR c     the reader's 100 rooms for phase (c), joined by the (a) senders

Writes one value per line into files in OUTDIR (tokens, room ids) for wrk and matrix_load, and
prints `key=value` timings. Exits non-zero, with the failing request and answer, on any error.
"""

import concurrent.futures
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse

PORT = int(sys.argv[1])
OUT = sys.argv[2]
STEP = sys.argv[3]
SENDERS = int(os.environ.get("CLIENTS", "16"))      # phase (a) users; also the fill senders
SYNCERS = int(os.environ.get("SYNCERS", "16"))      # phase (b) long-polling users
FILL_ROOMS = int(os.environ.get("FILL_ROOMS", "100"))
PASSWORD = "bench-password-1"

_local = threading.local()


class SetupError(Exception):
    pass


def call(method, path, token=None, body=None, expect=200):
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    data = json.dumps(body).encode() if body is not None else None
    for attempt in range(2):
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            break
        except (http.client.HTTPException, ConnectionError):
            conn.close()
            if attempt:
                raise
    if resp.status != expect:
        raise SetupError(f"{method} {path} -> HTTP {resp.status}: {raw[:500].decode(errors='replace')}")
    return json.loads(raw) if raw else {}


def q(s):
    return urllib.parse.quote(s, safe="")


def register(name):
    body = {"username": name, "password": PASSWORD, "auth": {"type": "m.login.dummy"},
            "inhibit_login": False}
    return call("POST", "/_matrix/client/v3/register", body=body)["access_token"]


def create_room(token):
    return call("POST", "/_matrix/client/v3/createRoom", token, {"preset": "public_chat"})["room_id"]


def join(token, room):
    call("POST", f"/_matrix/client/v3/join/{q(room)}", token, {})


def write(name, lines):
    with open(os.path.join(OUT, name), "w") as f:
        f.write("".join(line + "\n" for line in lines))


def read(name):
    with open(os.path.join(OUT, name)) as f:
        return [line.strip() for line in f if line.strip()]


def pmap(fn, items, workers=8):
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, items))


def step_ab():
    t = time.monotonic()
    names = [f"send{i:02d}" for i in range(SENDERS)] + [f"sync{i:02d}" for i in range(SYNCERS)] + ["waker"]
    tokens = dict(zip(names, pmap(register, names, workers=4)))
    t_reg = time.monotonic() - t
    senders = [tokens[n] for n in names[:SENDERS]]
    syncers = [tokens[n] for n in names[SENDERS:SENDERS + SYNCERS]]
    waker = tokens["waker"]

    # (a): one shared room with every sender in it; and one room of its own per sender.
    shared = create_room(senders[0])
    pmap(lambda tok: join(tok, shared), senders[1:])
    own = pmap(create_room, senders)
    # (b): the waker's room, joined by every syncer.
    wake_room = create_room(waker)
    pmap(lambda tok: join(tok, wake_room), syncers)

    write("send_tokens", senders)
    write("shared_room", [shared])
    write("own_rooms", own)
    write("sync_tokens", syncers)
    write("waker_token", [waker])
    write("wake_room", [wake_room])
    print(f"users={len(names)}\nregister_s={t_reg:.2f}\nsetup_ab_s={time.monotonic() - t:.2f}")


def step_c():
    t = time.monotonic()
    reader = register("reader")
    rooms = pmap(lambda _: create_room(reader), range(FILL_ROOMS), workers=4)
    senders = read("send_tokens")
    pmap(lambda pair: join(*pair), [(tok, room) for room in rooms for tok in senders])
    write("reader_token", [reader])
    write("fill_rooms", rooms)
    print(f"fill_rooms={len(rooms)}\njoins={len(rooms) * len(senders)}\n"
          f"setup_c_s={time.monotonic() - t:.2f}")


try:
    {"ab": step_ab, "c": step_c}[STEP]()
except SetupError as e:
    print(f"setup.py {STEP}: {e}", file=sys.stderr)
    sys.exit(1)
