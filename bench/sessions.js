'use strict';
// bench/sessions (issue 25): the sessions layer (flows, reassembly and the
// HTTP/TLS/QUIC parsers) against the flows-and-reassembly pass alone, on a
// trace of mostly HTTP and TLS connections (bench/make-sessions-trace.js).
// Each run in its own process, the two modes interleaved, medians; the
// figure is the ratio sessions / reassembly, measured in the same run.
// Then the parsers' own cost per record, byte and chunk (sessions-worker.js parsers).
//   node bench/sessions.js [--rounds 3] [--connections 10000]
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, connections: { type: 'string', default: '10000' } } });
const rounds = Number(values.rounds);
const out = path.join(__dirname, 'out');
fs.mkdirSync(out, { recursive: true });
const trace = path.join(out, `sessions-${values.connections}.pcap`);
if (!fs.existsSync(trace)) execFileSync(process.execPath, [path.join(__dirname, 'make-sessions-trace.js'), trace, values.connections], { stdio: 'inherit' });

const worker = (mode, ...more) => JSON.parse(execFileSync(process.execPath, [path.join(__dirname, 'sessions-worker.js'), mode, trace, ...more], { encoding: 'utf8', maxBuffer: 1 << 20 }));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const loadBefore = os.loadavg()[0];
worker('reassembly'); // warm the page cache
const runs = { reassembly: [], sessions: [] };
for (let r = 0; r < rounds; r++) {
  runs.reassembly.push(worker('reassembly'));
  runs.sessions.push(worker('sessions'));
}
const wall = (m) => median(runs[m].map((x) => x.seconds));
const cpu = (m) => median(runs[m].map((x) => x.cpuSeconds));
const rss = (m) => median(runs[m].map((x) => x.maxRssMB));
const packets = runs.sessions[0].packets;
const bytes = fs.statSync(trace).size;
const s = runs.sessions[0];
const lines = [
  `machine: ${os.cpus()[0].model}, ${os.cpus().length} cores, kernel ${os.release()}, node ${process.version}; load average ${loadBefore.toFixed(1)} before, ${os.loadavg()[0].toFixed(1)} after; ${rounds} rounds, medians`,
  `trace: ${values.connections} connections, ${packets} packets, ${(bytes / 1e6).toFixed(0)} MB; records: ${Object.entries(s.kinds).map(([k, n]) => `${n} ${k}`).join(', ')}; bytes given up ${s.givenUp}`,
  '',
  '| run | wall s | packets/s | CPU s | peak RSS MB | × flows+reassembly (wall) | × (CPU) |',
  '|---|---|---|---|---|---|---|',
  `| flows + reassembly, handlers that drop the bytes (baseline) | ${wall('reassembly').toFixed(2)} | ${(packets / wall('reassembly') / 1e3).toFixed(0)} k | ${cpu('reassembly').toFixed(2)} | ${rss('reassembly').toFixed(0)} | 1 | 1 |`,
  `| sessions: flows + reassembly + HTTP/TLS/QUIC parsers | ${wall('sessions').toFixed(2)} | ${(packets / wall('sessions') / 1e3).toFixed(0)} k | ${cpu('sessions').toFixed(2)} | ${rss('sessions').toFixed(0)} | ${(wall('sessions') / wall('reassembly')).toFixed(2)} | ${(cpu('sessions') / cpu('reassembly')).toFixed(2)} |`,
];
// The parsers alone, on the chunks the tracker delivered (one process, a cold first pass then warm ones).
const alone = worker('parsers', String(rounds));
const warm = median(alone.passes.slice(1).map((p) => p.cpuSeconds));
const cold = alone.passes[0].cpuSeconds;
const records = alone.passes[0].records;
const per = (seconds) => `${((seconds * 1e6) / records).toFixed(1)} µs a record, ${((seconds * 1e9) / alone.bytes).toFixed(2)} ns a byte, ${((seconds * 1e9) / alone.chunks).toFixed(0)} ns a chunk`;
lines.push(
  '',
  `parsers alone (${alone.flows} flows, ${alone.chunks} chunks, ${(alone.bytes / 1e6).toFixed(0)} MB, ${records} records, replayed into a new registry ${alone.passes.length} times in one process):`,
  `- first (cold) pass: ${cold.toFixed(3)} CPU s: ${per(cold)}; ${(cold / cpu('reassembly')).toFixed(2)} × the baseline's CPU`,
  `- later (warm) passes, median: ${warm.toFixed(3)} CPU s: ${per(warm)}; ${(warm / cpu('reassembly')).toFixed(2)} × the baseline's CPU`,
);
const text = lines.join('\n');
console.log(text);
fs.writeFileSync(path.join(out, 'sessions.md'), `${text}\n`);
