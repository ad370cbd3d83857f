/**
 * replay(): packets put back on the wire, as tcpreplay does. The source is
 * read ahead in chunks here and handed to the native replay thread
 * (src-native/replay/), which paces and sends them on its own handle.
 */
import { binding, NativeReplayStats, ReplayHandle } from '../core/binding';
import { AbortError, WirecapError } from '../core/errors';
import { checkBoolean, checkFilter, checkInteger, checkKeys, checkObject, checkOneOf, checkSignal, checkString } from '../core/validate';
import { toNanoseconds } from '../core/time';
import { openOffline } from '../files/offline';
import { Chunk, chunksOf, isPaths, ReplaySource, SourcePlan } from './source';

export interface ReplayOptions {
  /** The original timing scaled: 2 plays twice as fast (default 1). */
  speed?: number;
  /** A fixed rate in packets per second instead. */
  pps?: number;
  /** A fixed rate in megabits per second (10^6) of frame bytes instead. */
  mbps?: number;
  /** As fast as the device takes them. */
  topspeed?: boolean;
  /** Passes over the files (default 1; 0: until stopped). Files only. */
  loop?: number;
  /** Stop after this many packets sent. */
  maxPackets?: number;
  /** Stop after this long, from the first packet. */
  durationMs?: number;
  /** A BPF filter on the source: only its matches are sent. */
  filter?: string;
  /** Files only: replay the packets at or after start and before end (bigint ns, number ms since the epoch, or Date). */
  start?: bigint | number | Date;
  end?: bigint | number | Date;
  /** Send packets whose link type is not the device's (default false: EINVAL). */
  force?: boolean;
  /** A frame longer than the device's MTU allows: 'skip' counts it in oversize (default), 'error' ends the replay with EMSGSIZE. */
  oversize?: 'skip' | 'error';
  /** The packets' LINKTYPE_ value when the source does not say (packets and PacketBatches of an iterable); default the device's. */
  linktype?: number;
  /** Read-ahead bound in bytes (default 4 MiB). */
  queueBytes?: number;
  /** A packet sent more than this many microseconds after its time counts as late (default 100). */
  lateUs?: number;
  /**
   * Paced modes on Linux and macOS: run the replay thread in the lowest
   * real-time class (SCHED_FIFO 1), so that no ordinary thread delays its
   * wake-ups (default true; needs root or CAP_SYS_NICE, else it runs as any
   * thread). stats().realtime says whether it did.
   */
  realtime?: boolean;
  /** Windows: use Npcap's send queues where the library has them (default true). */
  sendQueue?: boolean;
  /** Aborting stops the replay; done then rejects with an AbortError. */
  signal?: AbortSignal;
}

/** How the packets went out: the driver's send queues, pcap_inject, or pcap_sendpacket. */
export type ReplayMode = 'sendqueue' | 'inject' | 'sendpacket';
export type ReplayEndReason = 'end' | 'maxPackets' | 'duration' | 'stopped';

/** A replay's counts: the native ones (NativeReplayStats), with pushed named taken, the thread's own left out. */
export type ReplayStats = Omit<NativeReplayStats, 'pushed' | 'spinMarginNs' | 'queuedBytes' | 'reason' | 'error'> & {
  /** Packets taken from the source: sent + failed + oversize + filtered + unsent, once ended. */
  taken: number;
};

export interface ReplayResult extends ReplayStats {
  mode: ReplayMode;
  reason: ReplayEndReason;
}

export const REPLAY_KEYS = ['speed', 'pps', 'mbps', 'topspeed', 'loop', 'maxPackets', 'durationMs', 'filter', 'start', 'end', 'force', 'oversize', 'linktype', 'queueBytes', 'lateUs', 'realtime', 'sendQueue', 'signal'] as const;

function positive(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new WirecapError(`${name} must be a positive number, got ${String(value)}`, 'EINVAL');
  return value;
}

/** The pacing the options ask for: one of speed, pps, mbps, topspeed. */
function pacing(o: Record<string, unknown>): { pacing: 'speed' | 'pps' | 'bps' | 'top'; rate: number } {
  const given = ['speed', 'pps', 'mbps', 'topspeed'].filter((k) => o[k] !== undefined && o[k] !== false);
  if (given.length > 1) throw new WirecapError(`give one of speed, pps, mbps and topspeed, not ${given.join(' and ')}`, 'EINVAL');
  if (o.topspeed !== undefined) checkBoolean(o.topspeed, 'topspeed');
  if (o.topspeed === true) return { pacing: 'top', rate: 0 };
  if (o.pps !== undefined) return { pacing: 'pps', rate: positive(o.pps, 'pps') };
  if (o.mbps !== undefined) return { pacing: 'bps', rate: positive(o.mbps, 'mbps') * 1e6 };
  return { pacing: 'speed', rate: o.speed === undefined ? 1 : positive(o.speed, 'speed') };
}

function linktypeText(name: string | null, value: number): string {
  return name === null ? String(value) : `${name} (${value})`;
}

/** A replay under way; see replay(). */
export class Replay {
  readonly device: string;
  readonly mode: ReplayMode;
  /** The device's link type and MTU (0: unknown). */
  readonly linktype: number;
  readonly linktypeName: string | null;
  readonly mtu: number;
  /** Resolves when the replay ended (the source's end, a limit, stop()); rejects with its error, whose message gives the counts so far. */
  readonly done: Promise<ReplayResult>;

  #native: ReplayHandle;
  #force: boolean;
  #signal: AbortSignal | undefined;
  #aborted: { reason: unknown } | null = null;
  #sourceError: Error | null = null;
  #finished = false;
  #wake: (() => void) | null = null;
  #final: NativeReplayStats | null = null;
  #settle!: { resolve: (r: ReplayResult) => void; reject: (e: unknown) => void };
  #chunks: AsyncGenerator<Chunk>;
  #onAbort = (): void => {
    this.#aborted = { reason: this.#signal?.reason };
    this.stop();
  };

  /** @internal use replay() */
  constructor(source: ReplaySource, device: string, native: Record<string, unknown>, plan: SourcePlan, force: boolean, signal: AbortSignal | undefined) {
    this.device = device;
    this.#force = force;
    this.done = new Promise((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    this.#chunks = chunksOf(source, plan);
    this.#native = new binding.ReplayHandle(native, (event) => (event === 'done' ? this.#onDone() : this.#wakeFeeder()));
    const info = this.#native.info();
    this.mode = info.mode;
    this.linktype = info.linktype;
    this.linktypeName = info.linktypeName;
    this.mtu = info.mtu;
    this.#signal = signal;
    signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** @internal starts reading the source ahead into the replay thread. */
  start(): void {
    void this.#feed(this.#chunks);
  }

  /** Counts so far; after the end, the final ones. */
  stats(): ReplayStats {
    // The thread's own figures and the end (reason, error) stay out: done reports those.
    const { pushed, spinMarginNs, queuedBytes, reason, error, ...counts } = this.#final ?? this.#native.stats();
    return { taken: pushed, ...counts };
  }

  /** Ends the replay soon (within a packet, or 20 ms of a sleep); done resolves with reason 'stopped'. */
  stop(): void {
    if (!this.#finished) this.#native.stop();
  }

  /** @internal refuses a link type the device does not carry, unless forced. */
  checkLinktype(linktype: number | undefined): void {
    if (linktype === undefined || linktype === this.linktype || this.#force) return;
    throw new WirecapError(
      `${this.device} carries ${linktypeText(this.linktypeName, this.linktype)} frames; the source's are of link type ${linktype}. Convert them, or pass force: true to send them as they are`,
      'EINVAL',
    );
  }

  async #feed(chunks: AsyncGenerator<Chunk>): Promise<void> {
    try {
      for await (const c of chunks) {
        if (this.#finished) break;
        this.checkLinktype(c.linktype);
        const room = this.#native.push(c.data, c.timestamps, c.caplens, c.offsets, c.count, c.linktype ?? this.linktype, c.restart);
        if (!room && !this.#finished) {
          await new Promise<void>((resolve) => {
            this.#wake = resolve;
          });
        }
      }
    } catch (error) {
      this.#sourceError = error as Error;
    } finally {
      if (!this.#finished) this.#native.end();
    }
  }

  #wakeFeeder(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  #onDone(): void {
    this.#finished = true;
    this.#final = this.#native.stats();
    this.#native.close();
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#wakeFeeder();
    const final = this.#final;
    const stats = this.stats();
    const counts = `${stats.sent} packets (${stats.bytes} bytes) sent`;
    if (final.error !== undefined) {
      this.#settle.reject(final.error);
    } else if (this.#aborted !== null) {
      this.#settle.reject(new AbortError(this.#aborted.reason));
    } else if (this.#sourceError !== null) {
      const e = this.#sourceError;
      if (e instanceof WirecapError) e.message = `${e.message} (after ${counts})`;
      this.#settle.reject(e);
    } else {
      this.#settle.resolve({ ...stats, mode: this.mode, reason: final.reason as ReplayEndReason });
    }
  }
}

/**
 * Replays source onto device: its packets at their original pace scaled by
 * speed (default), at a fixed rate (pps, mbps), or as fast as the device
 * takes them (topspeed), on a native thread. Throws ENODEV, EPERM (naming
 * the fix), EINVAL (options; a file whose link type the device does not
 * carry, unless force), EFILTER, ENOENT/EBADFORMAT (files). The result's
 * done resolves with the counts and the mode that ran, or rejects with
 * ENETDOWN (the device went away), EMSGSIZE (oversize: 'error'),
 * ETRUNCATED (a file ending inside a record, after every whole packet was
 * sent), or the source's own error, each with the counts so far.
 */
export function replay(source: ReplaySource, device: string, options?: ReplayOptions): Replay {
  checkString(device, 'device');
  const o = checkObject(options, 'options');
  checkKeys(o, REPLAY_KEYS, 'replay');
  const signal = checkSignal(o.signal);
  const plan: SourcePlan = {
    loops: o.loop === undefined ? 1 : checkInteger(o.loop, 'loop', 0, 2 ** 31),
    start: o.start === undefined ? null : toNanoseconds(o.start as bigint, 'start'),
    end: o.end === undefined ? null : toNanoseconds(o.end as bigint, 'end'),
    linktype: o.linktype === undefined ? undefined : checkInteger(o.linktype, 'linktype', 0, 65535),
  };
  const force = o.force === undefined ? false : checkBoolean(o.force, 'force');
  const native: Record<string, unknown> = {
    device,
    ...pacing(o),
    maxPackets: o.maxPackets === undefined ? 0 : checkInteger(o.maxPackets, 'maxPackets', 1, Number.MAX_SAFE_INTEGER),
    durationMs: o.durationMs === undefined ? 0 : checkInteger(o.durationMs, 'durationMs', 1, 2 ** 40),
    queueBytes: o.queueBytes === undefined ? 4 * 2 ** 20 : checkInteger(o.queueBytes, 'queueBytes', 65536, 2 ** 40),
    lateUs: o.lateUs === undefined ? 100 : checkInteger(o.lateUs, 'lateUs', 0, 2 ** 31),
    oversize: o.oversize === undefined ? 'skip' : checkOneOf(o.oversize, 'oversize', ['skip', 'error'] as const),
    noSendQueue: o.sendQueue === undefined ? false : !checkBoolean(o.sendQueue, 'sendQueue'),
    realtime: o.realtime === undefined ? true : checkBoolean(o.realtime, 'realtime'),
  };
  if (o.filter !== undefined && o.filter !== '') native.filter = checkFilter(o.filter);
  // Files are checked before anything is sent: they open, and their link type and filter fit.
  let fileLinktype: number | undefined;
  if (isPaths(source)) {
    for (const path of typeof source === 'string' ? [source] : source) {
      const file = openOffline(path);
      fileLinktype ??= file.linktype;
      file.close();
      if (native.filter !== undefined) binding.compileFilter(native.filter as string, file.linktype, 262144);
    }
  }
  if (signal?.aborted) throw new AbortError(signal.reason);
  const r = new Replay(source, device, native, plan, force, signal);
  try {
    r.checkLinktype(fileLinktype);
  } catch (error) {
    r.stop();
    void r.done.catch(() => undefined);
    throw error;
  }
  r.start();
  return r;
}
