'use strict';
// bench/multidump: two veth pairs into a network namespace this script makes
// and removes; one udp_blast per pair sends at its max rate to the
// namespace's own address (a python3 socket there takes the datagrams), and
// both root-side devices are saved into one pcapng file by
// `dumpcap -i a -i b -w` and by wirecap's liveDump([a, b]) (bench/dumper.js),
// one at a time, over several rounds. Reports packets in the file / packets
// sent (capinfos) and CPU time per packet saved against dumpcap's.
//   npm run bench:multidump [-- --rounds 3]      (root)
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');
const { BIN, PAYLOAD, cpuSeconds, sleep, start } = require('./load');

const BUFFER = 32 << 20; // the same kernel buffer per device for both
const SECONDS = 2;
const PORT = 21000;
const rounds = Number(parseArgs({ options: { rounds: { type: 'string', default: '3' } } }).values.rounds);
const OUT = path.join(__dirname, 'out');
const NS = `wirecap-bench-${process.pid}`;
const PAIRS = [
  { device: 'wbench0', peer: 'wbench0p', root: '10.250.1.1', address: '10.250.1.2' },
  { device: 'wbench1', peer: 'wbench1p', root: '10.250.2.1', address: '10.250.2.2' },
];

const ip = (...a) => execFileSync('ip', a, { stdio: 'ignore' });
function setUp() {
  ip('netns', 'add', NS);
  for (const p of PAIRS) {
    ip('link', 'add', p.device, 'type', 'veth', 'peer', 'name', p.peer);
    ip('link', 'set', p.peer, 'netns', NS);
    execFileSync('sysctl', ['-qw', `net.ipv6.conf.${p.device}.disable_ipv6=1`]);
    execFileSync('ip', ['netns', 'exec', NS, 'sysctl', '-qw', `net.ipv6.conf.${p.peer}.disable_ipv6=1`]);
    ip('addr', 'add', `${p.root}/24`, 'dev', p.device);
    ip('link', 'set', p.device, 'up');
    ip('-n', NS, 'addr', 'add', `${p.address}/24`, 'dev', p.peer);
    ip('-n', NS, 'link', 'set', p.peer, 'up');
    const mac = /link\/ether ([0-9a-f:]+)/.exec(execFileSync('ip', ['-n', NS, 'link', 'show', p.peer], { encoding: 'utf8' }))[1];
    ip('neigh', 'replace', p.address, 'lladdr', mac, 'dev', p.device, 'nud', 'permanent');
  }
}
function tearDown() {
  for (const p of PAIRS) {
    try {
      ip('link', 'del', p.device);
    } catch {
      // gone with the namespace
    }
  }
  try {
    ip('netns', 'del', NS);
  } catch {
    // never made
  }
}

function packetsInFile(file) {
  const text = execFileSync('capinfos', ['-M', '-c', file], { encoding: 'utf8' });
  return Number(/Number of packets:\s+(\d+)/.exec(text)[1]);
}

/** Both senders at once, to the namespace's addresses only; bounded by SECONDS. */
async function blastBoth() {
  // A bound socket in the namespace takes the datagrams (no ICMP back); it never reads them.
  const sink = start('ip', ['netns', 'exec', NS, 'python3', '-c',
    `import socket,sys,time\nss=[socket.socket(socket.AF_INET,socket.SOCK_DGRAM) for _ in range(2)]\n` +
    `[s.bind((a,${PORT})) for s,a in zip(ss,${JSON.stringify(PAIRS.map((p) => p.address))})]\nsys.stderr.write('bound\\n');sys.stderr.flush()\ntime.sleep(${SECONDS + 5})`], 'bound');
  await sink.ready;
  const senders = PAIRS.map((p) =>
    start(path.join(BIN, 'udp_blast'), [String(PORT), '50000000', String(SECONDS * 1000), '0', String(PAYLOAD), p.address], null),
  );
  const sent = (await Promise.all(senders.map((s) => s.exited))).map((r) => JSON.parse(r.stdout).sent);
  sink.child.kill('SIGTERM');
  await sink.exited;
  return sent;
}

async function run(consumer) {
  const file = path.join(OUT, `multidump-${consumer}.pcapng`);
  fs.rmSync(file, { force: true });
  const devices = PAIRS.map((p) => p.device);
  const filter = `udp and dst port ${PORT}`;
  const proc =
    consumer === 'dumpcap'
      ? start('dumpcap', [...devices.flatMap((d) => ['-i', d, '-f', filter, '-B', String(BUFFER >> 20)]), '-w', file], 'File:')
      : start(process.execPath, [path.join(__dirname, 'dumper.js'), String(PORT), String(BUFFER), file, devices.join(',')], 'ready');
  await proc.ready;
  await sleep(300);
  const cpuBefore = cpuSeconds(proc.child.pid);
  const sent = await blastBoth();
  await sleep(500); // the kernel's read timeout, and the last writes
  const cpu = cpuSeconds(proc.child.pid) - cpuBefore;
  proc.child.kill(consumer === 'dumpcap' ? 'SIGINT' : 'SIGTERM');
  const { stdout, stderr } = await proc.exited;
  // Where packets were lost: the kernel's buffer drops (ps_drop) and the consumer's own.
  let kernelDrops = 0;
  let ownDrops = 0;
  if (consumer === 'dumpcap') {
    for (const m of stderr.matchAll(/pcap:(\d+)\/dumpcap:(\d+)/g)) {
      kernelDrops += Number(m[1]);
      ownDrops += Number(m[2]);
    }
  } else {
    const result = JSON.parse(stdout);
    for (const part of result.interfaces) kernelDrops += part.stats.dropped;
  }
  const saved = packetsInFile(file);
  const interfaces = /Number of interfaces in file:\s+(\d+)/.exec(execFileSync('capinfos', ['-I', file], { encoding: 'utf8' }));
  fs.rmSync(file);
  return { sent: sent[0] + sent[1], saved, cpu, kernelDrops, ownDrops, interfaces: interfaces ? Number(interfaces[1]) : null };
}

(async () => {
  execFileSync(path.join(__dirname, 'build.sh'), { stdio: 'inherit' });
  fs.mkdirSync(OUT, { recursive: true });
  tearDown();
  setUp();
  process.once('SIGINT', () => {
    tearDown();
    process.exit(130);
  });
  const lines = [
    `Run ${new Date().toISOString()} on ${os.cpus().length} cores (${os.cpus()[0].model}), kernel ${os.release()}, node ${process.version}.`,
    `Load: two udp_blast senders at max rate, ${PAYLOAD}-byte payloads, one per veth pair into a namespace, for ${SECONDS} s; kernel buffer ${BUFFER >> 20} MiB per device; ${rounds} rounds.`,
    '',
    '| round | consumer | sent (both devices) | in file / sent | dropped: kernel / consumer | CPU µs per packet | CPU per packet vs. dumpcap |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  const names = { dumpcap: 'dumpcap -i a -i b -w', wirecap: 'wirecap liveDump([a, b])' };
  const ratios = [];
  const fractions = { dumpcap: [], wirecap: [] };
  try {
    for (let round = 1; round <= rounds; round++) {
      const results = {};
      // Alternate who goes first: the machine is shared.
      for (const consumer of round % 2 ? ['dumpcap', 'wirecap'] : ['wirecap', 'dumpcap']) results[consumer] = await run(consumer);
      const perPacket = (r) => r.cpu / r.saved;
      for (const consumer of ['dumpcap', 'wirecap']) {
        const r = results[consumer];
        if (r.interfaces !== 2) throw new Error(`${consumer}'s file has ${r.interfaces} interfaces`);
        const ratio = perPacket(r) / perPacket(results.dumpcap);
        if (consumer === 'wirecap') ratios.push(ratio);
        fractions[consumer].push(r.saved / r.sent);
        lines.push(
          `| ${round} | ${names[consumer]} | ${r.sent} | ${((100 * r.saved) / r.sent).toFixed(2)} % | ${r.kernelDrops} / ${r.ownDrops} | ${(1e6 * perPacket(r)).toFixed(3)} | ${ratio.toFixed(3)}× |`,
        );
        console.log(lines[lines.length - 1]);
      }
    }
  } finally {
    tearDown();
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  lines.push(
    '',
    `Medians of ${rounds} rounds: in file / sent, dumpcap ${(100 * median(fractions.dumpcap)).toFixed(2)} %, wirecap ${(100 * median(fractions.wirecap)).toFixed(2)} %; ` +
      `wirecap CPU per packet vs. dumpcap ${median(ratios).toFixed(3)}×`,
  );
  console.log(lines.join('\n'));
  fs.writeFileSync(path.join(OUT, 'multidump.md'), `${lines.join('\n')}\n`);
})();
