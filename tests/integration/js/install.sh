#!/usr/bin/env bash
# Installs this directory's npm packages (matrix-js-sdk, its Rust crypto, and Node 22 from npm's
# `node` package; versions pinned by package-lock.json) from the npm registry into a cache
# directory named by the hash of package.json and package-lock.json, and prints that directory.
# Idempotent and safe to run concurrently: a finished install is reused, a new one is built in a
# temporary directory and renamed into place. The system's node (Debian's or nodesource's) only
# runs npm; the test runs on the Node the packages bring (matrix-js-sdk 43 needs Node >= 22).
# Cache root: $CONCLAVE_JS_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/conclave/jssdk.
# Called by .ci/run and by tests/integration/jssdk_test.py. Needs npm and the npm registry.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${CONCLAVE_JS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/conclave/jssdk}"
key="$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -c1-16)"
dest="$cache/$key"
if [ ! -x "$dest/node_modules/.bin/node" ]; then
  command -v npm > /dev/null || { echo "install.sh: npm not found" >&2; exit 1; }
  mkdir -p "$cache"
  tmp="$(mktemp -d "$cache/.install.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  cp "$here/package.json" "$here/package-lock.json" "$tmp/"
  # --engine-strict=false: npm itself runs on the system's older node, which the engines fields
  # of the packages (made for the Node 22 they run on) would refuse.
  (cd "$tmp" && npm ci --no-audit --no-fund --loglevel=error --engine-strict=false) >&2
  version="$("$tmp/node_modules/.bin/node" --version)"
  case "$version" in
    v22.*) ;;
    *) echo "install.sh: node_modules/.bin/node is $version, not 22 (did npm skip the node" \
            "package's install script?)" >&2; exit 1 ;;
  esac
  # Another install may have finished first: keep that one.
  mv -T "$tmp" "$dest" 2> /dev/null || true
fi
echo "$dest"
