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

/** Writers of 32- and 16-bit fields in a byte order. */
function fields(be: boolean): { u32: (v: number) => Buffer; u16: (v: number) => Buffer } {
  return {
    u32: (v) => {
      const b = Buffer.alloc(4);
      if (be) b.writeUInt32BE(v >>> 0);
      else b.writeUInt32LE(v >>> 0);
      return b;
    },
    u16: (v) => {
      const b = Buffer.alloc(2);
      if (be) b.writeUInt16BE(v);
      else b.writeUInt16LE(v);
      return b;
    },
  };
}

export function pcapBytes(packets: TracePacket[], options: TraceOptions = {}): Buffer {
  const { u32, u16 } = fields(options.bigEndian ?? false);
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

/** A pcapng file: a section header, one interface (if_tsresol 6 or 9) and an enhanced packet block per packet. */
export function pcapngBytes(packets: TracePacket[], options: TraceOptions = {}): Buffer {
  const { u32, u16 } = fields(options.bigEndian ?? false);
  const block = (type: number, body: Buffer[]): Buffer[] => {
    const length = 12 + body.reduce((n, b) => n + b.length, 0);
    return [u32(type), u32(length), ...body, u32(length)];
  };
  const parts: Buffer[] = [
    ...block(0x0a0d0d0a, [u32(0x1a2b3c4d), u16(1), u16(0), u32(0xffffffff), u32(0xffffffff)]),
    // if_tsresol: 10^-6 or 10^-9 s; then opt_endofopt.
    ...block(1, [u16(options.linktype ?? 1), u16(0), u32(options.snaplen ?? 262144), u16(9), u16(1), Buffer.from([options.nano ? 9 : 6, 0, 0, 0]), u32(0)]),
  ];
  for (const p of packets) {
    const ticks = options.nano ? p.timestamp : p.timestamp / 1000n;
    const padded = Buffer.concat([p.data, Buffer.alloc((4 - (p.data.length % 4)) % 4)]);
    parts.push(...block(6, [u32(0), u32(Number(ticks >> 32n)), u32(Number(ticks & 0xffffffffn)), u32(p.data.length), u32(p.len ?? p.data.length), padded]));
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
