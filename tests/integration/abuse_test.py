"""Abuse on a real socket: slowloris, header floods, idle keep-alive connections by the thousand,
oversized bodies (Content-Length and chunked), a login burst, and the connection limit. The server
must answer each as specified (431/413 M_TOO_LARGE as Matrix JSON, 429 M_LIMIT_EXCEEDED with
retry_after_ms, slowloris connections closed by idle_timeout), keep serving a well-behaved client
throughout, stay the same process, and keep its memory bounded. No timing targets: latency
figures are bench/abuse's. The attacks are bench/abuse/abuse.py's. Usage: abuse_test.py BUILD_DIR
"""

import asyncio
import http.client
import os
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench", "abuse"))
import abuse  # noqa: E402
from server import Server  # noqa: E402

BUILD = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else "build/dev")
BINARY = os.path.join(BUILD, "bin", "conclave")
# Thousands of connections: this process and the servers it starts (which inherit the limit)
# need as many descriptors.
NOFILE = abuse.raise_nofile()

# Slowloris connections are closed after this; the idle connections' whole test (open 2,000,
# answer, hold 1 s, answer again) must fit in it with room to spare on a slow machine.
IDLE_TIMEOUT_S = 10
SLOWLORIS = 300
IDLE = 2000
RSS_BOUND_KIB = 200 * 1024  # growth allowed over the whole test: generous, not a target


class WellBehaved(threading.Thread):
    """A client sending GET /versions on one keep-alive connection every 50 ms until stopped;
    counts successes and keeps every failure."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.ok, self.failures = port, 0, []
        self.stop = threading.Event()

    def run(self):
        conn = None
        while not self.stop.is_set():
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                conn.request("GET", "/_matrix/client/versions")
                resp = conn.getresponse()
                resp.read()
                if resp.status == 200:
                    self.ok += 1
                else:
                    self.failures.append(f"status {resp.status}")
            except (OSError, http.client.HTTPException) as e:
                self.failures.append(repr(e))
                conn = None
            self.stop.wait(0.05)
        if conn is not None:
            conn.close()


class AbuseTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(BINARY, env={"CONCLAVE_IDLE_TIMEOUT": f"{IDLE_TIMEOUT_S}s",
                                         "CONCLAVE_MAX_BODY_SIZE": "65536",
                                         "CONCLAVE_ACCESS_LOG": "false"})
        cls.server.start()
        cls.pid = cls.server.proc.pid
        cls.rss0 = abuse.proc_status(cls.pid)["VmRSS"]
        cls.sampler = abuse.Sampler(cls.pid, period=0.1)
        cls.sampler.start()

    @classmethod
    def tearDownClass(cls):
        cls.sampler.stop.set()
        cls.sampler.join()
        code = cls.server.stop()
        cls.server.cleanup()
        assert code == 0, code

    def setUp(self):
        self.client = WellBehaved(self.server.port)
        self.client.start()

    def tearDown(self):
        self.client.stop.set()
        self.client.join(60)
        self.assertEqual(self.client.failures, [], "the well-behaved client failed")
        self.assertGreater(self.client.ok, 0)
        status = abuse.proc_status(self.pid)
        self.assertIsNotNone(status, "the server died")
        self.assertIsNone(self.server.proc.poll(), "the server exited")
        self.assertEqual(self.server.log().count("listening on http"), 1, "the server restarted")
        peak = max(s["VmRSS"] for _, s in self.sampler.samples)
        self.assertLess(peak, self.rss0 + RSS_BOUND_KIB, f"RSS {self.rss0} -> peak {peak} KiB")

    def run_attacks(self, *coros):
        async def all_of():
            return await asyncio.gather(*coros)
        return asyncio.run(all_of())

    def test_slowloris_header_flood_and_oversized_bodies(self):
        port = self.server.port
        loris, flood, bodies = self.run_attacks(
            abuse.slowloris(port, SLOWLORIS, seconds=IDLE_TIMEOUT_S * 4),
            abuse.header_flood(port, seconds=2, connections=4),
            abuse.oversized_bodies(port, seconds=2, connections=4, chunk=16384,
                                   chunked_limit=1 << 20))
        # Every slowloris connection was opened, and closed by the server (the header's deadline
        # is idle_timeout), long before the attack would have given up.
        self.assertEqual(loris["opened"], SLOWLORIS, loris)
        self.assertEqual(loris["still_open"], 0, loris)
        self.assertEqual(loris["closed_by_server"], SLOWLORIS, loris)
        # 1,000 small headers fit the default 16 KiB; a 64 KiB line does not: 431 as Matrix JSON.
        self.assertGreater(flood.get("many_headers:200", 0), 0, flood)
        self.assertGreater(flood.get("huge_line:431", 0), 0, flood)
        self.assertNotIn("many_headers:not_matrix_json", flood)
        self.assertNotIn("huge_line:not_matrix_json", flood)
        self.assertEqual({k for k in flood if k.startswith("huge_line:")}, {"huge_line:431"},
                         flood)
        # Endless header bytes: 431, or the connection reset once the server refused them.
        self.assertTrue({k.split(":")[1] for k in flood if k.startswith("endless:")}
                        <= {"431", "reset", "broken_pipe", "eof"}, flood)
        # Bodies over max_body_size: 413 M_TOO_LARGE, declared or chunked.
        self.assertGreater(bodies.get("content_length:413", 0), 0, bodies)
        self.assertGreater(bodies.get("chunked:413", 0), 0, bodies)
        self.assertNotIn("content_length:413_without_M_TOO_LARGE", bodies)
        self.assertNotIn("chunked:413_without_M_TOO_LARGE", bodies)
        for key in bodies:
            self.assertIn(key.split(":")[1], {"413", "reset", "broken_pipe", "eof"}, bodies)

    def test_idle_keepalive_connections_and_login_burst(self):
        port = self.server.port
        n = min(IDLE, NOFILE - 300)
        self.assertGreater(n, 500, f"descriptor limit {NOFILE} too low for this test")
        idle, login = self.run_attacks(
            abuse.idle_keepalive(port, n, hold_seconds=1),
            abuse.burst(port, "login", 30))
        # All opened, answered, and still kept alive for a second request.
        self.assertEqual(idle["opened"], n, idle)
        self.assertEqual(idle.get("first:200"), n, idle)
        self.assertEqual(idle.get("second:200"), n, idle)
        # Beyond the burst (10 by default): 429 M_LIMIT_EXCEEDED with retry_after_ms, no 5xx.
        self.assertGreater(login.get("429_with_retry_after_ms", 0), 0, login)
        self.assertNotIn("429_without_retry_after_ms", login)
        self.assertEqual(sum(v for k, v in login.items() if k.isdigit()), 30, login)
        self.assertFalse([k for k in login if k.isdigit() and k.startswith("5")], login)


class LimitsTest(unittest.TestCase):
    """With a low descriptor limit the server accepts only so many connections; the others wait
    in the backlog (not refused, not reset) and are served once connections close, and a
    connection already open keeps being served meanwhile. Request bodies being received are
    bounded server-wide (64 MiB by default): beyond, 503 M_UNKNOWN."""

    def test_connection_limit_and_body_budget(self):
        # The server raises its soft limit to the hard one: lower both, in a wrapper that then
        # execs the server (same pid).
        wrapper = ("import os, resource, sys; "
                   "resource.setrlimit(resource.RLIMIT_NOFILE, (640, 640)); "
                   "os.execv(sys.argv[1], sys.argv[1:])")
        server = Server(sys.executable, env={"CONCLAVE_ACCESS_LOG": "false"},
                        args=["-c", wrapper, BINARY])
        server.start()
        try:
            line = server.wait_for_log(r"at most \d+ client connections")
            limit = int(line.split("at most ")[1].split()[0])
            self.assertEqual(limit, 320, line)  # 640 less the reserve of 512, at most half
            keeper = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            keeper.request("GET", "/_matrix/client/versions")
            resp = keeper.getresponse()
            resp.read()
            self.assertEqual(resp.status, 200)
            asyncio.run(self.over_the_limit(server, keeper, limit))
            held = asyncio.run(abuse.slow_bodies(server.port, 80, seconds=8, sent_bytes=4096))
            # Chunked: each takes max_body_size (1 MiB) of the 64 MiB budget until it is done.
            self.assertEqual(held, {"held": 64, "503": 16}, held)
            keeper.close()
            self.assertIn("new connections wait until one closes", server.log())
            self.assertEqual(server.log().count("listening on http"), 1)
        finally:
            code = server.stop()
            server.cleanup()
        self.assertEqual(code, 0)

    async def over_the_limit(self, server, keeper, limit):
        extra = 40
        streams, errors = await abuse.open_many(server.port, limit - 1 + extra)
        self.assertEqual(errors, {})  # the kernel completes the handshakes of the waiting ones
        req = abuse.request_bytes("GET", "/_matrix/client/versions")

        async def ask(reader, writer):
            writer.write(req)
            await writer.drain()
            status, _, _ = await abuse.read_response(reader)
            return status
        tasks = [asyncio.ensure_future(ask(r, w)) for r, w in streams]
        # `keeper` holds one slot: limit - 1 more are served (however slowly: no deadline
        # but the test's), and then, a second later, the others still wait unanswered.
        deadline = time.monotonic() + 60
        while sum(t.done() for t in tasks) < limit - 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(1)
        answered = [i for i, t in enumerate(tasks) if t.done()]
        waiting = [i for i, t in enumerate(tasks) if not t.done()]
        self.assertEqual(len(answered), limit - 1)
        self.assertEqual([tasks[i].result() for i in answered], [200] * (limit - 1))
        self.assertEqual(len(waiting), extra)
        # The open keep-alive connection is still served at the limit.
        await asyncio.to_thread(keeper.request, "GET", "/_matrix/client/versions")
        resp = await asyncio.to_thread(keeper.getresponse)
        self.assertEqual(resp.status, 200)
        resp.read()
        # Closing served connections lets the waiting ones in, and their requests are answered.
        for i in answered[:extra]:
            await abuse.close_writer(streams[i][1])
        late = await asyncio.wait_for(asyncio.gather(*(tasks[i] for i in waiting)), 60)
        self.assertEqual(late, [200] * extra)
        await asyncio.gather(*(abuse.close_writer(w) for _, w in streams))


if __name__ == "__main__":
    unittest.main(verbosity=2)
