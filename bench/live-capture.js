'use strict';
// bench/live-capture: the same loopback UDP load (bench/udp_blast.c, sendmmsg)
// captured by a C libpcap loop (bench/pcap_count.c), tcpdump -w /dev/null,
// wirecap's per-packet iterator and its batch API, one consumer at a time.
// Every figure is a ratio against a baseline measured in the same run.
//   npm run bench:live            (root: it captures on lo)
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const { BIN, PAYLOAD, blast, peakRssMB, report, sleep, start } = require('./load');

const BUFFER = 32 << 20; // the same kernel buffer for every consumer
const SECONDS = 2;

execFileSync(path.join(__dirname, 'build.sh'), { stdio: 'inherit' });

/** Runs one consumer under one load; returns what it captured and what it cost. */
async function run(consumer, rate, port) {
  const filter = `udp and dst port ${port}`;
  let proc;
  if (consumer === 'c') proc = start(path.join(BIN, 'pcap_count'), ['lo', filter, String(BUFFER)], 'ready');
  else if (consumer === 'tcpdump')
    proc = start('tcpdump', ['-i', 'lo', '-n', '-s', '262144', '-B', String(BUFFER / 1024), '-w', '/dev/null', filter], 'listening');
  else proc = start(process.execPath, [path.join(__dirname, 'consumer.js'), consumer, String(port), String(BUFFER), '10000'], 'ready');
  await proc.ready;
  await sleep(200);
  const sent = await blast(port, rate, consumer === 'stall' ? 12 : SECONDS);
  await sleep(500); // the kernel's read timeout, and the consumer's last batches
  const rss = peakRssMB(proc.child.pid);
  proc.child.kill(consumer === 'tcpdump' ? 'SIGINT' : 'SIGTERM');
  const { stdout, stderr } = await proc.exited;
  if (consumer === 'c') {
    const r = JSON.parse(stdout);
    return { sent, captured: r.captured, kernelDropped: r.dropped, consumerDropped: 0, rssMB: rss };
  }
  if (consumer === 'tcpdump') {
    const number = (label) => Number(new RegExp(`(\\d+) packets? ${label}`).exec(stderr)[1]);
    return { sent, captured: number('captured'), kernelDropped: number('dropped by kernel'), consumerDropped: 0, rssMB: rss };
  }
  const r = JSON.parse(stdout);
  return {
    sent,
    captured: r.counted,
    kernelDropped: r.stats.dropped,
    consumerDropped: r.stats.consumerDropped,
    rssMB: r.maxRssMB,
    loopP99Ms: r.loopP99Ms,
    exact: r.stats.captured === r.stats.delivered + r.stats.consumerDropped && r.stats.delivered === r.counted,
  };
}

const pct = (x) => `${(100 * x).toFixed(2)} %`;

(async () => {
  const { out, save } = report('live-capture');
  out(`Load: udp_blast, ${PAYLOAD}-byte payloads to 127.0.0.1 for ${SECONDS} s; kernel buffer ${BUFFER >> 20} MiB for every consumer.`);
  out();
  out('| load | consumer | captured / sent | kernel drops | consumer drops | sender rate vs. beside C | event-loop p99 | peak RSS |');
  out('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const [label, rate] of [['max rate', 0], ['150k pkt/s', 150000]]) {
    let baselineRate = null;
    for (const consumer of ['c', 'tcpdump', 'iter', 'batch']) {
      const port = 20000 + Math.floor(Math.random() * 40000);
      const r = await run(consumer, rate, port);
      baselineRate ??= r.sent.rate;
      const name = { c: 'C pcap_dispatch loop', tcpdump: 'tcpdump -w /dev/null', iter: 'wirecap for await (packets)', batch: 'wirecap batches()' }[consumer];
      out(
        `| ${label} (${Math.round(r.sent.rate / 1000)}k pkt/s sent) | ${name} | ${pct(r.captured / r.sent.sent)} | ${r.kernelDropped} | ${r.consumerDropped} | ${(r.sent.rate / baselineRate).toFixed(3)}× | ${r.loopP99Ms === undefined ? '–' : `${r.loopP99Ms.toFixed(2)} ms`} | ${r.rssMB.toFixed(1)} MB |`,
      );
    }
  }
  out();
  const stall = await run('stall', 150000, 20000 + Math.floor(Math.random() * 40000));
  out(
    `Stalled consumer (stops pulling for 10 s at 150k pkt/s, ${stall.sent.sent} sent in ${stall.sent.seconds.toFixed(1)} s): ` +
      `peak RSS ${stall.rssMB.toFixed(1)} MB; ${stall.captured} delivered + ${stall.consumerDropped} consumerDropped; ` +
      `captured = delivered + consumerDropped and delivered = packets counted: ${stall.exact ? 'exact' : 'NOT EXACT'}; ` +
      `kernel drops ${stall.kernelDropped}; event-loop p99 ${stall.loopP99Ms.toFixed(2)} ms.`,
  );
  save();
})();
