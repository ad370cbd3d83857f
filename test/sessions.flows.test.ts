// sessions() over the flow tracker: segments out of order, retransmitted and
// lost, IPv6, a QUIC Initial in a UDP flow, and the README's parser of your
// own (by port and sniffing), all from packets made here.
import { sessions, sealInitial, cryptoFrame } from '../lib';
import type { HandshakeRecord, HttpTransaction, ParserDefinition, SessionRecord } from '../lib';
import { clientHello, records as tlsRecords } from './helpers/hello';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { tcpSegment, address } = require('./helpers/conversations');

const SYN = 0x02;
const ACK = 0x10;
const PSH_ACK = 0x18;
const FIN_ACK = 0x11;

interface Pkt {
  timestamp: bigint;
  data: Buffer;
  caplen: number;
  len: number;
}

/** One TCP connection's frames: handshake, then each [fromClient, bytes] cut into segments of `mss`, then FIN both ways. */
function connection(n: number, sport: number, exchange: Array<[boolean, Buffer]>, mss: number, v6 = false): Buffer[] {
  const client = address(v6, 0x010000 + n);
  const server = address(v6, 0x000001);
  const cport = 30000 + n;
  let cseq = 1000;
  let sseq = 5000;
  const out: Buffer[] = [tcpSegment(v6, client, server, cport, sport, cseq, 0, SYN, Buffer.alloc(0))];
  cseq++;
  out.push(tcpSegment(v6, server, client, sport, cport, sseq, cseq, SYN | ACK, Buffer.alloc(0)));
  sseq++;
  for (const [fromClient, bytes] of exchange) {
    for (let at = 0; at < bytes.length; at += mss) {
      const piece = bytes.subarray(at, at + mss);
      if (fromClient) {
        out.push(tcpSegment(v6, client, server, cport, sport, cseq, sseq, PSH_ACK, piece));
        cseq += piece.length;
      } else {
        out.push(tcpSegment(v6, server, client, sport, cport, sseq, cseq, PSH_ACK, piece));
        sseq += piece.length;
      }
    }
  }
  out.push(tcpSegment(v6, client, server, cport, sport, cseq, sseq, FIN_ACK, Buffer.alloc(0)));
  out.push(tcpSegment(v6, server, client, sport, cport, sseq, cseq + 1, FIN_ACK, Buffer.alloc(0)));
  out.push(tcpSegment(v6, client, server, cport, sport, cseq + 1, sseq + 1, ACK, Buffer.alloc(0)));
  return out;
}

const packets = (frames: Buffer[], start = 1_700_000_000_000_000_000n): Pkt[] => frames.map((data, i) => ({ timestamp: start + BigInt(i) * 1000n, data, caplen: data.length, len: data.length }));

async function all(source: Pkt[], parsers: ParserDefinition[] = []): Promise<SessionRecord[]> {
  const out: SessionRecord[] = [];
  for await (const r of sessions(source, { linktype: 1, parsers })) out.push(r);
  return out;
}

test('HTTP over segments delivered out of order and twice: the same transactions as in order', async () => {
  const exchange: Array<[boolean, Buffer]> = [
    [true, Buffer.from('GET /one HTTP/1.1\r\nHost: reorder.test\r\n\r\nGET /two HTTP/1.1\r\nHost: reorder.test\r\n\r\n')],
    [false, Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n${'x'.repeat(3000)}HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nmiss!\r\n0\r\n\r\n`)],
  ];
  const frames = connection(1, 80, exchange, 97);
  const data = frames.slice(2, -3);
  // Reverse each run of 4 data segments and repeat every fifth.
  const shuffled: Buffer[] = [];
  for (let i = 0; i < data.length; i += 4) shuffled.push(...data.slice(i, i + 4).reverse());
  const messy = [...frames.slice(0, 2), ...shuffled.flatMap((f, i) => (i % 5 === 0 ? [f, f] : [f])), ...frames.slice(-3)];
  for (const list of [frames, messy]) {
    const txs = (await all(packets(list))) as HttpTransaction[];
    expect(txs.map((t) => [t.request!.uri, t.request!.host, t.response!.status, t.response!.bodyMode, t.response!.bodyLength, t.flags])).toEqual([
      ['/one', 'reorder.test', 200, 'length', 3000, []],
      ['/two', 'reorder.test', 404, 'chunked', 5, []],
    ]);
    expect(txs[0].flow.key).toMatchObject({ src: '10.1.0.1', srcPort: 30001, dst: '10.0.0.1', dstPort: 80, protocol: 6 });
  }
});

test('a lost segment inside a body is a gap the HTTP parser crosses (flagged); one in a ClientHello ends that handshake, flagged', async () => {
  const http = connection(2, 8080, [[true, Buffer.from('GET /big HTTP/1.1\r\nHost: gap.test\r\n\r\n')], [false, Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n${'y'.repeat(5000)}`)]], 500);
  const lost = http.filter((_f, i) => i !== 6); // a server segment in the middle of the body
  const hello = tlsRecords(clientHello({ ciphers: [0x1301], extensions: [0, 16, 43], sni: 'lost.test' }));
  const tls = connection(3, 443, [[true, hello]], 40);
  const tlsLost = tls.filter((_f, i) => i !== 3);
  const out = await all([...packets(lost), ...packets(tlsLost, 1_700_000_001_000_000_000n)]);
  const tx = out.find((r) => r.kind === 'http') as HttpTransaction;
  expect(tx).toMatchObject({ flags: ['gap'], response: { status: 200, bodyLength: 5000, complete: true } });
  const hs = out.find((r) => r.kind === 'tls') as HandshakeRecord;
  expect(hs.flags).toEqual(expect.arrayContaining(['gap', 'no-client-hello']));
});

test('TLS over IPv6 with the ClientHello in 30-byte segments, and a QUIC Initial in a UDP flow', async () => {
  const hello = tlsRecords(clientHello({ ciphers: [0x1301, 0x1302], extensions: [0, 16, 43, 13], sni: 'v6.test', alpn: ['h2'] }), [100]);
  const tls = connection(4, 443, [[true, hello]], 30, true);
  const dcid = Buffer.from('0102030405060708', 'hex');
  const initial = sealInitial({ keyDcid: dcid, dcid, scid: Buffer.alloc(0), side: 'client', pn: 0, frames: cryptoFrame(0, clientHello({ ciphers: [0x1301], extensions: [0, 16, 43], sni: 'udp.test', alpn: ['h3'] })), minSize: 1200 });
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(50000, 0);
  udp.writeUInt16BE(443, 2);
  udp.writeUInt16BE(8 + initial.length, 4);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + 8 + initial.length, 2);
  ip[8] = 64;
  ip[9] = 17;
  Buffer.from([10, 9, 9, 9]).copy(ip, 12);
  Buffer.from([10, 8, 8, 8]).copy(ip, 16);
  const frame = Buffer.concat([Buffer.from('020000000001020000000002', 'hex'), Buffer.from([0x08, 0x00]), ip, udp, initial]);
  const out = (await all([...packets(tls), ...packets([frame], 1_700_000_002_000_000_000n)])) as HandshakeRecord[];
  expect(out.map((r) => [r.kind, r.sni, r.alpn, r.flow.key.version, r.ja4!.slice(0, 10)])).toEqual([
    ['tls', 'v6.test', ['h2'], 6, 't13d0204h2'],
    ['quic', 'udp.test', ['h3'], 4, 'q13d0103h3'],
  ]);
});

test("the README's parser of your own: by port and sniffing, tried before the built-in ones", async () => {
  const redis: ParserDefinition = {
    name: 'redis',
    transport: 'tcp',
    ports: [6379],
    sniff: (direction, bytes) => (bytes.length === 0 ? null : direction !== 'client' || bytes[0] === 0x2a),
    create(context) {
      let commands = 0;
      return {
        data(direction, bytes) {
          if (direction === 'client') for (const b of bytes) if (b === 0x2a) commands++;
        },
        end() {
          context.emit({ kind: 'redis', flow: context.flow, flags: [], commands });
        },
      };
    },
  };
  const conn = connection(5, 6379, [[true, Buffer.from('*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n')], [false, Buffer.from('+PONG\r\n$-1\r\n')]], 7);
  const web = connection(6, 6379, [[true, Buffer.from('GET / HTTP/1.1\r\n\r\n')]], 100);
  const out = await all([...packets(conn), ...packets(web, 1_700_000_003_000_000_000n)], [redis]);
  expect(out.map((r) => [r.kind, (r as { commands?: number }).commands ?? null])).toEqual([
    ['redis', 2],
    ['http', null],
  ]);
});
