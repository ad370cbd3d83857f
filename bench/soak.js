'use strict';
// bench/soak: 10 M packets on lo to a per-packet consumer (bench/consumer.js)
// that stops pulling for the first half of the load. Peak RSS must stay
// within the bound the README's queueBytes promises (queue + kernel ring +
// node), and every packet must be accounted for: captured = delivered +
// consumerDropped, delivered = packets the consumer counted.
//   npm run soak [-- --packets 10000000 --rate 400000]   (root)
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const { parseArgs } = require('node:util');
const { blast, peakRssMB, sleep, start } = require('./load');

const { values } = parseArgs({ options: { packets: { type: 'string', default: '10000000' }, rate: { type: 'string', default: '400000' } } });
const args = { packets: Number(values.packets), rate: Number(values.rate) };
const BUFFER = 32 << 20;
const QUEUE = 32 << 20; // openLive's default queueBytes
// The documented bound: the queue, the kernel ring, and node itself (about 60 MB with wirecap loaded).
const RSS_BOUND_MB = (QUEUE + BUFFER) / 2 ** 20 + 86;

execFileSync(path.join(__dirname, 'build.sh'), { stdio: 'inherit' });

(async () => {
  const port = 20000 + Math.floor(Math.random() * 40000);
  const seconds = args.packets / args.rate;
  const proc = start(process.execPath, [path.join(__dirname, 'consumer.js'), 'stall', String(port), String(BUFFER), String(Math.round((seconds * 1000) / 2))], 'ready');
  await proc.ready;
  await sleep(200);
  const sent = await blast(port, args.rate, seconds * 3, 64, args.packets);
  await sleep(1000);
  const rss = peakRssMB(proc.child.pid);
  proc.child.kill('SIGTERM');
  const { stdout } = await proc.exited;
  const r = JSON.parse(stdout);
  const s = r.stats;
  const exact = s.captured === s.delivered + s.consumerDropped && s.delivered === r.counted;
  const result = {
    sent: sent.sent,
    seconds: Number(sent.seconds.toFixed(1)),
    captured: s.captured,
    delivered: s.delivered,
    consumerDropped: s.consumerDropped,
    kernelDropped: s.dropped,
    exact,
    peakRssMB: Number(rss.toFixed(1)),
    rssBoundMB: RSS_BOUND_MB,
    loopP99Ms: Number(r.loopP99Ms.toFixed(2)),
  };
  console.log(JSON.stringify(result));
  process.exitCode = exact && rss <= RSS_BOUND_MB && sent.sent === args.packets ? 0 : 1;
})();
