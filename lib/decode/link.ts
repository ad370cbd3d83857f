/** Link layers: Ethernet with 802.1Q/802.1ad tags, Linux cooked v1 and v2, BSD NULL/LOOP and raw IP; then ARP. */
import { cutShort, ipv4Text, macText, payload, stopAt, u16, u32 } from './bytes';
import { ipLayer, ipv4, ipv6 } from './ip';
import type { ArpLayer, Decoded, EthernetLayer, NullLayer, Sll2Layer, SllLayer, VlanLayer } from './types';

export const DLT_NULL = 0;
export const DLT_EN10MB = 1;
/** DLT_RAW is 12 on most systems, 14 on OpenBSD; LINKTYPE_RAW in files is 101. */
export const DLT_RAW = [12, 14, 101];
export const DLT_LOOP = 108;
export const DLT_LINUX_SLL = 113;
export const DLT_LINUX_SLL2 = 276;

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;
/** 802.1Q, 802.1ad and the pre-standard QinQ tag. */
export const isVlanTpid = (t: number): boolean => t === 0x8100 || t === 0x88a8 || t === 0x9100;

/** AF_INET6 differs between BSDs: 24, 28 or 30 (Linux's 10 is seen too). */
export const isInet6Family = (f: number): boolean => f === 24 || f === 28 || f === 30;

/** Tags stacked deeper than this are taken as malformed (real stacks have two). */
const MAX_VLAN_TAGS = 8;

export function link(d: Uint8Array, end: number, linktype: number, out: Decoded): void {
  if (linktype === DLT_EN10MB) ethernet(d, end, out);
  else if (linktype === DLT_LINUX_SLL) sll(d, end, out);
  else if (linktype === DLT_LINUX_SLL2) sll2(d, end, out);
  else if (linktype === DLT_NULL || linktype === DLT_LOOP) loopback(d, end, linktype === DLT_LOOP, out);
  else if (DLT_RAW.includes(linktype)) ipLayer(d, 0, end, out);
  else payload(out, 0, end);
}

function ethernet(d: Uint8Array, end: number, out: Decoded): void {
  if (cutShort(out, 'ethernet', 'ethernet header', 14, 0, end)) return;
  let type = u16(d, 12);
  const eth: EthernetLayer = { layer: 'ethernet', dst: macText(d, 0), src: macText(d, 6), type };
  out.layers.push(eth);
  let off = 14;
  for (let tags = 0; isVlanTpid(type); tags++) {
    if (cutShort(out, 'vlan', '802.1Q tag', 4, off, end)) return;
    const tci = u16(d, off);
    const tpid = type;
    type = u16(d, off + 2);
    const vlan: VlanLayer = { layer: 'vlan', tpid, priority: tci >> 13, dei: (tci >> 12) & 1, id: tci & 0x0fff, type };
    out.layers.push(vlan);
    off += 4;
    if (tags === MAX_VLAN_TAGS) return stopAt(out, vlan, 'malformed', `more than ${MAX_VLAN_TAGS} VLAN tags`, off, end);
  }
  byEthertype(d, off, end, type, out);
}

function sll(d: Uint8Array, end: number, out: Decoded): void {
  if (cutShort(out, 'sll', 'Linux cooked header', 16, 0, end)) return;
  const addressLength = u16(d, 4);
  const layer: SllLayer = {
    layer: 'sll',
    packetType: u16(d, 0),
    hatype: u16(d, 2),
    addressLength,
    address: addressText(d, 6, addressLength),
    protocol: u16(d, 14),
  };
  out.layers.push(layer);
  byEthertype(d, 16, end, layer.protocol, out);
}

function sll2(d: Uint8Array, end: number, out: Decoded): void {
  if (cutShort(out, 'sll2', 'Linux cooked v2 header', 20, 0, end)) return;
  const addressLength = d[11];
  const layer: Sll2Layer = {
    layer: 'sll2',
    protocol: u16(d, 0),
    ifindex: u32(d, 4),
    hatype: u16(d, 8),
    packetType: d[10],
    addressLength,
    address: addressText(d, 12, addressLength),
  };
  out.layers.push(layer);
  byEthertype(d, 20, end, layer.protocol, out);
}

/** A cooked header's link-layer address: its first length bytes of the 8 it has room for. */
const addressText = (d: Uint8Array, o: number, length: number): string => (length === 0 ? '' : macText(d, o, Math.min(length, 8)));

/** DLT_NULL's family is in the capturing host's byte order (guessed as libpcap does); DLT_LOOP's is big-endian. */
function loopback(d: Uint8Array, end: number, bigEndian: boolean, out: Decoded): void {
  if (cutShort(out, 'null', 'loopback header', 4, 0, end)) return;
  let family = bigEndian ? u32(d, 0) : (d[0] | (d[1] << 8) | (d[2] << 16) | (d[3] << 24)) >>> 0;
  if (!bigEndian && (family & 0xffff0000) !== 0) family = u32(d, 0);
  const layer: NullLayer = { layer: 'null', family };
  out.layers.push(layer);
  if (family === 2) ipv4(d, 4, end, out);
  else if (isInet6Family(family)) ipv6(d, 4, end, out);
  else payload(out, 4, end);
}

export function byEthertype(d: Uint8Array, off: number, end: number, type: number, out: Decoded): void {
  if (type === ETHERTYPE_IPV4) ipv4(d, off, end, out);
  else if (type === ETHERTYPE_IPV6) ipv6(d, off, end, out);
  else if (type === ETHERTYPE_ARP) arp(d, off, end, out);
  else payload(out, off, end);
}

function arp(d: Uint8Array, off: number, end: number, out: Decoded): void {
  if (cutShort(out, 'arp', 'ARP header', 8, off, end)) return;
  const layer: ArpLayer = {
    layer: 'arp',
    hardwareType: u16(d, off),
    protocolType: u16(d, off + 2),
    hardwareSize: d[off + 4],
    protocolSize: d[off + 5],
    opcode: u16(d, off + 6),
  };
  out.layers.push(layer);
  const needed = 8 + 2 * (layer.hardwareSize + layer.protocolSize);
  if (end - off < needed) return stopAt(out, layer, 'truncated', `ARP addresses need ${needed} bytes, ${end - off} captured`, off + 8, end);
  if (layer.hardwareSize === 6 && layer.protocolSize === 4) {
    layer.senderMac = macText(d, off + 8);
    layer.senderIp = ipv4Text(d, off + 14);
    layer.targetMac = macText(d, off + 18);
    layer.targetIp = ipv4Text(d, off + 24);
  }
  payload(out, off + needed, end);
}
