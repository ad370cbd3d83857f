'use strict';
// One measured run for bench/sessions.js, in its own process.
//   node sessions-worker.js <reassembly|sessions|parsers> <file> [passes]
// reassembly: a FlowTracker reassembling every TCP connection into handlers
// that take the bytes and do nothing (the flows-and-reassembly pass alone);
// sessions: the same tracker with the sessions registry's parsers as handlers;
// parsers: the parsers' own cost, whatever the flow layer costs. Every chunk
// the tracker delivers is kept (a copy), then replayed into a new registry
// `passes` times: the first pass is cold (as in one run of the sessions
// mode: interpreter, compilation, first garbage collections), the later ones warm.
const { openOffline, FlowTracker, ParserRegistry } = require('..');

const [mode, file, passes = '5'] = process.argv.slice(2);
const cpuSeconds = (since) => {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
};

async function track(streams) {
  const tracker = new FlowTracker({ maxFlows: 1 << 20, streams });
  const cap = openOffline(file);
  let packets = 0;
  for await (const batch of cap.batches({ recycle: true })) {
    packets += batch.count;
    tracker.addBatch(batch, cap.linktype);
  }
  tracker.end();
  return packets;
}

async function measured() {
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
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
  const packets = await track(streams);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { mode, packets, records, kinds, seconds, cpuSeconds: cpuSeconds(cpu), maxRssMB: process.resourceUsage().maxRSS / 1024, givenUp: registry.stats.bytesGivenUp };
}

async function parsers() {
  // Each flow's calls as they came: [direction, bytes (or a gap's length), offset, timestamp, ...], then its end.
  const flows = [];
  await track((flow) => {
    const entry = { flow: { id: flow.id, key: flow.key }, calls: [], end: ['end', 0n] };
    flows.push(entry);
    return {
      onData: (direction, bytes, info) => entry.calls.push(direction, Buffer.from(bytes), info.offset, info.timestamp),
      onGap: (direction, length, info) => entry.calls.push(direction, length, info.offset, info.timestamp),
      onDatagram() {},
      onEnd: (reason, f) => {
        entry.end = [reason, f.last];
      },
    };
  });
  let chunks = 0;
  let bytes = 0;
  for (const f of flows) {
    chunks += f.calls.length / 4;
    for (let i = 1; i < f.calls.length; i += 4) bytes += typeof f.calls[i] === 'number' ? 0 : f.calls[i].length;
  }
  const runs = [];
  for (let p = 0; p < Number(passes); p++) {
    const cpu = process.cpuUsage();
    let records = 0;
    const registry = new ParserRegistry();
    for (const { flow, calls, end } of flows) {
      const h = registry.handler(flow, () => records++);
      for (let i = 0; i < calls.length; i += 4) {
        const info = { offset: calls[i + 2], timestamp: calls[i + 3] };
        if (typeof calls[i + 1] === 'number') h.onGap(calls[i], calls[i + 1], info);
        else h.onData(calls[i], calls[i + 1], info);
      }
      h.onEnd(end[0], { last: end[1] });
    }
    runs.push({ cpuSeconds: cpuSeconds(cpu), records });
  }
  return { mode, flows: flows.length, chunks, bytes, passes: runs };
}

(async () => {
  const result = mode === 'parsers' ? await parsers() : await measured();
  process.stdout.write(`${JSON.stringify(result)}\n`);
})();
