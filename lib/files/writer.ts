/**
 * createWriter(): capture files written from JavaScript, by the same native
 * writer that dumps use (src-native/files/capture_writer.h).
 */
import { binding, WriterHandle } from '../core/binding';
import { linktypeValue } from '../capture/devices';
import { WirecapError } from '../core/errors';
import { checkInteger, checkKeys, checkObject, checkOneOf, checkString } from '../core/validate';

export interface WriterOptions {
  /** 'pcap' (default) or 'pcapng'. */
  format?: 'pcap' | 'pcapng';
  /** DLT number or libpcap name (default 'EN10MB'). */
  linktype?: number | string;
  /** default 262144 */
  snaplen?: number;
  /** Timestamp resolution of the file (default 'micro'; nanoseconds are then truncated). */
  precision?: 'micro' | 'nano';
  /**
   * Go on with a file written before with these same options: it is cut to
   * this many bytes (which must end a record) and packets are appended
   * after them, with no new header.
   */
  resumeAt?: number;
}

/** What write() takes: any Packet from a capture or a file, or one built by hand. */
export interface PacketToWrite {
  /** Nanoseconds since the epoch. */
  timestamp: bigint;
  data: Uint8Array;
  /** Bytes on the wire (default data.length); at least data.length. */
  len?: number;
}

/** The latest time each format can hold: pcap keeps 32-bit unsigned seconds, pcapng 64-bit units. */
const LAST_TIMESTAMP = { pcap: 2n ** 32n * 1_000_000_000n - 1n, pcapng: 2n ** 63n - 1n };

export class Writer {
  readonly path: string;
  readonly snaplen: number;
  #native: WriterHandle;
  #closed = false;
  #lastTimestamp: bigint;

  /** @internal use createWriter() */
  constructor(path: string, native: WriterHandle, snaplen: number, format: 'pcap' | 'pcapng') {
    this.path = path;
    this.#native = native;
    this.snaplen = snaplen;
    this.#lastTimestamp = LAST_TIMESTAMP[format];
  }

  /** Appends a packet. Data beyond the snaplen is cut off, as a capture would. */
  write(packet: PacketToWrite): void {
    if (this.#closed) throw new WirecapError('the writer is closed', 'ECLOSED');
    if (packet === null || typeof packet !== 'object') throw new WirecapError('packet must be an object', 'EINVAL');
    const { timestamp, data } = packet;
    if (typeof timestamp !== 'bigint') throw new WirecapError(`packet.timestamp must be a bigint of nanoseconds, got ${typeof timestamp}`, 'EINVAL');
    if (timestamp < 0n || timestamp > this.#lastTimestamp) {
      throw new WirecapError(`packet.timestamp must be from 0 to ${this.#lastTimestamp} ns for this file's format, got ${timestamp}`, 'EINVAL');
    }
    if (!(data instanceof Uint8Array)) throw new WirecapError('packet.data must be a Buffer or Uint8Array', 'EINVAL');
    const len = packet.len === undefined ? data.length : checkInteger(packet.len, 'packet.len', data.length, 2 ** 32 - 1);
    let bytes = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length);
    if (bytes.length > this.snaplen) bytes = bytes.subarray(0, this.snaplen);
    this.#native.write(timestamp, len, bytes);
  }

  /** Packets and bytes written so far (headers included). */
  stats(): { packets: number; bytes: number } {
    return this.#native.stats();
  }

  /** Writes the buffered records out to the file (the OS has them: they survive this process, not a power cut). */
  flush(): void {
    if (this.#closed) throw new WirecapError('the writer is closed', 'ECLOSED');
    this.#native.flush();
  }

  /** Flushes and closes the file. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#native.close();
  }
}

/** Creates (or truncates) path and writes its file header, or resumes it (resumeAt). Throws ENOENT, EACCES, EISDIR. */
export function createWriter(path: string, options?: WriterOptions): Writer {
  const o = checkObject(options, 'options');
  checkKeys(o, ['format', 'linktype', 'snaplen', 'precision', 'resumeAt'], 'createWriter');
  const snaplen = o.snaplen === undefined ? 262144 : checkInteger(o.snaplen, 'snaplen', 1, 262144);
  const format = o.format === undefined ? 'pcap' : checkOneOf(o.format, 'format', ['pcap', 'pcapng'] as const);
  const native = new binding.WriterHandle({
    path: checkString(path, 'path'),
    format,
    linktype: o.linktype === undefined ? 1 : linktypeValue(o.linktype as number | string),
    snaplen,
    nano: (o.precision === undefined ? 'micro' : checkOneOf(o.precision, 'precision', ['micro', 'nano'] as const)) === 'nano',
    ...(o.resumeAt === undefined ? {} : { resumeBytes: checkInteger(o.resumeAt, 'resumeAt', 1, Number.MAX_SAFE_INTEGER) }),
  });
  return new Writer(path, native, snaplen, format);
}
