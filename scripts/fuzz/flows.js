'use strict';
// The conversation target of scripts/fuzz.js.
const path = require('node:path');
const { mutate } = require('./mutate');

const ROOT = path.join(__dirname, '..', '..');

// A window of FLOW_WINDOW consecutive frames of messy
// generated conversations (test/helpers/conversations.js), a third of them
// mutated, fed as one PacketBatch (the columns path) or packet by packet,
// with small bounds, through a FlowTracker that defragments and reassembles
// every TCP connection, and through a Defragmenter alone. Every other case
// has no stream handlers, so the batch goes through the native fast path
// (src-native/flows), and the same frames packet by packet through a
// second tracker: both must end the same flows, in the same order, with
// the same stats. A finding is a throw, a bound not kept, or a difference.

const FLOW_WINDOW = 200;
const FLOW_BOUNDS = { maxFlows: 64, defrag: { maxDatagrams: 16, maxBytes: 32768, maxFragments: 16 }, reassembly: { maxBuffered: 65536, maxBufferedPerStream: 8192 } };

function flowSeeds() {
  const { tcpConversations, fragmentedDatagrams } = require(path.join(ROOT, 'test', 'helpers', 'conversations.js'));
  const tcp = tcpConversations({ seed: 5, connections: 60, v6: 0.4, wrap: 0.3, reorder: 0.1, duplicate: 0.1, overlap: 0.1, drop: 0.05, midstream: 0.1 }).frames;
  const frags = fragmentedDatagrams({ seed: 6, datagrams: 40, reorder: 0.3, duplicate: 0.3, overlap: 0.3, lose: 0.1 }).frames;
  return [...tcp, ...frags].map((f) => f.data);
}

function flowCase(ctx, r) {
  const { FlowTracker, Defragmenter, PacketBatch } = ctx.wirecap;
  const seeds = ctx.flowFrames;
  const from = r.below(seeds.length);
  const frames = [];
  for (let k = 0; k < FLOW_WINDOW; k++) {
    const seed = seeds[(from + k) % seeds.length];
    frames.push(r.chance(0.33) ? mutate(seed, r) : seed);
  }
  const streams = r.chance(0.5);
  const options = { ...FLOW_BOUNDS, timeouts: { tcp: 2e9, udp: 1e9, other: 1e9, tcpClosed: 1e8 } };
  const tracker = new FlowTracker(streams ? { ...options, streams: () => ({ onData() {}, onGap() {}, onOverlap() {}, onDatagram() {}, onEnd() {} }) } : options);
  const defrag = new Defragmenter(FLOW_BOUNDS.defrag);
  const flowsOf = [];
  tracker.on('flow', (f) => flowsOf.push(f));
  let t = 1_700_000_000_000_000_000n;
  const times = frames.map(() => (t += BigInt(r.chance(0.05) ? r.below(4e9) : r.below(1e6))));
  const check = () => {
    const s = tracker.stats;
    if (s.active > FLOW_BOUNDS.maxFlows) throw new Error(`${s.active} flows held, over maxFlows`);
    if (s.reassembly.heldBytes > FLOW_BOUNDS.reassembly.maxBuffered) throw new Error(`${s.reassembly.heldBytes} bytes held, over maxBuffered`);
    if (s.defrag.heldBytes > FLOW_BOUNDS.defrag.maxBytes || s.defrag.pending > FLOW_BOUNDS.defrag.maxDatagrams) throw new Error('defragmentation over its bounds');
  };
  const lens = frames.map((f) => f.length + (r.chance(0.1) ? r.below(100) : 0));
  if (!streams || r.chance(0.5)) {
    const count = frames.length;
    const data = Buffer.concat(frames);
    const meta = new ArrayBuffer(20 * count);
    const stamps = new BigInt64Array(meta, 0, count);
    const caplens = new Uint32Array(meta, 8 * count, count);
    const batchLens = new Uint32Array(meta, 12 * count, count);
    const offsets = new Uint32Array(meta, 16 * count, count);
    let at = 0;
    frames.forEach((f, i) => {
      stamps[i] = times[i];
      caplens[i] = f.length;
      batchLens[i] = lens[i];
      offsets[i] = at;
      at += f.length;
    });
    tracker.addBatch(new PacketBatch(data, meta, count), 1);
  } else {
    frames.forEach((f, i) => {
      tracker.addPacket({ timestamp: times[i], data: f, caplen: f.length, len: lens[i] }, 1);
      check();
    });
  }
  check();
  frames.forEach((f, i) => defrag.add({ timestamp: times[i], data: f, caplen: f.length, len: f.length }, 1));
  if (defrag.stats.heldBytes > FLOW_BOUNDS.defrag.maxBytes) throw new Error('Defragmenter over maxBytes');
  let ended = 0;
  tracker.on('flow', () => ended++);
  const open = tracker.stats.active;
  tracker.end();
  if (ended !== open || tracker.stats.reassembly.heldBytes !== 0) throw new Error('end() left flows or held bytes behind');
  if (!streams) sameByOne(FlowTracker, options, tracker, flowsOf, frames, times, lens);
  return 'flows';
}

/** The same frames packet by packet through a new tracker: a finding unless it ends the same flows, in order, with the same stats, as the batch did. */
function sameByOne(FlowTracker, options, batch, batchFlows, frames, times, lens) {
  const byOne = new FlowTracker(options);
  const flows = [];
  byOne.on('flow', (f) => flows.push(f));
  frames.forEach((f, i) => byOne.addPacket({ timestamp: times[i], data: f, caplen: f.length, len: lens[i] }, 1));
  byOne.end();
  const text = (x) => JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));
  const a = batchFlows.map(text);
  const b = flows.map(text);
  const at = a.findIndex((x, i) => x !== b[i]);
  if (a.length !== b.length || at >= 0) throw new Error(`the batch (native fast path) and packet by packet ended different flows: ${a.length} and ${b.length}; first difference at ${at}: ${a[at]} / ${b[at]}`);
  if (text(batch.stats) !== text(byOne.stats)) throw new Error(`the batch (native fast path) and packet by packet give different stats: ${text(batch.stats)} / ${text(byOne.stats)}`);
}

module.exports = { FLOW_WINDOW, flowSeeds, flowCase };
