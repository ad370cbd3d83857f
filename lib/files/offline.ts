/**
 * Capture files: openOffline() reads pcap (microsecond and nanosecond, either
 * byte order) and pcapng with wirecap's own reader (src-native/files/
 * file_reader), which yields what libpcap yields, on a native thread in
 * batches. The result is a Capture, so code written for live captures runs
 * on files unchanged; reading is lossless (the thread waits for the consumer).
 */
import fs from 'node:fs';
import { NativeCaptureOptions } from '../core/binding';
import { BatchOptions, Capture } from '../capture/capture';
import { PacketBatch } from '../capture/batch';
import { InterfaceTagger } from './interfaces';
import { WirecapError, WirecapErrorCode } from '../core/errors';
import { openTrace, SeekTarget, TracePosition } from './navigate';
import { checkFilter, checkInteger, checkKeys, checkObject, checkOneOf, checkSignal, checkString } from '../core/validate';
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
   * pcapng: the interfaces (IDBs) declared before the first packet; empty
   * for pcap and standard input. With several, each packet's `interface`
   * is its index here.
   */
  readonly interfaces: readonly FileInterface[];
  #tagger: InterfaceTagger | null = null;

  /** @internal use openOffline() */
  constructor(
    options: NativeCaptureOptions,
    format: FileFormat | null,
    position: TracePosition | null,
    interfaces: FileInterface[],
    tagger: InterfaceTagger | null,
    signal?: AbortSignal,
  ) {
    super(options, signal);
    this.format = format;
    this.interfaces = interfaces;
    this.#tagger = tagger;
    this.position = position;
    this.swapped = this.handleInfo.swapped ?? false;
    this.version = `${this.handleInfo.versionMajor}.${this.handleInfo.versionMinor}`;
  }

  override async nextBatch(options?: BatchOptions): Promise<PacketBatch | null> {
    const batch = await super.nextBatch(options);
    if (batch !== null && this.#tagger !== null) batch.interfaces = this.#tagger.tag(batch);
    return batch;
  }

  override close(): void {
    super.close();
    this.#tagger?.close();
    this.#tagger = null;
  }
}

/** One interface (IDB) of a pcapng file, as its blocks describe it. */
export interface FileInterface {
  index: number;
  /** if_name; null when the file gives none. */
  name: string | null;
  /** The file's LINKTYPE_ value. */
  linktype: number;
}

/** Bytes read of a block before its options, at most (SHB and IDB fit). */
const BLOCK_HEAD = 64 << 10;

/**
 * The IDBs a pcapng file declares before its first packet, where writers
 * (dumpcap, wirecap) put them all. An IDB further on is left to libpcap.
 */
function pcapngInterfaces(fd: number): FileInterface[] {
  const interfaces: FileInterface[] = [];
  const head = Buffer.alloc(12);
  let little = true;
  let at = 0;
  for (let blocks = 0; blocks < 4096; blocks++) {
    if (fs.readSync(fd, head, 0, 12, at) < 12) break;
    if (head.readUInt32LE(0) === 0x0a0d0d0a) little = head.readUInt32LE(8) === 0x1a2b3c4d;
    const type = little ? head.readUInt32LE(0) : head.readUInt32BE(0);
    const length = little ? head.readUInt32LE(4) : head.readUInt32BE(4);
    if (length < 12 || type === 2 || type === 3 || type === 6) break; // a packet, or not a block
    if (type === 1) {
      const block = Buffer.alloc(Math.min(length, BLOCK_HEAD));
      const got = fs.readSync(fd, block, 0, block.length, at);
      const u16 = (o: number): number => (little ? block.readUInt16LE(o) : block.readUInt16BE(o));
      let name: string | null = null;
      for (let o = 16; o + 4 <= got - 4; ) {
        const code = u16(o);
        const size = u16(o + 2);
        if (code === 0) break;
        if (code === 2) name = block.toString('utf8', o + 4, Math.min(o + 4 + size, got));
        o += 4 + ((size + 3) & ~3);
      }
      interfaces.push({ index: interfaces.length, name, linktype: u16(8) });
    }
    at += length;
  }
  return interfaces;
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
 * iterator throws ETRUNCATED. A pcapng file whose interfaces have different
 * link types (as a multi-device liveDump() can write) throws ENOTSUP:
 * libpcap reads one link type per file.
 */
export function openOffline(path: string, options?: OfflineOptions): CaptureFile {
  const o = checkObject(options, 'options');
  checkKeys(o, ['filter', 'precision', 'queueBytes', 'signal', 'seek'], 'openOffline');
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

  let format: FileFormat | null = null;
  let interfaces: FileInterface[] = [];
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
      if (format === 'pcapng') interfaces = pcapngInterfaces(fd);
    } catch (error) {
      throw error instanceof WirecapError ? error : fileError(path, error as NodeJS.ErrnoException);
    } finally {
      fs.closeSync(fd);
    }
  }
  if (new Set(interfaces.map((i) => i.linktype)).size > 1) {
    const types = interfaces.map((i) => `${i.index} (${i.name ?? 'unnamed'}): ${i.linktype}`).join(', ');
    throw new WirecapError(
      `cannot read ${path}: libpcap reads one link type per pcapng file, and its interfaces have several (${types}); tshark reads it`,
      'ENOTSUP',
    );
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
  let tagger: InterfaceTagger | null = null;
  try {
    if (interfaces.length > 1) tagger = new InterfaceTagger(path, native.startOffset ?? 0);
  } catch (error) {
    throw fileError(path, error as NodeJS.ErrnoException);
  }
  try {
    return new CaptureFile(native, format, position, interfaces, tagger, signal);
  } catch (error) {
    tagger?.close();
    throw error;
  }
}
