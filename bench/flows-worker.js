'use strict';
// One measured run for bench/flows.js, in its own process so its RSS is its own.
//   node flows-worker.js <recycle|flows|streams> <file>
// recycle: batches({ recycle: true }) alone; flows: the same batches through a
// FlowTracker; streams: a FlowTracker reassembling every TCP connection
// (handlers that count the bytes). Prints one JSON line.
const { openOffline, FlowTracker } = require('..');

const [mode, file] = process.argv.slice(2);
(async () => {
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  let packets = 0;
  let payload = 0;
  let flows = 0;
  let gaps = 0;
  const options =
    mode === 'streams'
      ? {
          maxFlows: 1 << 20,
          streams: () => ({
            onData: (_d, bytes) => void (payload += bytes.length),
            onGap: (_d, n) => void (gaps += n),
          }),
        }
      : mode === 'nodefrag'
        ? { maxFlows: 1 << 20, defrag: false }
        : { maxFlows: 1 << 20 };
  const tracker = mode === 'recycle' ? null : new FlowTracker(options);
  if (tracker) tracker.on('flow', () => flows++);
  const cap = openOffline(file);
  for await (const batch of cap.batches({ recycle: true })) {
    packets += batch.count;
    if (tracker) tracker.addBatch(batch, cap.linktype);
  }
  if (tracker) tracker.end();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  const stats = tracker ? tracker.stats : null;
  process.stdout.write(
    `${JSON.stringify({ mode, packets, flows, payload, gaps, seconds, cpuSeconds: (used.user + used.system) / 1e6, maxRssMB: process.resourceUsage().maxRSS / 1024, evicted: stats ? stats.ended.evicted : 0 })}\n`,
  );
})();
