"""A scratch git checkout of the source tree with its own dev build, for the dev-loop tests and
bench/devloop (stdlib only).

The checkout holds the working tree's tracked and untracked-but-not-ignored files (so it tests
the code as it is, committed or not) in a fresh git repository with one commit. It lives under
the build directory: inside ccache's base_dir, so its objects come from the cache.
"""

import os
import shutil
import subprocess
import time


def build_id(path):
    """The GNU build id of the ELF file at `path` (hex), read from its .note.gnu.build-id."""
    out = subprocess.run(["readelf", "-n", path], capture_output=True, text=True,
                         errors="replace", check=True).stdout
    return out.split("Build ID:")[1].split()[0]


class ScratchCheckout:
    def __init__(self, source_dir, path):
        self.source_dir = os.path.abspath(source_dir)
        self.path = os.path.abspath(path)
        self.build_dir = os.path.join(self.path, "build", "dev")

    def create(self):
        """Copies the working tree to `path` and commits it there."""
        shutil.rmtree(self.path, ignore_errors=True)
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=self.source_dir, capture_output=True, check=True).stdout
        for rel in listed.decode().split("\0"):
            src = os.path.join(self.source_dir, rel)
            if not rel or not os.path.isfile(src):
                continue  # deleted but still in the index
            dst = os.path.join(self.path, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy2(src, dst)
        self.git("init", "-q")
        self.git("add", "-A")
        self.commit("scratch checkout")
        return self

    def git(self, *args):
        env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.org",
                   GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.org")
        return subprocess.run(["git", *args], cwd=self.path, env=env, capture_output=True,
                              text=True, check=True).stdout

    def commit(self, message):
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)

    def head(self):
        return self.git("rev-parse", "--short=12", "HEAD").strip()

    def run(self, *cmd, check=True):
        """Runs `cmd` in the checkout; returns (exit status, seconds, output)."""
        start = time.monotonic()
        proc = subprocess.run(list(cmd), cwd=self.path, capture_output=True, text=True,
                              errors="replace")
        elapsed = time.monotonic() - start
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n"
                                 f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
        return proc.returncode, elapsed, proc.stdout + proc.stderr

    def configure(self):
        return self.run("cmake", "--preset", "dev")

    def build(self, check=True):
        """The dev loop's documented build command (README.md, "The dev loop")."""
        return self.run("cmake", "--build", "--preset", "dev", check=check)

    def edit(self, rel, old, new):
        """Replaces the one occurrence of `old` in file `rel` by `new`, like a save in an editor."""
        path = os.path.join(self.path, rel)
        with open(path) as f:
            text = f.read()
        if text.count(old) != 1:
            raise AssertionError(f"{rel}: {old!r} occurs {text.count(old)} times")
        with open(path, "w") as f:
            f.write(text.replace(old, new))

    def binary(self):
        return os.path.join(self.build_dir, "bin", "conclave")

    def lib(self, name):
        return os.path.join(self.build_dir, "lib", f"libconclave_{name}.so")

    def build_ids(self):
        """Build ids of the executable, core and every module, by name ("main", "core", ...)."""
        ids = {"main": build_id(self.binary())}
        for name in ("core", "database", "service", "api", "media", "federation", "admin"):
            ids[name] = build_id(self.lib(name))
        return ids
