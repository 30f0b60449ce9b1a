#!/usr/bin/python3
"""Media repository benchmark (bench/README.md, "bench/media").

  /usr/bin/python3 bench/media/run.py [build_dir]     # build_dir defaults to build/release

1. Download throughput (MiB/s) of a 1 MiB and a 50 MiB file from conclave's authenticated
   download endpoint and from nginx (Debian's nginx-light) serving the same file from disk,
   measured with wrk (WRK_CONNECTIONS keep-alive connections, one wrk thread each, WRK_SECONDS
   per run), alternated ROUNDS times, best run each; goal: conclave >= 0.8x nginx.
2. Upload throughput (MiB/s) of the same files (POST /_matrix/media/v3/upload).
3. Peak RSS of the server while PARALLEL (10) clients upload 50 MiB each at once, against its RSS
   before: uploads stream to disk, so the growth should stay far below 10 x 50 MiB.
4. Thumbnail latency of a 4000x3000 JPEG (made with the `vips` command of Debian's
   libvips-tools): the first request (libvips decodes, scales, encodes and caches it) for
   THUMBS (10) fresh uploads of distinct images, p50 and max, and the p50 of cached requests.
Knobs (environment): ROUNDS=3 PARALLEL=10 THUMBS=10 WRK_CONNECTIONS=2 WRK_SECONDS=3
  NGINX=/usr/sbin/nginx VIPS=/usr/bin/vips WRK=/usr/bin/wrk.
"""

import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROUNDS = int(os.environ.get("ROUNDS", "3"))
PARALLEL = int(os.environ.get("PARALLEL", "10"))
NGINX = os.environ.get("NGINX", "/usr/sbin/nginx")
THUMBS = int(os.environ.get("THUMBS", "10"))
WRK = os.environ.get("WRK", "/usr/bin/wrk")
WRK_CONNECTIONS = int(os.environ.get("WRK_CONNECTIONS", "2"))
WRK_SECONDS = int(os.environ.get("WRK_SECONDS", "3"))
VIPS = os.environ.get("VIPS", "/usr/bin/vips")
MIB = 1 << 20


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def get(port, path, headers):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("GET", path, headers=headers)
    resp = conn.getresponse()
    n = 0
    while True:
        chunk = resp.read(1 << 20)
        if not chunk:
            break
        n += len(chunk)
    conn.close()
    assert resp.status == 200, resp.status
    return n


def post(port, path, data, token):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    conn.request("POST", path, body=data, headers={"Authorization": f"Bearer {token}",
                                                    "Content-Type": "application/octet-stream"})
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    assert resp.status == 200, (resp.status, body)
    return json.loads(body)


def wrk_rate(url, headers):
    """MiB/s that wrk reads from `url` over WRK_CONNECTIONS keep-alive connections."""
    out = subprocess.run([WRK, "-t", str(WRK_CONNECTIONS), "-c", str(WRK_CONNECTIONS), "-d",
                          f"{WRK_SECONDS}s", *headers, url], check=True, capture_output=True,
                         text=True).stdout
    assert "Non-2xx" not in out, out
    value, unit = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out).groups()
    return float(value) * {"KB": 1 / 1024, "MB": 1, "GB": 1024}[unit]


def median(values):
    values = sorted(values)
    return values[len(values) // 2]


def thumbnails(port, token, work):
    """Uploads THUMBS distinct 4000x3000 JPEGs and times a 320x240 scale thumbnail of each."""
    first, cached = [], []
    auth = {"Authorization": f"Bearer {token}"}
    for i in range(THUMBS):
        path = f"{work}/photo{i}.jpg"
        # Noise with a per-image offset: a photo-like JPEG (about 5 MB) that no two uploads share.
        subprocess.run([VIPS, "gaussnoise", f"{work}/noise.v", "4000", "3000", "--mean",
                        str(100 + i), "--sigma", "40"], check=True)
        subprocess.run([VIPS, "jpegsave", f"{work}/noise.v", path, "--Q", "85"], check=True)
        data = open(path, "rb").read()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        conn.request("POST", "/_matrix/media/v3/upload", body=data,
                     headers=dict(auth, **{"Content-Type": "image/jpeg"}))
        media_id = json.loads(conn.getresponse().read())["content_uri"].rsplit("/", 1)[1]
        conn.close()
        url = (f"/_matrix/client/v1/media/thumbnail/localhost/{media_id}"
               "?width=320&height=240&method=scale")
        for samples in (first, cached, cached):
            start = time.monotonic()
            get(port, url, auth)
            samples.append(time.monotonic() - start)
    print(f"thumbnail 4000x3000 JPEG -> 320x240: first p50 {median(first) * 1000:.0f} ms, max "
          f"{max(first) * 1000:.0f} ms ({THUMBS} images); cached p50 "
          f"{median(cached) * 1000:.1f} ms")


def rate(size, seconds):
    return size / MIB / seconds


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/release")
    work = tempfile.mkdtemp(prefix="conclave-bench-media-")
    env = dict(os.environ, CONCLAVE_PORT="0", CONCLAVE_DATABASE_PATH=f"{work}/data",
               CONCLAVE_RUNTIME_DIR=f"{work}/run", CONCLAVE_ACCESS_LOG="false",
               CONCLAVE_MAX_UPLOAD_SIZE=str(64 * MIB))
    log = open(f"{work}/server.log", "wb")
    server = subprocess.Popen([f"{build}/bin/conclave"], cwd=work, env=env, stderr=log,
                              stdout=subprocess.DEVNULL)
    nginx = None
    try:
        port = None
        for _ in range(300):
            m = re.search(r"listening on http://[^:]+:(\d+)", open(f"{work}/server.log").read())
            if m:
                port = int(m.group(1))
                break
            time.sleep(0.1)
        assert port, open(f"{work}/server.log").read()
        conn = http.client.HTTPConnection("127.0.0.1", port)
        conn.request("POST", "/_matrix/client/v3/register", json.dumps(
            {"username": "bench", "password": "bench password", "auth": {"type": "m.login.dummy"}}))
        token = json.loads(conn.getresponse().read())["access_token"]
        os.makedirs(f"{work}/www")
        os.chmod(work, 0o755)  # nginx's workers run as another user when started by root
        files = {}
        for name, size in (("1MiB", MIB), ("50MiB", 50 * MIB)):
            data = os.urandom(size)
            with open(f"{work}/www/{name}", "wb") as f:
                f.write(data)
            start = time.monotonic()
            media_id = post(port, "/_matrix/media/v3/upload", data, token)["content_uri"].rsplit(
                "/", 1)[1]
            print(f"upload {name}: {rate(size, time.monotonic() - start):.0f} MiB/s")
            files[name] = (size, media_id)
        with open(f"{work}/nginx.conf", "w") as f:
            f.write(f"daemon off; worker_processes 2; pid {work}/nginx.pid; error_log {work}/nginx.err;"
                    f" events {{}} http {{ access_log off; sendfile on; server {{ listen 127.0.0.1:0;"
                    f" root {work}/www; }} }}")
        # nginx cannot listen on port 0: pick a free one.
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        nginx_port = s.getsockname()[1]
        s.close()
        conf = open(f"{work}/nginx.conf").read().replace("127.0.0.1:0", f"127.0.0.1:{nginx_port}")
        open(f"{work}/nginx.conf", "w").write(conf)
        nginx = subprocess.Popen([NGINX, "-c", f"{work}/nginx.conf", "-p", work])
        time.sleep(0.5)
        for name, (size, media_id) in files.items():
            results = {"nginx": [], "conclave": []}
            for _ in range(ROUNDS):
                for who in ("nginx", "conclave"):
                    if who == "nginx":
                        url, headers = f"http://127.0.0.1:{nginx_port}/{name}", []
                    else:
                        url = (f"http://127.0.0.1:{port}/_matrix/client/v1/media/download/"
                               f"localhost/{media_id}")
                        headers = ["-H", f"Authorization: Bearer {token}"]
                    results[who].append(wrk_rate(url, headers))
            best = {who: max(r) for who, r in results.items()}
            print(f"download {name}: conclave {best['conclave']:.0f} MiB/s, nginx "
                  f"{best['nginx']:.0f} MiB/s, ratio {best['conclave'] / best['nginx']:.2f} "
                  f"(wrk, {WRK_CONNECTIONS} connections, best of {ROUNDS} x {WRK_SECONDS} s)")
        thumbnails(port, token, work)
        data = os.urandom(50 * MIB)
        before = rss_kib(server.pid)
        peak = [before]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], rss_kib(server.pid))
                time.sleep(0.01)
        sampler = threading.Thread(target=sample)
        sampler.start()
        uploads = [threading.Thread(target=post, args=(port, "/_matrix/media/v3/upload", data, token))
                   for _ in range(PARALLEL)]
        start = time.monotonic()
        for t in uploads:
            t.start()
        for t in uploads:
            t.join()
        elapsed = time.monotonic() - start
        done.set()
        sampler.join()
        print(f"{PARALLEL} parallel 50 MiB uploads: {elapsed:.1f} s, RSS {before // 1024} MiB "
              f"before, peak {peak[0] // 1024} MiB (+{(peak[0] - before) // 1024} MiB)")
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait()
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
