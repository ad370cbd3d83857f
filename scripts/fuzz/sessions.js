'use strict';
// The sessions target of scripts/fuzz.js: the HTTP, TLS and QUIC parsers of
// lib/sessions, one mutated flow a case.
const fs = require('node:fs');
const path = require('node:path');
const { mutate } = require('./mutate');

const ROOT = path.join(__dirname, '..', '..');

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

module.exports = { sessionSeeds, sessionCase };
