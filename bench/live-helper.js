'use strict';
// bench/live-helper: the same loopback UDP load (bench/udp_blast.c at the
// sender's maximum) captured by wirecap's batches() in-process and through
// the capture helper (src-native/helper/), alternating, in the same run.
// Reports, per round and as medians, the helper's captured/sent against
// in-process's, and its CPU per captured packet (the node process plus the
// helper) against in-process's.
//   node bench/live-helper.js [rounds]     (root: it captures on lo)
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const { PAYLOAD, blast, cpuSeconds, report, sleep, start } = require('./load');

const BUFFER = 32 << 20;
const SECONDS = 3;
const ROUNDS = Number(process.argv[2] ?? 5);

execFileSync(path.join(__dirname, 'build.sh'), { stdio: 'inherit' });

/** The pids whose parent is pid (the helper, for a capture through it). */
function children(pid) {
  return fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return Number(fs.readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1].split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function run(helper) {
  const port = 20000 + Math.floor(Math.random() * 40000);
  const proc = start(process.execPath, [path.join(__dirname, 'consumer.js'), 'batch', String(port), String(BUFFER), '0', helper ? 'on' : 'off'], 'ready');
  await proc.ready;
  await sleep(200);
  const pids = [proc.child.pid, ...children(proc.child.pid)];
  if (pids.length !== (helper ? 2 : 1)) throw new Error(`expected ${helper ? 'a helper' : 'no helper'}, found pids ${pids}`);
  const cpu = () => pids.map((pid) => cpuSeconds(pid));
  const before = cpu();
  const sent = await blast(port, 0, SECONDS);
  await sleep(500); // the read timeout, and the last batches
  const each = cpu().map((c, i) => c - before[i]);
  const used = each.reduce((a, b) => a + b, 0);
  proc.child.kill('SIGTERM');
  const { stdout } = await proc.exited;
  const r = JSON.parse(stdout);
  return { sent: sent.sent, rate: sent.rate, captured: r.counted, kernelDropped: r.stats.dropped, consumerDropped: r.stats.consumerDropped, cpu: used, helperCpu: each[1] ?? 0 };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

(async () => {
  const { out, save } = report('live-helper');
  out(`Load: udp_blast at its maximum, ${PAYLOAD}-byte payloads to 127.0.0.1 for ${SECONDS} s; kernel buffer ${BUFFER >> 20} MiB; wirecap batches().`);
  out();
  out('| round | consumer | sent (k pkt/s) | captured / sent | kernel drops | consumer drops | CPU µs / captured packet (of it, the helper) |');
  out('| --- | --- | --- | --- | --- | --- | --- |');
  const capturedRatios = [];
  const cpuRatios = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const results = {};
    // Alternate which goes first, so neither always meets a warmer machine.
    for (const helper of round % 2 ? [false, true] : [true, false]) {
      const r = await run(helper);
      results[helper ? 'helper' : 'in'] = r;
      out(
        `| ${round} | ${helper ? 'through the helper' : 'in-process'} | ${r.sent} (${Math.round(r.rate / 1000)}) | ${((100 * r.captured) / r.sent).toFixed(2)} % | ${r.kernelDropped} | ${r.consumerDropped} | ${((r.cpu / r.captured) * 1e6).toFixed(3)}${helper ? ` (${((r.helperCpu / r.captured) * 1e6).toFixed(3)})` : ''} |`,
      );
    }
    const { in: a, helper: b } = results;
    capturedRatios.push(b.captured / b.sent / (a.captured / a.sent));
    cpuRatios.push(b.cpu / b.captured / (a.cpu / a.captured));
  }
  out();
  out(`Through the helper vs. in-process, median of ${ROUNDS} rounds: captured/sent ${median(capturedRatios).toFixed(3)}× (per round: ${capturedRatios.map((x) => x.toFixed(3)).join(', ')}); ` +
    `CPU per captured packet ${median(cpuRatios).toFixed(3)}× (per round: ${cpuRatios.map((x) => x.toFixed(3)).join(', ')}).`);
  save();
})();
