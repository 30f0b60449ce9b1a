"""Reload soak: hot reloads of every module under mixed Matrix load (Python stdlib only).

Used by bench/reload/soak.sh (200 reloads of each module) and by
tests/integration/reload_soak_test.py (a few of each). It drives a running dev-build server:

* **Load** (threads, one keep-alive connection each): senders `PUT .../send/m.room.message/{txn}`
  into shared rooms and record every acknowledged event id; syncers long-poll `/sync` and record
  every event they receive; login cyclers log in, `whoami`, log out and check the old token is
  refused (401), on a new connection each cycle. Every request must answer its expected status
  (200, or that 401): anything else, or a transport error, is a failed request.
* **Reloads**: the admin user posts `!admin modules reload NAME` in the admin room (the forced
  reload an operator asks for; it reloads NAME and its dependents even when their build did not
  change). For a module that has a variant build (a second build with other code,
  `variants/NAME/libconclave_NAME.so`), the variant and the original are installed in turn before
  each command, as a linker would (a new file renamed over the old one), so that those reloads
  also load changed code. After each reload: the host's report line must say `reloaded ... (NAME,
  dependents) ...; 0 requests failed`; /proc/PID/maps must map exactly one shadow copy of each
  module, of its current generation, and no deleted file; the runtime dir must hold exactly those
  copies; after an api reload the answering code must be the installed build.
* **Phases**: a warm-up (load, then one reload of each module); optionally a control phase (the
  load alone, no reload: what the load's writes do to memory); one phase per module (its reloads
  under load); optionally a no-load phase (reloads of each module with no client but the admin:
  what the reloads alone do to memory). Each phase ends with the load stopped: a marker message
  per room must reach every syncer (so every event acknowledged in the phase must have), then
  after a settle time the process is measured with no client connected: descriptors, threads,
  mapped files, VmRSS, and the admin command `server memory-usage` (jemalloc and RocksDB).
  Descriptors (other than RocksDB's files, which come and go with flushes and compactions),
  threads and mapped files must be those of the warm-up. Optionally `database compact` first,
  which flushes the memtables: they grow with what the load writes, not with the reloads.
* **At the end**: every acknowledged event must be in its room's `/messages` exactly once, and every
  admin command must have exactly one reply from the bot.

Command line (soak.sh): soak_load.py --port P --pid PID --log LOG --runtime-dir DIR --module-dir DIR
[--variants DIR] [--database-dir DIR] [--reloads N] ...; prints a per-module table and exits 1 when
a check failed.
"""

import argparse
import collections
import http.client
import json
import os
import re
import shutil
import sys
import threading
import time
import urllib.parse

MODULES = ("database", "service", "api", "admin")
# Every module the server loads: the reloads of MODULES reload media and federation too (they
# depend on service).
LOADED_MODULES = MODULES + ("media", "federation")
PASSWORD = "soak-password-1"
REPORT_RE = re.compile(r"\[host\] (reloaded [0-9]+ modules? \(|nothing changed|not reloaded|"
                       r"reload failed|reload cancelled|core or main changed)")
OK_RE = re.compile(r"\[host\] reloaded [0-9]+ modules? \(([a-z, ]+)\) in ([0-9]+) ms; "
                   r"([0-9]+) requests? failed$")
SYNC_FILTER = json.dumps({"room": {"timeline": {"limit": 1000}}}, separators=(",", ":"))
MAX_FAILURES_KEPT = 50


def q(s):
    return urllib.parse.quote(s, safe="")


class Stats:
    """Requests by kind, and failures (each described); thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ok = collections.Counter()
        self.failed = collections.Counter()
        self.failures = []

    def record(self, kind, ok, what=""):
        with self.lock:
            if ok:
                self.ok[kind] += 1
            else:
                self.failed[kind] += 1
                if len(self.failures) < MAX_FAILURES_KEPT:
                    self.failures.append(f"{time.strftime('%H:%M:%S')} {kind}: {what}")

    def total_ok(self):
        return sum(self.ok.values())

    def total_failed(self):
        return sum(self.failed.values())


class Conn:
    """One keep-alive HTTP/1.1 connection; every request through it is counted in `stats`.

    A request fails when it raises (connection refused, reset, timeout) or answers a status
    other than the expected ones; it is never retried."""

    # Below the server's idle_timeout (60 s by default): a connection idle for longer may be
    # closed by the server just as a request is written on it (HTTP/1.1's keep-alive race), so
    # a client that waited this long opens a new one.
    MAX_IDLE_SECONDS = 20

    def __init__(self, port, stats, timeout=90):
        self.port = port
        self.stats = stats
        self.timeout = timeout
        self.conn = None
        self.last_used = 0.0

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def call(self, kind, method, path, token=None, body=None, expect=(200,)):
        """Returns (status, parsed JSON or None); status None on a transport error."""
        headers = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = "Bearer " + token
        if self.conn is not None and time.monotonic() - self.last_used > self.MAX_IDLE_SECONDS:
            self.close()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                       timeout=self.timeout)
            self.conn.request(method, path, body=data, headers=headers)
            resp = self.conn.getresponse()
            raw = resp.read()
            self.last_used = time.monotonic()
            if resp.getheader("Connection", "").lower() == "close":
                self.close()
        except Exception as e:  # noqa: BLE001 - every transport problem is a failed request
            self.close()
            self.stats.record(kind, False, f"{method} {path.split('?')[0]}: {e!r}")
            return None, None
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        ok = resp.status in expect
        self.stats.record(kind, ok, "" if ok else
                          f"{method} {path.split('?')[0]} -> {resp.status}: {raw[:300]!r}")
        return resp.status, parsed


class SetupError(Exception):
    pass


def must(conn, kind, method, path, token=None, body=None):
    status, parsed = conn.call(kind, method, path, token, body)
    if status != 200:
        raise SetupError(f"{method} {path} -> {status}: {conn.stats.failures[-1:]}")
    return parsed


class User:
    def __init__(self, name, user_id, token):
        self.name, self.user_id, self.token = name, user_id, token


class World:
    """Users and rooms of the soak, created once on a fresh server."""

    def __init__(self, port, senders=4, syncers=4, loginers=2, rooms=2):
        self.port = port
        self.stats = Stats()
        conn = Conn(port, self.stats)

        def register(name):
            body = {"username": name, "password": PASSWORD, "auth": {"type": "m.login.dummy"}}
            r = must(conn, "setup", "POST", "/_matrix/client/v3/register", body=body)
            return User(name, r["user_id"], r["access_token"])

        # The first user of a fresh server is its admin, joined to #admins with the bot.
        self.admin = register("soakadmin")
        server_name = self.admin.user_id.split(":", 1)[1]
        alias = f"#admins:{server_name}"
        self.admin_room = must(conn, "setup", "GET",
                               f"/_matrix/client/v3/directory/room/{q(alias)}")["room_id"]
        self.senders = [register(f"soaksend{i}") for i in range(senders)]
        self.syncers = [register(f"soaksync{i}") for i in range(syncers)]
        self.loginers = [register(f"soaklogin{i}") for i in range(loginers)]
        self.rooms = []
        for _ in range(rooms):
            room = must(conn, "setup", "POST", "/_matrix/client/v3/createRoom",
                        self.senders[0].token, {"preset": "public_chat"})["room_id"]
            for u in self.senders[1:] + self.syncers:
                must(conn, "setup", "POST", f"/_matrix/client/v3/join/{q(room)}", u.token, {})
            self.rooms.append(room)
        # Each syncer's position; the load of each phase continues from it.
        self.since = {}
        for u in self.syncers:
            self.since[u.name] = must(conn, "setup", "GET",
                                      f"/_matrix/client/v3/sync?timeout=0&filter={q(SYNC_FILTER)}",
                                      u.token)["next_batch"]
        conn.close()
        self.acked = {room: [] for room in self.rooms}  # event ids, in acknowledgement order
        self.seen = {u.name: {room: set() for room in self.rooms} for u in self.syncers}
        self.duplicates = []   # (syncer, event id) delivered twice
        self.gaps = []         # (syncer, room) syncs answered `limited`


class Load:
    """One phase of mixed load; start() then stop(). Counts into its own Stats."""

    def __init__(self, world, tag, send_interval=0.05, login_interval=0.0):
        self.world = world
        self.tag = tag
        self.stats = Stats()
        self.stop_flag = threading.Event()
        self.send_interval = send_interval
        self.login_interval = login_interval
        self.markers = {}          # room -> marker body, set by stop()
        self.marker_seen = {u.name: set() for u in world.syncers}
        self.acked = 0
        self.acked_ids = {room: [] for room in world.rooms}  # this phase's
        self.received = 0
        self.lock = threading.Lock()
        self.threads = []
        self.errors = []           # a thread that died, or a syncer that never saw the marker
        for i, u in enumerate(world.senders):
            self.threads.append(threading.Thread(target=self._guard(self._send, u, i),
                                                 name=f"send{i}", daemon=True))
        for u in world.syncers:
            self.threads.append(threading.Thread(target=self._guard(self._sync, u),
                                                 name=f"sync-{u.name}", daemon=True))
        for u in world.loginers:
            self.threads.append(threading.Thread(target=self._guard(self._login, u),
                                                 name=f"login-{u.name}", daemon=True))

    def _guard(self, fn, *args):
        def run():
            try:
                fn(*args)
            except Exception as e:  # noqa: BLE001 - a broken driver must fail the run
                self.errors.append(f"{threading.current_thread().name}: {e!r}")
        return run

    def start(self):
        for t in self.threads:
            t.start()

    def _send(self, user, index):
        conn = Conn(self.world.port, self.stats)
        n = 0
        rooms = self.world.rooms
        while not self.stop_flag.is_set():
            room = rooms[(n + index) % len(rooms)]
            txn = f"{self.tag}.{n}"  # unique per sender (its own device) and phase
            body = {"msgtype": "m.text", "body": f"soak {self.tag} {user.name} {n}"}
            status, parsed = conn.call(
                "send", "PUT",
                f"/_matrix/client/v3/rooms/{q(room)}/send/m.room.message/{q(txn)}",
                user.token, body)
            if status == 200:
                if not isinstance(parsed, dict) or "event_id" not in parsed:
                    self.stats.record("send", False, f"no event_id in {parsed!r}")
                else:
                    with self.lock:
                        self.world.acked[room].append(parsed["event_id"])
                        self.acked_ids[room].append(parsed["event_id"])
                        self.acked += 1
            n += 1
            if self.send_interval:
                time.sleep(self.send_interval)
        conn.close()

    def _sync(self, user):
        conn = Conn(self.world.port, self.stats)
        seen = self.world.seen[user.name]
        rooms = set(self.world.rooms)
        deadline = None
        while True:
            if self.stop_flag.is_set():
                if self.markers and self.marker_seen[user.name] >= set(self.markers):
                    break
                deadline = deadline or time.monotonic() + 60
                if time.monotonic() > deadline:
                    self.errors.append(f"{user.name}: the phase's marker never arrived by /sync "
                                       f"(saw {sorted(self.marker_seen[user.name])})")
                    break
            since = self.world.since[user.name]
            status, parsed = conn.call(
                "sync", "GET",
                f"/_matrix/client/v3/sync?since={q(since)}&timeout=30000&filter={q(SYNC_FILTER)}",
                user.token)
            if status != 200 or not isinstance(parsed, dict) or "next_batch" not in parsed:
                if status == 200:
                    self.stats.record("sync", False, f"no next_batch in {str(parsed)[:200]}")
                time.sleep(0.05)
                continue
            for room, info in parsed.get("rooms", {}).get("join", {}).items():
                if room not in rooms:
                    continue
                timeline = info.get("timeline", {})
                if timeline.get("limited"):
                    self.world.gaps.append((user.name, room))
                for e in timeline.get("events", []):
                    if e.get("type") != "m.room.message":
                        continue
                    body = e.get("content", {}).get("body", "")
                    if not body.startswith("soak"):
                        continue
                    if e["event_id"] in seen[room]:
                        self.world.duplicates.append((user.name, e["event_id"]))
                    seen[room].add(e["event_id"])
                    with self.lock:
                        self.received += 1
                    if self.markers.get(room) == body:
                        self.marker_seen[user.name].add(room)
            self.world.since[user.name] = parsed["next_batch"]
        conn.close()

    def _login(self, user):
        while not self.stop_flag.is_set():
            # A new connection per cycle: connections are accepted during reloads too.
            conn = Conn(self.world.port, self.stats)
            body = {"type": "m.login.password", "password": PASSWORD,
                    "identifier": {"type": "m.id.user", "user": user.name}}
            status, parsed = conn.call("login", "POST", "/_matrix/client/v3/login", body=body)
            if status == 200 and isinstance(parsed, dict) and "access_token" in parsed:
                token = parsed["access_token"]
                status, who = conn.call("whoami", "GET", "/_matrix/client/v3/account/whoami",
                                        token)
                if status == 200 and (who or {}).get("user_id") != user.user_id:
                    self.stats.record("whoami", False, f"whoami said {who!r}")
                conn.call("logout", "POST", "/_matrix/client/v3/logout", token, {})
                # The token is gone: 401 is the expected answer.
                conn.call("whoami-after-logout", "GET", "/_matrix/client/v3/account/whoami",
                          token, expect=(401,))
            elif status == 200:
                self.stats.record("login", False, f"no access_token in {parsed!r}")
            conn.close()
            if self.login_interval:
                time.sleep(self.login_interval)

    def stop(self):
        """Stops the senders and login cyclers, sends a marker into each room, and waits until
        every syncer has received every marker (so every event acknowledged before it)."""
        self.stop_flag.set()
        for t in self.threads:
            if not t.name.startswith("sync-"):
                t.join(120)
        conn = Conn(self.world.port, self.stats)
        # Complete before the first marker is sent: a syncer may receive it at once.
        self.markers = {room: f"soak-marker {self.tag} {i}"
                        for i, room in enumerate(self.world.rooms)}
        for i, room in enumerate(self.world.rooms):
            status, parsed = conn.call(
                "send", "PUT",
                f"/_matrix/client/v3/rooms/{q(room)}/send/m.room.message/{q(self.tag)}.marker.{i}",
                self.world.senders[0].token, {"msgtype": "m.text", "body": self.markers[room]})
            if status == 200 and isinstance(parsed, dict) and "event_id" in parsed:
                with self.lock:
                    self.world.acked[room].append(parsed["event_id"])
                    self.acked_ids[room].append(parsed["event_id"])
                    self.acked += 1
        conn.close()
        for t in self.threads:
            t.join(120)
            if t.is_alive():
                self.errors.append(f"{t.name} did not stop")


# ---- the process, as /proc shows it -------------------------------------------------------------

def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "Threads"):
                out[key] = int(value.split()[0])
    return out


def fd_table(pid, database_dir=None):
    """({'socket': n, 'pipe': n, 'anon': n, 'database': n, 'file': n}, the deleted files, the
    targets of the 'file' descriptors)."""
    kinds = collections.Counter()
    deleted = []
    files = collections.Counter()
    base = f"/proc/{pid}/fd"
    for fd in os.listdir(base):
        try:
            target = os.readlink(f"{base}/{fd}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:"):
            kinds["socket"] += 1
        elif target.startswith("pipe:"):
            kinds["pipe"] += 1
        elif target.startswith("anon_inode:"):
            kinds["anon"] += 1
        elif database_dir and target.startswith(database_dir.rstrip("/") + "/"):
            kinds["database"] += 1
        else:
            kinds["file"] += 1
            files[target] += 1
        if target.endswith(" (deleted)"):
            deleted.append(target)
    return kinds, deleted, files


def mapped_files(pid):
    """The set of file paths in /proc/PID/maps (" (deleted)" kept in the name)."""
    files = set()
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.rstrip("\n").split(None, 5)
            if len(parts) == 6 and parts[5].startswith("/"):
                files.add(parts[5])
    return files


class Snapshot:
    def __init__(self, pid, database_dir, memory=None):
        self.status = proc_status(pid)
        self.fds, self.deleted_fds, self.fd_files = fd_table(pid, database_dir)
        self.mapped = mapped_files(pid)
        self.memory = memory or {}

    @property
    def fd_total(self):
        return sum(self.fds.values())

    @property
    def fd_not_database(self):
        return self.fd_total - self.fds.get("database", 0)


def parse_size(text):
    m = re.match(r"([0-9.]+) (B|KiB|MiB|GiB)", text)
    if not m:
        return None
    scale = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[m.group(2)]
    return float(m.group(1)) * scale


# ---- reloads ------------------------------------------------------------------------------------

class Reloader:
    """Forced reloads through the admin room, checked against the log, /proc and the runtime dir."""

    def __init__(self, world, pid, log_path, runtime_dir, module_dir, variants_dir=None,
                 report_timeout=30):
        self.world = world
        self.pid = pid
        self.log_path = log_path
        self.shadow_dir = os.path.join(runtime_dir, str(pid))
        self.module_dir = module_dir
        self.report_timeout = report_timeout
        self.stats = Stats()    # the admin's own requests
        self.conn = Conn(world.port, self.stats)
        self.generation = {m: 1 for m in LOADED_MODULES}
        self.expected_set = {}  # module -> the modules its reload reloads (learned at warm-up)
        self.commands = []      # event ids of the admin's commands, each needs one reply
        self.txn_serial = 0
        self.log_offset = os.path.getsize(log_path)
        # Variant builds: module -> {"original": path, "variant": path}; installed alternately.
        self.builds = {}
        self.installed = {m: "original" for m in MODULES}
        if variants_dir:
            for m in MODULES:
                variant = os.path.join(variants_dir, m, f"libconclave_{m}.so")
                original = os.path.join(variants_dir, m, "original.so")
                if os.path.exists(variant) and os.path.exists(original):
                    self.builds[m] = {"original": original, "variant": variant}

    def close(self):
        self.conn.close()

    def _install(self, module, which):
        dst = os.path.join(self.module_dir, f"libconclave_{module}.so")
        tmp = os.path.join(self.module_dir, f".libconclave_{module}.so.tmp")
        shutil.copyfile(self.builds[module][which], tmp)
        os.replace(tmp, dst)
        self.installed[module] = which

    def command(self, text):
        """Posts `!admin TEXT` in the admin room; returns its event id (None on failure)."""
        self.txn_serial += 1
        txn = f"admin.{self.txn_serial}"
        status, parsed = self.conn.call(
            "admin", "PUT",
            f"/_matrix/client/v3/rooms/{q(self.world.admin_room)}/send/m.room.message/{txn}",
            self.world.admin.token, {"msgtype": "m.text", "body": f"!admin {text}"})
        if status != 200:
            return None
        self.commands.append(parsed["event_id"])
        return parsed["event_id"]

    def reply(self, event_id, timeout=30):
        """The bot's reply to `event_id` (its plain body), from the room's newest events."""
        deadline = time.monotonic() + timeout
        path = (f"/_matrix/client/v3/rooms/{q(self.world.admin_room)}/messages?dir=b&limit=20")
        while time.monotonic() < deadline:
            status, page = self.conn.call("admin", "GET", path, self.world.admin.token)
            for e in (page or {}).get("chunk", []) if status == 200 else []:
                relates = e.get("content", {}).get("m.relates_to", {})
                if relates.get("m.in_reply_to", {}).get("event_id") == event_id:
                    return e["content"].get("body", "")
            time.sleep(0.05)
        return None

    def memory_usage(self):
        """`server memory-usage` as numbers (bytes): jemalloc allocated/active/resident, RocksDB
        memtables/block cache/table readers; empty when the command failed."""
        event_id = self.command("server memory-usage")
        body = self.reply(event_id) if event_id else None
        out = {}
        for key in ("allocated", "active", "resident", "memtables", "block cache",
                    "table readers"):
            m = re.search(rf"{key}\s*\|?\s*([0-9.]+ (?:B|KiB|MiB|GiB))", body or "")
            if m:
                out[key] = parse_size(m.group(1))
        return out

    def _read_log(self):
        with open(self.log_path, "rb") as f:
            f.seek(self.log_offset)
            data = f.read()
        # Only whole lines; a line still being written is read again next time.
        end = data.rfind(b"\n") + 1
        self.log_offset += end
        return data[:end].decode(errors="replace").splitlines()

    def check_shadow_copies(self):
        """Problems with the mapped modules, [] when each is mapped once, at its generation."""
        problems = []
        expected = {os.path.join(self.shadow_dir, f"{m}.{g}.so")
                    for m, g in self.generation.items()}
        mapped = mapped_files(self.pid)
        shadows = {p for p in mapped if p.startswith(self.shadow_dir + "/")}
        if shadows != expected:
            problems.append(f"mapped shadow copies {sorted(shadows)}, expected {sorted(expected)}")
        stale = sorted(p for p in mapped if p.endswith(" (deleted)"))
        if stale:
            problems.append(f"deleted files still mapped: {stale[:4]}")
        builds = sorted(p for p in mapped if p.startswith(self.module_dir.rstrip("/") + "/"))
        if builds:
            problems.append(f"build files mapped (not shadow copies): {builds}")
        try:
            on_disk = {os.path.join(self.shadow_dir, n) for n in os.listdir(self.shadow_dir)}
        except OSError as e:
            on_disk = {repr(e)}
        if on_disk != expected:
            problems.append(f"runtime dir holds {sorted(on_disk)}, expected {sorted(expected)}")
        return problems

    def reload(self, module, index):
        """One forced reload of `module` (index: its number, for the variant alternation).
        Returns a dict: ok, problems, wall_ms, server_ms, failed (server-reported), reloaded."""
        result = {"module": module, "ok": False, "problems": [], "wall_ms": None,
                  "server_ms": None, "failed": 0, "reloaded": []}
        if module in self.builds:
            self._install(module, "variant" if index % 2 else "original")
        self._read_log()  # skip what is there
        t0 = time.monotonic()
        if self.command(f"modules reload {module}") is None:
            result["problems"].append(f"the admin command failed: {self.stats.failures[-1:]}")
            return result
        line = None
        while line is None and time.monotonic() - t0 < self.report_timeout:
            for candidate in self._read_log():
                if REPORT_RE.search(candidate):
                    line = candidate
                    break
            else:
                try:
                    os.kill(self.pid, 0)
                except OSError:
                    result["problems"].append("the server is not running")
                    return result
                time.sleep(0.002)
        result["wall_ms"] = (time.monotonic() - t0) * 1000
        if line is None:
            result["problems"].append(f"no report line within {self.report_timeout} s")
            return result
        result["line"] = line.split("[host] ", 1)[1]
        m = OK_RE.search(line)
        if not m:
            result["problems"].append(f"report: {result['line']}")
            f = re.search(r"([0-9]+) requests? failed", line)
            result["failed"] = int(f.group(1)) if f else 0
            return result
        reloaded = [s.strip() for s in m.group(1).split(",")]
        result["reloaded"] = reloaded
        result["server_ms"] = int(m.group(2))
        result["failed"] = int(m.group(3))
        if result["failed"]:
            result["problems"].append(f"{result['failed']} requests failed: {result['line']}")
        expected = self.expected_set.setdefault(module, reloaded)
        if reloaded != expected or reloaded[0] != module:
            result["problems"].append(f"reloaded {reloaded}, expected {expected}")
        for m_ in reloaded:
            self.generation[m_] += 1
        result["problems"] += self.check_shadow_copies()
        if "api" in reloaded and "api" in self.builds:
            status, body = self.conn.call("check", "GET", "/_conclave/server_version")
            has_variant = isinstance(body, dict) and "variant" in body
            if status == 200 and has_variant != (self.installed["api"] == "variant"):
                result["problems"].append(f"the {self.installed['api']} api is installed but "
                                          f"server_version answered {body!r}")
        result["ok"] = not result["problems"]
        return result

    def replies_exactly_once(self):
        """Pages the whole admin room: problems if a command has not exactly one bot reply."""
        replies = collections.Counter()
        token = ""
        path = f"/_matrix/client/v3/rooms/{q(self.world.admin_room)}/messages?dir=b&limit=500"
        for _ in range(10000):
            status, page = self.conn.call("admin", "GET", path + (f"&from={q(token)}"
                                                                  if token else ""),
                                          self.world.admin.token)
            if status != 200:
                return ["paging the admin room failed"]
            for e in page.get("chunk", []):
                relates = e.get("content", {}).get("m.relates_to", {})
                target = relates.get("m.in_reply_to", {}).get("event_id")
                if target:
                    replies[target] += 1
            if not page.get("end") or not page.get("chunk"):
                break
            token = page["end"]
        wrong = [(c, replies[c]) for c in self.commands if replies[c] != 1]
        return [f"{len(wrong)} admin commands without exactly one reply, e.g. {wrong[:3]}"] \
            if wrong else []


def room_history(world, room):
    """Every event id of `room` through /messages (backwards from the end), in order read."""
    conn = Conn(world.port, world.stats)
    ids, token = [], ""
    path = f"/_matrix/client/v3/rooms/{q(room)}/messages?dir=b&limit=1000"
    for _ in range(100000):
        status, page = conn.call("history", "GET",
                                 path + (f"&from={q(token)}" if token else ""),
                                 world.syncers[0].token)
        if status != 200:
            raise SetupError(f"/messages of {room} failed")
        for e in page.get("chunk", []):
            if e.get("type") == "m.room.message" and \
                    e.get("content", {}).get("body", "").startswith("soak"):
                ids.append(e["event_id"])
        if not page.get("end") or not page.get("chunk"):
            break
        token = page["end"]
    conn.close()
    return ids


# ---- the whole soak -----------------------------------------------------------------------------

def pct(values, p):
    """Nearest-rank percentile; None when empty."""
    if not values:
        return None
    v = sorted(values)
    rank = max(1, -(-p * len(v) // 100))
    return v[int(rank) - 1]


class Soak:
    """The phases: warm-up, then `reloads` forced reloads of each module under load."""

    def __init__(self, port, pid, log_path, runtime_dir, module_dir, variants_dir=None,
                 database_dir=None, reloads=200, interval=0.1, settle=3.0, warmup=3.0,
                 send_interval=0.05, login_interval=0.0, senders=4, syncers=4, loginers=2,
                 rooms=2, modules=MODULES, control=0.0, quiet_reloads=0, compact=False,
                 out=sys.stdout):
        self.port, self.pid = port, pid
        self.log_path, self.runtime_dir, self.module_dir = log_path, runtime_dir, module_dir
        self.variants_dir, self.database_dir = variants_dir, database_dir
        self.reloads, self.interval, self.settle, self.warmup = reloads, interval, settle, warmup
        self.send_interval, self.login_interval = send_interval, login_interval
        self.sizes = dict(senders=senders, syncers=syncers, loginers=loginers, rooms=rooms)
        self.modules = modules
        self.control = control  # seconds of load without reloads after the warm-up (0: none)
        self.quiet_reloads = quiet_reloads  # reloads of each module with no load, at the end
        self.compact = compact  # `database compact` before each measurement
        self.out = out
        self.phases = []       # dicts, one per phase (warm-up first)
        self.problems = []     # everything that failed, as text
        self.seconds = 0.0

    def say(self, text):
        print(text, file=self.out, flush=True)

    def measure(self, reloader):
        """Memory figures from the server, then /proc with no client connected.

        The server closes its end of a connection when it reads the client's close, which on a
        busy machine can take a moment after the settle time: the descriptors and threads are
        read again (for at most 10 s) until they equal the warm-up's, or for the warm-up itself
        until two readings 0.3 s apart agree. A count that stays different is then reported."""
        if self.compact:
            # Flushes the memtables (and compacts): what the load wrote stops counting as memory.
            event_id = reloader.command("database compact")
            answer = reloader.reply(event_id, timeout=120) if event_id else None
            if answer is None or answer.startswith("Error"):
                self.problems.append(f"database compact: {answer!r}")
        memory = reloader.memory_usage()
        reloader.close()
        time.sleep(self.settle)
        snapshot = Snapshot(self.pid, self.database_dir, memory)
        base = self.phases[0]["snapshot"] if self.phases else None

        def shape(snap):
            return (snap.fd_not_database, snap.status["Threads"])

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if base is not None and shape(snapshot) == shape(base):
                break
            time.sleep(0.3)
            again = Snapshot(self.pid, self.database_dir, memory)
            if base is None and shape(again) == shape(snapshot):
                break
            snapshot = again
        return snapshot

    def run_phase(self, world, reloader, name, reload_list, duration=0.0, with_load=True):
        """Load, the reloads in `reload_list` (none: `duration` seconds of load alone), then
        the load stopped, its events checked and the process measured. Without load: only the
        reloads (and the admin's commands)."""
        # The tag makes the phase's transaction ids and markers unique (a repeated txn id is
        # answered with the first event, by design).
        tag = f"p{len(self.phases)}-{name}"
        load = Load(world, tag, self.send_interval, self.login_interval)
        if with_load:
            load.start()
            time.sleep(self.warmup if name == "warm-up" else 1.0)
        started = time.monotonic()
        time.sleep(duration)
        results = []
        for i, module in enumerate(reload_list):
            r = reloader.reload(module, i + 1)
            results.append(r)
            if not r["ok"]:
                self.problems.append(f"{name} reload {i + 1} of {module}: "
                                     f"{'; '.join(r['problems'])}")
                self.say(f"  reload {i + 1} of {module}: {'; '.join(r['problems'])}")
                if "the server is not running" in r["problems"]:
                    break
            elif (i + 1) % 50 == 0:
                self.say(f"  {name}: {i + 1}/{len(reload_list)} reloads, "
                         f"{load.stats.total_ok()} requests ok, "
                         f"{load.stats.total_failed()} failed")
            time.sleep(self.interval)
        reload_seconds = time.monotonic() - started
        if with_load:
            load.stop()
        # Delivery: each syncer has every event acknowledged in this phase.
        lost_by_sync = 0
        for u in world.syncers:
            for room in world.rooms:
                lost_by_sync += len([e for e in load.acked_ids[room]
                                     if e not in world.seen[u.name][room]])
        snapshot = self.measure(reloader)
        phase = {"name": name, "results": results, "load": load, "snapshot": snapshot,
                 "seconds": reload_seconds, "lost_by_sync": lost_by_sync,
                 "acked_total": sum(len(v) for v in world.acked.values())}
        for e in load.errors:
            self.problems.append(f"{name}: {e}")
        if load.stats.total_failed():
            self.problems.append(f"{name}: {load.stats.total_failed()} failed requests, e.g. "
                                 f"{load.stats.failures[:3]}")
        if lost_by_sync:
            self.problems.append(f"{name}: {lost_by_sync} acknowledged events missing from syncs")
        self.phases.append(phase)
        self.say(f"  {name}: done in {reload_seconds:.0f} s; {load.stats.total_ok()} requests, "
                 f"{load.stats.total_failed()} failed; {load.acked} events sent; "
                 f"RSS {snapshot.status['VmRSS']} KiB; fds {snapshot.fd_total}")
        return phase

    def run(self):
        t_start = time.monotonic()
        self.say(f"setup: {self.sizes}")
        world = World(self.port, **self.sizes)
        reloader = Reloader(world, self.pid, self.log_path, self.runtime_dir, self.module_dir,
                            self.variants_dir)
        self.world, self.reloader = world, reloader
        problems = reloader.check_shadow_copies()
        if problems:
            self.problems += [f"at start: {p}" for p in problems]
        self.say(f"warm-up: load for {self.warmup:.0f} s, one reload of each module, "
                 f"settle {self.settle:.0f} s")
        self.run_phase(world, reloader, "warm-up", list(self.modules))
        if self.control:
            self.say(f"control: the same load for {self.control:.0f} s, no reload")
            self.run_phase(world, reloader, "control", [], self.control)
        for m in self.modules:
            self.say(f"{m}: {self.reloads} reloads under load")
            self.run_phase(world, reloader, m, [m] * self.reloads)
            if self.phases[-1]["results"] and \
                    "the server is not running" in self.phases[-1]["results"][-1]["problems"]:
                break
        if self.quiet_reloads and self.server_running():
            self.say(f"no load: {self.quiet_reloads} reloads of each module")
            self.run_phase(world, reloader, "no load",
                           [m for m in self.modules for _ in range(self.quiet_reloads)],
                           with_load=False)
        # Persistence: every acknowledged event is in /messages, once; nothing else is.
        self.lost = 0
        self.history_duplicates = 0
        self.unexpected = 0
        self.acked_twice = 0
        for room in world.rooms:
            history = room_history(world, room)
            acked = set(world.acked[room])
            # Each send had a new transaction id: each must have created a new event.
            self.acked_twice += len(world.acked[room]) - len(acked)
            self.lost += len(acked - set(history))
            self.history_duplicates += len(history) - len(set(history))
            self.unexpected += len(set(history) - acked)
        if self.lost:
            self.problems.append(f"{self.lost} acknowledged events missing from /messages")
        if self.acked_twice:
            self.problems.append(f"{self.acked_twice} sends acknowledged an event id that an "
                                 f"earlier send (another transaction id) had")
        if self.history_duplicates:
            self.problems.append(f"{self.history_duplicates} events twice in /messages")
        if self.unexpected:
            self.problems.append(f"{self.unexpected} events in /messages that no send "
                                 f"acknowledged (a send that failed but was stored?)")
        if world.duplicates:
            self.problems.append(f"{len(world.duplicates)} events delivered twice by /sync, e.g. "
                                 f"{world.duplicates[:3]}")
        if world.gaps:
            self.problems.append(f"{len(world.gaps)} syncs answered limited (a gap)")
        self.problems += reloader.replies_exactly_once()
        if reloader.stats.total_failed() or world.stats.total_failed():
            self.problems.append(f"admin/setup requests failed: "
                                 f"{(reloader.stats.failures + world.stats.failures)[:3]}")
        reloader.close()
        self.check_resources()
        self.seconds = time.monotonic() - t_start
        return not self.problems

    def server_running(self):
        try:
            os.kill(self.pid, 0)
            return True
        except OSError:
            return False

    def check_resources(self):
        """Descriptors, threads and mappings at each phase end equal the warm-up's."""
        base = self.phases[0]["snapshot"]
        for phase in self.phases[1:]:
            s = phase["snapshot"]
            if s.fd_not_database != base.fd_not_database:
                self.problems.append(
                    f"{phase['name']}: descriptors other than database files {dict(s.fds)} "
                    f"(warm-up: {dict(base.fds)}); files now {dict(s.fd_files - base.fd_files)}"
                    f", gone {dict(base.fd_files - s.fd_files)}")
            if s.deleted_fds:
                self.problems.append(f"{phase['name']}: descriptors of deleted files "
                                     f"{s.deleted_fds[:4]}")
            if s.status["Threads"] != base.status["Threads"]:
                self.problems.append(f"{phase['name']}: {s.status['Threads']} threads "
                                     f"(warm-up: {base.status['Threads']})")
            stale = [p for p in s.mapped if p.endswith(" (deleted)")]
            if stale:
                self.problems.append(f"{phase['name']}: deleted files mapped: {stale[:4]}")
            # The same files are mapped, except for the shadow copies' generation numbers.
            def shape(paths):
                return sorted(re.sub(r"\.[0-9]+\.so$", ".N.so", p) for p in paths)
            if shape(s.mapped) != shape(base.mapped):
                extra = set(shape(s.mapped)) ^ set(shape(base.mapped))
                self.problems.append(f"{phase['name']}: mapped files differ from warm-up: "
                                     f"{sorted(extra)[:6]}")

    def rss_goals(self, goal_mib):
        """Lines judging the RSS goal: over the module phases under load (raw, and without the
        growth of RocksDB's memory, which the load's writes fill), and over the no-load reloads.
        Each ends in ok or MISSED."""
        names = [p["name"] for p in self.phases]
        mods = [i for i, n in enumerate(names) if n in MODULES]
        lines = []

        def db(snap):
            keys = ("memtables", "block cache", "table readers")
            return None if any(snap.memory.get(k) is None for k in keys) else \
                sum(snap.memory[k] for k in keys)

        if mods and mods[0] > 0:
            before = self.phases[mods[0] - 1]["snapshot"]
            after = self.phases[mods[-1]]["snapshot"]
            raw = (after.status["VmRSS"] - before.status["VmRSS"]) / 1024
            d0, d1 = db(before), db(after)
            if d0 is not None and d1 is not None:
                net = raw - (d1 - d0) / (1 << 20)
                lines.append(f"RSS over the module phases, under load: {raw:+.2f} MiB, of which "
                             f"RocksDB memory {(d1 - d0) / (1 << 20):+.2f} MiB; without it "
                             f"{net:+.2f} MiB (goal <= {goal_mib} MiB): "
                             f"{'ok' if net <= goal_mib else 'MISSED'}")
            else:
                lines.append(f"RSS over the module phases, under load: {raw:+.2f} MiB (goal <= "
                             f"{goal_mib} MiB): {'ok' if raw <= goal_mib else 'MISSED'}")
        if names[-1] == "no load" and len(names) > 1:
            before, after = self.phases[-2]["snapshot"], self.phases[-1]["snapshot"]
            raw = (after.status["VmRSS"] - before.status["VmRSS"]) / 1024
            lines.append(f"RSS over the no-load reloads ({len(self.phases[-1]['results'])}): "
                         f"{raw:+.2f} MiB (goal <= {goal_mib} MiB): "
                         f"{'ok' if raw <= goal_mib else 'MISSED'}")
        return lines

    def summary(self):
        """Two tables (reloads and requests; resources with the load stopped) and totals."""
        base = self.phases[0]["snapshot"]
        mib = float(1 << 20)

        def db_mem(snap):
            keys = ("memtables", "block cache", "table readers")
            if any(snap.memory.get(k) is None for k in keys):
                return None
            return sum(snap.memory[k] for k in keys)

        def delta(before, after, scale=mib):
            if before is None or after is None:
                return "-"
            return f"{(after - before) / scale:+.2f}"

        def table(header, rows):
            widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
            return ["  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip()
                    for row in (header, tuple("-" * w for w in widths), *rows)]

        reload_rows, resource_rows = [], []
        prev = None
        for phase in self.phases:
            s, results, load = phase["snapshot"], phase["results"], phase["load"]
            ok = [r for r in results if r["ok"]]
            walls = [r["wall_ms"] for r in ok]
            servers = [r["server_ms"] for r in ok]
            stale = any(p for r in results for p in r["problems"]
                        if "mapped" in p or "runtime dir" in p)
            reload_rows.append((
                phase["name"], f"{len(ok)}/{len(results)}",
                "/".join(str(m) for m in sorted({len(r["reloaded"]) for r in ok})) or "-",
                f"{pct(walls, 50) or 0:.0f} / {pct(walls, 100) or 0:.0f}",
                f"{pct(servers, 50) or 0} / {pct(servers, 100) or 0}",
                f"{sum(r['failed'] for r in results)} / {load.stats.total_failed()}",
                load.stats.total_ok(),
                f"{load.acked} / {load.received} / {phase['lost_by_sync']}",
                "STALE" if stale else "ok"))
            b = prev
            resource_rows.append((
                phase["name"], f"{phase['seconds']:.0f}",
                f"{b.fd_total if b else '-'} -> {s.fd_total}",
                f"{b.status['Threads'] if b else '-'} -> {s.status['Threads']}",
                f"{b.status['VmRSS'] / 1024 if b else 0:.1f} -> {s.status['VmRSS'] / 1024:.1f}"
                if b else f"{s.status['VmRSS'] / 1024:.1f}",
                delta(b.status["VmRSS"] if b else None, s.status["VmRSS"], 1024),
                delta(b.memory.get("allocated") if b else None, s.memory.get("allocated")),
                delta(db_mem(b) if b else None, db_mem(s)),
                delta(None if not b or db_mem(b) is None or b.memory.get("allocated") is None
                      else b.memory["allocated"] - db_mem(b),
                      None if db_mem(s) is None or s.memory.get("allocated") is None
                      else s.memory["allocated"] - db_mem(s))))
            prev = s
        lines = table(("phase", "reloads ok", "modules/reload", "command->report p50/max ms",
                       "server-reported p50/max ms", "failed requests server/client",
                       "requests ok", "events sent / delivered / lost", "shadow copies"),
                      reload_rows)
        lines.append("(delivered: by /sync, summed over the syncers, each of which is in every "
                     "room; lost: acknowledged but not delivered to a syncer)")
        lines.append("")
        lines += table(("phase (load stopped)", "load s", "fds", "threads", "VmRSS MiB",
                        "RSS growth MiB",
                        "heap growth MiB", "RocksDB growth MiB", "heap - RocksDB growth MiB"),
                       resource_rows)
        lines.append("(heap: jemalloc's allocated bytes; RocksDB: its memtables, block cache and "
                     "table readers; both from `server memory-usage`, 0.1 MiB resolution)")
        last = self.phases[-1]["snapshot"]
        total_kib = last.status["VmRSS"] - base.status["VmRSS"]
        anon_kib = last.status["RssAnon"] - base.status["RssAnon"]
        db0, db1 = db_mem(base), db_mem(last)
        lines.append("")
        lines.append(f"reloads after warm-up: {sum(len(p['results']) for p in self.phases[1:])}"
                     f"; modules reloaded in all: "
                     f"{sum(len(r['reloaded']) for p in self.phases[1:] for r in p['results'])}")
        lines.append(f"RSS after warm-up -> end: {base.status['VmRSS']} -> "
                     f"{last.status['VmRSS']} KiB ({total_kib / 1024:+.2f} MiB; RssAnon "
                     f"{anon_kib / 1024:+.2f} MiB)")
        if db0 is not None and db1 is not None and base.memory.get("allocated") and \
                last.memory.get("allocated"):
            a0, a1 = base.memory["allocated"], last.memory["allocated"]
            lines.append(f"heap (jemalloc allocated) {a0 / mib:.1f} -> {a1 / mib:.1f} MiB, of "
                         f"which RocksDB {db0 / mib:.1f} -> {db1 / mib:.1f} MiB: heap outside "
                         f"RocksDB {((a1 - db1) - (a0 - db0)) / mib:+.2f} MiB")
        if base.memory.get("resident") and last.memory.get("resident"):
            lines.append(f"jemalloc resident {base.memory['resident'] / mib:.1f} -> "
                         f"{last.memory['resident'] / mib:.1f} MiB, active "
                         f"{base.memory.get('active', 0) / mib:.1f} -> "
                         f"{last.memory.get('active', 0) / mib:.1f} MiB (pages the allocator "
                         f"holds, beyond the allocated bytes: fragmentation and caches)")
        lines.append(f"descriptors after warm-up -> end: {dict(base.fds)} -> {dict(last.fds)}")
        lines.append(f"  other files open at the end: {dict(last.fd_files)}")
        lines.append(f"events: {sum(len(v) for v in self.world.acked.values())} acknowledged, "
                     f"{self.lost} missing from /messages, {self.history_duplicates} twice, "
                     f"{self.unexpected} unexpected; /sync: {len(self.world.duplicates)} "
                     f"duplicates, {len(self.world.gaps)} gaps")
        lines.append(f"admin commands: {len(self.reloader.commands)}, each answered once: "
                     f"{'yes' if not any('admin commands' in p for p in self.problems) else 'NO'}")
        lines.append(f"soak time: {self.seconds:.0f} s")
        return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--runtime-dir", required=True)
    p.add_argument("--module-dir", required=True)
    p.add_argument("--variants", help="dir with NAME/libconclave_NAME.so and NAME/original.so")
    p.add_argument("--database-dir")
    p.add_argument("--reloads", type=int, default=200)
    p.add_argument("--interval-ms", type=int, default=100, help="pause after each reload")
    p.add_argument("--settle", type=float, default=3.0, help="seconds before measuring")
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--send-interval-ms", type=int, default=50)
    p.add_argument("--senders", type=int, default=4)
    p.add_argument("--syncers", type=int, default=4)
    p.add_argument("--loginers", type=int, default=2)
    p.add_argument("--rooms", type=int, default=2)
    p.add_argument("--goal-rss-mib", type=float, default=2.0)
    p.add_argument("--control", type=float, default=0.0,
                   help="seconds of load without reloads after the warm-up: the RSS growth "
                        "of the load alone, for comparison")
    p.add_argument("--quiet-reloads", type=int, default=0,
                   help="at the end, with no load, this many reloads of each module: the RSS "
                        "growth of the reloads alone")
    p.add_argument("--compact", action="store_true",
                   help="`database compact` before each measurement (flushes the memtables)")
    p.add_argument("--modules", default=",".join(MODULES),
                   help="the modules to soak, in order (comma-separated)")
    args = p.parse_args()
    soak = Soak(args.port, args.pid, args.log, args.runtime_dir, args.module_dir, args.variants,
                args.database_dir, args.reloads, args.interval_ms / 1000, args.settle,
                args.warmup, args.send_interval_ms / 1000, 0.0, args.senders, args.syncers,
                args.loginers, args.rooms, tuple(args.modules.split(",")), args.control,
                args.quiet_reloads, args.compact)
    try:
        ok = soak.run()
    except SetupError as e:
        print(f"soak_load.py: {e}", file=sys.stderr)
        return 2
    print()
    print(soak.summary())
    for line in soak.rss_goals(args.goal_rss_mib):
        print(line)
    if not ok:
        print("\nFAIL:")
        for problem in soak.problems[:40]:
            print(f"  {problem}")
        return 1
    print("\nPASS: 0 failed requests, 0 lost events, no stale mappings, no descriptor growth")
    return 0


if __name__ == "__main__":
    sys.exit(main())
