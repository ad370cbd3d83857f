'use strict';
// bench/flows part 3: connections abandoned half-way (no FIN), generated as
// a stream of PacketBatches (nothing on disk) and fed to a FlowTracker that
// reassembles every connection. Each connection: handshake, three in-order
// server segments, then one segment past a hole (held out of order), then
// silence. Prints RSS at each GB fed, as JSON.
//   node bench/flows-abandon.js [gigabytes=5]
const { FlowTracker, PacketBatch } = require('..');

const GB = Number(process.argv[2] ?? 5);
const PER_BATCH = 4096;
const PAYLOAD = 1400;
const options = { maxFlows: 50000, timeouts: { tcp: 60e9 }, reassembly: { maxBuffered: 64 << 20, maxBufferedPerStream: 1 << 20 } };
let delivered = 0;
const tracker = new FlowTracker({ ...options, streams: () => ({ onData: (_d, b) => void (delivered += b.length), onGap() {} }) });

const frameSize = (payload) => 54 + payload;
const data = Buffer.alloc(PER_BATCH * frameSize(PAYLOAD));
const meta = new ArrayBuffer(20 * PER_BATCH);
const stamps = new BigInt64Array(meta, 0, PER_BATCH);
const caplens = new Uint32Array(meta, 8 * PER_BATCH, PER_BATCH);
const lens = new Uint32Array(meta, 12 * PER_BATCH, PER_BATCH);
const offsets = new Uint32Array(meta, 16 * PER_BATCH, PER_BATCH);

/** Writes one frame at `at`: connection n, from the client or the server. */
function frame(at, n, fromClient, seq, ack, flags, payload) {
  const f = data.subarray(at, at + frameSize(payload));
  f.fill(0, 0, 54);
  f.writeUInt16BE(0x0800, 12);
  f[14] = 0x45;
  f.writeUInt16BE(40 + payload, 16);
  f[22] = 64;
  f[23] = 6;
  const client = 0x0a000000 | (n & 0xffffff);
  const [src, dst] = fromClient ? [client, 0xc0a80001] : [0xc0a80001, client];
  f.writeUInt32BE(src >>> 0, 26);
  f.writeUInt32BE(dst >>> 0, 30);
  const cport = 1024 + (n % 60000);
  f.writeUInt16BE(fromClient ? cport : 443, 34);
  f.writeUInt16BE(fromClient ? 443 : cport, 36);
  f.writeUInt32BE(seq >>> 0, 38);
  f.writeUInt32BE(ack >>> 0, 42);
  f[46] = 0x50;
  f[47] = flags;
  return f.length;
}

// Each connection's 8 packets: [fromClient, seq offset, flags, payload].
const SCRIPT = [
  [true, 0, 0x02, 0],
  [false, 0, 0x12, 0],
  [true, 1, 0x10, 0],
  [false, 1, 0x18, PAYLOAD],
  [false, 1 + PAYLOAD, 0x18, PAYLOAD],
  [false, 1 + 2 * PAYLOAD, 0x18, PAYLOAD],
  [false, 1 + 4 * PAYLOAD, 0x18, PAYLOAD], // past a hole of PAYLOAD bytes: held
  [true, 1, 0x10, 0],
];
let t = 1_700_000_000_000_000_000n;
let fed = 0;
let packets = 0;
let next = 1;
const samples = [];
const started = Date.now();
// Connections are interleaved 64 at a time, so each is open for a while.
for (let n = 0, step = 0; fed < GB * 1e9; ) {
  let at = 0;
  let i = 0;
  for (; i < PER_BATCH; i++) {
    const conn = n + (i % 64);
    const [fromClient, rel, flags, payload] = SCRIPT[step];
    const seq = fromClient ? 1000 + rel : 50000 + rel;
    const ack = fromClient ? 50001 : 1001;
    offsets[i] = at;
    const size = frame(at, conn, fromClient, seq, ack, flags, payload);
    caplens[i] = lens[i] = size;
    stamps[i] = t += 50_000n;
    at += size;
    fed += size;
    if (i % 64 === 63 && ++step === SCRIPT.length) {
      step = 0;
      n += 64;
    }
  }
  tracker.addBatch(new PacketBatch(data, meta, i), 1);
  packets += i;
  if (fed >= next * 1e9) {
    const s = tracker.stats;
    samples.push({ gb: next, packets, idle: s.ended.idle, evicted: s.ended.evicted, active: s.active, held: s.reassembly.heldBytes, forcedGaps: s.reassembly.forcedGaps, rssMB: process.memoryUsage().rss / 1048576 });
    next++;
  }
}
tracker.end();
const s = tracker.stats;
process.stdout.write(`${JSON.stringify({ maxFlows: options.maxFlows, timeoutS: options.timeouts.tcp / 1e9, maxBufferedMB: options.reassembly.maxBuffered / 1048576, seconds: (Date.now() - started) / 1000, delivered, gapBytes: s.reassembly.gapBytes, flows: s.flows, samples })}\n`);
