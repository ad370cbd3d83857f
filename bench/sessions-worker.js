'use strict';
// One measured run for bench/sessions.js, in its own process.
//   node sessions-worker.js <reassembly|sessions> <file>
// reassembly: a FlowTracker reassembling every TCP connection into handlers
// that take the bytes and do nothing (the flows-and-reassembly pass alone);
// sessions: the same tracker with the sessions registry's parsers as handlers.
const { openOffline, FlowTracker, ParserRegistry } = require('..');

const [mode, file] = process.argv.slice(2);
(async () => {
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  let packets = 0;
  let records = 0;
  const kinds = {};
  const registry = new ParserRegistry();
  const streams =
    mode === 'sessions'
      ? registry.streams((r) => {
          records++;
          kinds[r.kind] = (kinds[r.kind] ?? 0) + 1;
        })
      : () => ({ onData() {}, onGap() {}, onDatagram() {} });
  const tracker = new FlowTracker({ maxFlows: 1 << 20, streams });
  const cap = openOffline(file);
  for await (const batch of cap.batches({ recycle: true })) {
    packets += batch.count;
    tracker.addBatch(batch, cap.linktype);
  }
  tracker.end();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  process.stdout.write(`${JSON.stringify({ mode, packets, records, kinds, seconds, cpuSeconds: (used.user + used.system) / 1e6, maxRssMB: process.resourceUsage().maxRSS / 1024, givenUp: registry.stats.bytesGivenUp })}\n`);
})();
