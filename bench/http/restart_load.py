"""Client load for the exec-restart part of bench/http (Debian's python3, stdlib only).

    restart_load.py --port P --pid PID --log SERVER_LOG [--restarts 20] [--interval-ms 1000]
                    [--new-threads 4] [--keepalive-threads 4] [--warmup-ms 2000]

While threads load the server, sends SIGUSR2 to PID `--restarts` times (the release server
re-execs itself keeping its listening sockets; the pid stays the same), each time waiting for the
new image's "listening on ... (inherited socket)" line in SERVER_LOG, then `--interval-ms`.

Two kinds of clients run all the time:
  - new-connection threads: connect, `GET /_matrix/client/versions` with `Connection: close`,
    read the whole response, close; again at once. Each attempt is recorded with the monotonic
    time it completed and how it ended: ok, refused (ECONNREFUSED at connect), or another error.
  - keep-alive threads: one connection each, request after request. A response that says
    `Connection: close` is a graceful end (reconnect, not an error); a reset, an EOF before a
    complete response or a broken pipe on a kept-alive connection is counted as a "kept-alive
    error" (the server closed it at the restart instead of handing it to the new image), then
    the thread reconnects.

Prints key=value lines (times in ms):
  restarts_done, refused, new_ok, new_errors (other than refused, by kind in new_error_kinds),
  keepalive_ok, keepalive_errors (+ keepalive_error_kinds), keepalive_graceful_closes,
  gap_ms_each (per restart: the longest interval with no new-connection request completing, in
  the window from 0.5 s before the signal to the next signal), gap_ms_max, gap_ms_median,
  signal_to_listening_ms_each (signal sent to the new image's listening line seen by this script,
  polled every 2 ms), timeouts (restarts whose listening line did not come within 30 s).
Exit status 0 unless the setup failed (2); the caller judges the figures.
"""

import argparse
import errno
import os
import signal
import socket
import statistics
import sys
import threading
import time

REQUEST_CLOSE = (b"GET /_matrix/client/versions HTTP/1.1\r\nHost: bench\r\n"
                 b"Connection: close\r\n\r\n")
REQUEST_KEEP = b"GET /_matrix/client/versions HTTP/1.1\r\nHost: bench\r\n\r\n"
IO_TIMEOUT_S = 30


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.new_done = []  # monotonic completion times of ok new-connection requests
        self.refused = 0
        self.new_errors = {}
        self.keep_ok = 0
        self.keep_errors = {}
        self.keep_graceful = 0

    def count(self, table, kind):
        with self.lock:
            table[kind] = table.get(kind, 0) + 1


def error_kind(e):
    if isinstance(e, socket.timeout):
        return "timeout"
    if isinstance(e, ConnectionResetError):
        return "reset"
    if isinstance(e, BrokenPipeError):
        return "broken_pipe"
    if isinstance(e, OSError) and e.errno is not None:
        return errno.errorcode.get(e.errno, str(e.errno))
    return type(e).__name__


def read_response(sock, buf):
    """Reads one response from `sock` (leftover bytes in `buf`). Returns (status, close, buf)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("eof before the response header")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length, close = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("eof in the response body")
        rest += chunk
    return status, close, rest[length:]


def new_connection_loop(port, stats, stop):
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT_S) as s:
                s.sendall(REQUEST_CLOSE)
                status, _, _ = read_response(s, b"")
            if status != 200:
                stats.count(stats.new_errors, f"status_{status}")
                continue
            done = time.monotonic()
            with stats.lock:
                stats.new_done.append(done)
        except ConnectionRefusedError:
            with stats.lock:
                stats.refused += 1
            time.sleep(0.001)
        except EOFError:
            stats.count(stats.new_errors, "eof")
        except OSError as e:
            stats.count(stats.new_errors, error_kind(e))


def keepalive_loop(port, stats, stop):
    sock, buf = None, b""
    while not stop.is_set():
        try:
            if sock is None:
                sock = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT_S)
                buf = b""
            sock.sendall(REQUEST_KEEP)
            status, close, buf = read_response(sock, buf)
            if status == 200:
                with stats.lock:
                    stats.keep_ok += 1
            else:
                stats.count(stats.keep_errors, f"status_{status}")
            if close:
                with stats.lock:
                    stats.keep_graceful += 1
                sock.close()
                sock = None
        except ConnectionRefusedError:
            with stats.lock:
                stats.refused += 1
            sock = None
            time.sleep(0.001)
        except (EOFError, OSError) as e:
            stats.count(stats.keep_errors, "eof" if isinstance(e, EOFError) else error_kind(e))
            if sock is not None:
                sock.close()
            sock = None
    if sock is not None:
        sock.close()


def count_listening(log_path):
    try:
        with open(log_path, "rb") as f:
            return f.read().count(b"(inherited socket)")
    except OSError:
        return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--restarts", type=int, default=20)
    ap.add_argument("--interval-ms", type=int, default=1000)
    ap.add_argument("--new-threads", type=int, default=4)
    ap.add_argument("--keepalive-threads", type=int, default=4)
    ap.add_argument("--warmup-ms", type=int, default=2000)
    args = ap.parse_args()

    stats, stop = Stats(), threading.Event()
    threads = [threading.Thread(target=new_connection_loop, args=(args.port, stats, stop))
               for _ in range(args.new_threads)]
    threads += [threading.Thread(target=keepalive_loop, args=(args.port, stats, stop))
                for _ in range(args.keepalive_threads)]
    for t in threads:
        t.start()
    time.sleep(args.warmup_ms / 1000)

    signals, listening_ms, timeouts = [], [], 0
    try:
        for _ in range(args.restarts):
            seen = count_listening(args.log)
            sent = time.monotonic()
            os.kill(args.pid, signal.SIGUSR2)
            signals.append(sent)
            deadline = sent + 30
            while count_listening(args.log) <= seen and time.monotonic() < deadline:
                time.sleep(0.002)
            if count_listening(args.log) <= seen:
                timeouts += 1
                break
            listening_ms.append((time.monotonic() - sent) * 1000)
            time.sleep(args.interval_ms / 1000)
    finally:
        end = time.monotonic()
        stop.set()
        for t in threads:
            t.join(IO_TIMEOUT_S + 5)

    done = sorted(stats.new_done)
    gaps = []
    for i, s in enumerate(signals):
        hi = signals[i + 1] if i + 1 < len(signals) else end
        window = [s - 0.5] + [t for t in done if s - 0.5 <= t < hi]
        # The window's own start counts as a completion only when none came in the half second
        # before the signal (then the gap reads at most 0.5 s too long, never too short).
        gap = max((b - a for a, b in zip(window, window[1:])), default=hi - s + 0.5)
        gaps.append(gap * 1000)

    def kinds(table):
        return ",".join(f"{k}:{v}" for k, v in sorted(table.items())) or "-"

    print(f"restarts_done={len(listening_ms)}")
    print(f"timeouts={timeouts}")
    print(f"refused={stats.refused}")
    print(f"new_ok={len(done)}")
    print(f"new_errors={sum(stats.new_errors.values())}")
    print(f"new_error_kinds={kinds(stats.new_errors)}")
    print(f"keepalive_ok={stats.keep_ok}")
    print(f"keepalive_errors={sum(stats.keep_errors.values())}")
    print(f"keepalive_error_kinds={kinds(stats.keep_errors)}")
    print(f"keepalive_graceful_closes={stats.keep_graceful}")
    print("gap_ms_each=" + " ".join(f"{g:.1f}" for g in gaps))
    print(f"gap_ms_max={max(gaps):.1f}" if gaps else "gap_ms_max=-")
    print(f"gap_ms_median={statistics.median(gaps):.1f}" if gaps else "gap_ms_median=-")
    print("signal_to_listening_ms_each=" + " ".join(f"{v:.1f}" for v in listening_ms))
    print(f"elapsed_s={end - signals[0] if signals else 0:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
