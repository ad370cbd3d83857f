/**
 * FlowTracker: bidirectional conversations from batches or packets, keyed
 * as tshark keys its conversation tables (addresses, ports, protocol; the
 * VLAN id when asked), after IP defragmentation and through IP in IP. TCP
 * flows track the handshake, its RTT, FIN/RST, Zeek's conn_state and
 * history; with options.streams, TCP flows are reassembled and UDP
 * datagrams handed over.
 *
 * The per-packet path reads an Ethernet frame's IPv4/IPv6 and TCP/UDP
 * headers in place (keys.ts; any other packet is decoded by PacketColumns)
 * and updates typed arrays (table.ts): no object is made per packet, one
 * per flow (record.ts). In batches without stream handlers, the native fast
 * path (fast-path.ts) does the same for most packets and leaves the rest
 * here. Time is the packets' time, never the wall clock. Ended flows come
 * out as 'flow' events.
 */
import { EventEmitter } from 'node:events';
import type { PacketBatch, Packet } from '../capture/batch';
import { PacketColumns } from '../decode/columns';
import { DLT_EN10MB } from '../decode/link';
import { Defragmenter, type DefragOptions, type DefragStats } from '../defrag/defrag';
import { TcpConnection } from '../reassembly/connection';
import { ReassemblyBudget } from '../reassembly/stream';
import { checkBoolean, checkInteger, checkKeys, checkObject } from '../core/validate';
import { invalid } from '../core/errors';
import { FastPath } from './fast-path';
import { EthernetReader, key4, key6, touchHeaders } from './keys';
import { finishRecord, type FlowRecord, makeRecord, wordsTime } from './record';
import { BYTES, D, FIRST, FLAGS, FlowSlots, FLIPPED, GUESSED, hashKey, HISTORY, ID, KEY_WORDS, LAST, LAST_NS, LIST_OTHER, LIST_TCP, LIST_TCP_CLOSED, LIST_UDP, PAYLOAD, RTT_AWAITED, RTT_NS, SEQ_END, SYN_ACK_NS, SYN_NS, W } from './table';
import type { FlowEndReason, FlowTimeouts, StreamFactory, StreamHandler } from './types';

export interface ReassemblyOptions {
  /** Out-of-order bytes one direction may hold before its first hole is given up as a gap. Default 1 MiB. */
  maxBufferedPerStream?: number;
  /** Out-of-order bytes all streams together may hold. Default 64 MiB. */
  maxBuffered?: number;
  /** Delivered bytes each direction keeps to compare retransmissions with (overlap conflicts). Default 2048. */
  window?: number;
}

export interface FlowOptions {
  /** Key flows on the outermost VLAN id too. Default false (as tshark's conversations). */
  vlan?: boolean;
  /** Flows held at once; the least recently seen is evicted (and counted) for a new one. Default 262,144. */
  maxFlows?: number;
  timeouts?: FlowTimeouts;
  /** IP defragmentation bounds, or false to count fragments as they come. */
  defrag?: DefragOptions | false;
  /** Called once per new TCP or UDP flow: the handler that gets its reassembled bytes or datagrams. */
  streams?: StreamFactory;
  reassembly?: ReassemblyOptions;
}

export interface FlowTrackerStats {
  /** Packets given to the tracker. */
  packets: number;
  /** Packets without IP, and TCP/UDP packets cut before their ports: in no flow. */
  notIp: number;
  truncated: number;
  /** Flows created, flows held now, and flows ended by reason. */
  flows: number;
  active: number;
  ended: Record<FlowEndReason, number>;
  defrag: DefragStats | null;
  reassembly: { heldBytes: number; gapBytes: number; forcedGaps: number };
}

const SEC = 1e9;
const DLT_RAW = 101;
const MAX_TUNNEL_DEPTH = 4;
const SYN = 0x02;
const ACK = 0x10;
const FIN = 0x01;
const RST = 0x04;

/** The TCP sequence number of the header at t (at t + 4: the acknowledgment number). */
const tcpSeq = (d: Buffer, t: number): number => ((d[t + 4] << 24) | (d[t + 5] << 16) | (d[t + 6] << 8) | d[t + 7]) >>> 0;

export class FlowTracker extends EventEmitter {
  readonly #slots: FlowSlots;
  readonly #records: (FlowRecord | undefined)[] = [];
  readonly #conns: (TcpConnection | undefined)[] = [];
  readonly #handlers: (StreamHandler | undefined)[] = [];
  /** One packet decoded, for the packets the Ethernet path does not take. */
  readonly #row = new PacketColumns(1);
  readonly #w = new Uint32Array(KEY_WORDS);
  readonly #ethernet = new EthernetReader();
  /** The native fast path, when no stream handler needs every packet. */
  readonly #fast: FastPath | null;
  /** What touchHeaders() read (kept, so that its reads are not optimized away). */
  #touched = 0;
  /** A lone packet's time as two words (see #one). */
  readonly #time = new Uint32Array(2);
  readonly #timeouts: Float64Array;
  readonly #vlan: boolean;
  readonly #defrag: Defragmenter | null;
  readonly #streams: StreamFactory | null;
  readonly #budget: ReassemblyBudget;
  #linktype = 1;
  #now = -Infinity;
  /** The current packet's time, ns since the first packet's. */
  #ns = 0;
  /** Packet times are kept as ns since the first packet's (exact below 2^53 ns, 104 days). */
  #baseHi = 0;
  #baseLo = 0;
  #based = false;
  /** The next flow's id: the flows created so far. */
  #nextId = 0;
  #frame = 0;
  #ended = false;
  readonly #stats = { packets: 0, notIp: 0, truncated: 0, ended: { closed: 0, idle: 0, evicted: 0, end: 0 } };

  constructor(options: FlowOptions = {}) {
    super();
    const o = checkObject(options, 'options');
    checkKeys(o, ['vlan', 'maxFlows', 'timeouts', 'defrag', 'streams', 'reassembly'], 'FlowTracker');
    this.#vlan = o.vlan === undefined ? false : checkBoolean(o.vlan, 'vlan');
    const maxFlows = o.maxFlows === undefined ? 262144 : checkInteger(o.maxFlows, 'maxFlows', 1, 1 << 26);
    const t = checkObject(o.timeouts, 'timeouts');
    checkKeys(t, ['tcp', 'tcpClosed', 'udp', 'other'], 'timeouts');
    const ns = (k: string, d: number): number => (t[k] === undefined ? d : checkInteger(t[k], `timeouts.${k}`, 0, Number.MAX_SAFE_INTEGER));
    this.#timeouts = new Float64Array(4);
    this.#timeouts[LIST_TCP] = ns('tcp', 300 * SEC);
    this.#timeouts[LIST_TCP_CLOSED] = ns('tcpClosed', 5 * SEC);
    this.#timeouts[LIST_UDP] = ns('udp', 60 * SEC);
    this.#timeouts[LIST_OTHER] = ns('other', 60 * SEC);
    if (o.defrag === false) this.#defrag = null;
    else {
      const d = checkObject(o.defrag, 'defrag');
      checkKeys(d, ['timeout', 'maxDatagrams', 'maxFragments', 'maxBytes', 'minFragment'], 'defrag');
      for (const k of Object.keys(d)) checkInteger(d[k], `defrag.${k}`, 0, Number.MAX_SAFE_INTEGER);
      this.#defrag = new Defragmenter(d as DefragOptions);
    }
    if (o.streams !== undefined && typeof o.streams !== 'function') throw invalid('streams must be a function (flow) => handler');
    this.#streams = (o.streams as StreamFactory | undefined) ?? null;
    const r = checkObject(o.reassembly, 'reassembly');
    checkKeys(r, ['maxBufferedPerStream', 'maxBuffered', 'window'], 'reassembly');
    const int = (k: string, d: number): number => (r[k] === undefined ? d : checkInteger(r[k], `reassembly.${k}`, 0, 2 ** 40));
    this.#budget = new ReassemblyBudget(int('maxBuffered', 64 << 20), int('maxBufferedPerStream', 1 << 20), int('window', 2048));
    this.#slots = new FlowSlots(maxFlows);
    this.#fast = this.#streams === null ? new FastPath(this.#slots, this.#timeouts) : null;
  }

  get stats(): FlowTrackerStats {
    const b = this.#budget;
    const { packets, notIp, truncated, ended } = this.#stats;
    return {
      packets,
      notIp,
      truncated,
      flows: this.#nextId,
      ended: { ...ended },
      active: this.#slots.count,
      defrag: this.#defrag === null ? null : { ...this.#defrag.stats },
      reassembly: { heldBytes: b.held, gapBytes: b.gapBytes, forcedGaps: b.forcedGaps },
    };
  }

  /** Every packet of a batch captured with linktype. */
  addBatch(batch: PacketBatch, linktype: number): void {
    this.#open();
    this.#linktype = linktype;
    const t = batch.timestamps;
    const words = new Uint32Array(t.buffer, t.byteOffset, 2 * batch.count);
    const d = batch.data;
    const offsets = batch.offsets;
    const caplens = batch.caplens;
    const lens = batch.lens;
    const ethernet = linktype === DLT_EN10MB;
    const e = this.#ethernet;
    const fast = ethernet ? this.#fast : null;
    if (fast !== null) fast.batch(batch, words);
    else if (ethernet) this.#touched = touchHeaders(d, offsets, caplens, batch.count);
    // After the fast path took nothing, it is skipped for a growing number
    // of packets (frames it never takes cost no native call each).
    let skip = 0;
    let misses = 0;
    for (let i = 0; i < batch.count; i++) {
      if (fast !== null && this.#based) {
        if (skip > 0) skip--;
        else {
          const next = fast.run(i, this.#now, this.#nextId);
          if (next > i) {
            this.#frame += next - i;
            this.#stats.packets += next - i;
            this.#now = fast.latest();
            this.#nextId = fast.nextId();
            misses = 0;
            i = next;
            this.#expire();
            if (i === batch.count) break;
          } else skip = misses = Math.min(2 * misses + 1, 64);
        }
      }
      const start = offsets[i];
      const end = start + caplens[i];
      if (ethernet && e.read(d, start, end)) {
        this.#frame++;
        this.#stats.packets++;
        this.#clock(words, 2 * i);
        this.#flow(d, e.key, 0, e.hash, e.srcIsA, e.proto, e.flags, e.srcPort, e.dstPort, lens[i], e.transport, e.payloadAt, e.payloadLength, words, 2 * i, false);
      } else this.#one(this.#row.fillPacket(d, start, end, linktype), 0, d, start, end, lens[i], words, 2 * i, false, 0);
      // After every packet, as addPacket(): flows end the same, however the packets were batched.
      this.#expire();
    }
  }

  /** One packet captured with linktype. */
  addPacket(packet: Packet, linktype: number): void {
    this.#open();
    this.#linktype = linktype;
    const t = BigInt.asUintN(64, packet.timestamp);
    this.#time[0] = Number(t & 0xffffffffn);
    this.#time[1] = Number(t >> 32n);
    this.#whole(packet.data, linktype, packet.len, this.#time, 0, false, 0);
    this.#expire();
  }

  /** Ends every flow still open (reason 'end'), as at the end of a source. The tracker takes no packet after. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const s = this.#slots;
    for (let l = 0; l < 4; l++) while (s.heads[l] >= 0) this.#end(s.heads[l], l === LIST_TCP_CLOSED ? 'closed' : 'end');
    this.#defrag?.clear();
  }

  #open(): void {
    if (this.#ended) throw invalid('the tracker has ended: it takes no more packets');
  }

  /** A frame that is not part of a batch (a packet, a reassembled datagram, a tunnel's inside); its time is tw[ti], tw[ti + 1]. */
  #whole(data: Buffer, linktype: number, len: number, tw: Uint32Array, ti: number, reassembled: boolean, depth: number): void {
    this.#one(this.#row.fillPacket(data, 0, data.length, linktype), 0, data, 0, data.length, len, tw, ti, reassembled, depth);
  }

  /** Sets #ns (and #now) to the time at words tw[ti] (low), tw[ti + 1] (high). */
  #clock(tw: Uint32Array, ti: number): void {
    const lo = tw[ti];
    const hi = tw[ti + 1] | 0;
    if (!this.#based) {
      this.#based = true;
      this.#baseHi = hi;
      this.#baseLo = lo;
      this.#fast?.base(hi, lo);
    }
    const ns = (hi - this.#baseHi) * 4294967296 + (lo - this.#baseLo);
    this.#ns = ns;
    if (ns > this.#now) this.#now = ns;
  }

  /**
   * Packet i of columns c, its bytes d[start, end), len on the wire, its
   * time the int64 at words tw[ti] (low) and tw[ti + 1] (high). Times are
   * passed as words in a typed array, not as numbers: a double or a
   * uint32 past 2^31 passed to a call is boxed, an allocation per packet.
   */
  #one(c: PacketColumns, i: number, d: Buffer, start: number, end: number, len: number, tw: Uint32Array, ti: number, reassembled: boolean, depth: number): void {
    const frame = this.#frame;
    if (depth === 0 && !reassembled) {
      this.#frame++;
      this.#stats.packets++;
    }
    const v = c.ipVersion[i];
    if (v === 0) {
      this.#stats.notIp++;
      return;
    }
    this.#clock(tw, ti);
    const ns = this.#ns;
    if (c.fragment[i] !== 0 && this.#defrag !== null) {
      const whole = this.#defrag.fragment(d, start, end, c.ipOffset[i], v, ns, frame);
      if (whole !== null) this.#whole(whole.data, depth === 0 ? this.#linktype : DLT_RAW, len, tw, ti, true, depth);
      return;
    }
    const proto = c.protocol[i];
    if ((proto === 4 || proto === 41) && depth < MAX_TUNNEL_DEPTH && c.payloadLength[i] > 0) {
      const inner = start + c.payloadOffset[i];
      this.#whole(d.subarray(inner, inner + c.payloadLength[i]), DLT_RAW, len, tw, ti, reassembled, depth + 1);
      return;
    }
    const isTcp = proto === 6;
    if ((isTcp || proto === 17) && c.status[i] !== 0 && c.payloadOffset[i] === c.transportOffset[i]) {
      this.#stats.truncated++;
      return;
    }
    const sp = c.srcPort[i];
    const dp = c.dstPort[i];
    const w = this.#w;
    const srcIsA = v === 4 ? key4(w, 0, c.src4[i] | 0, c.dst4[i] | 0, sp, dp) : key6(w, 0, c.src6, 16 * i, c.dst6, 16 * i, sp, dp);
    w[9] = (proto | (v << 8) | (this.#vlan ? c.vlan[i] << 16 : 0)) >>> 0;
    const t = start + c.transportOffset[i];
    const po = start + c.payloadOffset[i];
    this.#flow(d, w, 0, hashKey(w, 0), srcIsA, proto, isTcp ? c.tcpFlags[i] : 0, sp, dp, len, t, po, c.payloadLength[i], tw, ti, reassembled);
  }

  /**
   * A packet of the flow whose key is at w[k..] (hash h; srcIsA: its source
   * is the key's first endpoint), at #ns: its transport header at d[t],
   * payload d[po, po + pl) (t and po only read for TCP and UDP).
   */
  #flow(d: Buffer, w: Uint32Array, k: number, h: number, srcIsA: boolean, proto: number, flags: number, sp: number, dp: number, len: number, t: number, po: number, pl: number, tw: Uint32Array, ti: number, reassembled: boolean): void {
    const ns = this.#ns;
    const isTcp = proto === 6;
    const slots = this.#slots;
    let s = slots.find(w, k, h);
    if (s >= 0) {
      const list = slots.listOf(s);
      if (ns - slots.lastNs(s) > this.#timeouts[list]) {
        this.#end(s, list === LIST_TCP_CLOSED ? 'closed' : 'idle');
        s = -1;
      } else if (list === LIST_TCP_CLOSED && (flags & (SYN | ACK)) === SYN) {
        // A new SYN on a closed connection: port reuse, a new flow.
        this.#end(s, 'closed');
        s = -1;
      }
    }
    if (s < 0) s = this.#create(w, k, sp, dp, srcIsA, proto, flags, h, tw, ti);
    const side = srcIsA === slots.clientIsA(s) ? 0 : 1;
    const f = slots.f;
    const fo = s * D + side;
    slots.countPacket(s, side);
    f[fo + BYTES] += len;
    if (isTcp || proto === 17) f[fo + PAYLOAD] += pl;
    slots.u[s * W + LAST] = tw[ti];
    slots.u[s * W + LAST + 1] = tw[ti + 1];
    f[s * D + LAST_NS] = ns;
    if (isTcp) this.#tcp(s, side, flags, d, t, po, pl, tw, ti);
    else {
      slots.touch(s, slots.listOf(s));
      if (proto === 17 && this.#streams !== null) {
        const handler = this.#handlers[s];
        if (handler?.onDatagram !== undefined) {
          handler.onDatagram(side === 0 ? 'client' : 'server', d.subarray(po, po + pl), { timestamp: wordsTime(tw[ti], tw[ti + 1]), reassembled });
        }
      }
    }
  }

  #create(w: Uint32Array, k: number, sp: number, dp: number, srcIsA: boolean, proto: number, flags: number, h: number, tw: Uint32Array, ti: number): number {
    const slots = this.#slots;
    if (slots.full) {
      this.#end(slots.oldest(), 'evicted');
    }
    const list = proto === 6 ? LIST_TCP : proto === 17 ? LIST_UDP : LIST_OTHER;
    const s = slots.insert(w, k, h, list);
    // Keep the per-slot object arrays dense and as long as the table (reads past the end are slow).
    while (this.#records.length < slots.capacity) {
      this.#records.push(undefined);
      this.#conns.push(undefined);
      this.#handlers.push(undefined);
    }
    // Who is the client: the SYN's sender; the SYN-ACK's receiver; else (TCP) the higher port's side, a guess.
    let srcIsClient = true;
    let guessed = false;
    let flipped = false;
    if (proto === 6) {
      if ((flags & (SYN | ACK)) === (SYN | ACK)) {
        srcIsClient = false;
        flipped = true;
      } else if ((flags & SYN) === 0) {
        guessed = true;
        srcIsClient = sp >= dp;
        flipped = !srcIsClient;
      }
    }
    slots.setClientIsA(s, srcIsClient === srcIsA);
    if (guessed) slots.mark(s, GUESSED);
    if (flipped) slots.mark(s, FLIPPED);
    slots.u[s * W + FIRST] = tw[ti];
    slots.u[s * W + FIRST + 1] = tw[ti + 1];
    slots.f[s * D + ID] = this.#nextId++;
    if (this.#streams !== null && (proto === 6 || proto === 17)) {
      // The factory gets the flow's record now; it is filled in when the flow ends.
      const record = makeRecord(slots, s, null, this.#vlan);
      this.#records[s] = record;
      const handler = this.#streams(record);
      if (handler) {
        if (proto === 6) this.#conns[s] = new TcpConnection(handler, this.#budget);
        else this.#handlers[s] = handler;
      }
    }
    return s;
  }

  #tcp(s: number, side: number, flags: number, d: Buffer, t: number, po: number, pl: number, tw: Uint32Array, ti: number): void {
    const slots = this.#slots;
    const ns = slots.lastNs(s);
    const u = slots.u;
    const f = slots.f;
    const fw = s * W + FLAGS + side;
    u[fw] |= flags;
    // History letters (Zeek's): s h a d f r t, upper case for the client.
    let bits = 0;
    if ((flags & SYN) !== 0) bits |= (flags & ACK) !== 0 ? 2 : 1;
    if ((flags & FIN) !== 0) bits |= 16;
    if ((flags & RST) !== 0) bits |= 32;
    if (pl > 0) {
      // The packet's bytes are read only here and for reassembly: by now they are out of the cache.
      const endSeq = (tcpSeq(d, t) + pl) >>> 0;
      if (slots.seqSet(s, side) && ((endSeq - u[s * W + SEQ_END + side]) | 0) <= 0) bits |= 64;
      else {
        bits |= 8;
        u[s * W + SEQ_END + side] = endSeq;
        slots.markSeq(s, side);
      }
    } else if ((flags & (SYN | FIN | RST)) === 0 && (flags & ACK) !== 0) bits |= 4;
    const fresh = bits & ~(u[fw] >>> 16);
    if (fresh !== 0) {
      u[fw] |= fresh << 16;
      // Appended as nibbles; the string is made when the flow ends.
      for (let k = 0; k < 7; k++) {
        if ((fresh & (1 << k)) === 0) continue;
        const code = 1 + k + 7 * side;
        let at = s * W + HISTORY;
        if (u[at] >>> 28 !== 0) at++;
        let shift = 0;
        while (shift < 32 && ((u[at] >>> shift) & 15) !== 0) shift += 4;
        if (shift < 32) u[at] |= code << shift;
      }
    }
    // Handshake RTT: the client's SYN, the server's SYN-ACK, the client's first ACK after it.
    const fd = s * D;
    // (RTT_AWAITED: both times known, the RTT not yet; so other packets leave the slot's last 64 bytes alone.)
    const sa = flags & (SYN | ACK);
    if (side === 0 && sa === SYN && f[fd + SYN_NS] < 0) {
      f[fd + SYN_NS] = ns;
      if (f[fd + SYN_ACK_NS] >= 0 && f[fd + RTT_NS] < 0) slots.mark(s, RTT_AWAITED);
    } else if (side === 1 && sa === (SYN | ACK) && f[fd + SYN_ACK_NS] < 0) {
      f[fd + SYN_ACK_NS] = ns;
      if (f[fd + SYN_NS] >= 0 && f[fd + RTT_NS] < 0) slots.mark(s, RTT_AWAITED);
    } else if (side === 0 && sa === ACK && slots.has(s, RTT_AWAITED)) {
      f[fd + RTT_NS] = ns - f[fd + SYN_NS];
      slots.unmark(s, RTT_AWAITED);
    }
    const closed = (flags & RST) !== 0 || slots.listOf(s) === LIST_TCP_CLOSED || ((u[s * W + FLAGS] & u[s * W + FLAGS + 1] & FIN) !== 0);
    slots.touch(s, closed ? LIST_TCP_CLOSED : LIST_TCP);
    if (this.#streams === null) return;
    const conn = this.#conns[s];
    if (conn !== undefined) {
      conn.segment(side as 0 | 1, tcpSeq(d, t), tcpSeq(d, t + 4), flags, d, po, po + pl, wordsTime(tw[ti], tw[ti + 1]));
    }
  }

  /** Ends the flow in slot s: its record filled in, its streams flushed, then the 'flow' event. */
  #end(s: number, reason: FlowEndReason): void {
    const slots = this.#slots;
    let record = this.#records[s];
    if (record === undefined) record = makeRecord(slots, s, reason, this.#vlan);
    else finishRecord(record, slots, s, reason);
    const conn = this.#conns[s];
    const handler = this.#handlers[s];
    this.#records[s] = undefined;
    this.#conns[s] = undefined;
    this.#handlers[s] = undefined;
    slots.remove(s);
    this.#stats.ended[reason]++;
    if (conn !== undefined) conn.end(reason, record, record.last);
    handler?.onEnd?.(reason, record);
    this.emit('flow', record);
  }

  /** Ends the flows idle past their timeout at the latest packet time. */
  #expire(): void {
    const slots = this.#slots;
    const now = this.#now;
    for (let l = 0; l < 4; l++) {
      const timeout = this.#timeouts[l];
      for (let s = slots.heads[l]; s >= 0 && now - slots.lastNs(s) > timeout; s = slots.heads[l]) this.#end(s, l === LIST_TCP_CLOSED ? 'closed' : 'idle');
    }
  }
}
