/**
 * Flow keys, and the common case read in place (EthernetReader): an
 * Ethernet frame (no VLAN tag) of IPv4 without options and not a fragment,
 * or of IPv6 with no extension header, carrying a whole TCP or UDP header.
 * Reading these few header fields where they lie, rather than decoding
 * every field of every packet into PacketColumns first, is most of what
 * the tracker saves per packet; any other frame is left to PacketColumns.
 */
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from '../decode/link';
import { hashKey, KEY_WORDS } from './table';


/**
 * Writes the key's addresses and ports, smaller endpoint first, into
 * w[o..o + 9) for IPv4 addresses a and b (as int32): true when the source
 * is the first endpoint. The caller writes w[o + 9].
 */
export function key4(w: Uint32Array, o: number, a: number, b: number, sp: number, dp: number): boolean {
  const ua = a >>> 0;
  const ub = b >>> 0;
  const srcIsA = ua < ub || (ua === ub && sp <= dp);
  w[o] = srcIsA ? ua : ub;
  w[o + 4] = srcIsA ? ub : ua;
  w[o + 1] = w[o + 2] = w[o + 3] = w[o + 5] = w[o + 6] = w[o + 7] = 0;
  w[o + 8] = srcIsA ? ((sp << 16) | dp) >>> 0 : ((dp << 16) | sp) >>> 0;
  return srcIsA;
}

/** As key4, for IPv6 addresses at s6[so..so + 16) and d6[dO..dO + 16). */
export function key6(w: Uint32Array, o: number, s6: Uint8Array, so: number, d6: Uint8Array, dO: number, sp: number, dp: number): boolean {
  let cmp = 0;
  for (let k = 0; k < 16 && cmp === 0; k++) cmp = s6[so + k] - d6[dO + k];
  const srcIsA = cmp < 0 || (cmp === 0 && sp <= dp);
  const x = srcIsA ? s6 : d6;
  const y = srcIsA ? d6 : s6;
  const xo = srcIsA ? so : dO;
  const yo = srcIsA ? dO : so;
  for (let k = 0; k < 4; k++) {
    const q = 4 * k;
    w[o + k] = ((x[xo + q] << 24) | (x[xo + q + 1] << 16) | (x[xo + q + 2] << 8) | x[xo + q + 3]) >>> 0;
    w[o + 4 + k] = ((y[yo + q] << 24) | (y[yo + q + 1] << 16) | (y[yo + q + 2] << 8) | y[yo + q + 3]) >>> 0;
  }
  w[o + 8] = srcIsA ? ((sp << 16) | dp) >>> 0 : ((dp << 16) | sp) >>> 0;
  return srcIsA;
}

/**
 * Reads two bytes of each frame's first 74 (where its headers lie) in one
 * tight loop, before the frames are read one by one: the CPU then waits
 * for those cache misses together rather than one per frame (about 5 % of
 * the tracker's CPU on bench/flows' read trace). Returns a value made of
 * the bytes read, for the caller to keep (so the reads stay).
 */
export function touchHeaders(d: Uint8Array, offsets: Uint32Array, caplens: Uint32Array, count: number): number {
  let x = 0;
  for (let i = 0; i < count; i++) {
    if (caplens[i] > 73) x += d[offsets[i] + 13] + d[offsets[i] + 73];
  }
  return x;
}

export class EthernetReader {
  /** The last frame read's key (KEY_WORDS words) and its hash. */
  readonly key = new Uint32Array(KEY_WORDS);
  hash = 0;
  /** Its source is the key's first endpoint. */
  srcIsA = false;
  proto = 0;
  /** TCP flags; 0 for UDP. */
  flags = 0;
  srcPort = 0;
  dstPort = 0;
  /** Where its transport header and payload start in the bytes read, and the payload's length. */
  transport = 0;
  payloadAt = 0;
  payloadLength = 0;

  /** Reads the frame d[start, end): true when it is one of the common case (its fields set), false (nothing set) for any other. The checks are PacketColumns' own for these headers. */
  read(d: Uint8Array, start: number, end: number): boolean {
    const ip = start + 14;
    if (end - ip < 28) return false;
    const type = (d[start + 12] << 8) | d[start + 13];
    let proto: number;
    let t: number;
    let ipEnd: number;
    if (type === ETHERTYPE_IPV4) {
      const total = (d[ip + 2] << 8) | d[ip + 3];
      if (d[ip] !== 0x45 || total < 20 || (((d[ip + 6] << 8) | d[ip + 7]) & 0x3fff) !== 0) return false;
      proto = d[ip + 9];
      t = ip + 20;
      ipEnd = Math.min(end, ip + total);
    } else if (type === ETHERTYPE_IPV6) {
      const plen = (d[ip + 4] << 8) | d[ip + 5];
      if (end - ip < 48 || d[ip] >> 4 !== 6 || plen === 0) return false;
      proto = d[ip + 6];
      t = ip + 40;
      ipEnd = Math.min(end, t + plen);
    } else return false;
    let po: number;
    let pl: number;
    let flags = 0;
    if (proto === 6) {
      if (ipEnd - t < 20) return false;
      const hl = (d[t + 12] >> 4) * 4;
      if (hl < 20 || ipEnd - t < hl) return false;
      flags = ((d[t + 12] << 8) | d[t + 13]) & 0x0fff;
      po = t + hl;
      pl = ipEnd - po;
    } else if (proto === 17) {
      if (ipEnd - t < 8) return false;
      const length = (d[t + 4] << 8) | d[t + 5];
      if (length < 8) return false;
      po = t + 8;
      const stop = Math.min(ipEnd, t + length);
      pl = stop > po ? stop - po : 0;
    } else return false;
    const sp = (d[t] << 8) | d[t + 1];
    const dp = (d[t + 2] << 8) | d[t + 3];
    const w = this.key;
    this.srcIsA =
      type === ETHERTYPE_IPV4
        ? key4(w, 0, (d[ip + 12] << 24) | (d[ip + 13] << 16) | (d[ip + 14] << 8) | d[ip + 15], (d[ip + 16] << 24) | (d[ip + 17] << 16) | (d[ip + 18] << 8) | d[ip + 19], sp, dp)
        : key6(w, 0, d, ip + 8, d, ip + 24, sp, dp);
    w[9] = proto | ((type === ETHERTYPE_IPV4 ? 4 : 6) << 8);
    this.hash = hashKey(w, 0);
    this.proto = proto;
    this.flags = flags;
    this.srcPort = sp;
    this.dstPort = dp;
    this.transport = t;
    this.payloadAt = po;
    this.payloadLength = pl;
    return true;
  }
}
