'use strict';
// One side of bench/nats.js, in its own process so its RSS is its own.
//   node nats-peer.js raw <url> <subject> <trace>         the nats client alone: the same messages, cut from the file read into memory first
//   node nats-peer.js wirecap <url> <subject> <trace>     publishPackets(openOffline(trace))
//   node nats-peer.js collect <url> <stream> <out> <n>     collectPackets() until n packets are in the file
// Each prints {"packets","seconds","maxRssMB"}.
const fs = require('node:fs');
const { connect, headers } = require('nats');
const { collectPackets, openOffline, publishPackets } = require('..');

const [role, url, name, arg, count] = process.argv.slice(2);
const maxRssMB = () => process.resourceUsage().maxRSS / 1024;
const print = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
// publishPackets()'s defaults, which the raw client copies.
const BATCH_PACKETS = 1024;
const BATCH_BYTES = 262144;
const IN_FLIGHT = 16;

/**
 * The trace's records cut into payloads as publishPackets() cuts them, one
 * at a time (this trace is microsecond pcap; payloads carry nanoseconds).
 */
function* payloads(bytes) {
  let at = 24;
  const chunk = Buffer.allocUnsafe(BATCH_BYTES);
  while (at < bytes.length) {
    let used = 0;
    let n = 0;
    while (at < bytes.length && n < BATCH_PACKETS) {
      const caplen = bytes.readUInt32LE(at + 8);
      if (used + 16 + caplen > BATCH_BYTES) break;
      bytes.copy(chunk, used, at, at + 16 + caplen);
      chunk.writeUInt32LE(bytes.readUInt32LE(at + 4) * 1000, used + 4);
      used += 16 + caplen;
      at += 16 + caplen;
      n++;
    }
    yield { payload: Uint8Array.prototype.slice.call(chunk, 0, used), packets: n };
  }
}

(async () => {
  if (role === 'raw') {
    const bytes = fs.readFileSync(arg);
    const nc = await connect({ servers: url });
    const js = nc.jetstream();
    const started = process.hrtime.bigint();
    const inFlight = [];
    let packets = 0;
    let i = 0;
    for (const m of payloads(bytes)) {
      const h = headers();
      for (const [k, v] of [['Wirecap-Format', 'pcap-records/1'], ['Wirecap-Linktype', '1'], ['Wirecap-Snaplen', '262144'], ['Wirecap-Precision', 'nano'], ['Wirecap-Sensor', 'raw'], ['Wirecap-Run', 'raw'], ['Wirecap-Batch', String(i + 1)], ['Wirecap-Packets', String(m.packets)]]) h.set(k, v);
      inFlight.push(js.publish(name, m.payload, { msgID: `raw/raw/${++i}`, headers: h }));
      if (inFlight.length >= IN_FLIGHT) await inFlight.shift();
      packets += m.packets;
    }
    await Promise.all(inFlight);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    await nc.close();
    print({ packets, seconds, maxRssMB: maxRssMB() });
  } else if (role === 'wirecap') {
    const started = process.hrtime.bigint();
    const s = await publishPackets(openOffline(arg), { servers: url, subject: name, sensor: 'wirecap' }).done;
    print({ packets: s.sent, seconds: Number(process.hrtime.bigint() - started) / 1e9, maxRssMB: maxRssMB() });
  } else if (role === 'collect') {
    const started = process.hrtime.bigint();
    const collector = collectPackets({ servers: url, stream: name, durable: 'bench', write: { path: arg }, log: () => {} });
    const n = Number(count);
    while (collector.stats().packets < n) await new Promise((r) => setTimeout(r, 20));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    collector.stop();
    const s = await collector.done;
    print({ packets: s.packets, seconds, maxRssMB: maxRssMB() });
  }
})();
