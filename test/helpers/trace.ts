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

export function pcapBytes(packets: TracePacket[], options: TraceOptions = {}): Buffer {
  const be = options.bigEndian ?? false;
  const u32 = (v: number): Buffer => {
    const b = Buffer.alloc(4);
    if (be) b.writeUInt32BE(v >>> 0);
    else b.writeUInt32LE(v >>> 0);
    return b;
  };
  const u16 = (v: number): Buffer => {
    const b = Buffer.alloc(2);
    if (be) b.writeUInt16BE(v);
    else b.writeUInt16LE(v);
    return b;
  };
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
