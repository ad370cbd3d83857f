/**
 * The PacketStreaming protocol (proto/packet_streaming.proto) on the wire:
 * the service definition for @grpc/grpc-js under a chosen package name,
 * and the protobuf encoding of its one message, written out for this
 * message alone so that a malformed one gets a precise error.
 *
 * Timestamps travel as seconds and microseconds: a nanosecond timestamp is
 * truncated to its microsecond (as libpcap's micro precision does).
 */
import type { ServiceDefinition } from '@grpc/grpc-js';
import { WirecapError } from '../core/errors';

/** The proto package wirecap uses unless told otherwise. */
export const DEFAULT_PROTO_PACKAGE = 'wirecap.streaming';

/** A packet as the protocol carries it. */
export interface StreamedPacket {
  /** Nanoseconds since the epoch, a whole number of microseconds. */
  timestamp: bigint;
  caplen: number;
  len: number;
  data: Buffer;
}

/** What the collector's decoder yields: a packet, or why the bytes were not one. */
export type Decoded = StreamedPacket | { malformed: string };

function varintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function writeVarint(buf: Buffer, at: number, v: number): number {
  while (v >= 0x80) {
    buf[at++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[at++] = v;
  return at;
}

/** Bytes of a varint field with a one-byte tag; proto3 leaves zeros out. */
function fieldSize(v: number): number {
  return v === 0 ? 0 : 1 + varintSize(v);
}

function writeField(buf: Buffer, at: number, tag: number, v: number): number {
  if (v === 0) return at;
  buf[at++] = tag;
  return writeVarint(buf, at, v);
}

/** Encodes one Packet message. data is caplen bytes. */
export function encodePacket(timestamp: bigint, len: number, data: Uint8Array): Buffer {
  const micros = Number(timestamp / 1000n); // exact: below 2^53 until the year 2255
  const seconds = Math.floor(micros / 1e6);
  const usec = micros - seconds * 1e6;
  const caplen = data.length;
  const headerSize = fieldSize(seconds) + fieldSize(usec) + fieldSize(caplen) + fieldSize(len);
  const dataSize = caplen === 0 ? 0 : 1 + varintSize(caplen) + caplen;
  const size = 1 + varintSize(headerSize) + headerSize + 1 + varintSize(dataSize) + dataSize;
  const buf = Buffer.allocUnsafe(size);
  let at = 0;
  buf[at++] = 0x0a; // Packet.header, length-delimited
  at = writeVarint(buf, at, headerSize);
  at = writeField(buf, at, 0x08, seconds); // PacketHeader.ts_sec
  at = writeField(buf, at, 0x10, usec);
  at = writeField(buf, at, 0x18, caplen);
  at = writeField(buf, at, 0x20, len);
  buf[at++] = 0x12; // Packet.data, length-delimited
  at = writeVarint(buf, at, dataSize);
  if (caplen > 0) {
    buf[at++] = 0x0a; // PacketData.data
    at = writeVarint(buf, at, caplen);
    buf.set(data, at);
  }
  return buf;
}

/** Reads a varint at *at; null when it runs past end or past 32 bits. */
function readVarint(buf: Buffer, pos: { at: number }, end: number): number | null {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos.at >= end) return null;
    const b = buf[pos.at++];
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return value;
    scale *= 128;
  }
  return null;
}

/** Skips a field of an unknown number; false when it is malformed. */
function skipField(buf: Buffer, pos: { at: number }, end: number, wireType: number): boolean {
  if (wireType === 0) return readVarint(buf, pos, end) !== null;
  if (wireType === 1) return (pos.at += 8) <= end;
  if (wireType === 5) return (pos.at += 4) <= end;
  if (wireType === 2) {
    const n = readVarint(buf, pos, end);
    return n !== null && (pos.at += n) <= end;
  }
  return false;
}

/** Decodes one Packet message; checks that caplen equals the data's length. */
export function decodePacket(buf: Buffer): Decoded {
  const pos = { at: 0 };
  let seconds = 0;
  let usec = 0;
  let caplen = 0;
  let len = 0;
  let data: Buffer = Buffer.alloc(0);
  while (pos.at < buf.length) {
    const key = readVarint(buf, pos, buf.length);
    if (key === null) return { malformed: 'a field key runs past the message' };
    const field = Math.floor(key / 8);
    const wireType = key & 7;
    if ((field === 1 || field === 2) && wireType === 2) {
      const size = readVarint(buf, pos, buf.length);
      if (size === null || pos.at + size > buf.length) return { malformed: `field ${field} runs past the message` };
      const end = pos.at + size;
      while (pos.at < end) {
        const inner = readVarint(buf, pos, end);
        if (inner === null) return { malformed: 'a field key runs past its message' };
        const n = Math.floor(inner / 8);
        const t = inner & 7;
        if (field === 1 && n >= 1 && n <= 4 && t === 0) {
          const v = readVarint(buf, pos, end);
          if (v === null || v > 0xffffffff) return { malformed: `PacketHeader field ${n} is not a uint32` };
          if (n === 1) seconds = v;
          else if (n === 2) usec = v;
          else if (n === 3) caplen = v;
          else len = v;
        } else if (field === 2 && n === 1 && t === 2) {
          const size2 = readVarint(buf, pos, end);
          if (size2 === null || pos.at + size2 > end) return { malformed: 'PacketData.data runs past its message' };
          data = buf.subarray(pos.at, pos.at + size2);
          pos.at += size2;
        } else if (!skipField(buf, pos, end, t)) {
          return { malformed: `field ${n} of field ${field} is malformed` };
        }
      }
    } else if (!skipField(buf, pos, buf.length, wireType)) {
      return { malformed: `field ${field} is malformed` };
    }
  }
  if (usec >= 1_000_000) return { malformed: `ts_usec ${usec} is not below one second` };
  if (caplen !== data.length) return { malformed: `caplen ${caplen} but ${data.length} bytes of data` };
  return { timestamp: BigInt(seconds) * 1_000_000_000n + BigInt(usec) * 1000n, caplen, len, data };
}

/** The service definition for @grpc/grpc-js, under protoPackage. */
export function packetStreamingService(protoPackage: string): ServiceDefinition {
  if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(protoPackage)) {
    throw new WirecapError(`protoPackage must be a protobuf package name such as ${DEFAULT_PROTO_PACKAGE}, got '${protoPackage}'`, 'EINVAL');
  }
  return {
    Run: {
      path: `/${protoPackage}.PacketStreaming/Run`,
      requestStream: true,
      responseStream: false,
      requestSerialize: (message: Buffer) => message,
      requestDeserialize: (bytes: Buffer): Decoded => decodePacket(bytes),
      // google.protobuf.Empty: no bytes.
      responseSerialize: () => Buffer.alloc(0),
      responseDeserialize: () => ({}),
      originalName: 'run',
    },
  };
}
