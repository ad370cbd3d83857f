'use strict';
// bench/flows: the flow table and TCP reassembly (issue 24), each figure a
// ratio against a baseline measured in the same run, readers in their own
// processes, rounds interleaved, medians.
//  1. The 2 M-packet read trace (bench/make-flows-read-trace.js: bench/read's
//     size, real-looking TCP and UDP flows): batches({ recycle: true }) alone
//     against the same batches through a FlowTracker, with defragmentation on
//     (the default) and off; and `tshark -q -z conv,tcp` on the same file.
//  2. A TCP trace (bench/make-flows-trace.js, 12,000 concurrent connections):
//     FlowTracker against `tshark -q -z conv,tcp`, and reassembly of every
//     connection (payload bytes/s, peak RSS).
//  Ratios are given by wall time and by CPU time (user + system, all threads;
//  tshark's from the shell's `times`), tshark timed every round.
//  3. Abandoned connections (bench/flows-abandon.js): RSS as 1 GB to 5 GB of
//     half-done connections stream through the tracker.
//   npm run bench:flows [-- --rounds 3 --skip-abandon]
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, 'skip-abandon': { type: 'boolean', default: false } } });
const rounds = Number(values.rounds);
const out = path.join(__dirname, 'out');
fs.mkdirSync(out, { recursive: true });
const readTrace = path.join(out, 'flows-read.pcap');
const tcpTrace = path.join(out, 'flows-tcp.pcap');
if (!fs.existsSync(readTrace)) execFileSync(process.execPath, [path.join(__dirname, 'make-flows-read-trace.js'), readTrace], { stdio: 'inherit' });
if (!fs.existsSync(tcpTrace)) execFileSync(process.execPath, [path.join(__dirname, 'make-flows-trace.js'), tcpTrace], { stdio: 'inherit' });

const worker = (mode, file) => JSON.parse(execFileSync(process.execPath, [path.join(__dirname, 'flows-worker.js'), mode, file], { encoding: 'utf8', maxBuffer: 1 << 24 }));
/** One tshark run: its wall time, and its CPU time as the shell's `times` reports its children's. */
function tshark(file) {
  const started = process.hrtime.bigint();
  const times = execFileSync('bash', ['-c', 'tshark -n -r "$1" -q -z conv,tcp >/dev/null 2>&1; times', 'bash', file], { encoding: 'utf8' });
  const seconds = (t) => Number(t.match(/(\d+)m/)[1]) * 60 + Number(t.match(/m([\d.]+)s/)[1]);
  const [user, system] = times.trim().split('\n')[1].split(/\s+/).map(seconds);
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, cpuSeconds: user + system };
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const loadBefore = os.loadavg()[0];
worker('recycle', readTrace); // warm the page cache
const runs = { recycle: [], flows: [], nodefrag: [], tshark: [], tcpRecycle: [], tcpFlows: [], tcpStreams: [], tcpTshark: [] };
for (let r = 0; r < rounds; r++) {
  runs.recycle.push(worker('recycle', readTrace));
  runs.flows.push(worker('flows', readTrace));
  runs.nodefrag.push(worker('nodefrag', readTrace));
  runs.tshark.push(tshark(readTrace));
  runs.tcpRecycle.push(worker('recycle', tcpTrace));
  runs.tcpFlows.push(worker('flows', tcpTrace));
  runs.tcpStreams.push(worker('streams', tcpTrace));
  runs.tcpTshark.push(tshark(tcpTrace));
}
const rate = (list) => median(list.map((x) => x.packets / x.seconds));
const cpu = (list) => median(list.map((x) => (x.cpuSeconds / x.packets) * 1e9));
const readPackets = runs.flows[0].packets;
const tcpPackets = runs.tcpFlows[0].packets;
const f2 = (x) => x.toFixed(2);
/** A table row: a reader's rate and CPU per packet, and their ratios to the baseline's. */
const row = (name, list, base, notes) =>
  `| ${name} | ${f2(rate(list) / 1e6)} M | ${f2(rate(list) / rate(base))} | ${cpu(list).toFixed(0)} | ${f2(cpu(base) / cpu(list))} | ${median(list.map((x) => x.maxRssMB)).toFixed(0)} | ${notes} |`;
/** tshark's row and the tracker's ratios to it, by wall time and by CPU time (medians of every round). */
const tsharkRow = (list, packets, flows) => {
  const wall = median(list.map((x) => x.seconds));
  const cpuNs = (median(list.map((x) => x.cpuSeconds)) / packets) * 1e9;
  return {
    line: `| ${list === runs.tshark ? 'read' : 'TCP'} trace: tshark -q -z conv,tcp | ${(packets / wall / 1e6).toFixed(3)} M | - | ${cpuNs.toFixed(0)} | - | - | ${list.length} rounds: ${list.map((x) => x.seconds.toFixed(1)).join(', ')} s wall |`,
    ratio: `${(rate(flows) / (packets / wall)).toFixed(1)}× / ${(cpuNs / cpu(flows)).toFixed(1)}× tshark -z conv,tcp (wall / CPU)`,
  };
};
const readTshark = tsharkRow(runs.tshark, readPackets, runs.flows);
const tcpTshark = tsharkRow(runs.tcpTshark, tcpPackets, runs.tcpFlows);
const lines = [
  `machine: ${os.cpus()[0].model}, ${os.cpus().length} cores, kernel ${os.release()}, node ${process.version}; load average ${loadBefore.toFixed(1)} before, ${os.loadavg()[0].toFixed(1)} after; ${rounds} rounds, medians`,
  '',
  '| run | packets/s | × baseline | CPU ns/packet | × baseline by CPU time | peak RSS MB | notes |',
  '|---|---|---|---|---|---|---|',
  row('read trace: batches({ recycle: true }) alone (baseline)', runs.recycle, runs.recycle, `${readPackets} packets`),
  row('read trace: FlowTracker, defrag on', runs.flows, runs.recycle, `${runs.flows[0].flows} flows; ${readTshark.ratio}`),
  row('read trace: FlowTracker, defrag off', runs.nodefrag, runs.recycle, `${runs.nodefrag[0].flows} flows`),
  readTshark.line,
  row('TCP trace: batches({ recycle: true }) alone (baseline)', runs.tcpRecycle, runs.tcpRecycle, `${tcpPackets} packets`),
  row('TCP trace: FlowTracker', runs.tcpFlows, runs.tcpRecycle, `${runs.tcpFlows[0].flows} flows; ${tcpTshark.ratio}`),
  tcpTshark.line,
  row('TCP trace: FlowTracker reassembling every connection', runs.tcpStreams, runs.tcpRecycle, `${(median(runs.tcpStreams.map((x) => x.payload / x.seconds)) / 1e6).toFixed(0)} MB/s of payload, ${runs.tcpStreams[0].payload} bytes, gaps ${runs.tcpStreams[0].gaps}`),
  '',
  `per round, × baseline by CPU time (read trace, defrag on): ${runs.flows.map((x, i) => f2(runs.recycle[i].cpuSeconds / x.cpuSeconds)).join(', ')}; × tshark by CPU time (read trace): ${runs.flows.map((x, i) => (runs.tshark[i].cpuSeconds / x.cpuSeconds).toFixed(1)).join(', ')}; (TCP trace): ${runs.tcpFlows.map((x, i) => (runs.tcpTshark[i].cpuSeconds / x.cpuSeconds).toFixed(1)).join(', ')}`,
];
if (!values['skip-abandon']) {
  const a = JSON.parse(execFileSync(process.execPath, [path.join(__dirname, 'flows-abandon.js')], { encoding: 'utf8' }));
  lines.push('', `abandoned connections (no FIN), generated as a stream of batches, maxFlows ${a.maxFlows}, tcp idle timeout ${a.timeoutS} s:`, '', '| GB fed | packets | flows ended (idle / evicted) | active | held bytes | RSS MB |', '|---|---|---|---|---|---|');
  for (const s of a.samples) lines.push(`| ${s.gb} | ${s.packets} | ${s.idle} / ${s.evicted} | ${s.active} | ${s.held} | ${s.rssMB.toFixed(0)} |`);
}
const text = lines.join('\n');
console.log(text);
fs.writeFileSync(path.join(out, 'flows.md'), `${text}\n`);
