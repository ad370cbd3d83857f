'use strict';
// bench/seek: a 1 GB trace (bench/make-trace.js, 1.27 million packets of
// 64..1514 bytes). Times, in one run: `info` (first and last time from the
// file's ends), 100 seeks to random times with openTrace().seek() and the
// bytes each read, the same seeks through openOffline({ seek }) up to the
// first packet delivered, and a linear scan (batches() from the start until
// the first packet at or after the time) to a sample of the same times.
// Then 1,000 seeks on a trace full of carried traces (bench/make-trace.js
// --carried, 120,000 records, 0.27 GB), each checked against libpcap's
// linear read of the whole file: its bytes per seek are bimodal (a probe
// misled or not), so 100 seeks would give a median that moves by ±150 KiB.
// Last, a pcapng copy of the plain trace's start (editcap): a fresh
// navigator's lastTime and first seek, then 100 seeks.
// --before DIR times the same seeks with an earlier build's navigator (DIR
// is its dist/, e.g. from `git worktree add` and `npm run build:ts`), and
// counts its bytes on the carried trace's times too.
//   npm run bench:seek [-- --scans 10] [--before DIR]
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { openOffline, openTrace } = require('..');
const { fileInfo } = require('../dist/cli/info');

const args = process.argv.slice(2);
const scans = args.includes('--scans') ? Number(args[args.indexOf('--scans') + 1]) : 10;
const before = args.includes('--before') ? require(path.resolve(args[args.indexOf('--before') + 1], 'files', 'navigate.js')) : null;
/** A trace made by bench/make-trace.js once, then read into the page cache. */
function makeTrace(name, ...args) {
  const file = path.join(__dirname, 'out', name);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    execFileSync(process.execPath, [path.join(__dirname, 'make-trace.js'), file, ...args], { stdio: 'inherit' });
  }
  execFileSync('cat', [file], { stdio: ['ignore', 'ignore', 'inherit'] });
  return file;
}
const trace = makeTrace('seek.pcap', '1270000');
const carried = makeTrace('seek-carried.pcap', '120000', '--carried');
// The plain trace's first 250,000 packets as pcapng (editcap), 0.21 GB: its window is libpcap's 16 MiB block limit.
const ng = path.join(__dirname, 'out', 'seek.pcapng');
if (!fs.existsSync(ng)) execFileSync('editcap', ['-F', 'pcapng', '-r', trace, ng, '1-250000']);

const ms = (start) => Number(process.hrtime.bigint() - start) / 1e6;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

(async () => {
  const infoTimes = [];
  for (let i = 0; i < 5; i++) {
    const t = process.hrtime.bigint();
    await fileInfo(trace);
    infoTimes.push(ms(t));
  }
  const cliStart = process.hrtime.bigint();
  execFileSync(process.execPath, [path.join(__dirname, '..', 'dist', 'cli', 'main.js'), 'info', trace], { stdio: 'ignore' });
  const cliMs = ms(cliStart);

  const nav = openTrace(trace);
  const first = nav.firstTime;
  const last = nav.lastTime;
  let seed = 12345;
  const random = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const targets = Array.from({ length: 100 }, () => first + BigInt(Math.floor(random() * Number(last - first))));

  // Warm the JIT on other times first: the ratio below compares the first
  // seeks with scans, and cold code would make it a measure of compilation.
  for (let i = 0; i < 100; i++) nav.seek({ time: first + BigInt(Math.floor(random() * Number(last - first))) });

  const seekMs = [];
  const seekBytes = [];
  const found = [];
  for (const time of targets) {
    const t = process.hrtime.bigint();
    const position = nav.seek({ time });
    seekMs.push(ms(t));
    seekBytes.push(position.bytesRead);
    found.push(position);
  }
  nav.close();

  // The earlier navigator on the same times, warmed the same way.
  const beforeMs = [];
  const beforeBytes = [];
  if (before !== null) {
    const old = before.openTrace(trace);
    for (let i = 0; i < 100; i++) old.seek({ time: first + BigInt(Math.floor(random() * Number(last - first))) });
    for (const time of targets) {
      const t = process.hrtime.bigint();
      const position = old.seek({ time });
      beforeMs.push(ms(t));
      beforeBytes.push(position.bytesRead);
    }
    old.close();
  }

  const readMs = [];
  for (const time of targets) {
    const t = process.hrtime.bigint();
    const cap = openOffline(trace, { seek: { time } });
    const batch = await cap.nextBatch();
    readMs.push(ms(t));
    if (batch === null || batch.timestamps[0] < time) throw new Error(`openOffline({ seek }) gave a packet before ${time}`);
    cap.close();
  }

  const scanMs = [];
  for (let i = 0; i < scans; i++) {
    const time = targets[i];
    const t = process.hrtime.bigint();
    let hit = null;
    for await (const batch of openOffline(trace).batches()) {
      const k = batch.timestamps.findIndex((ts) => ts >= time);
      if (k !== -1) {
        hit = batch.timestamps[k];
        break;
      }
    }
    scanMs.push(ms(t));
    if (hit !== found[i].timestamp) throw new Error(`seek and scan disagree for ${time}: ${found[i].timestamp} vs ${hit}`);
  }

  // The trace full of carried traces: libpcap's linear read is the reference for every seek.
  const times = [];
  for await (const batch of openOffline(carried).batches()) times.push(...batch.timestamps);
  const carriedNav = openTrace(carried);
  const cFirst = carriedNav.firstTime;
  const cSpan = Number(carriedNav.lastTime - cFirst);
  const cMs = [];
  const cBytes = [];
  const cDefinite = [];
  const firstAtOrAfter = (time) => {
    let lo = 0;
    let hi = times.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (times[mid] < time) lo = mid + 1;
      else hi = mid;
    }
    return times[lo] ?? null;
  };
  const cTargets = Array.from({ length: 1000 }, () => cFirst + BigInt(Math.floor(random() * cSpan)));
  for (let i = 0; i < cTargets.length; i++) {
    const time = cTargets[i];
    const t = process.hrtime.bigint();
    const position = carriedNav.seek({ time });
    cMs.push(ms(t));
    cBytes.push(position.bytesRead);
    cDefinite.push(position.certainty === 'definite');
    if (position.timestamp !== firstAtOrAfter(time)) throw new Error(`carried traces: seek and scan disagree for ${time}: ${position.timestamp} vs ${firstAtOrAfter(time)}`);
    if (i < 20) {
      const cap = openOffline(carried, { seek: { time } });
      const batch = await cap.nextBatch();
      cap.close();
      if ((batch?.timestamps[0] ?? null) !== position.timestamp) throw new Error(`carried traces: openOffline({ seek }) started at ${batch?.timestamps[0]}, not ${position.timestamp}`);
    }
  }
  carriedNav.close();
  // The earlier navigator's bytes on the same carried-trace times.
  const cBeforeBytes = [];
  if (before !== null) {
    const old = before.openTrace(carried);
    for (const time of cTargets) cBeforeBytes.push(old.seek({ time }).bytesRead);
    old.close();
  }

  // pcapng: the first seek of a fresh navigator (lastTime's window and its own), then 100 more on the same navigator.
  const ngFirst = [];
  const ngMs = [];
  const ngBytes = [];
  for (const nav of before === null ? [openTrace] : [openTrace, before.openTrace]) {
    const t = process.hrtime.bigint();
    const n = nav(ng);
    const nFirst = n.firstTime;
    const nSpan = Number(n.lastTime - nFirst);
    const firstSeek = n.seek({ time: nFirst + BigInt(Math.floor(nSpan / 3)) });
    ngFirst.push({ ms: ms(t), bytes: n.bytesRead, certainty: firstSeek.certainty });
    const each = { ms: [], bytes: [] };
    for (let i = 0; i < 100; i++) {
      const s = process.hrtime.bigint();
      const position = n.seek({ time: nFirst + BigInt(Math.floor(random() * nSpan)) });
      each.ms.push(ms(s));
      each.bytes.push(position.bytesRead);
    }
    ngMs.push(each.ms);
    ngBytes.push(each.bytes);
    n.close();
  }
  const ngRows = ngFirst.map((f, k) => {
    const who = k === 0 ? 'pcapng' : "the earlier build's pcapng";
    return [
      `| ${who} (${(fs.statSync(ng).size / 1e9).toFixed(2)} GB): open, lastTime and a first seek | ${f.ms.toFixed(1)} ms, ${(f.bytes / 1024).toFixed(0)} KiB | - |`,
      `| ${who}: 100 more seeks({ time }) | ${median(ngMs[k]).toFixed(3)} ms | ${Math.max(...ngMs[k]).toFixed(3)} ms |`,
      `| ${who}: bytes read per seek | ${(median(ngBytes[k]) / 1024).toFixed(0)} KiB | ${(Math.max(...ngBytes[k]) / 1024).toFixed(0)} KiB |`,
    ];
  });

  const size = fs.statSync(trace).size;
  const lines = [
    `trace: ${(size / 1e9).toFixed(2)} GB, ${path.basename(trace)}; ${targets.length} random times; node ${process.version}`,
    '',
    '| measure | median | worst |',
    '| --- | --- | --- |',
    `| fileInfo() (first, last, duration; no count) | ${median(infoTimes).toFixed(2)} ms | ${Math.max(...infoTimes).toFixed(2)} ms |`,
    `| \`wirecap info\` as a process (node start-up included) | ${cliMs.toFixed(0)} ms | - |`,
    `| openTrace().seek({ time }) | ${median(seekMs).toFixed(3)} ms | ${Math.max(...seekMs).toFixed(3)} ms |`,
    `| bytes read per seek | ${(median(seekBytes) / 1024).toFixed(0)} KiB | ${(Math.max(...seekBytes) / 1024).toFixed(0)} KiB |`,
    ...(before === null
      ? []
      : [
          `| the earlier build's seek({ time }) (--before) | ${median(beforeMs).toFixed(3)} ms | ${Math.max(...beforeMs).toFixed(3)} ms |`,
          `| the earlier build's bytes read per seek | ${(median(beforeBytes) / 1024).toFixed(0)} KiB | ${(Math.max(...beforeBytes) / 1024).toFixed(0)} KiB |`,
        ]),
    `| openOffline({ seek }) to the first packet delivered | ${median(readMs).toFixed(2)} ms | ${Math.max(...readMs).toFixed(2)} ms |`,
    `| linear scan with batches() to the same packet (${scans} of the times) | ${median(scanMs).toFixed(1)} ms | ${Math.max(...scanMs).toFixed(1)} ms |`,
    `| carried traces (${(fs.statSync(carried).size / 1e9).toFixed(2)} GB): openTrace().seek({ time }) | ${median(cMs).toFixed(3)} ms | ${Math.max(...cMs).toFixed(3)} ms |`,
    `| carried traces: bytes read per seek | ${(median(cBytes) / 1024).toFixed(0)} KiB | ${(Math.max(...cBytes) / 1024).toFixed(0)} KiB |`,
    ...(before === null ? [] : [`| carried traces: the earlier build's bytes read per seek | ${(median(cBeforeBytes) / 1024).toFixed(0)} KiB | ${(Math.max(...cBeforeBytes) / 1024).toFixed(0)} KiB |`]),
    ...ngRows.flat(),
    '',
    `carried traces: ${cMs.length} seeks, ${cDefinite.filter(Boolean).length} definite, every one equal to libpcap's linear read (20 of them through openOffline({ seek }) too).`,
    `seek vs. linear scan (medians, same times): ${(median(scanMs) / median(seekMs.slice(0, scans))).toFixed(0)}× faster; ` +
      `openOffline({ seek }) vs. scan: ${(median(scanMs) / median(readMs.slice(0, scans))).toFixed(0)}× faster. ` +
      `Every seek's packet equals the scan's.` +
      (before === null ? '' : ` seek vs. the earlier build (medians, same times): ${(median(seekMs) / median(beforeMs)).toFixed(2)}× its time.`),
  ];
  const text = lines.join('\n');
  console.log(text);
  fs.writeFileSync(path.join(__dirname, 'out', 'seek.md'), `${text}\n`);
})();
