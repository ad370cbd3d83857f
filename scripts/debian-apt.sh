#!/usr/bin/env bash
# apt-get over a private list of Debian sources, kept in ~/.cache/wirecap/apt
# and refreshed once a day, for what the tests fetch but never install: the
# armhf and arm64 kernels, busybox and libraries of the VMs, bullseye's older
# glibc, and libpcap's source package (deb-src). The system's apt setup is
# left as it is.   scripts/debian-apt.sh download|source --download-only ...
set -euo pipefail
dir="${WIRECAP_CACHE:-$HOME/.cache/wirecap}/apt"
mkdir -p "$dir/lists/partial" "$dir/archives/partial"
# One apt-get at a time over this cache (the VM suites run side by side):
# the lock is held until the apt-get exec'd below ends.
exec 9>"$dir/lock"
flock 9
cat > "$dir/sources.list.new" <<'LIST'
deb [arch=amd64,armhf,arm64] http://deb.debian.org/debian bookworm main
deb [arch=amd64,armhf,arm64] http://deb.debian.org/debian bullseye main
deb-src http://deb.debian.org/debian bookworm main
LIST
opts=(-o Dir::Etc::SourceList="$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists="$dir/lists"
  -o Dir::Cache="$dir" -o Dir::State::status=/dev/null -o APT::Architectures::=amd64 -o APT::Architectures::=armhf -o APT::Architectures::=arm64
  -o Debug::NoLocking=1 -o APT::Sandbox::User=root -o APT::Default-Release=bookworm -qq)
if ! cmp -s "$dir/sources.list.new" "$dir/sources.list" || [ -z "$(find "$dir/lists" -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null)" ]; then
  mv "$dir/sources.list.new" "$dir/sources.list"
  apt-get "${opts[@]}" update >&2
fi
rm -f "$dir/sources.list.new"
exec apt-get "${opts[@]}" "$@"
