'use strict';
// bench/leaks: open/use/close cycles of each kind of handle, in rounds; after
// each round a forced GC, then RSS, open descriptors and threads. Growth
// after the first round (the last rounds' median against it) must stay
// under 5 MB, and descriptors and threads must come back to where they were.
// The V8 heap's use (heapUsed), size (heapTotal) and the memory outside it
// (external, arrayBuffers) are printed per round next to RSS, to tell
// retention (heapUsed or external grows) from heap sizing.
//   npm run leaks [-- --scale 0.1 --rounds 10 --only openOffline --json]   (root: it captures on lo)
// Run with node --expose-gc --max-semi-space-size=1 (as npm run leaks does):
// V8 grows the young generation with the allocation rate, from 1 MB up to
// 16 MB per semi-space, and a forced GC does not shrink it back (V8's memory
// reducer does, once the process has been idle for some 10 s). Unpinned, that
// shows as up to 30 MB of RSS growth that no object holds; see bench/RESULTS.md.
// --scale 1 runs the counts: 20,000 openOffline, 20,000 openTrace,
// 2,000 openLive, 1,000 liveDump and 1,000 collector streams.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const wirecap = require('..');

const args = { scale: 1, rounds: 10, json: false, only: null };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--scale') args.scale = Number(process.argv[++i]);
  else if (a === '--rounds') args.rounds = Number(process.argv[++i]);
  else if (a === '--json') args.json = true;
  else if (a === '--only') args.only = process.argv[++i];
  else throw new Error(`unknown argument ${a}`);
}
const YOUNG_GENERATION = '--max-semi-space-size=1';
if (typeof global.gc !== 'function' || !process.execArgv.includes(YOUNG_GENERATION)) throw new Error(`run with node --expose-gc ${YOUNG_GENERATION}`);

const GROWTH_LIMIT_MB = 5;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-leaks-'));
const trace = path.join(dir, 'trace.pcap');
const writer = wirecap.createWriter(trace);
for (let i = 0; i < 200; i++) writer.write({ timestamp: 1_700_000_000_000_000_000n + BigInt(i) * 1_000_000n, data: Buffer.alloc(60 + (i % 100), i) });
writer.close();

const threads = () => fs.readdirSync('/proc/self/task').length;
const fds = () => fs.readdirSync('/proc/self/fd').length;
const MB = (bytes) => Number((bytes / 2 ** 20).toFixed(1));
const memory = () => {
  const m = process.memoryUsage();
  return { rss: MB(m.rss), heapUsed: MB(m.heapUsed), heapTotal: MB(m.heapTotal), external: MB(m.external), arrayBuffers: MB(m.arrayBuffers) };
};
const pause = (ms) => new Promise((r) => setTimeout(r, ms));

async function settle() {
  for (let i = 0; i < 3; i++) {
    global.gc();
    await pause(20);
  }
}

const kinds = {
  openOffline: {
    cycles: 20000,
    async once() {
      for await (const p of wirecap.openOffline(trace)) void p;
    },
  },
  openTrace: {
    cycles: 20000,
    async once(i) {
      const t = wirecap.openTrace(trace);
      t.seek([{ fraction: 0.5 }, { offset: 1000 }, { time: 1_700_000_000_050_000_000n }][i % 3]);
      t.close();
    },
  },
  openLive: {
    cycles: 2000,
    async once() {
      wirecap.openLive('lo', { filter: 'udp port 9', timeoutMs: 5 }).close();
    },
  },
  liveDump: {
    cycles: 1000,
    async once() {
      await wirecap.liveDump('lo', path.join(dir, 'dump.pcap'), { filter: 'udp port 9', timeoutMs: 5 }).stop();
    },
  },
  collectorStream: {
    cycles: 1000,
    async setup() {
      this.collector = await wirecap.createCollector({ host: '127.0.0.1', log: () => {} });
    },
    async once(i) {
      const packets = [{ timestamp: BigInt(i) * 1000n, data: Buffer.alloc(60), len: 60 }];
      await wirecap.streamPackets(`127.0.0.1:${this.collector.port}`, (async function* () { yield* packets; })()).done;
    },
    async teardown() {
      await this.collector.close(0);
    },
  },
};

async function measure(name, kind) {
  if (kind.setup) await kind.setup();
  const cycles = Math.max(args.rounds, Math.round(kind.cycles * args.scale));
  const perRound = Math.ceil(cycles / args.rounds);
  await settle();
  const start = { memory: memory(), fds: fds(), threads: threads() };
  const rounds = [];
  const heap = [];
  let done = 0;
  const t0 = Date.now();
  for (let r = 0; r < args.rounds; r++) {
    for (let k = 0; k < perRound; k++) await kind.once(done++);
    await settle();
    const { rss, ...rest } = memory();
    rounds.push(rss);
    heap.push(rest);
  }
  const seconds = (Date.now() - t0) / 1000;
  const end = { fds: fds(), threads: threads() };
  if (kind.teardown) await kind.teardown();
  // A leak grows round after round; the allocator's retention of freed
  // slabs makes single rounds jump up and down. Growth is therefore the
  // median of the last three rounds against the first; the peak is kept too.
  const last = rounds.slice(-3).sort((a, b) => a - b)[Math.min(1, rounds.length - 1)];
  const growthMB = last - rounds[0];
  const peakGrowthMB = Math.max(...rounds.slice(1)) - rounds[0];
  return {
    kind: name,
    cycles: done,
    cyclesPerSecond: Math.round(done / seconds),
    rssStartMB: start.memory.rss,
    rssPerRoundMB: rounds,
    heapPerRoundMB: heap,
    growthAfterFirstRoundMB: Number(growthMB.toFixed(1)),
    peakGrowthMB: Number(peakGrowthMB.toFixed(1)),
    fdDelta: end.fds - start.fds,
    threadDelta: end.threads - start.threads,
    ok: growthMB < GROWTH_LIMIT_MB && end.fds === start.fds && end.threads === start.threads,
  };
}

(async () => {
  const results = [];
  for (const [name, kind] of Object.entries(kinds)) if (args.only === null || args.only === name) results.push(await measure(name, kind));
  fs.rmSync(dir, { recursive: true, force: true });
  if (args.json) {
    console.log(JSON.stringify(results));
  } else {
    for (const r of results) {
      console.log(
        `${r.kind.padEnd(16)} ${String(r.cycles).padStart(6)} cycles (${r.cyclesPerSecond}/s)  RSS ${r.rssStartMB} MB, per round ${r.rssPerRoundMB.join(' ')}` +
          `  growth after round 1 ${r.growthAfterFirstRoundMB} MB (peak ${r.peakGrowthMB})  fds ${r.fdDelta >= 0 ? '+' : ''}${r.fdDelta}  threads ${r.threadDelta >= 0 ? '+' : ''}${r.threadDelta}  ${r.ok ? 'ok' : 'FAIL'}`,
      );
      for (const key of ['heapUsed', 'heapTotal', 'external', 'arrayBuffers']) console.log(`${''.padEnd(16)} ${key} per round ${r.heapPerRoundMB.map((h) => h[key]).join(' ')}`);
    }
  }
  process.exitCode = results.every((r) => r.ok) ? 0 : 1;
})();
