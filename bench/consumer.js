'use strict';
// One wirecap consumer for bench/live-capture.js, in its own process so its
// RSS and event-loop delay are its own.
//   node consumer.js <iter|batch|stall> <port> <bufferBytes> [stallMs] [helper: on|off]
// Prints "ready" on stderr once capturing; on SIGTERM closes the capture
// and prints {"counted":N,"stats":{...},"loopP99Ms":X,"maxRssMB":Y}.
const { monitorEventLoopDelay } = require('node:perf_hooks');
const { openLive } = require('..');

const [mode, port, bufferSize, stallMs, helper] = process.argv.slice(2);
const cap = openLive('lo', { filter: `udp and dst port ${port}`, bufferSize: Number(bufferSize), helper: helper === 'on' });
const loop = monitorEventLoopDelay({ resolution: 1 });
loop.enable();
process.once('SIGTERM', () => cap.close());
process.stderr.write('ready\n');

(async () => {
  let counted = 0;
  if (mode === 'batch') {
    for await (const batch of cap.batches()) counted += batch.count;
  } else {
    let stalled = mode !== 'stall';
    for await (const _ of cap) {
      counted++;
      if (!stalled) {
        stalled = true;
        // Stop pulling; the event loop stays free, the queue fills and drops.
        await new Promise((resolve) => setTimeout(resolve, Number(stallMs)));
      }
    }
  }
  loop.disable();
  process.stdout.write(
    `${JSON.stringify({
      counted,
      stats: cap.stats(),
      loopP99Ms: loop.percentile(99) / 1e6,
      maxRssMB: process.resourceUsage().maxRSS / 1024,
    })}\n`,
  );
})();
