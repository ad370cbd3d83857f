/**
 * publishPackets(): packets from a capture, a file or an async iterable into
 * a NATS JetStream stream, a batch of packets per message (framing.ts).
 *
 * Accounting: a message counts as sent once JetStream's PubAck for it came
 * back (a duplicate PubAck too: an earlier try was stored). At most
 * maxInFlight messages await their PubAck; the source is not read meanwhile,
 * so a file reader waits and a live capture's own queue fills and drops,
 * counted in its stats().consumerDropped, which is `dropped` here. A publish
 * that fails is retried with the same Nats-Msg-Id (the stream's
 * de-duplication turns a retry of a stored message into no copy), in order:
 * new messages wait until the failed ones are stored. So sent + dropped =
 * every packet the source captured, each stored once.
 */
import type * as Crypto from 'node:crypto';
import os from 'node:os';
import type * as Nats from 'nats';
import { PacketBatch, Packet } from '../capture/batch';
import { Capture } from '../capture/capture';
import { linktypeValue } from '../capture/devices';
import { AbortError, WirecapError } from '../core/errors';
import { checkInteger, checkKeys, checkObject, checkOneOf, checkSignal, checkString } from '../core/validate';
import { CaptureFile } from '../files/offline';
import { chunksOf } from '../stream/exporter';
import { checkConnect, connect, CONNECT_KEYS, NatsConnectOptions, natsJs, retrying } from './connection';
import { FORMAT, H, PayloadBuilder, RECORD_HEADER } from './framing';

export interface PublishOptions extends NatsConnectOptions {
  /** The subject the messages go to; a JetStream stream must take it. */
  subject: string;
  /** This sensor's name in the Wirecap-Sensor header (default: the host name). */
  sensor?: string;
  /** Packets per message at most (default 1024). */
  batchPackets?: number;
  /** Payload bytes per message at most (default 262144; never more than the server's max_payload allows). */
  batchBytes?: number;
  /** A message that is not full is sent after this long (default 100 ms), so a quiet capture's packets still go out. */
  lingerMs?: number;
  /** Messages awaiting their PubAck at most (default 16). */
  maxInFlight?: number;
  /** How long to wait for a PubAck before publishing again (default 5000 ms). */
  ackTimeoutMs?: number;
  /** For sources that are not wirecap captures: their link type (default 'EN10MB'), snaplen (default 262144) and timestamp precision (default 'nano'). */
  linktype?: number | string;
  snaplen?: number;
  precision?: 'micro' | 'nano';
  signal?: AbortSignal;
}

export interface PublishStats {
  /** Packets in messages JetStream acknowledged. */
  sent: number;
  /** Packets a live capture dropped while publishing held it up (its stats().consumerDropped). */
  dropped: number;
  /** Messages acknowledged. */
  messages: number;
  /** Publishes tried again after a failure or a missing PubAck. */
  retries: number;
  /** Times the client reconnected to a server. */
  reconnects: number;
  /** Messages awaiting their PubAck now. */
  inFlight: number;
}

/** A running publish. done resolves with the final stats once the source ended and every message was acknowledged. */
export class PacketPublisher {
  readonly done: Promise<PublishStats>;
  /** This run's id, in Wirecap-Run and every Nats-Msg-Id. */
  readonly run: string;
  #stats: PublishStats = { sent: 0, dropped: 0, messages: 0, retries: 0, reconnects: 0, inFlight: 0 };
  #abort = new AbortController();

  /** @internal use publishPackets() */
  constructor(run: string, body: (stats: PublishStats, aborted: AbortSignal) => Promise<void>) {
    this.run = run;
    this.done = body(this.#stats, this.#abort.signal).then(() => this.stats());
  }

  stats(): PublishStats {
    return { ...this.#stats };
  }

  /** Stops publishing; done rejects with an AbortError. */
  abort(): void {
    this.#abort.abort();
  }
}

/** Room kept in each message for its headers. */
const HEADER_ROOM = 1024;

/** Where the low and high halves of an int64 sit in a Uint32Array over it. */
const [LO, HI] = os.endianness() === 'LE' ? [0, 1] : [1, 0];

/**
 * For a pcap file whose records are little-endian: whether its fractions are
 * nanoseconds. null for any other source (its batches' bytes are only packet data).
 */
function recordsNano(capture: Capture | null): boolean | null {
  if (!(capture instanceof CaptureFile) || (capture.format !== 'pcap' && capture.format !== 'pcap-nsec')) return null;
  return capture.swapped === (os.endianness() === 'LE') ? null : capture.format === 'pcap-nsec';
}

/**
 * Whether the file's record header before data[at] says what the batch says
 * of the packet (not so when the reader cut it to the snaplen or swapped its
 * lengths), with a fraction below a second and seconds after 1970.
 */
function isRecord(data: DataView, at: number, caplen: number, len: number, nano: boolean): boolean {
  const h = at - RECORD_HEADER;
  return h >= 0 && data.getUint32(h + 8, true) === caplen && data.getUint32(h + 12, true) === len && data.getUint32(h + 4, true) < (nano ? 1e9 : 1e6) && data.getUint32(h, true) < 2 ** 31;
}

interface Outgoing {
  batch: number;
  payload: Uint8Array;
  packets: number;
  headers: Nats.MsgHdrs;
  /** Settles with null when stored, with the error otherwise. */
  result: Promise<Error | null>;
}

const PUBLISH_KEYS = [...CONNECT_KEYS, 'subject', 'sensor', 'batchPackets', 'batchBytes', 'lingerMs', 'maxInFlight', 'ackTimeoutMs', 'linktype', 'snaplen', 'precision', 'signal'];

/** Publishes the source's packets to JetStream until it ends; see PacketPublisher. */
export function publishPackets(source: AsyncIterable<Packet>, options: PublishOptions): PacketPublisher {
  if (source === null || typeof (source as AsyncIterable<Packet>)?.[Symbol.asyncIterator] !== 'function') {
    throw new WirecapError('source must be an async iterable of packets (a capture, a file, or your own)', 'EINVAL');
  }
  const o = checkObject(options, 'options');
  checkKeys(o, PUBLISH_KEYS, 'publishPackets');
  const conn = checkConnect(o);
  const subject = checkString(o.subject, 'subject');
  const sensor = o.sensor === undefined ? os.hostname() : checkString(o.sensor, 'sensor');
  const batchPackets = o.batchPackets === undefined ? 1024 : checkInteger(o.batchPackets, 'batchPackets', 1, 1 << 20);
  const batchBytes = o.batchBytes === undefined ? 262144 : checkInteger(o.batchBytes, 'batchBytes', 1, 64 << 20);
  const lingerMs = o.lingerMs === undefined ? 100 : checkInteger(o.lingerMs, 'lingerMs', 1, 2 ** 31);
  const maxInFlight = o.maxInFlight === undefined ? 16 : checkInteger(o.maxInFlight, 'maxInFlight', 1, 4096);
  const ackTimeoutMs = o.ackTimeoutMs === undefined ? 5000 : checkInteger(o.ackTimeoutMs, 'ackTimeoutMs', 1, 2 ** 31);
  const signal = checkSignal(o.signal);
  const capture = source instanceof Capture ? source : null;
  const linktype = capture?.linktype ?? (o.linktype === undefined ? 1 : linktypeValue(o.linktype as number | string));
  const snaplen = capture?.snaplen ?? (o.snaplen === undefined ? 262144 : checkInteger(o.snaplen, 'snaplen', 1, 2 ** 31 - 1));
  const precision = capture?.precision ?? (o.precision === undefined ? 'nano' : checkOneOf(o.precision, 'precision', ['micro', 'nano'] as const));
  // node:crypto on first publish: loading it costs every wirecap process about 4 MB.
  const { randomBytes } = require('node:crypto') as typeof Crypto;
  const run = `${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
  const nats = natsJs();

  return new PacketPublisher(run, async (stats, aborted) => {
    let failure: Error | null = null;
    // Settles on the first failure, so that a source waiting for its next packet is not waited for.
    let wakeOnFailure: (value: null) => void = () => {};
    const failed = new Promise<null>((resolve) => (wakeOnFailure = resolve));
    const fail = (error: Error): void => {
      failure ??= error;
      wakeOnFailure(null);
    };
    const onAbort = (): void => fail(new AbortError(signal?.reason));
    signal?.addEventListener('abort', onAbort, { once: true });
    aborted.addEventListener('abort', onAbort, { once: true });
    const nc = await connect(conn);
    try {
      const js = nc.jetstream();
      await retrying(conn, `subject ${subject}`, async () => {
        try {
          await (await nc.jetstreamManager()).streams.find(subject);
        } catch (error) {
          // The server's answer "no stream matches subject" is final; anything else is tried again.
          if (/no stream matches subject/i.test((error as Error).message)) {
            throw new WirecapError(`no JetStream stream takes subject ${subject} at ${conn.label}`, 'ENOENT');
          }
          throw error;
        }
      });
      void (async () => {
        for await (const s of nc.status()) if (s.type === 'reconnect') stats.reconnects++;
      })();

      const limit = nc.info!.max_payload - HEADER_ROOM;
      const room = Math.min(batchBytes, limit);
      const builder = new PayloadBuilder(room, precision === 'nano');
      const fileNano = recordsNano(capture);
      const inFlight: Outgoing[] = [];
      let batch = 0;
      let lastStored = Date.now();
      let firstAt = 0; // when the builder's oldest packet came
      let recovering = false; // failed messages are being published again: nothing new goes out

      // Counts a message as sent the moment its PubAck arrives (once: a message is published again only after a failure).
      const publish = (m: Outgoing): Promise<Error | null> =>
        js.publish(subject, m.payload, { msgID: m.headers.get('Nats-Msg-Id'), headers: m.headers, timeout: ackTimeoutMs }).then(
          () => {
            builder.recycle(m.payload);
            stats.sent += m.packets;
            stats.messages++;
            lastStored = Date.now();
            return null;
          },
          (error: Error) => error,
        );
      const seal = (): void => {
        if (builder.count === 0) return;
        const h = nats.headers();
        batch++;
        h.set('Nats-Msg-Id', `${sensor}/${run}/${batch}`);
        h.set(H.format, FORMAT);
        h.set(H.linktype, String(linktype));
        h.set(H.snaplen, String(snaplen));
        h.set(H.precision, precision);
        h.set(H.sensor, sensor);
        h.set(H.run, run);
        h.set(H.batch, String(batch));
        h.set(H.packets, String(builder.count));
        const packets = builder.count;
        const m: Outgoing = { batch, packets, payload: builder.take(), headers: h, result: Promise.resolve(null) };
        m.result = publish(m);
        inFlight.push(m);
        stats.inFlight = inFlight.length;
      };
      // Waits until fewer than `below` messages are in flight. A failure
      // stops everything behind it: the messages still in flight settle,
      // then the failed ones are published again one at a time, in order.
      const settle = async (below: number): Promise<void> => {
        while (inFlight.length >= below && failure === null) {
          const error = await inFlight[0].result;
          if (error === null) {
            inFlight.shift();
            stats.inFlight = inFlight.length;
            continue;
          }
          recovering = true;
          const results = await Promise.all(inFlight.map((m) => m.result));
          const retry = inFlight.filter((_, i) => results[i] !== null);
          inFlight.splice(0, inFlight.length, ...retry);
          stats.inFlight = inFlight.length;
          let backoff = 50;
          while (inFlight.length > 0 && failure === null) {
            const m = inFlight[0];
            if (Date.now() - lastStored > conn.outageLimitMs) {
              fail(new WirecapError(`JetStream at ${conn.label} stored nothing for ${conn.outageLimitMs} ms: ${(await m.result)?.message}`, 'ECONNREFUSED'));
              break;
            }
            await new Promise((resolve) => setTimeout(resolve, backoff));
            backoff = Math.min(backoff * 2, 1000);
            stats.retries++;
            m.result = publish(m);
            if ((await m.result) === null) {
              inFlight.shift();
              stats.inFlight = inFlight.length;
              backoff = 50;
            }
          }
          recovering = false;
        }
      };
      const linger = setInterval(() => {
        stats.dropped = capture?.stats().consumerDropped ?? 0;
        if (builder.count > 0 && !recovering && Date.now() - firstAt >= lingerMs && inFlight.length < maxInFlight) seal();
      }, Math.min(lingerMs, 100));
      // A packet no message can hold (too long, or dated outside the framing's
      // u32 seconds) ends the run, once the packets before it are stored.
      let unframeable: WirecapError | null = null;
      const undated = (timestamp: bigint): WirecapError =>
        new WirecapError(`a packet dated ${timestamp} ns since 1970 cannot be framed: a record's seconds are a u32 (1970 to 2106)`, 'EINVAL');
      const fits = (caplen: number): boolean => builder.count < batchPackets && builder.bytes + RECORD_HEADER + caplen <= room;
      // Makes room for a packet, first sending the message it would overflow; false when publishing must stop.
      const makeRoom = async (caplen: number): Promise<boolean> => {
        if (RECORD_HEADER + caplen > limit) {
          unframeable = new WirecapError(`a packet of ${caplen} bytes does not fit in a message: the server's max_payload is ${nc.info!.max_payload} bytes`, 'EMSGSIZE');
          return false;
        }
        if (builder.count > 0 && !fits(caplen)) {
          await settle(maxInFlight);
          seal();
        }
        if (builder.count === 0) firstAt = Date.now();
        return failure === null;
      };
      const chunks = chunksOf(source);
      try {
        for (;;) {
          const next = await Promise.race([chunks.next(), failed]);
          if (next === null || next.done === true) break;
          const chunk = next.value;
          if (chunk instanceof PacketBatch) {
            const { timestamps, lens, offsets, caplens, data } = chunk;
            // The timestamps' halves, to split them into seconds and nanoseconds without a BigInt per packet.
            const halves = new Uint32Array(timestamps.buffer, timestamps.byteOffset, 2 * chunk.count);
            const view = new DataView(data.buffer, data.byteOffset, data.length);
            for (let i = 0; i < chunk.count; i++) {
              const at = offsets[i];
              const caplen = caplens[i];
              // Only a packet that ends a message waits (for room in flight).
              if (!(builder.count > 0 && fits(caplen)) && !(await makeRoom(caplen))) break;
              if (fileNano !== null && isRecord(view, at, caplen, lens[i], fileNano)) {
                builder.addRecord(data, at - RECORD_HEADER, at + caplen, fileNano);
                continue;
              }
              const hi = halves[2 * i + HI];
              let added: boolean;
              if (hi < 2 ** 31) {
                // ns = hi * 2^32 + lo, divided by 1e9 in two steps of 16 bits, each exact in a double.
                const lo = halves[2 * i + LO];
                const x1 = hi * 65536 + (lo >>> 16);
                const q1 = Math.floor(x1 / 1e9);
                const x2 = (x1 - q1 * 1e9) * 65536 + (lo & 0xffff);
                const q2 = Math.floor(x2 / 1e9);
                added = builder.addSplit(q1 * 65536 + q2, x2 - q2 * 1e9, lens[i], data, at, caplen);
              } else {
                added = builder.add(timestamps[i], lens[i], data, at, caplen); // before 1970: refused
              }
              if (!added) {
                unframeable = undated(timestamps[i]);
                break;
              }
            }
            builder.flush(); // the next batch reuses this one's memory
          } else {
            for (const p of chunk) {
              const d = Buffer.isBuffer(p.data) ? p.data : Buffer.from((p.data as Uint8Array).buffer, (p.data as Uint8Array).byteOffset, (p.data as Uint8Array).length);
              if (!(await makeRoom(d.length))) break;
              if (!builder.add(p.timestamp, p.len ?? d.length, d, 0, d.length)) {
                unframeable = undated(p.timestamp);
                break;
              }
            }
          }
          if (failure !== null || unframeable !== null) break;
        }
        if (failure === null) {
          await settle(maxInFlight);
          seal();
          await settle(1);
        }
        if (unframeable !== null) fail(unframeable);
      } finally {
        clearInterval(linger);
        void chunks.return(undefined); // runs once a pending read settles
        stats.dropped = capture?.stats().consumerDropped ?? 0;
      }
      if (failure !== null) throw failure;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      await nc.close();
    }
  });
}
