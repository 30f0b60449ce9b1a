"""Blocking work against a running conclave (Debian's python3, stdlib only).

`blocking.py run --port P` sends ROUNDS bursts of N concurrent registrations (POST /register,
m.login.dummy: each hashes a password with argon2) while a separate probe process sends
GET /_matrix/client/versions on its own keep-alive connection every 20 ms (latency counted from
the scheduled send time, so a stall counts for every request it delays), and prints the
probe's latency percentiles during the bursts and in an idle baseline before them, plus the
registrations' statuses and wall time. Exit status 1 if a registration or a probe failed, or
(with --goal-p99-ms) the p99 during the bursts is over the goal.
"""

import argparse
import asyncio
import http.client
import json
import os
import statistics
import subprocess
import sys
import time

HOST = "127.0.0.1"
VERSIONS = "/_matrix/client/versions"


PROBE_INTERVAL_S = 0.02


def probe(port, stop_file, out_file):
    """Sends /versions on a schedule (one every PROBE_INTERVAL_S, at once when behind) until
    stop_file exists; writes 'scheduled_s latency_ms ok' lines. The latency runs from the
    scheduled send time, so that a stall counts for every request it delayed, not just one
    (no coordinated omission)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    failures = 0
    scheduled = time.monotonic()
    with open(out_file, "w") as out:
        while not os.path.exists(stop_file):
            now = time.monotonic()
            if now < scheduled:
                time.sleep(scheduled - now)
            start = scheduled
            scheduled += PROBE_INTERVAL_S
            try:
                conn.request("GET", VERSIONS)
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except OSError:
                ok = False
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=60)
            elapsed = (time.monotonic() - start) * 1000
            if not ok:
                failures += 1
            out.write(f"{start:.6f} {elapsed:.3f} {int(ok)}\n")
    return failures


async def register(port, user, results):
    body = json.dumps({"username": user, "password": "bench-password-" + user,
                       "auth": {"type": "m.login.dummy"}, "inhibit_login": True}).encode()
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write((f"POST /_matrix/client/v3/register HTTP/1.1\r\nHost: bench\r\n"
                  f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                  f"Connection: close\r\n\r\n").encode() + body)
    await writer.drain()
    data = await reader.read()
    writer.close()
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0
    results[status] = results.get(status, 0) + 1


async def bursts(port, rounds, n, tag):
    results = {}
    windows = []
    for r in range(rounds):
        start = time.monotonic()
        await asyncio.gather(*(register(port, f"{tag}_{r}_{i}", results) for i in range(n)))
        windows.append((start, time.monotonic()))
    return results, windows


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def summary(name, latencies):
    return (f"{name}: {len(latencies)} requests, p50 {percentile(latencies, 50):.2f} ms, "
            f"p99 {percentile(latencies, 99):.2f} ms, max {max(latencies, default=float('nan')):.2f} ms")


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("probe")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--stop-file", required=True)
    p.add_argument("--out", required=True)
    r = sub.add_parser("run")
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--rounds", type=int, default=3)
    r.add_argument("--concurrent", type=int, default=100)
    r.add_argument("--baseline-seconds", type=float, default=3)
    r.add_argument("--out-dir", default="/tmp")
    r.add_argument("--goal-p99-ms", type=float, default=0)
    args = parser.parse_args()
    if args.command == "probe":
        sys.exit(1 if probe(args.port, args.stop_file, args.out) else 0)

    stop_file = os.path.join(args.out_dir, "probe.stop")
    out_file = os.path.join(args.out_dir, "probe.txt")
    if os.path.exists(stop_file):
        os.remove(stop_file)
    prober = subprocess.Popen([sys.executable, __file__, "probe", "--port", str(args.port),
                               "--stop-file", stop_file, "--out", out_file])
    time.sleep(args.baseline_seconds)
    baseline_end = time.monotonic()
    results, windows = asyncio.run(
        bursts(args.port, args.rounds, args.concurrent, f"b{os.getpid()}_{int(time.time())}"))
    open(stop_file, "w").close()
    prober_rc = prober.wait()
    samples = [line.split() for line in open(out_file)]
    samples = [(float(s), float(ms), s_ok == "1") for s, ms, s_ok in samples]
    idle = [ms for s, ms, ok in samples if s < baseline_end - 0.2]
    during = [ms for s, ms, ok in samples if any(a <= s <= b for a, b in windows)]
    wall = sum(b - a for a, b in windows)
    print(summary("/versions idle baseline", idle))
    print(summary(f"/versions during {args.rounds} x {args.concurrent} registrations", during))
    print(f"registrations: {dict(sorted(results.items()))} in {wall:.2f} s "
          f"({args.rounds * args.concurrent / wall:.0f}/s)")
    print(f"p99_during_ms={percentile(during, 99):.2f}")
    failed = prober_rc != 0 or set(results) != {200}
    if failed:
        print("FAIL: a probe or a registration failed")
    if args.goal_p99_ms and percentile(during, 99) > args.goal_p99_ms:
        print(f"MISSED: p99 during the bursts over the goal of {args.goal_p99_ms} ms")
        failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
