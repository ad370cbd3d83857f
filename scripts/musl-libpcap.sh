#!/usr/bin/env bash
# Builds libpcap for musl from Debian's libpcap source package (deb-src, via
# scripts/debian-apt.sh) with Zig's musl toolchain, once, into
# ~/.cache/wirecap/libpcap-musl-<arch>/libpcap.so.1, and prints that folder.
# For the tests that run the musl prebuilds (no musl libpcap exists in Debian
# or npm); never shipped.   scripts/musl-libpcap.sh x86_64|aarch64
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
arch=$1
cache="${WIRECAP_CACHE:-$HOME/.cache/wirecap}"
out="$cache/libpcap-musl-$arch"
if [ ! -f "$out/libpcap.so.1" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && bash "$root/scripts/debian-apt.sh" source --download-only libpcap >&2 && dpkg-source -x --skip-patches ./*.dsc src >/dev/null)
  zig="$work/zig-cc"
  printf '#!/bin/sh\nexec bash %q cc -target %s-linux-musl "$@"\n' "$root/scripts/zig.sh" "$arch" > "$zig"
  chmod +x "$zig"
  # Capture on Linux sockets only: no D-Bus, RDMA, Bluetooth, USB or netlink.
  (cd "$work/src" && CC="$zig" AR="bash $root/scripts/zig.sh ar" CFLAGS=-O2 ./configure --host="$arch-linux-musl" --disable-dbus --disable-rdma \
    --disable-bluetooth --disable-usb --disable-netmap --without-libnl --without-dpdk --disable-universal >&2 && make -j"$(nproc)" shared >&2)
  mkdir -p "$out"
  cp "$work/src/libpcap.so."*.*.* "$out/libpcap.so.1"
fi
echo "$out"
