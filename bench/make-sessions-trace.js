'use strict';
// Writes bench/sessions' trace: mostly HTTP/1.1 and TLS connections, 200 open
// at a time. HTTP (60 %): 1 to 4 keep-alive exchanges, bodies by
// Content-Length or chunked, up to 30 KB. TLS (40 %): a ClientHello (RFC
// 9001's, SNI varied), a ServerHello and a 3 KB certificate-sized record,
// then application data both ways. Segments from test/helpers/conversations.js,
// the seeded generator from test/helpers/packets.js.
//   node bench/make-sessions-trace.js <file> [connections=10000]
const fs = require('node:fs');
const path = require('node:path');
const { rng } = require('../test/helpers/packets');
const { tcpSegment, address } = require('../test/helpers/conversations');
const { pcapHeader } = require('./pcap-writer');

const [file, count = '10000'] = process.argv.slice(2);
const r = rng(25);
const v = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'test', 'fixtures', 'rfc9001', 'vectors.json'), 'utf8'));
const PSH_ACK = 0x18;
const record = (type, body) => Buffer.concat([Buffer.from([type, 3, 3, body.length >> 8, body.length & 0xff]), body]);
const hello = Buffer.from(v.clientHello, 'hex');

function clientHello(n) {
  // The RFC's ClientHello names example.com (11 bytes): put a name of the same length in its place.
  const h = Buffer.from(hello);
  const at = h.indexOf('example.com');
  h.write(`h${String(n % 100000).padStart(5, '0')}.test`.slice(0, 11), at, 'latin1');
  return record(22, h);
}

function exchanges(n) {
  const c = [];
  const s = [];
  if (r.chance(0.6)) {
    for (let k = r.int(1, 4); k > 0; k--) {
      c.push(Buffer.from(`GET /item/${n}/${k}?q=${r.int(0, 1e6)} HTTP/1.1\r\nHost: h${n % 500}.example\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\n\r\n`));
      const body = Buffer.alloc(r.int(0, 30000), 0x61);
      if (r.chance(0.4)) {
        const chunks = [];
        for (let at = 0; at < body.length; at += 4096) {
          const piece = body.subarray(at, at + 4096);
          chunks.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
        }
        s.push(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n'), ...chunks, Buffer.from('0\r\n\r\n')]));
      } else {
        s.push(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n`), body]));
      }
    }
    return { c, s };
  }
  c.push(clientHello(n));
  s.push(Buffer.concat([record(22, Buffer.from(v.serverHello, 'hex')), record(20, Buffer.from([1])), record(23, Buffer.alloc(3000, 7))]));
  c.push(Buffer.concat([record(20, Buffer.from([1])), record(23, Buffer.alloc(r.int(100, 2000), 9))]));
  const total = r.int(1000, 30000);
  const app = [];
  for (let at = 0; at < total; at += 16384) app.push(record(23, Buffer.alloc(Math.min(16384, total - at), 8)));
  s.push(Buffer.concat(app));
  return { c, s };
}

const frames = [];
const conns = Number(count);
for (let n = 0; n < conns; n++) {
  const client = address(false, 0x010000 + n);
  const server = address(false, 0x000001 + (n % 50));
  const cport = 20000 + (n % 40000);
  const sport = r.chance(0.5) ? 80 : 443;
  let cseq = r.int(0, 0xffffffff);
  let sseq = r.int(0, 0xffffffff);
  let t = BigInt(n) * 100_000n; // a new connection every 100 µs, each about 20 ms long: ~200 open at once
  const push = (frame) => frames.push({ t: (t += 1000n), frame });
  push(tcpSegment(false, client, server, cport, sport, cseq, 0, 0x02, Buffer.alloc(0)));
  cseq = (cseq + 1) >>> 0;
  push(tcpSegment(false, server, client, sport, cport, sseq, cseq, 0x12, Buffer.alloc(0)));
  sseq = (sseq + 1) >>> 0;
  const { c, s } = exchanges(n);
  for (let k = 0; k < Math.max(c.length, s.length); k++) {
    for (const [bytes, fromClient] of [[c[k], true], [s[k], false]]) {
      if (bytes === undefined) continue;
      for (let at = 0; at < bytes.length; at += 1448) {
        const piece = bytes.subarray(at, at + 1448);
        if (fromClient) {
          push(tcpSegment(false, client, server, cport, sport, cseq, sseq, PSH_ACK, piece));
          cseq = (cseq + piece.length) >>> 0;
        } else {
          push(tcpSegment(false, server, client, sport, cport, sseq, cseq, PSH_ACK, piece));
          sseq = (sseq + piece.length) >>> 0;
        }
      }
    }
  }
  push(tcpSegment(false, client, server, cport, sport, cseq, sseq, 0x11, Buffer.alloc(0)));
  push(tcpSegment(false, server, client, sport, cport, sseq, (cseq + 1) >>> 0, 0x11, Buffer.alloc(0)));
}
frames.sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : 0));
const fd = fs.openSync(file, 'w');
const header = pcapHeader();
fs.writeSync(fd, header);
const base = 1_700_000_000_000_000n;
for (const { t, frame } of frames) {
  const rec = Buffer.alloc(16);
  const us = base + t / 1000n;
  rec.writeUInt32LE(Number(us / 1_000_000n), 0);
  rec.writeUInt32LE(Number(us % 1_000_000n), 4);
  rec.writeUInt32LE(frame.length, 8);
  rec.writeUInt32LE(frame.length, 12);
  fs.writeSync(fd, Buffer.concat([rec, frame]));
}
fs.closeSync(fd);
console.log(`${file}: ${frames.length} packets, ${conns} connections`);
