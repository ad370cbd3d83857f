/**
 * Live capture: openLive() and the Capture it returns, an async iterable of
 * packets (or of batches) fed by the handle's native capture thread.
 */
import { binding, CaptureHandle, NativeBatch, NativeCaptureOptions, NativeStats } from '../core/binding';
import { PacketBatch, Packet } from './batch';
import { dumpOptions, DumpOptions, Dumper, kernelObstacle, startDump } from '../dump/dumper';
import { AbortError, invalid, WirecapError } from '../core/errors';
import { openCaptureHandle } from '../helper/helper';
import {
  checkBoolean,
  checkInteger,
  checkKeys,
  checkObject,
  checkOneOf,
  checkFilter,
  checkSignal,
  checkString,
} from '../core/validate';

export interface LiveOptions {
  /** Bytes kept of each packet, 1..262144 (default 262144). */
  snaplen?: number;
  /** Promiscuous mode (default false). */
  promisc?: boolean;
  /** Kernel buffer in bytes (default: libpcap's, 2 MiB on Linux). */
  bufferSize?: number;
  /** libpcap's read timeout: the longest a packet waits in the kernel buffer (default 100). */
  timeoutMs?: number;
  /** Deliver each packet as soon as it arrives (default false). */
  immediate?: boolean;
  /** Timestamp precision asked of the device (default 'micro'). */
  precision?: 'micro' | 'nano';
  /** Capture only packets received ('in') or sent ('out'). */
  direction?: 'in' | 'out' | 'inout';
  /** A BPF filter in pcap-filter syntax. */
  filter?: string;
  /** Aborting it closes the capture; the iterator then throws an AbortError. */
  signal?: AbortSignal;
  /**
   * Bound of the packets waiting for JavaScript, in bytes (default 32 MiB;
   * each packet counts its captured bytes plus 20). Packets that arrive while
   * it is full are dropped and counted in stats().consumerDropped.
   */
  queueBytes?: number;
  /**
   * Capture through the capture helper (Linux): 'auto' (the default) when
   * this process may not capture and a granted helper may (`wirecap grant`);
   * true or false to force it on or off.
   */
  helper?: boolean | 'auto';
}

export type CaptureStats = NativeStats;

export const LIVE_KEYS = [
  'snaplen',
  'promisc',
  'bufferSize',
  'timeoutMs',
  'immediate',
  'precision',
  'direction',
  'filter',
  'signal',
  'queueBytes',
  'helper',
] as const;

const MAX_SNAPLEN = 262144;

/** Checks openLive()'s options (or liveDump()'s, which name their own allowed keys). */
export function liveOptions(
  device: unknown,
  options: unknown,
  allowed: readonly string[] = LIVE_KEYS,
  what = 'openLive',
): NativeCaptureOptions {
  const o = checkObject(options, 'options');
  checkKeys(o, allowed, what);
  const native: NativeCaptureOptions = {
    device: checkString(device, 'device'),
    snaplen: o.snaplen === undefined ? MAX_SNAPLEN : checkInteger(o.snaplen, 'snaplen', 1, MAX_SNAPLEN),
    promisc: o.promisc === undefined ? false : checkBoolean(o.promisc, 'promisc'),
    bufferSize: o.bufferSize === undefined ? 0 : checkInteger(o.bufferSize, 'bufferSize', 4096, 2 ** 31 - 1),
    timeoutMs: o.timeoutMs === undefined ? 100 : checkInteger(o.timeoutMs, 'timeoutMs', 1, 60_000),
    immediate: o.immediate === undefined ? false : checkBoolean(o.immediate, 'immediate'),
    precision: o.precision === undefined ? 'micro' : checkOneOf(o.precision, 'precision', ['micro', 'nano'] as const),
    queueBytes: o.queueBytes === undefined ? 32 * 2 ** 20 : checkInteger(o.queueBytes, 'queueBytes', 65536, 2 ** 40),
  };
  if (o.direction !== undefined) native.direction = checkOneOf(o.direction, 'direction', ['in', 'out', 'inout'] as const);
  if (o.filter !== undefined && o.filter !== '') native.filter = checkFilter(o.filter);
  if (o.helper !== undefined) {
    if (o.helper !== 'auto' && typeof o.helper !== 'boolean') throw invalid(`helper must be true, false or 'auto', got ${String(o.helper)}`);
    native.helper = o.helper;
  }
  return native;
}

/**
 * Opens a device for live capture. The capture thread starts at once, so
 * packets queue up (to queueBytes) until they are iterated.
 */
export function openLive(device: string, options?: LiveOptions): Capture {
  const native = liveOptions(device, options);
  const signal = checkSignal(options?.signal);
  if (signal?.aborted) throw new AbortError(signal.reason);
  return new Capture(native, signal);
}

export interface BatchOptions {
  /**
   * Reuse a batch's memory once the next batch is asked for (default false).
   * Its Buffers then show the newer packets: copy what you keep.
   */
  recycle?: boolean;
}

/**
 * Batches handed out in one turn of the event loop. While the queue is full,
 * read() keeps answering and the consumer runs on promises alone, so without
 * a pause a fast file read would starve every timer and socket.
 */
const BATCHES_PER_TURN = 4;

export class Capture implements AsyncIterable<Packet> {
  /** The device name, or the file's path for openOffline(). */
  readonly device: string;
  /** The link-layer type (DLT_ number) and its libpcap name, e.g. 1 and 'EN10MB'. */
  readonly linktype: number;
  readonly linktypeName: string | null;
  readonly snaplen: number;
  /** The precision in force: 'nano' only when the device delivers it. */
  readonly precision: 'micro' | 'nano';

  /** @internal what the native handle reported at open, for subclasses. */
  protected readonly handleInfo: ReturnType<CaptureHandle['info']>;
  #native: CaptureHandle;
  #dumper: Dumper | null = null;
  #closed = false;
  #wake: (() => void) | null = null;
  #batchesInTurn = 0;
  #delivers: boolean;
  /** Wall-clock ns (to the millisecond, rounded down) just before the handle opened. */
  #openedNs = BigInt(Date.now()) * 1_000_000n;
  #filter: string | undefined;
  #abortReason: { reason: unknown } | null = null;
  #finalStats: NativeStats | null = null;
  #signal: AbortSignal | undefined;
  #onAbort = (): void => {
    this.#abortReason = { reason: this.#signal?.reason };
    this.close();
  };

  /** @internal use openLive() */
  constructor(options: NativeCaptureOptions, signal?: AbortSignal) {
    this.#native = openCaptureHandle(options, options.helper, (event) =>
      event === 'dump' ? this.#dumper?.settle() : this.#wakeReader(),
    );
    const info = this.#native.info();
    this.handleInfo = info;
    this.device = options.source === 'file' ? (options.path as string) : options.device;
    this.linktype = info.linktype;
    this.linktypeName = info.linktypeName;
    this.snaplen = info.snaplen;
    this.precision = info.precision;
    this.#delivers = options.deliver !== false;
    this.#filter = options.filter;
    this.#signal = signal;
    signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** @internal read()'s batch as a PacketBatch (a CaptureFile adds its interfaces). */
  protected batchOf(result: NativeBatch): PacketBatch {
    return new PacketBatch(result[0], result[1], result[2]);
  }

  /**
   * The next batch, or null once the capture is closed or ended. Rejects
   * with an AbortError after the signal aborted, and with the capture's
   * error (ENETDOWN, EPCAP) once every packet before it was delivered.
   */
  async nextBatch(options?: BatchOptions): Promise<PacketBatch | null> {
    const recycle = options?.recycle === true;
    for (;;) {
      if (this.#abortReason !== null) {
        const { reason } = this.#abortReason;
        this.#abortReason = null; // reported once, then the capture has simply ended
        throw new AbortError(reason);
      }
      if (this.#closed) return null;
      if (this.#batchesInTurn >= BATCHES_PER_TURN) {
        // Let timers, I/O and the finalizers that recycle batch memory run.
        await new Promise((resolve) => setImmediate(resolve));
        this.#batchesInTurn = 0;
        continue;
      }
      const result = this.#native.read(recycle);
      if (result === null) return null;
      if (result !== undefined) {
        this.#batchesInTurn++;
        return this.batchOf(result);
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#batchesInTurn = 0;
    }
  }

  /**
   * Batches until the capture ends; leaving the loop early closes the
   * capture. With { recycle: true } each batch's memory is reused once the
   * next batch is asked for: the fastest way through a big file, with
   * memory bounded by the queue, but copy (Buffer.from) whatever you keep.
   */
  async *batches(options?: BatchOptions): AsyncGenerator<PacketBatch, void, undefined> {
    checkKeys(checkObject(options, 'options'), ['recycle'], 'batches');
    if (options?.recycle !== undefined) checkBoolean(options.recycle, 'recycle');
    try {
      for (;;) {
        const batch = await this.nextBatch(options);
        if (batch === null) return;
        yield batch;
      }
    } finally {
      this.close();
    }
  }

  /** Packets until the capture ends; leaving the loop early closes the capture. */
  [Symbol.asyncIterator](): AsyncIterableIterator<Packet> {
    return new PacketIterator(this);
  }

  /**
   * Saves this capture's packets to a file natively, on the capture thread,
   * while it may still be iterated (a tee): the iterator's backpressure
   * never costs the dump a packet. One dump per capture. The first file is
   * created before this returns, so a bad path throws (EACCES, ENOENT).
   */
  dump(path: string, options?: DumpOptions): Dumper {
    const { native, mode } = dumpOptions(path, options);
    this.#checkOpen();
    if (this.#dumper !== null) throw new WirecapError('this capture is already dumping', 'EINVAL');
    native.interfaces = [this.#describe()];
    // liveDump's capture has nothing but its dump: the dump starts when it opened.
    if (!this.#delivers) native.startNs = this.#openedNs;
    const obstacle = kernelObstacle(native, { delivers: this.#delivers, precision: this.precision });
    const { kernelError } = startDump(this.#native, native, mode, obstacle);
    this.#dumper = new Dumper({ native: this.#native, captures: [this], onEnded: () => this.#onDumpEnded?.() }, kernelError);
    return this.#dumper;
  }

  /**
   * @internal liveDump() of several devices: this capture's packets and
   * those of others, in one pcapng file (interfaces 0, 1, ... in that order),
   * written on every capture's own thread. descriptions override the
   * system's (if_description).
   */
  dumpTogether(path: string, options: DumpOptions, others: Capture[], descriptions: (string | undefined)[]): Dumper {
    const { native, mode } = dumpOptions(path, options);
    if (mode === 'kernel') throw new WirecapError('kernel dump unavailable: it writes one device', 'ENOTSUP');
    if (native.format !== 'pcapng') throw new WirecapError('several devices share a file only in format pcapng', 'EINVAL');
    const all = [this, ...others];
    native.interfaces = all.map((c, i) => c.#describe(descriptions[i]));
    // Its packets are stamped from the first device's open on: its window starts there, not once all are open.
    native.startNs = this.#openedNs;
    this.#native.startDump(native, others.map((c) => c.#native));
    const dumper = new Dumper({ native: this.#native, captures: all, onEnded: () => this.#onDumpEnded?.() }, undefined);
    for (const c of all) c.#dumper = dumper;
    return dumper;
  }

  /** The IDB's if_description (the given one, else the system's) and if_filter. */
  #describe(description?: string): { description?: string; filter?: string } {
    const system = binding.devices().find((d) => d.name === this.device)?.description ?? undefined;
    return { description: description ?? system, filter: this.#filter };
  }

  /** @internal liveDump() closes its capture when the dump ends. */
  set onDumpEnded(callback: () => void) {
    this.#onDumpEnded = callback;
  }

  #onDumpEnded: (() => void) | undefined;

  /** Replaces the filter; packets that arrive after it returns are filtered by the new one. */
  setFilter(expr: string): void {
    checkFilter(expr);
    this.#checkOpen();
    this.#native.setFilter(expr);
    this.#filter = expr === '' ? undefined : expr;
  }

  /** Sends a whole link-layer frame on the device; returns the bytes sent. */
  inject(frame: Buffer | Uint8Array): number {
    if (!(frame instanceof Uint8Array) || frame.length === 0) {
      throw new WirecapError('frame must be a non-empty Buffer or Uint8Array', 'EINVAL');
    }
    this.#checkOpen();
    const buffer = Buffer.isBuffer(frame) ? frame : Buffer.from(frame.buffer, frame.byteOffset, frame.length);
    return this.#native.inject(buffer);
  }

  /** Counters so far; after close(), the final ones. */
  stats(): CaptureStats {
    if (this.#finalStats !== null) return { ...this.#finalStats };
    return this.#native.stats();
  }

  /** Stops capturing, joins the thread and ends any iteration. Safe to call any time, more than once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#native.close();
    this.#finalStats = this.#native.stats();
    this.#dumper?.settle();
    this.#wakeReader();
  }

  /** Let the process exit even while this capture waits for packets. */
  unref(): this {
    this.#native.setRef(false);
    return this;
  }

  /** Undo unref(): a capture being iterated keeps the process alive (the default). */
  ref(): this {
    this.#native.setRef(true);
    return this;
  }

  #checkOpen(): void {
    if (this.#closed) throw new WirecapError('the capture is closed', 'ECLOSED');
  }

  #wakeReader(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}

/**
 * Packets one by one from the capture's batches. Written by hand rather than
 * as an async generator: a packet already in a batch costs one resolved
 * promise, not a generator round trip.
 */
class PacketIterator implements AsyncIterableIterator<Packet> {
  #capture: Capture;
  #batch: PacketBatch | null = null;
  #index = 0;
  #done = false;

  constructor(capture: Capture) {
    this.#capture = capture;
  }

  next(): Promise<IteratorResult<Packet>> {
    const batch = this.#batch;
    // After close() nothing more is yielded, not even the rest of the batch in hand.
    if (batch !== null && this.#index < batch.count && !this.#capture.closed) {
      return Promise.resolve({ value: batch.packet(this.#index++), done: false });
    }
    return this.#pull();
  }

  async #pull(): Promise<IteratorResult<Packet>> {
    while (!this.#done) {
      let batch: PacketBatch | null;
      try {
        batch = await this.#capture.nextBatch();
      } catch (error) {
        this.#finish();
        throw error;
      }
      if (batch === null) break;
      if (batch.count > 0) {
        this.#batch = batch;
        this.#index = 1;
        return { value: batch.packet(0), done: false };
      }
    }
    this.#finish();
    return { value: undefined, done: true };
  }

  return(): Promise<IteratorResult<Packet>> {
    this.#finish();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Packet> {
    return this;
  }

  #finish(): void {
    this.#done = true;
    this.#batch = null;
    this.#capture.close();
  }
}
