/**
 * consumePackets(): the packets of a JetStream stream, read through a
 * durable pull consumer, as an async iterable of batches (one per message)
 * or of packets.
 *
 * A message is acknowledged once the loop took it (asked for what follows,
 * or broke off), so a consumer that dies while holding one gets it again
 * (at least once). The durable consumer is created when missing, with explicit acks and
 * max_ack_pending = fetchMessages; messages are fetched a group at a time.
 * What a dead consumer held comes back after ackWaitMs. Several consumers
 * on one durable split the stream.
 *
 * Without a durable, the stream is read through an ephemeral ordered
 * consumer from `since` (a time, or now): nothing is acknowledged, and the
 * consumer is deleted on close (the server also drops it after 30 s idle),
 * so nothing is left behind. `sensor` keeps one sensor's messages.
 */
import type * as Nats from 'nats';
import { AbortError, WirecapError } from '../core/errors';
import { checkInteger, checkKeys, checkObject, checkSignal, checkString } from '../core/validate';
import { parseSince } from '../core/since';
import { checkConnect, CheckedConnect, connect, CONNECT_KEYS, jsError, NatsConnectOptions, natsJs, retrying } from './connection';
import { batchInfo, decodeRecords, H, NatsBatch, NatsPacket } from './framing';

export interface ConsumeOptions extends NatsConnectOptions {
  stream: string;
  /** The durable consumer's name; created when missing. Omitted: an ephemeral consumer (see since). */
  durable?: string;
  /** Ephemeral consumer only: the first message stored at or after this time (Date, or as parseSince: '5m', ISO 8601, 'now'; default now). */
  since?: Date | string;
  /** Only the messages of this sensor (Wirecap-Sensor); the others are skipped. */
  sensor?: string;
  /** When the consumer is created: only messages on this subject. */
  filterSubject?: string;
  /** When the consumer is created: how long a message may go unacknowledged before it is delivered again (default 30000 ms, at least 5000: a fetch gathers for up to 1000 ms). */
  ackWaitMs?: number;
  /** Messages fetched at a time, and the consumer's max_ack_pending when created (default 64). */
  fetchMessages?: number;
  signal?: AbortSignal;
}

export const CONSUME_KEYS = [...CONNECT_KEYS, 'stream', 'durable', 'since', 'sensor', 'filterSubject', 'ackWaitMs', 'fetchMessages', 'signal'];

export interface CheckedConsume {
  conn: CheckedConnect;
  stream: string;
  /** null: ephemeral, from since. */
  durable: string | null;
  since: Date | null;
  sensor?: string;
  filterSubject?: string;
  ackWaitMs: number;
  fetchMessages: number;
  signal?: AbortSignal;
}

export function checkConsume(o: Record<string, unknown>): CheckedConsume {
  return {
    conn: checkConnect(o),
    stream: checkString(o.stream, 'stream'),
    durable: o.durable === undefined ? null : checkString(o.durable, 'durable'),
    since: checkSince(o.since, o.durable !== undefined),
    ...(o.sensor === undefined ? {} : { sensor: checkString(o.sensor, 'sensor') }),
    ...(o.filterSubject === undefined ? {} : { filterSubject: checkString(o.filterSubject, 'filterSubject') }),
    ackWaitMs: o.ackWaitMs === undefined ? 30000 : checkInteger(o.ackWaitMs, 'ackWaitMs', 5000, 2 ** 31),
    fetchMessages: o.fetchMessages === undefined ? 64 : checkInteger(o.fetchMessages, 'fetchMessages', 1, 10000),
    signal: checkSignal(o.signal),
  };
}

function checkSince(since: unknown, durable: boolean): Date | null {
  if (since === undefined) return null;
  if (durable) throw new WirecapError('since takes an ephemeral consumer: give no durable', 'EINVAL');
  if (typeof since === 'string') return parseSince(since);
  if (!(since instanceof Date) || Number.isNaN(since.getTime())) throw new WirecapError('since must be a Date or a string', 'EINVAL');
  return since;
}

/** The ack subject of a message (what +ACK / -NAK are published to). */
export function replyOf(m: Nats.JsMsg): string {
  return (m as unknown as { reply: string }).reply;
}

/** A message read into a batch; EPROTO when it is not wirecap's. */
export function decodeMessage(m: Nats.JsMsg): NatsBatch {
  const get = (name: string): string => m.headers?.get(name) ?? '';
  const info = batchInfo(get);
  const count = Number(get(H.packets));
  const packets = decodeRecords(m.data, info, Number.isInteger(count) ? count : -1);
  return { ...info, packets, streamSequence: m.seq };
}

/** A connection and the durable consumer it reads, fetching groups of messages. */
export class Subscription {
  readonly nc: Nats.NatsConnection;
  #consumer: Nats.Consumer;
  #c: CheckedConsume;
  #stopped = false;
  #current: Nats.ConsumerMessages | null = null;

  private constructor(nc: Nats.NatsConnection, consumer: Nats.Consumer, c: CheckedConsume) {
    this.nc = nc;
    this.#consumer = consumer;
    this.#c = c;
  }

  /** Whether messages are acknowledged: false for an ephemeral (ordered) consumer. */
  get acks(): boolean {
    return this.#c.durable !== null;
  }

  /** Connects and finds (or creates) the durable consumer, or makes an ephemeral one; ENOENT for a stream that does not exist. */
  static async open(c: CheckedConsume): Promise<Subscription> {
    const nc = await connect(c.conn);
    try {
      const consumer = await retrying(c.conn, `stream ${c.stream}`, async () => {
        if (c.durable === null) return ephemeral(nc, c);
        const jsm = await nc.jetstreamManager();
        try {
          await jsm.consumers.info(c.stream, c.durable);
        } catch (error) {
          const e = jsError(error, `stream ${c.stream}`);
          if (!(e instanceof WirecapError) || !/consumer/.test(e.message)) throw error;
          await jsm.consumers.add(c.stream, {
            durable_name: c.durable,
            ack_policy: natsJs().AckPolicy.Explicit,
            ack_wait: natsJs().nanos(c.ackWaitMs),
            max_ack_pending: c.fetchMessages,
            ...(c.filterSubject ? { filter_subject: c.filterSubject } : {}),
          });
        }
        return nc.jetstream().consumers.get(c.stream, c.durable);
      });
      return new Subscription(nc, consumer, c);
    } catch (error) {
      await nc.close();
      throw error;
    }
  }

  /**
   * The next group of messages: what one fetch brought (up to
   * fetchMessages, within 500 ms), or null once stopped. Fetches that fail
   * (a server or the consumer's leader gone) are tried again until
   * outageLimitMs passes without one working: then ECONNREFUSED.
   */
  async next(): Promise<Nats.JsMsg[] | null> {
    let lastWorked = Date.now();
    let backoff = 100;
    for (;;) {
      if (this.#c.signal?.aborted) throw new AbortError(this.#c.signal.reason);
      if (this.#stopped) return null;
      const group: Nats.JsMsg[] = [];
      try {
        this.#current = await this.#consumer.fetch({ max_messages: this.#c.fetchMessages, expires: 1000 });
        for await (const m of this.#current) group.push(m);
        this.#current = null;
        if (group.length > 0) return group;
        lastWorked = Date.now();
        backoff = 100;
      } catch (error) {
        this.#current = null;
        if (group.length > 0) return group;
        const e = jsError(error, `stream ${this.#c.stream}`);
        if (e instanceof WirecapError && e.code === 'ENOENT') throw e;
        if (Date.now() - lastWorked > this.#c.conn.outageLimitMs) {
          throw new WirecapError(`no fetch from ${this.#c.stream} at ${this.#c.conn.label} worked for ${this.#c.conn.outageLimitMs} ms: ${e.message}`, 'ECONNREFUSED');
        }
        await new Promise((resolve) => setTimeout(resolve, backoff));
        backoff = Math.min(backoff * 2, 1000);
      }
    }
  }

  /** Ends the fetching after the current fetch. */
  stop(): void {
    this.#stopped = true;
  }

  async close(): Promise<void> {
    this.#stopped = true;
    // An ephemeral consumer goes with its reader, not 30 s later.
    if (this.#c.durable === null) await this.#consumer.delete().catch(() => false);
    await this.nc.close();
  }
}

/** An ordered consumer from c.since (or new messages only), gone after 30 s without a reader. */
async function ephemeral(nc: Nats.NatsConnection, c: CheckedConsume): Promise<Nats.Consumer> {
  const { DeliverPolicy } = natsJs();
  const consumer = await nc.jetstream().consumers.get(c.stream, {
    ...(c.since === null ? { deliver_policy: DeliverPolicy.New } : { deliver_policy: DeliverPolicy.StartTime, opt_start_time: c.since.toISOString() }),
    ...(c.filterSubject ? { filterSubjects: c.filterSubject } : {}),
    inactive_threshold: 30_000,
  });
  await consumer.info(); // ENOENT now for a stream that does not exist
  return consumer;
}

/** An open consumer: iterate it for packets, or batches() for whole messages. */
export class PacketConsumer implements AsyncIterable<NatsPacket & { sensor: string }> {
  #c: CheckedConsume;
  #sub: Subscription | null = null;
  /** Set by the packet iterator when a loop broke off inside a batch: that message is given back, not acked. */
  #untaken = false;

  /** @internal use consumePackets() */
  constructor(c: CheckedConsume) {
    this.#c = c;
  }

  /**
   * The messages' batches in stream order. Each message is acked when the
   * loop asks for the next one or breaks off; the messages fetched with it
   * are then given back (nak) for delivery again. A message that is not
   * wirecap's framing is terminated (never delivered again) and the
   * iteration throws EPROTO; iterate again to go on.
   */
  async *batches(): AsyncGenerator<NatsBatch, void, undefined> {
    this.#sub ??= await Subscription.open(this.#c);
    for (;;) {
      const group = await this.#sub.next();
      if (group === null) return;
      for (let i = 0; i < group.length; i++) {
        const m = group[i];
        const acks = this.#sub.acks;
        let batch: NatsBatch;
        try {
          batch = decodeMessage(m);
        } catch (error) {
          if (acks) m.term();
          if (acks) for (const rest of group.slice(i + 1)) rest.nak();
          throw new WirecapError(`stream ${this.#c.stream} sequence ${m.seq}: ${(error as Error).message}`, 'EPROTO');
        }
        if (this.#c.sensor !== undefined && batch.sensor !== this.#c.sensor) {
          if (acks) m.ack();
          continue;
        }
        let resumed = false;
        try {
          yield batch;
          resumed = true;
        } finally {
          if (acks && this.#untaken) m.nak();
          else if (acks) m.ack();
          this.#untaken = false;
          // A loop that broke off gives back the messages fetched with this one, for delivery again now.
          if (!resumed && acks) for (const rest of group.slice(i + 1)) rest.nak();
        }
      }
    }
  }

  /** The packets of batches(), each with its sensor. A loop that breaks off inside a message gives that message back too. */
  async *[Symbol.asyncIterator](): AsyncIterator<NatsPacket & { sensor: string }> {
    for await (const batch of this.batches()) {
      let i = 0;
      try {
        for (; i < batch.packets.length; i++) yield { ...batch.packets[i], sensor: batch.sensor };
      } finally {
        if (i < batch.packets.length - 1) this.#untaken = true; // broke off before its last packet
      }
    }
  }

  /** Stops the iteration (after the fetch under way) and closes the connection. */
  async close(): Promise<void> {
    await this.#sub?.close();
  }
}

/** Reads the stream through the durable consumer; see PacketConsumer. */
export function consumePackets(options: ConsumeOptions): PacketConsumer {
  const o = checkObject(options, 'options');
  checkKeys(o, CONSUME_KEYS, 'consumePackets');
  return new PacketConsumer(checkConsume(o));
}
