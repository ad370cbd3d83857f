/**
 * Navigating capture files without reading them through: the first and
 * last timestamps, and seeks to a time, a byte offset or a fraction of the
 * file, each in a few small reads.
 *
 * A jump into the middle of a file lands inside some record. The next
 * record boundary is found by resynchronisation: every position after the
 * landing point is tried as a record header; a plausible one (pcap:
 * timestamp inside the file's time range, fraction below one second,
 * caplen within the snaplen and not above len; pcapng: a known block type
 * whose total length is repeated at the block's end) starts a chain,
 * header after header, followed for CHAIN_RECORDS records. Payload bytes
 * can look like headers (a trace inside a trace), so competitors are
 * looked for inside the first record of the earliest full chain, where a
 * fake header would sit; ties are settled by following the chains much
 * further (a fake chain ends with the record that holds it); chains that
 * still disagree are a clash.
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
const PAGE = 4096;
const CACHED_PAGES = 256;
const MAX_WIRE_LEN = 1 << 24;
const PCAPNG_MAX_BLOCK = 1 << 24;

interface Record {
  size: number;
  /** null for pcapng blocks that carry no timestamp (interface, statistics...). */
  ts: bigint | null;
}
/** A record, or why there is none at a position. */
type Probe = Record | 'eof' | 'truncated' | null;

interface Chain {
  start: number;
  /** Where each record of the chain starts. */
  positions: Set<number>;
  /** The timestamps of its records that have one, in order. */
  times: bigint[];
  records: number;
  /** Where it ended: the record bound, the file's exact end, a record cut by the end, or an implausible header. */
  end: 'bound' | 'eof' | 'truncated' | 'broken';
  /** Offset after its last record. */
  last: number;
}

/** Reads of small windows, counted, with a few pages cached. */
class PagedFile {
  readonly size: number;
  bytesRead = 0;
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
      if (this.#pages.size >= CACHED_PAGES) this.#pages.delete(this.#pages.keys().next().value as number);
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
}

function pcapLayout(file: PagedFile, le: boolean, nano: boolean): Layout {
  const header = file.read(0, 24);
  if (header.length < 24) throw new WirecapError('the file ends inside the pcap header', 'EBADFORMAT');
  const snaplen = le ? header.readUInt32LE(16) : header.readUInt32BE(16);
  // Some writers put 0 or nonsense in the header: fall back to libpcap's largest snaplen.
  const snapLimit = snaplen > 0 && snaplen <= 1 << 24 ? Math.max(snaplen, 65535) : 262144;
  return {
    format: nano ? 'pcap-nsec' : 'pcap',
    headerBytes: 24,
    align: 1,
    maxRecord: 16 + snapLimit,
    recordAt(f, pos, tsLow, tsHigh) {
      if (pos === f.size) return 'eof';
      if (pos + 16 > f.size) return 'truncated';
      const fraction = f.u32(pos + 4, le);
      const caplen = f.u32(pos + 8, le);
      const len = f.u32(pos + 12, le);
      if (fraction >= (nano ? 1e9 : 1e6) || caplen > snapLimit || caplen > len || len > MAX_WIRE_LEN) return null;
      const ts = BigInt(f.u32(pos, le)) * 1_000_000_000n + BigInt(nano ? fraction : fraction * 1000);
      if (ts < tsLow || ts > tsHigh) return null;
      if (pos + 16 + caplen > f.size) return 'truncated';
      return { size: 16 + caplen, ts };
    },
  };
}

/** pcapng block types wirecap recognises when resynchronising. */
const PCAPNG_BLOCKS = new Set([0x0a0d0d0a, 1, 2, 3, 4, 5, 6, 9, 10, 0xbad, 0x40000bad]);

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
    maxRecord: 262144 + 64,
    recordAt(f, at, tsLow, tsHigh) {
      if (at === f.size) return 'eof';
      const b = f.read(at, 28);
      if (b.length < 8) return 'truncated';
      const type = u32(b, 0);
      const length = u32(b, 4);
      if (!PCAPNG_BLOCKS.has(type) || length < 12 || length % 4 !== 0 || length > PCAPNG_MAX_BLOCK) return null;
      if (at + length > f.size) return 'truncated';
      if (u32(f.read(at + length - 4, 4), 0) !== length) return null;
      if (type !== 6 && type !== 2) return { size: length, ts: null };
      if (b.length < 28 || length < 32) return null;
      // EPB: interface id (PB: 16-bit id and drops), timestamp high and low.
      const iface = type === 6 ? u32(b, 8) : u16(b, 8);
      if (iface >= units.length) return null;
      const ticks = (BigInt(u32(b, 12)) << 32n) | BigInt(u32(b, 16));
      const ts = (ticks * units[iface]) / UNIT_SCALE;
      if (ts < tsLow || ts > tsHigh) return null;
      if (u32(b, 20) > length - 32) return null; // caplen within the block
      return { size: length, ts };
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

  /** @internal use openTrace() */
  constructor(path: string, file: PagedFile, layout: Layout) {
    this.path = path;
    this.#file = file;
    this.#layout = layout;
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
   * Finds the first packet with timestamp ≥ time (by bisection, then a walk
   * of at most WALK_BYTES), or the first record starting at or after a byte
   * offset or a fraction of the file. Past the end gives the end (offset =
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

  /**
   * The first record at or after offset. Resynchronises a little before
   * the offset and walks to it: a landing point inside a record that holds
   * a trace of its own would otherwise take that trace's records for the file's.
   */
  #seekOffset(offset: number): Omit<TracePosition, 'bytesRead'> {
    if (offset <= this.headerBytes) return this.#firstRecord();
    const from = Math.max(this.headerBytes, offset - LOOKBACK_BYTES);
    const found = from === this.headerBytes ? this.#firstRecord() : this.#resync(from);
    if (found.offset >= offset) return found;
    const walked = this.#walkTo(found.offset, (_, at) => at >= offset);
    const certainty: Certainty = walked.end === null || walked.end === 'truncated' ? 'probable' : found.certainty;
    return { offset: walked.offset, timestamp: walked.timestamp ?? this.#timeAt(walked.offset), certainty };
  }

  #seekTime(time: bigint): Omit<TracePosition, 'bytesRead'> {
    const first = this.#firstPosition();
    if (first.timestamp === null || first.timestamp >= time) return first;
    // lo: a record known to be before the time; hi: the answer starts before hi or the walk passes it.
    let lo = first.offset;
    let loTime = first.timestamp;
    let certainty: Certainty = first.certainty;
    let hi = this.size;
    let hiTime: bigint | null = null;
    let bisect = true;
    while (hi - lo > WALK_BYTES) {
      // Interpolate where timestamps grow steadily with the offset; bisect
      // whenever that did not halve the interval, so the worst case stays
      // O(log n) probes.
      let mid = lo + Math.floor((hi - lo) / 2);
      if (!bisect && hiTime !== null && hiTime > loTime) {
        const guess = lo + Number(((time - loTime) * BigInt(hi - lo)) / (hiTime - loTime));
        const margin = Math.floor((hi - lo) / 64);
        mid = Math.min(hi - margin, Math.max(lo + margin, guess));
      }
      const width = hi - lo;
      let found = this.#resync(mid);
      // A timestamp outside what lo and hi allow may be a trace held in a
      // record's payload: look again from a little before.
      if (found.timestamp !== null && (found.timestamp < loTime || (hiTime !== null && found.timestamp > hiTime))) {
        found = this.#seekOffset(mid);
      }
      if (found.timestamp !== null && found.timestamp < time) {
        lo = found.offset;
        loTime = found.timestamp;
        certainty = found.certainty;
      } else {
        hi = mid;
        hiTime = found.timestamp;
      }
      bisect = !bisect && hi - lo > width / 2;
    }
    // lo itself may be a record of a trace held in a bigger record's payload
    // (its time fits): walk from a record found a little before it.
    const anchor = lo === first.offset || lo - LOOKBACK_BYTES <= this.headerBytes ? first.offset : this.#resync(lo - LOOKBACK_BYTES).offset;
    const walked = this.#walkTo(Math.min(anchor, lo), (r) => r.ts !== null && r.ts >= time);
    // A walk stopped by a damaged or cut record cannot vouch for what follows.
    if (walked.end === null || walked.end === 'truncated') certainty = certainty === 'clash' ? 'clash' : 'probable';
    return { offset: walked.offset, timestamp: walked.timestamp, certainty };
  }

  /** The first timestamp at or after a record start (pcapng blocks may have none). */
  #timeAt(offset: number): bigint | null {
    return this.#walkTo(offset, (r) => r.ts !== null).timestamp;
  }

  /** Walks records from a known record start until done(record, its offset) or the end. */
  #walkTo(start: number, done: (r: Record, at: number) => boolean): Omit<TracePosition, 'bytesRead' | 'certainty'> & { end?: Probe } {
    let pos = start;
    for (;;) {
      const r = this.#layout.recordAt(this.#file, pos, this.#tsLow, this.#tsHigh);
      // A record cut by the end of the file is no record: the walk ends at the end.
      if (r === null || r === 'eof' || r === 'truncated') return { offset: r === null ? pos : this.size, timestamp: null, end: r };
      if (done(r, pos)) return { offset: pos, timestamp: r.ts };
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

  /** The last complete packet's timestamp: resync well before the end, then walk. */
  #findLast(): bigint | null {
    const first = this.#firstPosition().timestamp;
    if (first === null) return null;
    const last = this.#findLastFrom(TAIL_BYTES);
    // From now on a header is plausible only inside the file's time range.
    if (last !== null) this.#tsHigh = (last > first ? last : first) + TIME_SLACK_NS;
    return last;
  }

  #findLastFrom(tail: number): bigint | null {
    for (let back = tail; ; back *= 4) {
      const from = Math.max(this.headerBytes, this.size - back);
      const found = from === this.headerBytes ? this.#firstRecord() : this.#resync(from);
      if (found.certainty !== 'clash' || from === this.headerBytes) {
        let last: bigint | null = null;
        this.#walkTo(found.offset, (r) => {
          if (r.ts !== null) last = r.ts;
          return false;
        });
        if (last !== null || from === this.headerBytes) return last;
      }
    }
  }

  /** The first true record starting at or after offset. */
  #resync(offset: number): Omit<TracePosition, 'bytesRead'> {
    const { align, maxRecord } = this.#layout;
    let pos = Math.ceil(offset / align) * align;
    if (pos >= this.size) return { offset: this.size, timestamp: null, certainty: 'definite' };
    const limit = Math.min(this.size, pos + maxRecord);
    const chains: Chain[] = [];
    let stopAt = limit; // competitors are looked for inside the first full chain's first record
    for (; pos < stopAt; pos += align) {
      if (chains.some((c) => c.positions.has(pos))) continue;
      const chain = this.#chain(pos, CHAIN_RECORDS, Infinity);
      // A chain broken by an implausible header is no chain; one cut by the
      // end of the file counts once it has two records (a damaged tail).
      if (chain === null || chain.end === 'broken' || (chain.end === 'truncated' && chain.records < 2)) continue;
      chains.push(chain);
      if (chain.end === 'bound' || chain.end === 'eof') {
        const firstRecord = [...chain.positions][1] ?? chain.last;
        stopAt = Math.min(stopAt, firstRecord);
      }
    }
    if (chains.length === 0) {
      if (limit === this.size) return { offset: this.size, timestamp: null, certainty: 'probable' };
      throw new WirecapError(`${this.path}: no valid record within ${maxRecord} bytes of offset ${offset}`, 'EBADFORMAT');
    }
    let best = this.#rank(chains);
    if (best.length > 1) {
      // Follow the tied chains past the earliest one's first record: a fake
      // chain inside that record ends with it, or meets the real chain there.
      const earliest = best[0];
      const firstEnd = [...earliest.positions][1] ?? earliest.last;
      const until = firstEnd + 2 * Math.max(...best.map((c) => largestRecord(c))) + 4096;
      const longer = best.map((c) => this.#chain(c.start, Infinity, until) as Chain);
      const meets = longer.every((c) => c === longer[0] || [...c.positions].some((p) => longer[0].positions.has(p)));
      // Chains that meet are the same records from there on; the earliest start encloses the others.
      best = meets ? [longer[0]] : this.#rank(longer.filter((c) => c.end === 'bound' || c.end === 'eof'));
      if (best.length === 0) best = [earliest];
    }
    const chosen = best[0];
    const certainty: Certainty = best.length > 1 ? 'clash' : chosen.end === 'bound' || chosen.end === 'eof' ? 'definite' : 'probable';
    const start = this.#enclosed(chosen) ?? chosen.start;
    // The position's timestamp: its first record that has one (pcapng chains pass through other blocks).
    const walked = this.#walkTo(start, (r) => r.ts !== null);
    return { offset: start, timestamp: walked.timestamp, certainty };
  }

  /**
   * A fake header whose caplen lands exactly on the next real one starts a
   * chain as good as the real chain, one record longer. Its tell: a full
   * chain from a little earlier passes over it and lands on its successor.
   * Returns that successor, or null when nothing encloses the chain's start.
   */
  #enclosed(chosen: Chain): number | null {
    const positions = [...chosen.positions];
    if (positions.length < 2 || !firstLinkStands(chosen)) return null;
    const look = Math.min(this.#layout.maxRecord, 4 * largestRecord(chosen) + 64);
    const { align } = this.#layout;
    const from = Math.max(this.headerBytes, Math.ceil((chosen.start - look) / align) * align);
    for (let q = from; q < chosen.start; q += align) {
      if (typeof this.#layout.recordAt(this.#file, q, this.#tsLow, this.#tsHigh) !== 'object') continue;
      const chain = this.#chain(q, CHAIN_RECORDS + 2, Infinity);
      if (chain !== null && (chain.end === 'bound' || chain.end === 'eof') && chain.positions.has(positions[1]) && !chain.positions.has(chosen.start)) {
        return positions[1];
      }
    }
    return null;
  }

  /** The chains with the best end and length, earliest first. */
  #rank(chains: Chain[]): Chain[] {
    const score = (c: Chain): number => (c.end === 'bound' || c.end === 'eof' ? 2 : c.end === 'truncated' ? 1 : 0) * 1e9 + c.records;
    const top = Math.max(...chains.map(score));
    return chains.filter((c) => score(c) === top).sort((a, b) => a.start - b.start);
  }

  /** The chain of records from pos, up to maxRecords records or until it passes untilByte; null if pos is no record. */
  #chain(pos: number, maxRecords: number, untilByte: number): Chain | null {
    // Most positions a resync tries hold no record: answer those before building a chain.
    if (maxRecords > 0 && pos < untilByte) {
      const head = this.#layout.recordAt(this.#file, pos, this.#tsLow, this.#tsHigh);
      if (head === null || typeof head !== 'object') return null;
    }
    const positions = new Set<number>();
    const times: bigint[] = [];
    let previous: bigint | null = null;
    let at = pos;
    for (;;) {
      if (positions.size >= maxRecords || at >= untilByte) return { start: pos, positions, times, records: positions.size, end: 'bound', last: at };
      const r = this.#layout.recordAt(this.#file, at, this.#tsLow, this.#tsHigh);
      const neighbour = r !== null && typeof r === 'object' && r.ts !== null && previous !== null && (r.ts - previous > NEIGHBOUR_NS || previous - r.ts > NEIGHBOUR_NS);
      if (r === null || neighbour || (r === 'eof' && positions.size === 0) || (r === 'truncated' && positions.size === 0)) {
        return positions.size === 0 ? null : { start: pos, positions, times, records: positions.size, end: 'broken', last: at };
      }
      if (r === 'eof') return { start: pos, positions, times, records: positions.size, end: 'eof', last: at };
      if (r === 'truncated') return { start: pos, positions, times, records: positions.size, end: 'truncated', last: at };
      positions.add(at);
      if (r.ts !== null) {
        previous = r.ts;
        times.push(r.ts);
      }
      at += r.size;
    }
  }
}

/**
 * Whether a chain's first timestamp stands out from the rest: its gap to
 * the second is four times the largest gap after it. A fake header's
 * timestamp is whatever the payload held, while real neighbours are close.
 */
function firstLinkStands(chain: Chain): boolean {
  const t = chain.times;
  if (t.length < 3) return true;
  const gap = (a: bigint, b: bigint): bigint => (a > b ? a - b : b - a);
  let largest = 0n;
  for (let i = 2; i < t.length; i++) {
    const g = gap(t[i], t[i - 1]);
    if (g > largest) largest = g;
  }
  return gap(t[1], t[0]) > 4n * largest;
}

/** The largest record of a chain, in bytes. */
function largestRecord(chain: Chain): number {
  const positions = [...chain.positions, chain.last];
  let largest = 0;
  for (let i = 1; i < positions.length; i++) largest = Math.max(largest, positions[i] - positions[i - 1]);
  return largest;
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
