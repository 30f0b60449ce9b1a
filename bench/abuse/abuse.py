"""Load and abuse against a running conclave (Debian's python3, stdlib only).

Two uses:
  - the bench tool: `abuse.py run --port P --pid PID ...` runs every attack in turn while a
    well-behaved client (`abuse.py probe`, a separate process so the attacks' event loop does
    not delay it) keeps sending requests, samples the server's VmRSS / VmHWM, prints a table and
    `key=value` lines, and exits 1 if the server died, changed pid, a well-behaved request failed
    or an attack got an answer other than the expected one (bench/abuse/run.sh);
  - a library: tests/integration/abuse_test.py imports the attack coroutines below.

Attacks (each an asyncio coroutine returning a dict of counts; all on 127.0.0.1):
  slowloris        N connections, each sends a request line and then one header byte every
                   `interval` s, never finishing the header; records when the server closes each.
  header_flood     C connections in a loop: a header block of 1,000 small headers (~14 KB, under
                   the 16 KiB default limit: expect 200), one 64 KiB header line (expect 431), and
                   2 MiB of header bytes without an end (expect 431 or a reset once the server
                   has refused it).
  idle_keepalive   N connections, one request each (expect 200), then idle; at the end a second
                   request on every one still open (expect 200: kept alive, not dropped).
  slow_bodies      N connections each send half a MiB of a chunked body and then nothing: the
                   server holds at most its body budget (64 MiB by default), refuses the rest
                   with 503 M_UNKNOWN and stays bounded in memory.
  oversized_bodies C connections in a loop: Content-Length 100 MiB (expect 413 at once, from the
                   header alone) and a chunked body of 64 KiB chunks growing past the limit
                   (expect 413 M_TOO_LARGE).
  burst            N concurrent POSTs to /login (wrong password) or /register (m.login.dummy),
                   all at once: expect 429 M_LIMIT_EXCEEDED with retry_after_ms beyond the burst.
"""

import argparse
import asyncio
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time

HOST = "127.0.0.1"
VERSIONS = "/_matrix/client/versions"


def raise_nofile():
    """Raises this process's descriptor limit to the hard limit; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---- HTTP over asyncio streams -----------------------------------------------------------------

def request_bytes(method, path, body=None, headers=()):
    lines = [f"{method} {path} HTTP/1.1", "Host: abuse"]
    lines += [f"{k}: {v}" for k, v in headers]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
        lines.append("Content-Type: application/json")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


async def read_response(reader):
    """Reads one response. Returns (status, body bytes, close); raises EOFError/OSError."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length, close = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
        elif name.strip().lower() == "connection" and value.strip().lower() == "close":
            close = True
    body = await reader.readexactly(length) if length else b""
    return status, body, close


def errcode(body):
    try:
        return json.loads(body).get("errcode")
    except ValueError:
        return None


def kind_of(e):
    if isinstance(e, (asyncio.IncompleteReadError, EOFError)):
        return "eof"
    if isinstance(e, ConnectionResetError):
        return "reset"
    if isinstance(e, BrokenPipeError):
        return "broken_pipe"
    if isinstance(e, ConnectionRefusedError):
        return "refused"
    if isinstance(e, asyncio.TimeoutError):
        return "timeout"
    return type(e).__name__


def bump(counts, key, n=1):
    counts[key] = counts.get(key, 0) + n


async def close_writer(writer):
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass


async def stop_task(task):
    """Cancels `task` and collects its outcome (a send that failed once the server closed)."""
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def open_many(port, n, parallel=200):
    """Opens n connections (at most `parallel` connects at once). Returns (streams, errors)."""
    sem = asyncio.Semaphore(parallel)
    errors = {}

    async def one():
        async with sem:
            try:
                return await asyncio.wait_for(asyncio.open_connection(HOST, port), 30)
            except (OSError, asyncio.TimeoutError) as e:
                bump(errors, kind_of(e))
                return None
    streams = await asyncio.gather(*(one() for _ in range(n)))
    return [s for s in streams if s is not None], errors


# ---- attacks -----------------------------------------------------------------------------------

async def slowloris(port, n, seconds, interval=1.0):
    """n connections trickling a never-ending header, one byte per `interval` s, for at most
    `seconds` (less if the server closed them all). Returns opened, closed_by_server, still_open,
    close_after_s_median / _max (from the connection's first byte to the server's close), errors."""
    streams, errors = await open_many(port, n)
    opened = time.monotonic()
    closed_after = []

    async def trickle(reader, writer):
        start = time.monotonic()
        watch = asyncio.ensure_future(reader.read(65536))  # b"" or an error: the server closed it
        try:
            writer.write(b"GET " + VERSIONS.encode() + b" HTTP/1.1\r\nHost: abuse\r\nX-Slow: ")
            while time.monotonic() - opened < seconds:
                done, _ = await asyncio.wait({watch}, timeout=interval)
                if done:
                    closed_after.append(time.monotonic() - start)
                    return
                writer.write(b"a")
        except OSError:
            closed_after.append(time.monotonic() - start)
        finally:
            watch.cancel()
            await close_writer(writer)

    await asyncio.gather(*(trickle(r, w) for r, w in streams))
    return {
        "opened": len(streams),
        "closed_by_server": len(closed_after),
        "still_open": len(streams) - len(closed_after),
        "close_after_s_median": round(statistics.median(closed_after), 1) if closed_after else None,
        "close_after_s_max": round(max(closed_after), 1) if closed_after else None,
        "connect_errors": errors,
    }


async def header_flood(port, seconds, connections=16, header_count=1000, line_bytes=65536,
                       endless_bytes=2 << 20):
    """`connections` loops for `seconds`, each round one request of each kind on a new
    connection. Returns counts per kind and outcome ("many_headers:200", "huge_line:431", ...)."""
    counts = {}
    many = request_bytes("GET", VERSIONS,
                         headers=[(f"X-H{i}", "v") for i in range(header_count)])
    huge = request_bytes("GET", VERSIONS, headers=[("X-Huge", "a" * line_bytes)])
    endless_head = b"GET " + VERSIONS.encode() + b" HTTP/1.1\r\nHost: abuse\r\nX-Endless: "
    deadline = time.monotonic() + seconds

    async def one(kind, payload, chunked_send=None):
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
        except OSError as e:
            bump(counts, f"{kind}:connect_{kind_of(e)}")
            return
        async def send():
            if chunked_send is None:
                writer.write(payload)
                await writer.drain()
            else:
                await chunked_send(writer)
        sender = asyncio.ensure_future(send())
        try:
            status, body, _ = await asyncio.wait_for(read_response(reader), 30)
            bump(counts, f"{kind}:{status}")
            if status >= 400 and errcode(body) is None:
                bump(counts, f"{kind}:not_matrix_json")
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError) as e:
            bump(counts, f"{kind}:{kind_of(e)}")
        finally:
            await stop_task(sender)
            await close_writer(writer)

    async def endless(writer):
        writer.write(endless_head)
        sent = 0
        while sent < endless_bytes:
            writer.write(b"b" * 16384)
            sent += 16384
            await writer.drain()

    async def loop():
        while time.monotonic() < deadline:
            await one("many_headers", many)
            await one("huge_line", huge)
            await one("endless", None, endless)

    await asyncio.gather(*(loop() for _ in range(connections)))
    return counts


async def idle_keepalive(port, n, hold_seconds, on_open=None):
    """n keep-alive connections, one request each, held idle for `hold_seconds`, then a second
    request on each. `on_open()` (optional, sync) runs once all are open. Returns counts."""
    streams, errors = await open_many(port, n)
    counts = {"opened": len(streams), "connect_errors": errors}
    req = request_bytes("GET", VERSIONS)
    sem = asyncio.Semaphore(500)

    async def ask(reader, writer, key):
        async with sem:
            try:
                writer.write(req)
                await writer.drain()
                status, _, _ = await asyncio.wait_for(read_response(reader), 60)
                bump(counts, f"{key}:{status}")
                return True
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError) as e:
                bump(counts, f"{key}:{kind_of(e)}")
                return False

    await asyncio.gather(*(ask(r, w, "first") for r, w in streams))
    if on_open is not None:
        on_open()
    await asyncio.sleep(hold_seconds)
    await asyncio.gather(*(ask(r, w, "second") for r, w in streams))
    await asyncio.gather(*(close_writer(w) for _, w in streams))
    return counts


async def oversized_bodies(port, seconds, connections=8, chunk=65536, chunked_limit=8 << 20):
    """`connections` loops for `seconds`: a POST declaring Content-Length 100 MiB, then a chunked
    POST growing past the limit. Returns counts per kind and outcome ("content_length:413")."""
    counts = {}
    path = "/_matrix/client/v3/login"
    deadline = time.monotonic() + seconds

    async def one(kind, head, body_sender):
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
        except OSError as e:
            bump(counts, f"{kind}:connect_{kind_of(e)}")
            return
        writer.write(head)
        sender = asyncio.ensure_future(body_sender(writer))
        try:
            status, body, _ = await asyncio.wait_for(read_response(reader), 30)
            bump(counts, f"{kind}:{status}")
            if status == 413 and errcode(body) != "M_TOO_LARGE":
                bump(counts, f"{kind}:413_without_M_TOO_LARGE")
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError) as e:
            bump(counts, f"{kind}:{kind_of(e)}")
        finally:
            await stop_task(sender)
            await close_writer(writer)

    async def declared(writer):
        for _ in range(16):  # a little of the 100 MiB; the server answers from the header
            writer.write(b"{" * chunk)
            await writer.drain()

    async def chunked(writer):
        sent = 0
        while sent < chunked_limit:
            writer.write(b"%x\r\n" % chunk + b"[" * chunk + b"\r\n")
            sent += chunk
            await writer.drain()

    cl_head = (f"POST {path} HTTP/1.1\r\nHost: abuse\r\nContent-Type: application/json\r\n"
               f"Content-Length: {100 << 20}\r\n\r\n").encode()
    te_head = (f"POST {path} HTTP/1.1\r\nHost: abuse\r\nContent-Type: application/json\r\n"
               "Transfer-Encoding: chunked\r\n\r\n").encode()

    async def loop():
        while time.monotonic() < deadline:
            await one("content_length", cl_head, declared)
            await one("chunked", te_head, chunked)

    await asyncio.gather(*(loop() for _ in range(connections)))
    return counts


async def slow_bodies(port, n, seconds, sent_bytes=512 << 10):
    """n connections each start a chunked POST, send `sent_bytes` of body at once and then
    nothing for `seconds` (the server holds what it received until request_timeout). Returns
    "held" (no answer by then), status counts ("503": refused by the server's body budget), and
    errors."""
    counts = {}
    streams, errors = await open_many(port, n)
    for k, v in errors.items():
        bump(counts, f"connect_{k}", v)
    head = (b"POST /_matrix/client/v3/login HTTP/1.1\r\nHost: abuse\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"%x\r\n" % sent_bytes + b"[" * sent_bytes + b"\r\n"

    async def one(reader, writer):
        try:
            writer.write(head + chunk)
            status, body, _ = await asyncio.wait_for(read_response(reader), seconds)
            bump(counts, str(status))
            if status >= 400 and errcode(body) is None:
                bump(counts, "not_matrix_json")
        except asyncio.TimeoutError:
            bump(counts, "held")
        except (OSError, asyncio.IncompleteReadError) as e:
            bump(counts, kind_of(e))
        finally:
            await close_writer(writer)

    await asyncio.gather(*(one(r, w) for r, w in streams))
    return counts


async def burst(port, kind, n, tag="abuse"):
    """n concurrent POSTs at once: kind "login" (wrong password for an unknown user) or
    "register" (new users `<tag>_<i>`, m.login.dummy). Returns counts by status, and
    "429_with_retry_after_ms" / "429_without_retry_after_ms"."""
    counts = {}
    if kind == "login":
        path = "/_matrix/client/v3/login"
        bodies = [{"type": "m.login.password", "password": "wrong",
                   "identifier": {"type": "m.id.user", "user": f"{tag}_nobody"}}] * n
    else:
        path = "/_matrix/client/v3/register"
        bodies = [{"username": f"{tag}_{i}_{os.getpid()}", "password": "abuse-password-1",
                   "auth": {"type": "m.login.dummy"}, "inhibit_login": True} for i in range(n)]
    streams, errors = await open_many(port, n)
    for k, v in errors.items():
        bump(counts, f"connect_{k}", v)
    gate = asyncio.Event()

    async def one(reader, writer, body):
        try:
            await gate.wait()  # all at once
            writer.write(request_bytes("POST", path, json.dumps(body).encode()))
            await writer.drain()
            status, data, _ = await asyncio.wait_for(read_response(reader), 120)
            bump(counts, str(status))
            if status == 429:
                try:
                    parsed = json.loads(data)
                except ValueError:
                    parsed = {}
                ok = (parsed.get("errcode") == "M_LIMIT_EXCEEDED" and
                      isinstance(parsed.get("retry_after_ms"), int) and
                      parsed["retry_after_ms"] > 0)
                bump(counts, "429_with_retry_after_ms" if ok else "429_without_retry_after_ms")
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError) as e:
            bump(counts, kind_of(e))
        finally:
            await close_writer(writer)

    tasks = [asyncio.ensure_future(one(r, w, b)) for (r, w), b in zip(streams, bodies)]
    await asyncio.sleep(0.05)
    gate.set()
    await asyncio.gather(*tasks)
    return counts


# ---- server memory -----------------------------------------------------------------------------

def proc_status(pid):
    """{"VmRSS": kib, "VmHWM": kib, "Threads": n, "FDSize": n} of `pid`, or None if it is gone."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM", "Threads", "FDSize", "RssAnon"):
                    out[key] = int(value.split()[0])
    except OSError:
        return None
    try:
        out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        pass
    return out


class Sampler(threading.Thread):
    """Samples the server's status every `period` s; peak() over a window of monotonic time."""

    def __init__(self, pid, period=0.25):
        super().__init__(daemon=True)
        self.pid, self.period = pid, period
        self.samples = []  # (t, status dict)
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            s = proc_status(self.pid)
            if s is not None:
                self.samples.append((time.monotonic(), s))
            self.stop.wait(self.period)

    def peak(self, key, t0, t1):
        values = [s[key] for t, s in self.samples if t0 <= t <= t1 and key in s]
        return max(values) if values else None


# ---- the well-behaved client -------------------------------------------------------------------

def probe_main(port, out_path, interval):
    """Runs until SIGTERM: a keep-alive GET every `interval` s and, every 10th, the same on a new
    connection. Writes `monotonic_time latency_ms kind result` lines (kind keepalive/new, result
    a status or an error name)."""
    import socket
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    req = request_bytes("GET", VERSIONS)
    req_close = request_bytes("GET", VERSIONS, headers=[("Connection", "close")])

    def exchange(sock, payload):
        sock.sendall(payload)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise EOFError
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        status = int(head.split(b"\r\n")[0].split()[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise EOFError
            rest += chunk
        return status

    keep = None
    with open(out_path, "w", buffering=1) as out:
        i = 0
        while not stop:
            i += 1
            t = time.monotonic()
            try:
                if keep is None:
                    keep = socket.create_connection((HOST, port), timeout=30)
                result = str(exchange(keep, req))
            except (OSError, EOFError) as e:
                result = type(e).__name__
                if keep is not None:
                    keep.close()
                keep = None
            out.write(f"{t:.6f} {(time.monotonic() - t) * 1000:.3f} keepalive {result}\n")
            if i % 10 == 0:
                t = time.monotonic()
                try:
                    with socket.create_connection((HOST, port), timeout=30) as s:
                        result = str(exchange(s, req_close))
                except (OSError, EOFError) as e:
                    result = type(e).__name__
                out.write(f"{t:.6f} {(time.monotonic() - t) * 1000:.3f} new {result}\n")
            left = interval - (time.monotonic() - t)
            if left > 0:
                time.sleep(left)


def probe_stats(path, t0, t1):
    """Latency p50/p99/max (ms) and failures of the probe's requests started in [t0, t1]."""
    lat, failed, count, new_lat = [], {}, 0, []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 4:
                continue
            t, ms, kind, result = float(parts[0]), float(parts[1]), parts[2], parts[3]
            if not t0 <= t <= t1:
                continue
            count += 1
            if result != "200":
                bump(failed, f"{kind}:{result}")
                continue
            (lat if kind == "keepalive" else new_lat).append(ms)

    def pct(values, p):
        if not values:
            return None
        values = sorted(values)
        return values[min(len(values) - 1, max(0, int(round(p / 100 * len(values) + 0.5)) - 1))]
    return {"requests": count, "failed": failed, "p50": pct(lat, 50), "p99": pct(lat, 99),
            "max": max(lat) if lat else None, "new_p99": pct(new_lat, 99),
            "new_max": max(new_lat) if new_lat else None}


# ---- the bench run -----------------------------------------------------------------------------

def run_main(args):
    nofile = raise_nofile()
    sampler = Sampler(args.pid)
    sampler.start()
    probe_out = os.path.join(args.out_dir, "probe.txt")
    probe = subprocess.Popen([sys.executable, os.path.abspath(__file__), "probe", "--port",
                              str(args.port), "--out", probe_out, "--interval",
                              str(args.probe_interval)])
    phases = []  # (name, t0, t1, t_after, result, expect_ok, expectation text)
    failures = []

    def alive():
        return proc_status(args.pid) is not None

    def phase(name, coro, check, expectation):
        print(f"phase {name} ...", flush=True)
        t0 = time.monotonic()
        result = asyncio.run(coro)
        t1 = time.monotonic()
        time.sleep(args.settle)
        ok, why = check(result)
        phases.append((name, t0, t1, time.monotonic(), result, ok, expectation))
        print(f"  {json.dumps(result, sort_keys=True)}", flush=True)
        if not ok:
            failures.append(f"{name}: {why}")
        if not alive():
            failures.append(f"the server died during {name}")
            raise SystemExit(finish())

    def finish():
        probe.send_signal(signal.SIGTERM)
        probe.wait(30)
        sampler.stop.set()
        sampler.join()
        report(args, phases, sampler, probe_out, failures)
        return 1 if failures else 0

    time.sleep(1)
    base0 = time.monotonic()
    time.sleep(args.baseline)
    phases.append(("baseline (no attack)", base0, time.monotonic(), time.monotonic(), {}, True,
                   "-"))

    def expect(*pairs):
        """Each pair (key, predicate on the count) must hold."""
        def check(result):
            for key, pred in pairs:
                if not pred(result.get(key, 0)):
                    return False, f"{key} = {result.get(key, 0)}"
            return True, ""
        return check

    if args.slowloris:
        phase(f"slowloris: {args.slowloris} connections, 1 header byte/s",
              slowloris(args.port, args.slowloris, args.slowloris_seconds),
              expect(("opened", lambda v: v == args.slowloris),
                     ("still_open", lambda v: v == 0 or not args.expect_slowloris_closed)),
              "all closed by the server (idle_timeout)" if args.expect_slowloris_closed else
              "server stays up")
    if args.flood_seconds:
        phase(f"header flood: {args.flood_connections} connections x {args.flood_seconds} s",
              header_flood(args.port, args.flood_seconds, args.flood_connections),
              expect(("many_headers:200", lambda v: v > 0), ("huge_line:431", lambda v: v > 0),
                     ("many_headers:not_matrix_json", lambda v: v == 0),
                     ("huge_line:not_matrix_json", lambda v: v == 0)),
              "1,000 headers: 200; 64 KiB line: 431; endless: 431 or reset")
    if args.idle:
        def opened_note():
            s = proc_status(args.pid) or {}
            print(f"  {args.idle} idle connections open: server VmRSS {s.get('VmRSS')} KiB, "
                  f"{s.get('fds')} descriptors", flush=True)
        phase(f"idle keep-alive: {args.idle} connections held {args.idle_seconds} s",
              idle_keepalive(args.port, args.idle, args.idle_seconds, opened_note),
              expect(("opened", lambda v: v == args.idle), ("first:200", lambda v: v == args.idle),
                     ("second:200", lambda v: v == args.idle)),
              "all opened, answered, kept alive")
    if args.body_seconds:
        phase(f"oversized bodies: {args.body_connections} connections x {args.body_seconds} s",
              oversized_bodies(args.port, args.body_seconds, args.body_connections),
              expect(("content_length:413", lambda v: v > 0), ("chunked:413", lambda v: v > 0),
                     ("content_length:413_without_M_TOO_LARGE", lambda v: v == 0),
                     ("chunked:413_without_M_TOO_LARGE", lambda v: v == 0)),
              "413 M_TOO_LARGE")
    if args.slow_bodies:
        phase(f"slow bodies: {args.slow_bodies} x 512 KiB chunked, held {args.slow_body_seconds} s",
              slow_bodies(args.port, args.slow_bodies, args.slow_body_seconds),
              expect(("not_matrix_json", lambda v: v == 0)),
              "held up to the body budget, the rest 503 M_UNKNOWN")
    if args.burst:
        for kind in ("login", "register"):
            phase(f"{kind} burst: {args.burst} at once",
                  burst(args.port, kind, args.burst),
                  expect(("429_with_retry_after_ms", lambda v: v > 0),
                         ("429_without_retry_after_ms", lambda v: v == 0)),
                  "429 M_LIMIT_EXCEEDED with retry_after_ms beyond the burst")
    after0 = time.monotonic()
    time.sleep(args.baseline)
    phases.append(("after all attacks", after0, time.monotonic(), time.monotonic(), {}, True, "-"))
    return finish()


def report(args, phases, sampler, probe_out, failures):
    def fmt_ms(v):
        return "-" if v is None else f"{v:.2f}"
    rows = []
    print()
    print("well-behaved client: keep-alive GET /versions every "
          f"{args.probe_interval * 1000:.0f} ms, a new connection every 10th")
    header = (f"{'phase':58} {'requests':>8} {'failed':>7} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'max ms':>8} {'new-conn p99':>12} {'RSS before':>11} {'RSS peak':>9} "
              f"{'RSS after':>10} {'HWM after':>10} {'fds peak':>8}")
    print(header)
    print("-" * len(header))
    for name, t0, t1, t_after, result, ok, expectation in phases:
        st = probe_stats(probe_out, t0, t1)
        before = sampler.peak("VmRSS", t0 - 0.6, t0 + 0.01)
        peak = sampler.peak("VmRSS", t0, t1)
        after = sampler.peak("VmRSS", t_after - 0.3, t_after + 0.01)
        hwm = sampler.peak("VmHWM", t_after - 0.3, t_after + 0.01)
        fds = sampler.peak("fds", t0, t1)
        failed = sum(st["failed"].values())
        if failed:
            failures.append(f"{name}: well-behaved requests failed: {st['failed']}")
        line = (f"{name[:58]:58} {st['requests']:>8} {failed:>7} {fmt_ms(st['p50']):>8} "
                f"{fmt_ms(st['p99']):>8} {fmt_ms(st['max']):>8} {fmt_ms(st['new_p99']):>12} "
                f"{before or '-':>11} {peak or '-':>9} {after or '-':>10} {hwm or '-':>10} "
                f"{fds or '-':>8}")
        rows.append(line)
        print(line)
    print("(RSS/HWM in KiB: before = just before the phase, peak = largest sample during it,")
    print(f" after = {args.settle:.0f} s after it ended; fds = the server's open descriptors)")
    print()
    for name, t0, t1, t_after, result, ok, expectation in phases:
        if result:
            print(f"{name}: expected {expectation}: {'ok' if ok else 'FAILED'}")
            print(f"  {json.dumps(result, sort_keys=True)}")
    print()
    for name, t0, t1, t_after, *_ in phases[:1]:
        print(f"rss_baseline_kib={sampler.peak('VmRSS', t_after - 0.3, t_after + 0.01)}")
    final = proc_status(args.pid)
    print(f"server pid {args.pid} {'alive' if final else 'GONE'}; final VmRSS "
          f"{final and final.get('VmRSS')} KiB, VmHWM {final and final.get('VmHWM')} KiB")
    if failures:
        print("FAILURES:")
        for f in failures:
            print(f"  {f}")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("probe")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--interval", type=float, default=0.02)
    r = sub.add_parser("run")
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--pid", type=int, required=True)
    r.add_argument("--out-dir", required=True)
    r.add_argument("--baseline", type=float, default=5)
    r.add_argument("--settle", type=float, default=3)
    r.add_argument("--probe-interval", type=float, default=0.02)
    r.add_argument("--slowloris", type=int, default=2000)
    r.add_argument("--slowloris-seconds", type=float, default=70)
    r.add_argument("--expect-slowloris-closed", type=int, default=1)
    r.add_argument("--flood-connections", type=int, default=16)
    r.add_argument("--flood-seconds", type=float, default=10)
    r.add_argument("--idle", type=int, default=10000)
    r.add_argument("--idle-seconds", type=float, default=15)
    r.add_argument("--body-connections", type=int, default=8)
    r.add_argument("--body-seconds", type=float, default=10)
    r.add_argument("--slow-bodies", type=int, default=500)
    r.add_argument("--slow-body-seconds", type=float, default=10)
    r.add_argument("--burst", type=int, default=100)
    args = ap.parse_args()
    if args.cmd == "probe":
        probe_main(args.port, args.out, args.interval)
        return 0
    return run_main(args)


if __name__ == "__main__":
    sys.exit(main())
