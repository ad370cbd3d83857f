/** IPv4 with options and fragments, IPv6 with its extension header chain. */
import { cutShort, hexText, ipv4Text, ipv6Text, NONE, payload, stopAt, u16, u32 } from './bytes';
import { transport } from './transport';
import type { Decoded, Ipv4Layer, Ipv4Option, Ipv6Extension, Ipv6Layer } from './types';

/** Extension headers beyond this many are taken as malformed. */
const MAX_EXTENSIONS = 16;
/** IP in IP deeper than this is taken as malformed (keeps crafted nesting linear and short). */
const MAX_LAYERS = 24;

/** Raw IP: the version nibble says which (none captured: IPv4, which reports the cut). */
export function ipLayer(d: Uint8Array, off: number, end: number, out: Decoded): void {
  if (end > off && d[off] >> 4 === 6) ipv6(d, off, end, out);
  else ipv4(d, off, end, out);
}

export function ipv4(d: Uint8Array, off: number, end: number, out: Decoded): void {
  if (cutShort(out, 'ipv4', 'IPv4 header', 20, off, end)) return;
  const headerLength = (d[off] & 0x0f) * 4;
  const fragment = u16(d, off + 6);
  const layer: Ipv4Layer = {
    layer: 'ipv4',
    headerLength,
    dscp: d[off + 1] >> 2,
    ecn: d[off + 1] & 3,
    totalLength: u16(d, off + 2),
    id: u16(d, off + 4),
    flags: fragment >> 13,
    fragmentOffset: fragment & 0x1fff,
    ttl: d[off + 8],
    protocol: d[off + 9],
    checksum: u16(d, off + 10),
    src: ipv4Text(d, off + 12),
    dst: ipv4Text(d, off + 16),
    options: NONE,
  };
  out.layers.push(layer);
  if (d[off] >> 4 !== 4) return stopAt(out, layer, 'malformed', `IP version ${d[off] >> 4} in an IPv4 header`, off, end);
  if (headerLength < 20) return stopAt(out, layer, 'malformed', `IPv4 header length ${headerLength} is under 20`, off, end);
  if (layer.totalLength < headerLength) {
    return stopAt(out, layer, 'malformed', `IPv4 total length ${layer.totalLength} is under the header length ${headerLength}`, off, end);
  }
  if (end - off < headerLength) return stopAt(out, layer, 'truncated', `IPv4 header with options needs ${headerLength} bytes, ${end - off} captured`, off, end);
  // What the header says the datagram holds (anything beyond is link padding).
  const ipEnd = Math.min(end, off + layer.totalLength);
  const bad = headerLength === 20 ? null : ipv4Options(d, off + 20, off + headerLength, (layer.options = []));
  if (bad !== null) return stopAt(out, layer, 'malformed', bad, off + headerLength, ipEnd);
  // Later fragments carry no transport header (nothing is reassembled).
  if (layer.fragmentOffset !== 0) return payload(out, off + headerLength, ipEnd);
  if (out.layers.length >= MAX_LAYERS) return stopAt(out, layer, 'malformed', 'too many nested layers', off + headerLength, ipEnd);
  next(d, off + headerLength, ipEnd, layer.protocol, out);
}

/** Options between off and end into list; a reason when their lengths do not fit. */
function ipv4Options(d: Uint8Array, off: number, end: number, list: Ipv4Option[]): string | null {
  while (off < end) {
    const type = d[off];
    if (type === 0) {
      list.push({ type, length: 1, data: '' });
      return null;
    }
    if (type === 1) {
      list.push({ type, length: 1, data: '' });
      off++;
      continue;
    }
    if (off + 1 >= end) return `IPv4 option ${type} has no length byte`;
    const length = d[off + 1];
    if (length < 2 || off + length > end) return `IPv4 option ${type} length ${length} does not fit the header`;
    list.push({ type, length, data: hexText(d, off + 2, off + length) });
    off += length;
  }
  return null;
}

export function ipv6(d: Uint8Array, off: number, end: number, out: Decoded): void {
  if (cutShort(out, 'ipv6', 'IPv6 header', 40, off, end)) return;
  const first = u32(d, off);
  const layer: Ipv6Layer = {
    layer: 'ipv6',
    trafficClass: (first >>> 20) & 0xff,
    flowLabel: first & 0xfffff,
    payloadLength: u16(d, off + 4),
    nextHeader: d[off + 6],
    hopLimit: d[off + 7],
    src: ipv6Text(d, off + 8),
    dst: ipv6Text(d, off + 24),
    extensions: NONE,
    protocol: d[off + 6],
  };
  out.layers.push(layer);
  if (first >>> 28 !== 6) return stopAt(out, layer, 'malformed', `IP version ${first >>> 28} in an IPv6 header`, off, end);
  // A payload length of 0 is a jumbogram's: the capture says where it ends.
  const ipEnd = layer.payloadLength === 0 ? end : Math.min(end, off + 40 + layer.payloadLength);
  let at = off + 40;
  let proto = layer.nextHeader;
  const extensions: Ipv6Extension[] = [];
  for (;;) {
    if (proto !== 0 && proto !== 43 && proto !== 44 && proto !== 51 && proto !== 60) break;
    if (extensions.length === MAX_EXTENSIONS) return stopAt(out, layer, 'malformed', `more than ${MAX_EXTENSIONS} extension headers`, at, ipEnd);
    if (ipEnd - at < 8) return stopAt(out, layer, 'truncated', `IPv6 extension header ${proto} needs 8 bytes, ${Math.max(0, ipEnd - at)} captured`, at, ipEnd);
    const length = proto === 44 ? 8 : proto === 51 ? (d[at + 1] + 2) * 4 : (d[at + 1] + 1) * 8;
    const ext: Ipv6Extension = { type: proto, nextHeader: d[at], length };
    if (proto === 44) {
      const fo = u16(d, at + 2);
      ext.fragmentOffset = fo >> 3;
      ext.more = (fo & 1) === 1;
      ext.id = u32(d, at + 4);
    } else if (proto === 43) {
      ext.routingType = d[at + 2];
      ext.segmentsLeft = d[at + 3];
    }
    if (extensions.length === 0) layer.extensions = extensions;
    extensions.push(ext);
    if (ipEnd - at < length) return stopAt(out, layer, 'truncated', `IPv6 extension header ${proto} needs ${length} bytes, ${ipEnd - at} captured`, at, ipEnd);
    at += length;
    proto = ext.nextHeader;
    layer.protocol = proto;
    if (ext.fragmentOffset !== undefined && ext.fragmentOffset !== 0) return payload(out, at, ipEnd);
  }
  if (out.layers.length >= MAX_LAYERS) return stopAt(out, layer, 'malformed', 'too many nested layers', at, ipEnd);
  next(d, at, ipEnd, proto, out);
}

function next(d: Uint8Array, off: number, end: number, proto: number, out: Decoded): void {
  if (proto === 4) ipv4(d, off, end, out);
  else if (proto === 41) ipv6(d, off, end, out);
  else transport(d, off, end, proto, out);
}
