/**
 * Test traces written byte by byte, independently of wirecap's writer, in
 * either byte order and either timestamp resolution.
 */
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';

export interface TracePacket {
  timestamp: bigint; // ns
  data: Buffer;
  len?: number;
  /** Overrides the caplen field (to build corrupt files). */
  caplen?: number;
}

export interface TraceOptions {
  nano?: boolean;
  bigEndian?: boolean;
  linktype?: number;
  snaplen?: number;
}

/** Writers of unsigned fields in one byte order. */
function fields(be: boolean): { u16(v: number): Buffer; u32(v: number): Buffer; u64(v: bigint): Buffer } {
  return {
    u16(v) {
      const b = Buffer.alloc(2);
      if (be) b.writeUInt16BE(v);
      else b.writeUInt16LE(v);
      return b;
    },
    u32(v) {
      const b = Buffer.alloc(4);
      if (be) b.writeUInt32BE(v >>> 0);
      else b.writeUInt32LE(v >>> 0);
      return b;
    },
    u64(v) {
      const b = Buffer.alloc(8);
      if (be) b.writeBigUInt64BE(v);
      else b.writeBigUInt64LE(v);
      return b;
    },
  };
}

export function pcapBytes(packets: TracePacket[], options: TraceOptions = {}): Buffer {
  const { u16, u32 } = fields(options.bigEndian ?? false);
  const parts: Buffer[] = [
    u32(options.nano ? 0xa1b23c4d : 0xa1b2c3d4),
    u16(2),
    u16(4),
    u32(0),
    u32(0),
    u32(options.snaplen ?? 262144),
    u32(options.linktype ?? 1),
  ];
  for (const p of packets) {
    const seconds = p.timestamp / 1_000_000_000n;
    const fraction = p.timestamp % 1_000_000_000n;
    parts.push(
      u32(Number(seconds)),
      u32(Number(options.nano ? fraction : fraction / 1000n)),
      u32(p.caplen ?? p.data.length),
      u32(p.len ?? p.data.length),
      p.data,
    );
  }
  return Buffer.concat(parts);
}

/** A small deterministic generator, so a failure can be replayed. */
export function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export interface Truth {
  offset: number;
  ts: bigint;
}

/** Every record's offset and timestamp, by reading the file from its start (the linear scan). */
export function recordsOf(file: string): Truth[] {
  const b = fs.readFileSync(file);
  const out: Truth[] = [];
  const magic = b.readUInt32BE(0);
  if (magic === 0x0a0d0d0a) {
    const le = b.readUInt32LE(8) === 0x1a2b3c4d;
    const u32 = (at: number): number => (le ? b.readUInt32LE(at) : b.readUInt32BE(at));
    const resolutions: bigint[] = [];
    for (let pos = 0; pos + 12 <= b.length; ) {
      const type = u32(pos);
      const length = u32(pos + 4);
      if (pos + length > b.length) break;
      if (type === 1) {
        let unit = 1000n;
        for (let o = pos + 16; o + 4 <= pos + length - 4; ) {
          const code = le ? b.readUInt16LE(o) : b.readUInt16BE(o);
          const size = le ? b.readUInt16LE(o + 2) : b.readUInt16BE(o + 2);
          if (code === 0) break;
          if (code === 9) unit = 10n ** BigInt(9 - b[o + 4]);
          o += 4 + Math.ceil(size / 4) * 4;
        }
        resolutions.push(unit);
      }
      if (type === 6) {
        const ticks = (BigInt(u32(pos + 12)) << 32n) | BigInt(u32(pos + 16));
        out.push({ offset: pos, ts: ticks * resolutions[u32(pos + 8)] });
      }
      pos += length;
    }
    return out;
  }
  const le = magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1;
  const nano = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
  const u32 = (at: number): number => (le ? b.readUInt32LE(at) : b.readUInt32BE(at));
  for (let pos = 24; pos + 16 <= b.length; ) {
    const caplen = u32(pos + 8);
    if (pos + 16 + caplen > b.length) break;
    out.push({ offset: pos, ts: BigInt(u32(pos)) * 1_000_000_000n + BigInt(u32(pos + 4)) * (nano ? 1n : 1000n) });
    pos += 16 + caplen;
  }
  return out;
}

/** n Ethernet/IPv4/UDP-looking frames of cycling sizes, timestamps from start apart by a prime number of ns. */
export function syntheticPackets(n: number, start = 1_700_000_000_123_456_789n): TracePacket[] {
  return Array.from({ length: n }, (_, i) => {
    const data = Buffer.alloc(60 + ((i * 97) % 1400));
    data.writeUInt16BE(0x0800, 12);
    data[14] = 0x45;
    data.writeUInt32BE(i, 42);
    for (let j = 46; j < data.length; j++) data[j] = (i + j) & 0xff;
    return { timestamp: start + BigInt(i) * 1_234_567n, data, len: data.length + (i % 3) * 10 };
  });
}

/** The reference reader (test/fixtures/next_ex.c), built once per run. */
let reader: string | null = null;
export function nextExReader(): string {
  if (reader === null) {
    // build/ is the addon's build directory: ignored by git, removed by a rebuild.
    // Compiled beside the workers' copies, then renamed into place atomically.
    const out = path.join(__dirname, '..', '..', 'build', 'next_ex');
    fs.mkdirSync(path.dirname(out), { recursive: true });
    execFileSync('gcc', ['-O2', '-o', `${out}-${process.pid}`, path.join(__dirname, '..', 'fixtures', 'next_ex.c'), '-lpcap']);
    fs.renameSync(`${out}-${process.pid}`, out);
    reader = out;
  }
  return reader;
}

export interface ReferencePacket {
  timestamp: bigint;
  caplen: number;
  len: number;
  linktype: number;
  hex: string;
}

/** What libpcap's pcap_next_ex returns for file, and how it ended. */
export function referenceRead(file: string): { packets: ReferencePacket[]; end: string } {
  const out = execFileSync(nextExReader(), [file], { encoding: 'utf8', maxBuffer: 1 << 30 });
  const lines = out.trimEnd().split('\n');
  const end = (lines.pop() ?? '').trimEnd();
  return {
    packets: lines.map((line) => {
      const [sec, nsec, caplen, len, linktype, hex = ''] = line.split(' ');
      return {
        timestamp: BigInt(sec) * 1_000_000_000n + BigInt(nsec),
        caplen: Number(caplen),
        len: Number(len),
        linktype: Number(linktype),
        hex,
      };
    }),
    end,
  };
}

/** A pcapng interface (IDB): if_tsresol is the option's byte, if_tsoffset in seconds. */
export interface NgInterface {
  linktype?: number;
  snaplen?: number;
  tsresol?: number;
  tsoffset?: bigint;
}

/** A pcapng block; packet timestamps are in the interface's ticks. */
export type NgBlock =
  | { type: 'idb'; iface: NgInterface }
  | { type: 'epb'; iface: number; ticks: bigint; data: Buffer; len?: number; caplen?: number; comment?: string }
  | { type: 'spb'; data: Buffer; len?: number }
  | { type: 'pb'; iface: number; ticks: bigint; data: Buffer; len?: number }
  | { type: 'raw'; code: number; body: Buffer };

export interface NgSection {
  bigEndian?: boolean;
  blocks: NgBlock[];
}

/** A pcapng file written field by field, one byte order per section. */
export function pcapngBytes(sections: NgSection[]): Buffer {
  const parts: Buffer[] = [];
  for (const section of sections) {
    const { u16, u32, u64 } = fields(section.bigEndian ?? false);
    const padded = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
    const option = (code: number, value: Buffer): Buffer => Buffer.concat([u16(code), u16(value.length), padded(value)]);
    const options = (list: Buffer[]): Buffer => (list.length === 0 ? Buffer.alloc(0) : Buffer.concat([...list, u32(0)]));
    const block = (type: number, body: Buffer): Buffer => {
      const total = 12 + body.length;
      return Buffer.concat([u32(type), u32(total), body, u32(total)]);
    };
    const ts = (ticks: bigint): Buffer => Buffer.concat([u32(Number(ticks >> 32n)), u32(Number(ticks & 0xffffffffn))]);
    parts.push(block(0x0a0d0d0a, Buffer.concat([u32(0x1a2b3c4d), u16(1), u16(0), u64(0xffffffffffffffffn), options([option(4, Buffer.from('wirecap tests'))])])));
    for (const b of section.blocks) {
      if (b.type === 'idb') {
        const list = [option(2, Buffer.from('test0'))];
        if (b.iface.tsresol !== undefined) list.push(option(9, Buffer.from([b.iface.tsresol])));
        if (b.iface.tsoffset !== undefined) list.push(option(14, u64(b.iface.tsoffset)));
        parts.push(block(1, Buffer.concat([u16(b.iface.linktype ?? 1), u16(0), u32(b.iface.snaplen ?? 262144), options(list)])));
      } else if (b.type === 'epb') {
        const comment = b.comment === undefined ? [] : [option(1, Buffer.from(b.comment))];
        const caplen = b.caplen ?? b.data.length;
        parts.push(block(6, Buffer.concat([u32(b.iface), ts(b.ticks), u32(caplen), u32(b.len ?? b.data.length), padded(b.data), options(comment)])));
      } else if (b.type === 'pb') {
        parts.push(block(2, Buffer.concat([u16(b.iface), u16(0), ts(b.ticks), u32(b.data.length), u32(b.len ?? b.data.length), padded(b.data)])));
      } else if (b.type === 'spb') {
        parts.push(block(3, Buffer.concat([u32(b.len ?? b.data.length), padded(b.data)])));
      } else {
        parts.push(block(b.code, padded(b.body)));
      }
    }
  }
  return Buffer.concat(parts);
}
