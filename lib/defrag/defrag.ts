/**
 * IPv4 and IPv6 fragment reassembly, bounded in memory and in (packet) time.
 *
 * Fragments are keyed by IP version, source, destination, identification
 * and (IPv4) protocol. A datagram is complete when its last fragment is
 * known and its bytes from 0 to the end are all there; it then comes out as
 * a whole frame: the first fragment's link header and IP header (IPv6: the
 * headers before the fragment header), lengths fixed, flags cleared, the
 * payload joined. Overlaps keep the first copy of each byte; bytes of a
 * later copy that differ are counted and flag the datagram (`conflict`).
 * Every datagram given up (timeout, bounds, a malformed or hostile
 * fragment) is counted with the bytes it held.
 */
import type { Packet } from '../capture/batch';
import { PacketColumns } from '../decode/columns';
import { PacketBatch } from '../capture/batch';
import { u16, u32 } from '../decode/bytes';

export interface DefragOptions {
  /** A datagram whose first fragment is older than this (ns of packet time) is given up. Default 30 s (Linux's ipfrag_time). */
  timeout?: number;
  /** Datagrams held at once; the oldest is given up for a new one. Default 4096. */
  maxDatagrams?: number;
  /** Fragments of one datagram; one more gives the datagram up. Default 64. */
  maxFragments?: number;
  /** Bytes held across all datagrams; the oldest are given up to stay under. Default 16 MiB. */
  maxBytes?: number;
  /** A fragment that is not the last and carries fewer bytes than this is dropped and counted as malformed (tiny-fragment attacks). Default 8. */
  minFragment?: number;
}

export interface DefragStats {
  /** Fragments seen. */
  fragments: number;
  /** Datagrams reassembled. */
  reassembled: number;
  /** Datagrams reassembled with overlapping bytes that differed (the first copy kept). */
  conflicts: number;
  /** Datagrams given up, by reason, and the bytes they held. incomplete: still waiting for fragments when the source ended. */
  timedOut: number;
  incomplete: number;
  evicted: number;
  tooBig: number;
  tooManyFragments: number;
  malformed: number;
  bytesGivenUp: number;
  /** Held now. */
  pending: number;
  heldBytes: number;
}

/** A datagram put back together. */
export interface Reassembled {
  /** The whole frame: link header, IP header, payload. */
  data: Buffer;
  /** Where its IP header starts. */
  ipOffset: number;
  /** How many fragments made it, and their sequence numbers (the order add() saw them, from 0). */
  fragments: number[];
  /** Overlapping fragments carried different bytes (the first copy was kept). */
  conflict: boolean;
}

/** What add() made of a packet. */
export type DefragResult =
  | { status: 'whole' }
  | { status: 'held' }
  | { status: 'dropped'; reason: string }
  | ({ status: 'reassembled'; packet: Packet } & Reassembled);

interface Piece {
  start: number;
  bytes: Buffer;
}

interface Pending {
  key: string;
  firstNs: number;
  /** The first fragment's frame up to its payload (link + IP headers), once seen. */
  head: Buffer | null;
  /** IPv6: where, in head, the fragment header starts and the next-header byte that pointed at it. */
  fragmentHeaderAt: number;
  nextHeaderAt: number;
  nextHeader: number;
  ipOffset: number;
  /** Payload length, once the last fragment is seen; -1 before. */
  total: number;
  pieces: Piece[];
  held: number;
  frames: number[];
  conflict: boolean;
}

const MAX_DATAGRAM = 65535;

export class Defragmenter {
  readonly timeout: number;
  readonly maxDatagrams: number;
  readonly maxFragments: number;
  readonly maxBytes: number;
  readonly minFragment: number;
  readonly stats: DefragStats = {
    fragments: 0,
    reassembled: 0,
    conflicts: 0,
    timedOut: 0,
    incomplete: 0,
    evicted: 0,
    tooBig: 0,
    tooManyFragments: 0,
    malformed: 0,
    bytesGivenUp: 0,
    pending: 0,
    heldBytes: 0,
  };
  #pending = new Map<string, Pending>();
  #frame = 0;
  #columns = new PacketColumns(1);
  #meta = new ArrayBuffer(24);

  constructor(options: DefragOptions = {}) {
    this.timeout = options.timeout ?? 30e9;
    this.maxDatagrams = options.maxDatagrams ?? 4096;
    this.maxFragments = options.maxFragments ?? 64;
    this.maxBytes = options.maxBytes ?? 16 << 20;
    this.minFragment = options.minFragment ?? 8;
  }

  /**
   * One packet (every packet of the source, in order, so that the
   * fragments' sequence numbers are frame numbers from 0).
   */
  add(packet: Packet, linktype: number): DefragResult {
    const frame = this.#frame++;
    const meta = new Uint32Array(this.#meta);
    meta[2] = packet.caplen;
    meta[3] = packet.len;
    meta[4] = 0;
    const cols = this.#columns.fill(new PacketBatch(packet.data, this.#meta, 1), linktype);
    if (cols.fragment[0] === 0) return { status: 'whole' };
    const before = this.#droppedCount();
    const done = this.fragment(packet.data, 0, packet.data.length, cols.ipOffset[0], cols.ipVersion[0], Number(packet.timestamp), frame);
    if (done !== null) return { status: 'reassembled', packet: { timestamp: packet.timestamp, caplen: done.data.length, len: done.data.length, data: done.data }, ...done };
    return this.#droppedCount() > before ? { status: 'dropped', reason: this.#lastReason } : { status: 'held' };
  }

  #lastReason = '';
  #droppedCount(): number {
    const s = this.stats;
    return s.timedOut + s.incomplete + s.evicted + s.tooBig + s.tooManyFragments + s.malformed;
  }

  /**
   * The fragment in d[start, end), its IP header at start + ipOffset:
   * the reassembled datagram when this fragment completes one, else null.
   * nowNs is the packet's time; frame its sequence number.
   */
  fragment(d: Buffer, start: number, end: number, ipOffset: number, version: number, nowNs: number, frame: number): Reassembled | null {
    this.stats.fragments++;
    this.expire(nowNs);
    const ip = start + ipOffset;
    let key: string;
    let offset: number;
    let more: boolean;
    let payloadAt: number;
    let payloadEnd: number;
    let fragmentHeaderAt = -1;
    let nextHeaderAt = -1;
    let nextHeader = 0;
    if (version === 4) {
      const hl = (d[ip] & 0x0f) * 4;
      const total = u16(d, ip + 2);
      const field = u16(d, ip + 6);
      offset = (field & 0x1fff) * 8;
      more = (field & 0x2000) !== 0;
      payloadAt = ip + hl;
      payloadEnd = Math.min(end, ip + total);
      if (this.#hopeless(offset, more, Math.max(0, payloadEnd - payloadAt))) return null;
      key = `4 ${u32(d, ip + 12)} ${u32(d, ip + 16)} ${u16(d, ip + 4)} ${d[ip + 9]}`;
    } else {
      // Walk the chain to the fragment header.
      let at = ip + 40;
      let proto = d[ip + 6];
      let pointer = ip + 6;
      const plen = u16(d, ip + 4);
      payloadEnd = Math.min(end, ip + 40 + plen);
      for (let n = 0; proto !== 44; n++) {
        if (n === 16 || at + 8 > payloadEnd || (proto !== 0 && proto !== 43 && proto !== 51 && proto !== 60)) return this.#malformed(null, 'IPv6 fragment header not found');
        pointer = at;
        at += proto === 51 ? (d[at + 1] + 2) * 4 : (d[at + 1] + 1) * 8;
        proto = d[pointer];
      }
      if (at + 8 > payloadEnd) return this.#malformed(null, 'IPv6 fragment header cut');
      fragmentHeaderAt = at - start;
      nextHeaderAt = pointer - start;
      nextHeader = d[at];
      const field = u16(d, at + 2);
      offset = (field >> 3) * 8;
      more = (field & 1) !== 0;
      payloadAt = at + 8;
      if (this.#hopeless(offset, more, Math.max(0, payloadEnd - payloadAt))) return null;
      key = `6 ${d.toString('hex', ip + 8, ip + 40)} ${u32(d, at + 4)}`;
    }
    const length = Math.max(0, payloadEnd - payloadAt);
    let p = this.#pending.get(key);
    if (p === undefined) {
      p = { key, firstNs: nowNs, head: null, fragmentHeaderAt: -1, nextHeaderAt: -1, nextHeader: 0, ipOffset, total: -1, pieces: [], held: 0, frames: [], conflict: false };
      this.#pending.set(key, p);
      this.stats.pending++;
      while (this.#pending.size > this.maxDatagrams) this.#giveUp(this.#pending.values().next().value!, 'evicted');
    }
    p.frames.push(frame);
    if (p.frames.length > this.maxFragments) return this.#giveUp(p, 'tooManyFragments');
    if (!more) {
      if (p.total >= 0 && p.total !== offset + length) return this.#malformed(p, 'two different last fragments');
      const last = p.pieces.length === 0 ? null : p.pieces[p.pieces.length - 1];
      if (last !== null && last.start + last.bytes.length > offset + length) return this.#malformed(p, 'bytes past the last fragment');
      p.total = offset + length;
    } else if (p.total >= 0 && offset + length > p.total) return this.#malformed(p, 'bytes past the last fragment');
    if (offset === 0 && p.head === null) {
      p.head = Buffer.from(d.subarray(start, payloadAt));
      p.ipOffset = ipOffset;
      p.fragmentHeaderAt = fragmentHeaderAt;
      p.nextHeaderAt = nextHeaderAt;
      p.nextHeader = nextHeader;
    }
    this.#insert(p, offset, d, payloadAt, payloadAt + length);
    while (this.stats.heldBytes > this.maxBytes && this.#pending.size > 0) {
      const oldest = this.#pending.values().next().value!;
      this.#giveUp(oldest, 'evicted');
      if (oldest === p) return null;
    }
    return this.#complete(p);
  }

  /** Gives up the datagrams whose first fragment is older than the timeout at nowNs. */
  expire(nowNs: number): void {
    for (const p of this.#pending.values()) {
      if (nowNs - p.firstNs <= this.timeout) break;
      this.#giveUp(p, 'timedOut');
    }
  }

  /** Gives up everything held (the source ended). */
  clear(): void {
    for (const p of this.#pending.values()) this.#giveUp(p, 'incomplete');
  }

  /** Keeps the bytes d[from, to) at payload offset at, where no earlier fragment put bytes. */
  #insert(p: Pending, at: number, d: Buffer, from: number, to: number): void {
    const stop = at + (to - from);
    let cursor = at;
    const list = p.pieces;
    const added: Piece[] = [];
    for (const x of list) {
      const xEnd = x.start + x.bytes.length;
      if (xEnd <= cursor) continue;
      if (x.start >= stop) break;
      if (x.start > cursor) added.push({ start: cursor, bytes: Buffer.from(d.subarray(from + cursor - at, from + x.start - at)) });
      const overlapEnd = Math.min(stop, xEnd);
      const lo = Math.max(cursor, x.start);
      if (lo < overlapEnd && d.compare(x.bytes, lo - x.start, overlapEnd - x.start, from + lo - at, from + overlapEnd - at) !== 0) p.conflict = true;
      cursor = Math.max(cursor, overlapEnd);
    }
    if (cursor < stop) added.push({ start: cursor, bytes: Buffer.from(d.subarray(from + cursor - at, to)) });
    for (const piece of added) {
      let j = 0;
      while (j < list.length && list[j].start < piece.start) j++;
      list.splice(j, 0, piece);
      p.held += piece.bytes.length;
      this.stats.heldBytes += piece.bytes.length;
    }
  }

  #complete(p: Pending): Reassembled | null {
    if (p.total < 0 || p.head === null) return null;
    let covered = 0;
    for (const x of p.pieces) {
      if (x.start > covered) return null;
      covered = Math.max(covered, x.start + x.bytes.length);
    }
    if (covered < p.total) return null;
    this.#forget(p);
    this.stats.reassembled++;
    if (p.conflict) this.stats.conflicts++;
    let head = p.head;
    const ip = p.ipOffset;
    if (p.fragmentHeaderAt >= 0) {
      // IPv6: drop the fragment header; the header before it now names what followed it.
      head = Buffer.concat([head.subarray(0, p.fragmentHeaderAt), head.subarray(p.fragmentHeaderAt + 8)]);
      head[p.nextHeaderAt] = p.nextHeader;
      head.writeUInt16BE(head.length - ip - 40 + p.total, ip + 4);
    } else {
      head = Buffer.from(head);
      head.writeUInt16BE(head.length - ip + p.total, ip + 2);
      head[ip + 6] &= 0x40; // keep DF, clear MF and the offset
      head[ip + 7] = 0;
      head.writeUInt16BE(0, ip + 10);
      head.writeUInt16BE(ipv4Checksum(head, ip, ip + (head[ip] & 0x0f) * 4), ip + 10);
    }
    const data = Buffer.concat([head, ...p.pieces.map((x) => x.bytes)]);
    return { data, ipOffset: ip, fragments: p.frames, conflict: p.conflict };
  }

  #forget(p: Pending): void {
    this.#pending.delete(p.key);
    this.stats.pending--;
    this.stats.heldBytes -= p.held;
  }

  #giveUp(p: Pending, reason: 'timedOut' | 'incomplete' | 'evicted' | 'tooBig' | 'tooManyFragments' | 'malformed'): null {
    if (this.#pending.get(p.key) === p) {
      this.#forget(p);
      this.stats.bytesGivenUp += p.held;
    }
    this.stats[reason]++;
    this.#lastReason = reason;
    return null;
  }

  /**
   * A fragment that cannot be part of any valid datagram, whatever else
   * comes: past 65,535 bytes, or not the last and not a multiple of 8
   * bytes or under minFragment. It is counted and dropped before its key is
   * built, and gives up nothing held under that key (a stray or spoofed
   * fragment cannot kill a datagram). True when so.
   */
  #hopeless(offset: number, more: boolean, length: number): boolean {
    if (offset + length > MAX_DATAGRAM) {
      this.stats.tooBig++;
      this.#lastReason = 'tooBig';
    } else if (more && (length < this.minFragment || length % 8 !== 0)) {
      this.stats.malformed++;
      this.#lastReason = 'malformed: a fragment that is not the last with a length not a multiple of 8 or under minFragment';
    } else return false;
    return true;
  }

  #malformed(p: Pending | null, why: string): null {
    if (p === null) {
      this.stats.malformed++;
      this.#lastReason = `malformed: ${why}`;
      return null;
    }
    this.#giveUp(p, 'malformed');
    this.#lastReason = `malformed: ${why}`;
    return null;
  }
}

function ipv4Checksum(d: Buffer, from: number, to: number): number {
  let sum = 0;
  for (let i = from; i < to; i += 2) sum += u16(d, i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
