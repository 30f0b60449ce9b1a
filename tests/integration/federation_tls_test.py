"""The federation (TLS) listener against the real binary, with Python's ssl client trusting the
test's self-signed ed25519 certificate (docs/configuration.md, tls_*; docs/hot-reload.md, "Exec
restart"):

- GET /_matrix/federation/v1/version and /_matrix/key/v2/server over TLS, several requests on
  one keep-alive connection; the certificate is verified for 127.0.0.1;
- an exec restart (SIGUSR2) while clients keep sending over TLS: the listening socket is passed
  on (same port), every request succeeds (a request on a keep-alive connection the old image
  closed is retried once on a new connection, as HTTP clients do; new connections are never
  refused);
- in dev, a hot reload of api keeps the TLS connection open and the next request on it is
  answered by the new code;
- SIGHUP re-reads the certificate: new connections get the new one;
- a missing certificate, a key that does not match, or a certificate without a key: a clear
  start error, exit status 2 (and from --check-config, so an exec restart into it is refused
  and the running image keeps serving TLS);
- no certificate configured: no TLS listener, and the log says so.

Usage: federation_tls_test.py BUILD_DIR
"""

import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from server import FEDERATION_LISTENING, ModuleDir, Server, make_certificate  # noqa: E402

BUILD = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else "build/dev")
BINARY = os.path.join(BUILD, "bin", "conclave")
DEV = os.path.exists(os.path.join(BUILD, "lib", "libconclave_core.so"))
API_VARIANT = os.path.join(BUILD, "variants", "api", "libconclave_api.so")

# What a closed keep-alive connection looks like to http.client over TLS.
CLOSED = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
          ssl.SSLEOFError, ssl.SSLZeroReturnError, http.client.CannotSendRequest)


def tls_context(cafile):
    context = ssl.create_default_context(cafile=cafile)
    context.check_hostname = True
    return context


class TlsClient:
    """One keep-alive HTTPS connection; `get` retries once on a new connection when a reused one
    turns out closed by the server (never for a fresh connection)."""

    def __init__(self, port, cafile):
        self.port = port
        self.context = tls_context(cafile)
        self.conn = None
        self.reused = False
        self.retries = 0

    def connect(self):
        self.conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context,
                                                timeout=30)
        self.conn.connect()
        self.reused = False

    def get(self, path):
        for attempt in (1, 2):
            if self.conn is None:
                self.connect()
            try:
                self.conn.request("GET", path)
                resp = self.conn.getresponse()
                body = resp.read()
                headers = {k.lower(): v for k, v in resp.getheaders()}
                if headers.get("connection", "").lower() == "close":
                    self.close()
                else:
                    self.reused = True
                return resp.status, body, headers
            except ssl.SSLCertVerificationError:
                self.close()
                raise
            except CLOSED:
                was_reused = self.reused
                self.close()
                if attempt == 2 or not was_reused:
                    raise
                self.retries += 1
        raise AssertionError("unreachable")

    def close(self):
        if self.conn is not None:
            self.conn.close()
        self.conn = None


class Steady(threading.Thread):
    """Sends GET /_matrix/federation/v1/version over TLS until stopped: on one keep-alive
    connection (`keep_alive`) or on a new connection each time. Collects every failure."""

    def __init__(self, port, cafile, keep_alive):
        super().__init__(daemon=True)
        self.client = TlsClient(port, cafile)
        self.keep_alive = keep_alive
        self.stop_flag = threading.Event()
        self.ok = 0
        self.errors = []

    def run(self):
        while not self.stop_flag.is_set():
            try:
                status, body, _ = self.client.get("/_matrix/federation/v1/version")
                if status == 200 and json.loads(body)["server"]["name"] == "conclave":
                    self.ok += 1
                else:
                    self.errors.append(f"{status} {body[:200]!r}")
            except Exception as e:  # noqa: BLE001 - every failure counts, refusals too
                self.errors.append(repr(e))
                self.client.close()
            if not self.keep_alive:
                self.client.close()
            time.sleep(0.005)

    def finish(self):
        self.stop_flag.set()
        self.join(30)
        self.client.close()


class FederationTlsTest(unittest.TestCase):
    def setUp(self):
        self.certs = tempfile.mkdtemp(prefix="conclave-tls-")
        self.cert, self.key = make_certificate(self.certs)
        self.server = Server(BINARY, env={
            "CONCLAVE_FEDERATION_PORT": "0",
            "CONCLAVE_TLS_CERTIFICATE_PATH": self.cert,
            "CONCLAVE_TLS_PRIVATE_KEY_PATH": self.key,
        })
        if DEV and os.path.exists(API_VARIANT):
            self.modules = ModuleDir(self.server, BUILD)
        else:
            self.modules = None
        self.server.start()
        self.assertIsNotNone(self.server.federation_port)
        self.assertNotEqual(self.server.federation_port, self.server.port)

    def tearDown(self):
        self.server.cleanup()
        shutil.rmtree(self.certs, ignore_errors=True)

    def test_version_and_keys_over_tls_with_keep_alive(self):
        client = TlsClient(self.server.federation_port, self.cert)
        client.connect()
        sock = client.conn.sock
        self.assertEqual(sock.version() in ("TLSv1.2", "TLSv1.3"), True, sock.version())
        for _ in range(3):
            status, body, headers = client.get("/_matrix/federation/v1/version")
            self.assertEqual(status, 200)
            self.assertEqual(json.loads(body)["server"]["name"], "conclave")
            self.assertNotEqual(headers.get("connection", "").lower(), "close")
            status, body, _ = client.get("/_matrix/key/v2/server")
            self.assertEqual(status, 200)
            keys = json.loads(body)
            self.assertEqual(keys["server_name"], "localhost")
            self.assertTrue(keys["verify_keys"])
        self.assertIs(client.conn.sock, sock)  # one connection for all six
        self.assertEqual(client.retries, 0)
        client.close()
        # The Client-Server API shares the listener.
        shared = TlsClient(self.server.federation_port, self.cert)
        self.assertEqual(shared.get("/_matrix/client/versions")[0], 200)
        shared.close()
        # Plain HTTP on the TLS port gets no HTTP answer.
        plain = http.client.HTTPConnection("127.0.0.1", self.server.federation_port, timeout=10)
        with self.assertRaises((http.client.HTTPException, ConnectionError, OSError)):
            plain.request("GET", "/_matrix/federation/v1/version")
            plain.getresponse()
        plain.close()
        # A client that does not trust the certificate is refused by its own check.
        with self.assertRaises(ssl.SSLCertVerificationError):
            http.client.HTTPSConnection("127.0.0.1", self.server.federation_port,
                                        context=ssl.create_default_context(),
                                        timeout=10).connect()

    def test_exec_restart_keeps_serving_tls(self):
        port = self.server.federation_port
        idle = TlsClient(port, self.cert)
        self.assertEqual(idle.get("/_matrix/federation/v1/version")[0], 200)
        kept = Steady(port, self.cert, keep_alive=True)
        fresh = Steady(port, self.cert, keep_alive=False)
        kept.start()
        fresh.start()
        time.sleep(0.3)
        offset = self.server.log_size()
        self.server.send(signal.SIGUSR2)
        self.server.wait_for_log(r"listening on .*\(inherited socket\)", 60, after=offset)
        line = self.server.wait_for_log(FEDERATION_LISTENING, 30, after=offset)
        time.sleep(0.5)
        kept.finish()
        fresh.finish()
        self.assertEqual(kept.errors, [])
        self.assertEqual(fresh.errors, [])
        self.assertGreater(kept.ok, 10)
        self.assertGreater(fresh.ok, 10)
        self.assertEqual(int(line.split(":")[-1].split()[0]), port)  # the same socket
        # The idle keep-alive connection was closed by the old image: one retry, then served.
        status, _, _ = idle.get("/_matrix/federation/v1/version")
        self.assertEqual(status, 200)
        self.assertEqual(idle.retries, 1)
        idle.close()
        log = self.server.log()[offset:]
        self.assertNotIn("closing the inherited federation socket", log)

    def test_restart_refused_while_the_key_is_broken(self):
        with open(self.key, "w") as f:
            f.write("not a key\n")
        offset = self.server.log_size()
        self.server.send(signal.SIGUSR2)
        line = self.server.wait_for_log(r"restart refused", 60, after=offset)
        self.assertIn("tls_private_key_path", self.server.log()[offset:])
        self.assertIsNone(self.server.proc.poll(), line)
        # Still serving TLS with the certificate loaded at start.
        client = TlsClient(self.server.federation_port, self.cert)
        self.assertEqual(client.get("/_matrix/federation/v1/version")[0], 200)
        client.close()

    @unittest.skipUnless(DEV and os.path.exists(API_VARIANT), "hot reload: dev build with variants")
    def test_module_reload_keeps_the_tls_connection(self):
        client = TlsClient(self.server.federation_port, self.cert)
        status, body, _ = client.get("/_conclave/server_version")
        self.assertEqual(status, 200)
        self.assertNotIn(b"variant", body)
        sock = client.conn.sock
        self.modules.install_variant("api")
        line = self.modules.reload()
        self.assertIn("reloaded 1 module (api)", line)
        status, body, _ = client.get("/_conclave/server_version")
        self.assertEqual(status, 200)
        self.assertIn(b'"variant":"b"', body)
        self.assertIs(client.conn.sock, sock)
        self.assertEqual(client.retries, 0)
        client.close()

    def test_sighup_reloads_the_certificate(self):
        old_ca = os.path.join(self.certs, "old.pem")
        shutil.copyfile(self.cert, old_ca)
        before = TlsClient(self.server.federation_port, old_ca)
        self.assertEqual(before.get("/_matrix/federation/v1/version")[0], 200)
        newdir = tempfile.mkdtemp(dir=self.certs)
        new_cert, new_key = make_certificate(newdir)
        shutil.copyfile(new_cert, self.cert)
        shutil.copyfile(new_key, self.key)
        offset = self.server.log_size()
        self.server.send(signal.SIGHUP)
        self.server.wait_for_log(r"TLS certificate reloaded", 30, after=offset)
        with self.assertRaises(ssl.SSLCertVerificationError):
            TlsClient(self.server.federation_port, old_ca).get("/_matrix/federation/v1/version")
        after = TlsClient(self.server.federation_port, new_cert)
        self.assertEqual(after.get("/_matrix/federation/v1/version")[0], 200)
        after.close()
        # An open connection keeps its session.
        self.assertEqual(before.get("/_matrix/federation/v1/version")[0], 200)
        self.assertEqual(before.retries, 0)
        before.close()


class FederationTlsConfigTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="conclave-tls-config-")
        self.cert, self.key = make_certificate(self.dir)
        other = os.path.join(self.dir, "other")
        os.makedirs(other)
        self.other_cert, self.other_key = make_certificate(other)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def run_binary(self, cert, key, *args):
        env = dict(os.environ)
        env.update({
            "CONCLAVE_PORT": "0",
            "CONCLAVE_FEDERATION_PORT": "0",
            "CONCLAVE_DATABASE_PATH": os.path.join(self.dir, "data"),
            "CONCLAVE_RUNTIME_DIR": os.path.join(self.dir, "run"),
            "CONCLAVE_TLS_CERTIFICATE_PATH": cert,
            "CONCLAVE_TLS_PRIVATE_KEY_PATH": key,
        })
        return subprocess.run([BINARY, *args], env=env, cwd=self.dir, capture_output=True,
                              text=True, timeout=60, stdin=subprocess.DEVNULL)

    def test_bad_certificate_or_key_is_a_start_error(self):
        missing = os.path.join(self.dir, "missing.pem")
        cases = [
            (missing, self.key, "tls_certificate_path: cannot read '" + missing),
            (self.cert, self.other_key, "does not match the certificate"),
            (self.cert, "", "tls_private_key_path"),
        ]
        for cert, key, expected in cases:
            for args in ((), ("--check-config",)):
                result = self.run_binary(cert, key, *args)
                self.assertEqual(result.returncode, 2, (args, result.stderr))
                self.assertIn(expected, result.stderr, args)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "data")))  # nothing was started
        self.assertEqual(self.run_binary(self.cert, self.key, "--check-config").returncode, 0)

    def test_no_certificate_no_tls_listener(self):
        server = Server(BINARY)
        try:
            server.start()
            server.wait_for_log(r"no federation \(TLS\) listener: tls_certificate_path is empty")
            self.assertIsNone(server.federation_port)
            self.assertNotRegex(server.log(), FEDERATION_LISTENING)
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
