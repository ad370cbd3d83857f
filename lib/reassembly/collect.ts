/**
 * tcpStreams(): each TCP connection's two byte streams, whole, as the
 * connection ends: the for-await form of the StreamHandler interface.
 *
 *   for await (const c of tcpStreams(openOffline('x.pcap'))) console.log(c.flow.key, c.client.data.length, c.server.data.length);
 *
 * Readable.from(tcpStreams(...)) gives the same as a Node object stream.
 * Each direction keeps at most maxBytes (the rest is counted in `dropped`),
 * so memory stays bounded by maxBytes times the connections open at once.
 */
import { feed, type FlowSource, type TrackOptions } from '../flows/source';
import { FlowTracker } from '../flows/tracker';
import type { Direction, Flow } from '../flows/types';

export interface StreamGap {
  /** Offset in the direction's stream where bytes are missing, and how many. */
  offset: number;
  length: number;
  /** Where in `data` the gap falls (the bytes before and after it are not contiguous). */
  at: number;
}

export interface DirectionBytes {
  /** The bytes delivered, in order, gaps left out (see gaps). */
  data: Buffer;
  gaps: StreamGap[];
  /** Differing overlapping bytes (first copy kept). */
  overlapConflicts: number;
  /** Bytes past maxBytes, not kept. */
  dropped: number;
}

export interface TcpStream {
  flow: Flow;
  client: DirectionBytes;
  server: DirectionBytes;
}

export interface TcpStreamsOptions extends Omit<TrackOptions, 'streams' | 'tracker'> {
  /** Bytes kept per direction (default 16 MiB). */
  maxBytes?: number;
}

class Collected {
  chunks: Buffer[] = [];
  kept = 0;
  gaps: StreamGap[] = [];
  overlapConflicts = 0;
  dropped = 0;
  constructor(readonly max: number) {}

  add(bytes: Buffer): void {
    const room = Math.max(0, this.max - this.kept);
    if (bytes.length > room) this.dropped += bytes.length - room;
    if (room === 0) return;
    const kept = Buffer.from(bytes.subarray(0, room));
    this.chunks.push(kept);
    this.kept += kept.length;
  }

  done(): DirectionBytes {
    return { data: Buffer.concat(this.chunks), gaps: this.gaps, overlapConflicts: this.overlapConflicts, dropped: this.dropped };
  }
}

export async function* tcpStreams(source: FlowSource, options: TcpStreamsOptions = {}): AsyncGenerator<TcpStream> {
  const { linktype, maxBytes = 16 << 20, ...rest } = options;
  const ended: TcpStream[] = [];
  const tracker = new FlowTracker({
    ...rest,
    streams(flow) {
      if (flow.key.protocol !== 6) return null;
      const sides: Record<Direction, Collected> = { client: new Collected(maxBytes), server: new Collected(maxBytes) };
      return {
        onData: (direction, bytes) => sides[direction].add(bytes),
        onGap: (direction, length, info) => void sides[direction].gaps.push({ offset: info.offset, length, at: sides[direction].kept }),
        onOverlap: (direction, length) => void (sides[direction].overlapConflicts += length),
        onEnd: (_reason, f) => void ended.push({ flow: f, client: sides.client.done(), server: sides.server.done() }),
      };
    },
  });
  for await (const _ of feed(source, tracker, linktype)) yield* ended.splice(0);
  yield* ended.splice(0);
}
