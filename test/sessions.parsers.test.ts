// The sessions parsers over byte chunks, before any capture: HTTP/1.x split
// at every byte, TLS hellos split across records and segments, JA3/JA4/JA4S
// on the JA4 specification's worked example, QUIC Initial keys and packets
// from RFC 9001 Appendix A, CRYPTO frames across several Initial packets,
// and hostile input (flagged records, bounded buffers, never a throw).
import fs from 'node:fs';
import path from 'node:path';
import { ja4 } from '../lib/sessions/fingerprints';
import { parseClientHello } from '../lib/sessions/hello';
import { initialKeys, longHeader, openInitial, cryptoFrames } from '../lib/sessions/quic';
import { ParserRegistry } from '../lib/sessions/registry';
import type { Direction, HandshakeRecord, HttpTransaction, SessionFlow, SessionRecord } from '../lib/sessions/types';
import { clientHello, cryptoFrame, records, sealInitial, serverHello } from './helpers/hello';

const vectors = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'rfc9001', 'vectors.json'), 'utf8'));
const hex = (s: string): Buffer => Buffer.from(s, 'hex');

function flow(transport: 'tcp' | 'udp', port = 8080): SessionFlow {
  return { id: 1, key: { version: 4, protocol: transport === 'tcp' ? 6 : 17, src: '10.0.0.1', srcPort: 40000, dst: '10.0.0.2', dstPort: port } };
}

/** Feeds chunks ([direction, bytes]) through a registry's handler for one flow; returns the records and the stats. */
function run(chunks: Array<[Direction, Buffer | string]>, options: { transport?: 'tcp' | 'udp'; split?: number; http?: object } = {}) {
  const registry = new ParserRegistry({ http: options.http });
  const out: SessionRecord[] = [];
  const f = flow(options.transport ?? 'tcp');
  const h = registry.handler(f, (r) => out.push(r));
  const offsets = { client: 0, server: 0 };
  let t = 1n;
  for (const [direction, data] of chunks) {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    const step = options.split ?? bytes.length;
    for (let at = 0; at < bytes.length; at += step) {
      const piece = Buffer.from(bytes.subarray(at, at + step));
      if (f.key.protocol === 17) h.onDatagram(direction, piece, { timestamp: t++, reassembled: false });
      else h.onData(direction, piece, { offset: offsets[direction], timestamp: t++ });
      piece.fill(0xee); // the parser must not keep the buffer it was given
      offsets[direction] += piece.length;
    }
  }
  h.onEnd('end', { last: t });
  return { records: out, stats: registry.stats };
}

const http = (records: SessionRecord[]) => records as HttpTransaction[];

describe('HTTP/1.x', () => {
  const requests =
    'GET /a HTTP/1.1\r\nHost: example.com\r\n\r\n' +
    'POST /b?x=1 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\nhello' +
    'HEAD /c HTTP/1.1\r\nHost: h2.example\r\n\r\n' +
    'PUT /d HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n';
  const responses =
    'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc' +
    'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwxyz\r\n0\r\n\r\n' +
    'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n' +
    'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the connection closes';

  test.each([1, 2, 7, 1000])('pipelined requests pair with their responses in order, split every %i bytes', (split) => {
    const { records, stats } = run(
      [
        ['client', requests],
        ['server', responses],
      ],
      { split },
    );
    const txs = http(records);
    expect(txs.map((t) => [t.request?.method, t.request?.uri, t.request?.host, t.response?.status])).toEqual([
      ['GET', '/a', 'example.com', 200],
      ['POST', '/b?x=1', 'example.com', 201],
      ['HEAD', '/c', 'h2.example', 200],
      ['PUT', '/d', 'example.com', 200],
    ]);
    expect(txs.map((t) => [t.request?.bodyMode, t.request?.bodyLength, t.response?.bodyMode, t.response?.bodyLength])).toEqual([
      ['none', 0, 'length', 3],
      ['length', 5, 'chunked', 4],
      ['none', 0, 'none', 0],
      ['chunked', 5, 'close', 'until the connection closes'.length],
    ]);
    expect(txs[2].response!.contentLength).toBe(1000);
    expect(txs.every((t) => t.flags.length === 0 && t.request!.complete && t.response!.complete)).toBe(true);
    expect(txs.every((t) => t.request!.body === undefined)).toBe(true);
    expect(stats.bytesGivenUp).toBe(0);
  });

  test('bodies are kept only when asked, up to bodyLimit bytes, de-chunked', () => {
    const { records } = run(
      [
        ['client', requests],
        ['server', responses],
      ],
      { split: 3, http: { bodyLimit: 4 } },
    );
    const txs = http(records);
    expect(txs[1].request!.body!.toString()).toBe('hell');
    expect(txs[1].response!.body!.toString()).toBe('wxyz');
    expect(txs[3].request!.body!.toString()).toBe('abcd');
    expect(txs[0].request!.body).toBeUndefined();
  });

  test('a request without an answer is emitted at the end, flagged unanswered; a cut body is flagged truncated', () => {
    const { records } = run([
      ['client', 'GET / HTTP/1.1\r\nHost: a\r\n\r\nPOST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc'],
      ['server', 'HTTP/1.1 204 No Content\r\n\r\n'],
    ]);
    const txs = http(records);
    expect(txs).toHaveLength(2);
    expect(txs[0].response!.status).toBe(204);
    expect(txs[1].flags).toEqual(expect.arrayContaining(['truncated', 'unanswered']));
    expect(txs[1].request!.bodyLength).toBe(3);
  });

  test('a gap inside a Content-Length body is crossed and flagged; a gap in a header loses only that direction', () => {
    const registry = new ParserRegistry();
    const out: SessionRecord[] = [];
    const h = registry.handler(flow('tcp'), (r) => out.push(r));
    const t = { offset: 0, timestamp: 1n };
    h.onData('client', Buffer.from('GET / HTTP/1.1\r\n\r\n'), t);
    h.onData('server', Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789'), t);
    h.onGap('server', 50, t);
    h.onData('server', Buffer.alloc(40, 0x41), t);
    h.onData('client', Buffer.from('GET /next HT'), t);
    h.onGap('client', 5, t);
    h.onEnd('end', { last: 2n });
    const txs = http(out);
    expect(txs[0].response!.bodyLength).toBe(100);
    expect(txs[0].flags).toEqual(['gap']);
    expect(txs[1].flags).toEqual(['gap', 'in-request']);
    expect(registry.stats.bytesGivenUp).toBe(5);
  });

  test('a header bomb gives one flagged record, and the parser holds at most maxHeaderBytes', () => {
    const bomb = 'GET / HTTP/1.1\r\n' + 'X-A: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n'.repeat(100000);
    const { records, stats } = run([['client', bomb]], { split: 1460, http: { maxHeaderBytes: 8192 } });
    expect(records).toHaveLength(1);
    expect(records[0].flags).toEqual(['header-too-large', 'in-request']);
    expect(stats.bytesGivenUp).toBe(bomb.length);
  });

  test('too many header lines, binary junk, absurd lengths and bad chunks: each a flagged record, never a throw', () => {
    const cases: Array<[string, Array<[Direction, string | Buffer]>]> = [
      ['too-many-headers', [['client', 'GET / HTTP/1.1\r\n' + 'a: b\r\n'.repeat(300) + '\r\n']]],
      ['not-http', [['client', Buffer.from('GET \x00\x01\x02 HTTP/1.1\r\n\r\n', 'latin1')], ['server', Buffer.from([0x48, 0x54, 0x54, 0x50, 0x2f, 0xff, 0, 1])]]],
      ['bad-content-length', [['client', 'POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n']]],
      ['bad-content-length', [['client', 'POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n']]],
      ['bad-chunk', [['client', 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n']]],
      ['bad-chunk', [['client', 'POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n' + '1'.repeat(5000)]]],
      ['bad-start-line', [['client', 'GET /\r\n\r\n']]],
      ['bad-header', [['client', 'GET / HTTP/1.1\r\nno colon here\r\n\r\n']]],
    ];
    for (const [flag, chunks] of cases) {
      const { records } = run(chunks, { http: { maxHeaders: 256 } });
      expect(records.flatMap((r) => r.flags)).toContain(flag);
    }
  });

  test('101 Switching Protocols ends HTTP parsing of both directions; the rest is not parsed as HTTP', () => {
    const { records, stats } = run([
      ['client', 'GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n'],
      ['server', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello'],
      ['client', '\x81\x85abcdhello'],
    ]);
    expect(http(records).map((t) => [t.request?.uri, t.response?.status, t.flags])).toEqual([['/ws', 101, []]]);
    expect(stats.bytesGivenUp).toBe(7 + 11);
  });
});

// The JA4 specification's worked example (technical_details/JA4.md), with GREASE added where Chrome puts it.
const SPEC = {
  ciphers: [0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035],
  extensions: [0x1a1a, 0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015, 0x2a2a] as number[],
  sigalgs: [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601],
  versions: [0x3a3a, 0x0304, 0x0303],
  alpn: ['h2', 'http/1.1'],
  groups: [0x4a4a, 0x001d, 0x0017, 0x0018],
};

describe('TLS and fingerprints', () => {
  test('the JA4 specification example gives t13d1516h2_8daaf6152771_e5627efa2ab1 and its raw form', () => {
    const hello = parseClientHello(clientHello(SPEC).subarray(4))!;
    expect(hello.grease).toBe(5);
    expect(ja4(hello, 'tcp')).toEqual({
      ja4: 't13d1516h2_8daaf6152771_e5627efa2ab1',
      ja4r: 't13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601',
    });
    // Without signature algorithms the hash covers the extensions alone (the spec's 6d807ffa2a79).
    const noSig = parseClientHello(clientHello({ ...SPEC, sigalgs: [] }).subarray(4))!;
    expect(ja4(noSig, 'tcp').ja4).toBe('t13d1516h2_8daaf6152771_6d807ffa2a79');
    // The ALPN rules: non-alphanumeric first or last bytes come out as hex; no ALPN is 00; one character is doubled.
    const alpn = (values: string[]) => ja4(parseClientHello(clientHello({ ...SPEC, alpn: values }).subarray(4))!, 'quic').ja4.slice(0, 10);
    expect([alpn(['\xab\xcd']), alpn(['\x30\xab']), alpn(['\x30\x31\xab\xcd']), alpn(['\x30\xab\xcd\x31']), alpn(['x']), alpn([''])]).toEqual(['q13d1516ad', 'q13d15163b', 'q13d15163d', 'q13d151601', 'q13d1516xx', 'q13d151600']);
  });

  test.each([
    ['one record, one segment', [], 0],
    ['records of 50 bytes, fed byte by byte', [50, 50, 50, 50], 1],
    ['a record per 7 bytes, in 3-byte segments', Array(40).fill(7), 3],
  ])('a ClientHello and ServerHello split as %s give one record with SNI, ALPN, JA3, JA4 and JA4S', (_name, sizes, split) => {
    const ch = records(clientHello({ ...SPEC, sni: 'split.example' }), sizes as number[]);
    const sh = records(serverHello(0x1301, [[0x002b, Buffer.from([3, 4])], [0x0033, Buffer.alloc(36, 1)], [0x0010, Buffer.from([0, 3, 2, 0x68, 0x32])]]), sizes as number[]);
    const { records: out, stats } = run(
      [
        ['client', ch],
        ['server', Buffer.concat([sh, Buffer.from([23, 3, 3, 0, 5, 1, 2, 3, 4, 5])])],
      ],
      { split: split || undefined },
    );
    expect(out).toHaveLength(1);
    const r = out[0] as HandshakeRecord;
    expect(r).toMatchObject({ kind: 'tls', sni: 'split.example', alpn: ['h2', 'http/1.1'], flags: [], ja4: 't13d1516h2_8daaf6152771_e5627efa2ab1' });
    expect(r.server).toMatchObject({ version: 0x0304, cipherSuite: 0x1301, alpn: 'h2' });
    expect(r.ja4s).toMatch(/^t130[3]h2_1301_[0-9a-f]{12}$/);
    expect(r.ja3Full).toBe('771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,27-0-51-16-17513-23-45-13-5-35-18-43-65281-11-10-21,29-23-24,0');
    expect(stats.bytesGivenUp).toBe(0);
  });

  test('not TLS after a TLS start, an oversized hello and a cut handshake: flagged, never a throw', () => {
    const bad = run([['client', Buffer.from([22, 3, 1, 0, 2, 1, 0, 99, 99, 99, 99, 99, 99])]]);
    expect(bad.records[0].flags).toEqual(expect.arrayContaining(['not-tls', 'no-client-hello']));
    const big = run([['client', Buffer.from([22, 3, 1, 0, 4, 1, 0xff, 0xff, 0xff])]]);
    expect(big.records[0].flags).toContain('hello-too-large');
    const cut = run([['client', records(clientHello(SPEC)).subarray(0, 100)]]);
    expect(cut.records[0].flags).toEqual(['no-client-hello']);
  });
});

describe('QUIC v1 Initial', () => {
  test('RFC 9001 A.1: the Initial keys from the connection id 8394c8f03e515708', () => {
    for (const side of ['client', 'server'] as const) {
      const k = initialKeys(hex(vectors.dcid), side);
      expect({ key: k.key.toString('hex'), iv: k.iv.toString('hex'), hp: k.hp.toString('hex') }).toEqual(vectors[side]);
    }
  });

  test('RFC 9001 A.2 and A.3: the protected Initials open to the published ClientHello and ServerHello', () => {
    for (const [side, packet, hello] of [
      ['client', vectors.clientInitial, vectors.clientHello],
      ['server', vectors.serverInitial, vectors.serverHello],
    ] as const) {
      const b = hex(packet);
      const h = longHeader(b, 0)!;
      const opened = openInitial(b, 0, h, initialKeys(hex(vectors.dcid), side))!;
      expect(opened.pn).toBe(side === 'client' ? 2 : 1);
      expect(cryptoFrames(opened.payload)![0].data.toString('hex')).toBe(hello);
      // The other side's keys do not authenticate.
      expect(openInitial(b, 0, h, initialKeys(hex(vectors.dcid), side === 'client' ? 'server' : 'client'))).toBeNull();
    }
    // sealInitial (the tests' builder) makes the RFC's client packet byte for byte.
    const frames = cryptoFrame(0, hex(vectors.clientHello));
    expect(sealInitial({ keyDcid: hex(vectors.dcid), dcid: hex(vectors.dcid), scid: Buffer.alloc(0), side: 'client', pn: 2, frames, minSize: 1200 }).toString('hex')).toBe(vectors.clientInitial);
  });

  test('the RFC 9001 client and server Initials give one quic record with SNI, ALPN, JA4 (q) and JA4S', () => {
    const { records: out } = run(
      [
        ['client', hex(vectors.clientInitial)],
        ['server', hex(vectors.serverInitial)],
      ],
      { transport: 'udp' },
    );
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ kind: 'quic', sni: 'example.com', alpn: ['alpn'], flags: [], quic: { version: 1, dcid: vectors.dcid } });
    // Two cipher suites (1301, 1302) and eleven extensions; the cipher hash is sha256('1301,1302').
    expect((out[0] as HandshakeRecord).ja4).toMatch(/^q13d0211an_62ed6f6ca7ad_[0-9a-f]{12}$/);
    expect((out[0] as HandshakeRecord).ja4s).toMatch(/^q130200_1301_/);
  });

  test('a ClientHello in CRYPTO frames spread over three Initial packets, out of order, coalesced with junk after', () => {
    const ch = clientHello({ ...SPEC, sni: 'three.example' });
    const dcid = hex('0011223344556677');
    const scid = hex('aabbccdd');
    const seal = (pn: number, frames: Buffer) => sealInitial({ keyDcid: dcid, dcid, scid, side: 'client', pn, frames, minSize: 1200 });
    const p1 = seal(0, cryptoFrame(300, ch.subarray(300)));
    const p2 = seal(1, Buffer.concat([Buffer.from([1]), cryptoFrame(0, ch.subarray(0, 100))]));
    const p3 = seal(2, cryptoFrame(100, ch.subarray(100, 300)));
    const { records: out } = run(
      [
        ['client', p1],
        ['client', p2],
        ['client', Buffer.concat([p3, Buffer.from([0x40, 1, 2, 3])])],
      ],
      { transport: 'udp' },
    );
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ kind: 'quic', sni: 'three.example', ja4: 'q13d1516h2_8daaf6152771_e5627efa2ab1', ja4s: null });
  });

  test('tampered, truncated and unknown-version packets: flagged records, never a throw', () => {
    const b = hex(vectors.clientInitial);
    b[600] ^= 1;
    expect(run([['client', b]], { transport: 'udp' }).records[0].flags).toContain('decrypt-failed');
    expect(run([['client', hex(vectors.clientInitial).subarray(0, 40)]], { transport: 'udp' }).records).toHaveLength(0);
    const v2 = hex(vectors.clientInitial);
    v2.writeUInt32BE(0x6b3343cf, 1);
    expect(run([['client', v2]], { transport: 'udp' }).stats.unclaimed).toBe(1);
  });
});

describe('the registry', () => {
  test('a parser of your own by port, one by sniffing, tried before the built-in ones, sees held bytes replayed', () => {
    const registry = new ParserRegistry();
    const seen: string[] = [];
    registry.add({ name: 'redis', transport: 'tcp', ports: [6379], create: (ctx) => ({ data: (d, b) => seen.push(`${d}:${b}`), end: () => ctx.emit({ kind: 'redis', flow: ctx.flow, flags: [], commands: seen.length }) }) });
    registry.add({
      name: 'banner',
      transport: 'tcp',
      sniff: (d, b) => (b.length < 4 ? null : d === 'server' && b.toString('latin1', 0, 4) === 'SSH-'),
      create: (ctx) => {
        let banner = '';
        return { data: (_d, b) => void (banner += b.toString()), end: () => ctx.emit({ kind: 'ssh', flow: ctx.flow, flags: [], banner: banner.trim() }) };
      },
    });
    const out: SessionRecord[] = [];
    const redis = registry.handler(flow('tcp', 6379), (r) => out.push(r));
    redis.onData('client', Buffer.from('PING\r\n'), { offset: 0, timestamp: 1n });
    redis.onEnd('closed');
    const ssh = registry.handler(flow('tcp', 2222), (r) => out.push(r));
    ssh.onData('server', Buffer.from('SS'), { offset: 0, timestamp: 1n });
    ssh.onData('server', Buffer.from('H-2.0-OpenSSH_9.2\r\n'), { offset: 2, timestamp: 2n });
    ssh.onEnd('closed');
    const web = registry.handler(flow('tcp', 6380), (r) => out.push(r));
    web.onData('client', Buffer.from('GET / HTTP/1.1\r\n\r\n'), { offset: 0, timestamp: 1n });
    web.onEnd('closed');
    expect(out.map((r) => r.kind)).toEqual(['redis', 'ssh', 'http']);
    expect(out[1]).toMatchObject({ banner: 'SSH-2.0-OpenSSH_9.2' });
    expect(registry.stats.claimed).toEqual({ redis: 1, banner: 1, http: 1 });
  });

  test('a parser that throws is detached with a record flagged parser-threw, counted; the flow layer never sees the throw', () => {
    const registry = new ParserRegistry({ builtins: false });
    registry.add({ name: 'boom', transport: 'udp', sniff: () => true, create: () => ({ datagram: () => { throw new Error('oops'); } }) });
    const out: SessionRecord[] = [];
    const h = registry.handler(flow('udp'), (r) => out.push(r));
    h.onDatagram('client', Buffer.from('x'), { timestamp: 1n, reassembled: false });
    h.onDatagram('client', Buffer.from('y'), { timestamp: 2n, reassembled: false });
    expect(out).toEqual([expect.objectContaining({ kind: 'error', flags: ['parser-threw'], parser: 'boom', error: 'oops' })]);
    expect(registry.stats.parserErrors).toBe(1);
  });

  test('a flow nobody claims holds at most 1 KiB while sniffing and is counted unclaimed', () => {
    const { records: out, stats } = run([['client', Buffer.alloc(5000, 0x41)]], { split: 100 });
    expect(out).toHaveLength(0);
    expect(stats.unclaimed).toBe(1);
  });
});
