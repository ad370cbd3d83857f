/**
 * The batch path: the fields most questions need, for every packet of a
 * PacketBatch, written into typed-array columns that are reused from batch
 * to batch, so decoding allocates nothing per packet. It walks the same
 * headers as decode() but stops after TCP/UDP (no DNS, no options).
 */
import type { PacketBatch } from '../capture/batch';
import { DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_LOOP, DLT_NULL, DLT_RAW, ETHERTYPE_IPV4, ETHERTYPE_IPV6, isInet6Family, isVlanTpid } from './link';

/** status column values. */
const COLUMN_OK = 0;
const COLUMN_TRUNCATED = 1;
const COLUMN_MALFORMED = 2;

export class PacketColumns {
  /** Packets filled by the last fill(). */
  count = 0;
  /** 4, 6, or 0 for a packet without IP. */
  ipVersion!: Uint8Array;
  /** The IP protocol (after IPv6's extension headers). */
  protocol!: Uint8Array;
  /** IPv4 addresses as big-endian numbers (10.0.0.1 is 0x0a000001); 0 for IPv6. */
  src4!: Uint32Array;
  dst4!: Uint32Array;
  /** IPv6 addresses, 16 bytes per packet (packet i at 16 * i); zeros for IPv4. */
  src6!: Uint8Array;
  dst6!: Uint8Array;
  /** TCP and UDP ports; 0 otherwise. */
  srcPort!: Uint16Array;
  dstPort!: Uint16Array;
  /** TCP flags as decode() gives them; 0 otherwise. */
  tcpFlags!: Uint16Array;
  /** Where the bytes after the last header read start, from the packet's start, and how many were captured. */
  payloadOffset!: Uint32Array;
  payloadLength!: Uint32Array;
  /** 0 when every header read was whole, 1 when one was cut (truncated), 2 when one was malformed. */
  status!: Uint8Array;
  /** Where the (outer) IP header starts, from the packet's start; 0 without IP. */
  ipOffset!: Uint32Array;
  /** Where the TCP or UDP header starts, from the packet's start; 0 otherwise. */
  transportOffset!: Uint32Array;
  /** 1 when the IP datagram is a fragment (an IPv4 offset or MF flag, or an IPv6 fragment header). */
  fragment!: Uint8Array;
  /** The outermost 802.1Q/802.1ad tag's VLAN id; 0 untagged. */
  vlan!: Uint16Array;
  #capacity = 0;
  /** The address columns as words, to clear them quickly. */
  #src6Words!: Uint32Array;
  #dst6Words!: Uint32Array;

  constructor(capacity = 4096) {
    this.#allocate(capacity);
  }

  #allocate(capacity: number): void {
    this.#capacity = capacity;
    this.ipVersion = new Uint8Array(capacity);
    this.protocol = new Uint8Array(capacity);
    this.src4 = new Uint32Array(capacity);
    this.dst4 = new Uint32Array(capacity);
    this.src6 = new Uint8Array(16 * capacity);
    this.dst6 = new Uint8Array(16 * capacity);
    this.#src6Words = new Uint32Array(this.src6.buffer);
    this.#dst6Words = new Uint32Array(this.dst6.buffer);
    this.srcPort = new Uint16Array(capacity);
    this.dstPort = new Uint16Array(capacity);
    this.tcpFlags = new Uint16Array(capacity);
    this.payloadOffset = new Uint32Array(capacity);
    this.payloadLength = new Uint32Array(capacity);
    this.status = new Uint8Array(capacity);
    this.ipOffset = new Uint32Array(capacity);
    this.transportOffset = new Uint32Array(capacity);
    this.fragment = new Uint8Array(capacity);
    this.vlan = new Uint16Array(capacity);
  }

  /** Decodes every packet of batch (captured with linktype) into the columns; they grow if the batch is larger. */
  fill(batch: PacketBatch, linktype: number): this {
    if (batch.count > this.#capacity) this.#allocate(Math.max(batch.count, 2 * this.#capacity));
    const d = batch.data;
    const offsets = batch.offsets;
    const caplens = batch.caplens;
    for (let i = 0; i < batch.count; i++) this.#packet(d, offsets[i], offsets[i] + caplens[i], linktype, i);
    this.count = batch.count;
    return this;
  }

  /** Decodes one packet, d[start, end) captured with linktype, into row 0 (count 1); offsets are from start. */
  fillPacket(d: Uint8Array, start: number, end: number, linktype: number): this {
    this.#packet(d, start, end, linktype, 0);
    this.count = 1;
    return this;
  }

  #packet(d: Uint8Array, start: number, end: number, linktype: number, i: number): void {
    this.ipVersion[i] = 0;
    this.protocol[i] = 0;
    this.src4[i] = 0;
    this.dst4[i] = 0;
    this.srcPort[i] = 0;
    this.dstPort[i] = 0;
    this.tcpFlags[i] = 0;
    this.status[i] = COLUMN_OK;
    this.ipOffset[i] = 0;
    this.transportOffset[i] = 0;
    this.fragment[i] = 0;
    this.vlan[i] = 0;
    const w = this.#src6Words;
    const x = this.#dst6Words;
    w[4 * i] = w[4 * i + 1] = w[4 * i + 2] = w[4 * i + 3] = 0;
    x[4 * i] = x[4 * i + 1] = x[4 * i + 2] = x[4 * i + 3] = 0;
    let off = start;
    // The link layer: where IP starts, and which IP (0: by its version nibble).
    let version = 0;
    if (linktype === DLT_EN10MB) {
      off += 14;
      if (off > end) return this.#stop(i, start, start, end, COLUMN_TRUNCATED);
      let type = (d[off - 2] << 8) | d[off - 1];
      for (let tags = 0; isVlanTpid(type); tags++) {
        off += 4;
        if (off > end) return this.#stop(i, start, off - 4, end, COLUMN_TRUNCATED);
        if (tags === 8) return this.#stop(i, start, off, end, COLUMN_MALFORMED);
        if (tags === 0) this.vlan[i] = ((d[off - 4] << 8) | d[off - 3]) & 0x0fff;
        type = (d[off - 2] << 8) | d[off - 1];
      }
      version = type === ETHERTYPE_IPV4 ? 4 : type === ETHERTYPE_IPV6 ? 6 : -1;
    } else if (linktype === DLT_LINUX_SLL || linktype === DLT_LINUX_SLL2) {
      const v2 = linktype === DLT_LINUX_SLL2;
      off += v2 ? 20 : 16;
      if (off > end) return this.#stop(i, start, start, end, COLUMN_TRUNCATED);
      const type = v2 ? (d[start] << 8) | d[start + 1] : (d[start + 14] << 8) | d[start + 15];
      version = type === ETHERTYPE_IPV4 ? 4 : type === ETHERTYPE_IPV6 ? 6 : -1;
    } else if (linktype === DLT_NULL || linktype === DLT_LOOP) {
      off += 4;
      if (off > end) return this.#stop(i, start, start, end, COLUMN_TRUNCATED);
      let family = ((d[start] << 24) | (d[start + 1] << 16) | (d[start + 2] << 8) | d[start + 3]) >>> 0;
      if (linktype === DLT_NULL) {
        const le = (d[start] | (d[start + 1] << 8) | (d[start + 2] << 16) | (d[start + 3] << 24)) >>> 0;
        if ((le & 0xffff0000) === 0) family = le;
      }
      version = family === 2 ? 4 : isInet6Family(family) ? 6 : -1;
    } else if (!DLT_RAW.includes(linktype)) version = -1;
    if (version < 0) return this.#stop(i, start, off, end, COLUMN_OK);
    if (off >= end) return this.#stop(i, start, off, end, COLUMN_TRUNCATED);
    if (version === 0) version = d[off] >> 4 === 6 ? 6 : 4;
    this.ipOffset[i] = off - start;
    // IP: where the transport header starts and where the datagram ends.
    let proto: number;
    let ipEnd: number;
    if (version === 4) {
      if (end - off < 20) return this.#stop(i, start, off, end, COLUMN_TRUNCATED);
      const headerLength = (d[off] & 0x0f) * 4;
      const total = (d[off + 2] << 8) | d[off + 3];
      this.ipVersion[i] = 4;
      proto = d[off + 9];
      this.protocol[i] = proto;
      this.src4[i] = ((d[off + 12] << 24) | (d[off + 13] << 16) | (d[off + 14] << 8) | d[off + 15]) >>> 0;
      this.dst4[i] = ((d[off + 16] << 24) | (d[off + 17] << 16) | (d[off + 18] << 8) | d[off + 19]) >>> 0;
      if (d[off] >> 4 !== 4 || headerLength < 20 || total < headerLength) return this.#stop(i, start, off, end, COLUMN_MALFORMED);
      if (end - off < headerLength) return this.#stop(i, start, off, end, COLUMN_TRUNCATED);
      ipEnd = Math.min(end, off + total);
      off += headerLength;
      const fragment = ((d[off - headerLength + 6] << 8) | d[off - headerLength + 7]) & 0x3fff;
      if (fragment !== 0) this.fragment[i] = 1;
      if ((fragment & 0x1fff) !== 0) return this.#stop(i, start, off, ipEnd, COLUMN_OK);
    } else {
      if (end - off < 40) return this.#stop(i, start, off, end, COLUMN_TRUNCATED);
      this.ipVersion[i] = 6;
      // Byte by byte: set(subarray()) would make a Buffer per packet.
      const s6 = this.src6;
      const d6 = this.dst6;
      for (let k = 0, o = 16 * i; k < 16; k++, o++) {
        s6[o] = d[off + 8 + k];
        d6[o] = d[off + 24 + k];
      }
      const payloadLength = (d[off + 4] << 8) | d[off + 5];
      proto = d[off + 6];
      this.protocol[i] = proto;
      if (d[off] >> 4 !== 6) return this.#stop(i, start, off, end, COLUMN_MALFORMED);
      ipEnd = payloadLength === 0 ? end : Math.min(end, off + 40 + payloadLength);
      off += 40;
      for (let n = 0; proto === 0 || proto === 43 || proto === 44 || proto === 51 || proto === 60; n++) {
        if (n === 16) return this.#stop(i, start, off, ipEnd, COLUMN_MALFORMED);
        if (ipEnd - off < 8) return this.#stop(i, start, off, ipEnd, COLUMN_TRUNCATED);
        const length = proto === 44 ? 8 : proto === 51 ? (d[off + 1] + 2) * 4 : (d[off + 1] + 1) * 8;
        if (ipEnd - off < length) return this.#stop(i, start, off, ipEnd, COLUMN_TRUNCATED);
        const later = proto === 44 && ((d[off + 2] << 8) | d[off + 3]) >> 3 !== 0;
        if (proto === 44) this.fragment[i] = 1;
        proto = d[off];
        this.protocol[i] = proto;
        off += length;
        if (later) return this.#stop(i, start, off, ipEnd, COLUMN_OK);
      }
    }
    // TCP and UDP.
    if (proto === 6 || proto === 17) this.transportOffset[i] = off - start;
    if (proto === 6) {
      if (ipEnd - off < 20) return this.#stop(i, start, off, ipEnd, COLUMN_TRUNCATED);
      this.srcPort[i] = (d[off] << 8) | d[off + 1];
      this.dstPort[i] = (d[off + 2] << 8) | d[off + 3];
      this.tcpFlags[i] = ((d[off + 12] << 8) | d[off + 13]) & 0x0fff;
      const headerLength = (d[off + 12] >> 4) * 4;
      if (headerLength < 20) return this.#stop(i, start, off + 20, ipEnd, COLUMN_MALFORMED);
      if (ipEnd - off < headerLength) return this.#stop(i, start, ipEnd, ipEnd, COLUMN_TRUNCATED);
      return this.#stop(i, start, off + headerLength, ipEnd, COLUMN_OK);
    }
    if (proto === 17) {
      if (ipEnd - off < 8) return this.#stop(i, start, off, ipEnd, COLUMN_TRUNCATED);
      this.srcPort[i] = (d[off] << 8) | d[off + 1];
      this.dstPort[i] = (d[off + 2] << 8) | d[off + 3];
      const length = (d[off + 4] << 8) | d[off + 5];
      if (length < 8) return this.#stop(i, start, off + 8, ipEnd, COLUMN_MALFORMED);
      return this.#stop(i, start, off + 8, Math.min(ipEnd, off + length), COLUMN_OK);
    }
    this.#stop(i, start, off, ipEnd, COLUMN_OK);
  }

  #stop(i: number, start: number, off: number, end: number, status: number): void {
    this.payloadOffset[i] = off - start;
    this.payloadLength[i] = end > off ? end - off : 0;
    this.status[i] = status;
  }
}
