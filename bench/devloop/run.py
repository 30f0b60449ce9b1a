#!/usr/bin/python3
"""bench/devloop: the dev loop timed from save to the new code answering (bench/README.md).

In a scratch git checkout of the working tree (tests/integration/scratch_checkout.py; under the
build directory, so objects come from ccache), builds the dev preset, starts
`build/dev/bin/conclave --watch`, and times, for each of N edits:

  api      edit the name /_conclave/server_version answers (src/api/discovery.cc), run
           `cmake --build --preset dev`; done when GET answers the new name (watch reloads api).
  service  edit the message of M_MISSING_TOKEN (src/service/protocol/errors.cc), same build; done when a
           token-less GET /account/whoami answers the new message (reloads service, api, admin).
  core     edit a string in src/core/build_info_dev.cc, same build; done when the exec-restarted
           image answers (its `listening on ... (inherited socket)` line, then GET 200).
  release  the api edit in the release path of the same checkout: `cmake --build --preset
           release --target conclave`, stop the release server, start it, first answer.

Prints per-edit seconds (save -> answer, and the build command's share) and p50/max per step.
Usage: bench/devloop/run.py [--edits N] [--release-edits N] [--dir PATH] [--keep]
"""

import argparse
import json
import os
import re
import signal
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE, "tests", "integration"))
from scratch_checkout import ScratchCheckout  # noqa: E402
from server import Server  # noqa: E402


def poll(predicate, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return time.monotonic()
        except OSError:
            pass  # restarting: connection refused is not expected, reset may be
        time.sleep(0.005)
    raise AssertionError("timed out waiting for the new code to answer")


def name_is(server, name):
    status, body = server.get("/_conclave/server_version")
    return status == 200 and json.loads(body)["name"] == name


def missing_token_says(server, text):
    status, body, _ = server.request("GET", "/_matrix/client/v3/account/whoami")
    return status == 401 and body and body.get("error") == text


# Every edit of every run writes a new text: an edit repeated from an earlier run would be a
# ccache hit and time nothing.
RUN = str(int(time.time()))


class Loop:
    def __init__(self, checkout, server):
        self.checkout = checkout
        self.server = server
        self.api_name = "conclave"
        self.service_text = "Missing access token"
        self.core_text = "unknown"

    def timed(self, edit, build, done):
        """Runs one save -> answer cycle; returns (total seconds, build seconds)."""
        t0 = time.monotonic()
        edit()
        build_seconds = build()
        t1 = poll(done)
        return t1 - t0, build_seconds

    def dev_build(self):
        return self.checkout.build()[1]

    def api(self, i):
        new = f"conclave-{RUN}-{i}"

        def edit():
            self.checkout.edit("src/api/discovery.cc", f'{{"name", "{self.api_name}"}}',
                               f'{{"name", "{new}"}}')
            self.api_name = new
        return self.timed(edit, self.dev_build, lambda: name_is(self.server, new))

    def service(self, i):
        new = f"Missing access token {RUN}-{i}"

        def edit():
            old = ('(Errcode::kMissingToken, m)' if self.service_text == "Missing access token"
                   else f'(Errcode::kMissingToken, std::string(m) + "{self.service_text[20:]}")')
            self.checkout.edit("src/service/protocol/errors.cc", old,
                               f'(Errcode::kMissingToken, std::string(m) + "{new[20:]}")')
            self.service_text = new
        return self.timed(edit, self.dev_build, lambda: missing_token_says(self.server, new))

    def core(self, i):
        new = f"unknown {RUN}-{i}"
        offset = self.server.log_size()

        def edit():
            self.checkout.edit("src/core/build_info_dev.cc", f'return "{self.core_text}";',
                               f'return "{new}";')
            self.core_text = new

        def done():
            text = self.server.log()[offset:]
            return (re.search(r"listening on .*\(inherited socket\)", text) is not None and
                    self.server.get("/_matrix/client/versions")[0] == 200)
        return self.timed(edit, self.dev_build, done)


def release_loop(checkout, edits, results, name):
    """The release path: rebuild the static binary, restart it, first answer."""
    checkout.run("cmake", "--preset", "release")
    checkout.run("cmake", "--build", "--preset", "release", "--target", "conclave")
    binary = os.path.join(checkout.path, "build", "release", "bin", "conclave")
    server = Server(binary).start(timeout=60)
    try:
        for i in range(edits):
            new = f"conclave-release-{RUN}-{i}"
            t0 = time.monotonic()
            checkout.edit("src/api/discovery.cc", f'{{"name", "{name}"}}', f'{{"name", "{new}"}}')
            name = new
            _, build_seconds, _ = checkout.run("cmake", "--build", "--preset", "release",
                                               "--target", "conclave")
            server.stop()
            server.start(timeout=60)
            t1 = poll(lambda: name_is(server, new))
            results.append((t1 - t0, build_seconds))
            print(f"release {i}: {t1 - t0:.2f} s (build {build_seconds:.2f} s)", flush=True)
    finally:
        server.cleanup()
    # Leave discovery.cc as the dev loop had it is not needed: the release loop runs last.


def summary(label, results):
    totals = sorted(r[0] for r in results)
    builds = sorted(r[1] for r in results)
    return (f"| {label} | {len(totals)} | {statistics.median(totals):.2f} | {totals[-1]:.2f} | "
            f"{statistics.median(builds):.2f} |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--edits", type=int, default=10)
    parser.add_argument("--release-edits", type=int, default=None)
    parser.add_argument("--dir", default=os.path.join(SOURCE, "build", "dev", "devloop-bench"))
    parser.add_argument("--keep", action="store_true", help="keep the scratch checkout")
    args = parser.parse_args()
    release_edits = args.edits if args.release_edits is None else args.release_edits

    checkout = ScratchCheckout(SOURCE, args.dir).create()
    checkout.configure()
    checkout.build()
    server = Server(checkout.binary(), args=["--watch"]).start(timeout=60)
    loop = Loop(checkout, server)
    results = {"api": [], "service": [], "core": [], "release": []}
    try:
        for step in ("api", "service", "core"):
            for i in range(args.edits):
                total, build_seconds = getattr(loop, step)(i)
                results[step].append((total, build_seconds))
                print(f"{step} {i}: {total:.2f} s (build {build_seconds:.2f} s)", flush=True)
        reports = re.findall(r"\[host\] (reloaded \d+ modules? \([^)]*\))", server.log())
        print("reports:", sorted(set(reports)))
        idle_before = sum_switches(server.proc.pid)
        time.sleep(5)
        idle_after = sum_switches(server.proc.pid)
        print(f"watch thread wake-ups in 5 s idle: {idle_after - idle_before}")
        server.stop(signal.SIGTERM)
    finally:
        server.cleanup()
    if release_edits > 0:
        release_loop(checkout, release_edits, results["release"], loop.api_name)

    print("\n| step | edits | save -> answer p50 (s) | max (s) | build command p50 (s) |")
    print("|---|---|---|---|---|")
    for step, label in (("api", "api edit, --watch"), ("service", "service edit, --watch"),
                        ("core", "core edit, --watch (exec restart)"),
                        ("release", "api edit, release rebuild + restart")):
        if results[step]:
            print(summary(label, results[step]))
    if results["api"] and results["release"]:
        ratio = (statistics.median(r[0] for r in results["release"]) /
                 statistics.median(r[0] for r in results["api"]))
        print(f"\nrelease / dev (api, p50): {ratio:.1f}x")
    if not args.keep:
        import shutil
        shutil.rmtree(checkout.path, ignore_errors=True)


def sum_switches(pid):
    """Voluntary context switches of the process's `watch` thread."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            if f.read().strip() != "watch":
                continue
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            for line in f:
                if line.startswith("voluntary_ctxt_switches"):
                    return int(line.split()[1])
    raise AssertionError("no watch thread")


if __name__ == "__main__":
    main()
