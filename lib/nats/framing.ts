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
/** The largest seconds a record's u32 field holds (early 2106). */
const MAX_SECONDS = 0xffffffff;

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

/**
 * Builds the payloads of messages, each in a buffer of its own while the
 * client may hold it: a buffer is used again only once recycle() says its
 * message was stored. Records come either one at a time (add, addSplit), or
 * as a pcap file's own records (addRecord): consecutive ones of one buffer
 * are copied in one go, their fractions rescaled if the file's precision is
 * not the message's.
 */
export class PayloadBuilder {
  bytes = 0;
  count = 0;
  #room: number;
  #nano: boolean;
  #buffer: Buffer | null = null;
  #view: DataView | null = null;
  /** Buffers of stored messages, #room bytes each. */
  #spare: ArrayBuffer[] = [];
  /** Written into #buffer so far; bytes - #written is the pending span. */
  #written = 0;
  #span: Buffer | null = null;
  #spanStart = 0;
  #spanEnd = 0;
  /** Whether the pending span's fractions are nanoseconds. */
  #spanNano = false;

  /** room: a message's size unless its one record is bigger. */
  constructor(room: number, nano: boolean) {
    this.#room = room;
    this.#nano = nano;
  }

  /** Appends the packet at data[start, start + caplen); false, with nothing added, when its time is before 1970 or past the u32 seconds. */
  add(timestamp: bigint, len: number, data: Buffer, start: number, caplen: number): boolean {
    if (timestamp < 0n) return false;
    const seconds = timestamp / 1_000_000_000n;
    return this.addSplit(Number(seconds), Number(timestamp - seconds * 1_000_000_000n), len, data, start, caplen);
  }

  /** add() with the timestamp as seconds (not negative) and nanoseconds. */
  addSplit(seconds: number, ns: number, len: number, data: Buffer, start: number, caplen: number): boolean {
    if (seconds > MAX_SECONDS) return false;
    this.flush();
    const b = this.#reserve(RECORD_HEADER + caplen);
    const at = this.#written;
    b.writeUInt32LE(seconds, at);
    b.writeUInt32LE(this.#nano ? ns : Math.floor(ns / 1000), at + 4);
    b.writeUInt32LE(caplen, at + 8);
    b.writeUInt32LE(len, at + 12);
    data.copy(b, at + RECORD_HEADER, start, start + caplen);
    this.#written = this.bytes = at + RECORD_HEADER + caplen;
    this.count++;
    return true;
  }

  /**
   * Appends the record at file[start, end), a little-endian pcap record whose
   * fraction is in nanoseconds if nano, else microseconds.
   */
  addRecord(file: Buffer, start: number, end: number, nano: boolean): void {
    if (this.#span !== file || this.#spanEnd !== start || this.#spanNano !== nano) {
      this.flush();
      this.#span = file;
      this.#spanStart = start;
      this.#spanNano = nano;
    }
    this.#spanEnd = end;
    this.bytes += end - start;
    this.count++;
  }

  /** Copies the pending span in: before its buffer is reused, or the message taken. */
  flush(): void {
    if (this.#span === null) return;
    const length = this.#spanEnd - this.#spanStart;
    const b = this.#reserve(length);
    const from = this.#written;
    this.#span.copy(b, from, this.#spanStart, this.#spanEnd);
    this.#written += length;
    this.#span = null;
    if (this.#spanNano === this.#nano) return;
    const v = this.#view!;
    for (let at = from; at < this.#written; at += RECORD_HEADER + v.getUint32(at + 8, true)) {
      const fraction = v.getUint32(at + 4, true);
      v.setUint32(at + 4, this.#nano ? fraction * 1000 : Math.floor(fraction / 1000), true);
    }
  }

  /** The message's buffer, with room for bytes more after what is written. */
  #reserve(bytes: number): Buffer {
    if (this.#buffer === null) {
      const size = Math.max(this.#room, bytes);
      const memory = size === this.#room && this.#spare.length > 0 ? this.#spare.pop()! : new ArrayBuffer(size);
      this.#buffer = Buffer.from(memory);
      this.#view = new DataView(memory);
    }
    return this.#buffer;
  }

  /** The payload so far, and a fresh start. */
  take(): Uint8Array {
    this.flush();
    const payload = this.#buffer === null ? new Uint8Array(0) : this.#buffer.subarray(0, this.#written);
    this.#buffer = this.#view = null;
    this.bytes = this.count = this.#written = 0;
    return payload;
  }

  /** Takes back the buffer of a payload from take() whose message was stored: the client no longer holds it. */
  recycle(payload: Uint8Array): void {
    if (payload.buffer.byteLength === this.#room) this.#spare.push(payload.buffer as ArrayBuffer);
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
