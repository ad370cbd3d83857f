/**
 * What replay() reads: capture files (by path, looped, cut to a time
 * window), a Capture or CaptureFile, a JetStream PacketConsumer, or any
 * iterable or async iterable of packets or batches. Each becomes chunks of
 * packets in the form the native handle copies from: one buffer, the
 * packets' offsets in it, their timestamps and lengths.
 */
import { Packet, PacketBatch } from '../capture/batch';
import { Capture } from '../capture/capture';
import { WirecapError } from '../core/errors';
import { openOffline } from '../files/offline';

/** A batch of packets from a JetStream consumer (or any source that groups packets with their link type). */
export interface PacketGroup {
  packets: readonly Packet[] | readonly { timestamp: bigint; data: Uint8Array }[];
  linktype?: number;
}

/** One item of an iterable source: a packet, a PacketBatch, or a group of packets (a NatsBatch). */
export type ReplayItem = { timestamp: bigint; data: Uint8Array } | PacketBatch | PacketGroup;

export type ReplaySource =
  | string
  | readonly string[]
  | Capture
  | { batches(): AsyncIterable<PacketGroup> }
  | AsyncIterable<ReplayItem>
  | Iterable<ReplayItem>;

/** Packets as ReplayHandle.push() takes them. */
export interface Chunk {
  data: Buffer;
  timestamps: BigInt64Array;
  caplens: Uint32Array;
  offsets: Uint32Array;
  count: number;
  /** The packets' LINKTYPE_ value; undefined: the source does not say. */
  linktype: number | undefined;
  /** The first packet starts a pass over the source again (a loop, the next file). */
  restart: boolean;
}

export interface SourcePlan {
  /** Files only: how many passes (0: until stopped), and the [start, end) window. */
  loops: number;
  start: bigint | null;
  end: bigint | null;
  /** The link type of a source that does not say (options.linktype). */
  linktype: number | undefined;
}

/** Packets from an iterable are sent on in chunks of this many, or of CHUNK_BYTES. */
const CHUNK_PACKETS = 512;
const CHUNK_BYTES = 256 * 1024;

/** Whether source is capture files given by path. */
export function isPaths(source: unknown): source is string | readonly string[] {
  return typeof source === 'string' || (Array.isArray(source) && source.length > 0 && source.every((s) => typeof s === 'string'));
}

function batchChunk(batch: PacketBatch, linktype: number | undefined, restart: boolean, count = batch.count): Chunk {
  return { data: batch.data, timestamps: batch.timestamps, caplens: batch.caplens, offsets: batch.offsets, count, linktype, restart };
}

/** The files' packets, pass after pass, each file a pass of its own. */
async function* fileChunks(paths: readonly string[], plan: SourcePlan): AsyncGenerator<Chunk> {
  for (let pass = 0; plan.loops === 0 || pass < plan.loops; pass++) {
    for (const path of paths) {
      const file = openOffline(path, { singleLinktype: true, ...(plan.start === null ? {} : { seek: { time: plan.start } }) });
      let restart = true;
      try {
        for await (const batch of file.batches()) {
          let count = batch.count;
          if (plan.end !== null) {
            const cut = batch.timestamps.findIndex((t) => t >= (plan.end as bigint));
            if (cut >= 0) count = cut;
          }
          if (count > 0) yield batchChunk(batch, file.linktype, restart, count);
          restart = false;
          if (count < batch.count) break;
        }
      } finally {
        file.close();
      }
    }
  }
}

/** Packets gathered into chunks: one buffer of their bytes back to back. */
class ChunkBuilder {
  #parts: Uint8Array[] = [];
  #timestamps: bigint[] = [];
  #bytes = 0;
  #linktype: number | undefined;

  get count(): number {
    return this.#parts.length;
  }

  get full(): boolean {
    return this.#parts.length >= CHUNK_PACKETS || this.#bytes >= CHUNK_BYTES;
  }

  add(timestamp: bigint, data: Uint8Array, linktype: number | undefined): Chunk | null {
    // A group of another link type goes in a chunk of its own.
    const other = this.#parts.length > 0 && linktype !== this.#linktype ? this.take() : null;
    this.#linktype = linktype;
    this.#parts.push(data);
    this.#timestamps.push(timestamp);
    this.#bytes += data.length;
    return other;
  }

  take(): Chunk | null {
    const count = this.#parts.length;
    if (count === 0) return null;
    const caplens = new Uint32Array(count);
    const offsets = new Uint32Array(count);
    let at = 0;
    for (let i = 0; i < count; i++) {
      offsets[i] = at;
      caplens[i] = this.#parts[i].length;
      at += caplens[i];
    }
    const chunk: Chunk = {
      data: Buffer.concat(this.#parts, at),
      timestamps: BigInt64Array.from(this.#timestamps),
      caplens,
      offsets,
      count,
      linktype: this.#linktype,
      restart: false,
    };
    this.#parts = [];
    this.#timestamps = [];
    this.#bytes = 0;
    return chunk;
  }
}

function checkPacket(p: unknown, index: number): { timestamp: bigint; data: Uint8Array } {
  const packet = p as { timestamp?: unknown; data?: unknown };
  if (packet === null || typeof packet !== 'object' || typeof packet.timestamp !== 'bigint' || !(packet.data instanceof Uint8Array)) {
    throw new WirecapError(`the source's item ${index} is not a packet ({ timestamp: bigint, data: Uint8Array }), a PacketBatch or a group of packets`, 'EINVAL');
  }
  return packet as { timestamp: bigint; data: Uint8Array };
}

const WAITING = Symbol('waiting');

/**
 * The items of an iterable source, as chunks. Packets are gathered until a
 * chunk is full, or until an async source makes the loop wait (then what is
 * gathered goes at once: a slow source is not held back). A group (a NatsBatch)
 * ends a chunk.
 */
async function* itemChunks(items: AsyncIterable<unknown> | Iterable<unknown>, linktype: number | undefined): AsyncGenerator<Chunk> {
  const builder = new ChunkBuilder();
  const sync = typeof (items as Iterable<unknown>)[Symbol.iterator] === 'function';
  const it = sync ? (items as Iterable<unknown>)[Symbol.iterator]() : (items as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (let index = 0; ; index++) {
      const next = it.next();
      let result: IteratorResult<unknown>;
      if (!sync && builder.count > 0) {
        const first = await Promise.race([next, new Promise<typeof WAITING>((resolve) => setImmediate(() => resolve(WAITING)))]);
        if (first === WAITING) {
          yield builder.take() as Chunk;
          result = await next;
        } else {
          result = first;
        }
      } else {
        result = await next;
      }
      if (result.done) break;
      const item = result.value;
      if (item instanceof PacketBatch) {
        const pending = builder.take();
        if (pending !== null) yield pending;
        yield batchChunk(item, linktype, false);
        continue;
      }
      const group = item !== null && typeof item === 'object' && Array.isArray((item as PacketGroup).packets) ? (item as PacketGroup) : null;
      for (const p of group === null ? [item] : group.packets) {
        const packet = checkPacket(p, index);
        const other = builder.add(packet.timestamp, packet.data, group?.linktype ?? linktype);
        if (other !== null) yield other;
      }
      if (builder.full || group !== null) yield builder.take() as Chunk;
    }
    finished = true;
    const last = builder.take();
    if (last !== null) yield last;
  } finally {
    if (!finished) await it.return?.();
  }
}

/** The source's packets as chunks; loops and a time window only for files. */
export function chunksOf(source: ReplaySource, plan: SourcePlan): AsyncGenerator<Chunk> {
  if (isPaths(source)) return fileChunks(typeof source === 'string' ? [source] : source, plan);
  if (plan.loops !== 1 || plan.start !== null || plan.end !== null) {
    throw new WirecapError('loop, start and end need capture files (paths): another source cannot be read again or seeked', 'EINVAL');
  }
  if (source instanceof Capture) {
    return itemChunks(source.batches(), source.linktype);
  }
  const s = source as { batches?: unknown; [Symbol.asyncIterator]?: unknown; [Symbol.iterator]?: unknown };
  if (typeof s.batches === 'function') return itemChunks((s.batches as () => AsyncIterable<unknown>).call(source), plan.linktype);
  if (typeof s[Symbol.asyncIterator] === 'function' || typeof s[Symbol.iterator] === 'function') {
    return itemChunks(source as AsyncIterable<unknown>, plan.linktype);
  }
  throw new WirecapError('source must be a file path, paths, a Capture, a PacketConsumer, or an (async) iterable of packets', 'EINVAL');
}
