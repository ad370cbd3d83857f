'use strict';
// bench/stream: a 1-million-packet trace (bench/make-trace.js) exported by
// streamPackets() to a local collector, against a plain @grpc/grpc-js client
// stream of the same messages with no capture code, same run, each side in
// its own process (bench/stream-peer.js). Reports packets/s, the ratio,
// peak RSS of both sides and loss (packets the collector counted vs. sent).
//   npm run bench:stream [-- --rounds 3]
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const args = process.argv.slice(2);
const rounds = Number(args[args.indexOf('--rounds') + 1] || 3);
const COUNT = 1_000_000;
const trace = path.join(__dirname, 'out', 'stream.pcap');
if (!fs.existsSync(trace)) {
  fs.mkdirSync(path.dirname(trace), { recursive: true });
  execFileSync(process.execPath, [path.join(__dirname, 'make-trace.js'), trace, String(COUNT)], { stdio: 'inherit' });
}
const PEER = path.join(__dirname, 'stream-peer.js');

function start(role, ...rest) {
  const child = spawn(process.execPath, [PEER, role, ...rest.map(String)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = [];
  let waiting = [];
  child.stdout.on('data', (d) => {
    for (const line of String(d).trim().split('\n')) {
      lines.push(JSON.parse(line));
      waiting.forEach((w) => w());
      waiting = [];
    }
  });
  const line = async (n) => {
    while (lines.length < n) await new Promise((r) => waiting.push(r));
    return lines[n - 1];
  };
  return { child, line };
}

async function run(exporter) {
  const collector = start('collector');
  const { port } = await collector.line(1);
  const sender = start(exporter, port, exporter === 'wirecap' ? trace : COUNT);
  const sent = await sender.line(1);
  collector.child.kill('SIGTERM');
  const received = await collector.line(2);
  return { rate: sent.packets / sent.seconds, sent: sent.packets, received: received.packets, exporterRss: sent.maxRssMB, collectorRss: received.maxRssMB };
}

(async () => {
  const results = { plain: [], wirecap: [] };
  for (let r = 0; r < rounds; r++) for (const e of ['plain', 'wirecap']) results[e].push(await run(e));
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const rate = (e) => median(results[e].map((x) => x.rate));
  const lines = [
    `${COUNT} packets (${(fs.statSync(trace).size / 1e6).toFixed(0)} MB trace), ${rounds} rounds, median rate, worst RSS; node ${process.version}`,
    '',
    '| exporter | packets/s | × plain | exporter peak RSS | collector peak RSS | lost |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const e of ['plain', 'wirecap']) {
    const lost = results[e].reduce((n, x) => n + (x.sent - x.received), 0);
    lines.push(
      `| ${e === 'plain' ? 'plain @grpc/grpc-js client stream' : 'wirecap streamPackets(openOffline())'} | ${Math.round(rate(e) / 1000)}k | ${(rate(e) / rate('plain')).toFixed(3)} | ${Math.max(...results[e].map((x) => x.exporterRss)).toFixed(1)} MB | ${Math.max(...results[e].map((x) => x.collectorRss)).toFixed(1)} MB | ${lost} |`,
    );
  }
  const text = lines.join('\n');
  console.log(text);
  fs.writeFileSync(path.join(__dirname, 'out', 'stream.md'), `${text}\n`);
})();
