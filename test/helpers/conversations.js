'use strict';
// A seeded generator of messy conversations, for the flow, defragmentation
// and reassembly tests (test/flows.*.test.ts) and bench/flows: Ethernet
// frames of TCP connections (IPv4 and IPv6; reordered, duplicated, dropped
// and overlapping segments; sequence numbers that wrap; connections picked
// up mid-stream) and UDP datagrams split into IP fragments (reordered,
// duplicated, overlapping). Checksums are left 0 (tshark does not check
// them by default). Every frame is a function of the seed.

const { rng } = require('./packets.js');

const MAC = Buffer.from('02000000000102000000000286dd', 'hex');

function ethernet(v6, ip) {
  const head = Buffer.from(MAC);
  head.writeUInt16BE(v6 ? 0x86dd : 0x0800, 12);
  return Buffer.concat([head, ip]);
}

/** An address as bytes: IPv4 10.a.b.c or IPv6 fd00::a:b:c. */
function address(v6, n) {
  if (!v6) return Buffer.from([10, (n >> 16) & 255, (n >> 8) & 255, n & 255]);
  const b = Buffer.alloc(16);
  b[0] = 0xfd;
  b.writeUInt32BE(n, 12);
  return b;
}

function ipHeader(v6, src, dst, proto, payloadLength, id = 0, fragment = 0) {
  if (!v6) {
    const h = Buffer.alloc(20);
    h[0] = 0x45;
    h.writeUInt16BE(20 + payloadLength, 2);
    h.writeUInt16BE(id, 4);
    h.writeUInt16BE(fragment, 6);
    h[8] = 64;
    h[9] = proto;
    src.copy(h, 12);
    dst.copy(h, 16);
    return h;
  }
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  h.writeUInt16BE(payloadLength, 4);
  h[6] = proto;
  h[7] = 64;
  src.copy(h, 8);
  dst.copy(h, 24);
  return h;
}

function tcpSegment(v6, src, dst, sport, dport, seq, ack, flags, payload) {
  const t = Buffer.alloc(20);
  t.writeUInt16BE(sport, 0);
  t.writeUInt16BE(dport, 2);
  t.writeUInt32BE(seq >>> 0, 4);
  t.writeUInt32BE(ack >>> 0, 8);
  t[12] = 5 << 4;
  t[13] = flags;
  t.writeUInt16BE(65535, 14);
  return ethernet(v6, Buffer.concat([ipHeader(v6, src, dst, 6, 20 + payload.length), t, payload]));
}

function udpDatagram(v6, src, dst, sport, dport, payload) {
  const u = Buffer.alloc(8);
  u.writeUInt16BE(sport, 0);
  u.writeUInt16BE(dport, 2);
  u.writeUInt16BE(8 + payload.length, 4);
  return ethernet(v6, Buffer.concat([ipHeader(v6, src, dst, 17, 8 + payload.length), u, payload]));
}

const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const PSH = 0x08;
const ACK = 0x10;

/**
 * One TCP connection's packets in the order they were sent, each with a
 * time offset (µs), and its true byte streams.
 */
function connection(r, n, options) {
  const v6 = r.chance(options.v6 ?? 0.3);
  const client = address(v6, 0x010000 + n);
  const server = address(v6, 0x000001 + (n % 7));
  const cport = 20000 + (n % 40000);
  const sport = r.chance(0.5) ? 80 : 8080 + (n % 13);
  const wrap = r.chance(options.wrap ?? 0.1);
  let cseq = wrap ? 0xffffffff - r.int(0, 3000) : r.int(0, 0xffffffff);
  let sseq = wrap ? 0xffffffff - r.int(0, 30000) : r.int(0, 0xffffffff);
  const request = r.bytes(r.int(options.minBytes ?? 1, options.maxRequest ?? 3000));
  const response = r.bytes(r.int(0, options.maxResponse ?? 20000));
  const mss = r.int(200, 1460);
  const packets = [];
  const c2s = (flags, payload = Buffer.alloc(0), seq = cseq, ack = sseq) => ({ from: 'client', seq, len: payload.length, frame: tcpSegment(v6, client, server, cport, sport, seq, ack, flags, payload) });
  const s2c = (flags, payload = Buffer.alloc(0), seq = sseq, ack = cseq) => ({ from: 'server', seq, len: payload.length, frame: tcpSegment(v6, server, client, sport, cport, seq, ack, flags, payload) });
  packets.push(c2s(SYN));
  cseq = (cseq + 1) >>> 0;
  packets.push(s2c(SYN | ACK, Buffer.alloc(0), (sseq - 0) >>> 0, cseq));
  sseq = (sseq + 1) >>> 0;
  packets.push(c2s(ACK));
  const send = (bytes, fromClient) => {
    for (let at = 0; at < bytes.length; at += mss) {
      const piece = bytes.subarray(at, at + mss);
      if (fromClient) {
        packets.push({ ...c2s(PSH | ACK, piece), data: true });
        cseq = (cseq + piece.length) >>> 0;
        if (r.chance(0.5)) packets.push(s2c(ACK));
      } else {
        packets.push({ ...s2c(PSH | ACK, piece), data: true });
        sseq = (sseq + piece.length) >>> 0;
        if (r.chance(0.5)) packets.push(c2s(ACK));
      }
    }
  };
  send(request, true);
  send(response, false);
  const close = !r.chance(options.abandon ?? 0);
  if (close) {
    if (r.chance(options.reset ?? 0.05)) packets.push(c2s(RST | ACK));
    else {
      packets.push(c2s(FIN | ACK));
      cseq = (cseq + 1) >>> 0;
      packets.push(s2c(FIN | ACK));
      sseq = (sseq + 1) >>> 0;
      packets.push(c2s(ACK));
    }
  }
  return { v6, client, server, cport, sport, request, response, packets, mss };
}

/** Impairs a connection's data packets: duplicates, overlapping resends, drops, swaps. Returns the list to emit and the bytes dropped per side. */
function impair(r, conn, options) {
  const out = [];
  const dropped = { client: 0, server: 0 };
  const tail = [];
  for (const p of conn.packets) {
    if (p.data && r.chance(options.drop ?? 0)) {
      dropped[p.from] += p.len;
      continue;
    }
    out.push(p);
    if (p.data && r.chance(options.duplicate ?? 0)) tail.push({ at: out.length + r.int(0, 4), p });
  }
  for (const { at, p } of tail.reverse()) out.splice(Math.min(at, out.length), 0, p);
  // Swap neighbours (reordering), keeping the SYN first.
  for (let i = 1; i + 1 < out.length; i++) {
    if (r.chance(options.reorder ?? 0)) [out[i], out[i + 1]] = [out[i + 1], out[i]];
  }
  return { out, dropped };
}

/** A resend covering the end of one data segment and the start of the next (same bytes). */
function overlaps(r, conn, list, options) {
  const side = (from) => (from === 'client' ? conn.request : conn.response);
  const result = [];
  for (let i = 0; i < list.length; i++) {
    result.push(list[i]);
    const p = list[i];
    if (!p.data || !r.chance(options.overlap ?? 0)) continue;
    const bytes = side(p.from);
    // The stream offset of this segment: seq distance from the first data segment of its side.
    const first = conn.packets.find((q) => q.data && q.from === p.from);
    const at = ((p.seq - first.seq) >>> 0) + Math.floor(p.len / 2);
    const piece = bytes.subarray(at, at + conn.mss);
    if (piece.length === 0) continue;
    const seq = (first.seq + at) >>> 0;
    const [src, dst, sp, dp] = p.from === 'client' ? [conn.client, conn.server, conn.cport, conn.sport] : [conn.server, conn.client, conn.sport, conn.cport];
    result.push({ from: p.from, seq, len: piece.length, frame: tcpSegment(conn.v6, src, dst, sp, dp, seq, 0, PSH | ACK, piece), data: true, overlap: true });
  }
  return result;
}

/**
 * TCP connections, interleaved in time. options: seed, connections,
 * concurrency (how many overlap in time), v6 (share), wrap, drop, duplicate,
 * reorder, overlap (chances per data segment), midstream (share of
 * connections whose first 3 packets are missing), abandon, reset,
 * maxRequest, maxResponse. Returns { frames: [{ timestamp, data }], truth }
 * where truth[i] has the connection's ports, request and response bytes and
 * what was dropped.
 */
function tcpConversations(options = {}) {
  const r = rng(options.seed ?? 1);
  const count = options.connections ?? 50;
  const events = [];
  const truth = [];
  const start = 1_700_000_000_000_000n;
  for (let n = 0; n < count; n++) {
    const conn = connection(r, n, options);
    let { out, dropped } = impair(r, conn, options);
    out = overlaps(r, conn, out, options);
    const midstream = r.chance(options.midstream ?? 0);
    if (midstream) out = out.slice(3);
    let t = r.int(0, options.spreadUs ?? 1_000_000);
    for (const p of out) {
      events.push({ t, n, frame: p.frame });
      t += r.int(1, options.gapUs ?? 200);
    }
    truth.push({ index: n, v6: conn.v6, clientPort: conn.cport, serverPort: conn.sport, request: conn.request, response: conn.response, dropped, midstream, packets: out.length });
  }
  events.sort((a, b) => a.t - b.t || a.n - b.n);
  return { frames: events.map((e) => ({ timestamp: (start + BigInt(e.t)) * 1000n, data: e.frame })), truth };
}

/** A DNS response with count A records for name (uncompressed names after the question). */
function dnsAnswer(id, name, count) {
  const labels = Buffer.concat([...name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]);
  const head = Buffer.alloc(12);
  head.writeUInt16BE(id, 0);
  head.writeUInt16BE(0x8180, 2);
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(count, 6);
  const question = Buffer.concat([labels, Buffer.from([0, 1, 0, 1])]);
  const answers = [];
  for (let i = 0; i < count; i++) {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0);
    rr.writeUInt16BE(1, 2);
    rr.writeUInt16BE(1, 4);
    rr.writeUInt32BE(300, 6);
    rr.writeUInt16BE(4, 10);
    rr.writeUInt32BE((10 << 24) | i, 12);
    answers.push(rr);
  }
  return Buffer.concat([head, question, ...answers]);
}

/**
 * UDP datagrams (DNS answers from port 53) split into IP fragments of at
 * most fragmentSize payload bytes (a multiple of 8), fragments reordered,
 * duplicated and overlapping (same bytes) by chance; lost fragments leave a
 * datagram incomplete. Returns { frames, truth } with, per datagram, its
 * id, whether it is complete, and the DNS answer count.
 */
function fragmentedDatagrams(options = {}) {
  const r = rng(options.seed ?? 2);
  const frames = [];
  const truth = [];
  const start = 1_700_000_100_000_000n;
  let t = 0;
  for (let n = 0; n < (options.datagrams ?? 20); n++) {
    const v6 = r.chance(options.v6 ?? 0.4);
    const src = address(v6, 0x000035 + (n % 3));
    const dst = address(v6, 0x020000 + n);
    const answers = r.int(100, 250);
    const dns = dnsAnswer(n, `host${n}.example.com`, answers);
    const udp = Buffer.alloc(8);
    udp.writeUInt16BE(53, 0);
    udp.writeUInt16BE(30000 + n, 2);
    udp.writeUInt16BE(8 + dns.length, 4);
    const payload = Buffer.concat([udp, dns]);
    const id = r.int(1, 0xffff);
    const size = 8 * r.int(20, 150);
    const pieces = [];
    for (let at = 0; at < payload.length; at += size) pieces.push({ at, bytes: payload.subarray(at, at + size) });
    let list = pieces.map((p, k) => ({ ...p, more: k < pieces.length - 1 }));
    const lost = r.chance(options.lose ?? 0) && list.length > 1;
    if (lost) list.splice(r.int(0, list.length - 1), 1);
    if (r.chance(options.duplicate ?? 0)) list.push(list[r.int(0, list.length - 1)]);
    if (r.chance(options.overlap ?? 0) && list.length > 1 && list[0].more) {
      // A fragment covering the second half of the first and the start of the second, same bytes.
      const at = size / 2;
      list.push({ at, bytes: payload.subarray(at, at + size), more: true });
    }
    for (let i = list.length - 1; i > 0; i--) if (r.chance(options.reorder ?? 0)) [list[i], list[i - 1]] = [list[i - 1], list[i]];
    for (const f of list) {
      let ip;
      if (!v6) ip = Buffer.concat([ipHeader(false, src, dst, 17, f.bytes.length, id, (f.more ? 0x2000 : 0) | (f.at / 8)), f.bytes]);
      else {
        const fh = Buffer.alloc(8);
        fh[0] = 17;
        fh.writeUInt16BE((f.at / 8) * 8 + (f.more ? 1 : 0), 2);
        fh.writeUInt32BE(id, 4);
        ip = Buffer.concat([ipHeader(true, src, dst, 44, 8 + f.bytes.length), fh, f.bytes]);
      }
      t += r.int(1, 100);
      frames.push({ timestamp: (start + BigInt(t)) * 1000n, data: ethernet(v6, ip) });
    }
    truth.push({ index: n, v6, id, complete: !lost, answers, dstPort: 30000 + n, fragments: list.length });
  }
  return { frames, truth };
}

module.exports = { tcpConversations, fragmentedDatagrams, tcpSegment, udpDatagram, ipHeader, address };
