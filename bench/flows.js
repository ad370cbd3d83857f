'use strict';
// bench/flows: the flow table and TCP reassembly (issue 24), each figure a
// ratio against a baseline measured in the same run, readers in their own
// processes, rounds interleaved, medians.
//  1. The 2 M-packet read trace (bench/make-trace.js): batches({ recycle: true })
//     alone against the same batches through a FlowTracker. Its packets carry
//     their index in every byte, so most of them have IPv4 fragment bits set:
//     the run is made with defragmentation on (the default) and off.
//  2. A TCP trace (bench/make-flows-trace.js, 10,000 concurrent connections):
//     FlowTracker against `tshark -q -z conv,tcp`, and reassembly of every
//     connection (payload bytes/s, peak RSS).
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
const readTrace = path.join(out, 'read.pcap');
const tcpTrace = path.join(out, 'flows-tcp.pcap');
if (!fs.existsSync(readTrace)) execFileSync(process.execPath, [path.join(__dirname, 'make-trace.js'), readTrace], { stdio: 'inherit' });
if (!fs.existsSync(tcpTrace)) execFileSync(process.execPath, [path.join(__dirname, 'make-flows-trace.js'), tcpTrace], { stdio: 'inherit' });

const worker = (mode, file) => JSON.parse(execFileSync(process.execPath, [path.join(__dirname, 'flows-worker.js'), mode, file], { encoding: 'utf8', maxBuffer: 1 << 24 }));
function tshark(file) {
  const started = process.hrtime.bigint();
  execFileSync('tshark', ['-n', '-r', file, '-q', '-z', 'conv,tcp'], { stdio: ['ignore', 'ignore', 'ignore'] });
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const loadBefore = os.loadavg()[0];
worker('recycle', readTrace); // warm the page cache
const runs = { recycle: [], flows: [], nodefrag: [], tcpRecycle: [], tcpFlows: [], tcpStreams: [], tshark: [] };
for (let r = 0; r < rounds; r++) {
  runs.recycle.push(worker('recycle', readTrace));
  runs.flows.push(worker('flows', readTrace));
  runs.nodefrag.push(worker('nodefrag', readTrace));
  runs.tcpRecycle.push(worker('recycle', tcpTrace));
  runs.tcpFlows.push(worker('flows', tcpTrace));
  runs.tcpStreams.push(worker('streams', tcpTrace));
  if (r === 0) runs.tshark.push(tshark(tcpTrace));
}
const rate = (list) => median(list.map((x) => x.packets / x.seconds));
const cpu = (list) => median(list.map((x) => (x.cpuSeconds / x.packets) * 1e9));
const tcpPackets = runs.tcpFlows[0].packets;
const lines = [
  `machine: ${os.cpus()[0].model}, ${os.cpus().length} cores, kernel ${os.release()}, node ${process.version}; load average ${loadBefore.toFixed(1)} before, ${os.loadavg()[0].toFixed(1)} after; ${rounds} rounds, medians`,
  '',
  '| run | packets/s | × baseline | CPU ns/packet | × baseline by CPU time | peak RSS MB | notes |',
  '|---|---|---|---|---|---|---|',
  `| read trace: batches({ recycle: true }) alone (baseline) | ${(rate(runs.recycle) / 1e6).toFixed(2)} M | 1 | ${cpu(runs.recycle).toFixed(0)} | 1 | ${median(runs.recycle.map((x) => x.maxRssMB)).toFixed(0)} | ${runs.recycle[0].packets} packets |`,
  `| read trace: FlowTracker, defrag on | ${(rate(runs.flows) / 1e6).toFixed(2)} M | ${(rate(runs.flows) / rate(runs.recycle)).toFixed(2)} | ${cpu(runs.flows).toFixed(0)} | ${(cpu(runs.recycle) / cpu(runs.flows)).toFixed(2)} | ${median(runs.flows.map((x) => x.maxRssMB)).toFixed(0)} | ${runs.flows[0].flows} flows (most packets are fragments) |`,
  `| read trace: FlowTracker, defrag off | ${(rate(runs.nodefrag) / 1e6).toFixed(2)} M | ${(rate(runs.nodefrag) / rate(runs.recycle)).toFixed(2)} | ${cpu(runs.nodefrag).toFixed(0)} | ${(cpu(runs.recycle) / cpu(runs.nodefrag)).toFixed(2)} | ${median(runs.nodefrag.map((x) => x.maxRssMB)).toFixed(0)} | ${runs.nodefrag[0].flows} flows |`,
  `| TCP trace: batches({ recycle: true }) alone (baseline) | ${(rate(runs.tcpRecycle) / 1e6).toFixed(2)} M | 1 | ${cpu(runs.tcpRecycle).toFixed(0)} | 1 | ${median(runs.tcpRecycle.map((x) => x.maxRssMB)).toFixed(0)} | ${tcpPackets} packets |`,
  `| TCP trace: FlowTracker | ${(rate(runs.tcpFlows) / 1e6).toFixed(2)} M | ${(rate(runs.tcpFlows) / rate(runs.tcpRecycle)).toFixed(2)} | ${cpu(runs.tcpFlows).toFixed(0)} | ${(cpu(runs.tcpRecycle) / cpu(runs.tcpFlows)).toFixed(2)} | ${median(runs.tcpFlows.map((x) => x.maxRssMB)).toFixed(0)} | ${runs.tcpFlows[0].flows} flows; ${(rate(runs.tcpFlows) / (tcpPackets / runs.tshark[0].seconds)).toFixed(1)}× tshark -z conv,tcp |`,
  `| TCP trace: tshark -q -z conv,tcp | ${(tcpPackets / runs.tshark[0].seconds / 1e6).toFixed(3)} M | ${(tcpPackets / runs.tshark[0].seconds / rate(runs.tcpRecycle)).toFixed(3)} | - | - | - | one round |`,
  `| TCP trace: FlowTracker reassembling every connection | ${(rate(runs.tcpStreams) / 1e6).toFixed(2)} M | ${(rate(runs.tcpStreams) / rate(runs.tcpRecycle)).toFixed(2)} | ${cpu(runs.tcpStreams).toFixed(0)} | ${(cpu(runs.tcpRecycle) / cpu(runs.tcpStreams)).toFixed(2)} | ${median(runs.tcpStreams.map((x) => x.maxRssMB)).toFixed(0)} | ${(median(runs.tcpStreams.map((x) => x.payload / x.seconds)) / 1e6).toFixed(0)} MB/s of payload, ${runs.tcpStreams[0].payload} bytes, gaps ${runs.tcpStreams[0].gaps} |`,
];
if (!values['skip-abandon']) {
  const a = JSON.parse(execFileSync(process.execPath, [path.join(__dirname, 'flows-abandon.js')], { encoding: 'utf8' }));
  lines.push('', `abandoned connections (no FIN), generated as a stream of batches, maxFlows ${a.maxFlows}, tcp idle timeout ${a.timeoutS} s:`, '', '| GB fed | packets | flows ended (idle / evicted) | active | held bytes | RSS MB |', '|---|---|---|---|---|---|');
  for (const s of a.samples) lines.push(`| ${s.gb} | ${s.packets} | ${s.idle} / ${s.evicted} | ${s.active} | ${s.held} | ${s.rssMB.toFixed(0)} |`);
}
const text = lines.join('\n');
console.log(text);
fs.writeFileSync(path.join(out, 'flows.md'), `${text}\n`);
