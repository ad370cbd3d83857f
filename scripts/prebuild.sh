#!/usr/bin/env bash
# Builds the prebuilt addons that the npm package ships, into prebuilds/:
#   linux-x64    prebuildify with the host compiler
#   linux-arm64  prebuildify with Debian's g++-aarch64-linux-gnu
#   win32-x64    Debian's mingw-w64 (posix threads), linked statically to
#                libgcc, libstdc++ and winpthread, against node.exe through
#                an import library made from node-api-headers' def file
# N-API (NAPI_VERSION=8): one binary per platform serves every supported
# Node version. libpcap / wpcap.dll is never linked (src-native/loader/pcap_api.cc
# loads it at run time), so no target needs a libpcap of its own arch.
#   scripts/prebuild.sh [linux-x64] [linux-arm64] [win32-x64]   (default: all)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(linux-x64 linux-arm64 win32-x64)

node_prefix=$(dirname "$(dirname "$(command -v node)")")
[ -f "$node_prefix/include/node/node_api.h" ] && export npm_config_nodedir="$node_prefix"

build_win32_x64() {
  local cxx=x86_64-w64-mingw32-g++-posix
  local work
  work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  # libpcap's headers (from libpcap-dev) describe Npcap's API too; copied so
  # that the cross compiler does not see the rest of /usr/include.
  mkdir -p "$work/include"
  cp -r /usr/include/pcap /usr/include/pcap.h "$work/include/"
  x86_64-w64-mingw32-dlltool -d node_modules/node-api-headers/def/node_api.def -l "$work/libnode_api.a" -D node.exe
  local objects=()
  local sources
  # (helper_main.cc is the Linux capture helper's program, not the addon's.)
  mapfile -t sources < <(find src-native -name '*.cc' ! -name platform_posix.cc ! -name helper_main.cc | sort)
  for source in "${sources[@]}"; do
    local object="$work/$(basename "$source" .cc).o"
    "$cxx" -c -O2 -std=c++17 -fvisibility=hidden -Wall -Wextra -Wno-unused-parameter \
      -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -DNODE_ADDON_API_DISABLE_DEPRECATED -DBUILDING_NODE_EXTENSION \
      -I src-native -I node_modules/node-api-headers/include -I "$(node -p "require('node-addon-api').include_dir")" -I "$work/include" \
      -o "$object" "$source"
    objects+=("$object")
  done
  mkdir -p prebuilds/win32-x64
  # -static: libgcc, libstdc++ and winpthread go inside, so the DLL needs
  # nothing beside node.exe and Windows' own DLLs.
  "$cxx" -shared -static -s -o prebuilds/win32-x64/wirecap.node "${objects[@]}" "$work/libnode_api.a" -lws2_32
}

for target in "${targets[@]}"; do
  echo "prebuild: $target"
  case "$target" in
    # --tag-libc names them *.glibc.node: node-gyp-build then skips them on musl.
    # The capture helper (binding.gyp's wirecap-helper) ships beside the addon.
    linux-x64)
      npx prebuildify --napi --strip --tag-libc --arch x64
      install -m 0755 -s build/Release/wirecap-helper prebuilds/linux-x64/wirecap-helper
      ;;
    linux-arm64)
      CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ LINK=aarch64-linux-gnu-g++ npx prebuildify --napi --tag-libc --arch arm64
      aarch64-linux-gnu-strip prebuilds/linux-arm64/*.node
      install -m 0755 build/Release/wirecap-helper prebuilds/linux-arm64/wirecap-helper
      aarch64-linux-gnu-strip prebuilds/linux-arm64/wirecap-helper
      ;;
    win32-x64) build_win32_x64 ;;
    *) echo "unknown target $target" >&2; exit 2 ;;
  esac
done
# prebuildify leaves the last build in build/: rebuild for this machine so
# that tests keep running the host's addon.
npx node-gyp rebuild >/dev/null
ls -l prebuilds/*/
