/**
 * Capture files: openOffline() reads pcap (microsecond and nanosecond, either
 * byte order) and pcapng with wirecap's own reader (src-native/files/
 * file_reader), which yields what libpcap yields, on a native thread in
 * batches, and tags each pcapng packet with its interface. The result is a
 * Capture, so code written for live captures runs on files unchanged;
 * reading is lossless (the thread waits for the consumer).
 */
import fs from 'node:fs';
import { NativeBatch, NativeCaptureOptions, NativeInterface } from '../core/binding';
import { Capture } from '../capture/capture';
import { Packet, PacketBatch } from '../capture/batch';
import { WirecapError, WirecapErrorCode } from '../core/errors';
import { openTrace, SeekTarget, TracePosition } from './navigate';
import { checkBoolean, checkFilter, checkInteger, checkKeys, checkObject, checkOneOf, checkSignal, checkString } from '../core/validate';
import { AbortError } from '../core/errors';

export type FileFormat = 'pcap' | 'pcap-nsec' | 'pcapng';

export interface OfflineOptions {
  filter?: string;
  /** 'nano' (default) keeps every digit of nanosecond files; 'micro' truncates to microseconds. */
  precision?: 'micro' | 'nano';
  /** Read-ahead bound in bytes (default 4 MiB): the reader waits rather than drops. */
  queueBytes?: number;
  signal?: AbortSignal;
  /**
   * Start at a time ({ time }: the first packet at or after it), a byte
   * offset ({ offset }: the first record starting there or after) or a
   * fraction of the file, found in a few small reads (see openTrace()).
   * The file's position says where reading starts and how sure the seek is.
   */
  seek?: SeekTarget;
  /**
   * For code that gives every packet the file's link type (one output
   * file, one stream): a pcapng file whose interfaces mix link types throws
   * ENOTSUP, at open, or from the iterator at the first packet of another
   * type after every packet before it. Default false.
   */
  singleLinktype?: boolean;
}

const MAGICS: Record<number, { format: FileFormat; littleEndian: boolean }> = {
  0xa1b2c3d4: { format: 'pcap', littleEndian: false },
  0xd4c3b2a1: { format: 'pcap', littleEndian: true },
  0xa1b23c4d: { format: 'pcap-nsec', littleEndian: false },
  0x4d3cb2a1: { format: 'pcap-nsec', littleEndian: true },
};

/** A capture file being read. */
export class CaptureFile extends Capture {
  /** 'pcap', 'pcap-nsec' or 'pcapng'; null for standard input, which cannot be peeked at. */
  readonly format: FileFormat | null;
  /** Whether the file's byte order differs from this machine's (libpcap's pcap_is_swapped). */
  readonly swapped: boolean;
  /** The file format's version, such as '2.4' for pcap. */
  readonly version: string;
  /** Where reading started when openOffline() was given a seek target; null otherwise. */
  readonly position: TracePosition | null;
  /**
   * pcapng: the file's interfaces (IDBs), indexed over the whole file (a
   * later section's continue the earlier sections' numbering). Those before
   * the first packet are here at open; one further on is added before the
   * first batch holding a packet of it. Each packet's `interface` is its
   * index here. Empty for pcap, and for files libpcap reads (see openOffline()).
   */
  readonly interfaces: readonly FileInterface[];
  #interfaces: FileInterface[];
  #tagged: boolean;

  /** @internal use openOffline() */
  constructor(options: NativeCaptureOptions, format: FileFormat | null, position: TracePosition | null, signal?: AbortSignal) {
    super(options, signal);
    this.format = format;
    this.#tagged = this.handleInfo.interfaces !== undefined;
    this.#interfaces = [];
    this.interfaces = this.#interfaces;
    this.#add(this.handleInfo.interfaces ?? []);
    this.position = position;
    this.swapped = this.handleInfo.swapped ?? false;
    this.version = `${this.handleInfo.versionMajor}.${this.handleInfo.versionMinor}`;
  }

  protected override batchOf(result: NativeBatch): PacketBatch {
    this.#add(result[3] ?? []);
    return new PacketBatch(result[0], result[1], result[2], this.#tagged);
  }

  /** A packet's link type: its interface's LINKTYPE_ value, else the file's (file.linktype). */
  linktypeOf(packet: Packet): number {
    return packet.interface === undefined ? this.linktype : this.#interfaces[packet.interface].linktype;
  }

  #add(interfaces: NativeInterface[]): void {
    for (const one of interfaces) this.#interfaces.push({ index: this.#interfaces.length, ...one });
  }
}

/**
 * One interface (IDB) of a pcapng file, as the file declares it. Its
 * linktype is its packets' (file.linktype is the first interface's).
 */
export interface FileInterface extends NativeInterface {
  /** Its index over the whole file: packet.interface. */
  index: number;
}

/** The format a file's first bytes announce, or null when they announce none. */
function sniffFormat(fd: number): FileFormat | null {
  const head = Buffer.alloc(4);
  if (fs.readSync(fd, head, 0, 4, 0) < 4) return null;
  if (head.readUInt32BE(0) === 0x0a0d0d0a) return 'pcapng';
  return MAGICS[head.readUInt32BE(0)]?.format ?? null;
}

function fileError(path: string, error: NodeJS.ErrnoException): WirecapError {
  const known: WirecapErrorCode[] = ['ENOENT', 'EACCES', 'EISDIR', 'EMFILE'];
  const code = known.includes(error.code as WirecapErrorCode) ? (error.code as WirecapErrorCode) : 'EIO';
  return new WirecapError(`cannot read ${path}: ${error.message}`, code);
}

/**
 * Opens a capture file, or '-' for standard input. Throws ENOENT, EACCES,
 * EISDIR, or EBADFORMAT (empty, or not a capture file, with libpcap's
 * text). A file cut inside a record yields every complete packet, then the
 * iterator throws ETRUNCATED.
 *
 * A pcapng file's interfaces may have different link types and snaplens
 * (as a multi-device liveDump() writes them): each packet has its
 * interface, file.interfaces[packet.interface].linktype is its link type,
 * and file.linktype is the first interface's. A filter is compiled for one
 * link type: on such a file it throws ENOTSUP (at open or setFilter() when
 * the interfaces before the first packet mix types; otherwise the iterator
 * throws it at the first packet of another type, after those before it).
 *
 * libpcap reads standard input and byte-swapped files of the link types it
 * rewrites (pseudo-headers, USB lengths): their packets have no interface
 * and file.interfaces is empty; such a file with mixed link types throws
 * ENOTSUP at open (standard input: libpcap's EBADFORMAT as it reads).
 */
export function openOffline(path: string, options?: OfflineOptions): CaptureFile {
  const o = checkObject(options, 'options');
  checkKeys(o, ['filter', 'precision', 'queueBytes', 'signal', 'seek', 'singleLinktype'], 'openOffline');
  checkString(path, 'path');
  const signal = checkSignal(o.signal);
  if (signal?.aborted) throw new AbortError(signal.reason);
  const native: NativeCaptureOptions = {
    source: 'file',
    path,
    device: '',
    snaplen: 0,
    promisc: false,
    bufferSize: 0,
    timeoutMs: 0,
    immediate: false,
    precision: o.precision === undefined ? 'nano' : checkOneOf(o.precision, 'precision', ['micro', 'nano'] as const),
    queueBytes: o.queueBytes === undefined ? 4 * 2 ** 20 : checkInteger(o.queueBytes, 'queueBytes', 65536, 2 ** 40),
  };
  if (o.filter !== undefined && o.filter !== '') native.filter = checkFilter(o.filter);
  if (o.singleLinktype !== undefined) native.singleLinktype = checkBoolean(o.singleLinktype, 'singleLinktype');

  let format: FileFormat | null = null;
  if (path !== '-') {
    let fd: number;
    try {
      fd = fs.openSync(path, 'r');
    } catch (error) {
      throw fileError(path, error as NodeJS.ErrnoException);
    }
    try {
      const stat = fs.fstatSync(fd);
      if (stat.isDirectory()) throw new WirecapError(`cannot read ${path}: it is a directory`, 'EISDIR');
      if (stat.size === 0) throw new WirecapError(`cannot read ${path}: the file is empty`, 'EBADFORMAT');
      format = sniffFormat(fd);
    } catch (error) {
      throw error instanceof WirecapError ? error : fileError(path, error as NodeJS.ErrnoException);
    } finally {
      fs.closeSync(fd);
    }
  }
  let position: TracePosition | null = null;
  if (o.seek !== undefined) {
    if (path === '-') throw new WirecapError('standard input cannot seek', 'EINVAL');
    const trace = openTrace(path);
    try {
      position = trace.seek(o.seek as SeekTarget);
      native.startOffset = position.offset;
      native.prefixBytes = trace.headerBytes;
    } finally {
      trace.close();
    }
  }
  return new CaptureFile(native, format, position, signal);
}
