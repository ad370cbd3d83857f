'use strict';
// bench/replay: replay at top speed onto a veth pair, wirecap's replay()
// (in its own node process) against `tcpreplay --topspeed` on the same
// trace, alternating, over several rounds and two frame sizes. Reports
// packets/s over each tool's own send time, the share of frames the peer's
// interface counted (rx_packets), and CPU per packet of the whole process
// (bash `times`: user + system), each as a ratio against tcpreplay in the
// same round.
//   npm run bench:replay [-- --rounds 3 --packets 300000]      (root: it makes a namespace)
// With --timing, the timing at speed 1 instead, as test/replay.timing.test.ts
// measures it (test/helpers/replay-timing.ts), over several rounds: each
// round runs tcpreplay, wirecap, wirecap, tcpreplay on the 10 s trace of
// mixed gaps, and gives each tool's gap error percentiles, each run's, and
// the spread between one tool's own half-runs (the noise a comparison is
// judged by).
//   npm run bench:replay -- --timing [--rounds 3]
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');
const { pcapHeader } = require('./pcap-writer');

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, packets: { type: 'string', default: '300000' }, timing: { type: 'boolean', default: false } } });
const rounds = Number(values.rounds);
const packets = Number(values.packets);
const OUT = path.join(__dirname, 'out');
const NS = `wirecap-bench-replay-${process.pid}`;
const DEV = 'wbreplay0';
const PEER = 'wbreplay0p';
const ROOT = path.join(__dirname, '..');

const ip = (...args) => execFileSync('ip', args, { stdio: 'ignore' });

function makePair() {
  ip('netns', 'add', NS);
  ip('link', 'add', DEV, 'type', 'veth', 'peer', 'name', PEER, 'netns', NS);
  execFileSync('sysctl', ['-qw', `net.ipv6.conf.${DEV}.disable_ipv6=1`]);
  ip('link', 'set', DEV, 'up');
  ip('-n', NS, 'link', 'set', PEER, 'up');
  const deadline = Date.now() + 5000;
  while (fs.readFileSync(`/sys/class/net/${DEV}/operstate`, 'utf8').trim() !== 'up') {
    if (Date.now() > deadline) throw new Error('the veth pair did not come up');
    execFileSync('sleep', ['0.05']);
  }
}

function received() {
  return Number(execFileSync('ip', ['netns', 'exec', NS, 'cat', `/sys/class/net/${PEER}/statistics/rx_packets`], { encoding: 'utf8' }));
}

/** n broadcast frames of size bytes (an experimental EtherType), microsecond pcap. */
function writeTrace(file, n, size) {
  const header = pcapHeader();
  const record = Buffer.alloc(16 + size);
  const chunks = [header];
  for (let i = 0; i < n; i++) {
    const r = Buffer.from(record);
    r.writeUInt32LE(1_700_000_000 + Math.floor(i / 1_000_000), 0);
    r.writeUInt32LE(i % 1_000_000, 4);
    r.writeUInt32LE(size, 8);
    r.writeUInt32LE(size, 12);
    r.fill(0xff, 16, 22);
    r.writeUInt16BE(0x88b5, 28);
    r.writeUInt32BE(i, 30);
    chunks.push(r);
  }
  fs.writeFileSync(file, Buffer.concat(chunks));
}

/** Runs a command under bash; its output and the CPU seconds it used (bash `times`, children's line). */
function timed(command) {
  const out = execFileSync('bash', ['-c', `${command}; times`], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const lines = out.trim().split('\n');
  const cpu = lines
    .pop()
    .split(/\s+/)
    .map((t) => {
      const m = /(\d+)m([\d.]+)s/.exec(t);
      return Number(m[1]) * 60 + Number(m[2]);
    })
    .reduce((a, b) => a + b, 0);
  lines.pop(); // the shell's own line
  return { out: lines.join('\n'), cpu };
}

function run(tool, file) {
  const before = received();
  let sent;
  let seconds;
  let cpu;
  let threadCpu = null;
  if (tool === 'tcpreplay') {
    const r = timed(`tcpreplay -q --topspeed -i ${DEV} ${file} 2>&1`);
    const m = /Actual: (\d+) packets .* sent in ([\d.]+) seconds/.exec(r.out);
    sent = Number(m[1]);
    seconds = Number(m[2]);
    cpu = r.cpu;
  } else {
    const script = `require(${JSON.stringify(ROOT)}).replay(${JSON.stringify(file)}, ${JSON.stringify(DEV)}, { topspeed: true }).done.then((r) => console.log(JSON.stringify(r)))`;
    const r = timed(`${JSON.stringify(process.execPath)} -e ${JSON.stringify(script).replace(/\$/g, '\\$')}`);
    const result = JSON.parse(r.out.trim().split('\n').pop());
    sent = result.sent;
    seconds = result.elapsedNs / 1e9;
    cpu = r.cpu;
    threadCpu = result.cpuNs / 1e9;
  }
  execFileSync('sleep', ['0.2']);
  return { sent, arrived: received() - before, pps: sent / seconds, cpu, threadCpu };
}

/** Rounds of tcpreplay, wirecap, wirecap, tcpreplay at speed 1; a table row per tool and round. */
async function timingRounds() {
  require('./ts-require');
  const { makeNetns } = require('../test/helpers/netns.ts');
  const { figures, ORDER, runFile, spread, timedRun, writeMixedTrace } = require('../test/helpers/replay-timing.ts');
  const { promisify } = require('node:util');
  const execFile = promisify(require('node:child_process').execFile);
  fs.mkdirSync(OUT, { recursive: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirecap-bench-timing-'));
  const ns = makeNetns(1, 'bt');
  const device = ns.pairs[0].device;
  const file = path.join(dir, 'mixed.pcap');
  const packets = writeMixedTrace(file, 27);
  const wirecap = async () => {
    const script = `require(${JSON.stringify(ROOT)}).replay(${JSON.stringify(file)}, ${JSON.stringify(device)}).done.then((r) => console.log(JSON.stringify(r)))`;
    const { stdout } = await execFile(process.execPath, ['-e', script]);
    return JSON.parse(stdout.trim().split('\n').pop()).cpuNs;
  };
  const lines = [
    `Run ${new Date().toISOString()} on ${os.cpus().length} cores (${os.cpus()[0].model}), kernel ${os.release()}, tcpreplay ${/tcpreplay version: (\S+)/.exec(execFileSync('bash', ['-c', 'tcpreplay -V 2>&1'], { encoding: 'utf8' }))[1]}, node ${process.version}.`,
    `Trace: ${packets.length} frames over 10 s (seed 27); a veth pair into a namespace; ${rounds} rounds of ${ORDER.join(', ')}.`,
    '',
    '| round (load) | tool | duration error per run | gap p50 pooled (per run) | gap p99 pooled (per run) | p99 of each half-run | p99 spread of the tool\'s own half-runs | wirecap p99 − tcpreplay p99 | CPU per run |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  try {
    for (let round = 1; round <= rounds; round++) {
      const load = os.loadavg()[0].toFixed(1);
      const runs = [];
      for (const tool of ORDER) runs.push(await timedRun(tool, ns, device, file, packets, runFile(dir, tool, runs.length), wirecap));
      const f = { tcpreplay: figures(runs, 'tcpreplay'), wirecap: figures(runs, 'wirecap') };
      const noise = spread(f.wirecap, f.tcpreplay, 'halfP99us');
      for (const tool of ['tcpreplay', 'wirecap']) {
        const t = f[tool];
        const width = Math.max(...t.halfP99us) - Math.min(...t.halfP99us);
        const diff = tool === 'wirecap' ? `${(f.wirecap.p99us - f.tcpreplay.p99us).toFixed(2)} µs (noise ${noise} µs)` : '–';
        lines.push(
          `| ${round} (${load}) | ${tool} | ${t.durationErrorPct.map((d) => `${d >= 0 ? '+' : ''}${d} %`).join(', ')} | ${t.p50us} µs (${t.runP50us.join(', ')}) | ${t.p99us} µs (${t.runP99us.join(', ')}) | ${t.halfP99us.join(', ')} µs | ${width.toFixed(2)} µs | ${diff} | ${t.cpuMs.join(', ')} ms |`,
        );
        process.stderr.write(`${lines[lines.length - 1]}\n`);
      }
    }
  } finally {
    ns.remove();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const text = lines.join('\n');
  fs.writeFileSync(path.join(OUT, 'replay-timing.md'), `${text}\n`);
  process.stdout.write(`${text}\n`);
}

(() => {
  if (values.timing) return void timingRounds().catch((error) => {
    process.stderr.write(`${error.stack}\n`);
    process.exitCode = 1;
  });
  fs.mkdirSync(OUT, { recursive: true });
  makePair();
  const version = execFileSync(process.execPath, ['-p', "require('..').libVersion()"], { cwd: __dirname, encoding: 'utf8' }).trim();
  const tcpreplayVersion = /tcpreplay version: (\S+)/.exec(execFileSync('bash', ['-c', 'tcpreplay -V 2>&1'], { encoding: 'utf8' }))[1];
  const lines = [
    `Run ${new Date().toISOString()} on ${os.cpus().length} cores (${os.cpus()[0].model}), kernel ${os.release()}, ${version}, tcpreplay ${tcpreplayVersion}, node ${process.version}.`,
    `Trace: ${packets} frames per size; a veth pair into a namespace; ${rounds} rounds, tcpreplay and wirecap alternating (tcpreplay first in odd rounds).`,
    '',
    '| round | frame | tool | sent | arrived at the peer | packets/s | pps vs. tcpreplay | CPU µs per packet (process) | CPU per packet vs. tcpreplay | replay thread CPU µs per packet |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  const ratios = [];
  try {
    for (const size of [64, 1000]) {
      const file = path.join(OUT, `replay-${size}.pcap`);
      writeTrace(file, packets, size);
      for (let round = 1; round <= rounds; round++) {
        const order = round % 2 === 1 ? ['tcpreplay', 'wirecap'] : ['wirecap', 'tcpreplay'];
        const results = {};
        for (const tool of order) results[tool] = run(tool, file);
        const base = results.tcpreplay;
        for (const tool of ['tcpreplay', 'wirecap']) {
          const r = results[tool];
          const cpuPer = (r.cpu / r.sent) * 1e6;
          lines.push(
            `| ${round} | ${size} B | ${tool === 'tcpreplay' ? 'tcpreplay --topspeed' : 'wirecap replay() topspeed'} | ${r.sent} | ${((r.arrived / r.sent) * 100).toFixed(2)} % | ${Math.round(r.pps)} | ${(r.pps / base.pps).toFixed(3)}× | ${cpuPer.toFixed(2)} | ${(cpuPer / ((base.cpu / base.sent) * 1e6)).toFixed(3)}× | ${r.threadCpu === null ? '–' : ((r.threadCpu / r.sent) * 1e6).toFixed(2)} |`,
          );
        }
        ratios.push({ size, pps: results.wirecap.pps / base.pps });
        process.stderr.write(`${lines[lines.length - 1]}\n`);
      }
      fs.rmSync(file);
    }
  } finally {
    try {
      ip('link', 'del', DEV);
    } catch {
      // gone with the namespace
    }
    ip('netns', 'del', NS);
  }
  for (const size of [64, 1000]) {
    const mine = ratios.filter((r) => r.size === size).map((r) => r.pps).sort((a, b) => a - b);
    lines.push('', `${size} B frames: median packets/s vs. tcpreplay --topspeed ${mine[mine.length >> 1].toFixed(3)}×.`);
  }
  const text = lines.join('\n');
  fs.writeFileSync(path.join(OUT, 'replay.md'), `${text}\n`);
  process.stdout.write(`${text}\n`);
})();
