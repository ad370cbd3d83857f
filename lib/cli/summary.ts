/**
 * One-line, tcpdump-like summaries of packets for the CLI, written from
 * decode()'s layers. A packet cut short ends in [|proto]; one whose headers
 * contradict themselves ends in (malformed: reason).
 */
import { decode } from '../decode';
import type { Decoded, Ipv4Layer, Ipv6Layer, Layer } from '../decode/types';

/** How a layer cut short is written: [|proto] as tcpdump does. */
const CUT_NAMES: Record<string, string> = { ethernet: '[|ether]', ipv4: 'IP [|ip]', ipv6: 'IP6 [|ip6]', tcp: 'TCP [|tcp]', udp: 'UDP [|udp]', icmp: 'ICMP [|icmp]', icmpv6: 'ICMP6 [|icmp]' };
const cutText = (of: string): string => CUT_NAMES[of] ?? `[|${of}]`;

/** decoded is decode(data, linktype), for a caller that has it already. */
export function summarize(linktype: number, data: Uint8Array, decoded: Decoded = decode(data, linktype)): string {
  const { layers } = decoded;
  if (layers.length === 0) return `linktype ${linktype}, length ${data.length}`;
  const parts: string[] = [];
  let ip: Ipv4Layer | Ipv6Layer | null = null;
  let text = '';
  for (const l of layers) {
    if (l.layer === 'vlan') parts.push(`vlan ${l.id}`);
    else if (l.layer === 'ipv4' || l.layer === 'ipv6') ip = l;
    else if (l.layer === 'arp') text = arp(l);
  }
  const last = layers[layers.length - 1];
  if (ip !== null) text = ipText(ip, layers, decoded);
  else if (last.layer === 'cut') text = cutText(last.of);
  else if (last.layer === 'null') text = `loopback family ${last.family}, length ${decoded.payloadLength}`;
  else if (text === '' && 'type' in last) text = `ethertype 0x${last.type.toString(16).padStart(4, '0')}, length ${decoded.payloadLength}`;
  else if (text === '' && (last.layer === 'sll' || last.layer === 'sll2')) text = `ethertype 0x${last.protocol.toString(16).padStart(4, '0')}, length ${decoded.payloadLength}`;
  if ('malformed' in last && last.malformed !== undefined) text += ` (malformed: ${last.malformed})`;
  parts.push(text);
  return parts.join(', ');
}

/** The IP layer's line: addresses, then what it carries. */
function ipText(ip: Ipv4Layer | Ipv6Layer, layers: Layer[], decoded: Decoded): string {
  const label = ip.layer === 'ipv4' ? 'IP' : 'IP6';
  const length =
    ip.layer === 'ipv4' ? Math.max(0, ip.totalLength - ip.headerLength) : Math.max(0, ip.extensions.reduce((n, x) => n - x.length, ip.payloadLength));
  const upper = layers[layers.indexOf(ip) + 1];
  const fragment = ip.layer === 'ipv4' ? ip.fragmentOffset !== 0 : ip.extensions.some((x) => (x.fragmentOffset ?? 0) !== 0);
  const head = `${label} ${ip.src} > ${ip.dst}`;
  if (upper === undefined) {
    if (fragment) return `${head}: ip-proto-${ip.protocol} (fragment), length ${length}`;
    if (ip.truncated !== undefined) return `${head}: ${cutText(ip.layer)}`;
    return `${head}: ip-proto-${ip.protocol}, length ${length}`;
  }
  if (upper.layer === 'cut') return `${head}: ${cutText(upper.of)}`;
  switch (upper.layer) {
    case 'tcp':
      return `${label} ${ip.src}.${upper.srcPort} > ${ip.dst}.${upper.dstPort}: TCP [${tcpFlags(upper.flags)}], length ${Math.max(0, length - upper.headerLength)}`;
    case 'udp':
      return `${label} ${ip.src}.${upper.srcPort} > ${ip.dst}.${upper.dstPort}: UDP, length ${Math.max(0, upper.length - 8)}`;
    case 'icmp':
      return `${head}: ICMP ${ICMP_TYPES[upper.type] ?? `type ${upper.type}`}, length ${length}`;
    case 'icmpv6':
      return `${head}: ICMP6 ${ICMP6_TYPES[upper.type] ?? `type ${upper.type}`}, length ${length}`;
    default:
      return `${head}: ip-proto-${ip.protocol}, length ${decoded.payloadLength}`;
  }
}

function tcpFlags(flags: number): string {
  let text = '';
  if (flags & 0x02) text += 'S';
  if (flags & 0x01) text += 'F';
  if (flags & 0x04) text += 'R';
  if (flags & 0x08) text += 'P';
  if (flags & 0x20) text += 'U';
  if (flags & 0x10) text += '.';
  return text === '' ? 'none' : text;
}

const ICMP_TYPES: Record<number, string> = { 0: 'echo reply', 3: 'unreachable', 8: 'echo request', 11: 'time exceeded' };
const ICMP6_TYPES: Record<number, string> = {
  1: 'unreachable',
  3: 'time exceeded',
  128: 'echo request',
  129: 'echo reply',
  133: 'router solicitation',
  134: 'router advertisement',
  135: 'neighbor solicitation',
  136: 'neighbor advertisement',
};

function arp(l: Extract<Layer, { layer: 'arp' }>): string {
  if (l.senderIp === undefined) return l.truncated !== undefined ? 'ARP [|arp]' : `ARP, op ${l.opcode}`;
  if (l.opcode === 1) return `ARP, Request who-has ${l.targetIp} tell ${l.senderIp}`;
  if (l.opcode === 2) return `ARP, Reply ${l.senderIp} is-at ${l.senderMac}`;
  return `ARP, op ${l.opcode}`;
}
