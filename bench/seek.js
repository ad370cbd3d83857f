'use strict';
// bench/seek: a 1 GB trace (bench/make-trace.js, 1.27 million packets of
// 64..1514 bytes). Times, in one run: `info` (first and last time from the
// file's ends), 100 seeks to random times with openTrace().seek() and the
// bytes each read, the same seeks through openOffline({ seek }) up to the
// first packet delivered, and a linear scan (batches() from the start until
// the first packet at or after the time) to a sample of the same times.
//   npm run bench:seek [-- --scans 10]
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { openOffline, openTrace } = require('..');
const { fileInfo } = require('../dist/cli/info');

const args = process.argv.slice(2);
const scans = Number(args[args.indexOf('--scans') + 1] || 10);
const trace = path.join(__dirname, 'out', 'seek.pcap');
if (!fs.existsSync(trace)) {
  fs.mkdirSync(path.dirname(trace), { recursive: true });
  execFileSync(process.execPath, [path.join(__dirname, 'make-trace.js'), trace, '1270000'], { stdio: 'inherit' });
}
execFileSync('cat', [trace], { stdio: ['ignore', 'ignore', 'inherit'] }); // into the page cache

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
    `| openOffline({ seek }) to the first packet delivered | ${median(readMs).toFixed(2)} ms | ${Math.max(...readMs).toFixed(2)} ms |`,
    `| linear scan with batches() to the same packet (${scans} of the times) | ${median(scanMs).toFixed(1)} ms | ${Math.max(...scanMs).toFixed(1)} ms |`,
    '',
    `seek vs. linear scan (medians, same times): ${(median(scanMs) / median(seekMs.slice(0, scans))).toFixed(0)}× faster; ` +
      `openOffline({ seek }) vs. scan: ${(median(scanMs) / median(readMs.slice(0, scans))).toFixed(0)}× faster. ` +
      `Every seek's packet equals the scan's.`,
  ];
  const text = lines.join('\n');
  console.log(text);
  fs.writeFileSync(path.join(__dirname, 'out', 'seek.md'), `${text}\n`);
})();
