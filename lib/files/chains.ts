/**
 * The records of a capture file as chains: walks from a record start,
 * cheap probes (resync) and certified anchors (convergence), with an index
 * of certified records kept for later seeks. navigate.ts's comment says how
 * they are used.
 */
import { WirecapError } from '../core/errors';
import { MinHeap } from '../core/min-heap';
import { HEADER_PEEK, type Layout, type Probe, type Record } from './layouts';
import { PagedFile } from './paged-file';

const PAGE = PagedFile.PAGE;
/** Records a chain must reach to be taken without a contest. */
const CHAIN_RECORDS = 8;
/** Neighbouring records further apart in time than this break a chain. */
export const NEIGHBOUR_NS = 86_400n * 1_000_000_000n;
/** Offset seeks resynchronise this far before the offset, then walk. */
const LOOKBACK_BYTES = 16 << 10;
/** Convergence follows rival cursors this many windows past its own before it calls them a clash. */
const CONVERGE_WINDOWS = 2;
/** Certified records kept for later seeks. */
const INDEX_ENTRIES = 4096;
/** A walk from a certified record keeps one every this many bytes. */
const REMEMBER_BYTES = 256 << 10;

/** A record start known to lie on the file's own chain, with the first timestamp at or after it. */
export interface Anchor {
  offset: number;
  ts: bigint | null;
}

/** Where a walk or a probe stopped: a record start (or the file's size) and its timestamp. */
export interface Stop {
  offset: number;
  timestamp: bigint | null;
}

export class RecordChains {
  /** Timestamps a plausible header may carry; the navigator narrows them once it knows the first and last. */
  tsLow = -(1n << 62n);
  tsHigh = 1n << 62n;
  #path: string;
  #file: PagedFile;
  #layout: Layout;
  /** Certified records (the file's own, reached by convergence or walks), sorted by offset. */
  #index: Anchor[] = [];

  constructor(path: string, file: PagedFile, layout: Layout) {
    this.#path = path;
    this.#file = file;
    this.#layout = layout;
  }

  /** The first timestamp at or after a record start (pcapng blocks may have none). */
  timeAt(offset: number): bigint | null {
    return this.walkTo(offset, (r) => r.ts !== null).timestamp;
  }

  /**
   * Walks records from a record start until done(record, its offset) or the
   * end. From a certified record (certified), the walk keeps a record every
   * REMEMBER_BYTES in the index: a later seek near them walks from there.
   */
  walkTo(start: number, done: (r: Record, at: number) => boolean, certified = false): Stop & { end?: Probe } {
    let pos = start;
    let kept = start;
    for (;;) {
      const r = this.#layout.recordAt(this.#file, pos, this.tsLow, this.tsHigh);
      // A record cut by the end of the file is no record: the walk ends at the end.
      if (r === null || r === 'eof' || r === 'truncated') return { offset: r === null ? pos : this.#file.size, timestamp: null, end: r };
      if (done(r, pos)) return { offset: pos, timestamp: r.ts };
      if (certified && r.ts !== null && pos - kept >= REMEMBER_BYTES) {
        this.#remember({ offset: pos, ts: r.ts });
        kept = pos;
      }
      pos += r.size;
    }
  }

  /**
   * A record start at or before offset that is certainly the file's own:
   * the first record, a record from the index, or a convergence point.
   * When convergence ends after offset (rival chains met only later), it
   * is tried again from further back. Returns why not when it cannot tell.
   */
  anchor(offset: number): Anchor | 'probable' | 'clash' {
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
    if (blockBefore === undefined || start >= this.#file.size) return null;
    let pos: number | null = start;
    while (pos !== null && pos > offset) pos = blockBefore.call(this.#layout, this.#file, pos, this.tsLow, this.tsHigh);
    return pos === null ? null : { offset: pos, ts: this.timeAt(pos) };
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
      if (from - this.#layout.maxRecord >= this.#layout.headerBytes) return null;
      near = { offset: this.#layout.headerBytes, ts: this.timeAt(this.#layout.headerBytes) };
    }
    let last: Anchor = near;
    this.walkTo(
      near.offset,
      (r, at) => {
        if (at > from) return true;
        last = { offset: at, ts: r.ts ?? this.timeAt(at) };
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
    const end = Math.min(to, this.#file.size);
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
        if (this.#layout.recordAt(this.#file, p, this.tsLow, this.tsHigh) !== null && visit(p)) return;
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
      const r = this.#layout.recordAt(this.#file, at, this.tsLow, this.tsHigh);
      if (r === null) continue;
      // The file's exact end and a record cut by it both end at the size.
      const next = typeof r === 'object' ? at + r.size : this.#file.size;
      if (!live.has(next)) {
        live.add(next);
        cursors.push(next);
      }
    }
    const [survivor] = live;
    if (survivor === undefined) return 'probable';
    return { offset: survivor, ts: survivor >= this.#file.size ? null : this.timeAt(survivor) };
  }

  /** The cheap probe of a bisection step: the first chain from a little before offset, walked to offset. */
  probeNear(offset: number): Stop {
    const from = Math.max(this.#layout.headerBytes, offset - LOOKBACK_BYTES);
    const found = from === this.#layout.headerBytes ? this.walkTo(from, () => true) : this.resync(from);
    // (walkTo's result also says why a walk ended: not part of a Stop.)
    if (found.offset >= offset) return { offset: found.offset, timestamp: found.timestamp };
    const walked = this.walkTo(found.offset, (_, at) => at >= offset);
    return { offset: walked.offset, timestamp: walked.timestamp ?? this.timeAt(walked.offset) };
  }

  /**
   * A probe: the first position at or after offset that starts a chain of
   * CHAIN_RECORDS plausible records (or one that reaches the end). A trace
   * held in a payload can fool it: it only guides the bisection.
   */
  resync(offset: number): Stop {
    const { align, maxRecord } = this.#layout;
    const pos = Math.ceil(offset / align) * align;
    const limit = Math.min(this.#file.size, pos + maxRecord);
    let found = -1;
    this.#scan(pos, limit, (p) => {
      if (this.#startsChain(p)) found = p;
      return found >= 0;
    });
    if (found >= 0) return { offset: found, timestamp: this.timeAt(found) };
    if (limit === this.#file.size) return { offset: this.#file.size, timestamp: null };
    throw new WirecapError(`${this.#path}: no valid record within ${maxRecord} bytes of offset ${offset}`, 'EBADFORMAT');
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
      const r = this.#layout.recordAt(this.#file, at, this.tsLow, this.tsHigh);
      if (r === 'eof') return records > 0;
      if (r === 'truncated') return records >= 2;
      if (r === null || (r.ts !== null && previous !== null && (r.ts - previous > NEIGHBOUR_NS || previous - r.ts > NEIGHBOUR_NS))) return false;
      if (r.ts !== null) previous = r.ts;
      at += r.size;
    }
    return true;
  }
}
