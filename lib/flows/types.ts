/**
 * The flow layer's public shapes: a flow's key and record, the options of
 * the tracker, and the handler interface through which reassembled TCP
 * bytes and UDP datagrams reach their consumer (a user, or lib/sessions).
 */

/** Who sent a byte: the client is the side that sent the SYN (or the guess, see Flow.directionGuessed). */
export type Direction = 'client' | 'server';

/**
 * Why a flow ended: 'closed' (TCP FIN both ways, or RST), 'idle' (no packet
 * for its protocol's idle timeout, in packet time), 'evicted' (the table
 * was full, the least recently seen flow made room), 'end' (the source
 * ended, or tracker.end() was called).
 */
export type FlowEndReason = 'closed' | 'idle' | 'evicted' | 'end';

/** The conversation's addresses and ports, as the client (originator) sees them. */
export interface FlowKey {
  /** 4 or 6: the innermost IP header's (IP in IP is followed). */
  version: 4 | 6;
  /** IP protocol number: 6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, ... */
  protocol: number;
  /** The client's (originator's) address and port. Ports are 0 for protocols without them. */
  src: string;
  srcPort: number;
  dst: string;
  dstPort: number;
  /** The outermost VLAN id, when the tracker keys on VLANs (options.vlan); absent otherwise. */
  vlan?: number;
}

/** One direction's counters. */
export interface FlowSide {
  /** Packets, counted as tshark's conversation tables count them (a reassembled IP datagram is one). */
  packets: number;
  /** Frame bytes on the wire (the packet's len) of those packets, as tshark's conversation tables. */
  bytes: number;
  /** Payload bytes after the TCP/UDP header (what the side sent, retransmissions included). */
  payloadBytes: number;
}

/** TCP's part of a flow record, after Zeek's conn record. */
export interface TcpInfo {
  /**
   * Zeek's conn_state: S0 (SYN, no reply), S1 (established, not closed),
   * SF (normal close), REJ (SYN answered by RST), S2/S3 (closed by one side
   * only), RSTO/RSTR (reset by the client/server), RSTOS0, RSTRH, SH, SHR,
   * OTH (no SYN seen: picked up mid-stream).
   */
  state: string;
  /**
   * Zeek's history letters, upper case for the client: S SYN, H SYN-ACK,
   * A pure ACK, D data, F FIN, R RST, T retransmitted data, C bad checksum
   * is never reported (checksums are not checked), ^ direction flipped
   * (the first packet seen was not the client's).
   */
  history: string;
  /** SYN to SYN-ACK plus SYN-ACK to ACK, in nanoseconds; null without a whole handshake. */
  rttNs: number | null;
  /** Bytes given up as gaps by reassembly (0 when the flow was not reassembled). Zeek's missed_bytes. */
  missedBytes: number;
  /** Overlapping segment bytes that differed from the bytes kept (first copy wins). */
  overlapConflicts: number;
}

/** A flow as it comes out of the tracker, once it has ended. */
export interface Flow {
  /** A number unique to this flow within its tracker, counting from 0 in the order flows were first seen. */
  readonly id: number;
  readonly key: FlowKey;
  /** True when the client was guessed (no SYN seen): the lower port is taken as the server's. */
  directionGuessed: boolean;
  /** Timestamps (ns since the epoch) of the first and the last packet. */
  first: bigint;
  last: bigint;
  client: FlowSide;
  server: FlowSide;
  /** TCP flows only. */
  tcp?: TcpInfo;
  /** Set once the flow has ended. */
  endReason: FlowEndReason | null;
}

/** Where a handler's bytes sit in their direction's stream. */
export interface StreamInfo {
  /** Byte offset in that direction's stream: 0 is the first byte after the SYN (or the first byte seen). Gaps count. */
  offset: number;
  /** The timestamp of the packet that carried these bytes (for a gap: of the packet that revealed it). */
  timestamp: bigint;
}

/** A UDP datagram's place in its flow. */
export interface DatagramInfo {
  timestamp: bigint;
  /** The datagram was reassembled from IP fragments. */
  reassembled: boolean;
}

/**
 * What the tracker calls for one flow, made by options.streams (a factory
 * called once per new TCP or UDP flow). Every method is optional. Bytes are
 * valid only during the call: copy them to keep them.
 */
export interface StreamHandler {
  /** TCP: the next bytes of direction's stream, in order, after retransmissions and overlaps are removed. */
  onData?(direction: Direction, bytes: Buffer, info: StreamInfo): void;
  /** TCP: length bytes of direction's stream are missing (never joined silently). */
  onGap?(direction: Direction, length: number, info: StreamInfo): void;
  /** TCP: a segment overlapped bytes already kept and differed in length bytes; the first copy was kept. */
  onOverlap?(direction: Direction, length: number, info: StreamInfo): void;
  /** UDP: one datagram's payload (after IP reassembly). */
  onDatagram?(direction: Direction, bytes: Buffer, info: DatagramInfo): void;
  /** The flow ended; flow holds its final counters. */
  onEnd?(reason: FlowEndReason, flow: Flow): void;
}

/** Called once per new TCP or UDP flow; a falsy result leaves that flow unreassembled (cheaper). */
export type StreamFactory = (flow: Flow) => StreamHandler | null | undefined | void;

/** Idle timeouts in nanoseconds of packet time, per protocol. */
export interface FlowTimeouts {
  /** TCP, established or not (default 300 s, Zeek's). */
  tcp?: number;
  /** TCP after FIN both ways or RST: how long stray packets still count to it (default 5 s). */
  tcpClosed?: number;
  /** UDP (default 60 s). */
  udp?: number;
  /** ICMP, ICMPv6 and other protocols (default 60 s). */
  other?: number;
}
