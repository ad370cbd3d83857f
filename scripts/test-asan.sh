#!/usr/bin/env bash
# Runs the jest suite (or the test files given), the fuzzer and the leak
# cycles against an AddressSanitizer + UndefinedBehaviorSanitizer build of
# the addon with LeakSanitizer on, in a scratch copy so the normal build
# stays as it is. Use it after touching threads or buffers in src-native/.
#   scripts/test-asan.sh [jest args...]
#   FUZZ_CASES=100000 LEAK_SCALE=1 scripts/test-asan.sh test/workers.test.ts
#   FUZZ_TARGET=flows FUZZ_CASES=5000 scripts/test-asan.sh test/flows.test.ts
# Every process (jest, its workers, the tests' child nodes) writes what a
# sanitizer reports to asan-report.<pid>; the run fails if there is any.
set -euo pipefail
source "$(dirname "$0")/scratch-copy.sh"
sanitize="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
CXXFLAGS="$sanitize -fno-omit-frame-pointer -g" LDFLAGS="$sanitize" npx node-gyp rebuild >/dev/null 2>&1
# node itself is not instrumented: preload the runtime. LeakSanitizer is on;
# scripts/lsan-node.supp names the V8 heap internals that process.exit()
# leaves to the OS, and nothing else, so a leak it reports is the addon's.
export LD_PRELOAD=$(gcc -print-file-name=libasan.so)
# Wireshark's editcap, mergecap and capinfos hang with the runtime
# preloaded, gcc and g++ crash, and the leaks of ip, sysctl and Debian's
# python3 (grpc_tools.protoc) would fail their commands: the tests reach
# them through wrappers that drop it (useradd and its kin, too: their nscd
# call aborts under it).
mkdir -p "$work/.asan-bin"
for tool in capinfos editcap mergecap gcc cc g++ c++ ip sysctl tcpdump tshark umount mount useradd userdel groupadd groupdel getcap setcap; do
  printf '#!/bin/sh\nunset LD_PRELOAD\nexec %s "$@"\n' "$(command -v $tool)" >"$work/.asan-bin/$tool"
  chmod +x "$work/.asan-bin/$tool"
done
printf '#!/bin/sh\nunset LD_PRELOAD\nexec /usr/bin/python3 "$@"\n' >"$work/.asan-bin/python3-debian"
chmod +x "$work/.asan-bin/python3-debian"
export WIRECAP_PYTHON="$work/.asan-bin/python3-debian"  # test/stream.test.ts's grpcio peer
export PATH="$work/.asan-bin:$PATH"
reports="$work/reports"
mkdir -p "$reports"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:halt_on_error=1:verify_asan_link_order=0:log_path=$reports/asan-report"
export LSAN_OPTIONS="suppressions=$work/scripts/lsan-node.supp"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/asan-report"
npm run build:ts >/dev/null  # loads the addon too (scripts/write-esm.js)
status=0
# --forceExit: a test that failed may leave a capture open. Left out: the
# suites that run other binaries, not the sanitized addon (other runtimes'
# node, bun and deno; node.exe under wine; the arm64, armv7 and musl builds
# under qemu or in VMs; the prebuilds' own checks), where the preloaded
# runtime would only break or report them; and the timing comparison, which
# means nothing sanitized. (Patterns given here replace jest.config's.)
skip=(/node_modules/ 'test/(runtimes|windows|replay\.windows|arm64|linux-x64|symbols|foreign-prebuilds|package|load)\.test\.ts$' '\.(timing|vm)\.test\.ts$')
echo "test-asan: left out: ${skip[*]}"
node_modules/.bin/jest --runInBand --forceExit --testPathIgnorePatterns "${skip[@]}" -- "$@" || status=$?
if [ "${FUZZ_CASES:-0}" -gt 0 ]; then
  node scripts/fuzz.js --cases "$FUZZ_CASES" --seed "${FUZZ_SEED:-1}" --target "${FUZZ_TARGET:-all}" --case-ms 20000 || status=$?
fi
if [ -n "${LEAK_SCALE:-}" ]; then
  node --expose-gc --max-semi-space-size=1 bench/leaks.js --scale "$LEAK_SCALE" || status=$?
fi
# Other programs the tests run (ip, tcpdump...) inherit the runtime too:
# only reports from node processes count (they name node or the addon).
found=0
for report in "$reports"/asan-report*; do
  [ -e "$report" ] || continue
  grep -q 'ERROR:\|runtime error' "$report" || continue  # "Suppressions used" only
  grep -q '/bin/node\|wirecap.node\|src-native/' "$report" || continue
  cat "$report" >&2
  found=$((found + 1))
done
echo "sanitizer reports: $found"
[ "$found" -eq 0 ] || status=1
exit $status
