/**
 * What decode() returns: plain objects, one per layer, in the order they
 * sit in the packet. A layer whose bytes ran out says `truncated`, one whose
 * fields contradict each other says `malformed`; either way it is the last.
 */

/** Set on the layer where decoding stopped early, with the reason. */
export interface LayerStatus {
  truncated?: string;
  malformed?: string;
}

export interface EthernetLayer extends LayerStatus {
  layer: 'ethernet';
  dst: string;
  src: string;
  /** EtherType, or the 802.3 length when at most 1500. */
  type: number;
}

export interface VlanLayer extends LayerStatus {
  layer: 'vlan';
  /** The tag's own type: 0x8100 (802.1Q), 0x88a8 (802.1ad service tag) or 0x9100. */
  tpid: number;
  priority: number;
  dei: number;
  id: number;
  type: number;
}

export interface SllLayer extends LayerStatus {
  layer: 'sll';
  packetType: number;
  hatype: number;
  addressLength: number;
  address: string;
  protocol: number;
}

export interface Sll2Layer extends LayerStatus {
  layer: 'sll2';
  protocol: number;
  ifindex: number;
  hatype: number;
  packetType: number;
  addressLength: number;
  address: string;
}

export interface NullLayer extends LayerStatus {
  layer: 'null';
  family: number;
}

export interface ArpLayer extends LayerStatus {
  layer: 'arp';
  hardwareType: number;
  protocolType: number;
  hardwareSize: number;
  protocolSize: number;
  opcode: number;
  /** Present for Ethernet/IPv4 ARP (sizes 6 and 4). */
  senderMac?: string;
  senderIp?: string;
  targetMac?: string;
  targetIp?: string;
}

export interface Ipv4Option {
  type: number;
  length: number;
  /** The option's value in hex. */
  data: string;
}

export interface Ipv4Layer extends LayerStatus {
  layer: 'ipv4';
  headerLength: number;
  dscp: number;
  ecn: number;
  totalLength: number;
  id: number;
  /** The three flag bits: 0x4 reserved, 0x2 don't fragment, 0x1 more fragments. */
  flags: number;
  /** In 8-byte units, as on the wire. */
  fragmentOffset: number;
  ttl: number;
  protocol: number;
  checksum: number;
  src: string;
  dst: string;
  /** Lists in layers are read-only: an empty one is shared by every layer. */
  options: readonly Ipv4Option[];
}

export interface Ipv6Extension {
  /** The header's protocol number: 0 hop-by-hop, 43 routing, 44 fragment, 51 AH, 60 destination options. */
  type: number;
  nextHeader: number;
  /** Bytes, the whole header. */
  length: number;
  /** Fragment header: offset in 8-byte units, more-fragments flag, identification. */
  fragmentOffset?: number;
  more?: boolean;
  id?: number;
  /** Routing header. */
  routingType?: number;
  segmentsLeft?: number;
}

export interface Ipv6Layer extends LayerStatus {
  layer: 'ipv6';
  trafficClass: number;
  flowLabel: number;
  payloadLength: number;
  nextHeader: number;
  hopLimit: number;
  src: string;
  dst: string;
  extensions: readonly Ipv6Extension[];
  /** The protocol after the extension chain. */
  protocol: number;
}

export interface TcpLayer extends LayerStatus {
  layer: 'tcp';
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** Header length in bytes. */
  headerLength: number;
  /** The 12 bits after the data offset: 0x001 FIN, 0x002 SYN, 0x004 RST, 0x008 PSH, 0x010 ACK, 0x020 URG, 0x040 ECE, 0x080 CWR, 0x100 AE. */
  flags: number;
  window: number;
  checksum: number;
  urgentPointer: number;
  mss?: number;
  windowScale?: number;
  sackPermitted?: boolean;
  /** Left and right edges, in pairs. */
  sack?: number[];
  timestamp?: { value: number; echo: number };
}

export interface UdpLayer extends LayerStatus {
  layer: 'udp';
  srcPort: number;
  dstPort: number;
  length: number;
  checksum: number;
}

export interface IcmpLayer extends LayerStatus {
  layer: 'icmp';
  type: number;
  code: number;
  checksum: number;
  /** Echo request and reply. */
  id?: number;
  seq?: number;
}

export interface NdOption {
  type: number;
  /** Bytes, the whole option. */
  length: number;
  /** Source (1) and target (2) link-layer address options. */
  linkLayerAddress?: string;
  /** Prefix information (3). */
  prefixLength?: number;
  prefix?: string;
  /** MTU (5). */
  mtu?: number;
}

export interface Icmpv6Layer extends LayerStatus {
  layer: 'icmpv6';
  type: number;
  code: number;
  checksum: number;
  id?: number;
  seq?: number;
  /** Neighbour solicitation/advertisement and redirect. */
  targetAddress?: string;
  /** Neighbour advertisement: 0x4 router, 0x2 solicited, 0x1 override. Router advertisement: its flag byte. */
  ndFlags?: number;
  /** Redirect. */
  destinationAddress?: string;
  /** Router advertisement. */
  curHopLimit?: number;
  routerLifetime?: number;
  options?: readonly NdOption[];
}

export interface DnsQuestion {
  name: string;
  type: number;
  class: number;
}

export interface DnsRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  /**
   * A and AAAA: the address; CNAME, NS, PTR: the name; MX { preference, exchange };
   * TXT: the strings; SOA { mname, rname, serial, refresh, retry, expire, minimum };
   * SRV { priority, weight, port, target }; any other type: the rdata in hex.
   */
  data: DnsData;
}

export type DnsData =
  | string
  | string[]
  | { preference: number; exchange: string }
  | { mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number }
  | { priority: number; weight: number; port: number; target: string };

export interface DnsLayer extends LayerStatus {
  layer: 'dns';
  id: number;
  flags: number;
  questionCount: number;
  answerCount: number;
  authorityCount: number;
  additionalCount: number;
  questions: readonly DnsQuestion[];
  answers: readonly DnsRecord[];
  authorities: readonly DnsRecord[];
  additionals: readonly DnsRecord[];
}

/** A layer whose fixed header was cut by the capture: which layer it was, and the reason. */
export interface CutLayer {
  layer: 'cut';
  of: Exclude<Layer['layer'], 'cut'>;
  truncated: string;
}

export type Layer =
  | CutLayer
  | EthernetLayer
  | VlanLayer
  | SllLayer
  | Sll2Layer
  | NullLayer
  | ArpLayer
  | Ipv4Layer
  | Ipv6Layer
  | TcpLayer
  | UdpLayer
  | IcmpLayer
  | Icmpv6Layer
  | DnsLayer;

export interface Decoded {
  layers: Layer[];
  /** Where the bytes no layer decoded start (an index into data), and how many were captured. */
  payloadOffset: number;
  payloadLength: number;
}
