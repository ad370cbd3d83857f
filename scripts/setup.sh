#!/usr/bin/env bash
# Installs what building and testing wirecap needs on Debian/Ubuntu, then
# installs the npm dependencies and builds the addon and the TypeScript.
# Safe to run again: packages already present are not fetched twice.
set -euo pipefail
cd "$(dirname "$0")/.."

# mingw-w64 builds the Windows prebuild, Zig (scripts/zig.sh, from npm) the
# Linux, macOS and Windows-on-ARM ones, with llvm-14's llvm-dlltool for
# node.exe's import libraries; wine64 runs the Windows builds in the tests,
# qemu-user the arm64 one, with arm64 libraries from Debian's multiarch.
# The Linux prebuilds' own tests: musl's loader runs the x64 musl build,
# qemu-system-arm (also qemu-system-aarch64) boots the arm VMs, from
# initramfs made with cpio; flex and bison build libpcap for musl
# (scripts/musl-libpcap.sh). tcpreplay is replay's yardstick; libcap2-bin,
# util-linux and passwd serve the capture helper's grant and its tests as an
# unprivileged user; curl and openssl are real clients for the sessions tests.
packages=(g++ make python3 pkg-config libpcap-dev tcpdump tshark tcpreplay iproute2 libcap2-bin util-linux passwd nats-server python3-grpcio python3-grpc-tools curl openssl
  mingw-w64 g++-mingw-w64-x86-64-posix wine64 llvm-14
  qemu-user libpcap0.8:arm64 libstdc++6:arm64
  musl flex bison qemu-system-arm cpio
  prometheus)  # its promtool checks wirecap's metrics exposition (test/metrics.test.ts)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  dpkg --print-foreign-architectures | grep -qx arm64 || $sudo dpkg --add-architecture arm64
  # tshark asks whether non-root users may capture; the answer does not matter here.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections
  # Other installs may hold dpkg's lock for a while: wait for it, do not fail.
  $sudo apt-get -o DPkg::Lock::Timeout=900 update -qq
  $sudo apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${missing[@]}"
fi

# Build against the headers of the node that runs the tests when they are
# installed beside it, so node-gyp needs no download.
node_prefix=$(dirname "$(dirname "$(command -v node)")")
if [ -z "${npm_config_nodedir:-}" ] && [ -f "$node_prefix/include/node/node_api.h" ]; then
  export npm_config_nodedir="$node_prefix"
fi

npm ci --no-audit --no-fund
# The runtimes test/runtimes.test.ts runs the package under, cached outside the repo.
node scripts/install-runtimes.js
npm run build
bash scripts/prebuild.sh
# libpcap for the musl prebuilds' tests, cached in ~/.cache/wirecap.
bash scripts/musl-libpcap.sh x86_64 >/dev/null
bash scripts/musl-libpcap.sh aarch64 >/dev/null
