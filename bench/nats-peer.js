'use strict';
// One side of bench/nats.js, in its own process so its RSS is its own.
//   node nats-peer.js raw <url> <subject> <trace> <options>       the nats client alone: the same messages, cut from the file read into memory first
//   node nats-peer.js wirecap <url> <subject> <trace> <options>   publishPackets(openOffline(trace), options)
//   node nats-peer.js collect <url> <stream> <out> <n>             collectPackets() until n packets are in the file
// options: JSON {batchPackets, batchBytes, maxInFlight}, publishPackets()'s names.
// Each prints {"packets","seconds","maxRssMB","cpuSeconds"}: seconds and
// cpuSeconds (user + system, all threads) from the start of publishing or collecting.
const fs = require('node:fs');
const { connect, headers } = require('nats');
const { collectPackets, openOffline, publishPackets } = require('..');

const [role, url, name, arg, extra] = process.argv.slice(2);
const maxRssMB = () => process.resourceUsage().maxRSS / 1024;
let cpuAtStart = null;
const begin = () => {
  cpuAtStart = process.cpuUsage();
  return process.hrtime.bigint();
};
const print = (o) => {
  const { user, system } = process.cpuUsage(cpuAtStart);
  process.stdout.write(`${JSON.stringify({ ...o, cpuSeconds: (user + system) / 1e6 })}\n`);
};

/**
 * The trace's records cut into payloads as publishPackets() cuts them: each
 * message's records copied in one piece into a buffer of its own, then
 * their fractions rescaled (this trace is microsecond pcap; payloads carry
 * nanoseconds, as openOffline() reads it by default).
 */
function* payloads(bytes, { batchPackets, batchBytes }) {
  const file = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  let at = 24;
  while (at < bytes.length) {
    const start = at;
    let n = 0;
    while (at < bytes.length && n < batchPackets) {
      const next = at + 16 + file.getUint32(at + 8, true);
      if (next - start > batchBytes) break;
      at = next;
      n++;
    }
    const payload = Buffer.allocUnsafe(at - start);
    bytes.copy(payload, 0, start, at);
    const v = new DataView(payload.buffer, payload.byteOffset, payload.length);
    for (let p = 0; p < payload.length; p += 16 + v.getUint32(p + 8, true)) v.setUint32(p + 4, v.getUint32(p + 4, true) * 1000, true);
    yield { payload, packets: n };
  }
}

(async () => {
  if (role === 'raw') {
    const bytes = fs.readFileSync(arg);
    const nc = await connect({ servers: url });
    const js = nc.jetstream();
    const started = begin();
    const inFlight = [];
    let packets = 0;
    let i = 0;
    const options = JSON.parse(extra);
    for (const m of payloads(bytes, options)) {
      const h = headers();
      for (const [k, v] of [['Wirecap-Format', 'pcap-records/1'], ['Wirecap-Linktype', '1'], ['Wirecap-Snaplen', '262144'], ['Wirecap-Precision', 'nano'], ['Wirecap-Sensor', 'raw'], ['Wirecap-Run', 'raw'], ['Wirecap-Batch', String(i + 1)], ['Wirecap-Packets', String(m.packets)]]) h.set(k, v);
      inFlight.push(js.publish(name, m.payload, { msgID: `raw/raw/${++i}`, headers: h }));
      if (inFlight.length >= options.maxInFlight) await inFlight.shift();
      packets += m.packets;
    }
    await Promise.all(inFlight);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    await nc.close();
    print({ packets, seconds, maxRssMB: maxRssMB() });
  } else if (role === 'wirecap') {
    const started = begin();
    const s = await publishPackets(openOffline(arg), { servers: url, subject: name, sensor: 'wirecap', ...JSON.parse(extra) }).done;
    print({ packets: s.sent, seconds: Number(process.hrtime.bigint() - started) / 1e9, maxRssMB: maxRssMB() });
  } else if (role === 'collect') {
    const started = begin();
    const collector = collectPackets({ servers: url, stream: name, durable: 'bench', write: { path: arg }, log: () => {} });
    const n = Number(extra);
    while (collector.stats().packets < n) await new Promise((r) => setTimeout(r, 20));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    collector.stop();
    const s = await collector.done;
    print({ packets: s.packets, seconds, maxRssMB: maxRssMB() });
  }
})();
