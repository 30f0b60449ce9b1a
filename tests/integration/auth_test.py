"""Refresh tokens and login tokens end to end against a real server (Client-Server API
"Refreshing access tokens", "Soft logout", login/get_token and m.login.token): raw HTTP for the
token handling, matrix-nio for a login with a login token. The server runs with
CONCLAVE_ACCESS_TOKEN_LIFETIME=2s so that tokens expire while the test waits, and is restarted
once to show the tokens live in the database. Guest access ("Guest access" module) with raw HTTP:
`kind=guest` registration (allow_guest_access on), the guest endpoint list in the api and media
modules, m.room.guest_access, and the upgrade to a full account. Usage: auth_test.py BUILD_DIR
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from server import Server, nio_config, run_clients  # noqa: E402

BUILD = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else "build/dev")
BINARY = os.path.join(BUILD, "bin", "conclave")
V3 = "/_matrix/client/v3"
PASSWORD = "correct horse battery staple"
LIFETIME_S = 2


class AuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(BINARY, env={"CONCLAVE_ACCESS_TOKEN_LIFETIME": f"{LIFETIME_S}s",
                                         "CONCLAVE_RC_LOGIN_BURST": "1000",
                                         "CONCLAVE_RC_REGISTRATION_BURST": "1000",
                                         "CONCLAVE_ALLOW_GUEST_ACCESS": "true"})
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()

    def call(self, method, path, body=None, token=None):
        status, data, _ = self.server.request(method, path, body=body, token=token)
        return status, data or {}

    def ok(self, method, path, body=None, token=None):
        status, data = self.call(method, path, body, token)
        self.assertEqual(status, 200, f"{method} {path}: {status} {data}")
        return data

    def whoami(self, token):
        return self.call("GET", V3 + "/account/whoami", token=token)

    def test_refresh_tokens(self):
        reg = self.ok("POST", V3 + "/register", {
            "username": "alice", "password": PASSWORD, "refresh_token": True,
            "auth": {"type": "m.login.dummy"}})
        self.assertEqual(reg["expires_in_ms"], LIFETIME_S * 1000)
        access, refresh, device = reg["access_token"], reg["refresh_token"], reg["device_id"]
        self.assertEqual(self.whoami(access)[0], 200)

        time.sleep(LIFETIME_S + 0.5)
        status, data = self.whoami(access)
        self.assertEqual((status, data.get("errcode"), data.get("soft_logout")),
                         (401, "M_UNKNOWN_TOKEN", True), data)

        # The tokens are in the database: a restart keeps the refresh token working.
        self.server.stop()
        self.server.start()
        first = self.ok("POST", V3 + "/refresh", {"refresh_token": refresh})
        # The answer was "lost": the same refresh token works once more, voiding the first one.
        second = self.ok("POST", V3 + "/refresh", {"refresh_token": refresh})
        self.assertEqual(self.whoami(first["access_token"])[0], 401)
        status, data = self.whoami(second["access_token"])
        self.assertEqual(status, 200, data)
        self.assertEqual(data["device_id"], device)
        # The new access token was used: the original refresh token is spent.
        status, data = self.call("POST", V3 + "/refresh", {"refresh_token": refresh})
        self.assertEqual((status, data.get("errcode")), (401, "M_UNKNOWN_TOKEN"), data)
        third = self.ok("POST", V3 + "/refresh", {"refresh_token": second["refresh_token"]})
        self.assertEqual(self.whoami(third["access_token"])[0], 200)

        # Logging out revokes the refresh token.
        self.ok("POST", V3 + "/logout", {}, third["access_token"])
        status, data = self.call("POST", V3 + "/refresh",
                                 {"refresh_token": third["refresh_token"]})
        self.assertEqual((status, data.get("errcode")), (401, "M_UNKNOWN_TOKEN"), data)

        # A client that does not ask for refresh tokens keeps a token that never expires.
        plain = self.ok("POST", V3 + "/login", {
            "type": "m.login.password", "identifier": {"type": "m.id.user", "user": "alice"},
            "password": PASSWORD})
        self.assertNotIn("refresh_token", plain)
        time.sleep(LIFETIME_S + 0.5)
        self.assertEqual(self.whoami(plain["access_token"])[0], 200)

    def test_login_token_with_nio(self):
        bob = self.ok("POST", V3 + "/register", {
            "username": "bob", "password": PASSWORD, "auth": {"type": "m.login.dummy"}})
        flows = self.ok("GET", V3 + "/login")["flows"]
        self.assertIn({"type": "m.login.token", "get_login_token": True}, flows)

        get_token = "/_matrix/client/v1/login/get_token"
        status, challenge = self.call("POST", get_token, {}, bob["access_token"])
        self.assertEqual(status, 401, challenge)
        granted = self.ok("POST", get_token, {"auth": {
            "type": "m.login.password", "identifier": {"type": "m.id.user", "user": "bob"},
            "password": PASSWORD, "session": challenge["session"]}}, bob["access_token"])
        self.assertEqual(granted["expires_in_ms"], 120000)

        import nio
        clients = []

        async def scenario():
            client = nio.AsyncClient(self.server.url, "", config=nio_config())
            clients.append(client)
            response = await client.login(token=granted["login_token"],
                                          device_name="second device")
            self.assertIsInstance(response, nio.LoginResponse, response)
            self.assertEqual(response.user_id, "@bob:localhost")
            self.assertNotEqual(response.device_id, bob["device_id"])
            synced = await client.sync(timeout=0)
            self.assertIsInstance(synced, nio.SyncResponse, synced)
            self.assertEqual(self.whoami(client.access_token)[1].get("device_id"),
                             response.device_id)
            # Single use: a second client cannot log in with it.
            other = nio.AsyncClient(self.server.url, "", config=nio_config())
            clients.append(other)
            refused = await other.login(token=granted["login_token"])
            self.assertIsInstance(refused, nio.LoginError, refused)
            self.assertEqual(refused.status_code, "M_FORBIDDEN")

        run_clients(self.server, clients, scenario)

    def test_guest_access(self):
        carol = self.ok("POST", V3 + "/register", {
            "username": "carol", "password": PASSWORD, "auth": {"type": "m.login.dummy"}})
        guest = self.ok("POST", V3 + "/register?kind=guest", {})
        token, guest_id = guest["access_token"], guest["user_id"]
        self.assertEqual(self.whoami(token)[1].get("is_guest"), True)

        # The list: /sync yes; createRoom, joined_rooms and media uploads no.
        self.ok("GET", V3 + "/sync?timeout=0", token=token)
        for method, path, body in [
                ("POST", V3 + "/createRoom", {}),
                ("GET", V3 + "/joined_rooms", None),
                ("POST", "/_matrix/media/v3/upload", b"data"),
                ("GET", "/_matrix/client/v1/media/config", None)]:
            status, data = self.call(method, path, body, token)
            self.assertEqual((status, data.get("errcode")), (403, "M_GUEST_ACCESS_FORBIDDEN"),
                             f"{method} {path}: {data}")
        # Media downloads are on the list.
        status, upload, _ = self.server.request(
            "POST", "/_matrix/media/v3/upload", body=b"hello guest", token=carol["access_token"],
            headers={"Content-Type": "text/plain"})
        self.assertEqual(status, 200, upload)
        media = upload["content_uri"][len("mxc://"):]
        status, _, _ = self.server.request(
            "GET", "/_matrix/client/v1/media/download/" + media, token=token)
        self.assertEqual(status, 200)

        # Joins only where m.room.guest_access is can_join; leaves when it stops being so.
        closed = self.ok("POST", V3 + "/createRoom", {"preset": "public_chat"},
                         carol["access_token"])["room_id"]
        status, data = self.call("POST", f"{V3}/rooms/{closed}/join", {}, token)
        self.assertEqual((status, data.get("errcode")), (403, "M_GUEST_ACCESS_FORBIDDEN"), data)
        room = self.ok("POST", V3 + "/createRoom", {"preset": "public_chat", "initial_state": [
            {"type": "m.room.guest_access", "state_key": "",
             "content": {"guest_access": "can_join"}}]}, carol["access_token"])["room_id"]
        self.ok("POST", f"{V3}/rooms/{room}/join", {}, token)
        self.ok("PUT", f"{V3}/rooms/{room}/send/m.room.message/g1",
                {"msgtype": "m.text", "body": "hi"}, token)
        self.ok("PUT", f"{V3}/rooms/{room}/state/m.room.guest_access",
                {"guest_access": "forbidden"}, carol["access_token"])
        member = self.ok("GET", f"{V3}/rooms/{room}/state/m.room.member/{guest_id}",
                         token=carol["access_token"])
        self.assertEqual(member["membership"], "leave")

        # The upgrade keeps the user id; the account is no guest any more.
        localpart = guest_id[1:guest_id.index(":")]
        upgraded = self.ok("POST", V3 + "/register", {
            "username": localpart, "password": PASSWORD, "guest_access_token": token,
            "auth": {"type": "m.login.dummy"}})
        self.assertEqual(upgraded["user_id"], guest_id)
        self.assertEqual(self.whoami(upgraded["access_token"])[1].get("is_guest"), False)
        self.ok("GET", V3 + "/joined_rooms", token=upgraded["access_token"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
