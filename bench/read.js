'use strict';
// bench/read: a synthetic 2-million-packet Ethernet/IPv4/UDP trace
// (bench/make-trace.js, sizes cycling 64..1514) read from the page cache by
// a C loop over pcap_dispatch (bench/pcap_read.c, the limit), wirecap's batch
// API (batches(), and batches({ recycle: true })), wirecap's per-packet
// iterator and node_pcap's offline session. Each
// reader runs in its own process, rounds interleave them, and every figure is
// a ratio against the C loop of the same run (median of the rounds).
//   npm run bench:read [-- --rounds 5 --node-pcap DIR]
// node_pcap is installed for the bench only: npm install --prefix /tmp/np pcap@3
// (its install script builds it), then pass --node-pcap /tmp/np/node_modules/pcap.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '5' }, 'node-pcap': { type: 'string', default: '/tmp/np/node_modules/pcap' } },
});
const rounds = Number(values.rounds);
const nodePcap = values['node-pcap'];
const trace = path.join(__dirname, 'out', 'read.pcap');

execFileSync(path.join(__dirname, 'build.sh'), { stdio: 'inherit' });
if (!fs.existsSync(trace)) {
  fs.mkdirSync(path.dirname(trace), { recursive: true });
  execFileSync(process.execPath, [path.join(__dirname, 'make-trace.js'), trace], { stdio: 'inherit' });
}
const haveNodePcap = fs.existsSync(path.join(nodePcap, 'package.json'));

function runReader(name) {
  const json =
    name === 'c'
      ? execFileSync(path.join(__dirname, 'bin', 'pcap_read'), [trace])
      : execFileSync(process.execPath, [path.join(__dirname, 'reader.js'), name, trace, nodePcap]);
  return JSON.parse(json);
}

const readers = ['c', 'batch', 'recycle', 'iter', ...(haveNodePcap ? ['node_pcap'] : []), 'fresh', 'objects'];
// A shared machine's other work shows in the wall times: say how busy it was.
const loadBefore = os.loadavg()[0];
// Warm the page cache so the first reader does not pay for the disk.
runReader('c');
const results = Object.fromEntries(readers.map((r) => [r, []]));
for (let round = 0; round < rounds; round++) {
  for (const r of readers) results[r].push(runReader(r));
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const expected = results.c[0];
const lines = [
  `machine: ${os.cpus()[0].model}, ${os.cpus().length} cores, kernel ${os.release()}, node ${process.version}; load average ${loadBefore.toFixed(1)} before the run, ${os.loadavg()[0].toFixed(1)} after`,
  `trace: ${expected.packets} packets, ${(fs.statSync(trace).size / 1e9).toFixed(2)} GB, ${rounds} rounds; packets/s and CPU are medians, RSS and event-loop p99 the worst round`,
  '',
  '| reader | packets/s | × C loop | CPU ns/packet (user+sys, all threads) | CPU × C loop | peak RSS MB | event-loop p99 ms | packets and bytes |',
  '|---|---|---|---|---|---|---|---|',
];
const cRate = median(results.c.map((x) => x.packets / x.seconds));
const cCpu = median(results.c.map((x) => x.cpuSeconds / x.packets));
for (const r of readers) {
  const rate = median(results[r].map((x) => x.packets / x.seconds));
  const cpu = median(results[r].map((x) => x.cpuSeconds / x.packets));
  const rss = r === 'c' ? '-' : Math.max(...results[r].map((x) => x.maxRssMB)).toFixed(1);
  const lag = r === 'c' ? '-' : Math.max(...results[r].map((x) => x.loopP99Ms)).toFixed(2);
  const counts = results[r].every((x) => x.packets === expected.packets && x.bytes === expected.bytes) ? 'all' : 'MISMATCH';
  lines.push(
    `| ${r} | ${(rate / 1e6).toFixed(2)} M | ${(rate / cRate).toFixed(3)} | ${(cpu * 1e9).toFixed(0)} | ${(cpu / cCpu).toFixed(3)} | ${rss} | ${lag} | ${counts} |`,
  );
}
if (!haveNodePcap) lines.push('', `node_pcap not found at ${nodePcap}: skipped`);
const text = lines.join('\n');
console.log(text);
fs.writeFileSync(path.join(__dirname, 'out', 'read.md'), `${text}\n`);
