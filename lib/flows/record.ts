/**
 * A flow's record, the object users get: made from its slot of the table
 * when the flow ends (or when a stream factory asks for it as the flow
 * starts, then filled in at the end). Nothing here runs per packet.
 */
import { ipv6Text } from '../decode/bytes';
import { D, FIRST, FLAGS, type FlowSlots, FLIPPED, GUESSED, HISTORY, ID, LAST, BYTES, PAYLOAD, RTT_NS, W } from './table';
import { connState, HISTORY_LETTERS } from './tcp-state';
import type { Flow, FlowEndReason, FlowKey, FlowSide, TcpInfo } from './types';

const CLIENT_LETTERS = HISTORY_LETTERS.map((l) => l.toUpperCase());

export class FlowRecord implements Flow {
  first = 0n;
  last = 0n;
  endReason: FlowEndReason | null = null;
  constructor(
    readonly id: number,
    readonly key: FlowKey,
    public directionGuessed: boolean,
    public client: FlowSide,
    public server: FlowSide,
    public tcp: TcpInfo | undefined,
  ) {}
}

/** The int64 whose low and high 32-bit words are lo and hi. */
export const wordsTime = (lo: number, hi: number): bigint => BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));

const v4Text = (a: number): string => `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
/** An IPv6 address's bytes, to write it as text. */
const v6Bytes = new Uint8Array(16);

/** An address of the key words at u[at..at + 4) as IPv6 text. */
function v6Text(u: Uint32Array, at: number): string {
  for (let k = 0; k < 4; k++) {
    const x = u[at + k];
    v6Bytes[4 * k] = x >>> 24;
    v6Bytes[4 * k + 1] = (x >>> 16) & 255;
    v6Bytes[4 * k + 2] = (x >>> 8) & 255;
    v6Bytes[4 * k + 3] = x & 255;
  }
  return ipv6Text(v6Bytes, 0);
}

/** Slot s's record: made when its flow ends (reason), or for a stream factory (reason null, counters zero). */
export function makeRecord(slots: FlowSlots, s: number, reason: FlowEndReason | null, vlan: boolean): FlowRecord {
  const u = slots.u;
  const f = slots.f;
  const o = s * W;
  const aIsClient = slots.clientIsA(s);
  const c = aIsClient ? o : o + 4;
  const v = (u[o + 9] >>> 8) & 0xff;
  const proto = u[o + 9] & 0xff;
  const ports = u[o + 8];
  const pa = ports >>> 16;
  const pb = ports & 0xffff;
  let src: string;
  let dst: string;
  if (v === 4) {
    src = v4Text(u[c]);
    dst = v4Text(u[aIsClient ? o + 4 : o]);
  } else {
    src = v6Text(u, c);
    dst = v6Text(u, aIsClient ? o + 4 : o);
  }
  const key: FlowKey = { version: v as 4 | 6, protocol: proto, src, srcPort: aIsClient ? pa : pb, dst, dstPort: aIsClient ? pb : pa };
  if (vlan) key.vlan = u[o + 9] >>> 16;
  const fo = s * D;
  const ended = reason !== null;
  const client = { packets: ended ? slots.packets(s, 0) : 0, bytes: ended ? f[fo + BYTES] : 0, payloadBytes: ended ? f[fo + PAYLOAD] : 0 };
  const server = { packets: ended ? slots.packets(s, 1) : 0, bytes: ended ? f[fo + 1 + BYTES] : 0, payloadBytes: ended ? f[fo + 1 + PAYLOAD] : 0 };
  let tcp: TcpInfo | undefined;
  if (proto === 6) tcp = ended ? tcpInfo(slots, s) : { state: 'OTH', history: slots.has(s, FLIPPED) ? '^' : '', rttNs: null, missedBytes: 0, overlapConflicts: 0 };
  const record = new FlowRecord(f[fo + ID], key, slots.has(s, GUESSED), client, server, tcp);
  record.endReason = reason;
  if (ended) stampTimes(record, slots, s);
  return record;
}

/** Fills in a record made when its flow started (for a stream factory) with slot s's counters as the flow ends. */
export function finishRecord(record: FlowRecord, slots: FlowSlots, s: number, reason: FlowEndReason): void {
  const f = slots.f;
  for (let side = 0; side < 2; side++) {
    const fo = s * D + side;
    const x = side === 0 ? record.client : record.server;
    x.packets = slots.packets(s, side);
    x.bytes = f[fo + BYTES];
    x.payloadBytes = f[fo + PAYLOAD];
  }
  if (record.tcp !== undefined) {
    const t = tcpInfo(slots, s);
    record.tcp.state = t.state;
    record.tcp.history = t.history;
    record.tcp.rttNs = t.rttNs;
  }
  record.endReason = reason;
  stampTimes(record, slots, s);
}

function stampTimes(record: FlowRecord, slots: FlowSlots, s: number): void {
  const u = slots.u;
  record.first = wordsTime(u[s * W + FIRST], u[s * W + FIRST + 1]);
  record.last = wordsTime(u[s * W + LAST], u[s * W + LAST + 1]);
}

/** The TCP summary of slot s: state, history, handshake RTT. */
function tcpInfo(slots: FlowSlots, s: number): TcpInfo {
  const u = slots.u;
  const f = slots.f;
  let history = slots.has(s, FLIPPED) ? '^' : '';
  for (let at = s * W + HISTORY; at < s * W + HISTORY + 2; at++) {
    for (let shift = 0; shift < 32; shift += 4) {
      const code = (u[at] >>> shift) & 15;
      if (code === 0) break;
      history += code > 7 ? HISTORY_LETTERS[code - 8] : CLIENT_LETTERS[code - 1];
    }
  }
  const rtt = f[s * D + RTT_NS];
  return { state: connState(u[s * W + FLAGS] & 0xffff, u[s * W + FLAGS + 1] & 0xffff), history, rttNs: rtt >= 0 ? rtt : null, missedBytes: 0, overlapConflicts: 0 };
}
