'use strict';
// One reader for bench/read.js, in its own process so its RSS is its own.
//   node reader.js <batch|recycle|iter|node_pcap> <file> [node_pcap module dir]
// Prints {"packets":N,"bytes":B,"seconds":S,"maxRssMB":R,"loopP99Ms":L}, L the
// event loop's p99 delay while reading.
const { monitorEventLoopDelay } = require('node:perf_hooks');

const [mode, file, nodePcapDir] = process.argv.slice(2);
const loop = monitorEventLoopDelay({ resolution: 1 });
loop.enable();

function report(packets, bytes, started) {
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  loop.disable();
  const maxRssMB = process.resourceUsage().maxRSS / 1024;
  // No sample at all means the loop never turned while reading.
  const loopP99Ms = loop.count === 0 ? seconds * 1000 : loop.percentile(99) / 1e6;
  process.stdout.write(`${JSON.stringify({ packets, bytes, seconds, maxRssMB, loopP99Ms })}\n`);
}

(async () => {
  const started = process.hrtime.bigint();
  let packets = 0;
  let bytes = 0;
  if (mode === 'node_pcap') {
    // node_pcap's offline session emits one 'packet' event per packet.
    const pcap = require(nodePcapDir);
    const session = pcap.createOfflineSession(file, { filter: '' });
    session.on('packet', (raw) => {
      packets++;
      bytes += raw.header.readUInt32LE(8);
    });
    session.on('complete', () => report(packets, bytes, started));
    return;
  }
  const { openOffline } = require('..');
  const cap = openOffline(file);
  if (mode === 'batch' || mode === 'recycle') {
    for await (const batch of cap.batches({ recycle: mode === 'recycle' })) {
      packets += batch.count;
      bytes += batch.data.length;
    }
  } else {
    for await (const p of cap) {
      packets++;
      bytes += p.caplen;
    }
  }
  report(packets, bytes, started);
})();
