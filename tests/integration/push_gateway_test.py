"""The push sender against a real Push Gateway on loopback (Push Gateway API,
POST /_matrix/push/v1/notify), over raw HTTP with the standard library only.

A tiny gateway (http.server on 127.0.0.1, port 0) records every notify request and answers per
pushkey: 200, a 500 for the first N requests, or 200 with the pushkey in `rejected`. The server
runs with push_gateway_allowed_ranges = 127.0.0.1/32 (loopback is denied by default) and a short
push_retry_initial. bob sets a pusher, alice sends a message: the gateway receives the spec's
body (event fields, counts.unread, devices with data minus url). A gateway that fails twice then
succeeds still gets the notification; a rejected pushkey removes the pusher (GET /pushers).
Usage: push_gateway_test.py BUILD_DIR
"""

import http.server
import json
import os
import sys
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from server import ModuleDir, Server  # noqa: E402

BUILD = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else "build/dev")
BINARY = os.path.join(BUILD, "bin", "conclave")
DEV = os.path.exists(os.path.join(BUILD, "variants", "service", "libconclave_service.so"))
PASSWORD = "correct horse battery staple"
V3 = "/_matrix/client/v3"


class Gateway:
    """A Push Gateway on 127.0.0.1: records requests, answers as `behaviour[pushkey]` says."""

    def __init__(self):
        self.requests = []
        self.lock = threading.Condition()
        self.failures_left = {}  # pushkey -> 500s still to answer
        self.down = False        # answer 503 to everything
        self.reject = set()      # pushkeys answered as rejected
        gateway = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    parsed = json.loads(body)
                    pushkey = parsed["notification"]["devices"][0]["pushkey"]
                except (ValueError, KeyError, IndexError):
                    parsed, pushkey = None, None
                with gateway.lock:
                    gateway.requests.append((self.path, parsed))
                    gateway.lock.notify_all()
                    failing = gateway.failures_left.get(pushkey, 0) or gateway.down
                    if pushkey in gateway.failures_left and gateway.failures_left[pushkey]:
                        gateway.failures_left[pushkey] -= 1
                    rejected = [pushkey] if pushkey in gateway.reject else []
                if failing:
                    status, answer = 500, {"error": "try later"}
                else:
                    status, answer = 200, {"rejected": rejected}
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/_matrix/push/v1/notify"

    def wait_for(self, predicate, timeout=20):
        """The first recorded (path, body) for which predicate(body) holds."""
        deadline = time.time() + timeout
        with self.lock:
            while True:
                for path, body in self.requests:
                    if body is not None and predicate(body):
                        return path, body
                left = deadline - time.time()
                if left <= 0:
                    raise AssertionError(f"no matching push within {timeout}s: {self.requests}")
                self.lock.wait(left)

    def count(self, predicate):
        with self.lock:
            return sum(1 for _, body in self.requests if body is not None and predicate(body))

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class PushGatewayTest(unittest.TestCase):
    def setUp(self):
        self.gateway = Gateway()
        self.server = Server(BINARY, env={
            "CONCLAVE_PUSH_GATEWAY_ALLOWED_RANGES": "127.0.0.1/32",
            "CONCLAVE_PUSH_RETRY_INITIAL": "200ms",
            "CONCLAVE_PUSH_RETRY_MAX": "1s",
        })
        self.modules = ModuleDir(self.server, BUILD) if DEV else None
        self.server.start()
        self.alice = self.register("alice")
        self.bob = self.register("bob")
        self.room = self.ok("POST", "/createRoom", {"preset": "public_chat", "name": "Lunch"},
                            self.alice)["room_id"]
        self.ok("POST", f"/join/{urllib.parse.quote(self.room)}", {}, self.bob)

    def tearDown(self):
        self.server.cleanup()
        self.gateway.close()

    def ok(self, method, path, body=None, token=None):
        status, data, _ = self.server.request(method, V3 + path, body=body, token=token)
        self.assertEqual(status, 200, f"{method} {path}: {status} {data}")
        return data

    def register(self, name):
        return self.ok("POST", "/register", {"username": name, "password": PASSWORD,
                                             "auth": {"type": "m.login.dummy"}})["access_token"]

    def set_pusher(self, pushkey, **data):
        self.ok("POST", "/pushers/set", {
            "pushkey": pushkey, "kind": "http", "app_id": "org.example.app",
            "app_display_name": "Example", "device_display_name": "Phone", "lang": "en",
            "data": {"url": self.gateway.url, **data}}, self.bob)

    def say(self, text, txn):
        path = f"/rooms/{urllib.parse.quote(self.room)}/send/m.room.message/{txn}"
        return self.ok("PUT", path, {"msgtype": "m.text", "body": text}, self.alice)["event_id"]

    def pushers(self):
        return [p["pushkey"] for p in self.ok("GET", "/pushers", token=self.bob)["pushers"]]

    def test_message_is_pushed_with_the_spec_body(self):
        self.set_pusher("key-ok", extra="kept")
        event_id = self.say("lunch, anyone?", "t1")
        path, body = self.gateway.wait_for(
            lambda b: b["notification"].get("event_id") == event_id)
        self.assertEqual(path, "/_matrix/push/v1/notify")
        n = body["notification"]
        self.assertEqual(n["room_id"], self.room)
        self.assertEqual(n["type"], "m.room.message")
        self.assertEqual(n["sender"], "@alice:localhost")
        self.assertEqual(n["room_name"], "Lunch")
        self.assertEqual(n["prio"], "high")  # one-to-one room: the rule's sound tweak
        self.assertEqual(n["content"], {"msgtype": "m.text", "body": "lunch, anyone?"})
        self.assertEqual(n["counts"], {"unread": 1})
        self.assertEqual(len(n["devices"]), 1)
        device = n["devices"][0]
        self.assertEqual(device["app_id"], "org.example.app")
        self.assertEqual(device["pushkey"], "key-ok")
        self.assertEqual(device["data"], {"extra": "kept"})
        self.assertIsInstance(device["pushkey_ts"], int)
        self.assertEqual(device["tweaks"], {"sound": "default"})

    def test_gateway_failing_twice_then_succeeding_gets_the_notification(self):
        self.gateway.failures_left["key-flaky"] = 2
        self.set_pusher("key-flaky", format="event_id_only")
        event_id = self.say("are you there?", "t1")

        def is_event(b):
            return b["notification"].get("event_id") == event_id

        self.gateway.wait_for(lambda b: is_event(b) and self.gateway.failures_left["key-flaky"] == 0)
        # Three requests for the event: two answered 500, the third 200; then no more.
        deadline = time.time() + 20
        while self.gateway.count(is_event) < 3 and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.gateway.count(is_event), 3)
        time.sleep(1.0)
        self.assertEqual(self.gateway.count(is_event), 3)
        _, body = self.gateway.wait_for(is_event)
        n = body["notification"]
        # event_id_only: no content, no sender.
        self.assertNotIn("content", n)
        self.assertNotIn("sender", n)
        self.assertEqual(n["devices"][0]["data"], {"format": "event_id_only"})

    def test_rejected_pushkey_removes_the_pusher(self):
        self.gateway.reject.add("key-gone")
        self.set_pusher("key-gone")
        self.assertEqual(self.pushers(), ["key-gone"])
        event_id = self.say("hello?", "t1")
        self.gateway.wait_for(lambda b: b["notification"].get("event_id") == event_id)
        deadline = time.time() + 10
        while self.pushers() and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.pushers(), [])
        # Nothing more is sent to it.
        self.say("still there?", "t2")
        time.sleep(0.5)
        self.assertEqual(self.gateway.count(lambda b: True), 1)

    @unittest.skipUnless(DEV, "needs the dev build's service variant")
    def test_reloading_service_with_queued_pushes_loses_none(self):
        self.gateway.down = True
        self.set_pusher("key-reload")
        first = self.say("before the reload", "t1")
        second = self.say("also before", "t2")

        def is_event(event_id):
            return lambda b: b["notification"].get("event_id") == event_id

        # The first is being retried (the gateway is down); both wait in push_queue.
        self.gateway.wait_for(is_event(first))
        self.modules.install_variant("service")
        line = self.modules.reload()
        self.assertIn("reloaded", line)
        self.assertIn("service", line)
        with self.gateway.lock:
            seen = len(self.gateway.requests)
            self.gateway.down = False
        # After the reload, the gateway (up again) gets both, in stream order.
        self.gateway.wait_for(is_event(second))
        with self.gateway.lock:
            after = [b["notification"]["event_id"] for _, b in self.gateway.requests[seen:]
                     if b is not None]
        self.assertIn(first, after)
        self.assertIn(second, after)
        self.assertLess(after.index(first), after.index(second))


if __name__ == "__main__":
    unittest.main()
