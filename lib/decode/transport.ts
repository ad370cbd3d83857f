/** TCP with its options, UDP, ICMP and ICMPv6 with neighbour discovery; DNS on port 53 (5353 for mDNS). */
import { cutShort, ipv6Text, macText, payload, stopAt, u16, u32 } from './bytes';
import { dns } from './dns';
import type { Decoded, Icmpv6Layer, IcmpLayer, NdOption, TcpLayer, UdpLayer } from './types';

export const isDnsPort = (p: number): boolean => p === 53 || p === 5353;

export function transport(d: Uint8Array, off: number, end: number, proto: number, out: Decoded): void {
  if (proto === 6) tcp(d, off, end, out);
  else if (proto === 17) udp(d, off, end, out);
  else if (proto === 1) icmp(d, off, end, out);
  else if (proto === 58) icmpv6(d, off, end, out);
  else payload(out, off, end);
}

function tcp(d: Uint8Array, off: number, end: number, out: Decoded): void {
  if (cutShort(out, 'tcp', 'TCP header', 20, off, end)) return;
  const headerLength = (d[off + 12] >> 4) * 4;
  const layer: TcpLayer = {
    layer: 'tcp',
    srcPort: u16(d, off),
    dstPort: u16(d, off + 2),
    seq: u32(d, off + 4),
    ack: u32(d, off + 8),
    headerLength,
    flags: u16(d, off + 12) & 0x0fff,
    window: u16(d, off + 14),
    checksum: u16(d, off + 16),
    urgentPointer: u16(d, off + 18),
  };
  out.layers.push(layer);
  if (headerLength < 20) return stopAt(out, layer, 'malformed', `TCP header length ${headerLength} is under 20`, off + 20, end);
  const optionsEnd = off + headerLength;
  const bad = tcpOptions(d, off + 20, Math.min(optionsEnd, end), layer);
  if (bad !== null) return stopAt(out, layer, 'malformed', bad, Math.min(optionsEnd, end), end);
  if (optionsEnd > end) return stopAt(out, layer, 'truncated', `TCP header with options needs ${headerLength} bytes, ${end - off} captured`, end, end);
  // DNS over TCP: a two-byte length, then the message (as a segment that holds it from its start).
  if ((isDnsPort(layer.srcPort) || isDnsPort(layer.dstPort)) && end - optionsEnd >= 2 + 12) {
    return dns(d, optionsEnd + 2, Math.min(end, optionsEnd + 2 + u16(d, optionsEnd)), out);
  }
  payload(out, optionsEnd, end);
}

/** Fills layer's option fields from the options in [off, end); a reason when one's length is wrong. */
function tcpOptions(d: Uint8Array, off: number, end: number, layer: TcpLayer): string | null {
  while (off < end) {
    const kind = d[off];
    if (kind === 0) return null;
    if (kind === 1) {
      off++;
      continue;
    }
    if (off + 1 >= end) return null; // cut in the capture: the caller reports it
    const length = d[off + 1];
    if (length < 2) return `TCP option ${kind} length ${length} is under 2`;
    if (off + length > end) return null;
    if (kind === 2) {
      if (length !== 4) return `TCP MSS option length ${length} is not 4`;
      layer.mss = u16(d, off + 2);
    } else if (kind === 3) {
      if (length !== 3) return `TCP window scale option length ${length} is not 3`;
      layer.windowScale = d[off + 2];
    } else if (kind === 4) {
      if (length !== 2) return `TCP SACK permitted option length ${length} is not 2`;
      layer.sackPermitted = true;
    } else if (kind === 5) {
      if ((length - 2) % 8 !== 0) return `TCP SACK option length ${length} is not 2 + 8n`;
      const sack = (layer.sack ??= []);
      for (let i = off + 2; i < off + length; i += 4) sack.push(u32(d, i));
    } else if (kind === 8) {
      if (length !== 10) return `TCP timestamps option length ${length} is not 10`;
      layer.timestamp = { value: u32(d, off + 2), echo: u32(d, off + 6) };
    }
    off += length;
  }
  return null;
}

function udp(d: Uint8Array, off: number, end: number, out: Decoded): void {
  if (cutShort(out, 'udp', 'UDP header', 8, off, end)) return;
  const layer: UdpLayer = { layer: 'udp', srcPort: u16(d, off), dstPort: u16(d, off + 2), length: u16(d, off + 4), checksum: u16(d, off + 6) };
  out.layers.push(layer);
  if (layer.length < 8) return stopAt(out, layer, 'malformed', `UDP length ${layer.length} is under 8`, off + 8, end);
  const udpEnd = Math.min(end, off + layer.length);
  if (isDnsPort(layer.srcPort) || isDnsPort(layer.dstPort)) return dns(d, off + 8, udpEnd, out);
  payload(out, off + 8, udpEnd);
}

function icmp(d: Uint8Array, off: number, end: number, out: Decoded): void {
  if (cutShort(out, 'icmp', 'ICMP header', 4, off, end)) return;
  const layer: IcmpLayer = { layer: 'icmp', type: d[off], code: d[off + 1], checksum: u16(d, off + 2) };
  out.layers.push(layer);
  if (layer.type !== 0 && layer.type !== 8) return payload(out, off + 4, end);
  if (end - off < 8) return stopAt(out, layer, 'truncated', `ICMP echo needs 8 bytes, ${end - off} captured`, off + 4, end);
  layer.id = u16(d, off + 4);
  layer.seq = u16(d, off + 6);
  payload(out, off + 8, end);
}

/** Where each neighbour discovery message's options start, and the fixed part before them. */
const ND_OPTIONS_AT: Record<number, number> = { 133: 8, 134: 16, 135: 24, 136: 24, 137: 40 };

function icmpv6(d: Uint8Array, off: number, end: number, out: Decoded): void {
  if (cutShort(out, 'icmpv6', 'ICMPv6 header', 4, off, end)) return;
  const type = d[off];
  const layer: Icmpv6Layer = { layer: 'icmpv6', type, code: d[off + 1], checksum: u16(d, off + 2) };
  out.layers.push(layer);
  if (type === 128 || type === 129) {
    if (end - off < 8) return stopAt(out, layer, 'truncated', `ICMPv6 echo needs 8 bytes, ${end - off} captured`, off + 4, end);
    layer.id = u16(d, off + 4);
    layer.seq = u16(d, off + 6);
    return payload(out, off + 8, end);
  }
  const optionsAt = ND_OPTIONS_AT[type];
  if (optionsAt === undefined) return payload(out, off + 4, end);
  if (end - off < optionsAt) return stopAt(out, layer, 'truncated', `ICMPv6 type ${type} needs ${optionsAt} bytes, ${end - off} captured`, off + 4, end);
  if (type === 134) {
    layer.curHopLimit = d[off + 4];
    layer.ndFlags = d[off + 5];
    layer.routerLifetime = u16(d, off + 6);
  } else if (type === 135 || type === 136 || type === 137) {
    layer.targetAddress = ipv6Text(d, off + 8);
    if (type === 136) layer.ndFlags = d[off + 4] >> 5;
    if (type === 137) layer.destinationAddress = ipv6Text(d, off + 24);
  }
  const options: NdOption[] = (layer.options = []);
  let at = off + optionsAt;
  while (at < end) {
    if (end - at < 2) return stopAt(out, layer, 'truncated', 'ND option cut before its length', at, end);
    const length = d[at + 1] * 8;
    if (length === 0) return stopAt(out, layer, 'malformed', `ND option ${d[at]} has length 0`, at, end);
    if (end - at < length) return stopAt(out, layer, 'truncated', `ND option ${d[at]} needs ${length} bytes, ${end - at} captured`, at, end);
    const option: NdOption = { type: d[at], length };
    if ((option.type === 1 || option.type === 2) && length === 8) option.linkLayerAddress = macText(d, at + 2);
    else if (option.type === 3 && length === 32) {
      option.prefixLength = d[at + 2];
      option.prefix = ipv6Text(d, at + 16);
    } else if (option.type === 5 && length === 8) option.mtu = u32(d, at + 4);
    options.push(option);
    at += length;
  }
  payload(out, end, end);
}
