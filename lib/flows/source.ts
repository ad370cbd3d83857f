/**
 * Flows from any source: a live capture or a file (a Capture), a JetStream
 * consumer's batches, or any (async) iterable of PacketBatches or packets.
 * trackFlows() yields each flow as it ends; whatever is open when the
 * source ends comes out last (reason 'end').
 */
import { PacketBatch, type Packet } from '../capture/batch';
import { Capture } from '../capture/capture';
import { invalid } from '../core/errors';
import { CaptureFile } from '../files/offline';
import { FlowTracker, type FlowOptions } from './tracker';
import type { Flow } from './types';

/** Something with packets: batches (with a link type), packets, or messages of packets as NATS consumers give them. */
export type FlowSource =
  | Capture
  | AsyncIterable<PacketBatch | Packet | PacketMessage>
  | Iterable<PacketBatch | Packet | PacketMessage>
  | { batches(): AsyncIterable<PacketMessage> };

/** A group of packets that says its link type (a NatsBatch, say). */
export interface PacketMessage {
  linktype: number;
  packets: Packet[];
}

export interface TrackOptions extends FlowOptions {
  /** The link type of a source that does not say it (batches or packets). */
  linktype?: number;
  /** The tracker to feed (to read its stats, or add listeners); one is made from the options otherwise. */
  tracker?: FlowTracker;
}

/**
 * Feeds source into tracker, yielding after each batch (or message, or 256
 * packets) so that the caller can hand out what ended; ends the tracker
 * when the source ends.
 */
export async function* feed(source: FlowSource, tracker: FlowTracker, linktype?: number): AsyncGenerator<void> {
  if (source instanceof Capture) {
    const file = source instanceof CaptureFile ? source : null;
    const mixed = file !== null && file.interfaces.some((x) => x.linktype !== file.linktype);
    if (!mixed) {
      for await (const batch of source.batches({ recycle: true })) {
        tracker.addBatch(batch, source.linktype);
        yield;
      }
    } else {
      let n = 0;
      for await (const p of file) {
        tracker.addPacket(p, file.linktypeOf(p));
        if (++n % 256 === 0) yield;
      }
    }
    tracker.end();
    return;
  }
  const items: AsyncIterable<unknown> | Iterable<unknown> =
    typeof (source as { batches?: unknown }).batches === 'function' && !(Symbol.asyncIterator in source) && !(Symbol.iterator in source)
      ? (source as { batches(): AsyncIterable<PacketMessage> }).batches()
      : (source as AsyncIterable<unknown>);
  let n = 0;
  for await (const item of items) {
    if (item instanceof PacketBatch) {
      tracker.addBatch(item, need(linktype));
      yield;
    } else if (isMessage(item)) {
      for (const p of item.packets) tracker.addPacket(p, item.linktype);
      yield;
    } else if (isPacket(item)) {
      const lt = (item as { linktype?: unknown }).linktype;
      tracker.addPacket(item, typeof lt === 'number' ? lt : need(linktype));
      if (++n % 256 === 0) yield;
    } else throw invalid('a flow source yields PacketBatches, packets ({ timestamp, data, len }) or messages ({ linktype, packets })');
  }
  tracker.end();
}

function need(linktype: number | undefined): number {
  if (linktype === undefined) throw invalid('options.linktype is needed for a source of batches or packets');
  return linktype;
}

const isMessage = (x: unknown): x is PacketMessage => typeof x === 'object' && x !== null && Array.isArray((x as PacketMessage).packets) && typeof (x as PacketMessage).linktype === 'number';
const isPacket = (x: unknown): x is Packet =>
  typeof x === 'object' && x !== null && (x as Packet).data instanceof Uint8Array && typeof (x as Packet).timestamp === 'bigint';

/**
 * The flows of source, each as it ends (TCP close, idle timeout, eviction),
 * then those still open at the end of the source.
 *
 *   for await (const flow of trackFlows(openOffline('x.pcap'))) console.log(flow.key, flow.client.bytes, flow.server.bytes);
 */
export async function* trackFlows(source: FlowSource, options: TrackOptions = {}): AsyncGenerator<Flow> {
  const { linktype, tracker: given, ...rest } = options;
  const tracker = given ?? new FlowTracker(rest);
  const ended: Flow[] = [];
  const take = (flow: Flow): number => ended.push(flow);
  tracker.on('flow', take);
  try {
    for await (const _ of feed(source, tracker, linktype)) yield* ended.splice(0);
    yield* ended.splice(0);
  } finally {
    tracker.off('flow', take);
  }
}
