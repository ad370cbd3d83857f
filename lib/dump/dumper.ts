/**
 * Native dumps: the capture thread writes filtered traffic to pcap or pcapng
 * files with no JavaScript per packet, up to byte, packet and time limits,
 * optionally rotating files. WinPcap's pcap_live_dump / pcap_live_dump_ended
 * contract on every OS: `ended` is the synchronous check, `done` the wait.
 */
import os from 'node:os';
import { VERSION } from '../core/version';
import type { CaptureHandle, NativeDumpOptions, NativeDumpStatus, NativeStats } from '../core/binding';
import { WirecapError } from '../core/errors';
import { checkInteger, checkKeys, checkObject, checkOneOf, checkString } from '../core/validate';

export type DumpFormat = 'pcap' | 'pcapng';
export type DumpEndReason = 'maxPackets' | 'maxBytes' | 'duration' | 'stopped' | 'error';

export interface RotateOptions {
  /** Start a new file before one would pass this many bytes (headers included). */
  fileBytes?: number;
  /** Start a new file when a packet is this many seconds younger than its file. */
  fileSeconds?: number;
  /** Keep only the newest this many files: a ring buffer. */
  files?: number;
}

export interface DumpOptions {
  /** 'pcap' (default; nanosecond magic when the capture's precision is 'nano') or 'pcapng'. */
  format?: DumpFormat;
  /** Bytes of all files together, headers included; the packet that would pass it is not written. */
  maxBytes?: number;
  maxPackets?: number;
  durationMs?: number;
  /**
   * Rotation. Files are then named <name>_<NNNNNN>_<YYYYMMDDThhmmssZ><.ext>:
   * a six-digit sequence number from 000001 and the file's UTC start time.
   */
  rotate?: RotateOptions;
  /**
   * 'user' writes on wirecap's capture thread; 'kernel' asks the library's
   * pcap_live_dump (old WinPcap) and fails with ENOTSUP where it has none;
   * 'auto' (default) tries the kernel dump, then falls back to user mode.
   */
  mode?: 'auto' | 'kernel' | 'user';
}

export interface DumpStats {
  packets: number;
  bytes: number;
  files: number;
}

/** One device of a dump (liveDump() with several devices gives one per device, in order). */
export interface DumpInterfaceResult {
  device: string;
  /** Packets of this device written to the files. */
  packets: number;
  /** Set when this device's capture failed (it went away: ENETDOWN...) and the dump went on without it. */
  error?: WirecapError;
  /** The device's capture counters (as Capture#stats()) when the dump ended: what its last ISB says. */
  stats: NativeStats;
}

export interface DumpResult extends DumpStats {
  reason: DumpEndReason;
  /** liveDump() only: each device's part. */
  interfaces?: DumpInterfaceResult[];
  /** Set when reason is 'error': ENOSPC, ENETDOWN, EIO... */
  error?: WirecapError;
  /** Which engine wrote the files. */
  mode: 'user' | 'kernel';
  /** Why the kernel dump did not run, when mode 'auto' fell back to user mode. */
  kernelError?: string;
}

const DUMP_KEYS = ['format', 'maxBytes', 'maxPackets', 'durationMs', 'rotate', 'mode'] as const;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** The pcapng SHB's shb_userappl, shb_os and shb_hardware, as dumpcap fills them in. */
const SECTION = {
  userAppl: `wirecap ${VERSION}`,
  os: `${os.type()} ${os.release()}`,
  hardware: os.cpus()[0]?.model.trim() || os.arch(),
};

/**
 * Checks dump options (the native side checks that a rotated file holds
 * its headers and one full-size packet: EINVAL).
 */
export function dumpOptions(file: unknown, options: unknown, allowed: readonly string[] = DUMP_KEYS): {
  native: NativeDumpOptions;
  mode: 'auto' | 'kernel' | 'user';
} {
  const o = checkObject(options, 'options');
  checkKeys(o, allowed, 'dump');
  const rotate = checkObject(o.rotate, 'rotate');
  checkKeys(rotate, ['fileBytes', 'fileSeconds', 'files'], 'rotate');
  const format = o.format === undefined ? 'pcap' : checkOneOf(o.format, 'format', ['pcap', 'pcapng'] as const);
  const native: NativeDumpOptions = {
    path: checkString(file, 'path'),
    format,
    maxBytes: o.maxBytes === undefined ? 0 : checkInteger(o.maxBytes, 'maxBytes', 1, MAX_SAFE),
    maxPackets: o.maxPackets === undefined ? 0 : checkInteger(o.maxPackets, 'maxPackets', 1, MAX_SAFE),
    durationMs: o.durationMs === undefined ? 0 : checkInteger(o.durationMs, 'durationMs', 1, MAX_SAFE),
    fileBytes: rotate.fileBytes === undefined ? 0 : checkInteger(rotate.fileBytes, 'rotate.fileBytes', 1, MAX_SAFE),
    fileSeconds: rotate.fileSeconds === undefined ? 0 : checkInteger(rotate.fileSeconds, 'rotate.fileSeconds', 1, 10 ** 9),
    files: rotate.files === undefined ? 0 : checkInteger(rotate.files, 'rotate.files', 1, 10 ** 6),
    ...SECTION,
  };
  if (native.path === '-' && (native.fileBytes !== 0 || native.fileSeconds !== 0)) {
    throw new WirecapError('standard output (-) cannot rotate', 'EINVAL');
  }
  if (native.files !== 0 && native.fileBytes === 0 && native.fileSeconds === 0) {
    throw new WirecapError('rotate.files needs rotate.fileBytes or rotate.fileSeconds', 'EINVAL');
  }
  const mode = o.mode === undefined ? 'auto' : checkOneOf(o.mode, 'mode', ['auto', 'kernel', 'user'] as const);
  return { native, mode };
}

const KERNEL_LIMIT = 2 ** 31 - 1; // pcap_live_dump takes int limits

/**
 * Why the library's kernel dump cannot write this dump, or null if it may:
 * WinPcap's pcap_live_dump wrote one microsecond pcap file with at most
 * int-sized limits, and took the handle over (nothing reached the application).
 */
export function kernelObstacle(options: NativeDumpOptions, capture: { delivers: boolean; precision: string }): string | null {
  if (capture.delivers) return 'a kernel dump takes the whole capture: use liveDump()';
  if (options.format !== 'pcap') return 'the kernel dump writes pcap files only';
  if (options.path === '-') return 'the kernel dump writes a named file, not standard output';
  if (options.fileBytes !== 0 || options.fileSeconds !== 0) return 'the kernel dump writes a single file (no rotation)';
  if (capture.precision !== 'micro') return "the kernel dump writes microsecond files: use precision 'micro'";
  if (options.maxBytes > KERNEL_LIMIT || options.maxPackets > KERNEL_LIMIT) {
    return `the kernel dump's limits stop at ${KERNEL_LIMIT}`;
  }
  return null;
}

/**
 * Starts the dump on the engine asked for. A kernel refusal is reported,
 * never hidden: 'auto' falls back to user mode with the refusal as
 * kernelError, 'kernel' throws ENOTSUP.
 */
export function startDump(
  native: CaptureHandle,
  options: NativeDumpOptions,
  requested: 'auto' | 'kernel' | 'user',
  obstacle: string | null,
): { mode: 'user' | 'kernel'; kernelError?: string } {
  if (requested !== 'user') {
    const { path, maxBytes, maxPackets, durationMs } = options;
    const refusal = obstacle ?? native.startKernelDump({ path, maxBytes, maxPackets, durationMs });
    if (refusal === null) return { mode: 'kernel' };
    if (requested === 'kernel') throw new WirecapError(`kernel dump unavailable: ${refusal}`, 'ENOTSUP');
    native.startDump(options);
    return { mode: 'user', kernelError: refusal };
  }
  native.startDump(options);
  return { mode: 'user' };
}

/** What a capture tells its dumper. */
export interface DumpHost {
  readonly native: CaptureHandle;
  /** The captures whose devices the dump writes, in interface order. */
  readonly captures: readonly { readonly device: string; stats(): NativeStats }[];
  /** Called once the dump has ended and its files are closed. */
  onEnded?: () => void;
}

/** A running dump. Get one from liveDump() or Capture#dump(). */
export class Dumper {
  /** Settles once, after the last file was flushed and closed. Never rejects: errors are in the result. */
  readonly done: Promise<DumpResult>;

  #host: DumpHost;
  #kernelError: string | undefined;
  #result: DumpResult | null = null;
  #resolve!: (result: DumpResult) => void;

  /** @internal */
  constructor(host: DumpHost, kernelError: string | undefined) {
    this.#host = host;
    this.#kernelError = kernelError;
    this.done = new Promise((resolve) => {
      this.#resolve = resolve;
    });
    this.settle(); // the dump may have ended at once (its capture had ended)
  }

  /** Whether the dump has ended: pcap_live_dump_ended(p, 0). */
  get ended(): boolean {
    return this.#result !== null || (this.#status()?.ended ?? true);
  }

  /**
   * Packets, bytes and files written so far. A kernel dump's library tells
   * nothing while it writes: bytes is then the file's size and packets 0
   * until it ends, when the file is counted.
   */
  stats(): DumpStats {
    if (this.#result !== null) {
      const { packets, bytes, files } = this.#result;
      return { packets, bytes, files };
    }
    const status = this.#status();
    return { packets: status?.packets ?? 0, bytes: status?.bytes ?? 0, files: status?.files ?? 0 };
  }

  /** Each device's capture counters now (as Capture#stats()), in interface order. */
  devices(): { device: string; stats: NativeStats }[] {
    return this.#host.captures.map((c) => ({ device: c.device, stats: c.stats() }));
  }

  /**
   * Ends the dump once the kernel has handed over what it captured until
   * now (at most the capture's read timeout later; a kernel dump ends when
   * its handle closes); resolves like `done`.
   */
  stop(): Promise<DumpResult> {
    if (this.#result === null) this.#host.native.stopDump();
    return this.done;
  }

  /** @internal the capture calls it when the native dump may have ended. */
  settle(): void {
    if (this.#result !== null) return;
    const status = this.#status();
    if (status === null || !status.ended) return;
    this.#result = {
      packets: status.packets,
      bytes: status.bytes,
      files: status.files,
      reason: status.reason ?? 'stopped',
      mode: status.mode,
      ...(status.interfaces ? { interfaces: this.#interfaces(status.interfaces) } : {}),
      ...(status.error ? { error: status.error } : {}),
      ...(this.#kernelError !== undefined ? { kernelError: this.#kernelError } : {}),
    };
    this.#host.onEnded?.();
    this.#resolve(this.#result);
  }

  #interfaces(parts: NonNullable<NativeDumpStatus['interfaces']>): DumpInterfaceResult[] {
    return parts.map((part, i) => {
      const capture = this.#host.captures[i];
      return { device: capture.device, packets: part.packets, stats: capture.stats(), ...(part.error ? { error: part.error } : {}) };
    });
  }

  #status(): NativeDumpStatus | null {
    return this.#host.native.dumpStatus();
  }
}
