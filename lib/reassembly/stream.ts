/**
 * One direction of a TCP connection put back in sequence order.
 *
 * Offsets are byte positions in the direction's stream (0 is the byte after
 * the SYN, or the first byte seen when the connection was picked up
 * mid-stream); sequence numbers are mapped to them with 32-bit modular
 * differences from the next expected sequence number, so wraparound costs
 * nothing. In-order bytes go straight to the sink as a view of the packet;
 * bytes ahead of a hole are copied and held, within the stream's and the
 * budget's bounds. Overlaps keep the first copy of a byte: later copies are
 * compared with it (within the last `window` bytes delivered, and against
 * held bytes) and the bytes that differ are reported.
 */

/** Bytes held out of order, shared by every stream of a tracker. */
export class ReassemblyBudget {
  /** Bytes held now. */
  held = 0;
  /** Bytes given up as gaps because a bound was hit (or a hole never filled). */
  gapBytes = 0;
  /** Gaps forced by the per-stream bound or the total bound (rather than by an ACK or the end). */
  forcedGaps = 0;
  constructor(
    /** At most this many bytes held across all streams. */
    readonly maxTotal: number,
    /** At most this many bytes held by one direction. */
    readonly maxPerStream: number,
    /** Bytes of delivered history each direction keeps to compare retransmissions with. */
    readonly window: number,
  ) {}
}

/** Where a direction's results go. */
export interface StreamSink {
  data(bytes: Buffer, offset: number, timestamp: bigint): void;
  gap(length: number, offset: number, timestamp: bigint): void;
  overlap(length: number, offset: number, timestamp: bigint): void;
}

interface Held {
  offset: number;
  bytes: Buffer;
  timestamp: bigint;
}

export class TcpDirection {
  /** The next sequence number expected, and its offset in the stream. */
  #next = 0;
  #offset = 0;
  #started = false;
  /** Segments ahead of #offset, sorted, not overlapping one another. */
  #held: Held[] = [];
  #heldBytes = 0;
  /** The last bytes delivered: the byte at offset o sits at o % window. */
  #history: Buffer | null = null;
  /** Sequence number of the FIN, once seen. */
  #fin = -1;
  /** Bytes reported as differing overlaps. */
  overlapConflicts = 0;
  /** Bytes given up as gaps in this direction. */
  missedBytes = 0;

  constructor(
    private readonly budget: ReassemblyBudget,
    private readonly sink: StreamSink,
  ) {}

  get offset(): number {
    return this.#offset;
  }

  /** A SYN: the stream starts after seq. */
  syn(seq: number): void {
    if (this.#started) return;
    this.#started = true;
    this.#next = (seq + 1) >>> 0;
  }

  /** A FIN at seq + payload length. */
  fin(seq: number, length: number): void {
    if (this.#fin < 0) this.#fin = (seq + length) >>> 0;
  }

  /** True once every byte before the FIN was delivered. */
  get finished(): boolean {
    return this.#fin >= 0 && this.#started && this.#fin === this.#next;
  }

  /** A segment's payload d[start, end) at sequence number seq. */
  segment(seq: number, d: Buffer, start: number, end: number, timestamp: bigint): void {
    if (end <= start) return;
    if (!this.#started) {
      this.#started = true;
      this.#next = seq >>> 0;
    }
    const rel = (seq - this.#next) | 0;
    const at = this.#offset + rel;
    if (rel > 0) {
      this.#hold(at, d, start, end, timestamp);
      return;
    }
    // Bytes before #offset were delivered already: compare, then drop them.
    const old = Math.min(-rel, end - start);
    if (old > 0) this.#compareDelivered(at, d, start, start + old, timestamp);
    if (old === end - start) return;
    // Held bytes came first: they win where the new bytes overlap them.
    if (this.#held.length > 0) this.#hold(this.#offset, d, start + old, end, timestamp);
    else this.#deliver(d, start + old, end, timestamp);
    this.#drain();
  }

  /**
   * The peer acknowledged ack: every byte before it reached the receiver, so
   * a hole below it will not be filled by this capture. Held bytes below
   * ack are delivered after an explicit gap.
   */
  acked(ack: number, timestamp: bigint): void {
    if (!this.#started || this.#held.length === 0) return;
    const rel = (ack - this.#next) | 0;
    if (rel <= 0) return;
    const first = this.#held[0];
    if (first.offset >= this.#offset + rel) return;
    this.#skipTo(first.offset, timestamp);
    this.#drain();
  }

  /** The end of the connection: whatever is held comes out, after the gaps before it. */
  flush(timestamp: bigint): void {
    while (this.#held.length > 0) {
      this.#skipTo(this.#held[0].offset, timestamp);
      this.#drain();
    }
  }

  /** Bytes held now. */
  get held(): number {
    return this.#heldBytes;
  }

  #deliver(d: Buffer, start: number, end: number, timestamp: bigint): void {
    const length = end - start;
    const bytes = start === 0 && end === d.length ? d : d.subarray(start, end);
    this.#remember(bytes);
    this.sink.data(bytes, this.#offset, timestamp);
    this.#offset += length;
    this.#next = (this.#next + length) >>> 0;
  }

  /** Delivers the held segments that now start at or before #offset. */
  #drain(): void {
    while (this.#held.length > 0 && this.#held[0].offset <= this.#offset) {
      const h = this.#held.shift()!;
      this.#release(h.bytes.length);
      const skip = this.#offset - h.offset;
      if (skip >= h.bytes.length) continue;
      this.#deliver(h.bytes, skip, h.bytes.length, h.timestamp);
    }
  }

  /** An explicit gap from #offset to offset. */
  #skipTo(offset: number, timestamp: bigint): void {
    const length = offset - this.#offset;
    if (length <= 0) return;
    this.sink.gap(length, this.#offset, timestamp);
    this.missedBytes += length;
    this.budget.gapBytes += length;
    this.#offset = offset;
    this.#next = (this.#next + length) >>> 0;
  }

  /** Keeps d[start, end) (stream offset at) until the hole before it is filled, first copy winning. */
  #hold(at: number, d: Buffer, start: number, end: number, timestamp: bigint): void {
    const list = this.#held;
    let i = 0;
    while (i < list.length && list[i].offset + list[i].bytes.length <= at) i++;
    let cursor = at;
    const stop = at + (end - start);
    const pieces: Held[] = [];
    for (; cursor < stop; i++) {
      const h = i < list.length ? list[i] : null;
      const gapEnd = h === null ? stop : Math.min(stop, h.offset);
      if (gapEnd > cursor) {
        pieces.push({ offset: cursor, bytes: Buffer.from(d.subarray(start + cursor - at, start + gapEnd - at)), timestamp });
        cursor = gapEnd;
      }
      if (h === null || cursor >= stop) break;
      // Overlap with h: compare, keep h's bytes.
      const overlapEnd = Math.min(stop, h.offset + h.bytes.length);
      if (overlapEnd > cursor) {
        this.#compare(h.bytes, cursor - h.offset, d, start + cursor - at, overlapEnd - cursor, cursor, timestamp);
        cursor = overlapEnd;
      }
    }
    for (const p of pieces) {
      let j = 0;
      while (j < list.length && list[j].offset < p.offset) j++;
      list.splice(j, 0, p);
      this.#heldBytes += p.bytes.length;
      this.budget.held += p.bytes.length;
    }
    // Over a bound: give up the hole before the first held segment.
    while (list.length > 0 && (this.#heldBytes > this.budget.maxPerStream || this.budget.held > this.budget.maxTotal)) {
      this.budget.forcedGaps++;
      this.#skipTo(list[0].offset, timestamp);
      this.#drain();
    }
  }

  #release(n: number): void {
    this.#heldBytes -= n;
    this.budget.held -= n;
  }

  #remember(bytes: Buffer): void {
    const w = this.budget.window;
    if (w === 0) return;
    if (this.#history === null) this.#history = Buffer.alloc(w);
    const skip = Math.max(0, bytes.length - w);
    // The ring's copy in at most two pieces.
    const at = (this.#offset + skip) % w;
    const n = bytes.length - skip;
    const first = Math.min(n, w - at);
    bytes.copy(this.#history, at, skip, skip + first);
    if (first < n) bytes.copy(this.#history, 0, skip + first, bytes.length);
  }

  /** Bytes d[start, end) at stream offset at (< #offset) against the history kept. */
  #compareDelivered(at: number, d: Buffer, start: number, end: number, timestamp: bigint): void {
    const h = this.#history;
    if (h === null) return;
    const w = h.length;
    let differ = 0;
    for (let k = start, o = at; k < end; k++, o++) {
      if (o >= this.#offset - w && o >= 0 && h[o % w] !== d[k]) differ++;
    }
    if (differ > 0) this.#conflict(differ, at, timestamp);
  }

  #compare(kept: Buffer, keptAt: number, d: Buffer, at: number, length: number, offset: number, timestamp: bigint): void {
    let differ = 0;
    for (let k = 0; k < length; k++) if (kept[keptAt + k] !== d[at + k]) differ++;
    if (differ > 0) this.#conflict(differ, offset, timestamp);
  }

  #conflict(differ: number, offset: number, timestamp: bigint): void {
    this.overlapConflicts += differ;
    this.sink.overlap(differ, offset, timestamp);
  }

  /** Frees what is held (the flow is gone without a flush). */
  drop(): void {
    this.#release(this.#heldBytes);
    this.#held = [];
  }
}
