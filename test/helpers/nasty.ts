/**
 * Seeded traces whose payloads carry other traces, the hard case for
 * seeking: every carried record looks like the file's own, with a
 * timestamp inside the file's range.
 */
import { NgBlock, pcapBytes, pcapngBytes, random, TraceOptions, TracePacket } from './trace';

/** Packets as a pcapng file: one section, one interface in the options' byte order and resolution. */
function ngFile(list: TracePacket[], options: TraceOptions): Buffer {
  const epbs = list.map((p) => ({ type: 'epb' as const, iface: 0, ticks: options.nano ? p.timestamp : p.timestamp / 1000n, data: p.data }));
  return pcapngBytes([{ bigEndian: options.bigEndian, blocks: [{ type: 'idb', iface: { tsresol: options.nano ? 9 : 6, snaplen: options.snaplen } }, ...epbs] }]);
}

export type NastyKind = 'carried-files' | 'copied-runs' | 'fake-chains' | 'big-records' | 'past-snaplen' | 'pcapng-carried' | 'pcapng-big-blocks';

export interface NastyOptions {
  nano?: boolean;
  bigEndian?: boolean;
  /** Records in the outer trace. */
  packets?: number;
  /** The pcap header's snaplen and link type (default 65535, 262144 for big-records; Ethernet). */
  snaplen?: number;
  linktype?: number;
  /** past-snaplen: the longest record (default 200,000 bytes). */
  longest?: number;
}

const T0 = 1_700_000_000_000_000_000n;
const SECOND = 1_000_000_000n;
/** Ethernet + IPv4 + TCP headers before a carried payload, as a file copied over the network would have. */
const FRAME_HEADER = 54;

function frameHeader(i: number): Buffer {
  const b = Buffer.alloc(FRAME_HEADER, 0x11);
  b.writeUInt16BE(0x0800, 12);
  b[14] = 0x45;
  b.writeUInt32BE(i, 38); // TCP sequence number
  return b;
}

/** Packets of 40..max bytes from start, 1..step µs apart. */
function smallPackets(rand: () => number, count: number, start: bigint, max: number, step = 50_000): TracePacket[] {
  let ts = start;
  return Array.from({ length: count }, (_, i) => {
    ts += BigInt(1 + Math.floor(rand() * step)) * 1000n;
    const data = Buffer.alloc(40 + Math.floor(rand() * (max - 40)), (i * 31) & 0xff);
    data.writeUInt16BE(0x0800, 12);
    return { timestamp: ts, data };
  });
}

/**
 * A carried trace of about bytes bytes, its times from start (step: the
 * largest gap in µs), pcap or pcapng; in the outer file's byte order and
 * resolution when outer is given (its records then pass for the outer
 * file's), in random ones otherwise.
 */
function carriedFile(rand: () => number, bytes: number, start: bigint, { pcapng, step, outer }: { pcapng?: boolean; step?: number; outer?: NastyOptions } = {}): Buffer {
  const options: TraceOptions = outer ? { nano: outer.nano, bigEndian: outer.bigEndian } : { nano: rand() < 0.5, bigEndian: rand() < 0.5 };
  const max = 40 + Math.floor(rand() * 160);
  const list = smallPackets(rand, Math.max(2, Math.floor(bytes / (16 + max / 2 + 20))), start, max, step);
  return pcapng ? ngFile(list, options) : pcapBytes(list, options);
}

/** A time inside [low, high] near t: 20-60 s before it or 1-40 s after it. */
function nearby(rand: () => number, t: bigint, low: bigint, high: bigint): bigint {
  const shift = rand() < 0.5 ? -BigInt(20 + Math.floor(rand() * 40)) * SECOND : BigInt(1 + Math.floor(rand() * 40)) * SECOND;
  const ts = t + shift;
  return ts < low ? low : ts > high ? high : ts;
}

/** 16-byte headers that pass every check on their own (caplen 40: each next one lands inside the run, misaligned). */
function fakeHeaderRun(size: number, ts: bigint, bigEndian: boolean): Buffer {
  const b = Buffer.alloc(size);
  for (let o = 0; o + 16 <= size; o += 16) {
    const w = (v: number, at: number): number => (bigEndian ? b.writeUInt32BE(v, o + at) : b.writeUInt32LE(v, o + at));
    w(Number(ts / SECOND), 0);
    w(123, 4);
    w(40, 8);
    w(40, 12);
  }
  return b;
}

/** One pcap record header (of the outer file's kind) at b[at], caplen given. */
function writeHeader(b: Buffer, at: number, ts: bigint, caplen: number, options: NastyOptions): void {
  const w = (v: number, o: number): number => (options.bigEndian ? b.writeUInt32BE(v, at + o) : b.writeUInt32LE(v, at + o));
  w(Number(ts / SECOND), 0);
  w(Number(options.nano ? ts % SECOND : (ts % SECOND) / 1000n), 4);
  w(caplen, 8);
  w(caplen, 12);
}

/**
 * The outer trace's packets for a kind: their timestamps grow 1..200 ms
 * apart (whole microseconds), and their payloads carry traces whose times
 * lie inside the outer range.
 */
function nastyPackets(kind: NastyKind, rand: () => number, options: NastyOptions): TracePacket[] {
  const n = options.packets ?? 2000;
  const times: bigint[] = [];
  let ts = T0;
  for (let i = 0; i < n; i++) times.push((ts += BigInt(1 + Math.floor(rand() * 200_000)) * 1000n));
  const [low, high] = [times[0], times[n - 1]];
  const plain = (i: number, size = 60 + Math.floor(rand() * 1455)): Buffer => Buffer.concat([frameHeader(i), Buffer.alloc(Math.max(0, size - FRAME_HEADER), i & 0xff)]);
  const out: TracePacket[] = [];

  if (kind === 'copied-runs') {
    // Another trace, copied in runs of 8-32 consecutive full-size packets: consecutive slices of its bytes.
    // Its times span the outer file's, so every copied record is plausible.
    const copied = carriedFile(rand, 3 << 20, low, { step: Number((high - low) / 1000n / 15_000n), outer: options });
    let cursor = 0;
    for (let i = 0; i < n; ) {
      if (rand() < 0.15) {
        const run = 8 + Math.floor(rand() * 25);
        for (let k = 0; k < run && i < n; k++, i++) {
          if (cursor + 1460 > copied.length) cursor = 0;
          out.push({ timestamp: times[i], data: Buffer.concat([frameHeader(i), copied.subarray(cursor, cursor + 1460)]) });
          cursor += 1460;
        }
      } else {
        out.push({ timestamp: times[i], data: plain(i) });
        i++;
      }
    }
    return out;
  }

  for (let i = 0; i < n; i++) {
    const t = times[i];
    let data: Buffer;
    const r = rand();
    if (kind === 'carried-files' && r < 0.25) {
      // A whole pcap file in one record; half of them fill it exactly, so their last record ends on the next real header.
      const file = carriedFile(rand, 2048 + Math.floor(rand() * 14336), nearby(rand, t, low, high));
      data = rand() < 0.5 ? file : Buffer.concat([frameHeader(i), file, Buffer.alloc(Math.floor(rand() * 8))]);
    } else if (kind === 'big-records' && r < 0.15) {
      // Records of up to 256 KiB holding a trace of many small packets.
      const file = carriedFile(rand, 16384 + Math.floor(rand() * (262144 - 16384 - 64)), nearby(rand, t, low, high));
      data = file.subarray(0, Math.min(file.length, 262144));
    } else if (kind === 'past-snaplen' && r < 0.3) {
      // Records longer than the header's snaplen, which libpcap reads whole: carried files of 2 KiB up to the longest
      // record, in the outer file's byte order and resolution; most fill their record, so their last record ends on the next real header.
      const longest = options.longest ?? 200_000;
      const bytes = r < 0.1 ? 65536 + Math.floor(rand() * (longest - 65536 - 2048)) : 2048 + Math.floor(rand() * 14336);
      const file = carriedFile(rand, bytes, nearby(rand, t, low, high), { outer: options });
      data = rand() < 0.7 ? file.subarray(0, longest) : Buffer.concat([frameHeader(i), file.subarray(0, longest - FRAME_HEADER)]);
    } else if (kind === 'pcapng-carried' && r < 0.25) {
      // A pcapng file right at the start of the packet data, so its blocks sit where the outer file's could (4-byte aligned); a pcap file after a frame header.
      const start = nearby(rand, t, low, high);
      const bytes = 1024 + Math.floor(rand() * 8192);
      data = rand() < 0.5 ? carriedFile(rand, bytes, start, { pcapng: true, outer: options }) : Buffer.concat([frameHeader(i), carriedFile(rand, bytes, start)]);
    } else if (kind === 'fake-chains' && r < 0.5) {
      const size = 200 + Math.floor(rand() * 1300);
      data = plain(i, size);
      const pick = rand();
      if (pick < 0.35) {
        fakeHeaderRun(size - FRAME_HEADER, nearby(rand, t, low, high), options.bigEndian ?? false).copy(data, FRAME_HEADER);
      } else if (pick < 0.7) {
        // A fake header whose caplen lands exactly on the next real header.
        const at = FRAME_HEADER + Math.floor(rand() * (size - FRAME_HEADER - 16));
        writeHeader(data, at, nearby(rand, t, low, high), size - at - 16, options);
      } else {
        // A chain of fake headers whose last record ends exactly on the next real header.
        let at = FRAME_HEADER;
        let fake = nearby(rand, t, low, high);
        while (at + 16 <= size) {
          let caplen = Math.floor(rand() * 100);
          if (size - at - 16 - caplen < 32) caplen = size - at - 16;
          writeHeader(data, at, (fake += 1000n), caplen, options);
          at += 16 + caplen;
        }
      }
    } else {
      data = plain(i);
    }
    out.push({ timestamp: t, data });
  }
  return out;
}

/**
 * pcapng whose blocks libpcap reads but a window of 256 KiB misses, 270-600
 * KiB long: blocks of a type it skips (0x80000001, local use), each holding a
 * pcapng file that fills it exactly (so its last block ends on the next real
 * one), and EPBs holding the first 262144 bytes of one, with a long comment.
 */
function bigBlocks(rand: () => number, options: NastyOptions): Buffer {
  const list = nastyPackets('carried-files', rand, { ...options, packets: options.packets ?? 150 });
  const [low, high] = [list[0].timestamp, list[list.length - 1].timestamp];
  const ticks = (t: bigint): bigint => (options.nano ? t : t / 1000n);
  const blocks: NgBlock[] = [{ type: 'idb', iface: { tsresol: options.nano ? 9 : 6 } }];
  for (const p of list) {
    const r = rand();
    if (r < 0.2) {
      const carried = carriedFile(rand, 270_000 + Math.floor(rand() * 330_000), nearby(rand, p.timestamp, low, high), { pcapng: true, outer: options });
      const body = carried.subarray(0, carried.length - (carried.length % 4));
      if (r < 0.1) blocks.push({ type: 'raw', code: 0x80000001, body });
      else blocks.push({ type: 'epb', iface: 0, ticks: ticks(p.timestamp - 1000n), data: body.subarray(0, 262144), comment: 'x'.repeat(Math.min(60_000, Math.max(4, body.length - 262144))) });
    }
    blocks.push({ type: 'epb', iface: 0, ticks: ticks(p.timestamp), data: p.data });
  }
  return pcapngBytes([{ bigEndian: options.bigEndian, blocks }]);
}

/** A nasty trace of a kind: pcap for all kinds but pcapng-carried and pcapng-big-blocks. */
export function nastyTrace(kind: NastyKind, seed: number, options: NastyOptions = {}): Buffer {
  if (kind === 'pcapng-big-blocks') return bigBlocks(random(seed), options);
  const list = nastyPackets(kind, random(seed), options);
  const trace = { nano: options.nano, bigEndian: options.bigEndian, snaplen: options.snaplen ?? (kind === 'big-records' ? 262144 : 65535), linktype: options.linktype };
  return kind === 'pcapng-carried' ? ngFile(list, trace) : pcapBytes(list, trace);
}
