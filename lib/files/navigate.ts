/**
 * Navigating capture files without reading them through: the first and
 * last timestamps, and seeks to a time, a byte offset or a fraction of the
 * file, each in a few small reads.
 *
 * A jump into the middle of a file lands inside some record, and payload
 * bytes can look like records (a trace inside a trace). Two tools:
 * - Probes (resync): the first position after the landing point that
 *   starts a chain of CHAIN_RECORDS plausible headers (pcap: timestamp
 *   inside the file's time range, fraction below one second, caplen within
 *   what libpcap reads for the link type and not above len; pcapng: a block
 *   whose total length is repeated at its end). Cheap, and usually right;
 *   they only guide the bisection.
 * - Anchors: records certainly on the file's own chain. The first record
 *   is one. Convergence finds others: the file's record that covers a
 *   position starts at most a record's maximum length before it, so a cursor
 *   started at every plausible header in that window includes the file's
 *   chain; followed in step until they meet, the last cursor left is on it.
 * Every answer is walked to from an anchor, so it is the record a linear
 * read from the start finds.
 */
import fs from 'node:fs';
import { WirecapError } from '../core/errors';
import { checkString } from '../core/validate';

export type Certainty = 'definite' | 'probable' | 'clash';

/** Where a seek put the reader. */
export interface TracePosition {
  /** Byte offset of the record (pcap) or block (pcapng) found; the file's size at the end. */
  offset: number;
  /** Its timestamp in nanoseconds since the epoch; null at the end of the file. */
  timestamp: bigint | null;
  /**
   * 'definite': the record starts a chain of valid records (or the file's
   * exact end); 'probable': its chain runs into a damaged or cut tail;
   * 'clash': two chains that do not meet both looked valid, and the
   * earlier one was taken.
   */
  certainty: Certainty;
  /** Bytes this seek read from the file. */
  bytesRead: number;
}

export type SeekTarget = { time: bigint | number | Date } | { offset: number } | { fraction: number };

/** Records a chain must reach to be taken without a contest. */
const CHAIN_RECORDS = 8;
/** Neighbouring records further apart in time than this break a chain. */
const NEIGHBOUR_NS = 86_400n * 1_000_000_000n;
/**
 * A header is plausible when its time lies within this much of the file's
 * first..last range: room for a clock that stepped back, none for a trace
 * from another day held in a payload.
 */
const TIME_SLACK_NS = 60n * 1_000_000_000n;
/** lastTime starts this far before the end (final records are often damaged), further if needed. */
const TAIL_BYTES = 64 << 10;
/** Offset seeks resynchronise this far before the offset, then walk. */
const LOOKBACK_BYTES = 16 << 10;
/** Below this many bytes between the bisection's bounds, records are walked. */
const WALK_BYTES = 32 << 10;
/** Convergence follows rival cursors this many windows past its own before it calls them a clash. */
const CONVERGE_WINDOWS = 2;
/** Certified records kept for later seeks. */
const INDEX_ENTRIES = 4096;
/** A walk from a certified record keeps one every this many bytes. */
const REMEMBER_BYTES = 256 << 10;
const PAGE = 4096;
/** Pages kept: two windows, so that a seek reads no page twice (at most 32 MiB, which pcapng's 16 MiB windows take; longer windows are read again). */
const CACHED_PAGES = 256;
const MAX_CACHED_PAGES = 8192;
const MAX_WIRE_LEN = 1 << 24;
/** libpcap's INITIAL_MAX_BLOCKSIZE: pcapng blocks of any type up to this long are read (skipped when unknown). */
const PCAPNG_MAX_BLOCK = 16 << 20;

interface Record {
  size: number;
  /** null for pcapng blocks that carry no timestamp (interface, statistics...). */
  ts: bigint | null;
}
/** A record, or why there is none at a position. */
type Probe = Record | 'eof' | 'truncated' | null;

/** Reads of small windows, counted, with a few pages cached. */
class PagedFile {
  readonly size: number;
  bytesRead = 0;
  capacity = CACHED_PAGES;
  #fd: number;
  #pages = new Map<number, Buffer>();
  #lastIndex = -1;
  #lastPage: Buffer = Buffer.alloc(0);

  constructor(fd: number, size: number) {
    this.#fd = fd;
    this.size = size;
  }

  /** Bytes [offset, offset + length), shorter at the end of the file. */
  read(offset: number, length: number): Buffer {
    const end = Math.min(this.size, offset + length);
    if (end <= offset) return Buffer.alloc(0);
    const first = Math.floor(offset / PAGE);
    const last = Math.floor((end - 1) / PAGE);
    if (first === last) {
      const page = this.#page(first);
      return page.subarray(offset - first * PAGE, end - first * PAGE);
    }
    const parts: Buffer[] = [];
    for (let i = first; i <= last; i++) parts.push(this.#page(i));
    return Buffer.concat(parts).subarray(offset - first * PAGE, end - first * PAGE);
  }

  /** The 32-bit word at offset (the caller checked it lies inside the file), without a Buffer per call. */
  u32(offset: number, le: boolean): number {
    const index = Math.floor(offset / PAGE);
    const at = offset - index * PAGE;
    if (at + 4 > PAGE) {
      const b = this.read(offset, 4);
      return le ? b.readUInt32LE(0) : b.readUInt32BE(0);
    }
    const page = this.#page(index);
    return le ? page.readUInt32LE(at) : page.readUInt32BE(at);
  }

  close(): void {
    fs.closeSync(this.#fd);
  }

  #page(index: number): Buffer {
    // Resync reads word after word of one page: keep it at hand.
    if (index === this.#lastIndex) return this.#lastPage;
    let page = this.#pages.get(index);
    if (page === undefined) {
      page = Buffer.alloc(Math.min(PAGE, this.size - index * PAGE));
      const n = fs.readSync(this.#fd, page, 0, page.length, index * PAGE);
      this.bytesRead += n;
      if (this.#pages.size >= this.capacity) this.#pages.delete(this.#pages.keys().next().value as number);
      this.#pages.set(index, page);
    }
    this.#lastIndex = index;
    this.#lastPage = page;
    return page;
  }
}

/** What a format knows: where records start and what one looks like. */
interface Layout {
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
const HEADER_PEEK = 16;

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

/** A capture file opened for navigation. Close it when done. */
export class TraceNavigator {
  readonly path: string;
  readonly format: 'pcap' | 'pcap-nsec' | 'pcapng';
  readonly size: number;
  /** Offset of the first record, and the bytes a reader must see before it. */
  readonly headerBytes: number;
  #file: PagedFile;
  #layout: Layout;
  #tsLow = -(1n << 62n);
  #tsHigh = 1n << 62n;
  #first: TracePosition | undefined;
  #last: bigint | null | undefined;
  /** Certified records (the file's own, reached by convergence or walks), sorted by offset. */
  #index: Anchor[] = [];

  /** @internal use openTrace() */
  constructor(path: string, file: PagedFile, layout: Layout) {
    this.path = path;
    this.#file = file;
    this.#layout = layout;
    file.capacity = Math.min(MAX_CACHED_PAGES, Math.max(CACHED_PAGES, Math.ceil((2 * layout.maxRecord) / PAGE)));
    this.format = layout.format;
    this.size = file.size;
    this.headerBytes = layout.headerBytes;
  }

  /** The first packet's timestamp (ns), null for a file without packets. */
  get firstTime(): bigint | null {
    return this.#firstPosition().timestamp;
  }

  /** The last complete packet's timestamp (ns), found from the file's tail. */
  get lastTime(): bigint | null {
    if (this.#last === undefined) this.#last = this.#findLast();
    return this.#last;
  }

  /** lastTime - firstTime in milliseconds; 0 without packets. */
  get durationMs(): number {
    const first = this.firstTime;
    const last = this.lastTime;
    return first === null || last === null ? 0 : Number(last - first) / 1e6;
  }

  /** Bytes read from the file since it was opened. */
  get bytesRead(): number {
    return this.#file.bytesRead;
  }

  /**
   * Finds the first packet with timestamp ≥ time, or the first record
   * starting at or after a byte offset or a fraction of the file, walked to
   * from a record known to be the file's own (see the file's comment). Past the end gives the end (offset =
   * size, timestamp null). In a trace whose clock stepped back, a time seek
   * gives a packet at or after the time whose predecessor is before it: the
   * first such packet when the timestamps are in order.
   */
  seek(target: SeekTarget): TracePosition {
    const before = this.#file.bytesRead;
    const found = this.#seek(target);
    if (found.offset === this.size) found.timestamp = null;
    return { ...found, bytesRead: this.#file.bytesRead - before };
  }

  close(): void {
    this.#file.close();
  }

  #seek(target: SeekTarget): Omit<TracePosition, 'bytesRead'> {
    void this.lastTime; // sets the plausible time range
    if (typeof target !== 'object' || target === null) throw new WirecapError('seek target must be { time }, { offset } or { fraction }', 'EINVAL');
    if ('offset' in target || 'fraction' in target) {
      let offset: number;
      if ('offset' in target) {
        offset = target.offset;
        if (!Number.isSafeInteger(offset) || offset < 0) throw new WirecapError(`offset must be a non-negative integer, got ${String(offset)}`, 'EINVAL');
      } else {
        const { fraction } = target;
        if (typeof fraction !== 'number' || !(fraction >= 0 && fraction <= 1)) throw new WirecapError(`fraction must be from 0 to 1, got ${String(fraction)}`, 'EINVAL');
        offset = Math.floor(fraction * this.size);
      }
      return this.#seekOffset(offset);
    }
    if ('time' in target) return this.#seekTime(toNanoseconds(target.time));
    throw new WirecapError('seek target must be { time }, { offset } or { fraction }', 'EINVAL');
  }

  /** The first record at or after offset, walked to from a record known to be the file's own. */
  #seekOffset(offset: number): Omit<TracePosition, 'bytesRead'> {
    if (offset <= this.headerBytes) return this.#firstRecord();
    const anchor = this.#anchor(offset);
    if (typeof anchor !== 'object') {
      // Not certified: the first chain found from a little before, marked as such.
      const found = this.#probeNear(offset);
      return { ...found, certainty: anchor };
    }
    const walked = this.#walkTo(anchor.offset, (_, at) => at >= offset, true);
    return { offset: walked.offset, timestamp: walked.timestamp ?? this.#timeAt(walked.offset), certainty: walkCertainty(walked.end) };
  }

  /**
   * Bisection by cheap probes (which a trace held in a payload can
   * mislead), then a walk from a certified record before the probes' lower
   * bound. When that walk shows the probes were misled, the bisection is
   * repeated on certified records only.
   */
  #seekTime(time: bigint): Omit<TracePosition, 'bytesRead'> {
    const first = this.#firstPosition();
    if (first.timestamp === null || first.timestamp >= time) return first;
    const { lo, hi } = this.#bisect(time, first);
    const start = lo === first.offset ? { offset: first.offset, ts: first.timestamp } : this.#anchor(lo);
    if (typeof start !== 'object') {
      const walked = this.#walkTo(lo, (r) => r.ts !== null && r.ts >= time);
      return { offset: walked.offset, timestamp: walked.timestamp, certainty: start };
    }
    if (start.ts !== null && start.ts >= time) return this.#certifiedSeek(time, { offset: first.offset, ts: first.timestamp }, start.offset, start.ts);
    // The answer lies before hi unless the probes were misled: walk a little past it, no further.
    const walked = this.#walkBelow(start, time, hi + WALK_BYTES);
    return walked.found ?? this.#certifiedSeek(time, walked.below, this.size, this.lastTime);
  }

  /** Bisection of the time range by cheap probes; lo is a probe before the time, the answer most likely in [lo, hi). */
  #bisect(time: bigint, first: TracePosition): { lo: number; hi: number } {
    let lo = first.offset;
    let loTime = first.timestamp as bigint;
    let hi = this.size;
    let hiTime: bigint | null = null;
    let bisect = true;
    let previous = Infinity;
    while (hi - lo > WALK_BYTES) {
      // Interpolate where timestamps grow steadily with the offset; bisect
      // whenever two steps did not halve the interval, so the worst case
      // stays O(log n) probes. A good guess lands near the answer, and then
      // a small margin keeps the next probe near it too, where the window
      // or the walk reads anyway.
      let mid = lo + Math.floor((hi - lo) / 2);
      if (!bisect && hiTime !== null && hiTime > loTime) {
        const guess = lo + Number(((time - loTime) * BigInt(hi - lo)) / (hiTime - loTime));
        const margin = Math.floor((hi - lo) / 4096);
        mid = Math.min(hi - margin, Math.max(lo + margin, guess));
      }
      // From a page's start, so the probe uses the page it reads from its first byte.
      const aligned = Math.floor(mid / PAGE) * PAGE;
      if (aligned > lo) mid = aligned;
      const width = hi - lo;
      let found = this.#resync(mid);
      // A timestamp outside what lo and hi allow may be a trace held in a
      // record's payload: look again from a little before.
      if (found.timestamp !== null && (found.timestamp < loTime || (hiTime !== null && found.timestamp > hiTime))) {
        found = this.#probeNear(mid);
      }
      if (found.timestamp !== null && found.timestamp < time) {
        lo = found.offset;
        loTime = found.timestamp;
      } else {
        hi = mid;
        hiTime = found.timestamp;
      }
      bisect = !bisect && hi - lo > previous / 2;
      previous = width;
    }
    return { lo, hi };
  }

  /**
   * Bisection on certified records only: below is one before the time,
   * above one at or after it (or the file's size, at lastTime). Each step
   * costs a convergence window, so this runs only when cheap probes were
   * misled; certified timestamps make interpolation steps safe.
   */
  #certifiedSeek(time: bigint, below: Anchor, above: number, aboveTime: bigint | null): Omit<TracePosition, 'bytesRead'> {
    let certainty: Certainty = 'definite';
    let bisect = false;
    while (above - below.offset > 2 * this.#layout.maxRecord) {
      const width = above - below.offset;
      let mid = below.offset + Math.floor(width / 2);
      if (!bisect && below.ts !== null && aboveTime !== null && aboveTime > below.ts) {
        const guess = below.offset + Number(((time - below.ts) * BigInt(width)) / (aboveTime - below.ts));
        const margin = Math.floor(width / 64);
        mid = Math.min(above - margin, Math.max(below.offset + margin, guess));
      }
      const a = this.#anchor(mid);
      if (typeof a !== 'object') {
        certainty = a;
        break;
      }
      if (a.offset <= below.offset || a.offset >= above) break;
      if (a.ts !== null && a.ts < time) below = a;
      else {
        above = a.offset;
        aboveTime = a.ts;
      }
      bisect = !bisect && above - below.offset > width / 2;
    }
    const walked = this.#walkTo(below.offset, (r) => r.ts !== null && r.ts >= time, true);
    return { offset: walked.offset, timestamp: walked.timestamp, certainty: certainty === 'definite' ? walkCertainty(walked.end) : certainty };
  }

  /**
   * Walks certified records from start until one at or after the time, or
   * until the walk passes limit: then below is the last record passed that
   * is before the time.
   */
  #walkBelow(start: Anchor, time: bigint, limit: number): { found: Omit<TracePosition, 'bytesRead'> | null; below: Anchor } {
    let below = start;
    let passed = false;
    const walked = this.#walkTo(
      start.offset,
      (r, at) => {
        if (r.ts !== null && r.ts >= time) return true;
        if (r.ts !== null) below = { offset: at, ts: r.ts };
        passed = at > limit;
        return passed;
      },
      true,
    );
    if (passed) return { found: null, below };
    return { found: { offset: walked.offset, timestamp: walked.timestamp, certainty: walkCertainty(walked.end) }, below };
  }

  /** The first timestamp at or after a record start (pcapng blocks may have none). */
  #timeAt(offset: number): bigint | null {
    return this.#walkTo(offset, (r) => r.ts !== null).timestamp;
  }

  /**
   * Walks records from a record start until done(record, its offset) or the
   * end. From a certified record (certified), the walk keeps a record every
   * REMEMBER_BYTES in the index: a later seek near them walks from there.
   */
  #walkTo(start: number, done: (r: Record, at: number) => boolean, certified = false): Omit<TracePosition, 'bytesRead' | 'certainty'> & { end?: Probe } {
    let pos = start;
    let kept = start;
    for (;;) {
      const r = this.#layout.recordAt(this.#file, pos, this.#tsLow, this.#tsHigh);
      // A record cut by the end of the file is no record: the walk ends at the end.
      if (r === null || r === 'eof' || r === 'truncated') return { offset: r === null ? pos : this.size, timestamp: null, end: r };
      if (done(r, pos)) return { offset: pos, timestamp: r.ts };
      if (certified && r.ts !== null && pos - kept >= REMEMBER_BYTES) {
        this.#remember({ offset: pos, ts: r.ts });
        kept = pos;
      }
      pos += r.size;
    }
  }

  #firstRecord(): Omit<TracePosition, 'bytesRead'> {
    const walked = this.#walkTo(this.headerBytes, () => true);
    return { offset: walked.offset, timestamp: walked.timestamp ?? null, certainty: 'definite' };
  }

  /** The first packet with a timestamp; sets the plausible time range from it. */
  #firstPosition(): TracePosition {
    if (this.#first === undefined) {
      const walked = this.#walkTo(this.headerBytes, (r) => r.ts !== null);
      if (walked.timestamp === null && walked.end === null) {
        throw new WirecapError(`${this.path}: the first record at offset ${walked.offset} is damaged`, 'EBADFORMAT');
      }
      this.#first = { offset: walked.offset, timestamp: walked.timestamp, certainty: 'definite', bytesRead: 0 };
      if (walked.timestamp !== null) {
        this.#tsLow = walked.timestamp - TIME_SLACK_NS;
        this.#tsHigh = walked.timestamp + 100n * 365n * NEIGHBOUR_NS; // until lastTime is known
      }
    }
    return this.#first;
  }

  /** The last complete packet's timestamp: walked to the end from a certified record near it. */
  #findLast(): bigint | null {
    const first = this.#firstPosition().timestamp;
    if (first === null) return null;
    // Not the very end: positions there are cut headers, whose cursors would reach the end with the last record's.
    let before = Math.max(this.headerBytes, this.size - HEADER_PEEK - 1);
    let last: bigint | null = null;
    // An anchor on a cut last record (a damaged tail) has no complete record after it: look again before it.
    for (let tries = 0; last === null && tries < 3; tries++) {
      const anchor = this.#anchor(before);
      const from = typeof anchor === 'object' ? anchor.offset : this.#probeNear(Math.max(this.headerBytes, this.size - TAIL_BYTES)).offset;
      this.#walkTo(from, (r) => {
        if (r.ts !== null) last = r.ts;
        return false;
      });
      if (from <= this.headerBytes) break;
      before = from - 1;
    }
    // From now on a header is plausible only inside the file's time range.
    if (last !== null) this.#tsHigh = (last > first ? last : first) + TIME_SLACK_NS;
    return last;
  }

  /**
   * A record start at or before offset that is certainly the file's own:
   * the first record, a record from the index, or a convergence point.
   * When convergence ends after offset (rival chains met only later), it
   * is tried again from further back. Returns why not when it cannot tell.
   */
  #anchor(offset: number): Anchor | 'probable' | 'clash' {
    const { maxRecord } = this.#layout;
    let failure: 'probable' | 'clash' = 'clash';
    for (let back = 0; back <= 16 * maxRecord; back = back === 0 ? maxRecord : back * 4) {
      const from = offset - back;
      const known = this.#known(from);
      if (known !== null) return known;
      const m = this.#converge(from);
      if (typeof m !== 'object') failure = m;
      else {
        this.#remember(m);
        if (m.offset <= offset) return m;
        const walkedBack = this.#walkBack(m.offset, offset);
        if (walkedBack !== null) return walkedBack;
      }
    }
    return failure;
  }

  /** pcapng: from a certified block start before the file's end, block by block back to one at or before offset; null when that stops. */
  #walkBack(start: number, offset: number): Anchor | null {
    const { blockBefore } = this.#layout;
    if (blockBefore === undefined || start >= this.size) return null;
    let pos: number | null = start;
    while (pos !== null && pos > offset) pos = blockBefore.call(this.#layout, this.#file, pos, this.#tsLow, this.#tsHigh);
    return pos === null ? null : { offset: pos, ts: this.#timeAt(pos) };
  }

  /** A certified record within a window's reach before from (one from the index, or the first record), walked to the last one at or before from. */
  #known(from: number): Anchor | null {
    // The nearest indexed record at or before from, if walking from it costs less than a window; else the first record, if it is that near.
    let lo = 0;
    let hi = this.#index.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#index[mid].offset <= from) lo = mid + 1;
      else hi = mid;
    }
    let near: Anchor | undefined = this.#index[lo - 1];
    if (near === undefined || from - near.offset > this.#layout.maxRecord) {
      if (from - this.#layout.maxRecord >= this.headerBytes) return null;
      near = { offset: this.headerBytes, ts: this.#timeAt(this.headerBytes) };
    }
    let last: Anchor = near;
    this.#walkTo(
      near.offset,
      (r, at) => {
        if (at > from) return true;
        last = { offset: at, ts: r.ts ?? this.#timeAt(at) };
        return false;
      },
      true,
    );
    return last;
  }

  /** Keeps a certified record in the sorted index (bounded; the oldest half goes when full). */
  #remember(a: Anchor): void {
    let i = this.#index.findIndex((e) => e.offset >= a.offset);
    if (i === -1) i = this.#index.length;
    if (this.#index[i]?.offset === a.offset) return;
    this.#index.splice(i, 0, a);
    if (this.#index.length > INDEX_ENTRIES) this.#index = this.#index.filter((_, k) => k % 2 === 0);
  }

  /**
   * Visits the aligned positions in [from, to) that hold a plausible header
   * (or a record cut by the end), in order, until visit returns true. Reads
   * a page at a time, and looks at most positions in the bytes read only.
   */
  #scan(from: number, to: number, visit: (pos: number) => boolean): void {
    const { align, topByte, topMax } = this.#layout;
    const end = Math.min(to, this.size);
    for (let base = from; base < end; ) {
      const stop = Math.min((Math.floor(base / PAGE) + 1) * PAGE, end);
      // One page at a time, and the next page's first bytes only when the
      // scan gets to the headers that run into it: a probe that finds its
      // chain early reads no page it does not need.
      let b = this.#file.read(base, stop - base);
      let extended = false;
      for (let p = base; p < stop; p += align) {
        const at = p - base;
        if (at + HEADER_PEEK > b.length && !extended) {
          b = this.#file.read(base, stop - base + HEADER_PEEK);
          extended = true;
        }
        // Near the end of the file the bytes for a quick look run out: recordAt decides there.
        if (at + HEADER_PEEK <= b.length) {
          if (b[at + topByte] > topMax) {
            // Jump to the next position whose length's top byte is small enough (most often 0: a search for a zero).
            let next: number;
            if (topMax === 0) {
              const zero = b.indexOf(0, at + topByte + 1);
              next = zero === -1 ? b.length - HEADER_PEEK + 1 : zero - topByte;
            } else {
              let i = at + topByte + align;
              while (i < b.length && b[i] > topMax) i += align;
              next = Math.min(i - topByte, b.length - HEADER_PEEK + 1);
            }
            p = base + Math.ceil(next / align) * align - align;
            continue;
          }
          if (!this.#layout.mayStart(b, at)) continue;
        }
        if (this.#layout.recordAt(this.#file, p, this.#tsLow, this.#tsHigh) !== null && visit(p)) return;
      }
      base = stop;
    }
  }

  /**
   * Convergence: every position in the window (from - maxRecord, from] that
   * holds a plausible header starts a cursor, and the cursors follow their
   * records in step, lowest first, merging where they meet. The window
   * holds the start of the file's own record that covers from, so the file's
   * chain is one of the cursors; once one cursor is left, it is on that
   * chain. Returns that record, 'probable' when no cursor lasts (damaged
   * records), or 'clash' when rivals are still apart far past the window.
   */
  #converge(from: number): Anchor | 'probable' | 'clash' {
    const { align, maxRecord } = this.#layout;
    const low = Math.ceil((from - maxRecord + 1) / align) * align;
    const cursors = new MinHeap();
    const live = new Set<number>();
    this.#scan(low, from + 1, (p) => {
      live.add(p);
      cursors.push(p);
      return false;
    });
    const bound = from + CONVERGE_WINDOWS * maxRecord;
    while (live.size > 1) {
      const at = cursors.pop();
      if (at > bound) return 'clash';
      live.delete(at);
      const r = this.#layout.recordAt(this.#file, at, this.#tsLow, this.#tsHigh);
      if (r === null) continue;
      // The file's exact end and a record cut by it both end at the size.
      const next = typeof r === 'object' ? at + r.size : this.size;
      if (!live.has(next)) {
        live.add(next);
        cursors.push(next);
      }
    }
    const [survivor] = live;
    if (survivor === undefined) return 'probable';
    return { offset: survivor, ts: survivor >= this.size ? null : this.#timeAt(survivor) };
  }

  /** The cheap probe of a bisection step: the first chain from a little before offset, walked to offset. */
  #probeNear(offset: number): { offset: number; timestamp: bigint | null } {
    const from = Math.max(this.headerBytes, offset - LOOKBACK_BYTES);
    const found = from === this.headerBytes ? this.#firstRecord() : this.#resync(from);
    if (found.offset >= offset) return found;
    const walked = this.#walkTo(found.offset, (_, at) => at >= offset);
    return { offset: walked.offset, timestamp: walked.timestamp ?? this.#timeAt(walked.offset) };
  }

  /**
   * A probe: the first position at or after offset that starts a chain of
   * CHAIN_RECORDS plausible records (or one that reaches the end). A trace
   * held in a payload can fool it: it only guides the bisection.
   */
  #resync(offset: number): { offset: number; timestamp: bigint | null } {
    const { align, maxRecord } = this.#layout;
    const pos = Math.ceil(offset / align) * align;
    const limit = Math.min(this.size, pos + maxRecord);
    let found = -1;
    this.#scan(pos, limit, (p) => {
      if (this.#startsChain(p)) found = p;
      return found >= 0;
    });
    if (found >= 0) return { offset: found, timestamp: this.#timeAt(found) };
    if (limit === this.size) return { offset: this.size, timestamp: null };
    throw new WirecapError(`${this.path}: no valid record within ${maxRecord} bytes of offset ${offset}`, 'EBADFORMAT');
  }

  /**
   * Whether pos starts a chain: CHAIN_RECORDS plausible records in a row,
   * neighbours less than a day apart, or fewer that end at the file's exact
   * end, or two or more that end in a record cut by it (a damaged tail).
   */
  #startsChain(pos: number): boolean {
    let previous: bigint | null = null;
    let at = pos;
    for (let records = 0; records < CHAIN_RECORDS; records++) {
      const r = this.#layout.recordAt(this.#file, at, this.#tsLow, this.#tsHigh);
      if (r === 'eof') return records > 0;
      if (r === 'truncated') return records >= 2;
      if (r === null || (r.ts !== null && previous !== null && (r.ts - previous > NEIGHBOUR_NS || previous - r.ts > NEIGHBOUR_NS))) return false;
      if (r.ts !== null) previous = r.ts;
      at += r.size;
    }
    return true;
  }
}

/** A record start known to lie on the file's own chain, with the first timestamp at or after it. */
interface Anchor {
  offset: number;
  ts: bigint | null;
}

/** A walk from a certified record is definite unless a damaged or cut record stopped it. */
function walkCertainty(end: Probe | undefined): Certainty {
  return end === null || end === 'truncated' ? 'probable' : 'definite';
}

/** A binary min-heap of offsets: convergence advances the lowest cursor first. */
class MinHeap {
  #items: number[] = [];

  push(value: number): void {
    const a = this.#items;
    let i = a.push(value) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (a[parent] <= value) break;
      a[i] = a[parent];
      i = parent;
    }
    a[i] = value;
  }

  /** The smallest value (the caller knows the heap is not empty). */
  pop(): number {
    const a = this.#items;
    const top = a[0];
    const last = a.pop() as number;
    if (a.length > 0) {
      let i = 0;
      for (;;) {
        let child = 2 * i + 1;
        if (child >= a.length) break;
        if (child + 1 < a.length && a[child + 1] < a[child]) child++;
        if (a[child] >= last) break;
        a[i] = a[child];
        i = child;
      }
      a[i] = last;
    }
    return top;
  }
}

/** A time as nanoseconds since the epoch: a bigint (ns), a number (ms) or a Date. */
export function toNanoseconds(time: bigint | number | Date, name = 'time'): bigint {
  if (typeof time === 'bigint') return time;
  if (time instanceof Date && !Number.isNaN(time.getTime())) return BigInt(time.getTime()) * 1_000_000n;
  if (typeof time === 'number' && Number.isFinite(time)) return BigInt(Math.round(time * 1e6)) * 1000n; // epoch milliseconds
  throw new WirecapError(`${name} must be a bigint (ns), a number (ms since the epoch) or a valid Date, got ${String(time)}`, 'EINVAL');
}

/**
 * Opens a pcap (µs or ns, either byte order) or pcapng file for
 * navigation: firstTime, lastTime, durationMs and seek() read only small
 * windows of it. Throws ENOENT, EISDIR, EBADFORMAT.
 */
export function openTrace(path: string): TraceNavigator {
  checkString(path, 'path');
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    throw new WirecapError(`cannot read ${path}: ${e.message}`, e.code === 'ENOENT' || e.code === 'EACCES' ? e.code : 'EIO');
  }
  try {
    const stat = fs.fstatSync(fd);
    if (stat.isDirectory()) throw new WirecapError(`cannot read ${path}: it is a directory`, 'EISDIR');
    const file = new PagedFile(fd, stat.size);
    const magic = file.read(0, 4);
    if (magic.length < 4) throw new WirecapError(`${path}: too short for a capture file`, 'EBADFORMAT');
    let layout: Layout;
    const be = magic.readUInt32BE(0);
    if (be === 0x0a0d0d0a) layout = pcapngLayout(file);
    else if (be === 0xa1b2c3d4 || be === 0xd4c3b2a1) layout = pcapLayout(file, be === 0xd4c3b2a1, false);
    else if (be === 0xa1b23c4d || be === 0x4d3cb2a1) layout = pcapLayout(file, be === 0x4d3cb2a1, true);
    else throw new WirecapError(`${path}: not a pcap or pcapng file`, 'EBADFORMAT');
    return new TraceNavigator(path, file, layout);
  } catch (error) {
    fs.closeSync(fd);
    throw error;
  }
}
