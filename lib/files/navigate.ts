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
import { toNanoseconds } from '../core/time';
import { checkString } from '../core/validate';
import { type Anchor, NEIGHBOUR_NS, RecordChains } from './chains';
import { HEADER_PEEK, layoutOf, type Layout, type Probe } from './layouts';
import { PagedFile } from './paged-file';

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

/**
 * A header is plausible when its time lies within this much of the file's
 * first..last range: room for a clock that stepped back, none for a trace
 * from another day held in a payload.
 */
const TIME_SLACK_NS = 60n * 1_000_000_000n;
/** lastTime starts this far before the end (final records are often damaged), further if needed. */
const TAIL_BYTES = 64 << 10;
/** Below this many bytes between the bisection's bounds, records are walked. */
const WALK_BYTES = 32 << 10;
const PAGE = PagedFile.PAGE;

/** A capture file opened for navigation. Close it when done. */
export class TraceNavigator {
  readonly path: string;
  readonly format: 'pcap' | 'pcap-nsec' | 'pcapng';
  readonly size: number;
  /** Offset of the first record, and the bytes a reader must see before it. */
  readonly headerBytes: number;
  #file: PagedFile;
  #layout: Layout;
  #chains: RecordChains;
  #first: TracePosition | undefined;
  #last: bigint | null | undefined;
  /** @internal use openTrace() */
  constructor(path: string, file: PagedFile, layout: Layout) {
    this.path = path;
    this.#file = file;
    this.#layout = layout;
    this.#chains = new RecordChains(path, file, layout);
    file.fitWindows(layout.maxRecord);
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
    const anchor = this.#chains.anchor(offset);
    if (typeof anchor !== 'object') {
      // Not certified: the first chain found from a little before, marked as such.
      const found = this.#chains.probeNear(offset);
      return { ...found, certainty: anchor };
    }
    const walked = this.#chains.walkTo(anchor.offset, (_, at) => at >= offset, true);
    return { offset: walked.offset, timestamp: walked.timestamp ?? this.#chains.timeAt(walked.offset), certainty: walkCertainty(walked.end) };
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
    const start = lo === first.offset ? { offset: first.offset, ts: first.timestamp } : this.#chains.anchor(lo);
    if (typeof start !== 'object') {
      const walked = this.#chains.walkTo(lo, (r) => r.ts !== null && r.ts >= time);
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
      let found = this.#chains.resync(mid);
      // A timestamp outside what lo and hi allow may be a trace held in a
      // record's payload: look again from a little before.
      if (found.timestamp !== null && (found.timestamp < loTime || (hiTime !== null && found.timestamp > hiTime))) {
        found = this.#chains.probeNear(mid);
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
      const a = this.#chains.anchor(mid);
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
    const walked = this.#chains.walkTo(below.offset, (r) => r.ts !== null && r.ts >= time, true);
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
    const walked = this.#chains.walkTo(
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


  #firstRecord(): Omit<TracePosition, 'bytesRead'> {
    const walked = this.#chains.walkTo(this.headerBytes, () => true);
    return { offset: walked.offset, timestamp: walked.timestamp ?? null, certainty: 'definite' };
  }

  /** The first packet with a timestamp; sets the plausible time range from it. */
  #firstPosition(): TracePosition {
    if (this.#first === undefined) {
      const walked = this.#chains.walkTo(this.headerBytes, (r) => r.ts !== null);
      if (walked.timestamp === null && walked.end === null) {
        throw new WirecapError(`${this.path}: the first record at offset ${walked.offset} is damaged`, 'EBADFORMAT');
      }
      this.#first = { offset: walked.offset, timestamp: walked.timestamp, certainty: 'definite', bytesRead: 0 };
      if (walked.timestamp !== null) {
        this.#chains.tsLow = walked.timestamp - TIME_SLACK_NS;
        this.#chains.tsHigh = walked.timestamp + 100n * 365n * NEIGHBOUR_NS; // until lastTime is known
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
      const anchor = this.#chains.anchor(before);
      const from = typeof anchor === 'object' ? anchor.offset : this.#chains.probeNear(Math.max(this.headerBytes, this.size - TAIL_BYTES)).offset;
      this.#chains.walkTo(from, (r) => {
        if (r.ts !== null) last = r.ts;
        return false;
      });
      if (from <= this.headerBytes) break;
      before = from - 1;
    }
    // From now on a header is plausible only inside the file's time range.
    if (last !== null) this.#chains.tsHigh = (last > first ? last : first) + TIME_SLACK_NS;
    return last;
  }
}

/** A walk from a certified record is definite unless a damaged or cut record stopped it. */
function walkCertainty(end: Probe | undefined): Certainty {
  return end === null || end === 'truncated' ? 'probable' : 'definite';
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
    return new TraceNavigator(path, file, layoutOf(file, path));
  } catch (error) {
    fs.closeSync(fd);
    throw error;
  }
}
