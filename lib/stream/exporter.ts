/**
 * streamPackets(): the PacketStreaming exporter. Packets from any wirecap
 * capture, file or async iterable go to a collector over gRPC client
 * streams, with gRPC flow control, a bounded buffer, reconnection, and
 * exact accounting.
 *
 * Accounting: packets are sent in segments, one Run call each; the
 * collector's Empty reply acknowledges a whole segment. Until then its
 * packets stay in the buffer, and a call that fails is retried with them on
 * a new call (so a collector that dies after reading part of a segment may
 * see that part twice: delivery is at least once). While no call works the
 * source keeps being read; what does not fit in the buffer is dropped and
 * counted. So sent + dropped = every packet the source gave.
 */
import type * as Grpc from '@grpc/grpc-js';
import fs from 'node:fs';
import { Packet } from '../capture/batch';
import { Capture } from '../capture/capture';
import { AbortError, WirecapError } from '../core/errors';
import { DEFAULT_PROTO_PACKAGE, encodePacket, GRPC_OPTIONS, packetStreamingService } from './protocol';
import { checkInteger, checkKeys, checkObject, checkSignal, checkString } from '../core/validate';

/** @grpc/grpc-js, loaded on first use: it costs every other wirecap user 11 MB of memory. */
function grpcJs(): typeof Grpc {
  return require('@grpc/grpc-js') as typeof Grpc;
}

export interface TlsFiles {
  /** PEM file of the CA that signed the collector's certificate (default: the system's roots). */
  ca?: string;
  /** PEM files of a client certificate and its key, for collectors that ask for one. */
  cert?: string;
  key?: string;
}

export interface StreamOptions {
  /** true or TLS files for a TLS channel; false (default) for plain HTTP/2. */
  tls?: boolean | TlsFiles;
  /** The proto package of the peer's PacketStreaming service (default 'wirecap.streaming'). */
  protoPackage?: string;
  /** Packets per Run call, acknowledged together (default 32768). */
  segmentPackets?: number;
  /** Packets held for (re)sending, sent or not yet acknowledged; beyond it, packets are dropped while no call works (default 65536). */
  bufferPackets?: number;
  /** Deadline of each Run call in milliseconds (default 60000). */
  deadlineMs?: number;
  /** Give up, rejecting done with ECONNREFUSED, after this long without an acknowledged call (default 60000). */
  outageLimitMs?: number;
  signal?: AbortSignal;
}

export interface StreamStats {
  /** Packets acknowledged by the collector. */
  sent: number;
  /** Packets dropped because the buffer was full while no call worked. */
  dropped: number;
  /** Calls that failed and were started again. */
  reconnects: number;
  /** Packets held now: unacknowledged or waiting. */
  buffered: number;
}

/** A running export. done resolves with the final stats once the source ended and every packet was acknowledged or dropped. */
export class PacketStream {
  readonly done: Promise<StreamStats>;
  #stats: StreamStats = { sent: 0, dropped: 0, reconnects: 0, buffered: 0 };
  #stop: (error: Error) => void = () => {};

  /** @internal use streamPackets() */
  constructor(run: (stats: StreamStats, setStop: (stop: (error: Error) => void) => void) => Promise<void>) {
    this.done = run(this.#stats, (stop) => {
      this.#stop = stop;
    }).then(() => this.stats());
  }

  stats(): StreamStats {
    return { ...this.#stats };
  }

  /** Stops sending; done rejects with an AbortError. */
  abort(): void {
    this.#stop(new AbortError());
  }
}

/** A segment waiting for more packets is closed (and acknowledged) after this long. */
const FLUSH_MS = 500;

/** Reads a capture, a file or any async iterable of packets, and streams it to target ('host:port'). */
export function streamPackets(target: string, source: AsyncIterable<Packet>, options?: StreamOptions): PacketStream {
  checkString(target, 'target');
  if (source === null || typeof (source as AsyncIterable<Packet>)?.[Symbol.asyncIterator] !== 'function') {
    throw new WirecapError('source must be an async iterable of packets (a capture, a file, or your own)', 'EINVAL');
  }
  const o = checkObject(options, 'options');
  checkKeys(o, ['tls', 'protoPackage', 'segmentPackets', 'bufferPackets', 'deadlineMs', 'outageLimitMs', 'signal'], 'streamPackets');
  const segment = o.segmentPackets === undefined ? 32768 : checkInteger(o.segmentPackets, 'segmentPackets', 1, 1 << 24);
  const limit = o.bufferPackets === undefined ? 65536 : checkInteger(o.bufferPackets, 'bufferPackets', segment, 1 << 26);
  const deadlineMs = o.deadlineMs === undefined ? 60000 : checkInteger(o.deadlineMs, 'deadlineMs', 1, 2 ** 31);
  const outageLimitMs = o.outageLimitMs === undefined ? 60000 : checkInteger(o.outageLimitMs, 'outageLimitMs', 1, 2 ** 31);
  const signal = checkSignal(o.signal);
  const service = packetStreamingService(o.protoPackage === undefined ? DEFAULT_PROTO_PACKAGE : checkString(o.protoPackage, 'protoPackage'));
  const grpc = grpcJs();
  const Client = grpc.makeGenericClientConstructor(service, 'PacketStreaming');
  const client = new Client(target, channelCredentials(o.tls as StreamOptions['tls']), GRPC_OPTIONS);

  return new PacketStream(async (stats, setStop) => {
    const held: Buffer[] = []; // encoded packets in source order, the oldest unacknowledged first
    let sourceDone = false;
    let sourceError: unknown = null;
    let failure: Error | null = null;
    let healthy = false; // a call is open and has not failed
    let wake: (() => void) | null = null;
    const poke = (): void => {
      const w = wake;
      wake = null;
      w?.();
    };
    const sleep = (ms: number): Promise<void> =>
      new Promise((resolve) => {
        const t = setTimeout(resolve, ms);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    setStop((error) => {
      failure ??= error;
      poke();
    });
    const onAbort = (): void => {
      failure ??= new AbortError(signal?.reason);
      poke();
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    // The reader: takes packets as long as there is room; without room it
    // waits while a call works (flow control reaches the source) and drops
    // during an outage (a live capture must keep being read).
    let room: (() => void) | null = null;
    const releaseRoom = (): void => {
      const r = room;
      room = null;
      r?.();
    };
    const reading = (async () => {
      try {
        for await (const packets of chunksOf(source)) {
          for (const p of packets) {
            if (failure !== null) return;
            while (held.length >= limit && healthy && failure === null) {
              await new Promise<void>((resolve) => (room = resolve));
            }
            if (held.length >= limit) {
              stats.dropped++;
              continue;
            }
            held.push(encodePacket(p.timestamp, p.len, p.data));
          }
          stats.buffered = held.length;
          poke();
        }
      } catch (error) {
        sourceError = error;
      } finally {
        sourceDone = true;
        poke();
      }
    })();

    let lastAck = Date.now();
    let backoff = 50;
    try {
      while (failure === null && !(sourceDone && held.length === 0)) {
        if (held.length === 0) {
          await sleep(1000);
          continue;
        }
        const result = await sendSegment();
        if (result instanceof Error) {
          healthy = false;
          releaseRoom();
          if (Date.now() - lastAck > outageLimitMs) {
            failure = new WirecapError(`no answer from ${target} for ${outageLimitMs} ms: ${result.message}`, 'ECONNREFUSED');
            break;
          }
          stats.reconnects++;
          await sleep(backoff);
          backoff = Math.min(backoff * 2, 2000);
          continue;
        }
        held.splice(0, result);
        stats.sent += result;
        stats.buffered = held.length;
        lastAck = Date.now();
        backoff = 50;
        releaseRoom();
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      healthy = false;
      releaseRoom();
      client.close();
    }
    // After a failure, a source that is waiting for its next packet is not
    // waited for: the reader stops at that packet.
    if (failure !== null) throw failure;
    await reading;
    if (sourceError !== null) throw sourceError;

    /** One Run call with the held packets, up to a segment: the count acknowledged, or the call's error. */
    function sendSegment(): Promise<number | Error> {
      return new Promise((resolve) => {
        let settled = false;
        const finish = (value: number | Error): void => {
          if (settled) return;
          settled = true;
          resolve(value);
        };
        let written = 0;
        const call = client.makeClientStreamRequest(
          service.Run.path,
          service.Run.requestSerialize,
          service.Run.responseDeserialize,
          new grpc.Metadata(),
          { deadline: Date.now() + deadlineMs },
          (error: Grpc.ServiceError | null) => finish(error ? new Error(`${grpc.status[error.code] ?? error.code}: ${error.details}`) : written),
        );
        healthy = true;
        let ended = false;
        const end = (): void => {
          if (!ended) call.end();
          ended = true;
        };
        let flush: NodeJS.Timeout | undefined;
        const pump = (): void => {
          clearTimeout(flush);
          if (settled || ended) return;
          while (written < segment && written < held.length && failure === null) {
            if (!call.write(held[written++])) {
              call.once('drain', pump);
              return;
            }
          }
          if (failure !== null) {
            call.cancel();
            return;
          }
          if (written === segment || (sourceDone && written === held.length)) {
            end();
            return;
          }
          // More packets, or the source's end, will come; a slow source
          // still gets what it sent acknowledged within FLUSH_MS.
          wake = pump;
          flush = setTimeout(end, FLUSH_MS);
        };
        pump();
      });
    }
  });
}

/**
 * The source's packets a batch at a time. A wirecap capture's batches go
 * round (recycle): every packet is copied into its message before the next
 * batch is asked for, so no garbage is left to collect.
 */
export async function* chunksOf(source: AsyncIterable<Packet>): AsyncGenerator<Iterable<Packet>, void, undefined> {
  if (source instanceof Capture) {
    yield* source.batches({ recycle: true });
    return;
  }
  for await (const p of source) yield [p];
}

function channelCredentials(tls: StreamOptions['tls']): Grpc.ChannelCredentials {
  const grpc = grpcJs();
  if (tls === undefined || tls === false) return grpc.credentials.createInsecure();
  if (tls === true) return grpc.credentials.createSsl();
  const files = checkObject(tls, 'tls');
  checkKeys(files, ['ca', 'cert', 'key'], 'tls');
  const read = (name: 'ca' | 'cert' | 'key'): Buffer | null => (files[name] === undefined ? null : fs.readFileSync(checkString(files[name], `tls.${name}`)));
  return grpc.credentials.createSsl(read('ca'), read('key'), read('cert'));
}
