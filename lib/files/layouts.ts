/**
 * What each capture format says about its records, for navigation: where
 * they start, the longest one, and whether a header at a position is
 * plausible (libpcap's own limits).
 */
import { WirecapError } from '../core/errors';
import type { PagedFile } from './paged-file';

const MAX_WIRE_LEN = 1 << 24;
/** libpcap's INITIAL_MAX_BLOCKSIZE: pcapng blocks of any type up to this long are read (skipped when unknown). */
const PCAPNG_MAX_BLOCK = 16 << 20;

export interface Record {
  size: number;
  /** null for pcapng blocks that carry no timestamp (interface, statistics...). */
  ts: bigint | null;
}
/** A record, or why there is none at a position. */
export type Probe = Record | 'eof' | 'truncated' | null;

/** What a format knows: where records start and what one looks like. */
export interface Layout {
  format: 'pcap' | 'pcap-nsec' | 'pcapng';
  /** Bytes a reader must see before the first record: the file header, or pcapng's blocks before the first packet. */
  headerBytes: number;
  /** Record starts are aligned to this. */
  align: number;
  /** The longest record: resync finds a boundary within this many bytes. */
  maxRecord: number;
  /** The record at pos, if its header is plausible for timestamps in [tsLow, tsHigh]. */
  recordAt(file: PagedFile, pos: number, tsLow: bigint, tsHigh: bigint): Probe;
  /** Offset in a header of a length's most significant byte, and the largest value it can take: the scan of a window jumps over positions where it is larger. */
  topByte: number;
  topMax: number;
  /** Cheap necessary conditions for a header at b[at] (b holds at least HEADER_PEEK bytes from there): spares recordAt most positions of a window. */
  mayStart(b: Buffer, at: number): boolean;
  /**
   * pcapng: the start of the block that ends at a block start pos (its
   * length is repeated in the 4 bytes before pos, as libpcap checks), so a
   * certified block leads back to certified ones; null if none.
   */
  blockBefore?(file: PagedFile, pos: number, tsLow: bigint, tsHigh: bigint): number | null;
}


/** Bytes mayStart() looks at. */
export const HEADER_PEEK = 16;

/**
 * libpcap's max_snaplen_for_dlt: the longest caplen it reads from a file of
 * this link type (the file's own snaplen only cuts what it hands out).
 */
function maxCaplen(linktype: number): number {
  switch (linktype & 0x03ffffff) {
    case 231: // DBUS
      return 128 << 20;
    case 279: // EBHSCR
      return 8 << 20;
    case 249: // USBPCAP
      return 1 << 20;
    default:
      return 262144;
  }
}

function pcapLayout(file: PagedFile, le: boolean, nano: boolean): Layout {
  const header = file.read(0, 24);
  if (header.length < 24) throw new WirecapError('the file ends inside the pcap header', 'EBADFORMAT');
  // Not the header's snaplen: libpcap reads records longer than it (up to the link type's maximum).
  const snapLimit = maxCaplen(le ? header.readUInt32LE(20) : header.readUInt32BE(20));
  const maxLen = Math.max(MAX_WIRE_LEN, snapLimit);
  // Where caplen's most significant byte sits, and which way its next byte is.
  const capHigh = le ? 11 : 8;
  const capNext = le ? -1 : 1;
  const snapTop = snapLimit >>> 16;
  return {
    format: nano ? 'pcap-nsec' : 'pcap',
    headerBytes: 24,
    align: 1,
    maxRecord: 16 + snapLimit,
    topByte: capHigh,
    topMax: snapLimit >>> 24,
    mayStart(b, at) {
      // Bytes first: caplen's two high bytes are bounded by the maximum's (most positions fail here).
      if (b[at + capHigh] * 256 + b[at + capHigh + capNext] > snapTop) return false;
      const caplen = le ? b.readUInt32LE(at + 8) : b.readUInt32BE(at + 8);
      const fraction = le ? b.readUInt32LE(at + 4) : b.readUInt32BE(at + 4);
      return caplen <= snapLimit && fraction < (nano ? 1e9 : 1e6) && caplen <= (le ? b.readUInt32LE(at + 12) : b.readUInt32BE(at + 12));
    },
    recordAt(f, pos, tsLow, tsHigh) {
      if (pos === f.size) return 'eof';
      if (pos + 16 > f.size) return 'truncated';
      const fraction = f.u32(pos + 4, le);
      const caplen = f.u32(pos + 8, le);
      const len = f.u32(pos + 12, le);
      if (fraction >= (nano ? 1e9 : 1e6) || caplen > snapLimit || caplen > len || len > maxLen) return null;
      const ts = BigInt(f.u32(pos, le)) * 1_000_000_000n + BigInt(nano ? fraction : fraction * 1000);
      if (ts < tsLow || ts > tsHigh) return null;
      if (pos + 16 + caplen > f.size) return 'truncated';
      return { size: 16 + caplen, ts };
    },
  };
}

function pcapngLayout(file: PagedFile): Layout {
  const head = file.read(0, 12);
  if (head.length < 12) throw new WirecapError('the file ends inside the section header block', 'EBADFORMAT');
  const magic = head.readUInt32LE(8);
  if (magic !== 0x1a2b3c4d && magic !== 0x4d3c2b1a) throw new WirecapError('bad pcapng byte-order magic', 'EBADFORMAT');
  const le = magic === 0x1a2b3c4d;
  const u32 = (b: Buffer, at: number): number => (le ? b.readUInt32LE(at) : b.readUInt32BE(at));
  const u16 = (b: Buffer, at: number): number => (le ? b.readUInt16LE(at) : b.readUInt16BE(at));

  // The interfaces (their timestamp units) come from the blocks before the first packet.
  const units: bigint[] = []; // nanoseconds per tick, as numerator over UNIT_SCALE
  const UNIT_SCALE = 1_000_000n;
  // libpcap's max_blocksize: raised by an interface whose link type allows a longer EPB (its packet and 128 KiB of options).
  let maxBlock = PCAPNG_MAX_BLOCK;
  let pos = 0;
  let headerBytes = -1;
  while (headerBytes < 0) {
    const b = file.read(pos, 8);
    if (b.length < 8) break;
    const type = u32(b, 0);
    const length = u32(b, 4);
    if (length < 12 || length % 4 !== 0 || pos + length > file.size) {
      throw new WirecapError(`a damaged pcapng block at offset ${pos}`, 'EBADFORMAT');
    }
    if (type === 2 || type === 3 || type === 6) headerBytes = pos;
    else {
      if (type === 1) {
        let unit = 1000n * UNIT_SCALE; // microseconds unless if_tsresol says otherwise
        const block = file.read(pos, length);
        maxBlock = Math.max(maxBlock, 28 + maxCaplen(u16(block, 8)) + 131072 + 4);
        for (let o = 16; o + 4 <= length - 4; ) {
          const code = u16(block, o);
          const size = u16(block, o + 2);
          if (code === 0) break;
          if (code === 9 && size >= 1) {
            const r = block[o + 4];
            const exponent = BigInt(r & 0x7f);
            unit = r & 0x80 ? (1_000_000_000n * UNIT_SCALE) / 2n ** exponent : (1_000_000_000n * UNIT_SCALE) / 10n ** exponent;
          }
          o += 4 + Math.ceil(size / 4) * 4;
        }
        units.push(unit);
      }
      pos += length;
    }
  }
  if (headerBytes < 0) headerBytes = pos;
  return {
    format: 'pcapng',
    headerBytes,
    align: 4,
    maxRecord: maxBlock,
    topByte: le ? 7 : 4,
    topMax: maxBlock >>> 24,
    mayStart(b, at) {
      const length = u32(b, at + 4);
      return length >= 12 && length % 4 === 0 && length <= maxBlock;
    },
    recordAt(f, at, tsLow, tsHigh) {
      if (at === f.size) return 'eof';
      const b = f.read(at, 28);
      if (b.length < 8) return 'truncated';
      const type = u32(b, 0);
      const length = u32(b, 4);
      // Any block type: libpcap skips the ones it does not know.
      if (length < 12 || length % 4 !== 0 || length > maxBlock) return null;
      if (at + length > f.size) return 'truncated';
      if (u32(f.read(at + length - 4, 4), 0) !== length) return null;
      if (type !== 6 && type !== 2) return { size: length, ts: null };
      if (b.length < 28 || length < 32) return null;
      // EPB: interface id (PB: 16-bit id and drops), timestamp high and low.
      const iface = type === 6 ? u32(b, 8) : u16(b, 8);
      // An interface declared after the first packet: a block libpcap reads, whose time the navigator does not know.
      if (iface >= units.length) return { size: length, ts: null };
      const ticks = (BigInt(u32(b, 12)) << 32n) | BigInt(u32(b, 16));
      const ts = (ticks * units[iface]) / UNIT_SCALE;
      if (ts < tsLow || ts > tsHigh) return null;
      if (u32(b, 20) > length - 32) return null; // caplen within the block
      return { size: length, ts };
    },
    blockBefore(f, pos, tsLow, tsHigh) {
      if (pos - 12 < headerBytes) return null;
      const length = u32(f.read(pos - 4, 4), 0);
      const start = pos - length;
      if (length < 12 || length % 4 !== 0 || start < headerBytes) return null;
      const r = this.recordAt(f, start, tsLow, tsHigh);
      return typeof r === 'object' && r !== null && r.size === length ? start : null;
    },
  };
}

/** The layout of the file's format, from its magic number. Throws EBADFORMAT. */
export function layoutOf(file: PagedFile, path: string): Layout {
  const magic = file.read(0, 4);
  if (magic.length < 4) throw new WirecapError(`${path}: too short for a capture file`, 'EBADFORMAT');
  const be = magic.readUInt32BE(0);
  if (be === 0x0a0d0d0a) return pcapngLayout(file);
  if (be === 0xa1b2c3d4 || be === 0xd4c3b2a1) return pcapLayout(file, be === 0xd4c3b2a1, false);
  if (be === 0xa1b23c4d || be === 0x4d3cb2a1) return pcapLayout(file, be === 0x4d3cb2a1, true);
  throw new WirecapError(`${path}: not a pcap or pcapng file`, 'EBADFORMAT');
}
