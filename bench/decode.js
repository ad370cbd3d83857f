'use strict';
// bench/decode: the 2-million-packet trace of bench/read (bench/make-trace.js:
// Ethernet/IPv4/UDP to port 53, so every packet also goes through the DNS
// decoder, whose garbage payloads stop it early) decoded by:
//   - PacketColumns.fill() per batch (the batch path),
//   - decode() per packet (the object decoder),
//   - node_pcap's decoder (pcap.decode.packet) per packet, the baseline,
//   - nothing (the read alone), to show what decoding adds end to end.
// Each runs in its own process (bench/decoder.js), rounds interleave them;
// decode rates count only the time spent in the decoder, and every figure
// is also a ratio against node_pcap's rate in the same run (median of rounds).
//   npm run bench:decode [-- --rounds 3 --node-pcap DIR]
// node_pcap is installed for the bench only, as for bench/read:
// mkdir -p /tmp/np && cd /tmp/np && npm install pcap@3 --foreground-scripts
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '3' }, 'node-pcap': { type: 'string', default: '/tmp/np/node_modules/pcap' } },
});
const rounds = Number(values.rounds);
const nodePcap = values['node-pcap'];
const trace = path.join(__dirname, 'out', 'read.pcap');

if (!fs.existsSync(trace)) {
  fs.mkdirSync(path.dirname(trace), { recursive: true });
  execFileSync(process.execPath, [path.join(__dirname, 'make-trace.js'), trace], { stdio: 'inherit' });
}
if (!fs.existsSync(path.join(nodePcap, 'decode', 'index.js'))) {
  console.error(`node_pcap not found at ${nodePcap}: install it as the header says, or pass --node-pcap DIR`);
  process.exit(1);
}

const run = (mode) => JSON.parse(execFileSync(process.execPath, [path.join(__dirname, 'decoder.js'), mode, trace, nodePcap]));
const modes = ['read', 'columns', 'decode', 'node_pcap'];
run('read'); // warm the page cache
const results = Object.fromEntries(modes.map((m) => [m, []]));
for (let round = 0; round < rounds; round++) for (const m of modes) results[m].push(run(m));

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const decodeRate = (m) => median(results[m].map((x) => x.packets / x.decodeSeconds));
const totalRate = (m) => median(results[m].map((x) => x.packets / x.totalSeconds));
const base = decodeRate('node_pcap');
const packets = results.read[0].packets;
const lines = [
  `trace: ${packets} packets (${path.basename(trace)}), ${rounds} rounds, medians; ${os.cpus()[0].model}, ${os.cpus().length} cores, kernel ${os.release()}, node ${process.version}`,
  '',
  '| decoder | decode packets/s | × node_pcap | read + decode packets/s | packets |',
  '|---|---|---|---|---|',
];
for (const m of modes) {
  const all = results[m].every((x) => x.packets === packets) ? 'all' : 'MISMATCH';
  const rate = m === 'read' ? '-' : `${(decodeRate(m) / 1e6).toFixed(2)} M`;
  const ratio = m === 'read' ? '-' : (decodeRate(m) / base).toFixed(2);
  lines.push(`| ${m} | ${rate} | ${ratio} | ${(totalRate(m) / 1e6).toFixed(2)} M | ${all} |`);
}
const text = lines.join('\n');
console.log(text);
fs.writeFileSync(path.join(__dirname, 'out', 'decode.md'), `${text}\n`);
