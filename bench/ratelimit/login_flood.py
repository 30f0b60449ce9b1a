#!/usr/bin/python3
"""Rate-limiter memory benchmark (see bench/README.md, "bench/ratelimit").

Starts the server binary given on the command line in a fresh temporary directory (port 0,
access log off), then sends one POST /_matrix/client/v3/login from each of N distinct client
addresses. The server keys its login bucket by the TCP peer address (it trusts no forwarded
header), so each request comes from its own loopback source address 127.x.y.z (the whole
127.0.0.0/8 is local on Linux: the client binds it before connecting). Every login names the same
unknown user, so after the per-user burst the answers are 429s and no password is hashed: the
load is the per-IP buckets. Samples the server's VmRSS every second and prints the samples and
the verdict: RSS after the flood minus RSS after the first 50,000 requests, against GOAL_KIB.

  bench/ratelimit/login_flood.py BINARY [N=1000000] [WORKERS=4] [GOAL_KIB=65536]
"""
import multiprocessing as mp
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

BODY = (b'{"type":"m.login.password","identifier":{"type":"m.id.user","user":"nobody"},'
        b'"password":"wrong"}')
REQUEST = (b"POST /_matrix/client/v3/login HTTP/1.1\r\nHost: localhost\r\n"
           b"Content-Type: application/json\r\nConnection: close\r\nContent-Length: " +
           str(len(BODY)).encode() + b"\r\n\r\n" + BODY)


def address(i):
    # 127.1.0.0 upwards: 16M addresses, never 127.0.0.1 (the server's own).
    i += 1 << 16
    return f"127.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def worker(port, start, stop, step, done, statuses):
    counts = {}
    for i in range(start, stop, step):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # RST on close: no TIME_WAIT left behind for a million connections.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        head = b""
        try:
            s.bind((address(i), 0))
            s.connect(("127.0.0.1", port))
            s.sendall(REQUEST)
            while b"\r\n" not in head:
                chunk = s.recv(4096)
                if not chunk:
                    break
                head += chunk
        except OSError:
            pass
        s.close()
        code = head.split(b" ", 2)[1].decode() if head.startswith(b"HTTP/1.1 ") else "none"
        counts[code] = counts.get(code, 0) + 1
        with done.get_lock():
            done.value += 1
    statuses.put(counts)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    binary = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000000
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    goal_kib = int(sys.argv[4]) if len(sys.argv) > 4 else 65536
    work = tempfile.mkdtemp(prefix="conclave-ratelimit-")
    env = dict(os.environ, CONCLAVE_PORT="0", CONCLAVE_ACCESS_LOG="false",
               CONCLAVE_DATABASE_PATH=os.path.join(work, "db"),
               CONCLAVE_RUNTIME_DIR=os.path.join(work, "run"))
    log = open(os.path.join(work, "server.log"), "w+")
    server = subprocess.Popen([binary], cwd=work, env=env, stdout=log, stderr=log)
    port = None
    for _ in range(600):
        log.seek(0)
        m = re.search(r"listening on http://[^:]+:(\d+)", log.read())
        if m:
            port = int(m.group(1))
            break
        time.sleep(0.1)
    if port is None:
        server.kill()
        log.seek(0)
        sys.exit("server did not start:\n" + log.read())
    done = mp.Value("q", 0)
    statuses = mp.Queue()
    samples = []
    stop = threading.Event()

    def sample():
        t0 = time.monotonic()
        while not stop.is_set():
            samples.append((time.monotonic() - t0, done.value, rss_kib(server.pid)))
            stop.wait(1)

    sampler = threading.Thread(target=sample)
    rss_start = rss_kib(server.pid)
    sampler.start()
    started = time.monotonic()
    procs = [mp.Process(target=worker, args=(port, w, n, workers, done, statuses))
             for w in range(workers)]
    for p in procs:
        p.start()
    counts = {}
    for _ in procs:
        for code, k in statuses.get().items():
            counts[code] = counts.get(code, 0) + k
    for p in procs:
        p.join()
    elapsed = time.monotonic() - started
    stop.set()
    sampler.join()
    rss_end = rss_kib(server.pid)
    server.terminate()
    server.wait(timeout=30)
    shutil.rmtree(work, ignore_errors=True)

    print(f"{n} logins from {n} addresses in {elapsed:.0f} s ({n / elapsed:.0f}/s), "
          f"answers: {dict(sorted(counts.items()))}")
    print("   t/s   requests   VmRSS/KiB")
    step = max(1, len(samples) // 20)
    for t, k, rss in samples[::step] + samples[-1:]:
        print(f"{t:6.0f} {k:10d} {rss:11d}")
    warm = next((rss for _, k, rss in samples if k >= min(50000, n // 2)), rss_start)
    peak = max(rss for _, _, rss in samples)
    growth = rss_end - warm
    print(f"VmRSS: at start {rss_start} KiB, after {min(50000, n // 2)} requests {warm} KiB, "
          f"peak {peak} KiB, at the end {rss_end} KiB; growth after warm-up {growth} KiB "
          f"(goal <= {goal_kib} KiB): {'OK' if growth <= goal_kib else 'MISSED'}")
    sys.exit(0 if growth <= goal_kib and counts.get("none", 0) == 0 else 1)


if __name__ == "__main__":
    main()
