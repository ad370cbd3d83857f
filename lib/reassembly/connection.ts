/**
 * A TCP connection's two directions, feeding one StreamHandler. The flow
 * table calls segment() for every TCP packet of a flow that has a handler,
 * and end() once when the flow ends.
 */
import type { Direction, Flow, FlowEndReason, StreamHandler } from '../flows/types';
import { ReassemblyBudget, StreamSink, TcpDirection } from './stream';

const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const ACK = 0x10;

/** Turns a direction's results into the handler's calls, with the direction's name. */
function sinkFor(handler: StreamHandler, direction: Direction): StreamSink {
  return {
    data: (bytes, offset, timestamp) => handler.onData?.(direction, bytes, { offset, timestamp }),
    gap: (length, offset, timestamp) => handler.onGap?.(direction, length, { offset, timestamp }),
    overlap: (length, offset, timestamp) => handler.onOverlap?.(direction, length, { offset, timestamp }),
  };
}

export class TcpConnection {
  /** [client, server]. */
  readonly sides: [TcpDirection, TcpDirection];
  #ended = false;

  constructor(
    readonly handler: StreamHandler,
    budget: ReassemblyBudget,
  ) {
    this.sides = [new TcpDirection(budget, sinkFor(handler, 'client')), new TcpDirection(budget, sinkFor(handler, 'server'))];
  }

  /**
   * One TCP packet from side (0 client, 1 server): its sequence and
   * acknowledgment numbers, flags, and payload d[start, end).
   */
  segment(side: 0 | 1, seq: number, ack: number, flags: number, d: Buffer, start: number, end: number, timestamp: bigint): void {
    if (this.#ended) return;
    const me = this.sides[side];
    if ((flags & RST) !== 0) return;
    if ((flags & SYN) !== 0) {
      me.syn(seq);
      // Data on a SYN (TCP Fast Open) follows it.
      me.segment((seq + 1) >>> 0, d, start, end, timestamp);
    } else me.segment(seq, d, start, end, timestamp);
    if ((flags & FIN) !== 0) me.fin((flags & SYN) !== 0 ? seq + 1 : seq, end - start);
    if ((flags & ACK) !== 0) this.sides[1 - side].acked(ack, timestamp);
  }

  /** Missed and conflicting bytes, both directions. */
  get missedBytes(): number {
    return this.sides[0].missedBytes + this.sides[1].missedBytes;
  }

  get overlapConflicts(): number {
    return this.sides[0].overlapConflicts + this.sides[1].overlapConflicts;
  }

  /** Flushes both directions (held bytes after their gaps), then tells the handler. */
  end(reason: FlowEndReason, flow: Flow, timestamp: bigint): void {
    if (this.#ended) return;
    this.#ended = true;
    this.sides[0].flush(timestamp);
    this.sides[1].flush(timestamp);
    if (flow.tcp !== undefined) {
      flow.tcp.missedBytes = this.missedBytes;
      flow.tcp.overlapConflicts = this.overlapConflicts;
    }
    this.handler.onEnd?.(reason, flow);
  }

  /** Releases held bytes without delivering them (a throwing handler, say). */
  drop(): void {
    this.#ended = true;
    this.sides[0].drop();
    this.sides[1].drop();
  }
}
