"""Bad input over raw HTTP: each mistake a client can make gets the HTTP status and `errcode`
the Client-Server API defines (standard error response: {"errcode", "error"}), the server keeps
serving afterwards, and its database opens again after a restart. Rate limits are checked on a
server started with tight limits, disabled registration on one started with
CONCLAVE_ALLOW_REGISTRATION=false. Usage: matrix_errors_test.py BUILD_DIR
"""

import os
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from server import Server  # noqa: E402

BUILD = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else "build/dev")
BINARY = os.path.join(BUILD, "bin", "conclave")
V3 = "/_matrix/client/v3"
PASSWORD = "correct horse battery staple"


def q(text):
    return urllib.parse.quote(text, safe="")


def request_ok(server, method, path, body=None, token=None):
    """The JSON body of a request that must succeed (200)."""
    status, data, _ = server.request(method, V3 + path, body=body, token=token)
    if status != 200:
        raise AssertionError(f"{method} {path}: {status} {data}")
    return data


def register(server, username):
    return request_ok(server, "POST", "/register", {
        "username": username, "password": PASSWORD, "auth": {"type": "m.login.dummy"}})


class MatrixClientMixin:
    """Raw-HTTP helpers over server.request()."""

    server = None

    def call(self, method, path, body=None, token=None, **kwargs):
        return self.server.request(method, V3 + path, body=body, token=token, **kwargs)

    def ok(self, method, path, body=None, token=None):
        return request_ok(self.server, method, path, body, token)

    def error(self, status, errcode, method, path, body=None, token=None, headers=None):
        """Asserts the exact HTTP status and errcode of a standard error response."""
        got_status, data, got_headers = self.call(method, path, body, token, headers=headers)
        self.assertEqual((got_status, (data or {}).get("errcode")), (status, errcode),
                         f"{method} {path}: {got_status} {data}")
        self.assertIsInstance(data.get("error", ""), str)
        self.assertTrue(got_headers.get("Content-Type", "").startswith("application/json"))
        return data

    def register(self, username):
        return register(self.server, username)

    def login(self, username):
        return self.ok("POST", "/login", {
            "type": "m.login.password", "identifier": {"type": "m.id.user", "user": username},
            "password": PASSWORD})


class ErrorsTest(MatrixClientMixin, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(BINARY)
        cls.server.start()
        s = cls.server
        cls.alice = register(s, "alice")["access_token"]
        cls.bob = register(s, "bob")["access_token"]
        cls.carol = register(s, "carol")["access_token"]
        # alice's room, which bob joins (power level 0) and carol never does.
        cls.room = request_ok(s, "POST", "/createRoom",
                              {"name": "Errors", "preset": "private_chat"}, cls.alice)["room_id"]
        request_ok(s, "POST", f"/rooms/{q(cls.room)}/invite", {"user_id": "@bob:localhost"},
                   cls.alice)
        request_ok(s, "POST", f"/join/{q(cls.room)}", {}, cls.bob)
        cls.event = request_ok(s, "PUT", f"/rooms/{q(cls.room)}/send/m.room.message/t1",
                               {"msgtype": "m.text", "body": "hello"}, cls.alice)["event_id"]

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def room_path(self, rest=""):
        return f"/rooms/{q(self.room)}{rest}"

    # --- M_NOT_JSON ----------------------------------------------------------------------------

    def test_not_json(self):
        self.error(400, "M_NOT_JSON", "POST", "/createRoom", b"{not json", self.alice)
        self.error(400, "M_NOT_JSON", "POST", "/createRoom", b'{"name": "x"', self.alice)
        self.error(400, "M_NOT_JSON", "PUT", self.room_path("/send/m.room.message/nj1"),
                   b"hello", self.alice)
        self.error(400, "M_NOT_JSON", "POST", "/login", b"type=m.login.password")
        # Invalid UTF-8 is not JSON (RFC 8259 section 8.1).
        self.error(400, "M_NOT_JSON", "PUT", self.room_path("/send/m.room.message/nj2"),
                   b'{"msgtype": "m.text", "body": "\xff\xfe"}', self.alice)
        # Nesting deep enough to exhaust a recursive parser is refused, not a crash.
        self.error(400, "M_NOT_JSON", "PUT", self.room_path("/send/m.room.message/nj3"),
                   b'{"a":' + b"[" * 30000 + b"]" * 30000 + b"}", self.alice)
        self.error(400, "M_NOT_JSON", "POST", "/createRoom",
                   b'{"creation_content":' + b'{"a":' * 100000 + b"1" + b"}" * 100001,
                   self.alice)

    # --- M_BAD_JSON ----------------------------------------------------------------------------

    def test_bad_json(self):
        self.error(400, "M_BAD_JSON", "POST", "/createRoom", {"name": 5}, self.alice)
        self.error(400, "M_BAD_JSON", "POST", "/createRoom", {"topic": ["a"]}, self.alice)
        self.error(400, "M_BAD_JSON", "POST", "/createRoom", {"invite": "@bob:localhost"},
                   self.alice)
        self.error(400, "M_BAD_JSON", "POST", "/createRoom", [1, 2], self.alice)
        self.error(400, "M_BAD_JSON", "PUT", self.room_path("/send/m.room.message/bj1"),
                   [{"body": "x"}], self.alice)
        self.error(400, "M_BAD_JSON", "PUT", self.room_path("/state/m.room.name"), "5",
                   self.alice)
        self.error(400, "M_BAD_JSON", "POST", "/login",
                   {"type": 5, "identifier": {"type": "m.id.user", "user": "alice"},
                    "password": PASSWORD})
        self.error(400, "M_BAD_JSON", "PUT", self.room_path("/typing/%40alice%3Alocalhost"),
                   {"typing": "yes"}, self.alice)
        # Room versions 6+ forbid floats in events.
        self.error(400, "M_BAD_JSON", "PUT", self.room_path("/send/m.room.message/bj2"),
                   {"msgtype": "m.text", "body": "x", "n": 1.5}, self.alice)
        # ... and integers outside [-(2**53)+1, (2**53)-1] (canonical JSON).
        self.error(400, "M_BAD_JSON", "PUT", self.room_path("/send/m.room.message/bj3"),
                   {"msgtype": "m.text", "body": "x", "n": 2 ** 53}, self.alice)
        self.error(400, "M_BAD_JSON", "PUT", self.room_path("/send/m.room.message/bj4"),
                   {"msgtype": "m.text", "body": "x", "n": [-(2 ** 63)]}, self.alice)
        self.error(400, "M_BAD_JSON", "PUT", self.room_path("/typing/%40alice%3Alocalhost"),
                   {"typing": True, "timeout": "long"}, self.alice)

    # --- M_MISSING_PARAM -----------------------------------------------------------------------

    def test_missing_param(self):
        self.error(400, "M_MISSING_PARAM", "POST", "/login",
                   {"type": "m.login.password",
                    "identifier": {"type": "m.id.user", "user": "alice"}})
        self.error(400, "M_MISSING_PARAM", "POST", self.room_path("/invite"), {}, self.alice)
        self.error(400, "M_MISSING_PARAM", "PUT", self.room_path("/typing/%40alice%3Alocalhost"),
                   {}, self.alice)

    # --- M_INVALID_PARAM -----------------------------------------------------------------------

    def test_invalid_param(self):
        self.error(400, "M_INVALID_PARAM", "GET", self.room_path("/messages?dir=x"),
                   token=self.alice)
        self.error(400, "M_INVALID_PARAM", "GET", self.room_path("/messages?dir=b&from=zzz"),
                   token=self.alice)
        self.error(400, "M_INVALID_PARAM", "GET", self.room_path("/messages?dir=b&limit=ten"),
                   token=self.alice)
        self.error(400, "M_INVALID_PARAM", "GET", self.room_path("/messages?dir=b&limit=-1"),
                   token=self.alice)
        self.error(400, "M_INVALID_PARAM", "POST",
                   self.room_path(f"/receipt/m.seen/{q(self.event)}"), {}, self.alice)
        for since in ("garbage", "s", "s12", "s12_", "s_1", "sx_1", "s1_2_3", "12_3"):
            self.error(400, "M_INVALID_PARAM", "GET", f"/sync?since={q(since)}",
                       token=self.alice)
        self.error(400, "M_INVALID_PARAM", "GET", "/sync?timeout=soon", token=self.alice)
        self.error(400, "M_INVALID_PARAM", "GET", "/sync?full_state=maybe", token=self.alice)
        self.error(400, "M_INVALID_PARAM", "GET", "/sync?set_presence=busy", token=self.alice)

    # --- M_MISSING_TOKEN / M_UNKNOWN_TOKEN -----------------------------------------------------

    def test_missing_token(self):
        self.error(401, "M_MISSING_TOKEN", "GET", "/account/whoami")
        self.error(401, "M_MISSING_TOKEN", "GET", "/sync")
        self.error(401, "M_MISSING_TOKEN", "POST", "/createRoom", {})
        self.error(401, "M_MISSING_TOKEN", "PUT", self.room_path("/send/m.room.message/mt1"),
                   {"msgtype": "m.text", "body": "x"})

    def test_unknown_token(self):
        for path in ("/account/whoami", "/sync"):
            data = self.error(401, "M_UNKNOWN_TOKEN", "GET", path, token="not-a-token")
            if "soft_logout" in data:
                self.assertIsInstance(data["soft_logout"], bool)
        self.error(401, "M_UNKNOWN_TOKEN", "GET", "/account/whoami?access_token=nope")
        self.error(401, "M_UNKNOWN_TOKEN", "GET", "/account/whoami",
                   token=self.alice + "x")

    # --- M_FORBIDDEN ---------------------------------------------------------------------------

    def test_forbidden(self):
        # carol is not in the room.
        self.error(403, "M_FORBIDDEN", "PUT", self.room_path("/send/m.room.message/f1"),
                   {"msgtype": "m.text", "body": "let me in"}, self.carol)
        self.error(403, "M_FORBIDDEN", "GET", self.room_path("/messages?dir=b"),
                   token=self.carol)
        self.error(403, "M_FORBIDDEN", "PUT", self.room_path("/typing/%40carol%3Alocalhost"),
                   {"typing": True}, self.carol)
        # bob is a member with power level 0; m.room.name needs 50.
        self.error(403, "M_FORBIDDEN", "PUT", self.room_path("/state/m.room.name"),
                   {"name": "bob's room now"}, self.bob)
        self.error(403, "M_FORBIDDEN", "PUT", self.room_path("/state/m.room.power_levels"),
                   {"users": {"@bob:localhost": 100}}, self.bob)
        # Someone else's typing state.
        self.error(403, "M_FORBIDDEN", "PUT", self.room_path("/typing/%40alice%3Alocalhost"),
                   {"typing": True}, self.bob)
        # Joining an invite-only room uninvited, leaving a room one is not in.
        self.error(403, "M_FORBIDDEN", "POST", f"/join/{q(self.room)}", {}, self.carol)
        self.error(403, "M_FORBIDDEN", "POST", self.room_path("/leave"), {}, self.carol)
        # A second m.room.create.
        self.error(403, "M_FORBIDDEN", "PUT", self.room_path("/state/m.room.create"),
                   {"creator": "@alice:localhost"}, self.alice)
        # A wrong password.
        self.error(403, "M_FORBIDDEN", "POST", "/login",
                   {"type": "m.login.password",
                    "identifier": {"type": "m.id.user", "user": "carol"}, "password": "wrong"})
        # The name did not change.
        state = self.ok("GET", self.room_path("/state/m.room.name"), token=self.alice)
        self.assertEqual(state, {"name": "Errors"})

    # --- M_NOT_FOUND ---------------------------------------------------------------------------

    def test_not_found(self):
        self.error(404, "M_NOT_FOUND", "GET", f"/directory/room/{q('#nowhere:localhost')}")
        self.error(404, "M_NOT_FOUND", "GET", self.room_path(f"/event/{q('$nonexistent')}"),
                   token=self.alice)
        self.error(404, "M_NOT_FOUND", "GET", self.room_path("/state/m.room.topic"),
                   token=self.alice)
        self.error(404, "M_NOT_FOUND", "PUT",
                   self.room_path(f"/redact/{q('$nonexistent')}/r1"), {}, self.alice)
        self.error(404, "M_NOT_FOUND", "POST", f"/join/{q('#nowhere:localhost')}", {},
                   self.carol)
        # The event exists, but not in that room.
        other = self.ok("POST", "/createRoom", {}, self.alice)["room_id"]
        self.error(404, "M_NOT_FOUND", "GET", f"/rooms/{q(other)}/event/{q(self.event)}",
                   token=self.alice)

    # --- M_TOO_LARGE ---------------------------------------------------------------------------

    def test_too_large(self):
        big = {"msgtype": "m.text", "body": "x" * 70000}
        self.error(413, "M_TOO_LARGE", "PUT", self.room_path("/send/m.room.message/tl1"), big,
                   self.alice)
        self.error(413, "M_TOO_LARGE", "PUT", self.room_path("/state/m.room.topic"),
                   {"topic": "y" * 70000}, self.alice)
        # Content under 64 KiB whose event (with the PDU fields and hashes) is over it.
        self.error(413, "M_TOO_LARGE", "PUT", self.room_path("/send/m.room.message/tl2"),
                   {"msgtype": "m.text", "body": "z" * 65400}, self.alice)
        # A large event under the limit is fine.
        self.ok("PUT", self.room_path("/send/m.room.message/tl3"),
                {"msgtype": "m.text", "body": "w" * 60000}, self.alice)

    # --- registration --------------------------------------------------------------------------

    def test_user_in_use(self):
        self.error(400, "M_USER_IN_USE", "POST", "/register",
                   {"username": "alice", "password": PASSWORD, "auth": {"type": "m.login.dummy"}})
        # Case-folded: ALICE is alice.
        self.error(400, "M_USER_IN_USE", "POST", "/register",
                   {"username": "ALICE", "password": PASSWORD, "auth": {"type": "m.login.dummy"}})
        self.error(400, "M_USER_IN_USE", "GET", "/register/available?username=alice")

    def test_invalid_username(self):
        for name in ("Alice Smith!", "al:ice", "", "@bob"):
            if not name:
                continue
            self.error(400, "M_INVALID_USERNAME", "POST", "/register",
                       {"username": name, "password": PASSWORD,
                        "auth": {"type": "m.login.dummy"}})
        self.error(400, "M_INVALID_USERNAME", "GET",
                   f"/register/available?username={q('no spaces')}")
        self.error(400, "M_INVALID_USERNAME", "POST", "/register",
                   {"username": "a" * 300, "password": PASSWORD,
                    "auth": {"type": "m.login.dummy"}})

    # --- M_UNRECOGNIZED ------------------------------------------------------------------------

    def test_unrecognized(self):
        self.error(404, "M_UNRECOGNIZED", "GET", "/no/such/endpoint", token=self.alice)
        status, data, _ = self.server.request("GET", "/_matrix/client/v9/sync")
        self.assertEqual((status, data["errcode"]), (404, "M_UNRECOGNIZED"))
        # A known path with a method it does not have: 405.
        data = self.error(405, "M_UNRECOGNIZED", "DELETE", "/createRoom", token=self.alice)

    # --- afterwards ----------------------------------------------------------------------------

    def test_zz_still_serving_then_restart(self):
        """After every bad request above the server still serves, and its data opens again."""
        self.assertEqual(self.ok("GET", "/account/whoami", token=self.alice)["user_id"],
                         "@alice:localhost")
        self.ok("PUT", self.room_path("/send/m.room.message/ok1"),
                {"msgtype": "m.text", "body": "still here"}, self.alice)
        page = self.ok("GET", self.room_path("/messages?dir=b&limit=3"), token=self.alice)
        self.assertEqual(page["chunk"][0]["content"]["body"], "still here")
        self.assertIsNone(self.server.proc.poll())
        self.assertNotIn(" critical ", self.server.log())

        self.assertEqual(self.server.stop(), 0)
        self.server.start()
        self.assertEqual(self.ok("GET", "/account/whoami", token=self.bob)["user_id"],
                         "@bob:localhost")
        page = self.ok("GET", self.room_path("/messages?dir=b&limit=3"), token=self.alice)
        self.assertEqual(page["chunk"][0]["content"]["body"], "still here")
        self.assertEqual(self.ok("GET", self.room_path("/state/m.room.name"), token=self.bob),
                         {"name": "Errors"})
        self.assertEqual(self.server.stop(), 0)


class RegistrationDisabledTest(MatrixClientMixin, unittest.TestCase):
    def setUp(self):
        self.server = Server(BINARY, env={"CONCLAVE_ALLOW_REGISTRATION": "false"})
        self.server.start()

    def tearDown(self):
        self.server.cleanup()

    def test_register_is_forbidden(self):
        self.error(403, "M_FORBIDDEN", "POST", "/register",
                   {"username": "dave", "password": PASSWORD, "auth": {"type": "m.login.dummy"}})
        self.error(403, "M_FORBIDDEN", "POST", "/register", {})
        # Nobody was created.
        self.error(403, "M_FORBIDDEN", "POST", "/login",
                   {"type": "m.login.password",
                    "identifier": {"type": "m.id.user", "user": "dave"}, "password": PASSWORD})


class RateLimitTest(MatrixClientMixin, unittest.TestCase):
    def setUp(self):
        self.server = Server(BINARY, env={
            "CONCLAVE_RC_LOGIN_PER_SECOND": "1",
            "CONCLAVE_RC_LOGIN_BURST": "2",
            "CONCLAVE_RC_MESSAGE_PER_SECOND": "1",
            "CONCLAVE_RC_MESSAGE_BURST": "3",
            "CONCLAVE_RC_REGISTRATION_PER_SECOND": "0.5",
            "CONCLAVE_RC_REGISTRATION_BURST": "2",
        })
        self.server.start()

    def tearDown(self):
        self.server.cleanup()

    def limited(self, method, path, body=None, token=None):
        data = self.error(429, "M_LIMIT_EXCEEDED", method, path, body, token)
        retry = data.get("retry_after_ms")
        self.assertIsInstance(retry, int, data)
        self.assertGreater(retry, 0)
        self.assertLessEqual(retry, 5000)
        return retry

    def test_limits(self):
        token = self.register("erin")["access_token"]
        # Registration: burst 2, then 429 with retry_after_ms; other users do not pass either.
        self.register("frank")
        self.limited("POST", "/register",
                     {"username": "grace", "password": PASSWORD,
                      "auth": {"type": "m.login.dummy"}})

        # Login: burst 2.
        self.login("erin")
        self.login("erin")
        retry = self.limited("POST", "/login",
                             {"type": "m.login.password",
                              "identifier": {"type": "m.id.user", "user": "erin"},
                              "password": PASSWORD})
        time.sleep(retry / 1000 + 0.05)
        self.login("erin")  # honest retry_after_ms: allowed again once it has passed

        # Messages: burst 3 (state events and sends share the budget).
        room = self.ok("POST", "/createRoom", {}, token)["room_id"]
        path = f"/rooms/{q(room)}/send/m.room.message"
        for i in range(3):
            self.ok("PUT", f"{path}/m{i}", {"msgtype": "m.text", "body": str(i)}, token)
        retry = self.limited("PUT", f"{path}/m3", {"msgtype": "m.text", "body": "3"}, token)
        self.limited("PUT", f"/rooms/{q(room)}/state/m.room.topic", {"topic": "t"}, token)
        time.sleep(retry / 1000 + 0.05)
        self.ok("PUT", f"{path}/m3", {"msgtype": "m.text", "body": "3"}, token)
        # The refused send left no event behind.
        page = self.ok("GET", f"/rooms/{q(room)}/messages?dir=b&limit=10", token=token)
        bodies = [e["content"].get("body") for e in page["chunk"]
                  if e["type"] == "m.room.message"]
        self.assertEqual(bodies, ["3", "2", "1", "0"])
        # Reads are not limited.
        for _ in range(10):
            self.ok("GET", "/account/whoami", token=token)


if __name__ == "__main__":
    unittest.main(verbosity=2)
