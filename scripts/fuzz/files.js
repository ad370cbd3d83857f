'use strict';
// The capture-file targets of scripts/fuzz.js: mutated pcap/pcapng files
// through openOffline (a named file, standard input, a pcap-over-IP
// connection), openTrace + seek, slice, and mutated collector messages
// through decodePacket.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { mutate } = require('./mutate');

const ROOT = path.join(__dirname, '..', '..');


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

/** One case: kind is below 20 (runCase in scripts/fuzz.js draws it). */
async function fileCase(ctx, r, index, kind) {
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

module.exports = { captureSeeds, messageSeeds, fileCase };
