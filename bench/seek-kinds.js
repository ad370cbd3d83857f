'use strict';
// bench/seek-kinds: bytes read per seek on the generated traces that carry
// other traces, the kinds test/navigate.test.ts checks (test/helpers/seeks.ts),
// with the same seeded targets: TARGETS seeks by time and by offset each,
// every answer compared with the linear scan.
//   npm run bench:seek-kinds
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
require('./ts-require');
const { nastyTrace } = require('../test/helpers/nasty.ts');
const { NASTY_KINDS, TARGETS, seeksAgainstScan } = require('../test/helpers/seeks.ts');
const { recordsOf } = require('../test/helpers/trace.ts');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-seek-kinds-'));
const kib = (n) => `${Math.round(n / 1024)}`;
const lines = [
  `node ${process.version}, ${os.cpus()[0].model}, ${os.cpus().length} cores, kernel ${os.release()}; ${TARGETS} seeks by time and ${TARGETS} by offset per kind, on one navigator`,
  '',
  '| trace kind | size | bytes per time seek, median / worst (KiB) | wrong or not definite |',
  '| --- | --- | --- | --- |',
];
try {
  for (const [name, kind, options, seed] of NASTY_KINDS) {
    const file = path.join(dir, `nasty-${seed}.${kind.startsWith('pcapng') ? 'pcapng' : 'pcap'}`);
    fs.writeFileSync(file, nastyTrace(kind, seed, options));
    const { wrong, timeBytes } = seeksAgainstScan(file, recordsOf(file), seed);
    const sorted = [...timeBytes].sort((a, b) => a - b);
    lines.push(`| ${name} | ${(fs.statSync(file).size / 1e6).toFixed(1)} MB | ${kib(sorted[Math.floor(sorted.length / 2)])} / ${kib(sorted[sorted.length - 1])} | ${wrong.length} of ${2 * TARGETS} |`);
    fs.rmSync(file);
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
const text = lines.join('\n');
console.log(text);
fs.mkdirSync(path.join(__dirname, 'out'), { recursive: true });
fs.writeFileSync(path.join(__dirname, 'out', 'seek-kinds.md'), `${text}\n`);
