#!/usr/bin/env bash
# Runs the test suite against an AddressSanitizer build of the addon, in a
# scratch copy so the normal build stays as it is. Use it after touching
# threads or buffers in src-native/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git -C "$root" ls-files -z | (cd "$root" && xargs -0 cp --parents -t "$work")
ln -s "$root/node_modules" "$work/node_modules"
cd "$work"
node_prefix=$(dirname "$(dirname "$(command -v node)")")
[ -f "$node_prefix/include/node/node_api.h" ] && export npm_config_nodedir="$node_prefix"
CXXFLAGS="-fsanitize=address -fno-omit-frame-pointer -g" LDFLAGS="-fsanitize=address" \
  npx node-gyp rebuild >/dev/null 2>&1
# node itself is not instrumented: preload the runtime, skip leak checking
# (node frees little at exit) and fail on the first error the addon makes.
export LD_PRELOAD=$(gcc -print-file-name=libasan.so)
# Wireshark's editcap, mergecap and capinfos hang with the runtime
# preloaded: the tests reach them through wrappers that drop it.
mkdir -p "$work/.asan-bin"
for tool in capinfos editcap mergecap; do
  printf '#!/bin/sh\nunset LD_PRELOAD\nexec %s "$@"\n' "$(command -v $tool)" >"$work/.asan-bin/$tool"
  chmod +x "$work/.asan-bin/$tool"
done
export PATH="$work/.asan-bin:$PATH"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1:verify_asan_link_order=0
npm run build:ts >/dev/null  # loads the addon too (scripts/write-esm.js)
node_modules/.bin/jest --runInBand "$@"
