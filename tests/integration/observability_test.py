"""Logs, access log and Prometheus metrics of the real binary (docs/observability.md).

- text format: one access line per request with the route template, never the raw path, query
  or an access token (also when sent as ?access_token=); /_conclave/metrics is 404 by default;
- json format: every log line is one JSON object with ts/level/component/msg; metrics on the main
  listener: counters and histograms grow with requests, RocksDB and jemalloc gauges are > 0;
- a separate metrics listener serves only the metrics, the main listener then 404s the path,
  and both survive an exec restart (SIGUSR2) in their roles;
- dev build: the metrics survive hot reloads (a forced reload of database, whose collector is
  unregistered and registered again, then SIGUSR1 with a changed api), scrapes racing the
  reloads all succeed, and conclave_module_reloads_total counts them.
Usage: observability_test.py BUILD_DIR
"""

import http.client
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from server import ModuleDir, Server  # noqa: E402

BUILD = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else "build/dev")
DEV = os.path.exists(os.path.join(BUILD, "lib", "libconclave_api.so"))
V3 = "/_matrix/client/v3"
METRICS = "/_conclave/metrics"
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
ACCESS_TEXT = re.compile(r"\[access\] (\S+) (\S+) (\d{3}|-) (\d+\.\d{3})ms (\S+)")


def parse_metrics(text):
    """Parses the text exposition format into {name: {frozenset(labels): value}}, checking that
    each sample's family was announced by a TYPE line."""
    families, typed = {}, set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if line.startswith("#") or not line:
            continue
        m = SAMPLE.match(line)
        assert m, f"malformed sample line: {line!r}"
        name, labels, value = m.group(1), m.group(3) or "", m.group(4)
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in typed or base in typed, f"sample without TYPE: {line!r}"
        families.setdefault(name, {})[frozenset(LABEL.findall(labels))] = float(value)
    return families


def value(families, name, **labels):
    """The sample of `name` whose labels include `labels`; None if absent."""
    for key, v in families.get(name, {}).items():
        if set(labels.items()) <= set(key):
            return v
    return None


def scrape(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", METRICS)
        resp = conn.getresponse()
        body = resp.read().decode()
        return resp.status, resp.getheader("Content-Type", ""), body
    finally:
        conn.close()


def get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def register(server, username):
    status, body, _ = server.request("POST", V3 + "/register", {
        "username": username, "password": "correct horse battery staple",
        "auth": {"type": "m.login.dummy"}})
    assert status == 200, (status, body)
    return body["access_token"]


class ServerCase(unittest.TestCase):
    env = {}
    args = ()

    def setUp(self):
        self.server = Server(os.path.join(BUILD, "bin", "conclave"), env=self.env,
                             args=self.args)

    def tearDown(self):
        self.server.cleanup()

    def access_lines(self):
        return [line for line in self.server.log().splitlines() if "[access]" in line]

    def wait_for(self, predicate, what, timeout=10):
        """Polls `predicate` (a request can be counted just after its response reached us)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            result = predicate()
            if result:
                return result
            time.sleep(0.05)
        self.fail(f"timed out waiting for {what}")

    def wait_for_value(self, port, expected, name, **labels):
        """Scrapes until sample `name` with `labels` equals `expected`; returns the families."""
        def check():
            families = parse_metrics(scrape(port)[2])
            return families if value(families, name, **labels) == expected else None
        return self.wait_for(check, f"{name}{labels} == {expected}")

    def assert_not_found(self, port, path):
        status, body = get(port, path)
        self.assertEqual(status, 404, body)
        self.assertEqual(json.loads(body)["errcode"], "M_UNRECOGNIZED")


class TextLogTest(ServerCase):
    def test_access_log_has_templates_and_no_secrets(self):
        s = self.server.start()
        self.assertEqual(get(s.port, "/_matrix/client/versions")[0], 200)
        token = register(s, "alice")
        status, room, _ = s.request("POST", V3 + "/createRoom", {}, token=token)
        self.assertEqual(status, 200, room)
        room_id = room["room_id"]
        # The token in the query string, and a room id in the path: neither may be logged.
        path = (f"{V3}/rooms/{room_id}/send/m.room.message/txn1"
                f"?access_token={token}")
        status, body, _ = s.request("PUT", path, {"msgtype": "m.text", "body": "hi"})
        self.assertEqual(status, 200, body)
        status, body, _ = s.request("GET", f"{V3}/account/whoami?access_token={token}")
        self.assertEqual(status, 200, body)
        self.assert_not_found(s.port, "/no/such/path-with-a-secret?access_token=swordfish")
        self.assert_not_found(s.port, METRICS)  # metrics are off by default
        self.wait_for(lambda: len(self.access_lines()) >= 7, "7 access lines")

        log = s.log()
        for secret in (token, room_id, "swordfish", "path-with-a-secret", "txn1", "access_token"):
            self.assertNotIn(secret, log)
        lines = self.access_lines()
        parsed = []
        for line in lines:
            m = ACCESS_TEXT.search(line)
            self.assertIsNotNone(m, line)
            self.assertIn(" info  [access] ", line)
            parsed.append(m.groups())
        routes = {(method, route, status) for method, route, status, _, _ in parsed}
        self.assertIn(("GET", "/_matrix/client/versions", "200"), routes)
        self.assertIn(("POST", "/_matrix/client/v3/register", "200"), routes)
        self.assertIn(("PUT", "/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}", "200"),
                      routes)
        self.assertIn(("GET", "/_matrix/client/v3/account/whoami", "200"), routes)
        self.assertIn(("GET", "<unmatched>", "404"), routes)
        self.assertTrue(all(peer == "127.0.0.1" for *_, peer in parsed), parsed)
        self.assertEqual(s.stop(), 0)

    def test_request_cut_short_is_logged_as_such(self):
        self.server.env["CONCLAVE_REQUEST_TIMEOUT"] = "1s"
        s = self.server.start()
        # The body never completes: the server gives up after request_timeout.
        with socket.create_connection(("127.0.0.1", s.port), timeout=10) as sock:
            sock.sendall(b"PUT /_matrix/client/v3/profile/%40secret%3Alocalhost/displayname"
                         b"?access_token=swordfish HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Length: 100\r\n\r\n{\"displayname\":")
            line = s.wait_for_log(r"\[access\] PUT ")
        self.assertRegex(line, r"\[access\] PUT <unmatched> - \d+\.\d{3}ms 127\.0\.0\.1 "
                               r"\(connection closed or timed out before the request body arrived\)")
        self.assertNotIn("swordfish", s.log())
        self.assertNotIn("secret", s.log())
        self.assertEqual(s.stop(), 0)

    def test_access_log_can_be_turned_off(self):
        self.server.env["CONCLAVE_ACCESS_LOG"] = "false"
        s = self.server.start()
        self.assertEqual(get(s.port, "/_matrix/client/versions")[0], 200)
        self.assertEqual(s.stop(), 0)
        self.assertEqual(self.access_lines(), [])


class JsonAndMetricsTest(ServerCase):
    # The compaction at start leaves SST files, so the size gauges have something to measure.
    env = {"CONCLAVE_LOG_FORMAT": "json", "CONCLAVE_METRICS_ENABLED": "true",
           "CONCLAVE_ADMIN_EXECUTE": "database compact"}

    def test_json_lines_and_metrics_on_the_main_listener(self):
        s = self.server.start()
        s.wait_for_log(r"admin_execute 'database compact'")
        status, content_type, text = scrape(s.port)
        self.assertEqual(status, 200, text)
        self.assertEqual(content_type, "text/plain; version=0.0.4; charset=utf-8")
        before = parse_metrics(text)
        versions = dict(method="GET", route="/_matrix/client/versions", status="200")
        start_count = value(before, "conclave_http_requests_total", **versions) or 0
        token = register(s, "bob")
        for _ in range(5):
            self.assertEqual(get(s.port, "/_matrix/client/versions")[0], 200)
        status, _, _ = s.request("GET", f"{V3}/account/whoami?access_token={token}")
        self.assertEqual(status, 200)

        def counted():
            after = parse_metrics(scrape(s.port)[2])
            n = value(after, "conclave_http_requests_total", **versions)
            registered = value(after, "conclave_http_requests_total", method="POST",
                               route="/_matrix/client/v3/register", status="200")
            return after if n == start_count + 5 and registered == 1 else None
        # A request is counted right after its response is written: poll until all are.
        after = self.wait_for(counted, "5 more /versions requests and 1 register counted")
        self.assertEqual(value(after, "conclave_http_request_duration_seconds_count",
                               method="GET", route="/_matrix/client/versions"), start_count + 5)
        self.assertEqual(value(after, "conclave_http_request_duration_seconds_bucket",
                               method="GET", route="/_matrix/client/versions", le="+Inf"),
                         start_count + 5)
        self.assertGreater(value(after, "conclave_http_requests_total", method="GET",
                                 route=METRICS, status="200"), 0)
        self.assertEqual(value(after, "conclave_build_info"), 1)
        self.assertGreaterEqual(value(after, "conclave_http_connections_open"), 1)
        self.assertGreater(value(after, "conclave_process_start_time_seconds"), 1.6e9)
        for name in ("conclave_jemalloc_allocated_bytes", "conclave_jemalloc_active_bytes",
                     "conclave_jemalloc_resident_bytes", "conclave_jemalloc_mapped_bytes",
                     "conclave_rocksdb_estimate_live_data_size_bytes",
                     "conclave_rocksdb_live_sst_files_size_bytes",
                     "conclave_rocksdb_memtables_bytes", "conclave_rocksdb_estimate_num_keys",
                     "conclave_rocksdb_block_cache_capacity_bytes",
                     "conclave_rocksdb_column_families"):
            self.assertGreater(value(after, name) or 0, 0, name)
        for name in ("conclave_jemalloc_retained_bytes", "conclave_rocksdb_block_cache_usage_bytes",
                     "conclave_rocksdb_background_errors"):
            self.assertIsNotNone(value(after, name), name)
        self.assertEqual(value(after, "conclave_rocksdb_background_errors"), 0)
        self.assertEqual(s.stop(), 0)

        # Every line of the log is one JSON object with the four fields.
        lines = s.log().splitlines()
        self.assertGreater(len(lines), 10)
        access = []
        for line in lines:
            obj = json.loads(line)
            self.assertTrue({"ts", "level", "component", "msg"} <= set(obj), line)
            self.assertRegex(obj["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            self.assertIn(obj["level"], ("trace", "debug", "info", "warn", "error", "critical"))
            if obj["component"] == "access":
                access.append(obj)
        self.assertNotIn(token, s.log())
        whoami = [a for a in access if a["route"] == "/_matrix/client/v3/account/whoami"]
        self.assertEqual(len(whoami), 1, access)
        self.assertEqual((whoami[0]["method"], whoami[0]["status"], whoami[0]["peer"]),
                         ("GET", 200, "127.0.0.1"))
        self.assertIsInstance(whoami[0]["duration_ms"], float)
        self.assertIn("GET /_matrix/client/v3/account/whoami 200 ", whoami[0]["msg"])


class SeparateListenerTest(ServerCase):
    env = {"CONCLAVE_METRICS_ENABLED": "true", "CONCLAVE_METRICS_ADDRESS": "127.0.0.1",
           "CONCLAVE_METRICS_PORT": "0"}
    pattern = r"serving metrics on http://127\.0\.0\.1:(\d+)/_conclave/metrics"

    def test_separate_listener_serves_only_metrics_and_survives_restart(self):
        s = self.server.start()
        metrics_port = int(re.search(self.pattern, s.wait_for_log(self.pattern)).group(1))
        self.assertNotEqual(metrics_port, s.port)
        self.assert_not_found(s.port, METRICS)  # the main listener does not serve them
        self.assert_not_found(metrics_port, "/_matrix/client/versions")  # nor this one the API
        status, _, text = scrape(metrics_port)
        self.assertEqual(status, 200)
        self.wait_for_value(metrics_port, 2, "conclave_http_requests_total", method="GET",
                            route="<unmatched>", status="404")

        # An exec restart hands both sockets on, each in its role.
        offset = s.log_size()
        main_port = s.port
        s.send(signal.SIGUSR2)
        s.wait_for_log(r"listening on http://[^:]+:\d+ \(inherited socket\)", after=offset)
        line = s.wait_for_log(self.pattern + r" \(inherited socket\)", after=offset)
        self.assertEqual(int(re.search(self.pattern, line).group(1)), metrics_port)
        self.assertEqual(get(main_port, "/_matrix/client/versions")[0], 200)
        self.assert_not_found(main_port, METRICS)
        status, _, text = scrape(metrics_port)
        self.assertEqual(status, 200)
        # A new process image: the counters started over (2 before, the 404 just above now).
        self.wait_for_value(metrics_port, 1, "conclave_http_requests_total", route="<unmatched>")
        self.assertEqual(s.stop(), 0)

    def test_bad_metrics_address_is_a_config_error(self):
        self.server.env["CONCLAVE_METRICS_ADDRESS"] = "localhost"
        with self.assertRaises(AssertionError):
            self.server.start(timeout=10)
        self.assertEqual(self.server.proc.wait(10), 2)
        self.assertIn("metrics_address", self.server.log())


@unittest.skipUnless(DEV, "hot reload is a dev-build feature")
class HotReloadTest(ServerCase):
    env = {"CONCLAVE_METRICS_ENABLED": "true"}
    # At start, a forced reload of database and its dependents: the RocksDB collector of the
    # first generation is unregistered, the second one's registered.
    args = ("--execute", "modules reload database")

    def test_metrics_survive_hot_reloads(self):
        modules = ModuleDir(self.server, BUILD)
        s = self.server.start()
        failures, scrapes = [], [0]
        stop = threading.Event()

        def scraper():
            while not stop.is_set():
                try:
                    status, _, text = scrape(s.port)
                    parse_metrics(text)
                    if status != 200:
                        failures.append(status)
                    scrapes[0] += 1
                except Exception as e:  # noqa: BLE001 - every failure counts
                    failures.append(repr(e))
        thread = threading.Thread(target=scraper, daemon=True)
        thread.start()
        try:
            s.wait_for_log(r"\[host\] reloaded 6 modules")
            for _ in range(3):
                self.assertEqual(get(s.port, "/_matrix/client/versions")[0], 200)
            versions = dict(method="GET", route="/_matrix/client/versions", status="200")
            before = self.wait_for_value(s.port, 3, "conclave_http_requests_total", **versions)
            self.assertEqual(value(before, "conclave_module_reloads_total", result="reloaded"), 1)
            self.assertGreater(value(before, "conclave_rocksdb_memtables_bytes") or 0, 0)

            modules.install_variant("api")
            report = modules.reload()
            self.assertRegex(report, r"reloaded 1 module \(api\)")
        finally:
            stop.set()
            thread.join(15)
        self.assertEqual(failures, [])
        self.assertGreater(scrapes[0], 0)
        after = parse_metrics(scrape(s.port)[2])
        self.assertEqual(value(after, "conclave_module_reloads_total", result="reloaded"), 2)
        self.assertEqual(value(after, "conclave_module_reload_duration_seconds_count"), 2)
        self.assertEqual(value(after, "conclave_http_requests_total", **versions), 3)
        self.assertGreater(value(after, "conclave_rocksdb_memtables_bytes") or 0, 0)
        self.assertEqual(s.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
