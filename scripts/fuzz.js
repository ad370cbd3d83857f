#!/usr/bin/env node
// A deterministic, seeded mutation fuzzer for wirecap's readers:
//   npm run fuzz -- --cases N --seed S [--corpus DIR] [--case-ms MS] [--json]
// Case i is a function of (S, i) alone, so any finding is replayed with
// --only i. Seeds: pcap (µs and ns, both byte orders) and pcapng files made
// with wirecap's own writer, every capture file in --corpus DIR (the jest
// pass hands it the files the tests write), and collector messages. Each case mutates
// or truncates a seed and feeds it to openOffline (a named file, or standard
// input in a child, or a pcap-over-IP connection), openTrace + seek({ time | offset | fraction }), slice,
// or the collector's decodePacket; one case in eleven (every case with
// --target flows) puts 200 mutated packets of generated conversations
// through defragmentation, the flow table and TCP reassembly (flowCase). A
// finding is a crash, a hang (a case over --case-ms), an error without a
// `code`, or a flow bound not kept.
//
// --target sessions runs the sessions parsers instead (lib/sessions): each
// case mutates an HTTP exchange, a TLS handshake or QUIC Initial packets
// (sealed around a mutated hello, or mutated whole), cuts each direction
// into random segments with random gaps, and feeds one flow of a
// ParserRegistry. A parser that throws, or a record holding more than its
// bounds allow, is a finding.
//
// The cases run in a child process; this process watches it, so a crash
// or a hang in native code is reported with its case and the run goes on.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');

const ROOT = path.join(__dirname, '..');

function options(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      cases: { type: 'string', default: '10000' },
      seed: { type: 'string', default: '1' },
      corpus: { type: 'string' },
      'case-ms': { type: 'string', default: '5000' },
      only: { type: 'string' },
      json: { type: 'boolean', default: false },
      child: { type: 'boolean', default: false },
      from: { type: 'string', default: '0' },
      target: { type: 'string', default: 'all' },
    },
  });
  const args = {
    cases: Number(values.cases),
    seed: Number(values.seed),
    corpus: values.corpus ?? null,
    caseMs: Number(values['case-ms']),
    only: values.only === undefined ? null : Number(values.only),
    json: values.json,
    child: values.child,
    from: Number(values.from),
    target: values.target,
  };
  if (!['all', 'flows', 'sessions'].includes(args.target)) throw new Error("--target must be 'all', 'flows' or 'sessions'");
  for (const k of ['cases', 'seed', 'caseMs', 'from']) {
    if (!Number.isSafeInteger(args[k]) || args[k] < 0) throw new Error(`--${k} must be a non-negative integer`);
  }
  return args;
}

/** xorshift32 from (seed, case): the same case every run. */
function rng(seed, index) {
  let x = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35)) >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  for (let i = 0; i < 4; i++) next();
  return { u32: next, below: (n) => next() % n, chance: (p) => next() / 2 ** 32 < p };
}

// --------------------------------------------------------------------------
// Seeds

/** Frames of cycling sizes with an Ethernet/IPv4/UDP-looking start. */
function frames(n) {
  return Array.from({ length: n }, (_, i) => {
    const data = Buffer.alloc(42 + ((i * 89) % 300), i & 0xff);
    data.writeUInt16BE(0x0800, 12);
    data[14] = 0x45;
    data[23] = 17;
    return { timestamp: 1_700_000_000_000_000_000n + BigInt(i) * 1_234_567n, data, len: data.length + (i % 3) };
  });
}

/** A pcap file's bytes in the other byte order (header and record headers swapped). */
function swapPcap(bytes) {
  const out = Buffer.from(bytes);
  const swap32 = (at) => out.writeUInt32BE(bytes.readUInt32LE(at), at);
  const swap16 = (at) => out.writeUInt16BE(bytes.readUInt16LE(at), at);
  swap32(0), swap16(4), swap16(6), swap32(8), swap32(12), swap32(16), swap32(20);
  for (let at = 24; at + 16 <= bytes.length; at += 16 + bytes.readUInt32LE(at + 8)) {
    for (let k = 0; k < 16; k += 4) swap32(at + k);
  }
  return out;
}

function captureSeeds(wirecap, dir, corpus) {
  const seeds = [];
  for (const [format, precision, linktype] of [
    ['pcap', 'micro', 'EN10MB'],
    ['pcap', 'nano', 'EN10MB'],
    ['pcapng', 'micro', 'EN10MB'],
    ['pcapng', 'nano', 'RAW'],
    ['pcap', 'micro', 'LINUX_SLL'],
  ]) {
    const file = path.join(dir, `seed.${format}`);
    const writer = wirecap.createWriter(file, { format, precision, linktype });
    for (const p of frames(40)) writer.write(p);
    writer.close();
    seeds.push(fs.readFileSync(file));
  }
  seeds.push(swapPcap(seeds[0]), swapPcap(seeds[1]));
  if (corpus !== null) {
    for (const name of fs.readdirSync(corpus).sort()) {
      const bytes = fs.readFileSync(path.join(corpus, name));
      if (bytes.length >= 4 && bytes.length <= 1 << 20) seeds.push(bytes);
    }
  }
  return seeds;
}

function messageSeeds(protocol) {
  return frames(8).map((p) => protocol.encodePacket(p.timestamp, p.len, p.data));
}

// --------------------------------------------------------------------------
// Mutations

const INTERESTING_32 = [0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x10000, 0x40000, 0x40001, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

function mutate(seed, r) {
  let bytes = Buffer.from(seed);
  const rounds = 1 + r.below(6);
  for (let k = 0; k < rounds && bytes.length > 0; k++) {
    const at = r.below(bytes.length);
    switch (r.below(8)) {
      case 0: // flip a bit
        bytes[at] ^= 1 << r.below(8);
        break;
      case 1: // a random byte
        bytes[at] = r.below(256);
        break;
      case 2: // an interesting 32-bit value, aligned as headers are
        if (bytes.length >= 4) {
          const aligned = Math.min(at - (at % 4), bytes.length - 4);
          const v = INTERESTING_32[r.below(INTERESTING_32.length)];
          if (r.chance(0.5)) bytes.writeUInt32LE(v, aligned);
          else bytes.writeUInt32BE(v, aligned);
        }
        break;
      case 3: // truncate
        bytes = bytes.subarray(0, at);
        break;
      case 4: // delete a span
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + 1 + r.below(64)))]);
        break;
      case 5: // repeat a span
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at, at + 1 + r.below(256)), bytes.subarray(at)]);
        break;
      case 6: // insert random bytes
        bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(Array.from({ length: 1 + r.below(32) }, () => r.below(256))), bytes.subarray(at)]);
        break;
      default: // add or subtract a little from a byte
        bytes[at] = (bytes[at] + (r.chance(0.5) ? 1 : 255) * (1 + r.below(4))) & 0xff;
    }
  }
  return bytes;
}

// --------------------------------------------------------------------------
// Targets (child process)

const withTimeout = (promise, ms) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(Object.assign(new Error(`hang: over ${ms} ms`), { hang: true })), ms);
    promise.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e) => (clearTimeout(timer), reject(e)),
    );
  });

async function drain(capture) {
  let n = 0;
  for await (const p of capture) n += p.data.length >= 0 ? 1 : 0;
  return n;
}

/** Standard input: a child reads the bytes from its stdin, as `wirecap read -` would. */
function readStdin(file, ms) {
  const code = `(async () => { let n = 0; for await (const p of require(${JSON.stringify(ROOT)}).openOffline('-')) n++; })()
      .then(() => process.exit(0), (e) => { console.log(JSON.stringify({ code: e.code, message: e.message })); process.exit(e.code ? 0 : 1); });`;
  const result = spawnSync(process.execPath, ['-e', code], { input: fs.readFileSync(file), timeout: ms, encoding: 'utf8' });
  if (result.error && result.error.code === 'ETIMEDOUT') throw Object.assign(new Error(`hang: stdin read over ${ms} ms`), { hang: true });
  if (result.status !== 0) throw new Error(`stdin reader ended with ${result.status ?? result.signal}: ${result.stdout}${result.stderr.slice(-500)}`);
}

/** pcap-over-IP: a local sender writes the bytes in small pieces, openPcapStream reads them. */
async function readPcapOverIp(ctx, bytes) {
  if (ctx.sender === undefined) {
    ctx.sender = net.createServer((socket) => {
      socket.on('error', () => {});
      const data = ctx.sending;
      for (let at = 0; at < data.length; at += 777) socket.write(data.subarray(at, at + 777));
      socket.end();
    });
    await new Promise((resolve) => ctx.sender.listen(0, '127.0.0.1', resolve));
    ctx.sender.unref();
  }
  ctx.sending = bytes;
  await drain(await ctx.wirecap.openPcapStream(`tcp://127.0.0.1:${ctx.sender.address().port}`, { connectTimeoutMs: ctx.caseMs }));
}

// --------------------------------------------------------------------------
// The conversation layer: a window of FLOW_WINDOW consecutive frames of messy
// generated conversations (test/helpers/conversations.js), a third of them
// mutated, fed as one PacketBatch (the columns path) or packet by packet,
// with small bounds, through a FlowTracker that defragments and reassembles
// every TCP connection, and through a Defragmenter alone. A finding is a
// throw, or a bound not kept.

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
  const tracker = new FlowTracker({
    ...FLOW_BOUNDS,
    timeouts: { tcp: 2e9, udp: 1e9, other: 1e9, tcpClosed: 1e8 },
    streams: () => ({ onData() {}, onGap() {}, onOverlap() {}, onDatagram() {}, onEnd() {} }),
  });
  const defrag = new Defragmenter(FLOW_BOUNDS.defrag);
  let t = 1_700_000_000_000_000_000n;
  const times = frames.map(() => (t += BigInt(r.chance(0.05) ? r.below(4e9) : r.below(1e6))));
  const check = () => {
    const s = tracker.stats;
    if (s.active > FLOW_BOUNDS.maxFlows) throw new Error(`${s.active} flows held, over maxFlows`);
    if (s.reassembly.heldBytes > FLOW_BOUNDS.reassembly.maxBuffered) throw new Error(`${s.reassembly.heldBytes} bytes held, over maxBuffered`);
    if (s.defrag.heldBytes > FLOW_BOUNDS.defrag.maxBytes || s.defrag.pending > FLOW_BOUNDS.defrag.maxDatagrams) throw new Error('defragmentation over its bounds');
  };
  if (r.chance(0.5)) {
    const count = frames.length;
    const data = Buffer.concat(frames);
    const meta = new ArrayBuffer(20 * count);
    const stamps = new BigInt64Array(meta, 0, count);
    const caplens = new Uint32Array(meta, 8 * count, count);
    const lens = new Uint32Array(meta, 12 * count, count);
    const offsets = new Uint32Array(meta, 16 * count, count);
    let at = 0;
    frames.forEach((f, i) => {
      stamps[i] = times[i];
      caplens[i] = f.length;
      lens[i] = f.length + (r.chance(0.1) ? r.below(100) : 0);
      offsets[i] = at;
      at += f.length;
    });
    tracker.addBatch(new PacketBatch(data, meta, count), 1);
  } else {
    frames.forEach((f, i) => {
      tracker.addPacket({ timestamp: times[i], data: f, caplen: f.length, len: f.length }, 1);
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
  return 'flows';
}

async function runCase(ctx, index) {
  const r = rng(ctx.seed, index);
  if (ctx.target === 'flows') return flowCase(ctx, r);
  const kind = r.below(22);
  if (kind >= 20) return flowCase(ctx, r);
  if (kind < 3) {
    const decoded = ctx.protocol.decodePacket(mutate(ctx.messages[r.below(ctx.messages.length)], r));
    if (!('malformed' in decoded) && decoded.caplen !== decoded.data.length) throw new Error('decodePacket let a caplen mismatch through');
    return 'decode';
  }
  const file = path.join(ctx.dir, 'case');
  fs.writeFileSync(file, mutate(ctx.seeds[r.below(ctx.seeds.length)], r));
  const { wirecap } = ctx;
  if (kind === 3 && index % 50 === 0) { // one case in 1000: a child costs 0.6 s
    readStdin(file, ctx.caseMs);
    return 'stdin';
  }
  if (kind === 3) {
    await withTimeout(readPcapOverIp(ctx, fs.readFileSync(file)), ctx.caseMs);
    return 'pcapOverIp';
  }
  if (kind < 10) {
    await withTimeout(drain(wirecap.openOffline(file)), ctx.caseMs);
    return 'openOffline';
  }
  if (kind < 16) {
    const trace = wirecap.openTrace(file);
    try {
      const targets = [{ fraction: r.below(1001) / 1000 }, { offset: r.below(trace.size + 100) }, { time: trace.firstTime === null ? 0n : trace.firstTime + BigInt(r.below(1e9)) }];
      for (const target of targets) trace.seek(target);
      void trace.lastTime;
    } finally {
      trace.close();
    }
    const target = [{ fraction: r.below(101) / 100 }, { offset: r.below(4096) }][r.below(2)];
    await withTimeout(drain(wirecap.openOffline(file, { seek: target })), ctx.caseMs);
    return 'openTrace';
  }
  const start = 1_700_000_000_000_000_000n + BigInt(r.below(60_000_000));
  await withTimeout(wirecap.slice([file], path.join(ctx.dir, 'sliced'), { start, end: start + BigInt(r.below(40_000_000)) }), ctx.caseMs);
  return 'slice';
}

// --------------------------------------------------------------------------
// Sessions target

/** Seeds: two-direction TCP exchanges (HTTP, TLS), QUIC datagrams, and hellos to seal into Initials. */
function sessionSeeds() {
  const v = JSON.parse(fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'rfc9001', 'vectors.json'), 'utf8'));
  const hex = (s) => Buffer.from(s, 'hex');
  const record = (hs, size) => {
    const out = [];
    for (let at = 0; at < hs.length; at += size) {
      const piece = hs.subarray(at, at + size);
      out.push(Buffer.from([22, 3, 1, piece.length >> 8, piece.length & 0xff]), piece);
    }
    return Buffer.concat(out);
  };
  const ch = hex(v.clientHello);
  const sh = hex(v.serverHello);
  const http = (c, s) => [Buffer.from(c, 'latin1'), Buffer.from(s, 'latin1')];
  return {
    tcp: [
      http('GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No\r\n\r\n'),
      http('PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: 1\r\n\r\nHEAD / HTTP/1.0\r\n\r\n', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n1;a=b\r\nx\r\n0\r\n\r\nHTTP/1.0 200 OK\r\nContent-Length: 99\r\n\r\nHTTP/1.0 200 OK\r\n\r\nuntil close'),
      http('CONNECT a:443 HTTP/1.1\r\n\r\n\x16\x03\x01', 'HTTP/1.1 200 OK\r\n\r\n\x16\x03\x03'),
      [record(ch, 5000), Buffer.concat([record(sh, 5000), Buffer.from([20, 3, 3, 0, 1, 1, 23, 3, 3, 0, 2, 0, 0])])],
      [record(ch, 37), record(sh, 11)],
    ],
    udp: [[hex(v.clientInitial), hex(v.serverInitial)]],
    hellos: [ch, sh],
    dcid: hex(v.dcid),
  };
}

/** Cuts bytes into segments of random sizes. */
function segments(bytes, r) {
  const out = [];
  for (let at = 0; at < bytes.length; ) {
    const n = 1 + r.below(r.chance(0.5) ? 16 : 1500);
    out.push(bytes.subarray(at, at + n));
    at += n;
  }
  return out;
}

function sessionCase(ctx, r) {
  const { ParserRegistry, sealInitial, cryptoFrame } = ctx.wirecap;
  const seeds = ctx.sessionSeeds;
  const registry = new ParserRegistry({ http: { bodyLimit: r.chance(0.2) ? 64 : 0, maxHeaderBytes: r.chance(0.5) ? 512 : 65536, maxHeaders: 16 + r.below(64) } });
  const udp = r.chance(0.3);
  const flow = { id: 0, key: { version: 4, protocol: udp ? 17 : 6, src: '10.0.0.1', srcPort: 40000, dst: '10.0.0.2', dstPort: 443 } };
  const records = [];
  const h = registry.handler(flow, (record) => records.push(record));
  let t = 1n;
  if (!udp) {
    const [c, s] = seeds.tcp[r.below(seeds.tcp.length)].map((b) => (r.chance(0.8) ? mutate(b, r) : b));
    const pieces = { client: segments(c, r), server: segments(s, r) };
    const offset = { client: 0, server: 0 };
    while (pieces.client.length + pieces.server.length > 0) {
      const d = pieces.client.length === 0 ? 'server' : pieces.server.length === 0 ? 'client' : r.chance(0.5) ? 'client' : 'server';
      const piece = pieces[d].shift();
      if (r.chance(0.02)) h.onGap(d, piece.length, { offset: offset[d], timestamp: t++ });
      else h.onData(d, Buffer.from(piece), { offset: offset[d], timestamp: t++ });
      offset[d] += piece.length;
    }
  } else if (r.chance(0.5)) {
    // A mutated hello (or several CRYPTO frames of one) inside validly sealed Initials: reaches the frame and hello parsers.
    const side = r.chance(0.7) ? 'client' : 'server';
    const hello = mutate(seeds.hellos[side === 'client' ? 0 : 1], r);
    const cut = r.below(hello.length + 1);
    const frames = [cryptoFrame(0, hello.subarray(0, cut)), cryptoFrame(cut, hello.subarray(cut))];
    if (r.chance(0.3)) frames.reverse();
    if (side === 'server') h.onDatagram('client', seeds.udp[0][0], { timestamp: t++, reassembled: false });
    for (const [i, f] of frames.entries()) {
      const frameBytes = r.chance(0.2) ? mutate(f, r) : f;
      const packet = sealInitial({ keyDcid: seeds.dcid, dcid: seeds.dcid, scid: Buffer.alloc(0), side, pn: i, frames: frameBytes, minSize: side === 'client' ? 1200 : 0 });
      h.onDatagram(side, packet, { timestamp: t++, reassembled: false });
    }
  } else {
    for (const [i, d] of seeds.udp[0].entries()) h.onDatagram(i === 0 ? 'client' : 'server', mutate(d, r), { timestamp: t++, reassembled: false });
  }
  h.onEnd('end', { last: t });
  if (registry.stats.parserErrors > 0) throw new Error(`a parser threw: ${records.find((x) => x.kind === 'error').error}`);
  for (const record of records) {
    for (const m of [record.request, record.response]) {
      if (m && m.body && m.body.length > 64) throw new Error(`a body of ${m.body.length} bytes was kept past bodyLimit`);
    }
  }
  return 'sessions';
}

async function child(args) {
  const wirecap = require(ROOT);
  const protocol = require(path.join(ROOT, 'dist', 'stream', 'protocol.js'));
  const dir = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'wirecap-fuzz-'));
  const sessions = args.target === 'sessions';
  const ctx = { wirecap, protocol, dir, seed: args.seed, caseMs: args.caseMs, target: args.target, seeds: sessions ? [] : captureSeeds(wirecap, dir, args.corpus), messages: messageSeeds(protocol), flowFrames: sessions ? [] : flowSeeds(), sessionSeeds: sessionSeeds() };
  const say = (line) => process.stdout.write(line + '\n');
  const end = args.only !== null ? args.only + 1 : args.cases;
  // The sessions target runs tens of thousands of cases a second: it reports every 1000 (a crash is then placed within 1000 cases; replay with --only).
  let okRun = 0;
  let okKind = '';
  const flushOk = (i) => {
    if (okRun > 0) say(`ok ${i} ${okKind} ${okRun}`);
    okRun = 0;
  };
  for (let i = args.only ?? args.from; i < end; i++) {
    if (!sessions || i % 1000 === 0) say(`start ${i}`);
    try {
      const kind = sessions ? sessionCase(ctx, rng(ctx.seed, i)) : await runCase(ctx, i);
      okKind = kind;
      okRun++;
      if (!sessions || i % 1000 === 999) flushOk(i);
    } catch (error) {
      flushOk(i);
      if (error && error.hang) say(`hang ${i} ${error.message}`);
      else if (error && typeof error.code === 'string') say(`ok ${i} ${error.code} 1`);
      else say(`nocode ${i} ${JSON.stringify(String(error && error.stack ? error.stack : error)).slice(0, 400)}`);
    }
  }
  flushOk(end - 1);
  fs.rmSync(dir, { recursive: true, force: true });
}

// --------------------------------------------------------------------------
// Watcher (parent process)

function runChild(args, from) {
  return new Promise((resolve) => {
    const argv = [__filename, '--child', '--seed', String(args.seed), '--cases', String(args.cases), '--from', String(from), '--case-ms', String(args.caseMs), '--target', args.target];
    if (args.corpus !== null) argv.push('--corpus', args.corpus);
    if (args.only !== null) argv.push('--only', String(args.only));
    const proc = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let current = from;
    let buffered = '';
    let stderr = '';
    const events = [];
    let watchdog;
    const arm = () => {
      clearTimeout(watchdog);
      // A native call that never returns stops the child's own timers too.
      watchdog = setTimeout(() => {
        events.push({ kind: 'hang', index: current, detail: `no progress for ${args.caseMs * 3} ms` });
        proc.kill('SIGKILL');
      }, args.caseMs * 3);
    };
    arm();
    proc.stdout.on('data', (chunk) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop();
      for (const line of lines) {
        const [kind, index, ...rest] = line.split(' ');
        current = Number(index);
        arm();
        if (kind === 'start') continue;
        events.push({ kind, index: current, detail: rest.join(' ') });
      }
    });
    proc.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    proc.on('close', (code, signal) => {
      clearTimeout(watchdog);
      resolve({ code, signal, current, events, stderr });
    });
  });
}

async function main() {
  const args = options(process.argv.slice(2));
  if (args.child) return child(args);
  const started = Date.now();
  const findings = [];
  const counts = {};
  let from = args.only ?? 0;
  const end = args.only !== null ? args.only + 1 : args.cases;
  while (from < end) {
    const run = await runChild(args, from);
    for (const e of run.events) {
      if (e.kind === 'ok') {
        const [what, n] = e.detail.split(' ');
        counts[what] = (counts[what] ?? 0) + Number(n);
      } else {
        findings.push(e);
      }
    }
    if (run.code === 0) break;
    // The child died in case run.current: a crash, unless the watchdog named it a hang.
    if (!run.events.some((e) => e.kind === 'hang' && e.index === run.current)) {
      findings.push({ kind: 'crash', index: run.current, detail: `${run.signal ?? run.code}: ${run.stderr.slice(-1500)}` });
    }
    from = run.current + 1;
  }
  const seconds = (Date.now() - started) / 1000;
  const cases = end - (args.only ?? 0);
  const summary = {
    seed: args.seed,
    cases,
    seconds: Number(seconds.toFixed(1)),
    casesPerSecond: Math.round(cases / seconds),
    flowPackets: (counts.flows ?? 0) * FLOW_WINDOW,
    crashes: findings.filter((f) => f.kind === 'crash').length,
    hangs: findings.filter((f) => f.kind === 'hang').length,
    errorsWithoutCode: findings.filter((f) => f.kind === 'nocode').length,
    outcomes: counts,
    findings: findings.slice(0, 20),
  };
  if (args.json) {
    console.log(JSON.stringify(summary));
  } else {
    console.log(`fuzz: seed ${summary.seed}, ${cases} cases in ${summary.seconds} s (${summary.casesPerSecond}/s)`);
    console.log(`  crashes ${summary.crashes}, hangs ${summary.hangs}, errors without a code ${summary.errorsWithoutCode}`);
    console.log(`  outcomes: ${JSON.stringify(counts)}; ${summary.flowPackets} packets through defragmentation, flows and reassembly`);
    for (const f of summary.findings) console.log(`  ${f.kind} in case ${f.index} (replay: --seed ${args.seed} --only ${f.index}): ${f.detail}`);
  }
  process.exitCode = findings.length === 0 ? 0 : 1;
}

main().catch((error) => {
  console.error(error.message);
  process.exit(2);
});
