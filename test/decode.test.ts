/**
 * decode() on hand-made bad input (DNS compression loops and out-of-bounds
 * pointers, over-long names, deep header chains, packets cut everywhere),
 * a short seeded fuzz pass, and PacketColumns agreeing with decode().
 */
import { decode, PacketBatch, PacketColumns } from '../lib';
import type { DnsLayer, Decoded, Ipv6Layer, Layer } from '../lib';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { frames, LINKTYPES } = require('./helpers/packets.js') as {
  frames: (linktype: number, count: number, seed: number) => { data: Buffer; len: number }[];
  LINKTYPES: number[];
};
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { fuzz } = require('../scripts/fuzz-decode.js');

/** Raw IPv4/UDP to port 53 carrying message. */
function dnsPacket(message: Buffer): Buffer {
  const ip = Buffer.alloc(28);
  ip[0] = 0x45;
  ip.writeUInt16BE(28 + message.length, 2);
  ip[8] = 64;
  ip[9] = 17;
  ip.writeUInt16BE(1234, 20);
  ip.writeUInt16BE(53, 22);
  ip.writeUInt16BE(8 + message.length, 24);
  return Buffer.concat([ip, message]);
}

const header = (questions: number, answers = 0): Buffer => Buffer.from([0, 1, 0x81, 0x80, 0, questions, 0, answers, 0, 0, 0, 0]);
const dnsOf = (d: Decoded): DnsLayer => d.layers.find((l) => l.layer === 'dns') as DnsLayer;

describe('decode() on bad DNS', () => {
  test('a compression pointer to itself is a loop: malformed, not a hang', () => {
    const d = dnsOf(decode(dnsPacket(Buffer.concat([header(1), Buffer.from([0xc0, 12, 0, 1, 0, 1])])), 101));
    expect(d.malformed).toMatch(/compression pointers in a name \(a loop\)/);
    expect(d.questions).toEqual([]);
  });

  test('two pointers to each other are a loop too', () => {
    const m = Buffer.concat([header(1), Buffer.from([0xc0, 14, 0xc0, 12, 0, 1, 0, 1])]);
    expect(dnsOf(decode(dnsPacket(m), 101)).malformed).toMatch(/a loop/);
  });

  test('a pointer beyond the message is malformed', () => {
    const d = dnsOf(decode(dnsPacket(Buffer.concat([header(1), Buffer.from([0xc1, 0, 0, 1, 0, 1])])), 101));
    expect(d.malformed).toMatch(/compression pointer beyond the message/);
  });

  test('a name over 255 bytes is malformed, however the labels are chained', () => {
    const labels = Buffer.concat(Array.from({ length: 30 }, () => Buffer.from([9, ...Buffer.from('abcdefghi')])));
    const d = dnsOf(decode(dnsPacket(Buffer.concat([header(1), labels, Buffer.from([0, 0, 1, 0, 1])])), 101));
    expect(d.malformed).toMatch(/name longer than 255 bytes/);
  });

  test('compressed names decode, and a record cut by the capture says truncated', () => {
    const q = Buffer.from([3, ...Buffer.from('www'), 7, ...Buffer.from('example'), 3, ...Buffer.from('com'), 0, 0, 1, 0, 1]);
    const a = Buffer.from([0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6, 3, ...Buffer.from('cdn'), 0xc0, 16]);
    const full = dnsPacket(Buffer.concat([header(1, 1), q, a]));
    const d = dnsOf(decode(full, 101));
    expect(d.questions).toEqual([{ name: 'www.example.com', type: 1, class: 1 }]);
    expect(d.answers).toEqual([{ name: 'www.example.com', type: 5, class: 1, ttl: 60, data: 'cdn.example.com' }]);
    expect(dnsOf(decode(full.subarray(0, full.length - 3), 101)).truncated).toMatch(/answer 0: rdata needs 6 bytes/);
  });
});

describe('decode() on bad headers', () => {
  test('every prefix of every generated packet decodes without throwing, payload inside the bytes', () => {
    for (const linktype of LINKTYPES) {
      for (const { data } of frames(linktype, 40, 99)) {
        for (let cut = 0; cut <= data.length; cut++) {
          const d = decode(data.subarray(0, cut), linktype);
          expect(d.payloadOffset + d.payloadLength).toBeLessThanOrEqual(cut);
        }
      }
    }
  });

  test('a cut header is a "cut" layer naming what it was', () => {
    const d = decode(Buffer.alloc(10), 1);
    expect(d.layers).toEqual([{ layer: 'cut', of: 'ethernet', truncated: 'ethernet header needs 14 bytes, 10 captured' }]);
  });

  test('a chain of 17 IPv6 extension headers is malformed', () => {
    const ext = Buffer.from([60, 0, 1, 4, 0, 0, 0, 0]);
    const ip = Buffer.alloc(40);
    ip[0] = 0x60;
    ip.writeUInt16BE(17 * 8, 4);
    ip[6] = 60;
    const v6 = decode(Buffer.concat([ip, ...Array.from({ length: 17 }, () => ext)]), 101).layers[0] as Ipv6Layer;
    expect(v6.extensions).toHaveLength(16);
    expect(v6.malformed).toBe('more than 16 extension headers');
  });

  test('a later IPv4 fragment stops after the IP header, its bytes left as payload', () => {
    const ip = Buffer.alloc(28);
    ip[0] = 0x45;
    ip.writeUInt16BE(28, 2);
    ip.writeUInt16BE(185, 6);
    ip[9] = 6;
    const d = decode(ip, 101);
    expect(d.layers.map((l) => l.layer)).toEqual(['ipv4']);
    expect(d).toMatchObject({ payloadOffset: 20, payloadLength: 8 });
  });

  test('bad arguments are a WirecapError, not a decode', () => {
    expect(() => decode('abc' as never, 1)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    expect(() => decode(Buffer.alloc(4), 1.5)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });
});

test('20k fuzzed packets: no throw, every payload inside its packet', () => {
  const result = fuzz({
    cases: 20_000,
    seed: 7,
    decode,
    columns: new PacketColumns(1),
    makeBatch: (data: Buffer, meta: ArrayBuffer, count: number) => new PacketBatch(data, meta, count),
  });
  expect(result.failures).toEqual([]);
  expect(result).toMatchObject({ throws: 0, broken: 0 });
});

/** The status column's value for these layers: 1 if one was cut or truncated, 2 if malformed. */
function statusOf(layers: Layer[]): number {
  for (const l of layers) {
    if (l.layer === 'cut' || l.truncated !== undefined) return 1;
    if (l.malformed !== undefined) return 2;
  }
  return 0;
}

test('PacketColumns gives what decode() gives, for every generated packet of every link type', () => {
  const columns = new PacketColumns(16);
  let cut = 0;
  for (const linktype of LINKTYPES) {
    const list = frames(linktype, 500, 5);
    // One batch, laid out as the capture thread lays them.
    const data = Buffer.concat(list.map((f) => f.data));
    const meta = new ArrayBuffer(20 * list.length);
    const caplens = new Uint32Array(meta, 8 * list.length, list.length);
    const offsets = new Uint32Array(meta, 16 * list.length, list.length);
    let at = 0;
    list.forEach((f, i) => {
      caplens[i] = f.data.length;
      offsets[i] = at;
      at += f.data.length;
    });
    const batch = new PacketBatch(data, meta, list.length);
    columns.fill(batch, linktype);
    expect(columns.count).toBe(list.length);
    list.forEach((f, i) => {
      const d = decode(f.data, linktype);
      const ip = d.layers.find((l) => l.layer === 'ipv4' || l.layer === 'ipv6');
      const upper = d.layers.find((l) => l.layer === 'tcp' || l.layer === 'udp');
      const expected = {
        ipVersion: ip === undefined ? 0 : ip.layer === 'ipv4' ? 4 : 6,
        protocol: ip === undefined ? 0 : ip.protocol,
        src: ip === undefined ? '' : ip.src,
        srcPort: upper === undefined ? 0 : upper.srcPort,
        dstPort: upper === undefined ? 0 : upper.dstPort,
        tcpFlags: upper?.layer === 'tcp' ? upper.flags : 0,
        // The columns read link, IP and TCP/UDP headers only.
        status: statusOf(d.layers.filter((l) => !['dns', 'arp', 'icmp', 'icmpv6'].includes(l.layer === 'cut' ? l.of : l.layer))),
      };
      const v = columns.ipVersion[i];
      const src =
        v === 4
          ? [24, 16, 8, 0].map((s) => (columns.src4[i] >>> s) & 0xff).join('.')
          : v === 6
            ? (decode(Buffer.concat([Buffer.from([0x60]), Buffer.alloc(7), columns.src6.subarray(16 * i, 16 * i + 16), Buffer.alloc(16)]), 101).layers[0] as Ipv6Layer).src
            : '';
      const got = { ipVersion: v, protocol: columns.protocol[i], src, srcPort: columns.srcPort[i], dstPort: columns.dstPort[i], tcpFlags: columns.tcpFlags[i], status: columns.status[i] };
      expect(got).toEqual(expected);
      if (got.status !== 0) cut++;
      // Where decode() stopped after TCP or UDP (not in DNS), the columns stop too.
      if (upper !== undefined && d.layers[d.layers.length - 1] === upper && upper.truncated === undefined && upper.malformed === undefined) {
        expect([columns.payloadOffset[i], columns.payloadLength[i]]).toEqual([d.payloadOffset, d.payloadLength]);
      }
    });
  }
  expect(cut).toBeGreaterThan(100); // the generator cuts about one packet in eight
});
