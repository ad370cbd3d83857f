/**
 * The native module's contract. Everything here trusts its arguments:
 * the public API in the other modules validates them first.
 */
import path from 'node:path';
import { WirecapError } from './errors';
import { loadAddon } from './load';

/** Options as CaptureHandle reads them (already validated, defaults applied). */
export interface NativeCaptureOptions {
  /** 'file' reads `path` (or '-' for standard input); default live on `device`. */
  source?: 'live' | 'file';
  path?: string;
  device: string;
  snaplen: number;
  promisc: boolean;
  bufferSize: number;
  timeoutMs: number;
  immediate: boolean;
  precision: 'micro' | 'nano';
  direction?: 'in' | 'out' | 'inout';
  filter?: string;
  queueBytes: number;
  /** Files: where a seek found a record, and the header bytes a reader must see first. */
  startOffset?: number;
  prefixBytes?: number;
  /** Files: a pcapng file's interfaces must share one link type (ENOTSUP otherwise). */
  singleLinktype?: boolean;
  /** false for a dump-only capture: nothing is queued for read(). Default true. */
  deliver?: boolean;
  /** Live: open the device through this capture helper (lib/helper/), not in-process. */
  helperPath?: string;
  /** Live: whether to use the helper (lib/helper/helper.ts decides; not read natively). */
  helper?: boolean | 'auto';
}

/** A pcapng interface as its IDB declares it (files/file_reader.h InterfaceInfo). */
export interface NativeInterface {
  /** The file's section it belongs to, 0 for the first. */
  section: number;
  name: string | null;
  description: string | null;
  /** The LINKTYPE_ value, as the file has it. */
  linktype: number;
  /** As the file has it (0: none given). */
  snaplen: number;
  /** if_tsresol as the file has it (6 when absent). */
  tsresol: number;
}

/**
 * A batch as read() returns it: the packets' bytes (at offsets), then header
 * columns (see PacketBatch), then a file's interfaces met while it filled.
 */
export type NativeBatch = [data: Buffer, meta: ArrayBuffer, count: number, interfaces?: NativeInterface[]];

/** A capture's counters, as stats() returns them (the public CaptureStats). */
export interface NativeStats {
  /** Packets libpcap received (pcap_stats ps_recv); null where unknown. */
  received: number | null;
  /** Packets the kernel dropped for lack of buffer space (ps_drop). */
  dropped: number | null;
  /** Packets the interface or driver dropped (ps_ifdrop). */
  ifDropped: number | null;
  /** Packets the capture thread took from libpcap. */
  captured: number;
  /** Packets dropped because the queue to JavaScript was full. */
  consumerDropped: number;
  /** Packets handed to JavaScript. captured = delivered + consumerDropped + still queued. */
  delivered: number;
}

/** A dump as CaptureHandle.startDump() takes it (checked in lib/dump/dumper.ts; 0: no limit). */
export interface NativeDumpOptions {
  path: string;
  format: 'pcap' | 'pcapng';
  maxBytes: number;
  maxPackets: number;
  durationMs: number;
  fileBytes: number;
  fileSeconds: number;
  files: number;
  /** Wall-clock ns the dump's window (durationMs) starts at; the call's own time if not given. */
  startNs?: bigint;
  /** pcapng: per device (this handle first, then startDump's others) its IDB's if_description and if_filter. */
  interfaces?: { description?: string; filter?: string }[];
  /** pcapng SHB options shb_userappl, shb_os and shb_hardware. */
  userAppl?: string;
  os?: string;
  hardware?: string;
}

export interface NativeDumpStatus {
  mode: 'user' | 'kernel';
  ended: boolean;
  packets: number;
  bytes: number;
  files: number;
  reason: 'maxPackets' | 'maxBytes' | 'duration' | 'stopped' | 'error' | null;
  error?: WirecapError;
  /** User dumps: per device, packets written and why its capture ended early. */
  interfaces?: { packets: number; error?: WirecapError }[];
}

export interface NativeDevice {
  name: string;
  description: string | null;
  addresses: {
    family: 'IPv4' | 'IPv6';
    address: string;
    netmask: string | null;
    broadcast: string | null;
    destination: string | null;
  }[];
  flags: {
    loopback: boolean;
    up: boolean;
    running: boolean;
    wireless: boolean;
    connection: 'connected' | 'disconnected' | 'not-applicable' | 'unknown';
  };
}

/** One live libpcap handle and its capture thread (src-native/capture/capture_handle.h). */
export declare class CaptureHandle {
  /**
   * Opens and activates the device, sets the filter, starts the thread.
   * onReadable('readable') follows a read() that returned undefined once
   * there is something to read; onReadable('dump') follows a dump's end.
   */
  constructor(options: NativeCaptureOptions, onReadable: (event: 'readable' | 'dump') => void);
  /**
   * The next batch; undefined when none is queued yet (onReadable is then
   * called once one is, or the capture ends); null at the end. Throws the
   * capture thread's error once, after every queued batch was read.
   * read(true) lends the batch's memory: the next read() takes it back.
   */
  read(recycle?: boolean): NativeBatch | undefined | null;
  /** Compiles and installs a filter on the capture thread; waits until it is in force. */
  setFilter(expr: string): void;
  inject(frame: Buffer): number;
  stats(): NativeStats;
  info(): {
    linktype: number;
    linktypeName: string | null;
    snaplen: number;
    precision: 'micro' | 'nano';
    /** Files only: libpcap's pcap_is_swapped, pcap_major_version, pcap_minor_version. */
    swapped?: boolean;
    versionMajor?: number;
    versionMinor?: number;
    /** pcapng files read by wirecap's reader: the interfaces before the first packet. */
    interfaces?: NativeInterface[];
  };
  /** Stops and joins the thread, closes the pcap_t. Idempotent. */
  close(): void;
  /** Whether a capture waiting for packets, or dumping, keeps the event loop alive (default true). */
  setRef(ref: boolean): void;
  /**
   * Creates the first file (throws EACCES, ENOENT...) and hands the dump to
   * the capture thread; with others, one pcapng dump of all their devices
   * (this one is interface 0), written by every one of their threads.
   */
  startDump(options: NativeDumpOptions, others?: CaptureHandle[]): void;
  /** Ends the dump after the read timeout has let the kernel hand over what it holds. */
  stopDump(): void;
  /**
   * Asks the library's pcap_live_dump to write the file (WinPcap's kernel
   * dump): null once it runs, else the library's refusal.
   */
  startKernelDump(options: { path: string; maxBytes: number; maxPackets: number; durationMs: number }): string | null;
  /** null before startDump() or startKernelDump(). */
  dumpStatus(): NativeDumpStatus | null;
}

/** createWriter()'s native half (src-native/files/writer_handle.h); arguments checked in lib/files/writer.ts. */
export declare class WriterHandle {
  /** resumeBytes: cut the existing file to that size and append (no header). */
  constructor(options: { path: string; format: 'pcap' | 'pcapng'; linktype: number; snaplen: number; nano: boolean; resumeBytes?: number });
  /** Appends one record of data.length captured bytes. Throws ENOSPC... and the file is then cut to whole records. */
  write(timestampNs: bigint, len: number, data: Buffer): void;
  /** Writes buffered records out; throws ENOSPC... */
  flush(): void;
  close(): void;
  stats(): { packets: number; bytes: number };
}

/** A replay's counters (src-native/replay/replay_handle.h); every packet pushed is counted once. */
export interface NativeReplayStats {
  /** Packets taken from the source: sent + failed + oversize + filtered + unsent, once ended. */
  pushed: number;
  sent: number;
  /** Frame bytes sent. */
  bytes: number;
  /** Packets the device refused. */
  failed: number;
  /** Frames longer than the device's MTU allows, not sent. */
  oversize: number;
  /** Packets the filter did not match. */
  filtered: number;
  /** Packets taken but not sent because the replay ended first (a limit, stop, an error). */
  unsent: number;
  /** Packets sent more than lateUs after their time, and the worst lateness. */
  late: number;
  worstLateNs: number;
  /** From the first packet sent to the last. */
  elapsedNs: number;
  /** CPU time of the replay thread (its sleeps, spins and sends). */
  cpuNs: number;
  /** The replay thread's own: how long before a deadline it spins, and the read-ahead queued. */
  spinMarginNs: number;
  queuedBytes: number;
  /** Whether the replay thread ran in the real-time class (the realtime option, paced modes, where the OS allows it). */
  realtime: boolean;
  /** Why it ended; null while it runs. */
  reason: 'end' | 'maxPackets' | 'duration' | 'stopped' | 'error' | null;
  error?: WirecapError;
}

/** replay()'s native half: a sending handle and its replay thread (checked in lib/replay/replay.ts). */
export declare class ReplayHandle {
  /** Opens device for sending (ENODEV, EPERM) and starts the thread; onEvent('drain') after push() said full, onEvent('done') at the end. */
  constructor(
    options: Record<string, unknown>,
    onEvent: (event: 'drain' | 'done') => void,
  );
  /** Copies the packets in; false when the queue is full (wait for 'drain'). */
  push(data: Buffer, timestamps: BigInt64Array, caplens: Uint32Array, offsets: Uint32Array, count: number, linktype: number, restart: boolean): boolean;
  /** No more packets: the thread ends once it sent what is queued. */
  end(): void;
  stop(): void;
  stats(): NativeReplayStats;
  info(): { linktype: number; linktypeName: string | null; mtu: number; mode: 'sendqueue' | 'inject' | 'sendpacket' };
  /** Stops and joins the thread, closes the handle. Idempotent. */
  close(): void;
}

export declare class PacketFilter {
  /** Compiles expr for linktype; EFILTER when it does not compile. */
  constructor(expr: string, linktype: number, snaplen: number);
  /** Whether a packet of data.length captured bytes (len on the wire) passes. */
  matches(data: Buffer, len: number): boolean;
}

/** FlowTracker's native fast path over its table's arrays (src-native/flows/flow_pass.h). */
export declare class FlowPass {
  /** The table layout the native code was built for (lib/flows/table.ts's constants). */
  static layout(): Record<string, number>;
  /** The table's arrays (again after it grows); clock: base time's high and low words, the latest time, a timeout per list, the next flow id. */
  table(slots: Uint32Array, index: Int32Array, links: Int32Array, heads: Int32Array, tails: Int32Array, free: Int32Array, sizes: Int32Array, clock: Float64Array): void;
  /** The batch the next run() calls read. */
  batch(data: Uint8Array, offsets: Uint32Array, caplens: Uint32Array, lens: Uint32Array, timeWords: Uint32Array, count: number): void;
  /** Takes the batch's packets from `from` on that update a held flow or start one in a free slot; returns the first it did not take. */
  run(from: number): number;
}

export interface Binding {
  setErrorClass(cls: typeof WirecapError): void;
  /** Closes every capture and writer of this environment (its cleanup hook does the same). */
  closeAll(): void;
  devices(): NativeDevice[];
  libVersion(): string;
  /** pcap_datalink_name_to_val: -1 for an unknown name. */
  linktypeValue(name: string): number;
  compileFilter(expr: string, linktype: number, snaplen: number): string[];
  CaptureHandle: typeof CaptureHandle;
  WriterHandle: typeof WriterHandle;
  ReplayHandle: typeof ReplayHandle;
  PacketFilter: typeof PacketFilter;
  FlowPass: typeof FlowPass;
}

// node-gyp-build picks prebuilds/<platform>-<arch>/ or build/Release/; a
// failure to load throws ELOAD with the way out (./load.ts).
export const binding = loadAddon(path.join(__dirname, '..', '..')) as Binding;
binding.setErrorClass(WirecapError);
// process.exit() on the main thread skips the environment's cleanup hooks:
// close what is open first, so capture threads stop and dumps end whole.
process.on('exit', () => binding.closeAll());
