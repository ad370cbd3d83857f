#!/usr/bin/env bash
# Race-checks the addon with ThreadSanitizer: a TSan build of the addon, in
# a scratch copy, loaded by node with the runtime preloaded, runs
# scripts/tsan-workload.js (the queue, the task handoff, dumps, file reads,
# close() and workers). node itself is not instrumented, so TSan also
# reports races inside V8 and libuv whose synchronisation it cannot see;
# only reports with a frame in the addon's sources (src-native/) count.
#   scripts/test-tsan.sh
set -euo pipefail
source "$(dirname "$0")/scratch-copy.sh"
CXXFLAGS="-fsanitize=thread -g -O1" LDFLAGS="-fsanitize=thread" npx node-gyp rebuild >/dev/null 2>&1
npx tsc -p tsconfig.build.json && node scripts/copy-generated.js  # build:ts without write-esm, which would load the addon unpreloaded
mkdir -p reports
# exitcode=0: the reports are judged below, not by the exit status.
LD_PRELOAD=$(gcc -print-file-name=libtsan.so) TSAN_OPTIONS="log_path=$work/reports/tsan:halt_on_error=0:exitcode=0" \
  node scripts/tsan-workload.js
all=0
ours=0
for report in reports/tsan*; do
  [ -e "$report" ] || continue
  # One block per warning; a block is ours when it names a file in src-native/.
  counts=$(awk '/WARNING: ThreadSanitizer/ { if (n) { total++; if (mine) own++ } n=1; mine=0 }
                /src-native\// { mine=1 }
                END { if (n) { total++; if (mine) own++ } print total+0, own+0 }' "$report")
  all=$((all + ${counts% *}))
  ours=$((ours + ${counts#* }))
  if [ "${counts#* }" -gt 0 ]; then cat "$report" >&2; fi
done
echo "ThreadSanitizer: $ours reports in wirecap's code ($all in all, the rest inside node)"
[ "$ours" -eq 0 ]
