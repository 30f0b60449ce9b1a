#!/usr/bin/env python3
"""Fails when docs/admin-commands.md differs from what `conclave --print-admin-commands` prints.

Usage: commands_doc_test.py BINARY DOC [--update]

With --update it rewrites DOC instead. The binary runs in an empty temporary directory (so no
./conclave.toml applies) with its own runtime directory; it starts its modules over a throwaway
database of its own.
"""
import difflib
import os
import subprocess
import sys
import tempfile


def main():
    args = [a for a in sys.argv[1:] if a != "--update"]
    update = "--update" in sys.argv[1:]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    binary, doc = os.path.abspath(args[0]), os.path.abspath(args[1])
    with tempfile.TemporaryDirectory(prefix="conclave-doc-test-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONCLAVE_")}
        env["CONCLAVE_RUNTIME_DIR"] = os.path.join(tmp, "run")
        result = subprocess.run([binary, "--print-admin-commands"], cwd=tmp, env=env,
                                capture_output=True, text=True, timeout=100)
    if result.returncode != 0:
        print(f"{binary} --print-admin-commands exited with {result.returncode}:\n"
              f"{result.stderr}", file=sys.stderr)
        return 1
    printed = result.stdout
    if update:
        with open(doc, "w", encoding="utf-8") as f:
            f.write(printed)
        print(f"wrote {doc}")
        return 0
    with open(doc, encoding="utf-8") as f:
        committed = f.read()
    if printed == committed:
        print(f"{doc} matches the command tree")
        return 0
    diff = difflib.unified_diff(committed.splitlines(keepends=True),
                                printed.splitlines(keepends=True),
                                fromfile=f"{doc} (committed)",
                                tofile=f"{binary} --print-admin-commands")
    sys.stdout.writelines(diff)
    print(f"\n{doc} is out of date; regenerate it with\n"
          f"  {sys.argv[0]} {binary} {doc} --update", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
