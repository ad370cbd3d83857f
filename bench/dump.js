'use strict';
// bench/dump: one loopback UDP load at the sender's max rate, saved to a
// file by a C pcap_dump loop (bench/pcap_dump_loop.c), by tcpdump -w and by
// wirecap's liveDump (bench/dumper.js), one at a time, over several rounds.
// Reports packets in the file / packets sent (counted by capinfos) and CPU
// time per packet saved, as a ratio against tcpdump in the same round.
//   npm run bench:dump [-- --rounds 3]      (root: it captures on lo)
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');
const { BIN, PAYLOAD, blast, cpuSeconds, sleep, start } = require('./load');

const BUFFER = 32 << 20; // the same kernel buffer for every consumer
const SECONDS = 2;
const rounds = Number(parseArgs({ options: { rounds: { type: 'string', default: '3' } } }).values.rounds);
const OUT = path.join(__dirname, 'out');

execFileSync(path.join(__dirname, 'build.sh'), { stdio: 'inherit' });
fs.mkdirSync(OUT, { recursive: true });

const NAMES = { c: 'C pcap_dump loop', tcpdump: 'tcpdump -w', wirecap: 'wirecap liveDump()' };

function packetsInFile(file) {
  const text = execFileSync('capinfos', ['-M', '-c', file], { encoding: 'utf8' });
  return Number(/Number of packets:\s+(\d+)/.exec(text)[1]);
}

async function run(consumer) {
  const port = 20000 + Math.floor(Math.random() * 40000);
  const filter = `udp and dst port ${port}`;
  const file = path.join(OUT, `dump-${consumer}.pcap`);
  fs.rmSync(file, { force: true });
  let proc;
  if (consumer === 'c') proc = start(path.join(BIN, 'pcap_dump_loop'), ['lo', filter, String(BUFFER), file], 'ready');
  else if (consumer === 'tcpdump')
    proc = start('tcpdump', ['-i', 'lo', '-n', '-s', '262144', '-B', String(BUFFER / 1024), '-w', file, filter], 'listening');
  else proc = start(process.execPath, [path.join(__dirname, 'dumper.js'), String(port), String(BUFFER), file], 'ready');
  await proc.ready;
  await sleep(200);
  const cpuBefore = cpuSeconds(proc.child.pid);
  const sent = await blast(port, 0, SECONDS);
  await sleep(500); // the kernel's read timeout, and the last writes
  const cpu = cpuSeconds(proc.child.pid) - cpuBefore;
  proc.child.kill(consumer === 'tcpdump' ? 'SIGINT' : 'SIGTERM');
  await proc.exited;
  const saved = packetsInFile(file);
  fs.rmSync(file);
  return { sent: sent.sent, rate: sent.rate, saved, cpu };
}

(async () => {
  const version = execFileSync(process.execPath, ['-p', "require('..').libVersion()"], { cwd: __dirname, encoding: 'utf8' }).trim();
  const lines = [
    `Run ${new Date().toISOString()} on ${os.cpus().length} cores (${os.cpus()[0].model}), ${version}, node ${process.version}.`,
    `Load: udp_blast at max rate, ${PAYLOAD}-byte payloads to 127.0.0.1 for ${SECONDS} s; kernel buffer ${BUFFER >> 20} MiB; ${rounds} rounds.`,
    '',
    '| round | consumer | sent | in file / sent | CPU µs per packet | CPU per packet vs. tcpdump |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  const ratios = [];
  for (let round = 1; round <= rounds; round++) {
    const results = {};
    for (const consumer of ['c', 'tcpdump', 'wirecap']) results[consumer] = await run(consumer);
    const perPacket = (r) => r.cpu / r.saved;
    for (const [consumer, r] of Object.entries(results)) {
      const ratio = perPacket(r) / perPacket(results.tcpdump);
      if (consumer === 'wirecap') ratios.push(ratio);
      lines.push(
        `| ${round} | ${NAMES[consumer]} | ${r.sent} (${Math.round(r.rate / 1000)}k/s) | ${((100 * r.saved) / r.sent).toFixed(2)} % | ${(1e6 * perPacket(r)).toFixed(2)} | ${ratio.toFixed(3)}× |`,
      );
      console.log(lines[lines.length - 1]);
    }
  }
  const median = [...ratios].sort((a, b) => a - b)[Math.floor(ratios.length / 2)];
  lines.push('', `wirecap CPU per packet vs. tcpdump, median of ${rounds} rounds: ${median.toFixed(3)}×`);
  console.log(lines.join('\n'));
  fs.writeFileSync(path.join(OUT, 'dump.md'), `${lines.join('\n')}\n`);
})();
