'use strict';
// Seeded fuzzing of decode() and PacketColumns: packets from the test
// generator (test/helpers/packets.js), mutated (bytes overwritten, length
// fields set to extremes, DNS compression pointers planted, cut, extended),
// then decoded. Counts throws, broken results (payload outside the packet)
// and the slowest packet (timed as it ran, where a garbage collection or a
// compile may land, and again on its own, 1000 times, to show its real cost).
//   npm run fuzz:decode -- [--cases 1000000] [--seed 1]   (builds dist/ first)
const { frames, rng, LINKTYPES } = require('../test/helpers/packets.js');

function mutate(r, frame) {
  let b = Buffer.from(frame);
  for (let n = r.int(1, 4); n > 0; n--) {
    const what = r.int(0, 5);
    if (b.length < 2) break;
    const at = r.int(0, b.length - 1);
    const at2 = Math.min(at, b.length - 2);
    if (what === 0) b[at] = r.int(0, 255);
    else if (what === 1) for (let i = at; i < Math.min(b.length, at + 8); i++) b[i] = r.int(0, 255);
    else if (what === 2) b.writeUInt16BE(r.pick([0, 1, 0xffff, 0x7fff, r.int(0, 65535)]), at2);
    else if (what === 3) b.writeUInt16BE(0xc000 | r.int(0, Math.min(0x3fff, b.length + 4)), at2);
    else if (what === 4) b = b.subarray(0, at);
    else b = Buffer.concat([b, r.bytes(r.int(1, 64))]);
  }
  return b;
}

/**
 * cases mutated packets from seed through decode (and, when given,
 * columns.fill over one-packet batches made with makeBatch).
 */
function fuzz({ cases, seed, decode, columns, makeBatch }) {
  const r = rng(seed);
  const corpus = LINKTYPES.map((linktype) => ({ linktype, frames: frames(linktype, 200, seed + linktype).map((f) => f.data) }));
  const failures = [];
  let throws = 0;
  let broken = 0;
  let slowestNs = 0n;
  let slowest = null;
  const meta = new ArrayBuffer(24);
  for (let i = 0; i < cases; i++) {
    const { linktype, frames: list } = r.pick(corpus);
    const data = mutate(r, r.pick(list));
    const started = process.hrtime.bigint();
    try {
      const d = decode(data, linktype);
      if (d.payloadOffset + d.payloadLength > data.length || d.payloadOffset < 0 || d.layers.length > 40) {
        broken++;
        if (failures.length < 5) failures.push({ linktype, hex: data.toString('hex'), problem: 'payload outside the packet' });
      }
      if (columns) {
        new Uint32Array(meta, 8, 3).set([data.length, data.length, 0]);
        columns.fill(makeBatch(data, meta, 1), linktype);
        if (columns.payloadOffset[0] + columns.payloadLength[0] > data.length) broken++;
      }
    } catch (e) {
      throws++;
      if (failures.length < 5) failures.push({ linktype, hex: data.toString('hex'), problem: String(e && e.stack) });
    }
    const ns = process.hrtime.bigint() - started;
    if (ns > slowestNs) {
      slowestNs = ns;
      slowest = { data, linktype };
    }
  }
  let retimedUs = 0;
  if (slowest !== null) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < 1000; i++) decode(slowest.data, slowest.linktype);
    retimedUs = Number(process.hrtime.bigint() - started) / 1000 / 1000;
  }
  return { cases, seed, throws, broken, slowestUs: Number(slowestNs) / 1000, slowestRetimedUs: retimedUs, failures };
}

/**
 * The costliest DNS message there is to walk: a raw IPv4/TCP packet to port
 * 53 holding a 64 KB message whose first question is a 255-byte name of 127
 * labels and whose every other question reaches it through 32 compression
 * pointers, the most decode() follows. Returns the packet and its question count.
 */
function worstDns() {
  const message = Buffer.alloc(65535 - 20 - 20 - 2);
  let at = 12;
  for (let i = 0; i < 127; i++) {
    message[at++] = 1;
    message[at++] = 0x61;
  }
  message[at++] = 0;
  at += 4; // type and class
  let previous = 12;
  let questions = 1;
  while (at + 6 <= message.length) {
    message.writeUInt16BE(0xc000 | previous, at);
    if (questions < 32) previous = at;
    at += 6;
    questions++;
  }
  message.writeUInt16BE(questions, 4);
  const packet = Buffer.alloc(20 + 20 + 2 + message.length);
  packet[0] = 0x45;
  packet.writeUInt16BE(packet.length, 2);
  packet[9] = 6;
  packet.writeUInt16BE(53, 22);
  packet[32] = 5 << 4;
  packet.writeUInt16BE(message.length, 40);
  message.copy(packet, 42);
  return { packet, questions };
}

module.exports = { fuzz, worstDns };

if (require.main === module) {
  const { values } = require('node:util').parseArgs({ options: { cases: { type: 'string', default: '1000000' }, seed: { type: 'string', default: '1' } } });
  const { decode, PacketColumns, PacketBatch } = require('..');
  const started = Date.now();
  const result = fuzz({
    cases: Number(values.cases),
    seed: Number(values.seed),
    decode,
    columns: new PacketColumns(1),
    makeBatch: (data, meta, count) => new PacketBatch(data, meta, count),
  });
  const worst = worstDns();
  const t0 = process.hrtime.bigint();
  const dns = decode(worst.packet, 101).layers.find((l) => l.layer === 'dns');
  const worstDnsMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const worstDnsQuestions = `${dns.questions.length} of ${worst.questions} questions, ${worst.packet.length} bytes`;
  console.log(JSON.stringify({ ...result, seconds: (Date.now() - started) / 1000, worstDnsMs, worstDnsQuestions }, null, 1));
  process.exitCode = result.throws === 0 && result.broken === 0 ? 0 : 1;
}
