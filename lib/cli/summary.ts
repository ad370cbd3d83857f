/**
 * One-line, tcpdump-like summaries of packets for the CLI: link layers
 * Ethernet (with 802.1Q tags), Linux cooked v1/v2, BSD loopback and raw IP;
 * then IPv4, IPv6, ARP, TCP, UDP, ICMP and ICMPv6. A packet cut short never
 * throws: the summary says what it knows and ends in [|proto].
 */

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_ARP = 0x0806;
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_IPV6 = 0x86dd;

/** Link-layer types wirecap summarises (DLT values as libpcap reports them). */
const DLT_NULL = 0;
const DLT_EN10MB = 1;
const DLT_RAW = [12, 14, 101];
const DLT_LOOP = 108;
const DLT_LINUX_SLL = 113;
const DLT_LINUX_SLL2 = 276;

export function summarize(linktype: number, data: Uint8Array): string {
  const view = Buffer.from(data.buffer, data.byteOffset, data.length);
  if (linktype === DLT_EN10MB) return ethernet(view);
  if (linktype === DLT_LINUX_SLL) return view.length < 16 ? '[|sll]' : byEthertype(view.readUInt16BE(14), view.subarray(16));
  if (linktype === DLT_LINUX_SLL2) return view.length < 20 ? '[|sll2]' : byEthertype(view.readUInt16BE(0), view.subarray(20));
  if (linktype === DLT_NULL || linktype === DLT_LOOP) return loopback(view, linktype === DLT_LOOP);
  if (DLT_RAW.includes(linktype)) return rawIp(view);
  return `linktype ${linktype}, length ${view.length}`;
}

function ethernet(b: Buffer): string {
  let offset = 12;
  const tags: string[] = [];
  while (b.length >= offset + 2 && b.readUInt16BE(offset) === ETHERTYPE_VLAN) {
    if (b.length < offset + 4) return '[|vlan]';
    tags.push(`vlan ${b.readUInt16BE(offset + 2) & 0x0fff}`);
    offset += 4;
  }
  if (b.length < offset + 2) return '[|ether]';
  const inner = byEthertype(b.readUInt16BE(offset), b.subarray(offset + 2));
  return tags.length > 0 ? `${tags.join(', ')}, ${inner}` : inner;
}

function loopback(b: Buffer, bigEndian: boolean): string {
  if (b.length < 4) return '[|null]';
  const family = bigEndian ? b.readUInt32BE(0) : b.readUInt32LE(0);
  const payload = b.subarray(4);
  if (family === 2) return ipv4(payload);
  // AF_INET6 differs between BSDs: 24, 28 or 30.
  if (family === 24 || family === 28 || family === 30) return ipv6(payload);
  return `loopback family ${family}, length ${payload.length}`;
}

function rawIp(b: Buffer): string {
  if (b.length < 1) return '[|ip]';
  const version = b[0] >> 4;
  if (version === 4) return ipv4(b);
  if (version === 6) return ipv6(b);
  return `raw IP version ${version}, length ${b.length}`;
}

function byEthertype(type: number, payload: Buffer): string {
  switch (type) {
    case ETHERTYPE_IPV4:
      return ipv4(payload);
    case ETHERTYPE_IPV6:
      return ipv6(payload);
    case ETHERTYPE_ARP:
      return arp(payload);
    default:
      return `ethertype 0x${type.toString(16).padStart(4, '0')}, length ${payload.length}`;
  }
}

function ipv4(b: Buffer): string {
  if (b.length < 20) return 'IP [|ip]';
  const headerLength = (b[0] & 0x0f) * 4;
  const totalLength = b.readUInt16BE(2);
  const src = `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const dst = `${b[16]}.${b[17]}.${b[18]}.${b[19]}`;
  const fragmentOffset = b.readUInt16BE(6) & 0x1fff;
  const payloadLength = Math.max(0, totalLength - headerLength);
  if (fragmentOffset !== 0) return `IP ${src} > ${dst}: ip-proto-${b[9]} (fragment), length ${payloadLength}`;
  return transport('IP', src, dst, b[9], b.subarray(headerLength), payloadLength);
}

function ipv6(b: Buffer): string {
  if (b.length < 40) return 'IP6 [|ip6]';
  const src = ipv6Text(b.subarray(8, 24));
  const dst = ipv6Text(b.subarray(24, 40));
  return transport('IP6', src, dst, b[6], b.subarray(40), b.readUInt16BE(4));
}

function ipv6Text(b: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  // Compress the longest run of zero groups into '::'.
  let best = { start: -1, length: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > best.length) best = { start: i, length: j - i };
    i = j;
  }
  if (best.length < 2) return groups.join(':');
  return `${groups.slice(0, best.start).join(':')}::${groups.slice(best.start + best.length).join(':')}`;
}

/** proto is the IP protocol number; payloadLength what the IP header says follows it. */
function transport(ip: string, src: string, dst: string, proto: number, b: Buffer, payloadLength: number): string {
  switch (proto) {
    case 6: {
      if (b.length < 20) return `${ip} ${src} > ${dst}: TCP [|tcp]`;
      const dataOffset = (b[12] >> 4) * 4;
      return `${ip} ${src}.${b.readUInt16BE(0)} > ${dst}.${b.readUInt16BE(2)}: TCP [${tcpFlags(b[13])}], length ${Math.max(0, payloadLength - dataOffset)}`;
    }
    case 17:
      if (b.length < 8) return `${ip} ${src} > ${dst}: UDP [|udp]`;
      return `${ip} ${src}.${b.readUInt16BE(0)} > ${dst}.${b.readUInt16BE(2)}: UDP, length ${Math.max(0, b.readUInt16BE(4) - 8)}`;
    case 1:
      return `${ip} ${src} > ${dst}: ${icmp(b, ICMP_TYPES, 'ICMP')}, length ${payloadLength}`;
    case 58:
      return `${ip} ${src} > ${dst}: ${icmp(b, ICMP6_TYPES, 'ICMP6')}, length ${payloadLength}`;
    default:
      return `${ip} ${src} > ${dst}: ip-proto-${proto}, length ${payloadLength}`;
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
  135: 'neighbor solicitation',
  136: 'neighbor advertisement',
};

function icmp(b: Buffer, names: Record<number, string>, label: string): string {
  if (b.length < 1) return `${label} [|icmp]`;
  return `${label} ${names[b[0]] ?? `type ${b[0]}`}`;
}

function arp(b: Buffer): string {
  if (b.length < 28) return 'ARP [|arp]';
  const op = b.readUInt16BE(6);
  const ip = (at: number): string => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
  if (op === 1) return `ARP, Request who-has ${ip(24)} tell ${ip(14)}`;
  if (op === 2) return `ARP, Reply ${ip(14)} is-at ${[...b.subarray(8, 14)].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
  return `ARP, op ${op}`;
}
