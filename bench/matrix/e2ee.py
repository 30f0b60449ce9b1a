"""End-to-end encryption phase (e) of bench/matrix/run.sh (Python stdlib; /usr/bin/python3).

    e2ee.py PORT

Against a running server with registration and login rate limits off:
  claim    a user logs in DEVICES devices (default 100), each uploads CLAIM_ROUNDS one-time
           keys (signed_curve25519, unsigned: the stdlib has no Ed25519, and the server checks
           signatures only against uploaded device keys); another user then claims one key of
           every device in one POST /keys/claim, CLAIM_ROUNDS times. Reported: p50 and max of
           the claim's time (ms), and that each claim returned DEVICES keys, all distinct.
  to-device  a sender sends TO_DEVICE messages (default 1000) to one device, one
           PUT /sendToDevice each; then the recipient's /sync from its previous token must
           deliver all of them, in order, and the next /sync none. Reported: send rate
           (messages/s), the delivering sync's time (ms) and size (bytes), the acknowledging
           sync's time (ms).
Prints `key=value` lines. Exits 1 on a wrong answer, with the request and answer.
"""

import http.client
import json
import os
import statistics
import sys
import time
import uuid

PORT = int(sys.argv[1])
DEVICES = int(os.environ.get("DEVICES", "100"))
CLAIM_ROUNDS = int(os.environ.get("CLAIM_ROUNDS", "5"))
TO_DEVICE = int(os.environ.get("TO_DEVICE", "1000"))
PASSWORD = "bench-password-e2ee"
RUN = uuid.uuid4().hex[:8]

conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)


def call(method, path, token=None, body=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    conn.request(method, path, body=json.dumps(body).encode() if body is not None else None,
                 headers=headers)
    resp = conn.getresponse()
    raw = resp.read()
    if resp.status != 200:
        sys.exit(f"e2ee.py: {method} {path} -> HTTP {resp.status}: {raw[:300]!r}")
    return json.loads(raw), len(raw)


def register(localpart):
    body, _ = call("POST", "/_matrix/client/v3/register",
                   body={"username": localpart, "password": PASSWORD,
                         "auth": {"type": "m.login.dummy"}})
    return body


def login(localpart, device_id):
    body, _ = call("POST", "/_matrix/client/v3/login",
                   body={"type": "m.login.password", "password": PASSWORD, "device_id": device_id,
                         "identifier": {"type": "m.id.user", "user": localpart}})
    return body["access_token"]


def claim_phase():
    target = register(f"e2ee_target_{RUN}")
    user_id = target["user_id"]
    devices = []
    for i in range(DEVICES):
        device_id = f"D{i:04d}"
        token = login(f"e2ee_target_{RUN}", device_id)
        keys = {f"signed_curve25519:K{r}": {"key": uuid.uuid4().hex} for r in range(CLAIM_ROUNDS)}
        counts, _ = call("POST", "/_matrix/client/v3/keys/upload", token,
                         {"one_time_keys": keys})
        if counts["one_time_key_counts"].get("signed_curve25519") != CLAIM_ROUNDS:
            sys.exit(f"e2ee.py: upload answered {counts}")
        devices.append(device_id)
    claimer = register(f"e2ee_claimer_{RUN}")["access_token"]
    request = {"one_time_keys": {user_id: {d: "signed_curve25519" for d in devices}}}
    times, seen = [], set()
    for _ in range(CLAIM_ROUNDS):
        started = time.perf_counter()
        body, _ = call("POST", "/_matrix/client/v3/keys/claim", claimer, request)
        times.append((time.perf_counter() - started) * 1000)
        got = body["one_time_keys"].get(user_id, {})
        if len(got) != DEVICES:
            sys.exit(f"e2ee.py: a claim returned keys of {len(got)} devices, not {DEVICES}")
        for device_id, key in got.items():
            seen.add((device_id, next(iter(key))))
    if len(seen) != DEVICES * CLAIM_ROUNDS:
        sys.exit(f"e2ee.py: {DEVICES * CLAIM_ROUNDS} claims returned {len(seen)} distinct keys")
    print(f"claim_devices={DEVICES}")
    print(f"claim_p50_ms={statistics.median(times):.2f}")
    print(f"claim_max_ms={max(times):.2f}")


def to_device_phase():
    sender = register(f"e2ee_sender_{RUN}")["access_token"]
    recipient = register(f"e2ee_recipient_{RUN}")
    token, user_id, device_id = (recipient["access_token"], recipient["user_id"],
                                 recipient["device_id"])
    since = call("GET", "/_matrix/client/v3/sync?timeout=0", token)[0]["next_batch"]
    started = time.perf_counter()
    for i in range(TO_DEVICE):
        call("PUT", f"/_matrix/client/v3/sendToDevice/m.bench/{RUN}-{i}", sender,
             {"messages": {user_id: {device_id: {"i": i, "pad": "x" * 64}}}})
    send_s = time.perf_counter() - started
    started = time.perf_counter()
    body, size = call("GET", f"/_matrix/client/v3/sync?timeout=0&since={since}", token)
    deliver_ms = (time.perf_counter() - started) * 1000
    got = [e["content"]["i"] for e in body["to_device"]["events"]]
    if got != list(range(TO_DEVICE)):
        sys.exit(f"e2ee.py: the sync delivered {len(got)} messages, not 0..{TO_DEVICE - 1} in order")
    started = time.perf_counter()
    after, _ = call("GET", f"/_matrix/client/v3/sync?timeout=0&since={body['next_batch']}", token)
    ack_ms = (time.perf_counter() - started) * 1000
    if after["to_device"]["events"]:
        sys.exit("e2ee.py: the acknowledging sync delivered messages again")
    print(f"to_device_messages={TO_DEVICE}")
    print(f"to_device_send_per_s={TO_DEVICE / send_s:.0f}")
    print(f"to_device_sync_ms={deliver_ms:.2f}")
    print(f"to_device_sync_bytes={size}")
    print(f"to_device_ack_sync_ms={ack_ms:.2f}")


claim_phase()
to_device_phase()
