/**
 * The framing of a JetStream message of packets (the README's "Message
 * framing" is the reference for other languages):
 *
 * payload: records back to back, each a pcap record in little-endian order:
 *   u32 seconds, u32 fraction (micro- or nanoseconds, per Wirecap-Precision),
 *   u32 caplen, u32 len, then caplen bytes of packet data.
 * headers: Wirecap-Format 'pcap-records/1', Wirecap-Linktype (LINKTYPE_
 *   number), Wirecap-Snaplen, Wirecap-Precision ('micro' | 'nano'),
 *   Wirecap-Sensor, Wirecap-Run (a sensor's publishing run), Wirecap-Batch
 *   (the run's message number, from 1), Wirecap-Packets (records in the
 *   payload), and Nats-Msg-Id '<sensor>/<run>/<batch>' for de-duplication.
 */
import { WirecapError } from '../core/errors';

export const FORMAT = 'pcap-records/1';
export const RECORD_HEADER = 16;

export const H = {
  format: 'Wirecap-Format',
  linktype: 'Wirecap-Linktype',
  snaplen: 'Wirecap-Snaplen',
  precision: 'Wirecap-Precision',
  sensor: 'Wirecap-Sensor',
  run: 'Wirecap-Run',
  batch: 'Wirecap-Batch',
  packets: 'Wirecap-Packets',
} as const;

/** What the headers of a message say about its packets. */
export interface BatchInfo {
  sensor: string;
  run: string;
  /** The message's number in its run, from 1. */
  batch: number;
  linktype: number;
  snaplen: number;
  precision: 'micro' | 'nano';
}

/** A packet read back from a message. data is a view into the message's payload. */
export interface NatsPacket {
  /** Nanoseconds since the epoch. */
  timestamp: bigint;
  caplen: number;
  len: number;
  data: Buffer;
}

/** The packets of one message and where it sits in the stream. */
export interface NatsBatch extends BatchInfo {
  packets: NatsPacket[];
  /** The message's sequence number in the JetStream stream. */
  streamSequence: number;
}

/** Appends packets as records into one preallocated payload. */
export class PayloadBuilder {
  readonly buffer: Buffer;
  bytes = 0;
  count = 0;
  #nano: boolean;

  constructor(capacity: number, nano: boolean) {
    this.buffer = Buffer.allocUnsafe(capacity);
    this.#nano = nano;
  }

  /** Appends the packet at data[start, start + caplen). */
  add(timestamp: bigint, len: number, data: Buffer, start: number, caplen: number): void {
    const seconds = timestamp / 1_000_000_000n;
    const ns = Number(timestamp - seconds * 1_000_000_000n);
    const b = this.buffer;
    let at = this.bytes;
    b.writeUInt32LE(Number(seconds), at);
    b.writeUInt32LE(this.#nano ? ns : Math.floor(ns / 1000), at + 4);
    b.writeUInt32LE(caplen, at + 8);
    b.writeUInt32LE(len, at + 12);
    at += RECORD_HEADER;
    data.copy(b, at, start, start + caplen);
    this.bytes = at + caplen;
    this.count++;
  }

  /** The records so far, copied out, and a fresh start. */
  take(): Uint8Array {
    const payload = Uint8Array.prototype.slice.call(this.buffer, 0, this.bytes);
    this.bytes = 0;
    this.count = 0;
    return payload;
  }
}

function bad(message: string): WirecapError {
  return new WirecapError(`not a wirecap packet message: ${message}`, 'EPROTO');
}

/** Reads a message's headers; EPROTO when they are not wirecap's. */
export function batchInfo(get: (name: string) => string): BatchInfo {
  const format = get(H.format);
  if (format !== FORMAT) throw bad(format === '' ? `no ${H.format} header` : `${H.format} '${format}'`);
  const int = (name: string, max: number): number => {
    const v = get(name);
    const n = Number(v);
    if (!/^\d+$/.test(v) || n > max) throw bad(`${name} '${v}'`);
    return n;
  };
  const precision = get(H.precision);
  if (precision !== 'micro' && precision !== 'nano') throw bad(`${H.precision} '${precision}'`);
  return {
    sensor: get(H.sensor),
    run: get(H.run),
    batch: int(H.batch, Number.MAX_SAFE_INTEGER),
    linktype: int(H.linktype, 0xffff),
    snaplen: int(H.snaplen, 2 ** 31),
    precision,
  };
}

/** The records of a payload; EPROTO when it is not records, or they disagree with the headers. */
export function decodeRecords(payload: Uint8Array, info: BatchInfo, expected: number): NatsPacket[] {
  const b = Buffer.from(payload.buffer, payload.byteOffset, payload.length);
  const scale = info.precision === 'nano' ? 1n : 1000n;
  const packets: NatsPacket[] = [];
  let at = 0;
  while (at < b.length) {
    if (b.length - at < RECORD_HEADER) throw bad(`${b.length - at} bytes left after record ${packets.length}, less than a record header`);
    const caplen = b.readUInt32LE(at + 8);
    const len = b.readUInt32LE(at + 12);
    if (caplen > info.snaplen || at + RECORD_HEADER + caplen > b.length) throw bad(`record ${packets.length} has caplen ${caplen}, beyond the payload or the snaplen`);
    const timestamp = BigInt(b.readUInt32LE(at)) * 1_000_000_000n + BigInt(b.readUInt32LE(at + 4)) * scale;
    packets.push({ timestamp, caplen, len, data: b.subarray(at + RECORD_HEADER, at + RECORD_HEADER + caplen) });
    at += RECORD_HEADER + caplen;
  }
  if (packets.length !== expected) throw bad(`${packets.length} records where ${H.packets} says ${expected}`);
  return packets;
}
