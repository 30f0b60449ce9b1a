"""Starts and drives a real conclave process for the integration tests (stdlib only)."""

import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time


# The federation (TLS) listener's start line; its port is the group.
FEDERATION_LISTENING = r"federation listening on https://\[?[^\]/]+\]?:(\d+)"


def make_certificate(directory, name="127.0.0.1"):
    """Writes a self-signed ed25519 certificate for `name` (an IP address or a DNS name) and its
    key into `directory` with the openssl command; returns (certificate path, key path). The
    certificate is its own CA: trust it with ssl.create_default_context(cafile=certificate)."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    san = f"IP:{name}" if re.fullmatch(r"[0-9.]+", name) or ":" in name else f"DNS:{name}"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ed25519", "-nodes", "-days", "30",
                    "-subj", f"/CN={name}", "-addext", f"subjectAltName={san}",
                    "-keyout", key, "-out", cert],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


class Server:
    """One conclave process on a free loopback port with its own database and runtime dir."""

    def __init__(self, binary, workdir=None, env=None, args=()):
        self.binary = binary
        self.workdir = workdir or tempfile.mkdtemp(prefix="conclave-it-")
        self.log_path = os.path.join(self.workdir, "server.log")
        self.env = dict(os.environ)
        self.env.update({
            "CONCLAVE_PORT": "0",
            "CONCLAVE_DATABASE_PATH": os.path.join(self.workdir, "data"),
            "CONCLAVE_RUNTIME_DIR": os.path.join(self.workdir, "run"),
            "CONCLAVE_RELOAD_DRAIN_TIMEOUT": "5s",
        })
        self.env.update(env or {})
        self.args = list(args)
        self.proc = None
        self.port = None
        self.federation_port = None  # the TLS listener's, when a certificate is configured

    def start(self, timeout=30):
        """Starts the process; may be called again after stop() (same data dir, new port)."""
        offset = self.log_size() if os.path.exists(self.log_path) else 0
        if getattr(self, "log_file", None) is not None:
            self.log_file.close()
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.binary, *self.args], cwd=self.workdir, env=self.env,
                                     stdout=subprocess.PIPE, stderr=self.log_file)
        line = self.wait_for_log(r"listening on http://[^:]+:(\d+)", timeout, after=offset)
        self.port = int(re.search(r"listening on http://[^:]+:(\d+)", line).group(1))
        if self.env.get("CONCLAVE_TLS_CERTIFICATE_PATH"):
            line = self.wait_for_log(FEDERATION_LISTENING, timeout, after=offset)
            self.federation_port = int(re.search(FEDERATION_LISTENING, line).group(1))
        return self

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"

    @property
    def federation_url(self):
        """The TLS listener's base URL (None without a certificate configured)."""
        if self.federation_port is None:
            return None
        return f"https://{self.federation_host}:{self.federation_port}"

    @property
    def host(self):
        """The main listener's address (CONCLAVE_ADDRESS, 127.0.0.1 by default)."""
        return self.env.get("CONCLAVE_ADDRESS", "127.0.0.1")

    @property
    def federation_host(self):
        """The TLS listener's address (CONCLAVE_FEDERATION_ADDRESS, else `host`)."""
        return self.env.get("CONCLAVE_FEDERATION_ADDRESS") or self.host

    def log(self):
        with open(self.log_path, "r", errors="replace") as f:
            return f.read()

    def wait_for_log(self, pattern, timeout=30, after=0):
        """Returns the first log line after byte offset `after` matching `pattern`."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            text = self.log()[after:]
            for line in text.splitlines():
                if re.search(pattern, line):
                    return line
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited ({self.proc.returncode}):\n{self.log()}")
            time.sleep(0.02)
        raise AssertionError(f"no log line matching {pattern!r} within {timeout}s:\n{self.log()}")

    def log_size(self):
        return len(self.log())

    def get(self, path):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read().decode()
        finally:
            conn.close()

    def request(self, method, path, body=None, token=None, headers=None, timeout=30):
        """One request on a new connection. `body`: bytes/str sent as is, anything else as JSON.
        Returns (status, parsed JSON body or None if it is not JSON, response headers)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            all_headers = dict(headers or {})
            if body is not None and not isinstance(body, (bytes, str)):
                body = json.dumps(body)
                all_headers.setdefault("Content-Type", "application/json")
            if token is not None:
                all_headers["Authorization"] = f"Bearer {token}"
            conn.request(method, path, body=body, headers=all_headers)
            resp = conn.getresponse()
            data = resp.read()
            try:
                parsed = json.loads(data) if data else None
            except ValueError:
                parsed = None
            return resp.status, parsed, dict(resp.getheaders())
        finally:
            conn.close()

    def send(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"server did not stop within {timeout}s:\n{self.log()}")

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        if getattr(self, "log_file", None) is not None:
            self.log_file.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


def install_atomically(source, destination):
    """Writes `destination` the way a linker does: a new file renamed over the old one."""
    tmp = destination + ".tmp"
    shutil.copyfile(source, tmp)
    os.chmod(tmp, 0o755)
    os.replace(tmp, destination)


class ModuleDir:
    """A private CONCLAVE_MODULE_DIR for a dev-build server: the build's modules copied there, so
    a test can install another build of one module and trigger a reload."""

    MODULES = ("database", "service", "api", "media", "federation", "admin")

    def __init__(self, server, build_dir):
        self.server = server
        self.build_dir = build_dir
        self.path = os.path.join(server.workdir, "modules")
        os.makedirs(self.path, exist_ok=True)
        for m in self.MODULES:
            shutil.copyfile(os.path.join(build_dir, "lib", f"libconclave_{m}.so"),
                            os.path.join(self.path, f"libconclave_{m}.so"))
        server.env["CONCLAVE_MODULE_DIR"] = self.path

    def install_variant(self, module):
        """Installs build_dir/variants/<module>/libconclave_<module>.so (another build id)."""
        install_atomically(
            os.path.join(self.build_dir, "variants", module, f"libconclave_{module}.so"),
            os.path.join(self.path, f"libconclave_{module}.so"))

    def reload(self, sig=signal.SIGUSR1, timeout=60):
        """Signals a reload and returns the host's report line."""
        offset = self.server.log_size()
        self.server.send(sig)
        return self.server.wait_for_log(r"\[host\] (reloaded|nothing|not |reload)", timeout,
                                        after=offset)


def nio_config():
    """The matrix-nio client configuration the unencrypted tests share: no E2EE, no stored sync
    tokens, no client-side retries (a retry would hide an error the test asserts), 60 s requests.
    nio is imported here so that tests without it can still import this module."""
    import nio
    return nio.AsyncClientConfig(encryption_enabled=False, store_sync_tokens=False,
                                 max_limit_exceeded=0, max_timeouts=0, request_timeout=60)


def run_clients(server, clients, scenario, log_lines=40):
    """Runs the coroutine function `scenario` on a fresh asyncio loop; on any failure prints the
    last `log_lines` lines of `server`'s log, and in every case closes the nio `clients` (a list
    the scenario may still append to) before the loop ends."""
    import asyncio
    import sys

    async def run():
        try:
            await scenario()
        except BaseException:
            print(f"\nserver log (last {log_lines} lines):\n" +
                  "\n".join(server.log().splitlines()[-log_lines:]), file=sys.stderr)
            raise
        finally:
            for c in clients:
                await c.close()
    asyncio.run(run())
