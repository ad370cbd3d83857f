/**
 * createCollector(): the PacketStreaming collector. Serves Run over gRPC;
 * each incoming stream is an async iterable of packets with its peer's
 * address, and can be written to pcap/pcapng by the shared writer (one
 * file per stream, or all streams into one). A malformed message, a packet
 * over maxCaplen, caplen not equal to the data's length, or a peer that
 * breaks off ends that stream alone with a typed error; the others go on.
 */
import type * as Grpc from '@grpc/grpc-js';
import fs from 'node:fs';
import path from 'node:path';
import { WirecapError } from '../core/errors';
import { Decoded, DEFAULT_PROTO_PACKAGE, GRPC_OPTIONS, packetStreamingService, StreamedPacket } from './protocol';
import { checkBoolean, checkInteger, checkKeys, checkObject, checkOneOf, checkString } from '../core/validate';
import { createWriter, Writer } from '../files/writer';

/** @grpc/grpc-js, loaded on first use: it costs every other wirecap user 11 MB of memory. */
function grpcJs(): typeof Grpc {
  return require('@grpc/grpc-js') as typeof Grpc;
}

export interface CollectorOptions {
  /** Port to listen on (default 0: one the system picks; see collector.port). */
  port?: number;
  /** Address to listen on (default '0.0.0.0'). */
  host?: string;
  /** PEM files: the server's certificate and key; with ca, clients must present a certificate it signed. */
  tls?: { cert: string; key: string; ca?: string };
  /** The proto package of the PacketStreaming service (default 'wirecap.streaming'). */
  protoPackage?: string;
  /** Longest packet accepted, in bytes (default 262144); longer ones end their stream with EMSGSIZE. */
  maxCaplen?: number;
  /** Writes the packets: to path, or with perStream to <name>_<stream id><.ext> for each stream. */
  write?: { path: string; format?: 'pcap' | 'pcapng'; perStream?: boolean; linktype?: number | string };
  /** Where per-stream errors are reported (default: console.error). */
  log?: (message: string) => void;
}

export interface StreamSummary {
  id: number;
  peer: string;
  packets: number;
  /** Why the stream ended early: EPROTO, EMSGSIZE, ECONNRESET. */
  error?: WirecapError;
}

/** Packets a stream holds for an iterator that lags, before the collector stops reading it (gRPC flow control then reaches the sender). */
const STREAM_QUEUE = 1024;
/** Summaries kept of the streams that ended: the latest only, since a collector may run for millions of streams. */
export const SUMMARIES_KEPT = 1000;

/** One Run call: its packets, in order, as they arrive. */
export class IncomingStream implements AsyncIterable<StreamedPacket> {
  readonly id: number;
  /** The peer's address as gRPC reports it, e.g. 'ipv4:127.0.0.1:50312'. */
  readonly peer: string;
  /** Settles once the stream ended, with its summary (never rejects). */
  readonly done: Promise<StreamSummary>;
  #queue: StreamedPacket[] | null;
  #ended = false;
  #error: WirecapError | undefined;
  #wakeReader: (() => void) | null = null;
  #wakeWriter: (() => void) | null = null;
  #resolve!: (summary: StreamSummary) => void;
  packets = 0;

  /** @internal */
  constructor(id: number, peer: string, queued: boolean) {
    this.id = id;
    this.peer = peer;
    this.#queue = queued ? [] : null;
    this.done = new Promise((resolve) => (this.#resolve = resolve));
  }

  /** @internal waits while an iterator lags */
  async push(packet: StreamedPacket): Promise<void> {
    this.packets++;
    if (this.#queue === null) return;
    this.#queue.push(packet);
    this.#wake();
    while (this.#queue.length >= STREAM_QUEUE && !this.#ended) await new Promise<void>((r) => (this.#wakeWriter = r));
  }

  /** @internal */
  end(error?: WirecapError): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    this.#wake();
    this.#wakeWriter?.();
    this.#resolve({ id: this.id, peer: this.peer, packets: this.packets, ...(error ? { error } : {}) });
  }

  #wake(): void {
    const w = this.#wakeReader;
    this.#wakeReader = null;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<StreamedPacket> {
    if (this.#queue === null) throw new WirecapError('iterate collector.streams() to read streams as they arrive', 'EINVAL');
    for (;;) {
      const next = this.#queue.shift();
      if (next !== undefined) {
        const w = this.#wakeWriter;
        this.#wakeWriter = null;
        w?.();
        yield next;
        continue;
      }
      if (this.#ended) {
        if (this.#error) throw this.#error;
        return;
      }
      await new Promise<void>((r) => (this.#wakeReader = r));
    }
  }
}

export class Collector {
  /** The port it listens on. */
  readonly port: number;
  #server: Grpc.Server;
  #writers: Writer[];
  #listening: ((stream: IncomingStream) => void) | null = null;
  #pending: IncomingStream[] = [];
  #closed = false;
  #summaries: StreamSummary[] = [];
  #ended = { streams: 0, packets: 0 };
  #active = new Set<Promise<unknown>>();
  #failWrite!: (error: WirecapError) => void;
  /** Resolves if writing fails: for write.path '-', EPIPE when the reader of standard output went away. */
  readonly writeFailed = new Promise<WirecapError>((resolve) => (this.#failWrite = resolve));

  /** @internal use createCollector() */
  constructor(server: Grpc.Server, port: number, writers: Writer[]) {
    this.#server = server;
    this.port = port;
    this.#writers = writers;
  }

  /** The last 1000 streams that ended (SUMMARIES_KEPT), oldest first, with their packet counts and errors. */
  summaries(): StreamSummary[] {
    return [...this.#summaries];
  }

  /** Every stream that ended so far, and their packets. */
  ended(): { streams: number; packets: number } {
    return { ...this.#ended };
  }

  /** Streams as they arrive; each must be iterated (it holds up to 1024 packets, then its sender waits). */
  async *streams(): AsyncIterableIterator<IncomingStream> {
    for (;;) {
      const next = this.#pending.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (this.#closed) return;
      const stream = await new Promise<IncomingStream | null>((resolve) => (this.#listening = resolve));
      if (stream === null) return;
      yield stream;
    }
  }

  /** @internal */
  failWrite(error: WirecapError): void {
    this.#failWrite(error);
  }

  /** @internal */
  get queued(): boolean {
    return this.#listening !== null || this.#pending.length > 0;
  }

  /** @internal */
  arrived(stream: IncomingStream, done: Promise<unknown>): void {
    const listener = this.#listening;
    this.#listening = null;
    if (listener) listener(stream);
    else if (this.queued) this.#pending.push(stream);
    this.#active.add(done);
    void done.then(() => this.#active.delete(done));
    void stream.done.then((summary) => {
      this.#ended.streams++;
      this.#ended.packets += summary.packets;
      if (this.#summaries.push(summary) > SUMMARIES_KEPT) this.#summaries.shift();
    });
  }

  /** Stops accepting streams, lets the open ones finish for up to graceMs, then closes the files. */
  async close(graceMs = 5000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listening?.(null as unknown as IncomingStream);
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.#server.forceShutdown();
        resolve();
      }, graceMs);
      this.#server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
    await Promise.all(this.#active);
    for (const w of this.#writers) w.close();
  }
}

/** Starts a collector; resolves once it listens. */
export async function createCollector(options?: CollectorOptions): Promise<Collector> {
  const o = checkObject(options, 'options');
  checkKeys(o, ['port', 'host', 'tls', 'protoPackage', 'maxCaplen', 'write', 'log'], 'createCollector');
  const port = o.port === undefined ? 0 : checkInteger(o.port, 'port', 0, 65535);
  const host = o.host === undefined ? '0.0.0.0' : checkString(o.host, 'host');
  const maxCaplen = o.maxCaplen === undefined ? 262144 : checkInteger(o.maxCaplen, 'maxCaplen', 1, 1 << 30);
  const log = o.log === undefined ? (m: string) => console.error(m) : (o.log as (m: string) => void);
  const service = packetStreamingService(o.protoPackage === undefined ? DEFAULT_PROTO_PACKAGE : checkString(o.protoPackage, 'protoPackage'));
  const write = o.write === undefined ? null : checkObject(o.write, 'write');
  if (write) checkKeys(write, ['path', 'format', 'perStream', 'linktype'], 'write');
  const writerOptions = write && {
    format: write.format === undefined ? ('pcap' as const) : checkOneOf(write.format, 'write.format', ['pcap', 'pcapng'] as const),
    linktype: (write.linktype as number | string | undefined) ?? 'EN10MB',
    snaplen: maxCaplen,
    precision: 'micro' as const, // the protocol carries microseconds
  };
  const writePath = write ? checkString(write.path, 'write.path') : '';
  const perStream = write?.perStream === undefined ? false : checkBoolean(write.perStream, 'write.perStream');
  const writers: Writer[] = [];
  const merged = write && !perStream ? createWriter(writePath, writerOptions!) : null;
  if (merged) writers.push(merged);
  // Standard output is flushed once per turn of the event loop that wrote, so a pipe's reader sees packets at once.
  let flushing = false;
  const flushSoon = (): void => {
    if (writePath !== '-' || merged === null || flushing) return;
    flushing = true;
    setImmediate(() => {
      flushing = false;
      try {
        merged.flush();
      } catch (error) {
        collector?.failWrite(error as WirecapError);
      }
    });
  };

  const grpc = grpcJs();
  const server = new grpc.Server(GRPC_OPTIONS);
  let collector: Collector | null = null;
  let nextId = 1;
  server.addService(service, {
    Run: (call: Grpc.ServerReadableStream<Decoded, unknown>, callback: Grpc.sendUnaryData<unknown>) => {
      const id = nextId++;
      const peer = call.getPeer();
      const stream = new IncomingStream(id, peer, collector?.queued ?? false);
      let writer = merged;
      if (write && perStream) {
        const { dir, name, ext } = path.parse(writePath);
        writer = createWriter(path.join(dir, `${name}_${id}${ext}`), writerOptions!);
        writers.push(writer);
      }
      let cancelled = false;
      call.on('cancelled', () => {
        cancelled = true;
        // A push() waiting for an iterator that lags must not hold close() up.
        stream.end(new WirecapError(`stream ${id} from ${peer} broke off`, 'ECONNRESET'));
      });
      const done = (async () => {
        try {
          for await (const message of call as AsyncIterable<Decoded>) {
            if ('malformed' in message) throw new WirecapError(`stream ${id} from ${peer}: malformed Packet: ${message.malformed}`, 'EPROTO');
            if (message.caplen > maxCaplen) {
              throw new WirecapError(`stream ${id} from ${peer}: a packet of ${message.caplen} bytes is over maxCaplen ${maxCaplen}`, 'EMSGSIZE');
            }
            writer?.write(message);
            flushSoon();
            await stream.push(message);
          }
          // A peer that breaks off ends the messages first; the cancellation follows.
          await new Promise((resolve) => setImmediate(resolve));
          if (cancelled || call.cancelled) throw new WirecapError(`stream ${id} from ${peer} broke off`, 'ECONNRESET');
          stream.end();
          callback(null, {});
        } catch (e) {
          const error = e instanceof WirecapError ? e : new WirecapError(`stream ${id} from ${peer} broke off: ${(e as Error).message}`, 'ECONNRESET');
          log(`wirecap collector: ${error.message} (after ${stream.packets} packets)`);
          stream.end(error);
          const code = error.code === 'EPROTO' || error.code === 'EMSGSIZE' ? grpc.status.INVALID_ARGUMENT : grpc.status.CANCELLED;
          callback({ code, details: error.message });
        }
      })();
      collector?.arrived(stream, done);
    },
  });
  const credentials = o.tls === undefined ? grpc.ServerCredentials.createInsecure() : serverCredentials(o.tls);
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, credentials, (error, p) =>
      error ? reject(new WirecapError(`cannot listen on ${host}:${port}: ${error.message}`, 'EINVAL')) : resolve(p),
    ),
  );
  collector = new Collector(server, bound, writers);
  return collector;
}

function serverCredentials(tls: unknown): Grpc.ServerCredentials {
  const grpc = grpcJs();
  const t = checkObject(tls, 'tls');
  checkKeys(t, ['cert', 'key', 'ca'], 'tls');
  const read = (name: string): Buffer => fs.readFileSync(checkString(t[name], `tls.${name}`));
  const ca = t.ca === undefined ? null : read('ca');
  return grpc.ServerCredentials.createSsl(ca, [{ cert_chain: read('cert'), private_key: read('key') }], ca !== null);
}
