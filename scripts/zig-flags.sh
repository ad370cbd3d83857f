# Sourced by scripts/prebuild.sh: what every Zig-built prebuild compiles
# with, so that each target's build function adds only its own flags.
#   addon_sources   the wirecap target's sources, read from binding.gyp,
#                   with the POSIX platform file (the Windows build swaps it)
#   zig_cxxflags    the flags binding.gyp gives node-gyp, for zig c++
#   zig="bash scripts/zig.sh"
# shellcheck shell=bash
zig=(bash "$root/scripts/zig.sh")
mapfile -t addon_sources < <(node -e '
  const gyp = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const t = gyp.targets.find((x) => x.target_name === "wirecap");
  for (const s of t.sources) console.log(s);
  console.log("src-native/platform/platform_posix.cc");' "$root/binding.gyp")
zig_cxxflags=(-O2 -std=c++17 -fvisibility=hidden -fPIC -Wall -Wextra -Wno-unused-parameter
  -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -DNODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS -DNODE_ADDON_API_DISABLE_DEPRECATED -DBUILDING_NODE_EXTENSION
  -I "$root/src-native" -I "$root/node_modules/node-api-headers/include" -I "$(node -p "require('node-addon-api').include_dir")")
