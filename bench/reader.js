'use strict';
// One reader for bench/read.js, in its own process so its RSS is its own.
//   node reader.js <batch|recycle|iter|node_pcap|fresh|objects> <file> [node_pcap module dir]
// Two readers are floors, not products: 'fresh' is plain Node reading the
// file into a new 1 MiB Buffer each time and parsing the records in
// JavaScript (what memory a Buffer per batch costs, whoever makes it);
// 'objects' builds the per-packet iterator's packet objects (bigint
// timestamp, Buffer view) from recycled batches in a plain loop (what the
// objects alone cost, with no promise and the cheapest memory under them).
// Prints {"packets":N,"bytes":B,"seconds":S,"cpuSeconds":C,"maxRssMB":R,"loopP99Ms":L},
// C the user and system time of every thread of the process while reading
// and L the event loop's p99 delay meanwhile.
const { monitorEventLoopDelay } = require('node:perf_hooks');

const [mode, file, nodePcapDir] = process.argv.slice(2);
const loop = monitorEventLoopDelay({ resolution: 1 });
loop.enable();

function report(packets, bytes, started, cpu) {
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6;
  loop.disable();
  const maxRssMB = process.resourceUsage().maxRSS / 1024;
  // No sample at all means the loop never turned while reading.
  const loopP99Ms = loop.count === 0 ? seconds * 1000 : loop.percentile(99) / 1e6;
  process.stdout.write(`${JSON.stringify({ packets, bytes, seconds, cpuSeconds, maxRssMB, loopP99Ms })}\n`);
}

(async () => {
  const cpu = process.cpuUsage();
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
    session.on('complete', () => report(packets, bytes, started, cpu));
    return;
  }
  if (mode === 'fresh') {
    // µs little-endian pcap only (bench/make-trace.js writes that).
    const fs = require('node:fs');
    const fd = fs.openSync(file, 'r');
    let pos = 24;
    for (let turn = 0; ; turn++) {
      const b = Buffer.allocUnsafeSlow(1 << 20);
      const got = fs.readSync(fd, b, 0, b.length, pos);
      let at = 0;
      while (at + 16 <= got) {
        const caplen = b.readUInt32LE(at + 8);
        if (at + 16 + caplen > got) break;
        packets++;
        bytes += caplen;
        at += 16 + caplen;
      }
      if (at === 0) break;
      pos += at;
      // As wirecap's reader does: let timers and the finalizers run every few batches.
      if (turn % 4 === 3) await new Promise((resolve) => setImmediate(resolve));
    }
    fs.closeSync(fd);
    report(packets, bytes, started, cpu);
    return;
  }
  const { openOffline } = require('..');
  const cap = openOffline(file);
  if (mode === 'objects') {
    for await (const batch of cap.batches({ recycle: true })) {
      for (let i = 0; i < batch.count; i++) {
        const p = batch.packet(i);
        packets++;
        bytes += p.caplen;
      }
    }
  } else if (mode === 'batch' || mode === 'recycle') {
    for await (const batch of cap.batches({ recycle: mode === 'recycle' })) {
      // A file's batch holds its record headers too: count the packets' own bytes.
      const { caplens, count } = batch;
      for (let i = 0; i < count; i++) bytes += caplens[i];
      packets += count;
    }
  } else {
    for await (const p of cap) {
      packets++;
      bytes += p.caplen;
    }
  }
  report(packets, bytes, started, cpu);
})();
